"""Mesa agents: EV (``ev``), charging station (``station``), grid operator (``grid_operator``)
and transmission operator (``transmission``); the kernel that runs them is
``environment.cosim``."""
