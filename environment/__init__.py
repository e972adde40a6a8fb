"""The co-simulation kernel and, as sub-packages, what is built on it.

Kernel modules (this package): ``model`` (a mesa Model on a simpy clock), ``population``
(scenario → agents), ``recorder``/``records`` (declared table schemas), ``day_metrics``,
``validation``, ``grid_setup``, ``traffic_coupling``, ``outputs`` (atomic writes).
Sub-packages: ``assessment`` (offline three-layer pipeline), ``experiments`` (Monte Carlo, sweeps),
``reporting`` (tables and figures), ``cli`` (the command line). The kernel imports none of them.
"""
