"""Scenario -> partition and distribution layer of the zonal dispatch (bilevel zonal dispatch
paper), shared by ``run_sim.py dispatch --method zonal`` and ``--policy
dispatch:zonal``.

1. **Station aggregates** from sampled fleet days: each station's generalized battery is the
   mean over the days (``flexibility.alpha_sets.case_sets``: power bounds of the connected
   vehicles, cumulative energy between the as-late-as-possible and as-soon-as-possible
   trajectories) — the expected fleet the paper plans on; the ASAP trajectory is the
   uncoordinated charging of the "before" case.
2. **Partition** (``grid.zones``): sources = renewable, diesel and capacitor buses; per bus
   ``E^C``, ``E^n`` of the vehicles at its station (eqs. 15-16, mean day), base-load energy
   while vehicles are connected, adjustable power = the box width plus renewable output,
   required power = the base load's deviation from its daily mean.
3. **Distribution layer** (``dispatch.zonal_dn``) with the areas' EV aggregates (sums of their
   stations' boxes), optionally bound by their users' price response (peak/flat/valley periods
   of the purchase tariff, base energies = the uncoordinated charging per period, the paper's
   elasticities); the coordinated day should deliver ``ENERGY_SHARE`` of the uncoordinated
   energy per area (a soft floor at ``UNSERVED_PER_KWH``). The plan is AC-checked (the grid
   model's solver); where its AC voltage, a line's current or the substation's supply breaks
   a limit (LinDistFlow neglects losses) the layer is re-solved tightened (``solve_with_ac``,
   up to ``AC_ROUNDS`` times).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dispatch.price_response import tou_periods
from dispatch.zonal_dn import ZonalNetwork, ZonalPlan, solve_zonal_network
from environment.grid_setup import bus_positions
from flexibility.alpha_sets import case_sets
from flexibility.common import FloatArray, IntArray
from flexibility.fleet import Fleet
from grid.ac import AcResult
from grid.layers import GridModel, NetworkLimits
from grid.zones import (
    AreaData,
    Indicators,
    Partition,
    Weights,
    closeness_graph,
    electrical_distance,
    partition,
)
from scenarios.config import Scenario
from scenarios.dispatch_config import Zonal
from scenarios.profiles import feeder_totals, read_shapes
from scenarios.year_profiles import read_year, slots, year_errors

AC_ROUNDS = 3
"""Re-solves with ``v_min`` raised by the AC voltage shortfall of the previous plan."""
ENERGY_SHARE = 0.99
"""Share of the uncoordinated (ASAP) energy the coordinated day should deliver per area (a soft
floor priced at ``UNSERVED_PER_KWH``; the departure requirements stay hard): all of it pins
every trajectory to ASAP near the end of the day (vehicles still filling up while others
leave), which the network cannot carry at the evening peak."""
RESPONSE_OVERRIDE_PER_KWH = 10.0
"""Price of a kWh by which the DR-consistent plan moves an area's period energy beyond its
users' price response (above every energy price and the unserved floor: only where a network
limit cannot carry what the users would do; the summary reports the energy)."""
UNSERVED_PER_KWH = 5.0
"""Price of a kWh of that floor not delivered: above every purchase price plus carbon, so the
plan falls short only where the network cannot carry the energy."""


@dataclass(frozen=True)
class StationAggregates:
    """Each station's expected fleet (mean over sampled days), arrays ``(T, J)``.

    Attributes:
        lo_kw, hi_kw: Power bounds.
        y_lo_kwh, y_hi_kwh: Cumulative energy bounds after each interval.
        asap_kw: Uncoordinated (as-soon-as-possible) charging.
        ec_kwh: Chargeable energy within the dwells per station ``(J,)`` (eq. 15).
        en_kwh: Energy needed by departure per station ``(J,)`` (eq. 16).
        occupancy: Mean number of connected vehicles.
    """

    lo_kw: FloatArray
    hi_kw: FloatArray
    y_lo_kwh: FloatArray
    y_hi_kwh: FloatArray
    asap_kw: FloatArray
    ec_kwh: FloatArray
    en_kwh: FloatArray
    occupancy: FloatArray


def station_aggregates(names: tuple[str, ...], fleets: list[Fleet], n_intervals: int,
                       dt_h: float) -> StationAggregates:
    """Step 1 of the module docstring, for fleets of shape ``(M days, N)``."""
    ec, en, occ = [], [], []
    t = np.arange(n_intervals)[None, None, :]
    for fleet in fleets:
        dwell_h = (fleet.departure_idx - fleet.arrival_idx) * dt_h
        ec.append(float(np.minimum(fleet.p_ch_max_kw * dwell_h * fleet.eta_ch,
                                   fleet.e_max_kwh - fleet.e_init_kwh).sum(axis=-1).mean()))
        en.append(float((np.maximum(fleet.e_req_kwh - fleet.e_init_kwh, 0.0)
                         / fleet.eta_ch).sum(axis=-1).mean()))
        occ.append(((fleet.arrival_idx[..., None] <= t) & (t < fleet.departure_idx[..., None]))
                   .sum(axis=-2).mean(axis=0))
    exact = case_sets(names, fleets, n_intervals).exact  # (M, J, T)
    y_hi = exact.y_hi_kwh.mean(axis=0).T
    asap = np.diff(np.vstack([np.zeros((1, len(fleets))), y_hi]), axis=0) / dt_h
    return StationAggregates(exact.p_lo_kw.mean(axis=0).T, exact.p_hi_kw.mean(axis=0).T,
                             exact.y_lo_kwh.mean(axis=0).T, y_hi, asap, np.array(ec),
                             np.array(en), np.stack(occ, axis=1))


@dataclass(frozen=True)
class ZonalSetup:
    """Partition and distribution-layer plan of a day.

    Attributes:
        parts, scores, seed_scores: The partition, its indicators and the seed's.
        net: The distribution layer's instance (after the AC tightening).
        plan: Its plan.
        ac: AC result at the plan's nodal injections ``(T, ...)`` (the grid model's solver).
        station_pos: Bus position per station ``(J,)``.
        station_area: Area per station ``(J,)``.
        period: Peak/flat/valley period of every interval (``tou_periods`` of ``price``).
        price: Purchase price per interval ``(T,)``.
        limits: The feeder's security limits (AC validity).
        solve_s: Wall time of the distribution-layer solves.
    """

    parts: Partition
    scores: Indicators
    seed_scores: Indicators
    net: ZonalNetwork
    plan: ZonalPlan
    ac: AcResult
    station_pos: IntArray
    station_area: IntArray
    price: FloatArray
    period: IntArray
    limits: NetworkLimits
    solve_s: float

    @property
    def station_incidence(self) -> FloatArray:
        """``(J, n)``: 1 at every station's bus (station powers ``(T, J)`` @ it = nodal)."""
        out = np.zeros((len(self.station_pos), self.net.load_p_kw.shape[1]))
        out[np.arange(len(self.station_pos)), self.station_pos] = 1.0
        return out


