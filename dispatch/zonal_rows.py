"""Rows of the zonal distribution layer, one builder per constraint family.

``dispatch.zonal_dn`` states the model. Here: the column layout (:class:`ZonalColumns`), the
nodal powers as affine maps of the columns (:class:`NodalPowers`) and the families, each
returned as :class:`Rows` ``lo <= A x <= hi`` over all columns (an optional family that is off
returns no rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from dispatch.carbon import ladder_pieces
from dispatch.price_response import PAPER_ELASTICITY, response_rows
from dispatch.zonal_network import ZonalNetwork
from flexibility.common import FloatArray, IntArray
from flexibility.lp import abs_step_rows
from grid.lindistflow import LinDistFlow


@dataclass(frozen=True, eq=False)
class Rows:
    """One constraint family ``lo <= a x <= hi``.

    Attributes:
        a: ``(m, width)`` sparse rows.
        lo: Lower bounds ``(m,)``.
        hi: Upper bounds ``(m,)``.
    """

    a: sp.csr_matrix
    lo: FloatArray
    hi: FloatArray

    @classmethod
    def of(cls, a: sp.spmatrix | np.ndarray, lo: FloatArray | float,
           hi: FloatArray | float) -> Rows:
        """The rows of ``a`` (sparse or dense), ``lo`` and ``hi`` broadcast to its rows."""
        a_csr = sp.csr_matrix(a)
        m = a_csr.shape[0]
        return cls(a_csr, np.broadcast_to(lo, m).astype(float),
                   np.broadcast_to(hi, m).astype(float))

    @classmethod
    def none(cls, width: int) -> Rows:
        """No rows (an optional family that is off)."""
        return cls.of(sp.csr_matrix((0, width)), 0.0, 0.0)


def stack_rows(parts: list[Rows]) -> Rows:
    """The families one below the other, in the order given."""
    return Rows(sp.vstack([p.a for p in parts]).tocsr(), np.concatenate([p.lo for p in parts]),
                np.concatenate([p.hi for p in parts]))


def responds(net: ZonalNetwork) -> bool:
    """The areas' EV energy per period follows the users' price response."""
    return net.ev_period is not None and net.ev_base_period_kwh is not None


@dataclass(frozen=True)
class ZonalColumns:
    """Layout of the stacked columns: block name -> ``(start, shape)``, ``width`` in all.

    Blocks, in order (``T`` intervals, ``K`` renewables, ``M`` diesels, ``C`` capacitors, ``D``
    areas): ``buy`` ``(T, 1)``, ``q`` ``(T, 1)``, ``res`` ``(T, K)``, ``dg`` ``(T, M)``, ``cap``
    ``(T, C)``, ``ev`` ``(T, D)``, ``carbon`` ``(K, 2)`` (``E_k``, ``z_k``; ``K = T`` with the
    ladder per interval, else 1), ``peak`` ``(1,)``,
    ``wear`` ``(T, D)``, ``r_up`` and ``r_dn`` ``(D, 3)`` with the price response,
    ``anc_up`` and ``anc_dn`` ``(T, D)`` with an anchor, ``unserved`` ``(D,)`` with an energy
    floor, ``ramp`` ``(T-1,)`` with a purchase ramp cost, ``ev_ramp`` ``(T-1, D)`` with an EV
    ramp cost, ``loss`` ``(T, L)`` with the losses objective (``L`` lines between areas),
    ``res_q`` ``(T, K)`` with the inverters' reactive output (injection positive);
    an optional block that is off has a zero dimension.
    """

    blocks: dict[str, tuple[int, tuple[int, ...]]]
    width: int

    @classmethod
    def of(cls, net: ZonalNetwork) -> ZonalColumns:
        """The layout of ``net``'s program."""
        t_n, d_n = net.load_p_kw.shape[0], net.area_share.shape[0]
        shapes: list[tuple[str, tuple[int, ...]]] = [
            (name, (t_n, k)) for name, k in (
                ("buy", 1), ("q", 1), ("res", len(net.res_bus)), ("dg", len(net.dg_bus)),
                ("cap", len(net.cap_bus)), ("ev", d_n))]
        k_r = 3 if responds(net) else 0
        k_a = d_n if net.ev_anchor_kw is not None else 0
        shapes += [("carbon", (net.carbon_rows_n, 2)), ("peak", (1,)), ("wear", (t_n, d_n)),
                   ("r_up", (d_n, k_r)), ("r_dn", (d_n, k_r)),
                   ("o_up", (d_n, k_r if net.response_override_per_kwh > 0 else 0)),
                   ("o_dn", (d_n, k_r if net.response_override_per_kwh > 0 else 0)),
                   ("anc_up", (t_n, k_a)), ("anc_dn", (t_n, k_a)),
                   ("unserved", (d_n if net.ev_energy_target_kwh is not None else 0,)),
                   ("ramp", (t_n - 1 if net.purchase_ramp_per_kw > 0 else 0,)),
                   ("ev_ramp", (t_n - 1, d_n if net.ev_ramp_per_kw > 0 else 0)),
                   ("loss", (t_n, len(net.tie_lines) if net.objective == "losses" else 0)),
                   ("res_q", (t_n, len(net.res_bus) if net.res_q_max_kvar is not None else 0))]
        blocks: dict[str, tuple[int, tuple[int, ...]]] = {}
        start = 0
        for name, shape in shapes:
            blocks[name] = (start, shape)
            start += int(np.prod(shape))
        return cls(blocks, start)

    def idx(self, name: str) -> IntArray:
        """Column indices of block ``name`` in its shape."""
        start, shape = self.blocks[name]
        return start + np.arange(int(np.prod(shape))).reshape(shape)

    def select(self, name: str) -> sp.csr_matrix:
        """``(size, width)``: row ``k`` picks the ``k``-th column of block ``name`` (C order)."""
        cols = self.idx(name).ravel()
        return sp.csr_matrix((np.ones(cols.size), (np.arange(cols.size), cols)),
                             shape=(cols.size, self.width))


