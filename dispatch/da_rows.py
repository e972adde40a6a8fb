"""Rows of the chance-constrained day-ahead dispatch (``dispatch.da_model`` states the model).

The instance, the uncertain network and reserve rows, the deterministic device rows and the
cost vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from dispatch.uncertainty import SourceShapes, unimodal_projections
from flexibility.common import FloatArray, IntArray
from grid.lindistflow import (
    SUBSTATION,
    THERMAL,
    VOLTAGE,
    LinDistFlow,
    NetworkLimits,
    substation_rows,
    voltage_rows,
)

FAMILIES = ("voltage", "thermal", "substation", "reserve")
_KIND = {VOLTAGE: 0, THERMAL: 1, SUBSTATION: 2}


@dataclass(frozen=True)
class DaInstance:
    """One day-ahead problem.

    Shapes: ``T`` intervals, ``n`` buses, ``G`` generators, ``J`` aggregators.

    Attributes:
        dt_h: Interval length (h).
        p_bg_kw: Forecast non-EV net consumption per bus ``(T, n)``.
        q_bg_kvar: Reactive consumption per bus ``(T, n)``.
        price_per_kwh: Import price ``(T,)``.
        gen_pos: Generator bus positions ``(G,)``.
        gen_max_kw: ``(G,)``.
        gen_cost_per_kwh: ``(G,)``.
        gen_reserve_cost_per_kw: ``(G,)`` per interval and kW of up or down reserve.
        ev_pos: Aggregator bus positions ``(J,)``.
        ev_p_min_kw: ``(T, J)`` (negative: discharge).
        ev_p_max_kw: ``(T, J)``.
        ev_e_min_kwh: Cumulative energy lower bound after each interval ``(T, J)``.
        ev_e_max_kwh: ``(T, J)``.
        ev_ramp_kw: ``(J,)``.
        ev_reserve_cost_per_kw: ``(J,)``.
        w_net: Share of the net-load error per bus ``(n,)``, sums to 1.
        w_ev: Share of the EV error per aggregator ``(J,)``, sums to 1.
        mu: Error means ``(T, 2)`` (net load, EV), kW.
        cov: Error covariances ``(T, 2, 2)``.
        limits: Voltage, substation and polygon limits.
        loss_kw: Forecast feeder losses per interval ``(T,)`` added to the substation flow
            (``None``: lossless).
        export_price_per_kwh: Price earned per kWh exported at the substation ``(T,)``
            (``None``: the import price).
        export_cap_kw: Largest export at the substation (``None``: none but the substation
            rows).
        ambiguity: ``moment`` (every distribution with the moments: Cantelli) or
            ``unimodal`` (the unimodal ones: one-sided Vysochanskij–Petunin, where the fitted
            ``shapes`` make a row's error unimodal; ``dispatch.chance``).
        shapes: The sources' fitted mixtures (needed for ``unimodal``).
    """

    dt_h: float
    p_bg_kw: FloatArray
    q_bg_kvar: FloatArray
    price_per_kwh: FloatArray
    gen_pos: IntArray
    gen_max_kw: FloatArray
    gen_cost_per_kwh: FloatArray
    gen_reserve_cost_per_kw: FloatArray
    ev_pos: IntArray
    ev_p_min_kw: FloatArray
    ev_p_max_kw: FloatArray
    ev_e_min_kwh: FloatArray
    ev_e_max_kwh: FloatArray
    ev_ramp_kw: FloatArray
    ev_reserve_cost_per_kw: FloatArray
    w_net: FloatArray
    w_ev: FloatArray
    mu: FloatArray
    cov: FloatArray
    limits: NetworkLimits
    loss_kw: FloatArray | None = None
    ambiguity: str = "moment"
    shapes: SourceShapes | None = None
    export_price_per_kwh: FloatArray | None = None
    export_cap_kw: float | None = None

    def unimodal(self, c: FloatArray, t: IntArray) -> np.ndarray:
        """Per projection ``c_i`` at interval ``t_i``: whether its bound may assume
        unimodality (``ambiguity = unimodal`` and a unimodal fitted projection)."""
        if self.ambiguity == "moment":
            return np.zeros(len(t), dtype=bool)
        if self.ambiguity != "unimodal" or self.shapes is None:
            raise ValueError(f"ambiguity {self.ambiguity!r} needs 'moment', or 'unimodal' "
                             "with the fitted shapes")
        return unimodal_projections(self.shapes, c, t)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(T, G, J)``."""
        return self.p_bg_kw.shape[0], len(self.gen_pos), len(self.ev_pos)

    @cached_property
    def alpha(self) -> FloatArray:
        """Participation factors ``(T, G + J)``, proportional to each device's power range.

        ``alpha_t,d = range_t,d / sum_d' range_t,d'`` (an aggregator without range in an
        interval takes no share of it).
        """
        t_n = self.p_bg_kw.shape[0]
        rng = np.c_[np.broadcast_to(self.gen_max_kw, (t_n, len(self.gen_max_kw))),
                    np.maximum(self.ev_p_max_kw - self.ev_p_min_kw, 0.0)]
        total = rng.sum(axis=1, keepdims=True)
        return np.divide(rng, total, out=np.zeros_like(rng), where=total > 0)


@dataclass(frozen=True)
class UncertainRows:
    """``A x + C xi_t <= b`` rows of all intervals (``x`` the stacked day-ahead columns).

    Attributes:
        a: ``(M, N_x)`` sparse.
        b: ``(M,)``.
        c: ``(M, 2)`` coefficients on ``(delta_t, eta_t)``.
        t: Interval of each row ``(M,)``.
        family: Index into ``FAMILIES`` ``(M,)``.
    """

    a: sp.csr_matrix
    b: FloatArray
    c: FloatArray
    t: IntArray
    family: IntArray


def column_layout(inst: DaInstance) -> tuple[int, int]:
    """Columns per interval ``[g (G), p (J), R_up, R_dn, X]`` and their total count ``T per``.

    Interval ``t``'s columns start at ``t per``.

    ``R_up``/``R_dn`` are the system reserves: device ``d`` holds ``alpha_t,d R``. ``X >= 0`` is
    the export at the substation: the import is ``I = B + sum p - sum g + X >= 0`` (``B`` the
    forecast background and losses), paid at the import price, and ``X`` earns the export price
    (:func:`cost_vector`), so ``I - X`` is the net exchange.
    """
    t, g, j = inst.shape
    per = g + j + 3
    return per, t * per


def split_columns(inst: DaInstance, x: FloatArray) -> tuple[FloatArray, ...]:
    """``(g (T, G), p (T, J), r_up (T, G+J), r_dn (T, G+J))`` of the stacked columns."""
    t_n, g_n, j_n = inst.shape
    per, _ = column_layout(inst)
    xs = np.asarray(x)[:t_n * per].reshape(t_n, per)
    alpha = inst.alpha
    return (xs[:, :g_n], xs[:, g_n:g_n + j_n], alpha * xs[:, [g_n + j_n]],
            alpha * xs[:, [g_n + j_n + 1]])


def thermal_rows_fixed_q(ldf: LinDistFlow, p_bg_kw: FloatArray, q_bg_kvar: FloatArray,
                         limits: NetworkLimits) -> tuple[FloatArray, FloatArray]:
    """Exact line rows when the reactive flows are fixed (devices at unity power factor).

        -P^max_b,t <= F^P_b,t(bg) + D_b u <= P^max_b,t,
        P^max_b,t = sqrt((v_min S_b)^2 - (F^Q_b,t)^2),

    two rows per branch (``D`` the downstream incidence, ``u`` consumption per bus) instead of
    the polygon's ``M`` sides, of which only these two can bind for fixed ``F^Q`` (the others
    would each take risk in a union bound for nothing).

    Returns:
        ``a`` ``(2 (n-1), n)`` and ``b`` ``(T, 2 (n-1))``.
    """
    d = ldf.d.toarray()
    fp, fq = ldf.branch_flows(p_bg_kw), ldf.branch_flows(q_bg_kvar)
    s_max = ldf.feeder.rating_kva * limits.v_min_pu
    p_max = np.sqrt(np.maximum(s_max[None, :] ** 2 - fq ** 2, 0.0))
    return np.vstack([d, -d]), np.hstack([p_max - fp, p_max + fp])


def network_rows(inst: DaInstance, ldf: LinDistFlow) -> UncertainRows:
    """Voltage, thermal and substation rows with their uncertainty coefficients.

    Voltage and substation rows are ``grid.lindistflow``'s on every bus (the substation with
    the forecast losses ``inst.loss_kw``); thermal rows are :func:`thermal_rows_fixed_q`.
    """
    t_n, g_n, j_n = inst.shape
    n = inst.p_bg_kw.shape[1]
    pos = np.arange(n)
    parts = [substation_rows(pos, inst.p_bg_kw, inst.limits, inst.loss_kw),
             voltage_rows(ldf, pos, inst.p_bg_kw, inst.q_bg_kvar, inst.limits)]
    a_th, b_th = thermal_rows_fixed_q(ldf, inst.p_bg_kw, inst.q_bg_kvar, inst.limits)
    a_all = np.vstack([parts[0][0], parts[1][0], a_th])  # (R, n) per kW of consumption
    b_all = np.hstack([parts[0][2].reshape(t_n, -1), parts[1][2].reshape(t_n, -1), b_th])
    kinds = np.r_[parts[0][3], parts[1][3], np.full(len(a_th), THERMAL)]
    alpha = inst.alpha  # (T, D)
    dev_pos = np.r_[inst.gen_pos, inst.ev_pos].astype(int)
    recourse = a_all[:, dev_pos] @ alpha.T  # (R, T): consumption falls by alpha_d s
    c_net = (a_all @ inst.w_net)[:, None] - recourse
    c_ev = (a_all[:, inst.ev_pos] @ inst.w_ev)[:, None] - recourse
    c = np.stack([c_net.T.ravel(), c_ev.T.ravel()], axis=1)  # rows ordered (t, r)
    dev = np.c_[-a_all[:, inst.gen_pos], a_all[:, inst.ev_pos]]  # g injects, p consumes
    per, n_x = column_layout(inst)
    r_n = a_all.shape[0]
    rows, cols, vals = [], [], []
    for t in range(t_n):
        base = t * per
        rr = np.repeat(np.arange(r_n) + t * r_n, g_n + j_n)
        cc = np.tile(base + np.arange(g_n + j_n), r_n)
        rows.append(rr)
        cols.append(cc)
        vals.append(dev.ravel())
    a = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(t_n * r_n, n_x))
    fam = np.array([_KIND[int(k)] for k in kinds])
    return UncertainRows(a, b_all.ravel(), c,
                         np.repeat(np.arange(t_n), r_n), np.tile(fam, t_n))


