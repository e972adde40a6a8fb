"""Mesa agents: EV, charging station, grid operator (DSO) and transmission operator (TSO).

Modules: ``context`` (the typed :class:`~agents.context.SimContext` every agent is built with),
``session`` (what EV and station share: ``EVSpec``, ``SessionOutcome``, the ``ChargePoint``
protocol), ``ev``, ``station`` (its plugged-in fleet as arrays), ``pool`` (forecast of later
arrivals), ``grid_operator`` and ``transmission``. ``ev`` and ``station`` do not import each
other. The kernel that runs them is ``environment.model``.
"""
