"""Price-based demand response of EV charging (bilevel zonal dispatch paper, eqs. 24-26, 35).

Intervals are mapped to peak, flat (off-peak) and valley periods. With the 3 x 3 elasticity
matrix ``E`` (rows: the period whose demand responds, columns: the period whose price moves;
the paper's fitted matrix is :data:`PAPER_ELASTICITY`) and the relative price change of each
period ``r_j = mean_{s in j} (p_s - p0_s) / p0_s``, the charging demand of interval ``t``
becomes

    E'_t = E_t (1 + sum_j E[per(t), j] r_j),

eq. 25 with the T x T matrix built from the 3 x 3 one (``e_ts = E[per(t), per(s)] / |per(s)|``,
so the ``1/T``-type averaging is over each period's own intervals). A period's own price rise
lowers its demand (negative diagonal), the others' rises raise it (positive off-diagonal).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from flexibility.common import FloatArray, IntArray, ModelInputError

PEAK, FLAT, VALLEY = 0, 1, 2
PAPER_ELASTICITY = np.array([[-0.21, 0.04, 0.07],
                             [0.02, -0.16, 0.06],
                             [0.01, 0.01, -0.11]])  # eq. 35, rows/columns peak, flat, valley


def expand(elasticity: FloatArray, period: IntArray) -> FloatArray:
    """The ``(T, T)`` matrix of eq. 24 from the 3 x 3 one (module docstring)."""
    per = np.asarray(period, dtype=int)
    counts = np.bincount(per, minlength=3).astype(float)
    return np.asarray(elasticity)[per][:, per] / np.where(counts > 0, counts, 1.0)[per][None, :]


def respond(demand_kwh: FloatArray, price0: FloatArray, price: FloatArray, period: IntArray,
            elasticity: FloatArray = PAPER_ELASTICITY, max_change: float = 0.5) -> FloatArray:
    """Charging demand per interval after the price change (eq. 25).

    Args:
        demand_kwh: Demand at the initial prices ``(T,)``.
        price0: Initial charging prices ``(T,)``.
        price: New prices ``(T,)``, within ``+-max_change`` of ``price0`` (the paper's 50 %).
        period: Peak (0), flat (1) or valley (2) per interval ``(T,)``.
        elasticity: The 3 x 3 matrix.
        max_change: Largest relative price change.

    Raises:
        ModelInputError: A price change beyond ``max_change`` or a non-positive base price.
    """
    p0 = np.asarray(price0, dtype=float)
    if np.any(p0 <= 0):
        raise ModelInputError("charging prices must be positive")
    rel = (np.asarray(price, dtype=float) - p0) / p0
    if np.any(np.abs(rel) > max_change + 1e-12):
        raise ModelInputError(f"a price moves by {np.abs(rel).max():.0%}, more than the "
                              f"allowed {max_change:.0%} of the base price")
    return np.asarray(demand_kwh, dtype=float) * (1.0 + expand(elasticity, period) @ rel)


def tou_periods(price: FloatArray) -> IntArray:
    """Period per interval of a time-of-use tariff.

    Peak (highest price), valley (lowest) and flat (the rest).
    """
    p = np.asarray(price, dtype=float)
    levels = np.unique(p)
    return np.where(p == levels.max(), PEAK, np.where(p == levels.min(), VALLEY, FLAT))


def response_rows(ev_cols: IntArray, up_cols: IntArray, dn_cols: IntArray, period: IntArray,
                  base_kwh: FloatArray, dt_h: float, width: int,
                  elasticity: FloatArray = PAPER_ELASTICITY) -> tuple[sp.csr_matrix, FloatArray]:
    """Equality rows of eq. 25 on period totals for ``D`` groups of EVs (an LP's columns).

        dt sum_{t in j} e_t,d - E_d,j sum_k el[j, k] (r+_d,k - r-_d,k) = E_d,j,

    ``r_d = r+_d - r-_d`` the relative price changes of group ``d``.

    Args:
        ev_cols: Columns of the EV power ``(T, D)``.
        up_cols: Columns of ``r+`` ``(D, 3)``.
        dn_cols: Columns of ``r-`` ``(D, 3)``.
        period: Period of every interval ``(T,)``.
        base_kwh: Energy per group and period at the base prices ``(D, 3)``.
        dt_h: Interval length.
        width: Number of columns of the program.
        elasticity: The 3 x 3 matrix.

    Returns:
        The ``(3 D, width)`` rows and their right-hand side.
    """
    per = np.asarray(period, dtype=int)
    base = np.atleast_2d(np.asarray(base_kwh, dtype=float))
    el = np.asarray(elasticity, dtype=float)
    ev, up, dn = np.atleast_2d(ev_cols.T).T, np.atleast_2d(up_cols), np.atleast_2d(dn_cols)
    a = np.zeros((3 * base.shape[0], width))
    for d in range(base.shape[0]):
        for j in range(3):
            a[3 * d + j, ev[per == j, d]] = dt_h
            a[3 * d + j, up[d]] = -base[d, j] * el[j]
            a[3 * d + j, dn[d]] = base[d, j] * el[j]
    return sp.csr_matrix(a), base.ravel()