def reserve_rows(inst: DaInstance) -> UncertainRows:
    """System reserve adequacy ``s_t - R^up_t <= 0`` and ``-s_t - R^dn_t <= 0``.

    With the affine recourse device ``d`` answers ``alpha_t,d s_t`` and holds
    ``r_d = alpha_t,d R`` (``device_rows``), so the per-device rows ``alpha_d s <= r_d`` are
    one event per direction: two rows per interval, exact.
    """
    t_n, g_n, j_n = inst.shape
    per, n_x = column_layout(inst)
    rows = np.arange(2 * t_n)
    cols = np.repeat(np.arange(t_n) * per + g_n + j_n, 2) + np.tile([0, 1], t_n)
    a = sp.csr_matrix((-np.ones(2 * t_n), (rows, cols)), shape=(2 * t_n, n_x))
    c = np.tile([[1.0, 1.0], [-1.0, -1.0]], (t_n, 1))
    return UncertainRows(a, np.zeros(2 * t_n), c, np.repeat(np.arange(t_n), 2),
                         np.full(2 * t_n, FAMILIES.index("reserve")))


def device_rows(inst: DaInstance) -> tuple[sp.csr_matrix, FloatArray, FloatArray]:
    """Deterministic rows ``lo <= A x <= hi``: capacities with reserves, energy, ramps.

    ``g + alpha_g R^up <= g_max``, ``g - alpha_g R^dn >= 0``, ``p - alpha_j R^up >= p_min``,
    ``p + alpha_j R^dn <= p_max``, ``e_min <= dt sum_{s<=t} p_s <= e_max``,
    ``|p_t - p_{t-1}| <= ramp``, and the import ``B_t + sum p - sum g + X >= 0``
    (:func:`column_layout`).
    """
    t_n, g_n, j_n = inst.shape
    per, n_x = column_layout(inst)
    alpha = inst.alpha
    trip: list[tuple[list[int], list[float], float, float]] = []
    for t in range(t_n):
        base = t * per
        up, dn = base + g_n + j_n, base + g_n + j_n + 1
        for k in range(g_n):
            a = float(alpha[t, k])
            trip.append(([base + k, up], [1.0, a], -np.inf, float(inst.gen_max_kw[k])))
            trip.append(([base + k, dn], [1.0, -a], 0.0, np.inf))
        for j in range(j_n):
            p = base + g_n + j
            a = float(alpha[t, g_n + j])
            trip.append(([p, up], [1.0, -a], float(inst.ev_p_min_kw[t, j]), np.inf))
            trip.append(([p, dn], [1.0, a], -np.inf, float(inst.ev_p_max_kw[t, j])))
            cum = [s * per + g_n + j for s in range(t + 1)]
            trip.append((cum, [inst.dt_h] * len(cum), float(inst.ev_e_min_kwh[t, j]),
                         float(inst.ev_e_max_kwh[t, j])))
            if t > 0:
                trip.append(([p, p - per], [1.0, -1.0], -float(inst.ev_ramp_kw[j]),
                             float(inst.ev_ramp_kw[j])))
        background = float(inst.p_bg_kw[t].sum()
                           + (0.0 if inst.loss_kw is None else inst.loss_kw[t]))
        trip.append(([*range(base, base + g_n + j_n), base + per - 1],
                     [*([-1.0] * g_n), *([1.0] * j_n), 1.0], -background, np.inf))
    rows = np.concatenate([[i] * len(c) for i, (c, _, _, _) in enumerate(trip)])
    cols = np.concatenate([c for c, _, _, _ in trip])
    vals = np.concatenate([v for _, v, _, _ in trip])
    a_m = sp.csr_matrix((vals, (rows, cols)), shape=(len(trip), n_x))
    return a_m, np.array([x[2] for x in trip]), np.array([x[3] for x in trip])