def renewable_profiles(scenario: Scenario, kinds: list[str]) -> FloatArray:
    """Normalised renewable output per interval and plant ``(T, K)``: PV from the scenario's
    shape file (``scenarios.profiles.feeder_totals`` with a 1 kW peak), wind from the mean
    over the dispatch's uncertainty days of the year's WP4 profile."""
    hz, d = scenario.horizon, scenario.dispatch
    if not kinds:
        return np.zeros((hz.n_intervals, 0))
    shapes = read_shapes(scenario.grid.profiles.source, scenario.base_dir)
    _, pv = feeder_totals(shapes, hz.start_min, hz.dt_min, hz.n_intervals, 0.0, 0.0, 1.0)
    year = year_errors(read_year(d.uncertainty_source, scenario.base_dir),
                       tuple(d.uncertainty_months), d.uncertainty_weekend,
                       d.forecast_window_days)
    wind = year.forecast["wind_p"][:, slots(hz.start_min, hz.dt_min, hz.n_intervals)].mean(0)
    return np.stack([pv if k == "pv" else wind for k in kinds], axis=1)


def renewable_availability(scenario: Scenario, gm: GridModel) -> tuple[IntArray, FloatArray]:
    """The zonal case's renewables: their feeder positions ``(K,)`` and available output
    ``(T, K)`` (profile shape times rating).

    Raises:
        InputError: A plant's bus is not on the feeder.
    """
    z = scenario.dispatch.zonal
    pos = bus_positions(scenario, gm, [r.bus for r in z.renewables], "dispatch.zonal.renewables")
    return pos, renewable_profiles(scenario, [r.kind for r in z.renewables]) \
        * np.array([r.p_max_kw for r in z.renewables])[None, :]


