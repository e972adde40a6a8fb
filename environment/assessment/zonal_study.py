"""``run_sim.py dispatch --method zonal``: partition and distribution layer of the two-layer
low-carbon dispatch (issue 16, first part; bilevel zonal dispatch paper).

1. **Fleets**: ``n_days`` sampled days per station from the behaviour model; each station's
   EV aggregate is the mean over those days of its generalized battery
   (``flexibility.alpha_sets.case_sets``: power bounds of the connected vehicles, cumulative
   energy between the as-late-as-possible and as-soon-as-possible trajectories) — the
   expected fleet the paper plans on; the network is held by the distribution layer itself.
2. **Uncoordinated charging** (the "before" case): the as-soon-as-possible trajectory (full
   power from plug-in until the battery is full or the vehicle leaves), mean over the days;
   the coordinated plan must deliver ``ENERGY_SHARE`` (99 %) of that energy per area by the
   end of the day.
3. **Partition** (``grid.zones``): sources = renewable, diesel and capacitor buses; per bus
   ``E^C``, ``E^n`` of the vehicles at its station (eqs. 15-16, mean day), base-load energy
   while vehicles are connected, adjustable power = the box width plus renewable output,
   required power = the base load's deviation from its daily mean.
4. **Distribution layer** (``dispatch.zonal_dn``) with the areas' EV aggregates (sums of their
   stations' boxes), against the "before" day evaluated directly (purchase = price x (load +
   uncoordinated EVs - renewables), no diesel, surplus curtailed, its carbon on the ladder);
   both AC-checked with pandapower's model; where the plan's AC voltage falls below ``v_min``
   (LinDistFlow neglects losses) the layer is re-solved with ``v_min`` raised by the shortfall
   (up to ``AC_ROUNDS`` times).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dispatch.carbon import ladder_cost
from dispatch.price_response import FLAT, PEAK, VALLEY
from dispatch.zonal_agg import AreaTracking, track_area
from dispatch.zonal_dn import ZonalNetwork, ZonalPlan, solve_zonal_network
from environment.dispatch_setup import bus_positions
from environment.grid_setup import build_grid_model
from flexibility.common import FloatArray
from flexibility.alpha_sets import case_sets
from grid.ac import AcResult
from grid.zones import AreaData, Indicators, Partition, Weights, closeness_graph, \
    electrical_distance, partition
from scenarios.behaviour import BehaviourModel
from scenarios.config import Scenario
from scenarios.fleetgen import draw_sessions, fleet_from_sessions
from scenarios.profiles import feeder_totals, read_shapes
from scenarios.year_profiles import read_year, slots, year_errors


AC_ROUNDS = 3
"""Re-solves with ``v_min`` raised by the AC voltage shortfall of the previous plan."""
ENERGY_SHARE = 0.99
"""Share of the uncoordinated (ASAP) energy the coordinated day must deliver per area: all of
it pins every trajectory to ASAP near the end of the day (vehicles still filling up while
others leave), which the network cannot carry at the evening peak."""


@dataclass(frozen=True)
class ZonalStudy:
    """Partition, the "before" day and the distribution layer's plan."""

    parts: Partition
    scores: Indicators
    seed_scores: Indicators
    net: ZonalNetwork
    plan: ZonalPlan
    before: dict[str, float]
    before_p_bus_kw: FloatArray
    ev_before_kw: FloatArray
    ac_before: AcResult
    ac_after: AcResult
    station_pos: np.ndarray
    feeder_parent: np.ndarray
    bus_index: np.ndarray
    areas: list[AreaTracking] | None


def _profiles(scenario: Scenario, pos_kind: list[str]) -> FloatArray:
    """Normalised renewable output per interval and plant ``(T, K)``: PV from the scenario's
    shape file (``scenarios.profiles.feeder_totals`` with a 1 kW peak), wind from the mean
    over the dispatch's uncertainty days of the year's WP4 profile."""
    hz, d = scenario.horizon, scenario.dispatch
    shapes = read_shapes(scenario.grid.profiles.source, scenario.base_dir)
    _, pv = feeder_totals(shapes, hz.start_min, hz.dt_min, hz.n_intervals, 0.0, 0.0, 1.0)
    year = year_errors(read_year(d.uncertainty_source, scenario.base_dir),
                       tuple(d.uncertainty_months), d.uncertainty_weekend,
                       d.forecast_window_days)
    wind = year.forecast["wind_p"][:, slots(hz.start_min, hz.dt_min, hz.n_intervals)].mean(0)
    return np.stack([pv if k == "pv" else wind for k in pos_kind], axis=1)


