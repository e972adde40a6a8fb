"""Day-ahead dispatch of a distribution operator under joint chance constraints.

Build -> solve -> write-back, one function per constraint family; every row is an LP row.

**Devices** at feeder positions: dispatchable generators ``g`` (kW, cost per kWh, reserve cost
per kW) and EV aggregators as generalized batteries (consumption ``p`` between ``p_min`` and
``p_max``, cumulative energy ``E_t = sum_{s<=t} p_s dt`` between ``e_min`` and ``e_max``, ramp
limit) — the packaged boundaries of the grid layers. Consumption is positive.

**Uncertainty** per interval, two sources kept apart (as the paper does): the non-EV net-load
error ``delta_t`` (kW, spread over buses by ``w_net``) and the EV demand error ``eta_t`` (kW,
spread over the aggregators by ``w_ev``), with mean ``mu_t`` and covariance ``Sigma_t``.

**Affine recourse**: the total deviation ``s_t = delta_t + eta_t`` is covered by the devices
with fixed participation factors ``alpha_d`` (``sum alpha = 1``, proportional to each device's
power range): generator ``k`` raises output by ``alpha_k s``, aggregator ``j`` lowers its
consumption by ``alpha_j s``, so the substation import keeps its schedule.

**Uncertain rows** (families): LinDistFlow voltage, thermal (polygon) and substation rows of
``grid.lindistflow`` with ``A u_t + c_i xi_t <= b_t``, ``c_i = [A w_net - A alpha,
A w_ev - A alpha]`` on all buses; reserve adequacy ``alpha_d s_t <= r^up_d``,
``-alpha_d s_t <= r^dn_d``. Rows that the uncertainty cannot move (``sigma_i = 0``) stay
deterministic. Each interval's rows must hold jointly with probability ``1 - eps``
(``dispatch.chance``): ``bonferroni`` takes ``eps / m_t`` per row; ``oba`` makes ``eps_i`` per
row a decision with ``sum_{i in t} eps_i <= eps`` (reported summed per family); ``so`` takes
the worst of the given samples per row; ``ro`` the worst corner of a box.

**Deterministic rows**: generator capacity with reserves ``g + r^up <= g_max``, ``g - r^dn >=
0``; aggregator ``p - r^up >= p_min``, ``p + r^dn <= p_max``; energy bounds; ramps.

**Cost**: ``sum_t dt (price_t * I_t - export_price_t * X_t + sum_k cost_k g_k) + sum reserve
costs``, with the import ``I_t = sum background + losses + sum p - sum g + X_t >= 0`` and the
export ``0 <= X_t <= export cap`` (``dispatch.da_rows.column_layout``); the export price is at
most the import price (else exporting more would pay without end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from dispatch.chance import ChanceInputError, safety_factor
from dispatch.da_directions import (
    direction_margins,
    family_risk,
    oba_direction_rows,
    oba_program,
)
from dispatch.da_rows import (
    FAMILIES,
    DaInstance,
    UncertainRows,
    column_layout,
    cost_vector,
    device_rows,
    network_rows,
    reserve_rows,
    sigma_rows,
    split_columns,
    stack_uncertain_rows,
)
from flexibility.common import FloatArray, IntArray
from flexibility.lp import LinearProgram, solve
from grid.lindistflow import LinDistFlow

RESERVE_TOL_KW = 1e-3
"""A device's response beyond its procured reserve by more than this is a shortfall (kW)."""


@dataclass(frozen=True)
class DaSolution:
    """Write-back of one solve.

    Attributes:
        method: Variant.
        feasible: Optimum found.
        cost: Objective (CNY or the scenario's currency).
        reserve_cost: Its reserve part.
        g_kw: ``(T, G)``.
        p_ev_kw: ``(T, J)``.
        r_up_kw: ``(T, G + J)``.
        r_dn_kw: ``(T, G + J)``.
        eps_family: Risk per family and interval ``(T, 4)`` (NaN for ``so``/``ro``).
        x: The stacked columns (for :func:`violations`).
    """

    method: str
    feasible: bool
    cost: float
    reserve_cost: float
    g_kw: FloatArray
    p_ev_kw: FloatArray
    r_up_kw: FloatArray
    r_dn_kw: FloatArray
    eps_family: FloatArray
    x: FloatArray