def cost_vector(inst: DaInstance) -> FloatArray:
    """Energy and reserve cost per column (the import's constant background part omitted).

    A system reserve costs ``sum_d alpha_t,d c_d`` per kW; the export column costs
    ``(price_t - export_price_t) dt`` (it raises the paid import by ``X`` and earns ``X``).
    """
    t_n, g_n, j_n = inst.shape
    per, n_x = column_layout(inst)
    c = np.zeros(n_x)
    res = inst.alpha @ np.r_[inst.gen_reserve_cost_per_kw, inst.ev_reserve_cost_per_kw]
    for t in range(t_n):
        base = t * per
        price = inst.price_per_kwh[t] * inst.dt_h
        c[base:base + g_n] = inst.gen_cost_per_kwh * inst.dt_h - price
        c[base + g_n:base + g_n + j_n] = price
        c[base + g_n + j_n:base + g_n + j_n + 2] = res[t]
        export = (inst.price_per_kwh[t] if inst.export_price_per_kwh is None
                  else inst.export_price_per_kwh[t])
        c[base + per - 1] = (inst.price_per_kwh[t] - export) * inst.dt_h
    return c


def sigma_rows(inst: DaInstance, u: UncertainRows) -> FloatArray:
    """``sigma_i = sqrt(c_i^T Sigma_t c_i)``."""
    cov = inst.cov[u.t]
    return np.sqrt(np.maximum(np.einsum("mi,mij,mj->m", u.c, cov, u.c), 0.0))


def stack_uncertain_rows(*parts: UncertainRows) -> UncertainRows:
    """The uncertain rows of ``parts`` one below the other, in the order given."""
    return UncertainRows(sp.vstack([p.a for p in parts]).tocsr(),
                         np.concatenate([p.b for p in parts]),
                         np.vstack([p.c for p in parts]), np.concatenate([p.t for p in parts]),
                         np.concatenate([p.family for p in parts]))
