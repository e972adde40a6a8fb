"""Distribution-network layer of the two-layer low-carbon dispatch (issue 16; bilevel zonal
dispatch paper, section 2.3-2.4): a day-ahead MILP solved by HiGHS.

Columns per interval ``t``: purchase ``b_t`` (kW, ``0..P_sub``), reactive import ``q_t``,
renewable output ``r_t,k`` (``0..avail_t,k``, the rest curtailed), diesel ``g_t,m``
(``0..g_max``), switched-capacitor steps ``c_t,l`` (integer ``0..n_l``), EV area power
``e_t,d`` (``lo_t,d..hi_t,d``, consumption positive); two scalars for the carbon market: the
traded emission ``E`` (t) and its cost ``z``.

Nodal consumption (positive) at bus ``i``:

    P_t,i = L_t,i + sum_d s_d,i e_t,d - sum_{k at i} r_t,k - sum_{m at i} g_t,m,
    Q_t,i = Lq_t,i - sum_{l at i} kvar_l c_t,l,

with ``s_d,i`` the share of area ``d``'s EV power at bus ``i``. Rows (one family each):

* balance: ``b_t = sum_i P_t,i + loss_t``, ``q_t = sum_i Q_t,i``;
* voltage (LinDistFlow): ``v_min^2 <= v_0^2 - 2 (R P_t + X Q_t) <= v_max^2`` at every bus;
* lines: ``cos(th) F^P_b + sin(th) F^Q_b <= v_min S_b cos(pi/M)`` for ``M`` polygon sides,
  ``F = D P`` the branch flows;
* EV areas as generalized batteries: ``y_lo_t,d <= dt sum_{s<=t} e_s,d <= y_hi_t,d``;
* optionally the users' price response per area and period (``ZonalNetwork.ev_period``):
  ``dt sum_{t in j} e_t,d = E_d,j (1 + sum_k el[j, k] r_d,k)``, ``|r_d,k| <= r_max``;
* optionally ramp costs on the purchase and on each area's EV power: ``m_t >= |b_t+1 - b_t|``
  priced at ``purchase_ramp_per_kw``, ``m_t,d >= |e_t+1,d - e_t,d|`` at ``ev_ramp_per_kw``;
* optionally a soft daily energy floor per area: ``dt sum_t e_t,d + u_d >= E_d``, ``u_d >= 0``
  priced at ``unserved_per_kwh``;
* optionally an anchor (``ZonalNetwork.ev_anchor_kw``): ``e_t,d - a+_t,d + a-_t,d =
  anchor_t,d``, ``a+- >= 0`` priced at ``anchor_penalty`` per kWh;
* carbon: ``E = sum_t dt / 1000 (share_th (e_th - quota) b_t + sum_m (e_m - quota) g_t,m)``
  (actual emission of the thermal part of purchases and of the diesel minus the free quota on
  the same thermal energy, t; our reading of the paper's "quota 0.7 kg/kWh, thermal share
  47.6 %") and
  ``z >= a_k + b_k E`` for the pieces of the ladder (``dispatch.carbon``).

Objective: ``sum_t dt (price_t b_t + sum_m cost_m g_t,m + pen sum_k (avail_t,k - r_t,k)) + z
+ c_peak max_t b_t + c_wear dt sum max(-e_t,d, 0)`` (a demand charge on the day's peak
purchase through ``peak >= b_t``; V2G wear through ``w >= -e``, ``w >= 0``).
Write-back: the cost parts, the schedules and the areas' active targets
``P^Z_t,d = sum_{i in d} P_t,i`` (eq. 9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from dispatch.carbon import ladder_cost, ladder_pieces
from dispatch.price_response import PAPER_ELASTICITY, response_rows
from flexibility.common import FloatArray, IntArray, ModelInputError
from flexibility.lp import LinearProgram, abs_step_rows, solve
from grid.lindistflow import LinDistFlow


MIP_REL_GAP = 1e-3
"""HiGHS's relative MIP gap (default 1e-4): the ramp and response tie-breakers make many
capacitor schedules nearly equal, and proving the last 0.01 % costs tens of seconds."""
RESPONSE_TIE_BREAK = 1e-3
"""Cost per unit of relative price change: no price move that buys nothing."""


@dataclass(frozen=True)
class ZonalNetwork:
    """One day of the distribution layer (``T`` intervals, ``n`` buses).

    Attributes:
        dt_h: Interval length.
        load_p_kw: Base load ``(T, n)``.
        load_q_kvar: ``(T, n)``.
        price_per_kwh: Purchase price ``(T,)``.
        res_bus: Renewable positions ``(K,)``; ``res_avail_kw`` ``(T, K)``.
        dg_bus: Diesel positions ``(M,)``; ``dg_max_kw``, ``dg_cost_per_kwh``,
            ``dg_kg_per_kwh`` ``(M,)``.
        cap_bus: Capacitor positions ``(C,)``; ``cap_step_kvar``, ``cap_steps`` ``(C,)``.
        area_share: ``(D, n)`` share of each area's EV power per bus (rows sum to 1).
        ev_lo_kw, ev_hi_kw: ``(T, D)`` EV area power bounds.
        ev_y_lo_kwh, ev_y_hi_kwh: ``(T, D)`` cumulative energy bounds after each interval.
        area_of_bus: Area of every bus ``(n,)`` (eq. 9 sums over it).
        v_min_pu, v_max_pu: Voltage limits.
        substation_kw: Purchase limit.
        curtail_per_kwh: Curtailment penalty.
        thermal_share: Share of thermal power in purchases; ``thermal_kg_per_kwh`` its
            emission factor (1.08, a coal-fired factor: our assumption, the paper does not
            state it); ``quota_kg_per_kwh`` the free quota per kWh of thermal energy.
        carbon_price_per_t, carbon_step_t, carbon_growth: The ladder.
        polygon_sides: Sides of the line polygons.
        loss_kw: Losses added to the purchase ``(T,)`` (``None``: lossless).
        demand_charge_per_kw: Charge on the day's peak purchase (the paper's capacity price,
            32 per kVA and month, is about 1.07 per kW and day).
        v2g_wear_per_kwh: Battery wear per kWh discharged by an area's EVs (the aggregate is
            lossless; without it charging and discharging in one price period cost nothing).
        ev_period: Peak/flat/valley period per interval ``(T,)``; with ``ev_base_period_kwh``
            ``(D, 3)`` (each area's EV energy per period at the base prices) and
            ``elasticity`` (3 x 3) the areas' EV energy per period follows the users' price
            response (eq. 25 on period totals, relative price changes ``|r| <=
            max_price_change``): the layer plans only what the aggregation layer can obtain
            from its users. ``None``: the EVs are fully dispatchable within their sets.
    """

    dt_h: float
    load_p_kw: FloatArray
    load_q_kvar: FloatArray
    price_per_kwh: FloatArray
    res_bus: IntArray
    res_avail_kw: FloatArray
    dg_bus: IntArray
    dg_max_kw: FloatArray
    dg_cost_per_kwh: FloatArray
    dg_kg_per_kwh: FloatArray
    cap_bus: IntArray
    cap_step_kvar: FloatArray
    cap_steps: IntArray
    area_share: FloatArray
    ev_lo_kw: FloatArray
    ev_hi_kw: FloatArray
    ev_y_lo_kwh: FloatArray
    ev_y_hi_kwh: FloatArray
    area_of_bus: IntArray
    v_min_pu: float = 0.95
    v_max_pu: float = 1.05
    substation_kw: float = 5000.0
    curtail_per_kwh: float = 0.1
    thermal_share: float = 0.476
    thermal_kg_per_kwh: float = 1.08
    quota_kg_per_kwh: float = 0.7
    carbon_price_per_t: float = 200.0
    carbon_step_t: float = 50.0
    carbon_growth: float = 0.25
    polygon_sides: int = 8
    loss_kw: FloatArray | None = None
    demand_charge_per_kw: float = 0.0
    v2g_wear_per_kwh: float = 0.0
    ev_period: IntArray | None = None
    ev_base_period_kwh: FloatArray | None = None
    elasticity: FloatArray | None = None
    max_price_change: float = 0.5
    ev_anchor_kw: FloatArray | None = None
    anchor_penalty_per_kwh: float = 0.0
    ev_energy_target_kwh: FloatArray | None = None
    unserved_per_kwh: float = 0.0
    purchase_ramp_per_kw: float = 0.0
    ev_ramp_per_kw: float = 0.0


@dataclass(frozen=True)
class ZonalPlan:
    """Write-back of the distribution layer.

    Attributes:
        feasible: Optimum found.
        cost: Total; ``purchase``, ``diesel``, ``curtailment``, ``carbon`` its parts.
        buy_kw: ``(T,)``; ``res_kw`` ``(T, K)``; ``dg_kw`` ``(T, M)``; ``cap`` ``(T, C)``
            steps; ``ev_kw`` ``(T, D)``.
        emission_t: Traded emission ``E``.
        carbon_lp: The epigraph variable ``z`` at the optimum (equals ``carbon``).
        area_p_kw: Active target per area ``(T, D)`` (eq. 9).
        p_bus_kw: Nodal consumption ``(T, n)``; ``q_bus_kvar`` ``(T, n)``.
    """

    feasible: bool
    cost: float
    purchase: float
    diesel: float
    curtailment: float
    carbon: float
    buy_kw: FloatArray
    res_kw: FloatArray
    dg_kw: FloatArray
    cap: FloatArray
    ev_kw: FloatArray
    emission_t: float
    carbon_lp: float
    area_p_kw: FloatArray
    p_bus_kw: FloatArray
    q_bus_kvar: FloatArray


class _Cols:
    """Column blocks ``name -> (start, shape)`` of the stacked variables."""

    def __init__(self) -> None:
        self.blocks: dict[str, tuple[int, tuple[int, ...]]] = {}
        self.n = 0

    def add(self, name: str, *shape: int) -> None:
        self.blocks[name] = (self.n, shape)
        self.n += int(np.prod(shape))

    def idx(self, name: str) -> np.ndarray:
        start, shape = self.blocks[name]
        return start + np.arange(int(np.prod(shape))).reshape(shape)


def _incidence(t_n: int, n: int, pos: IntArray, cols: np.ndarray, coef: FloatArray | float,
               width: int) -> sp.csr_matrix:
    """``(T n, width)``: entry ``coef`` at row ``t n + pos_k`` and column ``cols[t, k]``."""
    k = len(pos)
    if k == 0:
        return sp.csr_matrix((t_n * n, width))
    rows = (np.arange(t_n)[:, None] * n + np.asarray(pos)[None, :]).ravel()
    vals = np.broadcast_to(np.asarray(coef, dtype=float), (t_n, k)).ravel()
    return sp.csr_matrix((vals, (rows, cols.ravel())), shape=(t_n * n, width))


def solve_zonal_network(net: ZonalNetwork, ldf: LinDistFlow) -> ZonalPlan:
    """Build, solve (HiGHS MILP) and write back (module docstring)."""
    t_n, n = net.load_p_kw.shape
    if ldf.feeder.n_bus != n:
        raise ModelInputError(f"load has {n} buses, the feeder {ldf.feeder.n_bus}")
    d_n = net.area_share.shape[0]
    c = _Cols()
    for name, k in (("buy", 1), ("q", 1), ("res", len(net.res_bus)), ("dg", len(net.dg_bus)),
                    ("cap", len(net.cap_bus)), ("ev", d_n)):
        c.add(name, t_n, k)
    c.add("carbon", 2)
    c.add("peak", 1)
    c.add("wear", t_n, d_n)
    respond = net.ev_period is not None and net.ev_base_period_kwh is not None
    c.add("r_up", d_n, 3 if respond else 0)
    c.add("r_dn", d_n, 3 if respond else 0)
    anchored = net.ev_anchor_kw is not None
    c.add("anc_up", t_n, d_n if anchored else 0)
    c.add("anc_dn", t_n, d_n if anchored else 0)
    floor = net.ev_energy_target_kwh is not None
    c.add("unserved", d_n if floor else 0)
    c.add("ramp", t_n - 1 if net.purchase_ramp_per_kw > 0 else 0)
    c.add("ev_ramp", t_n - 1, d_n if net.ev_ramp_per_kw > 0 else 0)
    width = c.n
    # nodal P and Q as P0 + Mp x, Q0 + Mq x (rows t n + i)
    ev_cols = c.idx("ev")
    mp = _incidence(t_n, n, net.res_bus, c.idx("res"), -1.0, width)
    mp = mp + _incidence(t_n, n, net.dg_bus, c.idx("dg"), -1.0, width)
    share = sp.csr_matrix(np.kron(np.eye(t_n), net.area_share.T))  # (T n, T D)
    mp = mp + (share @ sp.csr_matrix((np.ones(t_n * d_n), (np.arange(t_n * d_n),
                                                          ev_cols.ravel())),
                                     shape=(t_n * d_n, width))).tocsr()
    mq = _incidence(t_n, n, net.cap_bus, c.idx("cap"), -np.asarray(net.cap_step_kvar), width)
    p0, q0 = net.load_p_kw.ravel(), net.load_q_kvar.ravel()
    sum_bus = sp.kron(sp.eye(t_n), np.ones((1, n))).tocsr()  # (T, T n)
    loss = np.zeros(t_n) if net.loss_kw is None else np.asarray(net.loss_kw)
    rows, lo, hi = [], [], []

    def add(a, l_, h_):
        rows.append(sp.csr_matrix(a))
        lo.append(np.broadcast_to(l_, a.shape[0]).astype(float))
        hi.append(np.broadcast_to(h_, a.shape[0]).astype(float))

    # balance: b - sum P = sum P0 + loss; q - sum Q = sum Q0
    e_buy = sp.csr_matrix((np.ones(t_n), (np.arange(t_n), c.idx("buy").ravel())),
                          shape=(t_n, width))
    e_q = sp.csr_matrix((np.ones(t_n), (np.arange(t_n), c.idx("q").ravel())), shape=(t_n, width))
    rhs_p = sum_bus @ p0 + loss
    add(e_buy - sum_bus @ mp, rhs_p, rhs_p)
    rhs_q = sum_bus @ q0
    add(e_q - sum_bus @ mq, rhs_q, rhs_q)
    # voltage: W = v0^2 - 2 (R P + X Q)
    r, x = ldf.sensitivity(np.arange(n))
    rt, xt = sp.kron(sp.eye(t_n), r).tocsr(), sp.kron(sp.eye(t_n), x).tocsr()
    w0 = ldf.feeder.v_slack_pu ** 2 - 2.0 * (rt @ p0 + xt @ q0)
    a_w = -2.0 * (rt @ mp + xt @ mq)
    add(a_w, net.v_min_pu ** 2 - w0, net.v_max_pu ** 2 - w0)
    # lines: polygon of (F^P, F^Q)
    dd = sp.kron(sp.eye(t_n), ldf.d).tocsr()  # (T (n-1), T n)
    fp0, fq0 = dd @ p0, dd @ q0
    rating = np.tile(ldf.feeder.rating_kva, t_n) * net.v_min_pu * np.cos(np.pi / net.polygon_sides)
    for th in (2.0 * np.arange(net.polygon_sides) + 1.0) * np.pi / net.polygon_sides:
        a_l = np.cos(th) * (dd @ mp) + np.sin(th) * (dd @ mq)
        add(a_l, -np.inf, rating - np.cos(th) * fp0 - np.sin(th) * fq0)
    # EV energy
    cum = sp.kron(sp.csr_matrix(np.tril(np.ones((t_n, t_n)))), sp.eye(d_n)).tocsr() * net.dt_h
    sel = sp.csr_matrix((np.ones(t_n * d_n), (np.arange(t_n * d_n), ev_cols.ravel())),
                        shape=(t_n * d_n, width))
    add(cum @ sel, net.ev_y_lo_kwh.ravel(), net.ev_y_hi_kwh.ravel())
    if net.ev_period is not None and net.ev_base_period_kwh is not None:  # eq. 25 per area
        a_r, rhs_r = response_rows(ev_cols, c.idx("r_up"), c.idx("r_dn"), net.ev_period,
                                   net.ev_base_period_kwh, net.dt_h, width,
                                   PAPER_ELASTICITY if net.elasticity is None
                                   else net.elasticity)
        add(a_r, rhs_r, rhs_r)
    if net.purchase_ramp_per_kw > 0:  # m_t >= |b_t+1 - b_t|
        add(abs_step_rows(c.idx("buy")[:, 0], c.idx("ramp"), width), 0.0, np.inf)
    if net.ev_ramp_per_kw > 0:  # m_t,d >= |e_t+1,d - e_t,d|
        add(abs_step_rows(ev_cols, c.idx("ev_ramp"), width), 0.0, np.inf)
    if floor:  # dt sum_t e_t,d + u_d >= target_d
        fl = np.zeros((d_n, width))
        for d in range(d_n):
            fl[d, ev_cols[:, d]] = net.dt_h
        fl[np.arange(d_n), c.idx("unserved")] = 1.0
        add(fl, np.asarray(net.ev_energy_target_kwh, dtype=float), np.inf)
    if anchored:  # e_t,d - a+_t,d + a-_t,d = anchor_t,d
        k = t_n * d_n
        anc = sp.csr_matrix((np.r_[np.ones(k), -np.ones(k), np.ones(k)],
                             (np.tile(np.arange(k), 3),
                              np.r_[ev_cols.ravel(), c.idx("anc_up").ravel(),
                                    c.idx("anc_dn").ravel()])), shape=(k, width))
        rhs_a = np.asarray(net.ev_anchor_kw, dtype=float).ravel()
        add(anc, rhs_a, rhs_a)
    # carbon: E - coefficients = 0 ; z - b_k E >= a_k
    e_col, z_col = c.idx("carbon")
    coef = np.zeros(width)
    coef[c.idx("buy").ravel()] = net.dt_h / 1000.0 * net.thermal_share * (
        net.thermal_kg_per_kwh - net.quota_kg_per_kwh)
    for m in range(len(net.dg_bus)):
        coef[c.idx("dg")[:, m]] = net.dt_h / 1000.0 * (net.dg_kg_per_kwh[m]
                                                        - net.quota_kg_per_kwh)
    row = -coef
    row[e_col] = 1.0
    add(row[None, :], 0.0, 0.0)
    a_k, b_k = ladder_pieces(net.carbon_price_per_t, net.carbon_step_t, net.carbon_growth)
    pieces = np.zeros((len(a_k), width))
    pieces[:, z_col], pieces[:, e_col] = 1.0, -b_k
    add(pieces, a_k, np.inf)
    # demand charge: peak >= b_t
    pk = np.zeros((t_n, width))
    pk[:, c.idx("peak")[0]] = 1.0
    pk[np.arange(t_n), c.idx("buy").ravel()] = -1.0
    add(pk, 0.0, np.inf)
    # V2G wear: w_t,d >= -e_t,d (discharged power)
    wr = sp.csr_matrix((np.ones(2 * t_n * d_n),
                        (np.r_[np.arange(t_n * d_n), np.arange(t_n * d_n)],
                         np.r_[c.idx("wear").ravel(), ev_cols.ravel()])),
                       shape=(t_n * d_n, width))
    add(wr, 0.0, np.inf)
    # bounds and cost
    col_lo, col_hi = np.full(width, -np.inf), np.full(width, np.inf)
    col_lo[c.idx("buy")], col_hi[c.idx("buy")] = 0.0, net.substation_kw
    col_lo[c.idx("res")], col_hi[c.idx("res")] = 0.0, net.res_avail_kw
    col_lo[c.idx("dg")], col_hi[c.idx("dg")] = 0.0, np.broadcast_to(net.dg_max_kw,
                                                                  (t_n, len(net.dg_bus)))
    col_lo[c.idx("cap")], col_hi[c.idx("cap")] = 0.0, np.broadcast_to(net.cap_steps,
                                                                    (t_n, len(net.cap_bus)))
    col_lo[ev_cols], col_hi[ev_cols] = net.ev_lo_kw, net.ev_hi_kw
    cost = np.zeros(width)
    cost[c.idx("buy").ravel()] = net.price_per_kwh * net.dt_h
    cost[c.idx("dg")] = net.dg_cost_per_kwh[None, :] * net.dt_h
    cost[c.idx("res")] = -net.curtail_per_kwh * net.dt_h
    cost[z_col] = 1.0
    cost[c.idx("peak")[0]] = net.demand_charge_per_kw
    cost[c.idx("wear").ravel()] = net.v2g_wear_per_kwh * net.dt_h
    col_lo[c.idx("wear")] = 0.0
    col_lo[c.idx("r_up")], col_hi[c.idx("r_up")] = 0.0, net.max_price_change
    col_lo[c.idx("r_dn")], col_hi[c.idx("r_dn")] = 0.0, net.max_price_change
    cost[c.idx("r_up")] = cost[c.idx("r_dn")] = RESPONSE_TIE_BREAK
    col_lo[c.idx("ramp")] = col_lo[c.idx("ev_ramp")] = 0.0
    cost[c.idx("ramp")] = net.purchase_ramp_per_kw
    cost[c.idx("ev_ramp")] = net.ev_ramp_per_kw
    col_lo[c.idx("unserved")] = 0.0
    cost[c.idx("unserved")] = net.unserved_per_kwh
    for name in ("anc_up", "anc_dn"):
        col_lo[c.idx(name)] = 0.0
        cost[c.idx(name)] = net.anchor_penalty_per_kwh * net.dt_h
    integ = np.zeros(width, dtype=bool)
    integ[c.idx("cap").ravel()] = True
    lp = LinearProgram(cost=cost, col_lo=col_lo, col_hi=col_hi, a=sp.vstack(rows).tocsr(),
                       row_lo=np.concatenate(lo), row_hi=np.concatenate(hi),
                       integrality=integ if integ.any() else None)
    sol = solve(lp.highs(options={"mip_rel_gap": MIP_REL_GAP}))
    return _write_back(net, c, sol, mp, mq, p0, q0, t_n, n, d_n) if sol.optimal else \
        _infeasible(net, t_n, n, d_n)


def _write_back(net, c, sol, mp, mq, p0, q0, t_n, n, d_n) -> ZonalPlan:
    xv = sol.x
    buy = xv[c.idx("buy")][:, 0]
    res, dg, cap, ev = (xv[c.idx(k)] for k in ("res", "dg", "cap", "ev"))
    e_t, z_lp = (float(v) for v in xv[c.idx("carbon")])
    p_bus = (p0 + mp @ xv).reshape(t_n, n)
    q_bus = (q0 + mq @ xv).reshape(t_n, n)
    purchase = float(net.price_per_kwh @ buy * net.dt_h + net.demand_charge_per_kw * buy.max())
    diesel = float((dg @ net.dg_cost_per_kwh).sum() * net.dt_h)
    curtail = float((net.res_avail_kw - res).sum() * net.curtail_per_kwh * net.dt_h)
    carbon = float(ladder_cost(e_t, net.carbon_price_per_t, net.carbon_step_t,
                               net.carbon_growth))
    return ZonalPlan(True, purchase + diesel + curtail + carbon, purchase, diesel, curtail,
                     carbon, buy, res, dg, np.round(cap), ev, e_t, z_lp,
                     np.stack([p_bus[:, net.area_of_bus == d].sum(axis=1) for d in range(d_n)],
                              axis=1), p_bus, q_bus)


def _infeasible(net, t_n, n, d_n) -> ZonalPlan:
    z = np.zeros
    return ZonalPlan(False, float("nan"), float("nan"), float("nan"), float("nan"),
                     float("nan"), z(t_n), z((t_n, len(net.res_bus))), z((t_n, len(net.dg_bus))),
                     z((t_n, len(net.cap_bus))), z((t_n, d_n)), float("nan"), float("nan"),
                     z((t_n, d_n)),
                     z((t_n, n)), z((t_n, n)))
