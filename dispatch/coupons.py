"""The coupon LP of one rotating-hyperplane direction (spatiotemporal paper §2.1, linearised).

With the response model ``P ~ P_0 + J psi`` and the spend ``F ~ v^T psi``, the boundary point
problem ``min a^T P(psi)`` s.t. ``F_bs(psi) <= F_max`` becomes the LP

    min (a^T J) psi   s.t.   v^T psi <= F_max,   0 <= psi <= psi_max,

a fractional knapsack: the budget goes to the coordinates with the best ``(a^T J)_i / v_i``.
"""

from __future__ import annotations

import highspy
import numpy as np

from flexibility.common import FloatArray


def lp_coupons(direction: FloatArray, jac: FloatArray, spend_rate: FloatArray,
               psi_max: FloatArray, budget: float) -> FloatArray:
    """``argmin a^T J psi`` s.t. ``v^T psi <= F_max``, ``0 <= psi <= psi_max`` (HiGHS).

    Coordinates that neither cost nor move anything (``v_i = 0`` and ``J_i = 0``) stay at 0.
    """
    n = jac.shape[1]
    cost = direction @ jac
    upper = np.where((spend_rate <= 0) & (np.abs(jac).sum(0) <= 0), 0.0, psi_max)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, 1
    lp.col_cost_ = cost.astype(float)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = upper.astype(float)
    lp.row_lower_ = np.array([-highspy.kHighsInf])
    lp.row_upper_ = np.array([float(budget)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(n + 1, dtype=np.int32)
    lp.a_matrix_.index_ = np.zeros(n, dtype=np.int32)
    lp.a_matrix_.value_ = np.maximum(spend_rate, 1e-9).astype(float)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return np.zeros(n)
    return np.clip(np.asarray(h.getSolution().col_value), 0.0, upper)