def _incidence(t_n: int, n: int, pos: IntArray, cols: IntArray, coef: FloatArray | float,
               width: int) -> sp.csr_matrix:
    """``(T n, width)``: entry ``coef`` at row ``t n + pos_k`` and column ``cols[t, k]``."""
    k = len(pos)
    if k == 0:
        return sp.csr_matrix((t_n * n, width))
    rows = (np.arange(t_n)[:, None] * n + np.asarray(pos)[None, :]).ravel()
    vals = np.broadcast_to(np.asarray(coef, dtype=float), (t_n, k)).ravel()
    return sp.csr_matrix((vals, (rows, cols.ravel())), shape=(t_n * n, width))


@dataclass(frozen=True, eq=False)
class NodalPowers:
    """Nodal consumption as affine maps of the columns, rows ``t n + i``.

        P = p0 + mp x,  P_t,i = L_t,i + sum_d s_d,i e_t,d - sum_{k at i} r_t,k - sum_{m at i} g_t,m,
        Q = q0 + mq x,  Q_t,i = Lq_t,i - sum_{l at i} kvar_l c_t,l - sum_{k at i} qr_t,k,

    ``qr_t,k`` the renewables' inverter output (when ``res_q_max_kvar`` is set), ``s_d,i``
    the share of area ``d``'s EV power at bus ``i``.

    Attributes:
        p0: Base load ``(T n,)`` (kW); ``q0`` ``(T n,)`` (kvar).
        mp: ``(T n, width)``; ``mq`` ``(T n, width)``.
    """

    p0: FloatArray
    q0: FloatArray
    mp: sp.csr_matrix
    mq: sp.csr_matrix

    @classmethod
    def of(cls, net: ZonalNetwork, cols: ZonalColumns) -> NodalPowers:
        """The maps of ``net`` on the layout ``cols``."""
        t_n, n = net.load_p_kw.shape
        width = cols.width
        mp = _incidence(t_n, n, net.res_bus, cols.idx("res"), -1.0, width)
        mp = mp + _incidence(t_n, n, net.dg_bus, cols.idx("dg"), -1.0, width)
        share = sp.csr_matrix(np.kron(np.eye(t_n), net.area_share.T))  # (T n, T D)
        mp = mp + (share @ cols.select("ev")).tocsr()
        mq = _incidence(t_n, n, net.cap_bus, cols.idx("cap"), -np.asarray(net.cap_step_kvar),
                        width)
        if net.res_q_max_kvar is not None:
            mq = mq + _incidence(t_n, n, net.res_bus, cols.idx("res_q"), -1.0, width)
        return cls(net.load_p_kw.ravel(), net.load_q_kvar.ravel(), mp, mq)


