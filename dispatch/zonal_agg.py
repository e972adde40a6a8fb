"""Aggregation layer of the zonal dispatch, one area (bilevel zonal dispatch paper, eqs. 22-26).

The area sets its EV charging prices to track the target the distribution layer gave it, its
users answering with the price elasticity of ``dispatch.price_response``.

Columns: EV power ``e_t`` (kW, the area's generalized battery ``p_lo <= e <= p_hi``,
``y_lo <= dt sum_{s<=t} e_s <= y_hi``), relative price changes of the peak, flat and valley
periods ``r_j`` (``|r_j| <= max_change``, the paper's 50 %), the tracking deviations
``u_t, w_t >= 0``, the output of the area's own generators ``g_it in [0, g_max_i]`` (cost
``c_i``, the ``C^dg`` of eq. 22) and the purchase from neighbouring areas ``b_t >= 0`` at the
trading price ``omega^Z_t`` of eq. 11 (``P^B``). Rows:

* users' response per period (eq. 25 on period totals): the EV energy of period ``j`` is
  ``dt sum_{t in j} e_t = E_j (1 + sum_k E[j, k] r_k)``, ``E_j`` its energy at the base prices;
* tracking (eqs. 22-23): ``F_t + e_t - sum_i g_it - b_t - P^Z_t = u_t - w_t`` with ``F_t``
  the area's other net load (base load minus the renewables of the distribution layer's plan);

objective ``dt sum_t (sum_i c_i g_it + omega^Z_t b_t + omega (u_t + w_t))`` (eq. 22 with the
reward/penalty price ``omega`` on the absolute deviation) plus ``epsilon sum_j |r_j|`` through
``r_j = r+_j - r-_j`` (a tie-breaker: no price move that buys nothing) and, optionally, a ramp
cost ``rho sum_t |e_t+1 - e_t|`` (another tie-breaker).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from dispatch.price_response import PAPER_ELASTICITY, response_rows
from flexibility.common import FloatArray, IntArray
from flexibility.lp import LinearProgram, abs_step_rows, solve

TIE_BREAK = 1e-3


@dataclass(frozen=True)
class AreaTracking:
    """The area's answer.

    Attributes:
        feasible: Optimum found.
        ev_kw: EV power ``(T,)``.
        price_change: Relative price change per period (peak, flat, valley).
        period_kwh: EV energy per period after the response ``(3,)``.
        deviation_kwh: ``dt sum_t |F_t + e_t - g_t - b_t - P^Z_t|``.
        dg_kw: Output of the area's generators ``(T, G)``.
        buy_kw: Purchase from neighbouring areas ``(T,)``.
        cost: Objective without the tie-breaker (eq. 22).
    """

    feasible: bool
    ev_kw: FloatArray
    price_change: FloatArray
    period_kwh: FloatArray
    deviation_kwh: float
    dg_kw: FloatArray
    buy_kw: FloatArray
    cost: float


def track_area(target_kw: FloatArray, other_kw: FloatArray, base_period_kwh: FloatArray,
               period: IntArray, p_lo_kw: FloatArray, p_hi_kw: FloatArray,
               y_lo_kwh: FloatArray, y_hi_kwh: FloatArray, dt_h: float,
               omega_per_kwh: float = 1.0, elasticity: FloatArray = PAPER_ELASTICITY,
               max_change: float = 0.5, dg_max_kw: FloatArray | None = None,
               dg_cost_per_kwh: FloatArray | None = None,
               trade_price_per_kwh: FloatArray | None = None,
               ramp_per_kw: float = 0.0) -> AreaTracking:
    """Solve the area's LP (module docstring).

    Args:
        target_kw: The area's active target ``P^Z`` (eq. 9) ``(T,)``.
        other_kw: Its net load other than EVs and its generators ``(T,)``.
        base_period_kwh: EV energy per period at the base prices ``(3,)``.
        period: Period of every interval ``(T,)``.
        p_lo_kw: Lower bound of the area's EV power ``(T,)``.
        p_hi_kw: Upper bound ``(T,)``.
        y_lo_kwh: Lower bound of its cumulative energy after each interval ``(T,)``.
        y_hi_kwh: Upper bound ``(T,)``.
        dt_h: Interval length in hours.
        omega_per_kwh: Reward/penalty price of the target (eq. 22).
        elasticity: The 3 x 3 matrix (eq. 26).
        max_change: Largest relative price change.
        dg_max_kw: Limits of the area's generators ``(G,)`` (default none).
        dg_cost_per_kwh: Their costs ``(G,)``.
        trade_price_per_kwh: ``omega^Z`` per interval (default: no trading).
        ramp_per_kw: Cost per kW of change of the EV power between intervals (a tie-breaker
            among equally good schedules, not part of ``cost``).
    """
    t_n = len(target_kw)
    per = np.asarray(period, dtype=int)
    g_max = np.zeros(0) if dg_max_kw is None else np.asarray(dg_max_kw, float)
    g_cost = np.zeros(0) if dg_cost_per_kwh is None else np.asarray(dg_cost_per_kwh, float)
    g_n = g_max.size
    e_idx, rp, rm = np.arange(t_n), t_n + np.arange(3), t_n + 3 + np.arange(3)
    u, w = t_n + 6 + np.arange(t_n), 2 * t_n + 6 + np.arange(t_n)
    g_idx = (3 * t_n + 6 + np.arange(t_n * g_n)).reshape(t_n, g_n)
    b_idx = 3 * t_n + 6 + t_n * g_n + np.arange(t_n)
    m_idx = 4 * t_n + 6 + t_n * g_n + np.arange(t_n - 1 if ramp_per_kw > 0 else 0)
    width = 4 * t_n + 6 + t_n * g_n + m_idx.size
    rows, lo, hi = [], [], []
    # cumulative energy
    cum = sp.hstack([sp.csr_matrix(np.tril(np.ones((t_n, t_n))) * dt_h),
                     sp.csr_matrix((t_n, width - t_n))])
    rows.append(cum)
    lo.append(np.asarray(y_lo_kwh, float))
    hi.append(np.asarray(y_hi_kwh, float))
    # response per period: dt sum_{t in j} e_t - E_j sum_k E[j,k] (r+_k - r-_k) = E_j
    resp, rhs_r = response_rows(e_idx[:, None], rp[None, :], rm[None, :], per,
                                np.asarray(base_period_kwh, float)[None, :], dt_h, width,
                                elasticity)
    rows.append(resp)
    lo.append(rhs_r)
    hi.append(rhs_r)
    # tracking: e_t - u_t + w_t = P^Z_t - F_t
    tt = np.arange(t_n)
    trk = sp.csr_matrix((np.r_[np.ones(t_n), -np.ones(t_n), np.ones(t_n),
                               -np.ones(t_n * g_n), -np.ones(t_n)],
                         (np.r_[np.tile(tt, 3), np.repeat(tt, g_n), tt],
                          np.r_[e_idx, u, w, g_idx.ravel(), b_idx])), shape=(t_n, width))
    rows.append(trk)
    rhs = np.asarray(target_kw, float) - np.asarray(other_kw, float)
    lo.append(rhs)
    hi.append(rhs)
    if m_idx.size:  # m_t >= |e_t+1 - e_t|
        steps = abs_step_rows(e_idx, m_idx, width)
        rows.append(steps)
        lo.append(np.zeros(steps.shape[0]))
        hi.append(np.full(steps.shape[0], np.inf))
    trade = trade_price_per_kwh is not None
    col_lo = np.r_[np.asarray(p_lo_kw, float), np.zeros(6 + 3 * t_n + t_n * g_n + m_idx.size)]
    col_hi = np.r_[np.asarray(p_hi_kw, float), np.full(6, max_change),
                   np.full(2 * t_n, np.inf), np.tile(g_max, t_n),
                   np.full(t_n, np.inf if trade else 0.0), np.full(m_idx.size, np.inf)]
    price_b = np.asarray(trade_price_per_kwh, float) if trade else np.zeros(t_n)
    op_cost = np.r_[np.zeros(t_n + 6), np.full(2 * t_n, omega_per_kwh * dt_h),
                    np.tile(g_cost, t_n) * dt_h, price_b * dt_h, np.zeros(m_idx.size)]
    cost = op_cost + np.r_[np.zeros(t_n), np.full(6, TIE_BREAK),
                           np.zeros(2 * t_n + t_n * g_n + t_n), np.full(m_idx.size, ramp_per_kw)]
    present = np.bincount(per, minlength=3) > 0
    col_hi[rp[~present]] = col_hi[rm[~present]] = 0.0  # a period without intervals: no price
    lp = LinearProgram(cost=cost, col_lo=col_lo, col_hi=col_hi, a=sp.vstack(rows).tocsr(),
                       row_lo=np.concatenate(lo), row_hi=np.concatenate(hi))
    sol = solve(lp.highs())
    if not sol.optimal:
        return AreaTracking(False, np.zeros(t_n), np.zeros(3), np.zeros(3), float("nan"),
                            np.zeros((t_n, g_n)), np.zeros(t_n), float("nan"))
    x = sol.x
    ev, g, b = x[e_idx], x[g_idx], x[b_idx]
    r = x[rp] - x[rm]
    period_kwh = np.array([ev[per == j].sum() * dt_h for j in range(3)])
    dev = float(np.abs(np.asarray(other_kw) + ev - g.sum(axis=1) - b
                       - np.asarray(target_kw)).sum() * dt_h)
    return AreaTracking(True, ev, r, period_kwh, dev, g, b, float(op_cost @ x))