def _partition(sc: Scenario, gm: GridModel, agg: StationAggregates, res_pos: IntArray,
               dg_pos: IntArray, cap_pos: IntArray, avail: FloatArray
               ) -> tuple[Partition, Indicators, Indicators, IntArray]:
    """Step 2 of the module docstring; returns the area of every bus too."""
    z, dt = sc.dispatch.zonal, sc.horizon.dt_h
    ldf, n, pos = gm.ldf, gm.feeder.n_bus, np.asarray(gm.positions)
    load_p = gm.background.p_load_kw
    sources = np.unique(np.r_[res_pos, dg_pos, cap_pos]).astype(int)
    g = closeness_graph(ldf, electrical_distance(ldf, sources))
    bus_ec, bus_en = np.zeros(n), np.zeros(n)
    np.add.at(bus_ec, pos, agg.ec_kwh)
    np.add.at(bus_en, pos, agg.en_kwh)
    occ = agg.occupancy.sum(axis=1)
    share_on = occ / max(float(occ.max()), 1e-12)
    adjustable = np.zeros((sc.horizon.n_intervals, n))
    np.add.at(adjustable.T, pos, (agg.hi_kw - agg.lo_kw).T)
    np.add.at(adjustable.T, res_pos, avail.T)
    data = AreaData(bus_ec, bus_en, (load_p * share_on[:, None]).sum(0) * dt, adjustable,
                    np.abs(load_p - load_p.mean(axis=0, keepdims=True)))
    w = Weights(*z.weights, min_buses=z.min_buses, max_buses=z.max_buses)
    parts, scores, seed_scores = partition(g, data, w)
    area_of_bus = np.zeros(n, dtype=int)
    for k, p in enumerate(parts):
        area_of_bus[list(p)] = k
    return parts, scores, seed_scores, area_of_bus


def tie_lines(gm: GridModel, area_of_bus: IntArray) -> tuple[int, ...]:
    """Branches between two areas (branch ``b`` feeds position ``b + 1``): eq. 6's ``L_t``."""
    parent = np.asarray(gm.feeder.parent)
    return tuple(int(b) for b in range(len(parent) - 1)
                 if area_of_bus[b + 1] != area_of_bus[parent[b + 1]])


def inverter_q_kvar(z: Zonal) -> FloatArray:
    """Each renewable's reactive range ``(K,)``: its own ``q_max_kvar``, else
    ``inverter_q_per_kw`` times its rating."""
    return np.array([r.q_max_kvar if r.q_max_kvar is not None
                     else z.inverter_q_per_kw * r.p_max_kw for r in z.renewables], dtype=float)