def balance_rows(net: ZonalNetwork, cols: ZonalColumns, nodal: NodalPowers) -> Rows:
    """Power balance at the substation, ``2 T`` equalities (purchase rows, then reactive).

        b_t - sum_i (P_t,i - L_t,i) = sum_i L_t,i + loss_t,
        q_t - sum_i (Q_t,i - Lq_t,i) = sum_i Lq_t,i,

    the variable parts of the nodal powers on the left (``NodalPowers``), ``loss_t`` the
    forecast losses (zero when ``ZonalNetwork.loss_kw`` is ``None``).
    """
    t_n, n = net.load_p_kw.shape
    sum_bus = sp.kron(sp.eye(t_n), np.ones((1, n))).tocsr()  # (T, T n)
    loss = np.zeros(t_n) if net.loss_kw is None else np.asarray(net.loss_kw)
    rhs_p = sum_bus @ nodal.p0 + loss
    rhs_q = sum_bus @ nodal.q0
    return stack_rows([Rows.of(cols.select("buy") - sum_bus @ nodal.mp, rhs_p, rhs_p),
                       Rows.of(cols.select("q") - sum_bus @ nodal.mq, rhs_q, rhs_q)])


def voltage_rows(net: ZonalNetwork, ldf: LinDistFlow, nodal: NodalPowers) -> Rows:
    """LinDistFlow voltage at every bus and interval, ``T n`` rows.

        v_min^2 <= v_0^2 - 2 (R P_t + X Q_t) <= v_max^2,

    ``R``, ``X`` the sensitivities of ``grid.lindistflow`` (p.u.^2 per kW and per kvar).
    """
    t_n, n = net.load_p_kw.shape
    r, x = ldf.sensitivity(np.arange(n))
    rt, xt = sp.kron(sp.eye(t_n), r).tocsr(), sp.kron(sp.eye(t_n), x).tocsr()
    w0 = ldf.feeder.v_slack_pu ** 2 - 2.0 * (rt @ nodal.p0 + xt @ nodal.q0)
    a_w = -2.0 * (rt @ nodal.mp + xt @ nodal.mq)
    return Rows.of(a_w, net.v_min_pu ** 2 - w0, net.v_max_pu ** 2 - w0)


def line_rows(net: ZonalNetwork, ldf: LinDistFlow, nodal: NodalPowers) -> Rows:
    """Line ratings as ``M`` polygon sides, ``M T (n-1)`` rows (side by side).

        cos(th) F^P_b + sin(th) F^Q_b <= v_min k_b S_b cos(pi/M),   th = (2 m + 1) pi / M,

    with ``F^P = D P``, ``F^Q = D Q`` the branch flows, ``k_b`` ``ZonalNetwork.line_scale``.
    """
    t_n = net.load_p_kw.shape[0]
    dd = sp.kron(sp.eye(t_n), ldf.d).tocsr()  # (T (n-1), T n)
    fp0, fq0 = dd @ nodal.p0, dd @ nodal.q0
    kva = ldf.feeder.rating_kva if net.line_scale is None \
        else ldf.feeder.rating_kva * np.asarray(net.line_scale)
    rating = np.tile(kva, t_n) * net.v_min_pu * np.cos(np.pi / net.polygon_sides)
    sides = []
    for th in (2.0 * np.arange(net.polygon_sides) + 1.0) * np.pi / net.polygon_sides:
        a_l = np.cos(th) * (dd @ nodal.mp) + np.sin(th) * (dd @ nodal.mq)
        sides.append(Rows.of(a_l, -np.inf, rating - np.cos(th) * fp0 - np.sin(th) * fq0))
    return stack_rows(sides)


