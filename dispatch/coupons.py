"""The coupon LP of one rotating-hyperplane direction (spatiotemporal paper §2.1, linearised).

With the response model ``P ~ P_0 + J psi`` and the spend ``F ~ v^T psi``, the boundary point
problem ``min a^T P(psi)`` s.t. ``F_bs(psi) <= F_max`` becomes the LP

    min (a^T J) psi   s.t.   v^T psi <= F_max,   0 <= psi <= psi_max,

a fractional knapsack: the budget goes to the coordinates with the best ``(a^T J)_i / v_i``.
Alone it spends the whole budget on one coordinate (the best ratio) however far the linear
model is from the equilibrium there; a trust region ``lo <= psi <= hi`` around the point the
model was fitted at (``lo = max(0, psi_c - r)``, ``hi = min(psi_max, psi_c + r)``) caps each
coordinate where the model is trusted, so a budget larger than one coordinate's cap is spread
over the next best ones: combined coupons.
"""

from __future__ import annotations

import numpy as np

from flexibility.common import FloatArray
from flexibility.lp import LinearProgram, solve


def lp_coupons(direction: FloatArray, jac: FloatArray, spend_rate: FloatArray,
               psi_max: FloatArray, budget: float, centre: FloatArray | None = None,
               radius: float = np.inf) -> FloatArray:
    """``argmin a^T J psi`` s.t. ``v^T psi <= F_max`` and the trust region (module docstring).

    Args:
        direction: ``a``.
        jac: ``J`` (station x coupon coordinate).
        spend_rate: ``v`` (spend per unit coupon).
        psi_max: Upper bound per coordinate.
        budget: ``F_max``.
        centre: ``psi_c`` of the trust region (default 0).
        radius: ``r`` per coordinate (default none: ``0 <= psi <= psi_max``).

    Coordinates that neither cost nor move anything (``v_i = 0`` and ``J_i = 0``) stay at 0.
    """
    n = jac.shape[1]
    cost = direction @ jac
    c = np.zeros(n) if centre is None else np.asarray(centre, dtype=float)
    upper = np.where((spend_rate <= 0) & (np.abs(jac).sum(0) <= 0), 0.0,
                     np.minimum(psi_max, c + radius))
    lower = np.minimum(np.maximum(0.0, c - radius), upper)
    lp = LinearProgram(cost=cost, col_lo=lower, col_hi=upper,
                       a=np.maximum(spend_rate, 1e-9)[None, :], row_lo=np.array([-np.inf]),
                       row_hi=np.array([float(budget)]))
    sol = solve(lp.highs())
    if not sol.optimal:
        return np.zeros(n)
    return np.clip(sol.x, lower, upper)
