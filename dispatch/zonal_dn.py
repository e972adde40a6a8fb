"""Distribution-network layer of the two-layer low-carbon dispatch: a day-ahead MILP (HiGHS).

The bilevel zonal dispatch paper, sections 2.3-2.4. Build -> solve -> write-back, each apart:
``dispatch.zonal_rows`` lays out the columns and builds one constraint family each (in this
order ``balance_rows``, ``voltage_rows``, ``line_rows``, ``ev_energy_rows``,
``price_response_rows``, ``purchase_ramp_rows``, ``ev_ramp_rows``, ``energy_floor_rows``,
``anchor_rows``, ``carbon_rows``, ``demand_charge_rows``, ``v2g_wear_rows``), here
:func:`bounds_and_cost`, :func:`build_zonal_program`, :func:`write_back`. The day's data
(:class:`ZonalNetwork`, :class:`ZonalPlan`) live in ``dispatch.zonal_network``, re-exported.

Columns per interval ``t``: purchase ``b_t`` (kW, ``0..P_sub``), reactive import ``q_t``,
renewable output ``r_t,k`` (``0..avail_t,k``, the rest curtailed) and its inverter's
reactive output ``qr_t,k`` (``-q_max_k..q_max_k``, eq. 32's ``Q^PV``, ``Q^WP``), diesel
``g_t,m``
(``0..g_max``), switched-capacitor steps ``c_t,l`` (integer ``0..n_l``), EV area power
``e_t,d`` (``lo_t,d..hi_t,d``, consumption positive); two scalars for the carbon market: the
traded emission ``E`` (t) and its cost ``z``.

Nodal consumption (positive) at bus ``i``:

    P_t,i = L_t,i + sum_d s_d,i e_t,d - sum_{k at i} r_t,k - sum_{m at i} g_t,m,
    Q_t,i = Lq_t,i - sum_{l at i} kvar_l c_t,l - sum_{k at i} qr_t,k,

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
  ``z >= a_k + b_k E`` for the pieces of the ladder (``dispatch.carbon``); with
  ``carbon_per_interval`` one ``E_t`` and ``z_t`` per interval (eq. 4 indexed by ``t``),
  the cost ``sum_t z_t``;
* optionally eq. 6's losses on the lines between areas (``objective = "losses"``): tangents
  ``s_t,l >= 2 u_s u_t,l - u_s^2`` of ``u_t,l^2``, ``u`` the line's LinDistFlow voltage drop.

Objective: ``sum_t dt (price_t b_t + sum_m cost_m g_t,m + pen sum_k (avail_t,k - r_t,k)) + z
+ c_peak max_t b_t + c_wear dt sum max(-e_t,d, 0)`` (a demand charge on the day's peak
purchase through ``peak >= b_t``; V2G wear through ``w >= -e``, ``w >= 0``); under the losses
objective (eq. 6) ``dt sum_t,l S_base G_l s_t,l`` plus a small multiple of it.
Write-back: the cost parts, the schedules and the areas' active targets
``P^Z_t,d = sum_{i in d} P_t,i`` (eq. 9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dispatch.carbon import ladder_cost
from dispatch.zonal_network import ZonalNetwork, ZonalPlan
from dispatch.zonal_rows import (
    NodalPowers,
    Rows,
    ZonalColumns,
    anchor_rows,
    balance_rows,
    carbon_rows,
    demand_charge_rows,
    energy_floor_rows,
    ev_energy_rows,
    ev_ramp_rows,
    line_rows,
    loss_rows,
    price_response_rows,
    purchase_ramp_rows,
    stack_rows,
    tie_conductance,
    v2g_wear_rows,
    voltage_rows,
)
from flexibility.common import BoolArray, FloatArray, ModelInputError
from flexibility.lp import LinearProgram, solve
from grid.lindistflow import LinDistFlow

__all__ = [
    "MIP_REL_GAP",
    "RESPONSE_TIE_BREAK",
    "ZonalNetwork",
    "ZonalPlan",
    "ZonalProgram",
    "bounds_and_cost",
    "build_zonal_program",
    "infeasible_plan",
    "solve_zonal_network",
    "write_back",
    "zonal_rows",
]

MIP_REL_GAP = 1e-3
"""HiGHS's relative MIP gap (default 1e-4): the ramp and response tie-breakers make many
capacitor schedules nearly equal, and proving the last 0.01 % costs tens of seconds."""
RESPONSE_TIE_BREAK = 1e-3
"""Cost per unit of relative price change: no price move that buys nothing."""
LOSS_TIE_ECONOMIC = 1e-3
"""Weight of the economic objective under the losses objective (eq. 6): among plans with the
same inter-area losses, the cheapest (the losses alone leave most columns free)."""


@dataclass(frozen=True, eq=False)
class ZonalProgram:
    """The day's MILP with what the write-back needs.

    Attributes:
        lp: The program (capacitor columns integer).
        cols: Its column layout.
        nodal: Nodal consumption as affine maps of the columns.
    """

    lp: LinearProgram
    cols: ZonalColumns
    nodal: NodalPowers


def zonal_rows(net: ZonalNetwork, ldf: LinDistFlow, cols: ZonalColumns,
               nodal: NodalPowers) -> Rows:
    """Every constraint family, stacked in the order of the module docstring.

    The demand charge's ``peak >= b_t`` and the V2G wear's ``w >= -e`` rows come last, then
    eq. 6's loss tangents (only under the losses objective).
    """
    return stack_rows([
        balance_rows(net, cols, nodal), voltage_rows(net, ldf, nodal),
        line_rows(net, ldf, nodal), ev_energy_rows(net, cols), price_response_rows(net, cols),
        purchase_ramp_rows(net, cols), ev_ramp_rows(net, cols), energy_floor_rows(net, cols),
        anchor_rows(net, cols), carbon_rows(net, cols), demand_charge_rows(net, cols),
        v2g_wear_rows(net, cols), loss_rows(net, ldf, nodal, cols)])


def bounds_and_cost(net: ZonalNetwork, cols: ZonalColumns, ldf: LinDistFlow | None = None
                    ) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """Column bounds, cost and integrality (module docstring).

        0 <= b_t <= P_sub, 0 <= r_t,k <= avail_t,k, |qr_t,k| <= q_max_k,
        0 <= g_t,m <= g_max,
        c_t,l in {0..n_l},
        lo_t,d <= e_t,d <= hi_t,d, w, m, u, a+- >= 0, 0 <= r+-_d,k <= r_max;
        cost = dt (price_t b_t + cost_m g_t,m - pen r_t,k) + z + c_peak peak
               + c_wear dt w + tie r+- + ramp costs m + unserved u + anchor dt a+-

    (the curtailment penalty's constant ``pen dt sum avail`` left out); must-run diesels have
    ``g_t,m = g_max``. Under the losses objective (eq. 6) the cost is
    ``dt sum_t,l S_base G_l s_t,l`` plus :data:`LOSS_TIE_ECONOMIC` times the above, the anchor
    and the energy floor at their own prices (``ldf`` needed for ``G_l``).

    Returns:
        ``(cost, col_lo, col_hi, integrality)``, each ``(width,)``.
    """
    t_n = net.load_p_kw.shape[0]
    idx = cols.idx
    col_lo, col_hi = np.full(cols.width, -np.inf), np.full(cols.width, np.inf)
    col_lo[idx("buy")], col_hi[idx("buy")] = 0.0, net.substation_kw
    col_lo[idx("res")], col_hi[idx("res")] = 0.0, net.res_avail_kw
    g_max = np.broadcast_to(net.dg_max_kw, (t_n, len(net.dg_bus)))
    col_lo[idx("dg")], col_hi[idx("dg")] = (g_max if net.dg_must_run else 0.0), g_max
    col_lo[idx("cap")], col_hi[idx("cap")] = 0.0, np.broadcast_to(net.cap_steps,
                                                                  (t_n, len(net.cap_bus)))
    col_lo[idx("ev")], col_hi[idx("ev")] = net.ev_lo_kw, net.ev_hi_kw
    if net.res_q_max_kvar is not None:
        q_max = np.broadcast_to(np.asarray(net.res_q_max_kvar, dtype=float),
                                (t_n, len(net.res_bus)))
        col_lo[idx("res_q")], col_hi[idx("res_q")] = -q_max, q_max
    cost = np.zeros(cols.width)
    cost[idx("buy").ravel()] = net.price_per_kwh * net.dt_h
    cost[idx("dg")] = net.dg_cost_per_kwh[None, :] * net.dt_h
    cost[idx("res")] = -net.curtail_per_kwh * net.dt_h
    cost[idx("carbon")[:, 1]] = 1.0
    cost[idx("peak")[0]] = net.demand_charge_per_kw
    cost[idx("wear").ravel()] = net.v2g_wear_per_kwh * net.dt_h
    col_lo[idx("wear")] = 0.0
    col_lo[idx("r_up")], col_hi[idx("r_up")] = 0.0, net.max_price_change
    col_lo[idx("r_dn")], col_hi[idx("r_dn")] = 0.0, net.max_price_change
    cost[idx("r_up")] = cost[idx("r_dn")] = RESPONSE_TIE_BREAK
    col_lo[idx("ramp")] = col_lo[idx("ev_ramp")] = 0.0
    cost[idx("ramp")] = net.purchase_ramp_per_kw
    cost[idx("ev_ramp")] = net.ev_ramp_per_kw
    col_lo[idx("unserved")] = 0.0
    cost[idx("unserved")] = net.unserved_per_kwh
    for name in ("anc_up", "anc_dn"):
        col_lo[idx(name)] = 0.0
        cost[idx(name)] = net.anchor_penalty_per_kwh * net.dt_h
    col_lo[idx("loss")] = 0.0
    col_lo[idx("o_up")] = col_lo[idx("o_dn")] = 0.0
    cost[idx("o_up")] = cost[idx("o_dn")] = net.response_override_per_kwh
    if net.objective == "losses":
        if ldf is None:
            raise ModelInputError("the losses objective needs the feeder's LinDistFlow")
        keep = np.r_[idx("anc_up").ravel(), idx("anc_dn").ravel(), idx("unserved").ravel(),
                     idx("o_up").ravel(), idx("o_dn").ravel()]
        kept = cost[keep].copy()
        cost *= LOSS_TIE_ECONOMIC
        cost[keep] = kept  # the anchor and the energy floor keep their prices
        cost[idx("loss")] = net.dt_h * tie_conductance(net, ldf)[None, :]
    integ = np.zeros(cols.width, dtype=bool)
    if net.cap_fixed is None:
        integ[idx("cap").ravel()] = True
    else:
        col_lo[idx("cap")] = col_hi[idx("cap")] = np.asarray(net.cap_fixed, dtype=float)
    return cost, col_lo, col_hi, integ


def build_zonal_program(net: ZonalNetwork, ldf: LinDistFlow) -> ZonalProgram:
    """The day's MILP: layout, nodal maps, rows, bounds and cost.

    Raises:
        ModelInputError: The load's buses are not the feeder's.
    """
    n = net.load_p_kw.shape[1]
    if ldf.feeder.n_bus != n:
        raise ModelInputError(f"load has {n} buses, the feeder {ldf.feeder.n_bus}")
    cols = ZonalColumns.of(net)
    nodal = NodalPowers.of(net, cols)
    rows = zonal_rows(net, ldf, cols, nodal)
    cost, col_lo, col_hi, integ = bounds_and_cost(net, cols, ldf)
    lp = LinearProgram(cost=cost, col_lo=col_lo, col_hi=col_hi, a=rows.a, row_lo=rows.lo,
                       row_hi=rows.hi, integrality=integ if integ.any() else None)
    return ZonalProgram(lp, cols, nodal)


def solve_zonal_network(net: ZonalNetwork, ldf: LinDistFlow) -> ZonalPlan:
    """Build, solve and write back.

    With integer capacitor columns, first the LP relaxation; its capacitor steps rounded to
    the nearest step and held (``cap_fixed``), the LP again; only where that is infeasible the
    MILP (HiGHS, relative gap :data:`MIP_REL_GAP`). The rounding is a heuristic: the plan can
    cost slightly more than the MILP's optimum (the steps act on reactive power only).
    """
    from dataclasses import replace

    if net.cap_fixed is None and len(net.cap_bus):
        prog = build_zonal_program(replace(net, cap_fixed=np.zeros((net.load_p_kw.shape[0],
                                                                     len(net.cap_bus)))), ldf)
        relaxed = prog.lp
        idx = prog.cols.idx("cap").ravel()
        relaxed.col_lo[idx], relaxed.col_hi[idx] = 0.0, np.broadcast_to(
            net.cap_steps, (net.load_p_kw.shape[0], len(net.cap_bus))).ravel()
        sol = solve(relaxed.highs())
        if sol.optimal:
            steps = np.round(sol.x[prog.cols.idx("cap")])
            fixed = replace(net, cap_fixed=steps)
            prog2 = build_zonal_program(fixed, ldf)
            sol2 = solve(prog2.lp.highs())
            if sol2.optimal:
                return write_back(fixed, prog2, sol2.x)
    prog = build_zonal_program(net, ldf)
    sol = solve(prog.lp.highs(options={"mip_rel_gap": MIP_REL_GAP}))
    return write_back(net, prog, sol.x) if sol.optimal else infeasible_plan(net)


def write_back(net: ZonalNetwork, prog: ZonalProgram, x: FloatArray) -> ZonalPlan:
    """The plan at the columns' values ``x``.

    The schedules, the cost parts (the purchase with its demand charge, the carbon cost on the
    ladder at ``E``), the nodal powers and the areas' active targets
    ``P^Z_t,d = sum_{i in d} P_t,i`` (eq. 9).
    """
    t_n, n = net.load_p_kw.shape
    idx = prog.cols.idx
    buy = x[idx("buy")][:, 0]
    res, dg, cap, ev = (x[idx(k)] for k in ("res", "dg", "cap", "ev"))
    e_k, z_k = x[idx("carbon")[:, 0]], x[idx("carbon")[:, 1]]
    e_t, z_lp = float(e_k.sum()), float(z_k.sum())
    p_bus = (prog.nodal.p0 + prog.nodal.mp @ x).reshape(t_n, n)
    q_bus = (prog.nodal.q0 + prog.nodal.mq @ x).reshape(t_n, n)
    purchase = float(net.price_per_kwh @ buy * net.dt_h + net.demand_charge_per_kw * buy.max())
    diesel = float((dg @ net.dg_cost_per_kwh).sum() * net.dt_h)
    curtail = float((net.res_avail_kw - res).sum() * net.curtail_per_kwh * net.dt_h)
    carbon = float(ladder_cost(e_k, net.carbon_price_per_t, net.carbon_step_t,
                               net.carbon_growth).sum())
    d_n = net.area_share.shape[0]
    area_p = np.stack([p_bus[:, net.area_of_bus == d].sum(axis=1) for d in range(d_n)], axis=1)
    return ZonalPlan(True, purchase + diesel + curtail + carbon, purchase, diesel, curtail,
                     carbon, buy, res, dg, np.round(cap), ev, e_t, z_lp, area_p, p_bus, q_bus,
                     float(x[idx("o_up")].sum() + x[idx("o_dn")].sum()))


def infeasible_plan(net: ZonalNetwork) -> ZonalPlan:
    """The plan when no optimum was found: costs NaN, schedules zero."""
    (t_n, n), d_n = net.load_p_kw.shape, net.area_share.shape[0]
    z, nan = np.zeros, float("nan")
    return ZonalPlan(False, nan, nan, nan, nan, nan, z(t_n), z((t_n, len(net.res_bus))),
                     z((t_n, len(net.dg_bus))), z((t_n, len(net.cap_bus))), z((t_n, d_n)), nan,
                     nan, z((t_n, d_n)), z((t_n, n)), z((t_n, n)))