def ev_energy_rows(net: ZonalNetwork, cols: ZonalColumns) -> Rows:
    """The areas as generalized batteries, ``T D`` rows.

        y_lo_t,d <= dt sum_{s<=t} e_s,d <= y_hi_t,d,

    the cumulative energy (kWh) of area ``d`` after interval ``t``.
    """
    t_n, d_n = net.load_p_kw.shape[0], net.area_share.shape[0]
    cum = sp.kron(sp.csr_matrix(np.tril(np.ones((t_n, t_n)))), sp.eye(d_n)).tocsr() * net.dt_h
    return Rows.of(cum @ cols.select("ev"), net.ev_y_lo_kwh.ravel(), net.ev_y_hi_kwh.ravel())


def price_response_rows(net: ZonalNetwork, cols: ZonalColumns) -> Rows:
    """The users' price response per area and period (eq. 25 on period totals), ``3 D`` rows.

        dt sum_{t in j} e_t,d - o+_d,j + o-_d,j = E_d,j (1 + sum_k el[j, k] (r+_d,k - r-_d,k)),

    the overrides ``o+-`` only with ``response_override_per_kwh`` (else zero). No rows without
    ``ev_period`` and ``ev_base_period_kwh``.
    """
    if net.ev_period is None or net.ev_base_period_kwh is None:
        return Rows.none(cols.width)
    a_r, rhs_r = response_rows(cols.idx("ev"), cols.idx("r_up"), cols.idx("r_dn"),
                               net.ev_period, net.ev_base_period_kwh, net.dt_h, cols.width,
                               PAPER_ELASTICITY if net.elasticity is None else net.elasticity)
    if net.response_override_per_kwh > 0:
        k = cols.idx("o_up").size
        a_r = sp.csr_matrix(a_r) + sp.csr_matrix(
            (np.r_[-np.ones(k), np.ones(k)], (np.r_[np.arange(k), np.arange(k)],
                                              np.r_[cols.idx("o_up").ravel(),
                                                    cols.idx("o_dn").ravel()])),
            shape=(k, cols.width))
    return Rows.of(a_r, rhs_r, rhs_r)


def purchase_ramp_rows(net: ZonalNetwork, cols: ZonalColumns) -> Rows:
    """Ramp of the purchase, ``2 (T-1)`` rows: ``m_t >= |b_t+1 - b_t|``.

    No rows without ``purchase_ramp_per_kw``.
    """
    if net.purchase_ramp_per_kw <= 0:
        return Rows.none(cols.width)
    return Rows.of(abs_step_rows(cols.idx("buy")[:, 0], cols.idx("ramp"), cols.width), 0.0,
                   np.inf)


def ev_ramp_rows(net: ZonalNetwork, cols: ZonalColumns) -> Rows:
    """Ramp of each area's EV power, ``2 (T-1) D`` rows: ``m_t,d >= |e_t+1,d - e_t,d|``.

    No rows without ``ev_ramp_per_kw``.
    """
    if net.ev_ramp_per_kw <= 0:
        return Rows.none(cols.width)
    return Rows.of(abs_step_rows(cols.idx("ev"), cols.idx("ev_ramp"), cols.width), 0.0, np.inf)


def energy_floor_rows(net: ZonalNetwork, cols: ZonalColumns) -> Rows:
    """Soft daily energy floor per area, ``D`` rows: ``dt sum_t e_t,d + u_d >= E_d``.

    No rows without ``ev_energy_target_kwh``.
    """
    if net.ev_energy_target_kwh is None:
        return Rows.none(cols.width)
    d_n = net.area_share.shape[0]
    ev_cols = cols.idx("ev")
    fl = np.zeros((d_n, cols.width))
    for d in range(d_n):
        fl[d, ev_cols[:, d]] = net.dt_h
    fl[np.arange(d_n), cols.idx("unserved")] = 1.0
    return Rows.of(fl, np.asarray(net.ev_energy_target_kwh, dtype=float), np.inf)


