"""Whole-day scenario discarding and row-wise intersection of battery sets (paper §3.1.2).

The α set is a set of aggregate trajectories each feasible in at least a share α of the
behaviour scenarios. Intersecting the batteries of a kept set ``K`` of scenarios gives a battery
(box and band intersect row by row) inside every kept scenario's battery: a whole-day guarantee
on those scenarios. Scenarios are discarded greedily, one at a time, the one whose removal widens
the intersection most first. Sets are compared relative to each scenario's reference trajectory
(:func:`deviations`), so they all contain 0 and no intersection is empty.
"""

from __future__ import annotations

import numpy as np

from flexibility.battery import Battery
from flexibility.compiled import greedy_drops
from flexibility.fleet import FloatArray


def intersect(batt: Battery, kept: np.ndarray) -> Battery:
    """Row-by-row intersection of the kept batteries (axis 0), tightened."""
    return Battery(p_lo_kw=batt.p_lo_kw[kept].max(axis=0), p_hi_kw=batt.p_hi_kw[kept].min(axis=0),
                   y_lo_kwh=batt.y_lo_kwh[kept].max(axis=0),
                   y_hi_kwh=batt.y_hi_kwh[kept].min(axis=0), dt_h=batt.dt_h,
                   t0=batt.t0).tightened()


def discard_order(batt: Battery, n_min: int = 1, unusable: np.ndarray | None = None
                  ) -> np.ndarray:
    """Greedy discard order: repeatedly drop the scenario whose removal widens the set most.

    Rows are normalised per interval (power by the median box width, energy by the median band
    width) so that power and energy count alike. Unusable scenarios (empty ``B_m``) go first.
    Discarding stops when ``n_min`` scenarios remain.

    Returns:
        Scenario indices in discard order (length ``M - n_min``); the first ``k`` are the ``k``
        discarded when ``M - k`` are kept.
    """
    m = batt.p_lo_kw.shape[0]
    keep = np.ones(m, dtype=bool)
    order: list[int] = []
    if unusable is not None:
        for i in np.flatnonzero(unusable)[: max(m - n_min, 0)]:
            keep[i] = False
            order.append(int(i))
    width_p = np.maximum(np.median(batt.p_hi_kw - batt.p_lo_kw, axis=0), 1e-3)
    width_y = np.maximum(np.median(batt.y_hi_kwh - batt.y_lo_kwh, axis=0), 1e-3)
    # lower rows enter negated so that every row is an "upper" bound: intersection = min
    rows = np.concatenate([batt.p_hi_kw / width_p, -batt.p_lo_kw / width_p,
                           batt.y_hi_kwh / width_y, -batt.y_lo_kwh / width_y], axis=-1)
    # every column sorted once; p1/p2 point at the smallest and second-smallest kept entries
    srt = np.argsort(rows, axis=0, kind="stable")  # (M, C)
    vals = np.take_along_axis(rows, srt, axis=0)
    dropped = np.empty(m, dtype=np.int64)
    n_dropped = greedy_drops(srt, vals, keep, max(n_min, 1), dropped)
    return np.asarray([*order, *dropped[:n_dropped].tolist()], dtype=np.int64)


def keep_mask(m: int, order: np.ndarray, n_keep: int) -> np.ndarray:
    """Kept scenarios when the first ``M - n_keep`` of a discard order are dropped."""
    keep = np.ones(m, dtype=bool)
    keep[order[: max(m - n_keep, 0)]] = False
    return keep


def discard_greedy(batt: Battery, n_keep: int, unusable: np.ndarray | None = None
                   ) -> np.ndarray:
    """Kept scenarios (boolean ``(M,)``, ``n_keep`` true) by :func:`discard_order`."""
    m = batt.p_lo_kw.shape[0]
    return keep_mask(m, discard_order(batt, n_keep, unusable), n_keep)


def deviations(batt: Battery, ref_kw: FloatArray) -> Battery:
    """``B - R``: the battery relative to the reference trajectory ``R`` (same leading axes)."""
    y_ref = np.cumsum(ref_kw, axis=-1) * batt.dt_h
    return Battery(batt.p_lo_kw - ref_kw, batt.p_hi_kw - ref_kw, batt.y_lo_kwh - y_ref,
                   batt.y_hi_kwh - y_ref, batt.dt_h, batt.t0)


def shifted_by(batt: Battery, ref_kw: FloatArray) -> Battery:
    """``R + B`` for a reference power trajectory ``R``."""
    return deviations(batt, -np.asarray(ref_kw))
