"""Test helper: extreme trajectories of a generalized battery."""

import numpy as np

from flexibility.battery import Battery
from flexibility.gpolymatroid import BatterySet, optimise


def battery_vertices(b: Battery, rng: np.random.Generator | None = None, n_random: int = 0,
                     directions: np.ndarray | None = None) -> np.ndarray:
    """Vertices of a battery ``(T,)`` by the greedy: cost directions and per-interval extremes.

    The directions are ``directions`` (``(K, T)``, e.g. drawn by hypothesis so that failures
    shrink) and/or ``n_random`` normal draws from ``rng``; both extremes of every interval are
    always added.
    """
    T = b.n_intervals
    bs = BatterySet(b.p_lo_kw[None], b.p_hi_kw[None], b.y_lo_kwh[None], b.y_hi_kwh[None],
                    b.dt_h)
    costs = [] if directions is None else [np.asarray(c, dtype=float) for c in directions]
    if n_random:
        costs += list(rng.normal(size=(n_random, T)))
    for t in range(T):
        for s in (-1.0, 1.0):
            c = np.zeros(T)
            c[t] = s
            costs.append(c)
    return np.array([optimise(bs, c)[0] for c in costs])
