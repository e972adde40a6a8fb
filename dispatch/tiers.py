"""Economic dispatch over subsidy tiers: the validation of the FOR (spatiotemporal paper, §2.2).

Each tier ``k`` (a coupon budget ``F_k``) has a flexible operation region ``R_k = {p : A_k p <=
b_k}`` of the stations' net loads at ``t*`` (``flexibility.region``). The grid needs station
``m`` to take at least ``p_req`` (a reservation of load at its bus). The operator picks the tier
and the operating point

    min_k  F_k + min_p { c^T p : A_k p <= b_k, p_m >= p_req }

(energy cost ``c`` per station, CNY per MW held over the interval). The tiers' budgets grow with
``k`` and ``R_k`` grows with the budget, so the cheapest sufficient tier is the first whose LP is
feasible: one LP per tier (HiGHS), in order of budget. The chosen point lies inside or on that
tier's region and outside every cheaper tier's region (no point of those meets ``p_req``).
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

FloatArray = np.ndarray


@dataclass(frozen=True)
class TierChoice:
    """The dispatch result.

    Attributes:
        tier: Index of the chosen tier (``-1``: no tier can meet the requirement).
        budget: Its budget.
        p: The optimal operating point (net load per station; NaN if none).
        cost: ``c^T p`` at the optimum.
        feasible_per_tier: Whether each tier's LP is feasible (every tier is solved).
    """

    tier: int
    budget: float
    p: FloatArray
    cost: float
    feasible_per_tier: tuple[bool, ...]


def dispatch_lp(a: FloatArray, b: FloatArray, cost: FloatArray, station: int,
                p_req: float) -> FloatArray | None:
    """``min c^T p`` s.t. ``A p <= b`` and ``p_station >= p_req`` (``None`` if infeasible)."""
    n = a.shape[1]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, a.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lo = np.full(n, -highspy.kHighsInf)
    lo[station] = p_req
    lp.col_lower_, lp.col_upper_ = lo, np.full(n, highspy.kHighsInf)
    lp.row_lower_ = np.full(a.shape[0], -highspy.kHighsInf)
    lp.row_upper_ = np.asarray(b, dtype=float)
    dense = np.asarray(a, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, dense.size + 1, dense.shape[0], dtype=np.int32)
    lp.a_matrix_.index_ = np.tile(np.arange(dense.shape[0], dtype=np.int32), n)
    lp.a_matrix_.value_ = dense.T.ravel()
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().col_value, dtype=float)


def choose_tier(budgets: list[float], regions_ab: list[tuple[FloatArray, FloatArray]],
                cost: FloatArray, station: int, p_req: float) -> TierChoice:
    """Cheapest tier whose region can hold ``p_station >= p_req``, and its optimal point."""
    sols = [dispatch_lp(a, b, cost, station, p_req) for a, b in regions_ab]
    feasible = tuple(p is not None for p in sols)
    for k in np.argsort(budgets, kind="stable"):
        p = sols[k]
        if p is not None:
            return TierChoice(int(k), float(budgets[k]), p, float(np.dot(cost, p)), feasible)
    return TierChoice(-1, float("nan"), np.full(len(cost), np.nan), float("nan"), feasible)
