"""Experiments on the kernel: Monte Carlo replicates, sweeps, day-ahead vs real time."""
