"""Rows of the day-ahead dispatch (``dispatch.da_model`` states the model): the instance, the
uncertain network and reserve rows, the deterministic device rows and the cost vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from flexibility.common import FloatArray, IntArray
from grid.lindistflow import SUBSTATION, THERMAL, VOLTAGE, LinDistFlow, NetworkLimits

FAMILIES = ("voltage", "thermal", "substation", "reserve")
_KIND = {VOLTAGE: 0, THERMAL: 1, SUBSTATION: 2}


@dataclass(frozen=True)
class DaInstance:
    """One day-ahead problem (shapes: ``T`` intervals, ``n`` buses, ``G`` generators,
    ``J`` aggregators).

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

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(T, G, J)``."""
        return self.p_bg_kw.shape[0], len(self.gen_pos), len(self.ev_pos)

    @property
    def alpha(self) -> FloatArray:
        """Participation factors ``(G + J,)`` proportional to the power ranges."""
        rng = np.r_[self.gen_max_kw, (self.ev_p_max_kw - self.ev_p_min_kw).mean(axis=0)]
        return rng / rng.sum()


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


def _layout(inst: DaInstance) -> tuple[int, int]:
    """Columns per interval ``[g (G), p (J), r_up (G+J), r_dn (G+J)]`` and their count."""
    t, g, j = inst.shape
    per = g + j + 2 * (g + j)
    return per, t * per


def network_rows(inst: DaInstance, ldf: LinDistFlow) -> UncertainRows:
    """Voltage, thermal and substation rows with their uncertainty coefficients."""
    t_n, g_n, j_n = inst.shape
    n = inst.p_bg_kw.shape[1]
    sec = ldf.security_set(np.arange(n), inst.p_bg_kw, inst.q_bg_kvar, inst.limits)
    a_all = sec.a_p  # (R, n) per kW of consumption at each bus
    alpha = inst.alpha
    dev_pos = np.r_[inst.gen_pos, inst.ev_pos].astype(int)
    recourse = a_all[:, dev_pos] @ alpha  # consumption falls by alpha_d s at each device
    c = np.c_[a_all @ inst.w_net - recourse, a_all[:, inst.ev_pos] @ inst.w_ev - recourse]
    dev = np.c_[-a_all[:, inst.gen_pos], a_all[:, inst.ev_pos]]  # g injects, p consumes
    per, n_x = _layout(inst)
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
    fam = np.array([_KIND[int(k)] for k in sec.kind])
    return UncertainRows(a, sec.b.ravel(), np.tile(c, (t_n, 1)),
                         np.repeat(np.arange(t_n), r_n), np.tile(fam, t_n))


def reserve_rows(inst: DaInstance) -> UncertainRows:
    """``alpha_d s_t - r^up_d <= 0`` and ``-alpha_d s_t - r^dn_d <= 0`` per device."""
    t_n, g_n, j_n = inst.shape
    d_n = g_n + j_n
    per, n_x = _layout(inst)
    alpha = inst.alpha
    rows, cols, vals, c = [], [], [], []
    k = 0
    for t in range(t_n):
        for d in range(d_n):
            for sign, block in ((1.0, "up"), (-1.0, "dn")):
                rows.append(k)
                cols.append(t * per + g_n + j_n + (0 if block == "up" else d_n) + d)
                vals.append(-1.0)
                c.append([sign * alpha[d], sign * alpha[d]])
                k += 1
    a = sp.csr_matrix((vals, (rows, cols)), shape=(k, n_x))
    return UncertainRows(a, np.zeros(k), np.asarray(c), np.repeat(np.arange(t_n), 2 * d_n),
                         np.full(k, FAMILIES.index("reserve")))


def device_rows(inst: DaInstance) -> tuple[sp.csr_matrix, FloatArray, FloatArray]:
    """Deterministic rows ``lo <= A x <= hi``: capacities with reserves, energy, ramps."""
    t_n, g_n, j_n = inst.shape
    d_n = g_n + j_n
    per, n_x = _layout(inst)
    trip: list[tuple[list[int], list[float], float, float]] = []
    for t in range(t_n):
        base = t * per
        up, dn = base + g_n + j_n, base + g_n + j_n + d_n
        for k in range(g_n):
            trip.append(([base + k, up + k], [1.0, 1.0], -np.inf, float(inst.gen_max_kw[k])))
            trip.append(([base + k, dn + k], [1.0, -1.0], 0.0, np.inf))
        for j in range(j_n):
            p = base + g_n + j
            trip.append(([p, up + g_n + j], [1.0, -1.0], float(inst.ev_p_min_kw[t, j]), np.inf))
            trip.append(([p, dn + g_n + j], [1.0, 1.0], -np.inf, float(inst.ev_p_max_kw[t, j])))
            cum = [s * per + g_n + j for s in range(t + 1)]
            trip.append((cum, [inst.dt_h] * len(cum), float(inst.ev_e_min_kwh[t, j]),
                         float(inst.ev_e_max_kwh[t, j])))
            if t > 0:
                trip.append(([p, p - per], [1.0, -1.0], -float(inst.ev_ramp_kw[j]),
                             float(inst.ev_ramp_kw[j])))
    rows = np.concatenate([[i] * len(c) for i, (c, _, _, _) in enumerate(trip)])
    cols = np.concatenate([c for c, _, _, _ in trip])
    vals = np.concatenate([v for _, v, _, _ in trip])
    a = sp.csr_matrix((vals, (rows, cols)), shape=(len(trip), n_x))
    return a, np.array([x[2] for x in trip]), np.array([x[3] for x in trip])


def cost_vector(inst: DaInstance) -> FloatArray:
    """Energy and reserve cost per column (the import's constant background part omitted)."""
    t_n, g_n, j_n = inst.shape
    per, n_x = _layout(inst)
    c = np.zeros(n_x)
    for t in range(t_n):
        base = t * per
        price = inst.price_per_kwh[t] * inst.dt_h
        c[base:base + g_n] = inst.gen_cost_per_kwh * inst.dt_h - price
        c[base + g_n:base + g_n + j_n] = price
        res = np.r_[inst.gen_reserve_cost_per_kw, inst.ev_reserve_cost_per_kw]
        c[base + g_n + j_n:base + per] = np.r_[res, res]
    return c


def sigma_rows(inst: DaInstance, u: UncertainRows) -> FloatArray:
    """``sigma_i = sqrt(c_i^T Sigma_t c_i)``."""
    cov = inst.cov[u.t]
    return np.sqrt(np.maximum(np.einsum("mi,mij,mj->m", u.c, cov, u.c), 0.0))


def _stack(*parts: UncertainRows) -> UncertainRows:
    return UncertainRows(sp.vstack([p.a for p in parts]).tocsr(),
                         np.concatenate([p.b for p in parts]),
                         np.vstack([p.c for p in parts]), np.concatenate([p.t for p in parts]),
                         np.concatenate([p.family for p in parts]))