def anchor_rows(net: ZonalNetwork, cols: ZonalColumns) -> Rows:
    """Anchor of the EV power, ``T D`` equalities: ``e_t,d - a+_t,d + a-_t,d = anchor_t,d``.

    No rows without ``ev_anchor_kw``.
    """
    if net.ev_anchor_kw is None:
        return Rows.none(cols.width)
    k = cols.idx("ev").size
    anc = sp.csr_matrix((np.r_[np.ones(k), -np.ones(k), np.ones(k)],
                         (np.tile(np.arange(k), 3),
                          np.r_[cols.idx("ev").ravel(), cols.idx("anc_up").ravel(),
                                cols.idx("anc_dn").ravel()])), shape=(k, cols.width))
    rhs = np.asarray(net.ev_anchor_kw, dtype=float).ravel()
    return Rows.of(anc, rhs, rhs)


def carbon_coefficients(net: ZonalNetwork) -> tuple[float, FloatArray]:
    """Traded emission per kW of purchase and of each diesel over one interval (t).

    E_t = dt / 1000 (share_th (e_th - quota) b_t + sum_m (e_m - quota) g_t,m).
    """
    buy = net.dt_h / 1000.0 * net.thermal_share * (net.thermal_kg_per_kwh
                                                   - net.quota_kg_per_kwh)
    dg = net.dt_h / 1000.0 * (np.asarray(net.dg_kg_per_kwh, float) - net.quota_kg_per_kwh)
    return float(buy), dg


def ladder_steps(net: ZonalNetwork) -> int:
    """Steps of the ladder each side of zero that one argument ``E_k`` can reach (at least
    one): the bound ``|E_k| <= (T / K) (|c_b| P_sub + sum_m |c_m| g_max,m)``."""
    c_b, c_m = carbon_coefficients(net)
    per = net.load_p_kw.shape[0] / net.carbon_rows_n
    bound = per * (abs(c_b) * net.substation_kw + float(np.abs(c_m) @ np.asarray(
        net.dg_max_kw, float)))
    return int(min(40, np.ceil(bound / net.carbon_step_t) + 1))


def carbon_rows(net: ZonalNetwork, cols: ZonalColumns) -> Rows:
    """The traded emissions and the ladder's epigraphs, ``K (1 + pieces)`` rows.

        E_k = sum_{t in k} E_t,   z_k >= a_p + b_p E_k,

    ``E_t`` of :func:`carbon_coefficients`, ``k`` each interval (ladder per interval) or the
    day (``K = 1``); the first ``K`` rows equalities, then one per piece of the ladder
    (``dispatch.carbon``) and argument.
    """
    t_n, k_n = net.load_p_kw.shape[0], net.carbon_rows_n
    c_b, c_m = carbon_coefficients(net)
    e_col, z_col = cols.idx("carbon")[:, 0], cols.idx("carbon")[:, 1]
    group = np.arange(t_n) if k_n == t_n else np.zeros(t_n, dtype=int)
    rows_e = sp.lil_matrix((k_n, cols.width))
    buy = cols.idx("buy")[:, 0]
    for t in range(t_n):
        rows_e[group[t], buy[t]] = -c_b
        for m in range(len(net.dg_bus)):
            rows_e[group[t], cols.idx("dg")[t, m]] = -c_m[m]
    rows_e[np.arange(k_n), e_col] = 1.0
    a_k, b_k = ladder_pieces(net.carbon_price_per_t, net.carbon_step_t, net.carbon_growth,
                             ladder_steps(net))
    n_p = len(a_k)
    r = np.repeat(np.arange(k_n * n_p), 2)
    c = np.c_[np.repeat(z_col, n_p), np.repeat(e_col, n_p)].ravel()
    v = np.c_[np.ones(k_n * n_p), -np.tile(b_k, k_n)].ravel()
    pieces = sp.csr_matrix((v, (r, c)), shape=(k_n * n_p, cols.width))
    return stack_rows([Rows.of(rows_e.tocsr(), 0.0, 0.0),
                       Rows.of(pieces, np.tile(a_k, k_n), np.inf)])


