"""The co-simulation kernel and, as sub-packages, what is built on it.

Kernel modules (this package): ``model`` (a mesa Model on a simpy clock), ``population``
(scenario → agents), ``recorder``/``records`` (declared table schemas), ``day_metrics``,
``validation``, ``grid_setup``, ``traffic_coupling``, ``outputs`` (atomic writes), ``verdict``
(the exit-code contract every command follows), ``day_plan`` (what the kernel needs of a day
planner; planners are injected).
Sub-packages: ``planning`` (day planners by policy name: the chance-constrained and the zonal
dispatch), ``assessment`` (offline three-layer pipeline, dispatch and zonal studies),
``experiments`` (Monte Carlo, sweeps, flexibility regions), ``reporting`` (tables and figures),
``cli`` (the command line). The kernel imports none of them.
"""
