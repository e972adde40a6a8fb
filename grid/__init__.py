"""Feeders, LinDistFlow, clipping, AC checks (pandapower) and P-Q sets."""