def loss_rows(net: ZonalNetwork, ldf: LinDistFlow, nodal: NodalPowers, cols: ZonalColumns
              ) -> Rows:
    """Tangents of eq. 6's losses on the lines between areas, ``T L S`` rows.

        s_t,l >= 2 u_s u_t,l - u_s^2,   u_t,l = (r_l F^P_t,l + x_l F^Q_t,l) / S_base,

    ``u`` the LinDistFlow voltage drop along line ``l`` (p.u.), ``u_s`` ``S`` tangent points
    spread over ``+-(r_l + x_l) S_l / S_base`` (``S_l`` the rating): ``s >= u^2`` from below,
    exact at the points. No rows without the losses objective.
    """
    lines = np.asarray(net.tie_lines, dtype=int)
    if net.objective != "losses" or lines.size == 0:
        return Rows.none(cols.width)
    t_n, n = net.load_p_kw.shape
    fe = ldf.feeder
    pick = sp.csr_matrix((np.ones(lines.size), (np.arange(lines.size), lines)),
                         shape=(lines.size, n - 1))
    dsel = sp.kron(sp.eye(t_n), pick @ ldf.d).tocsr()  # (T L, T n)
    r, x = fe.r_pu[lines], fe.x_pu[lines]
    scale_p = np.tile(r / fe.s_base_kva, t_n)[:, None]
    scale_q = np.tile(x / fe.s_base_kva, t_n)[:, None]
    u_a = sp.csr_matrix(dsel @ nodal.mp).multiply(scale_p) \
        + sp.csr_matrix(dsel @ nodal.mq).multiply(scale_q)
    u_0 = (dsel @ nodal.p0) * scale_p.ravel() + (dsel @ nodal.q0) * scale_q.ravel()
    u_max = np.tile((r + x) * fe.rating_kva[lines] / fe.s_base_kva, t_n)
    s_sel = cols.select("loss")
    out = []
    for f in np.linspace(-1.0, 1.0, net.loss_tangents):
        u_s = f * u_max
        # s - 2 u_s (u_a x + u_0) >= -u_s^2
        a = s_sel - sp.diags(2.0 * u_s) @ u_a
        out.append(Rows.of(a, -u_s ** 2 + 2.0 * u_s * u_0, np.inf))
    return stack_rows(out)


def tie_conductance(net: ZonalNetwork, ldf: LinDistFlow) -> FloatArray:
    """``S_base G_l`` of every line between areas (kW per p.u.^2 of voltage drop), ``G_l =
    r_l / (r_l^2 + x_l^2)``: eq. 6's loss of line ``l`` is ``S_base G_l u_l^2``."""
    lines = np.asarray(net.tie_lines, dtype=int)
    fe = ldf.feeder
    r, x = fe.r_pu[lines], fe.x_pu[lines]
    return fe.s_base_kva * r / (r * r + x * x)


def demand_charge_rows(net: ZonalNetwork, cols: ZonalColumns) -> Rows:
    """The day's peak purchase, ``T`` rows: ``peak >= b_t``."""
    t_n = net.load_p_kw.shape[0]
    pk = np.zeros((t_n, cols.width))
    pk[:, cols.idx("peak")[0]] = 1.0
    pk[np.arange(t_n), cols.idx("buy").ravel()] = -1.0
    return Rows.of(pk, 0.0, np.inf)


def v2g_wear_rows(net: ZonalNetwork, cols: ZonalColumns) -> Rows:
    """Power discharged by each area's EVs, ``T D`` rows: ``w_t,d >= -e_t,d``."""
    k = cols.idx("ev").size
    wr = sp.csr_matrix((np.ones(2 * k), (np.r_[np.arange(k), np.arange(k)],
                                         np.r_[cols.idx("wear").ravel(),
                                               cols.idx("ev").ravel()])),
                       shape=(k, cols.width))
    return Rows.of(wr, 0.0, np.inf)