def solve_da(inst: DaInstance, ldf: LinDistFlow, method: str, eps: float,
             samples: FloatArray | None = None, box_sigmas: float = 3.0,
             union: str = "directions",
             box_kw: tuple[FloatArray, FloatArray] | None = None,
             families: tuple[str, ...] = FAMILIES) -> DaSolution:
    """Build, solve and write back one variant (module docstring).

    Args:
        union: What ``bonferroni`` and ``oba`` split the risk over: ``directions`` (the
            uncertainty directions spanning the rows, ``dispatch.da_directions``; default) or
            ``rows`` (every moving row, the textbook union bound).
        inst: The instance.
        ldf: LinDistFlow matrices of its feeder.
        method: ``oba``, ``bonferroni``, ``so`` or ``ro``.
        eps: Joint risk per interval, ``0 < eps < 1``.
        samples: Error samples ``(N, T, 2)`` for ``so``.
        box_sigmas: Half-width of the ``ro`` box in standard deviations of each source
            (when no ``box_kw`` is given).
        box_kw: The ``ro`` box ``(lo, hi)``, each ``(T, 2)`` (e.g. the data's support).
        families: The uncertain constraint families enforced (all by default; fewer only to
            diagnose an infeasible instance, ``dispatch.da_diagnose``).
    """
    if not 0 < eps < 1:
        raise ChanceInputError(f"epsilon = {eps:g} is outside (0, 1); e.g. 0.05")
    u = stack_uncertain_rows(network_rows(inst, ldf), reserve_rows(inst))
    if tuple(families) != FAMILIES:
        u = _select(u, np.isin(u.family, [FAMILIES.index(f) for f in families]))
    sigma = sigma_rows(inst, u)
    mean = np.einsum("mi,mi->m", u.c, inst.mu[u.t])
    t_n = inst.shape[0]
    a_dev, lo_dev, hi_dev = device_rows(inst)
    _, n_x = column_layout(inst)
    cost = cost_vector(inst)
    moving = sigma > 1e-12
    eps_f = np.full((t_n, len(FAMILIES)), np.nan)
    extra_cols: IntArray = np.zeros(0, dtype=int)
    if union not in ("directions", "rows"):
        raise ChanceInputError(f"union: {union!r} is not 'directions' or 'rows'")
    by_dir = union == "directions" and method in ("bonferroni", "oba")
    if by_dir:
        return _solve_by_directions(inst, u, sigma, method, eps, a_dev, lo_dev, hi_dev, cost)
    if method in ("bonferroni", "so", "ro"):
        if method == "bonferroni":
            m_t = np.bincount(u.t[moving], minlength=t_n)
            k = np.zeros(len(sigma))
            mv = np.flatnonzero(moving)
            k[mv] = safety_factor(eps / m_t[u.t[mv]], inst.unimodal(u.c[mv], u.t[mv]))
            margin = mean + k * sigma
        elif method == "so":
            if samples is None:
                raise ChanceInputError("method so needs error samples")
            worst = np.max(np.einsum("mi,nmi->nm", u.c, samples[:, u.t, :]), axis=0)
            margin = worst
        elif box_kw is not None:
            b_lo, b_hi = box_kw[0][u.t], box_kw[1][u.t]
            margin = np.maximum(u.c * b_lo, u.c * b_hi).sum(axis=1)
        else:
            half = box_sigmas * np.sqrt(np.diagonal(inst.cov, axis1=1, axis2=2))[u.t]
            margin = mean + np.einsum("mi,mi->m", np.abs(u.c), half)
        a = sp.vstack([a_dev, u.a]).tocsr()
        lo = np.r_[lo_dev, np.full(len(u.b), -np.inf)]
        hi = np.r_[hi_dev, u.b - margin]
        c_full = cost
    elif method == "oba":
        a, lo, hi, c_full, eps_cols, extra_cols = _oba_rows(inst, u, sigma, mean, moving, eps,
                                                            a_dev, lo_dev, hi_dev, cost)
        col_lo = np.r_[_bounds(inst, n_x)[0], eps_cols[0]]
        col_hi = np.r_[_bounds(inst, n_x)[1], eps_cols[1]]
    else:
        raise ChanceInputError(f"method {method!r} is not one of oba, bonferroni, so, ro")
    if method != "oba":
        col_lo, col_hi = _bounds(inst, n_x)
    lp = LinearProgram(cost=c_full, col_lo=col_lo, col_hi=col_hi, a=a, row_lo=lo, row_hi=hi)
    sol = solve(lp.highs())
    if not sol.optimal:
        return _empty(inst, method)
    x = sol.x[:n_x]
    if method == "oba":
        eps_f = np.zeros((t_n, len(FAMILIES)))
        mv = extra_cols
        np.add.at(eps_f, (u.t[mv], u.family[mv]), sol.x[n_x:n_x + len(mv)])
    elif method == "bonferroni":
        m_f = np.zeros((t_n, len(FAMILIES)))
        np.add.at(m_f, (u.t[moving], u.family[moving]), 1.0)
        m_t = m_f.sum(axis=1, keepdims=True)
        eps_f = eps * m_f / np.maximum(m_t, 1.0)
    return _write_back(inst, method, x, cost, eps_f)