def plan_zonal(scenario: Scenario, gm: GridModel, agg: StationAggregates,
               with_response: bool | None = None) -> ZonalSetup:
    """Steps 2-3 of the module docstring.

    Args:
        scenario: The case.
        gm: Its grid model.
        agg: The stations' expected fleets.
        with_response: Plan the areas' EV energy per period as their users' price response
            allows (``ZonalNetwork.ev_period``); default: the paper's distribution layer, which
            dispatches the EV aggregates within their sets; ``None``: the scenario's
            ``dispatch.zonal.response_in_layer``.
    """
    import time

    sc, hz, z = scenario, scenario.horizon, scenario.dispatch.zonal
    t_n, dt, n = hz.n_intervals, hz.dt_h, gm.feeder.n_bus
    with_response = z.response_in_layer if with_response is None else with_response
    pos = np.asarray(gm.positions)
    res_pos, avail = renewable_availability(sc, gm)
    gens = sc.dispatch.generators
    dg_pos = bus_positions(sc, gm, [g.bus for g in gens], "dispatch.generators")
    cap_pos = bus_positions(sc, gm, [cp.bus for cp in z.capacitors], "dispatch.zonal.capacitors")
    parts, scores, seed_scores, area_of_bus = _partition(sc, gm, agg, res_pos, dg_pos, cap_pos,
                                                         avail)
    d_n = len(parts)
    width = np.maximum(agg.hi_kw - agg.lo_kw, 1e-9).mean(axis=0)
    share = np.zeros((d_n, n))
    for j, b in enumerate(pos):
        share[area_of_bus[b], b] += width[j]
    has_ev = share.sum(axis=1) > 0
    share[~has_ev, :] = (area_of_bus[None, :] == np.flatnonzero(~has_ev)[:, None])
    share = share / share.sum(axis=1, keepdims=True)
    to_area = np.zeros((len(pos), d_n))
    to_area[np.arange(len(pos)), area_of_bus[pos]] = 1.0
    y_lo, y_hi = agg.y_lo_kwh @ to_area, agg.y_hi_kwh @ to_area
    price = np.array([sc.dispatch.price_at(float(m)) for m in
                      hz.start_min + hz.dt_min * np.arange(t_n)])
    period = tou_periods(price)
    asap_area = agg.asap_kw @ to_area
    base = np.stack([asap_area[period == j].sum(axis=0) * dt for j in range(3)], axis=1)
    net = ZonalNetwork(
        dt_h=dt, load_p_kw=gm.background.p_load_kw, load_q_kvar=gm.background.q_load_kvar,
        price_per_kwh=price, res_bus=res_pos, res_avail_kw=avail,
        res_q_max_kvar=inverter_q_kvar(z) if z.inverter_q_per_kw > 0 or any(
            r.q_max_kvar for r in z.renewables) else None, dg_bus=dg_pos,
        dg_max_kw=np.array([x.p_max_kw for x in gens]),
        dg_cost_per_kwh=np.array([x.cost_per_kwh for x in gens]),
        dg_kg_per_kwh=np.array([x.kg_per_kwh for x in gens]), cap_bus=cap_pos,
        cap_step_kvar=np.array([cp.step_kvar for cp in z.capacitors]),
        cap_steps=np.array([cp.steps for cp in z.capacitors], dtype=int), area_share=share,
        ev_lo_kw=agg.lo_kw @ to_area, ev_hi_kw=agg.hi_kw @ to_area,
        ev_y_lo_kwh=y_lo - 1e-6, ev_y_hi_kwh=y_hi + 1e-6,
        area_of_bus=area_of_bus, v_min_pu=sc.grid.v_min_pu, v_max_pu=sc.grid.v_max_pu,
        substation_kw=sc.grid.substation_kw, curtail_per_kwh=z.curtail_per_kwh,
        thermal_share=z.thermal_share, thermal_kg_per_kwh=z.thermal_kg_per_kwh,
        quota_kg_per_kwh=z.quota_kg_per_kwh, carbon_price_per_t=z.carbon_price_per_t,
        carbon_step_t=z.carbon_step_t, carbon_growth=z.carbon_growth,
        demand_charge_per_kw=z.demand_charge_per_kw, v2g_wear_per_kwh=z.v2g_wear_per_kwh,
        ev_period=period if with_response else None, ev_base_period_kwh=base,
        response_override_per_kwh=RESPONSE_OVERRIDE_PER_KWH,
        ev_energy_target_kwh=ENERGY_SHARE * np.minimum(asap_area.sum(axis=0) * dt, y_hi[-1]),
        unserved_per_kwh=UNSERVED_PER_KWH, purchase_ramp_per_kw=z.ramp_per_kw,
        ev_ramp_per_kw=z.ramp_per_kw, dg_must_run=z.dg_must_run,
        carbon_per_interval=z.carbon_per_interval, tie_lines=tie_lines(gm, area_of_bus))
    t0 = time.perf_counter()
    net, plan, ac_plan = solve_with_ac(net, gm)
    if ac_plan is None:
        ac_plan = gm.solver.solve(gm.background.p_load_kw, gm.background.q_load_kvar)
    return ZonalSetup(parts, scores, seed_scores, net, plan, ac_plan, pos, area_of_bus[pos],
                      price, period, gm.limits, time.perf_counter() - t0)


