"""Mesa agents: EV, charging station, grid operator (DSO) and transmission operator (TSO).

The agents arrive with the co-simulation issue; the package exists so that the layout is stable.
"""
