"""Mesa agents: EV, charging station, grid operator (DSO) and transmission operator (TSO).

Modules ``ev``, ``station``, ``grid_operator`` and ``transmission``; the kernel that runs them is
``environment.model``.
"""