def solve_with_ac(net: ZonalNetwork, gm: GridModel, v_floor_pu: float | None = None,
                  substation_kw: float | None = None
                  ) -> tuple[ZonalNetwork, ZonalPlan, AcResult | None]:
    """Solve the layer; re-solve it tightened while its AC power flow breaks a limit.

    LinDistFlow neglects the losses, so a plan that meets its rows can break a limit in the
    grid model's AC power flow; then the layer is re-solved tightened, up to ``AC_ROUNDS``
    times:

    * voltage below ``v_floor_pu`` (``None``: the instance's ``v_min`` as given): ``v_min``
      raised by the shortfall plus 0.001 p.u.;
    * the AC supply (slack, losses included) above ``substation_kw`` ``S`` (``None``: the
      instance's purchase limit as given): the rows' purchase limit lowered to leave room for
      the plan's largest AC loss in the intervals that break it,
      ``S' = min(S', S - max_{t: P_slack,t > S} (P_slack,t - buy_t) - 0.001 S)``;
    * a branch loaded above 100 %: its rating in the line rows (``ZonalNetwork.line_scale``
      ``k_b``) lowered until the rows hold the plan's largest left-hand side on it divided by
      its AC loading (per unit), less 0.1 %:
      ``k_b = min(k_b, 0.999 max_t,m (cos th_m F^P_t,b + sin th_m F^Q_t,b)
      / (v_min cos(pi/M) S_b loading_b))``.

    Returns:
        The instance last solved, its plan (``feasible`` False when a round found none) and
        the AC result of the last feasible plan (``None``: none was feasible).
    """
    floor = net.v_min_pu if v_floor_pu is None else v_floor_pu
    supply = net.substation_kw if substation_kw is None else substation_kw
    plan = solve_zonal_network(net, gm.ldf)
    ac_plan = gm.solver.solve(plan.p_bus_kw, plan.q_bus_kvar) if plan.feasible else None
    for _ in range(AC_ROUNDS):
        if ac_plan is None or not plan.feasible:
            break
        short = floor - float(np.nanmin(ac_plan.vm_pu))
        over = np.nanmax(ac_plan.loading_pct, axis=0) / 100.0  # per branch
        excess = float(np.nanmax(ac_plan.p_slack_kw)) - supply  # the purchase is >= 0
        if short <= 0 and not np.any(over > 1.0) and excess <= 0:
            break
        v_min = net.v_min_pu + (short + 1e-3 if short > 0 else 0.0)
        buy_kw = net.substation_kw
        if excess > 0:  # room for the largest AC loss of the intervals that break the limit
            over_s = ac_plan.p_slack_kw > supply
            gap = float(np.max(ac_plan.p_slack_kw[over_s] - plan.buy_kw[over_s]))
            buy_kw = min(buy_kw, supply - gap - 1e-3 * supply)
        scale = np.ones_like(over) if net.line_scale is None else np.asarray(net.line_scale)
        if np.any(over > 1.0):
            fp = gm.ldf.branch_flows(plan.p_bus_kw)
            fq = gm.ldf.branch_flows(plan.q_bus_kvar)
            th = (2.0 * np.arange(net.polygon_sides) + 1.0) * np.pi / net.polygon_sides
            # the plan's largest left-hand side of the line rows, per branch
            lhs = (np.cos(th)[:, None, None] * fp + np.sin(th)[:, None, None] * fq).max(
                axis=(0, 1))
            reach = (v_min * np.cos(np.pi / net.polygon_sides) * gm.ldf.feeder.rating_kva
                     * np.maximum(over, 1e-12))
            need = np.divide(lhs, reach, out=np.ones_like(lhs), where=reach > 0)
            scale = np.where(over > 1.0, np.minimum(scale, need * (1.0 - 1e-3)), scale)
        net = replace(net, v_min_pu=v_min, line_scale=scale, substation_kw=buy_kw)
        plan = solve_zonal_network(net, gm.ldf)
        ac_plan = gm.solver.solve(plan.p_bus_kw, plan.q_bus_kvar) if plan.feasible else ac_plan
    return net, plan, ac_plan