def _solve_by_directions(inst, u, sigma, method, eps, a_dev, lo_dev, hi_dev, cost):
    """``bonferroni`` / ``oba`` with the union bound over directions (``da_directions``)."""
    _, n_x = column_layout(inst)
    col_lo, col_hi = _bounds(inst, n_x)
    t_n = inst.shape[0]
    if method == "bonferroni":
        margin, dirs, eps_k = direction_margins(inst, u, sigma, eps)
        a = sp.vstack([a_dev, u.a]).tocsr()
        lo = np.r_[lo_dev, np.full(len(u.b), -np.inf)]
        hi = np.r_[hi_dev, u.b - margin]
        c_full = cost
    else:
        a, lo, hi, c_full, extra, dirs = oba_direction_rows(inst, u, sigma, eps, a_dev, lo_dev,
                                                            hi_dev, cost)
        col_lo, col_hi = np.r_[col_lo, extra[0]], np.r_[col_hi, extra[1]]
    lp = LinearProgram(cost=c_full, col_lo=col_lo, col_hi=col_hi, a=a, row_lo=lo, row_hi=hi)
    sol = solve(lp.highs())
    if not sol.optimal:
        return _empty(inst, method)
    if method == "oba":
        eps_k = sol.x[n_x:n_x + len(dirs.t)]
    lhs = a @ sol.x
    n_dev = a_dev.shape[0]
    binding = lhs[n_dev:n_dev + len(u.b)] >= hi[n_dev:n_dev + len(u.b)] - 1e-6 * (
        1.0 + np.abs(hi[n_dev:n_dev + len(u.b)]))
    return _write_back(inst, method, sol.x[:n_x], cost,
                       family_risk(dirs, u, eps_k, t_n, binding))


def _select(u: UncertainRows, keep: np.ndarray) -> UncertainRows:
    return UncertainRows(u.a[np.flatnonzero(keep)], u.b[keep], u.c[keep], u.t[keep],
                         u.family[keep])


def _bounds(inst: DaInstance, n_x: int) -> tuple[FloatArray, FloatArray]:
    t_n, g_n, j_n = inst.shape
    per, _ = column_layout(inst)
    lo = np.zeros(n_x)
    hi = np.full(n_x, np.inf)
    none = inst.alpha.sum(axis=1) <= 0  # no device has range: no reserve can be held
    for t in range(t_n):
        lo[t * per + g_n:t * per + g_n + j_n] = -np.inf  # aggregator power: device rows
        if none[t]:
            hi[t * per + g_n + j_n:t * per + g_n + j_n + 2] = 0.0
        if inst.export_cap_kw is not None:
            hi[(t + 1) * per - 1] = inst.export_cap_kw  # the export column
    return lo, hi


def _oba_rows(inst, u, sigma, mean, moving, eps, a_dev, lo_dev, hi_dev, cost):
    """OBA over rows: one risk item per moving row, ``A x + sigma_i k_i <= b - mean``."""
    n_x = a_dev.shape[1]
    mv = np.flatnonzero(moving)
    kap = sp.csr_matrix((sigma[mv], (mv, np.arange(len(mv)))), shape=(len(sigma), len(mv)))
    a, lo, hi, c, bounds = oba_program(u, kap, u.b - mean, u.t[mv], inst.shape[0], eps, a_dev,
                                       lo_dev, hi_dev, cost, inst.unimodal(u.c[mv], u.t[mv]))
    assert a.shape[1] == n_x + 2 * len(mv)
    return a, lo, hi, c, bounds, mv


def _write_back(inst: DaInstance, method: str, x: FloatArray, cost: FloatArray,
                eps_f: FloatArray) -> DaSolution:
    g, p, up, dn = split_columns(inst, x)
    bg = float(np.sum(inst.p_bg_kw.sum(axis=1) * inst.price_per_kwh) * inst.dt_h)
    res = np.r_[inst.gen_reserve_cost_per_kw, inst.ev_reserve_cost_per_kw]
    return DaSolution(method, True, float(cost @ x) + bg, float(((up + dn) @ res).sum()),
                      g, p, up, dn, eps_f, x)


def _empty(inst: DaInstance, method: str) -> DaSolution:
    t_n, g_n, j_n = inst.shape
    nan = np.full((t_n, len(FAMILIES)), np.nan)
    z = np.zeros((0,))
    return DaSolution(method, False, float("nan"), float("nan"), np.zeros((t_n, g_n)),
                      np.zeros((t_n, j_n)), np.zeros((t_n, g_n + j_n)),
                      np.zeros((t_n, g_n + j_n)), nan, z)


def violations(inst: DaInstance, ldf: LinDistFlow, sol: DaSolution,
               errors: FloatArray) -> FloatArray:
    """Joint violation per error sample and interval ``(N, T)`` (bool).

    Any uncertain row ``A x + c_i xi_t > b_i`` on the LinDistFlow model with the affine
    recourse.
    """
    u = stack_uncertain_rows(network_rows(inst, ldf), reserve_rows(inst))
    lhs = u.a @ sol.x  # (M,)
    unc = np.einsum("mi,nmi->nm", u.c, errors[:, u.t, :])
    bad = lhs[None, :] + unc > u.b[None, :] + 1e-6
    out = np.zeros((errors.shape[0], inst.shape[0]), dtype=bool)
    for t in range(inst.shape[0]):
        out[:, t] = bad[:, u.t == t].any(axis=1)
    return out
