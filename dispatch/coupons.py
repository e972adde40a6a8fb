"""The coupon LP of one rotating-hyperplane direction (spatiotemporal paper §2.1, linearised).

With the response model ``P ~ P_0 + J psi`` and the spend ``F ~ v^T psi``, the boundary point
problem ``min a^T P(psi)`` s.t. ``F_bs(psi) <= F_max`` becomes the LP

    min (a^T J) psi   s.t.   v^T psi <= F_max,   0 <= psi <= psi_max,

a fractional knapsack: the budget goes to the coordinates with the best ``(a^T J)_i / v_i``.
"""

from __future__ import annotations

import numpy as np

from flexibility.common import FloatArray
from flexibility.lp import LinearProgram, solve


def lp_coupons(direction: FloatArray, jac: FloatArray, spend_rate: FloatArray,
               psi_max: FloatArray, budget: float) -> FloatArray:
    """``argmin a^T J psi`` s.t. ``v^T psi <= F_max``, ``0 <= psi <= psi_max`` (HiGHS).

    Coordinates that neither cost nor move anything (``v_i = 0`` and ``J_i = 0``) stay at 0.
    """
    n = jac.shape[1]
    cost = direction @ jac
    upper = np.where((spend_rate <= 0) & (np.abs(jac).sum(0) <= 0), 0.0, psi_max)
    lp = LinearProgram(cost=cost, col_lo=np.zeros(n), col_hi=upper,
                       a=np.maximum(spend_rate, 1e-9)[None, :], row_lo=np.array([-np.inf]),
                       row_hi=np.array([float(budget)]))
    sol = solve(lp.highs())
    if not sol.optimal:
        return np.zeros(n)
    return np.clip(sol.x, 0.0, upper)
