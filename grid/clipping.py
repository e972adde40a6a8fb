"""Distribution-layer clipping: station boxes ∩ security set (paper §3.3.3).

Each station offers a box ``[p_min_j, p_max_j]`` of net consumption per interval (its envelope).
The effective potential keeps, per station, a sub-box ``[lo_j, hi_j]`` such that **every**
combination of station powers inside the boxes satisfies ``A u <= b_t`` (jointly feasible
boxes). The worst case of a row over a box is ``sum_j max(a_j lo_j, a_j hi_j)``, so the boxes
are jointly feasible iff

    A^+ hi + A^- lo <= b_t,           A^+ = max(A, 0),  A^- = min(A, 0).          (1)

Two allocation policies:

* ``uniform`` (the paper): a common scaling of the station injections from the reference
  point ``u0 = clip(0, p_min, p_max)``: ``hi = u0 + lam (p_max - u0)``,
  ``lo = u0 + mu (p_min - u0)`` with the largest ``lam, mu in [0, 1]`` satisfying (1) (ratio
  test, closed form, vectorised over intervals). Each side is scaled with the other at ``u0``,
  then, where a row mixes signs, both are scaled back together until (1) holds.
* ``optimal``: one LP in HiGHS over all intervals, ``max sum_j (hi_j - lo_j)`` s.t. (1),
  ``u0 <= hi <= p_max``, ``p_min <= lo <= u0``; ``uniform`` is feasible for it, so
  ``optimal >= uniform`` in total.

The binding constraint per interval and side is the family of the row that stops the scaling
(``substation``, ``voltage``, ``thermal``), ``station converter`` when the station envelope (its
converters and vehicles) is the
limit, and ``background`` when the network is violated even at ``u0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from flexibility.lp import LinearProgram, solve
from grid.feeder import FloatArray
from grid.lindistflow import KIND_NAMES, SecuritySet

Policy = Literal["uniform", "optimal"]
BINDING_NAMES = (*KIND_NAMES, "station converter", "background")
STATION, BACKGROUND = 3, 4
_EPS = 1e-9


@dataclass(frozen=True)
class ClipResult:
    """Effective station boxes after network clipping.

    Attributes:
        lo_kw: Lower bound of net consumption per interval and station ``(T, J)``.
        hi_kw: Upper bound ``(T, J)``.
        binding_ch: Binding family per interval on the charging side (index into
            ``BINDING_NAMES``).
        binding_dis: Binding family on the discharging side.
        background_infeasible: Intervals where ``u0`` already violates the network.
    """

    lo_kw: FloatArray
    hi_kw: FloatArray
    binding_ch: np.ndarray
    binding_dis: np.ndarray
    background_infeasible: np.ndarray


def reference_point(p_min_kw: FloatArray, p_max_kw: FloatArray) -> FloatArray:
    """``u0 = clip(0, p_min, p_max)``: the point of each station box closest to idle."""
    return np.clip(0.0, p_min_kw, p_max_kw)


def worst_case_rows(sec: SecuritySet, lo_kw: FloatArray, hi_kw: FloatArray) -> FloatArray:
    """``A^+ hi + A^- lo - b``: the largest row value over the boxes (``<= 0`` feasible)."""
    ap, am = np.maximum(sec.a_p, 0.0), np.minimum(sec.a_p, 0.0)
    return hi_kw @ ap.T + lo_kw @ am.T - sec.b


def _ratio(slack: FloatArray, rate: FloatArray) -> tuple[FloatArray, np.ndarray]:
    """Largest step ``<= 1`` with ``rate * step <= slack`` per interval, and the arg-min row."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf: no bound
        step = np.where(rate > _EPS, slack / rate, np.inf)
    row = np.argmin(step, axis=1)
    lam = np.clip(np.take_along_axis(step, row[:, None], axis=1)[:, 0], 0.0, 1.0)
    return lam, row


