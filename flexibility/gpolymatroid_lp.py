"""Exact disaggregation of an aggregate trajectory over generalized batteries (one sparse LP).

The greedy algorithm of ``flexibility.gpolymatroid`` optimises over the Minkowski sum; this
module answers the membership question for one given aggregate trajectory and returns the device
trajectories that realise it — the reference the tests use against the greedy and the packaging.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from flexibility.common import BoolArray, FloatArray
from flexibility.gpolymatroid import BatterySet
from flexibility.lp import LinearProgram, solve

#: Active (device, interval) pairs from which the disaggregation LP is solved by the primal
#: simplex instead of HiGHS's default dual simplex. The LP is a flow along each device's energy
#: chain plus one coupling row per interval with L1 slacks. Timed call by call on the zonal
#: case's tracking LPs (both simplex variants on each, one core): on the Perth & Kinross
#: sessions (every LP below 12,000 pairs) the dual was the faster in total by 1.2x; on the
#: residential evening-to-morning sessions (17,000-36,000 pairs) the primal was faster on
#: every LP, 2.4x in total.
PRIMAL_FROM_PAIRS = 15_000
PRIMAL_SIMPLEX = {"simplex_strategy": 4}


def _effective_y_bounds(batt: BatterySet, active: BoolArray) -> tuple[FloatArray, FloatArray]:
    """Cumulative-energy bounds folded onto the active intervals.

    While a device is inactive its cumulative energy stays constant, so the bound applying to
    ``y`` after an active interval ``t`` is the intersection over ``t`` and the following
    inactive intervals: ``hi_t = min(y_max_t, hi_{t+1})`` if ``t+1`` is inactive, else
    ``y_max_t`` (likewise ``lo``).
    """
    lo = batt.y_min_kwh.copy()
    hi = batt.y_max_kwh.copy()
    for t in range(batt.n_intervals - 2, -1, -1):
        fold = ~active[:, t + 1]
        lo[:, t] = np.where(fold, np.maximum(lo[:, t], lo[:, t + 1]), lo[:, t])
        hi[:, t] = np.where(fold, np.minimum(hi[:, t], hi[:, t + 1]), hi[:, t])
    return lo, hi


def disaggregate(batt: BatterySet, x_total_kw: FloatArray,
                 tol: float = 1e-6) -> FloatArray | None:
    """Device trajectories summing to an aggregate trajectory, or ``None`` if there are none.

    Solves one sparse LP (HiGHS) with a power ``x[n,t]`` and a cumulative energy ``y[n,t]`` for
    every active ``(n, t)`` (``u_min`` or ``u_max`` nonzero; elsewhere ``x = 0``) and slacks
    ``0 <= s+_t, s-_t <= tol`` on the aggregate:

        min  sum_t (s+_t + s-_t)
        s.t. y[n,t] - y[n,prev] - dt x[n,t] = 0,      (prev: the previous active interval)
             u_min <= x <= u_max,   lo <= y <= hi,    (bounds folded over inactive intervals)
             sum_n x[n,t] - s+_t + s-_t = x_total_t,

    plus the constant checks ``y_min <= 0 <= y_max`` before a device's first active interval
    and ``|x_total_t| <= tol`` where no device is active. About ``2 M`` columns, ``M + T`` rows
    and ``4 M`` nonzeros (``M`` active pairs); the slack cost makes the returned parts sum to
    ``x_total`` as closely as the set allows.

    Args:
        batt: The devices.
        x_total_kw: Aggregate trajectory in kW, shape ``(T,)``.
        tol: Allowed deviation of the aggregate per interval in kW.

    Returns:
        ``x`` in kW, shape ``(N, T)``, or ``None`` if the trajectory is not in the sum.

    Raises:
        RuntimeError: If HiGHS ends neither optimal nor infeasible.
    """
    X = np.asarray(x_total_kw, dtype=np.float64)
    T = batt.n_intervals
    if X.shape != (T,):
        raise ValueError(f"x_total_kw must have shape ({T},), got {X.shape}")
    active = (batt.u_min_kw != 0) | (batt.u_max_kw != 0)
    if _idle_bounds_broken(batt, active, tol):
        return None
    if np.any(~active.any(axis=0) & (np.abs(X) > tol)):
        return None
    return _program(batt, X, active, tol, tol)


def track(batt: BatterySet, target_kw: FloatArray, anchor_kw: FloatArray | None = None,
          move_price: float = 0.0) -> tuple[FloatArray, FloatArray] | None:
    """Device trajectories whose sum is as close as the sets allow to a target (L1).

    The LP of :func:`disaggregate` with unbounded slacks: ``min sum_t |sum_n x[n,t] - X_t|``
    over the device sets; intervals where no device is active keep their whole target as
    deviation. With anchors, an active pair ``(n, t)`` whose entry of ``anchor_kw`` is a
    number pays ``move_price`` per kW it moves away from it (a NaN entry leaves it free; a
    device is anchored or free entry by entry),

        min  sum_t |sum_n x[n,t] - X_t| + move_price sum_{n anchored, t} |x[n,t] - a[n,t]|,

    so with a small price the anchored devices move only where the deviation falls.

    Args:
        batt: The devices.
        target_kw: Aggregate target in kW, shape ``(T,)``.
        anchor_kw: Optional anchors in kW ``(N, T)``; NaN entries are free.
        move_price: Price of a move of an anchored device per kW and interval, relative to
            the deviation's 1; positive and finite when ``anchor_kw`` is given.

    Returns:
        ``x`` in kW ``(N, T)`` and the deviation ``sum_n x - X`` per interval ``(T,)``, or
        ``None`` when some device set is empty.

    Raises:
        ValueError: Anchors of the wrong shape or infinite, or a move price that is not
            positive and finite with anchors.
        RuntimeError: If HiGHS ends neither optimal nor infeasible.
    """
    X = np.asarray(target_kw, dtype=np.float64)
    if X.shape != (batt.n_intervals,):
        raise ValueError(f"target_kw must have shape ({batt.n_intervals},), got {X.shape}")
    active = (batt.u_min_kw != 0) | (batt.u_max_kw != 0)
    if _idle_bounds_broken(batt, active, 1e-6):
        return None
    anchor = None
    if anchor_kw is not None:
        anchor = np.asarray(anchor_kw, dtype=np.float64)
        if anchor.shape != batt.u_min_kw.shape:
            raise ValueError(f"anchor_kw must have shape {batt.u_min_kw.shape}, "
                             f"got {anchor.shape}")
        if np.isinf(anchor).any():
            raise ValueError("anchor_kw: entries are numbers or NaN (free), not infinite")
        if not (np.isfinite(move_price) and move_price > 0):
            raise ValueError(f"move_price must be positive and finite with anchors, "
                             f"got {move_price}")
    x = _program(batt, X, active, np.inf, 1e-6, anchor, move_price)
    return None if x is None else (x, x.sum(axis=0) - X)


def _idle_bounds_broken(batt: BatterySet, active: BoolArray, tol: float) -> bool:
    """Whether a device's energy bounds exclude 0 before its first active interval (its
    cumulative energy is 0 there), i.e. its set is empty."""
    tol_e = max(tol * batt.dt_h, 1e-9)
    before = np.cumsum(active, axis=1) == 0
    return bool(np.any(before & ((batt.y_min_kwh > tol_e) | (batt.y_max_kwh < -tol_e))))


def _program(batt: BatterySet, X: FloatArray, active: BoolArray, slack_hi: float,
             tol: float, anchor: FloatArray | None = None,
             move_price: float = 0.0) -> FloatArray | None:
    """Build and solve the LP of :func:`disaggregate` (slacks ``<= slack_hi``), with the
    anchors of :func:`track` (``anchor`` finite: one row ``x - m+ + m- = a`` and two move
    columns at ``move_price`` per active pair)."""
    N, T = batt.n_devices, batt.n_intervals
    tol_e = max(tol * batt.dt_h, 1e-9)
    covered = active.any(axis=0)
    y_lo, y_hi = _effective_y_bounds(batt, active)
    nn, tt = np.nonzero(active)
    M = nn.size
    x_out = np.zeros((N, T))
    if M == 0:
        return x_out
    ylo, yhi = y_lo[nn, tt], y_hi[nn, tt]
    xlo, xhi = batt.u_min_kw[nn, tt], batt.u_max_kw[nn, tt]
    if np.any(ylo > yhi + tol_e) or np.any(xlo > xhi + tol):
        return None
    yhi, xhi = np.maximum(yhi, ylo), np.maximum(xhi, xlo)

    j = np.arange(M)
    has_prev = np.r_[False, nn[1:] == nn[:-1]]
    cov = np.flatnonzero(covered)
    k = np.arange(cov.size)
    # dynamics rows j: y_j - y_{j-1} [same device] - dt x_j = 0
    rows = [j, j, j[has_prev]]
    cols = [M + j, j, M + j[has_prev] - 1]
    vals = [np.ones(M), np.full(M, -batt.dt_h), -np.ones(int(has_prev.sum()))]
    # aggregate rows M + t: sum_n x[n,t] - s_plus_t + s_minus_t = x_total_t (covered t only)
    row_of_t = np.full(T, -1)
    row_of_t[cov] = M + k
    rows += [row_of_t[tt], M + k, M + k]
    cols += [j, 2 * M + k, 2 * M + cov.size + k]
    vals += [np.ones(M), -np.ones(cov.size), np.ones(cov.size)]
    n_row, n_col = M + cov.size, 2 * M + 2 * cov.size
    cost = [np.zeros(2 * M), np.ones(2 * cov.size)]
    col_lo = [xlo, ylo, np.zeros(2 * cov.size)]
    col_hi = [xhi, yhi, np.full(2 * cov.size, slack_hi)]
    row_b = [np.zeros(M), X[cov]]
    if anchor is not None:
        a_j = np.flatnonzero(~np.isnan(anchor[nn, tt]))
        n_a = a_j.size
        r = n_row + np.arange(n_a)
        rows += [r, r, r]
        cols += [a_j, n_col + np.arange(n_a), n_col + n_a + np.arange(n_a)]
        vals += [np.ones(n_a), -np.ones(n_a), np.ones(n_a)]
        n_row, n_col = n_row + n_a, n_col + 2 * n_a
        cost.append(np.full(2 * n_a, move_price))
        col_lo.append(np.zeros(2 * n_a))
        col_hi.append(np.full(2 * n_a, np.inf))
        row_b.append(anchor[nn[a_j], tt[a_j]])
    a = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_row, n_col))
    row_lo = row_hi = np.concatenate(row_b)

    res = solve(LinearProgram(np.concatenate(cost), np.concatenate(col_lo),
                              np.concatenate(col_hi), a, row_lo, row_hi
                              ).highs(PRIMAL_SIMPLEX if M >= PRIMAL_FROM_PAIRS else None))
    if res.infeasible:
        return None
    if not res.optimal:
        raise RuntimeError(f"disaggregation LP ended {res.status_text}")
    x_out[nn, tt] = res.x[:M]
    return x_out


def contains(batt: BatterySet, x_total_kw: FloatArray, tol: float = 1e-6) -> bool:
    """Whether an aggregate trajectory (kW, shape ``(T,)``) lies in the sum of the device sets.

    Exact membership via the disaggregation LP of :func:`disaggregate`.

    Args:
        batt: The devices.
        x_total_kw: Aggregate trajectory in kW.
        tol: Allowed deviation of the aggregate per interval in kW.

    Returns:
        True if some device trajectories sum to ``x_total_kw`` within ``tol``.
    """
    return disaggregate(batt, x_total_kw, tol) is not None
