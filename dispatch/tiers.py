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

import numpy as np

from flexibility.common import FloatArray
from flexibility.lp import LinearProgram, solve


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
    lo = np.full(n, -np.inf)
    lo[station] = p_req
    lp = LinearProgram(cost=np.asarray(cost, dtype=float), col_lo=lo, col_hi=np.full(n, np.inf),
                       a=np.asarray(a, dtype=float), row_lo=np.full(a.shape[0], -np.inf),
                       row_hi=np.asarray(b, dtype=float))
    sol = solve(lp.highs())
    return sol.x.astype(float) if sol.optimal else None


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