def clip_uniform(sec: SecuritySet, p_min_kw: FloatArray, p_max_kw: FloatArray) -> ClipResult:
    """Uniform scaling policy (see module docstring)."""
    u0 = reference_point(p_min_kw, p_max_kw)
    slack0 = worst_case_rows(sec, u0, u0) * -1.0
    bad = np.any(slack0 < -1e-9, axis=1)
    ap, am = np.maximum(sec.a_p, 0.0), np.minimum(sec.a_p, 0.0)
    up, down = p_max_kw - u0, p_min_kw - u0
    lam, row_c = _ratio(slack0, up @ ap.T)
    mu, row_d = _ratio(slack0, down @ am.T)
    # rows with mixed signs: both sides count; scale both back together if needed
    both = lam[:, None] * (up @ ap.T) + mu[:, None] * (down @ am.T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        shrink = np.where(both > slack0 + 1e-9, slack0 / both, 1.0).min(axis=1)
    shrink = np.clip(shrink, 0.0, 1.0)
    lam, mu = lam * shrink, mu * shrink
    lam[bad] = 0.0
    mu[bad] = 0.0
    kind = sec.kind
    bind_c = np.where(lam < 1.0 - 1e-9, kind[row_c], STATION)
    bind_d = np.where(mu < 1.0 - 1e-9, kind[row_d], STATION)
    bind_c[bad] = BACKGROUND
    bind_d[bad] = BACKGROUND
    return ClipResult(lo_kw=u0 + mu[:, None] * down, hi_kw=u0 + lam[:, None] * up,
                      binding_ch=bind_c, binding_dis=bind_d, background_infeasible=bad)


def clip_optimal(sec: SecuritySet, p_min_kw: FloatArray, p_max_kw: FloatArray) -> ClipResult:
    """Optimal allocation: one block-diagonal LP over all intervals in HiGHS.

    Variables per interval: ``hi_j`` then ``lo_j``. Rows: (1) for every security row.
    Intervals where ``u0`` is infeasible keep the point ``u0`` (as ``uniform`` does).
    """
    T, J = p_max_kw.shape
    u0 = reference_point(p_min_kw, p_max_kw)
    bad = np.any(worst_case_rows(sec, u0, u0) > 1e-9, axis=1)
    ap, am = np.maximum(sec.a_p, 0.0), np.minimum(sec.a_p, 0.0)
    block = sp.csr_matrix(np.hstack([ap, am]))
    keep = np.asarray(np.abs(block).sum(axis=1)).ravel() > 0
    block = block[keep]
    R = block.shape[0]
    a = sp.block_diag([block] * T, format="csc")
    col_lo = np.hstack([u0, p_min_kw]).ravel()
    col_hi = np.hstack([p_max_kw, u0]).ravel()
    # infeasible intervals: pin both sides to u0 and free their rows
    pin = np.repeat(bad, 2 * J)
    col_lo = np.where(pin, np.hstack([u0, u0]).ravel(), col_lo)
    col_hi = np.where(pin, np.hstack([u0, u0]).ravel(), col_hi)
    row_hi = sec.b[:, keep].copy()
    row_hi[bad] = np.inf
    cost = np.tile(np.concatenate([-np.ones(J), np.ones(J)]), T)
    sol, dual = _solve_lp(cost, col_lo, col_hi, a, np.full(T * R, -np.inf), row_hi.ravel())
    x = sol.reshape(T, 2, J)
    hi, lo = x[:, 0], x[:, 1]
    kinds = sec.kind[keep]
    d = np.abs(dual.reshape(T, R))
    top = np.argmax(d, axis=1)
    has_dual = d.max(axis=1) > 1e-9
    bind_c = np.where((hi.sum(1) < p_max_kw.sum(1) - 1e-6) & has_dual, kinds[top], STATION)
    bind_d = np.where((lo.sum(1) > p_min_kw.sum(1) + 1e-6) & has_dual, kinds[top], STATION)
    bind_c[bad] = BACKGROUND
    bind_d[bad] = BACKGROUND
    return ClipResult(lo_kw=np.minimum(lo, u0), hi_kw=np.maximum(hi, u0), binding_ch=bind_c,
                      binding_dis=bind_d, background_infeasible=bad)


def _solve_lp(cost: FloatArray, col_lo: FloatArray, col_hi: FloatArray, a: sp.csc_matrix,
              row_lo: FloatArray, row_hi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Minimise ``cost x`` with HiGHS; returns the primal solution and row duals."""
    res = solve(LinearProgram(cost, col_lo, col_hi, a, row_lo, row_hi).highs())
    if not res.optimal:
        raise RuntimeError(f"clipping LP not optimal: {res.status_text}")
    return res.x, res.row_dual


def clip(sec: SecuritySet, p_min_kw: FloatArray, p_max_kw: FloatArray,
         policy: Policy = "uniform") -> ClipResult:
    """Clip station boxes with the chosen allocation policy (a crossed box is its upper end)."""
    p_min_kw = np.minimum(p_min_kw, p_max_kw)
    if policy == "uniform":
        return clip_uniform(sec, p_min_kw, p_max_kw)
    if policy == "optimal":
        return clip_optimal(sec, p_min_kw, p_max_kw)
    raise ValueError(f"unknown policy {policy!r}; use 'uniform' or 'optimal'")


def clipping_rate(raw_kw: FloatArray, eff_kw: FloatArray) -> FloatArray:
    """``1 - eff / raw`` per interval where ``raw > 0`` (NaN where there is nothing to clip)."""
    raw = np.asarray(raw_kw, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(raw > 1e-9, 1.0 - np.asarray(eff_kw) / raw, np.nan)