def run_zonal_study(scenario: Scenario, behaviour: BehaviourModel, seed: int,
                    n_days: int = 50) -> ZonalStudy:
    """The steps of the module docstring."""
    from grid.ac import PandapowerAc

    sc, hz, z = scenario, scenario.horizon, scenario.dispatch.zonal
    gm = build_grid_model(sc)
    fe, ldf, t_n, dt = gm.feeder, gm.ldf, hz.n_intervals, hz.dt_h
    rng = np.random.default_rng([seed, 16])
    fleets, ec, en, occ = [], [], [], []
    for st, r in zip(sc.stations, rng.spawn(len(sc.stations)), strict=True):
        fleet = fleet_from_sessions(draw_sessions(behaviour, hz, st.n_ev, n_days,
                                                  sc.behaviour.v2g_share, r), sc.ev, hz)
        fleets.append(fleet)
        dwell_h = (fleet.departure_idx - fleet.arrival_idx) * dt
        ec.append(float(np.minimum(fleet.p_ch_max_kw * dwell_h * fleet.eta_ch,
                                   fleet.e_max_kwh - fleet.e_init_kwh).sum(axis=-1).mean()))
        en.append(float((np.maximum(fleet.e_req_kwh - fleet.e_init_kwh, 0.0)
                         / fleet.eta_ch).sum(axis=-1).mean()))
        t = np.arange(t_n)[None, None, :]
        occ.append(((fleet.arrival_idx[..., None] <= t) & (t < fleet.departure_idx[..., None]))
                   .sum(axis=-2).mean(axis=0))
    exact = case_sets(tuple(s_.name for s_ in sc.stations), fleets, t_n).exact  # (M, J, T)
    lo_j, hi_j = exact.p_lo_kw.mean(axis=0).T, exact.p_hi_kw.mean(axis=0).T  # (T, J)
    y_lo_j, y_hi_j = exact.y_lo_kwh.mean(axis=0).T, exact.y_hi_kwh.mean(axis=0).T
    ev0 = np.diff(np.vstack([np.zeros((1, len(fleets))), y_hi_j]), axis=0) / dt  # ASAP
    pos = np.asarray(gm.positions)
    kinds: list[str] = [r.kind for r in z.renewables]
    res_pos = bus_positions(sc, gm, [r.bus for r in z.renewables], "dispatch.zonal.renewables")
    avail = _profiles(sc, kinds) * np.array([r.p_max_kw for r in z.renewables])[None, :] \
        if kinds else np.zeros((t_n, 0))
    gens = sc.dispatch.generators
    dg_pos = bus_positions(sc, gm, [g.bus for g in gens], "dispatch.generators")
    cap_pos = bus_positions(sc, gm, [cp.bus for cp in z.capacitors], "dispatch.zonal.capacitors")
    load_p, load_q = gm.background.p_load_kw, gm.background.q_load_kvar
    # partition
    sources = np.unique(np.r_[res_pos, dg_pos, cap_pos]).astype(int)
    g = closeness_graph(ldf, electrical_distance(ldf, sources))
    n = fe.n_bus
    bus_ec, bus_en = np.zeros(n), np.zeros(n)
    np.add.at(bus_ec, pos, ec)
    np.add.at(bus_en, pos, en)
    share_on = np.stack(occ, 1).sum(1) / max(float(np.stack(occ, 1).sum(1).max()), 1e-12)
    adjustable = np.zeros((t_n, n))
    np.add.at(adjustable.T, pos, (hi_j - lo_j).T)
    if kinds:
        np.add.at(adjustable.T, res_pos, avail.T)
    data = AreaData(bus_ec, bus_en, (load_p * share_on[:, None]).sum(0) * dt, adjustable,
                    np.abs(load_p - load_p.mean(axis=0, keepdims=True)))
    w = Weights(*z.weights, min_buses=z.min_buses, max_buses=z.max_buses)
    parts, scores, seed_scores = partition(g, data, w)
    area_of_bus = np.zeros(n, dtype=int)
    for k, p in enumerate(parts):
        area_of_bus[list(p)] = k
    d_n = len(parts)
    width = np.maximum(hi_j - lo_j, 1e-9).mean(axis=0)
    share = np.zeros((d_n, n))
    for j, b in enumerate(pos):
        share[area_of_bus[b], b] += width[j]
    has_ev = share.sum(axis=1) > 0
    share[~has_ev, :] = (area_of_bus[None, :] == np.flatnonzero(~has_ev)[:, None])
    share = share / share.sum(axis=1, keepdims=True)
    agg = np.zeros((len(pos), d_n))
    agg[np.arange(len(pos)), area_of_bus[pos]] = 1.0
    area_lo, area_hi = lo_j @ agg, hi_j @ agg
    y_lo, y_hi = y_lo_j @ agg, y_hi_j @ agg
    y_lo[-1] = ENERGY_SHARE * y_hi[-1]  # the coordinated day delivers the ASAP energy
    price = np.array([sc.dispatch.price_at(float(m)) for m in
                      hz.start_min + hz.dt_min * np.arange(t_n)])
    net = ZonalNetwork(
        dt_h=dt, load_p_kw=load_p, load_q_kvar=load_q, price_per_kwh=price, res_bus=res_pos,
        res_avail_kw=avail, dg_bus=dg_pos, dg_max_kw=np.array([x.p_max_kw for x in gens]),
        dg_cost_per_kwh=np.array([x.cost_per_kwh for x in gens]),
        dg_kg_per_kwh=np.array([x.kg_per_kwh for x in gens]), cap_bus=cap_pos,
        cap_step_kvar=np.array([cp.step_kvar for cp in z.capacitors]),
        cap_steps=np.array([cp.steps for cp in z.capacitors], dtype=int), area_share=share,
        ev_lo_kw=area_lo, ev_hi_kw=area_hi,
        ev_y_lo_kwh=y_lo - 1e-6, ev_y_hi_kwh=y_hi + 1e-6,
        area_of_bus=area_of_bus, v_min_pu=sc.grid.v_min_pu, v_max_pu=sc.grid.v_max_pu,
        substation_kw=sc.grid.substation_kw, curtail_per_kwh=z.curtail_per_kwh,
        thermal_share=z.thermal_share, thermal_kg_per_kwh=z.thermal_kg_per_kwh,
        quota_kg_per_kwh=z.quota_kg_per_kwh, carbon_price_per_t=z.carbon_price_per_t,
        carbon_step_t=z.carbon_step_t, carbon_growth=z.carbon_growth,
        demand_charge_per_kw=z.demand_charge_per_kw, v2g_wear_per_kwh=z.v2g_wear_per_kwh)
    plan = solve_zonal_network(net, ldf)
    # before: uncoordinated EVs, renewables at availability, no diesel, no curtailment
    p_before = load_p.copy()
    np.add.at(p_before.T, pos, ev0.T)
    if kinds:
        np.add.at(p_before.T, res_pos, -avail.T)
    buy = p_before.sum(axis=1)
    e_t = float(z.thermal_share * (z.thermal_kg_per_kwh - z.quota_kg_per_kwh)
                * np.maximum(buy, 0.0).sum() * dt / 1000.0)
    carbon = float(ladder_cost(e_t, z.carbon_price_per_t, z.carbon_step_t, z.carbon_growth))
    purchase = float(price @ np.maximum(buy, 0.0) * dt + z.demand_charge_per_kw * buy.max())
    curtail = float(np.maximum(-buy, 0.0).sum() * dt * z.curtail_per_kwh)  # no export
    before_costs = {"purchase": purchase, "diesel": 0.0, "curtailment": curtail,
                    "carbon": carbon, "total": purchase + curtail + carbon,
                    "peak_kw": float(buy.max())}
    ac = PandapowerAc(fe)
    ac_before = ac.solve(p_before, load_q)
    ac_after = ac.solve(plan.p_bus_kw, plan.q_bus_kvar) if plan.feasible else ac_before
    for _ in range(AC_ROUNDS):  # LinDistFlow has no losses: tighten v_min by AC's shortfall
        short = net.v_min_pu - float(np.nanmin(ac_after.vm_pu))
        if not plan.feasible or short <= 0:
            break
        net = replace(net, v_min_pu=net.v_min_pu + short + 1e-3)
        plan = solve_zonal_network(net, ldf)
        ac_after = ac.solve(plan.p_bus_kw, plan.q_bus_kvar) if plan.feasible else ac_after
    areas = aggregation_layer(sc, net, plan, ev0, pos, price) if plan.feasible else None
    return ZonalStudy(parts, scores, seed_scores, net, plan, before_costs, p_before, ev0,
                      ac_before, ac_after, pos, np.asarray(fe.parent), np.asarray(fe.bus_index),
                      areas)


def aggregation_layer(sc: Scenario, net: ZonalNetwork, plan: ZonalPlan, ev0: FloatArray,
                      pos: np.ndarray, price: FloatArray) -> list[AreaTracking]:
    """Each area tracks its target ``P^Z`` with price-responsive users
    (``dispatch.zonal_agg``): base demand per period = the area's uncoordinated EV energy;
    periods from the import price (highest = peak, lowest = valley, the rest flat)."""
    hz = sc.horizon
    levels = np.unique(price)
    period = np.where(price == levels.max(), PEAK, np.where(price == levels.min(), VALLEY,
                                                           FLAT))
    out = []
    for d in range(plan.area_p_kw.shape[1]):
        ev_area = ev0[:, net.area_of_bus[pos] == d].sum(axis=1)
        base = np.array([ev_area[period == j].sum() * hz.dt_h for j in range(3)])
        other = plan.area_p_kw[:, d] - plan.ev_kw[:, d]
        out.append(track_area(plan.area_p_kw[:, d], other, base, period, net.ev_lo_kw[:, d],
                              net.ev_hi_kw[:, d], np.full(hz.n_intervals, -np.inf),
                              net.ev_y_hi_kwh[:, d], hz.dt_h))
    return out
