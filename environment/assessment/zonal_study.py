"""``run_sim.py dispatch --method zonal``: the two-layer low-carbon dispatch on a day (bilevel
zonal dispatch paper).

1. **Fleets**: ``n_days`` sampled days per station from the behaviour model, their expected
   generalized batteries and the uncoordinated (ASAP) charging
   (``environment.planning.zonal_setup.station_aggregates``).
2. **Partition and distribution layer** (``environment.planning.zonal_setup.plan_zonal``).
3. **Before**: the uncoordinated day (load + uncoordinated EVs - renewables - the diesel as
   the paper runs it: at full output when ``dg_must_run``, else off; a surplus the feeder
   cannot export is curtailed, every plant in proportion to its output).
4. **Aggregation layer** on one realised day (a fresh draw of every station's vehicles, not one
   the plan was built on): trading prices, rounds of the areas' answers and the distribution
   layer's targets until they agree (``environment.planning.zonal_interaction``), vehicles
   scheduled by user type (``environment.planning.zonal_areas``); the two-layer nodal
   injections AC-checked at every interval, every vehicle's set-points replayed through its
   own energy balance (``Fleet`` dynamics, not the sets the schedule used).

Costs on one basis (``dispatch.zonal_costs.day_costs``): the before day, the distribution
layer's plan and the two-layer result are each priced at the purchase of their own AC power
flow (pandapower; losses included), with their own diesel and renewable schedules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dispatch.zonal_agg import AreaTracking
from dispatch.zonal_costs import CostBasis, DayCosts, day_costs
from dispatch.zonal_dn import ZonalPlan
from environment.grid_setup import build_grid_model
from environment.planning.zonal_areas import (
    AreaSets,
    area_fleets,
    redispatch,
    reschedule,
    schedule_areas,
    station_sets,
    trading_prices,
    two_layer_injections,
)
from environment.planning.zonal_interaction import Rounds, capability_ratios, iterate_targets
from environment.planning.zonal_setup import (
    ENERGY_SHARE,
    ZonalSetup,
    plan_zonal,
    station_aggregates,
)
from environment.summaries import CostParts
from flexibility.common import FloatArray
from flexibility.fleet import Fleet
from grid.ac import AcResult, PandapowerAc
from grid.layers import GridModel
from scenarios.behaviour import BehaviourModel
from scenarios.config import Scenario
from scenarios.fleetgen import draw_sessions, fleet_from_sessions

__all__ = ["ENERGY_SHARE", "TwoLayer", "ZonalStudy", "run_zonal_study", "vehicle_check"]
ENERGY_TOL_KWH = 1e-4


@dataclass(frozen=True)
class TwoLayer:
    """The aggregation layer on the realised day and the two-layer result.

    Attributes:
        tracks: Each area's answer.
        omega_z: Trading prices ``(T, D)`` (eq. 11).
        q_target_kvar: Reactive targets ``(T, D)`` (eq. 10).
        station_kw: Vehicles' power summed per station ``(T, J)``.
        vehicle_deviation_kw: What the vehicles could not follow of their targets ``(T, D)``
            (the corrected station powers, or the areas' EV trajectories when the correction
            round is infeasible).
        override_kwh: Energy the correction round moved the stations away from the users'
            response (``sum |corrected - first|``).
        p_bus_kw: Two-layer nodal consumption ``(T, n)`` (after the correction round when it is
            feasible, else the layers' own injections).
        ac: Its AC check.
        redispatch: The distribution layer's correction round around the vehicles.
        rounds: The rounds between the layers (targets, their moves, convergence).
        ratios: Each area's regulation demand over its EVs' capability ``(T, D)`` at the
            last targets.
        costs: Table 2's parts of the two-layer result (AC purchase).
        energy_violations: Vehicles whose replayed energy leaves its bounds or misses its
            departure requirement.
        n_vehicles: Vehicles dispatched; ``type_counts`` per user type 1-4.
        seconds: Wall time of the layer.
        uncoordinated_kwh: The realised vehicles' uncoordinated (as-soon-as-possible) charging
            energy, the basis their own schedules compare with.
    """

    tracks: list[AreaTracking]
    omega_z: FloatArray
    q_target_kvar: FloatArray
    station_kw: FloatArray
    vehicle_deviation_kw: FloatArray
    override_kwh: float
    p_bus_kw: FloatArray
    ac: AcResult
    redispatch: ZonalPlan
    rounds: Rounds
    ratios: FloatArray
    costs: DayCosts
    energy_violations: int
    n_vehicles: int
    type_counts: list[int]
    seconds: float
    uncoordinated_kwh: float


@dataclass(frozen=True)
class ZonalStudy:
    """Partition, the "before" day, the distribution layer's plan and the two layers (AC
    results from pandapower)."""

    setup: ZonalSetup
    before: CostParts
    after: CostParts
    before_p_bus_kw: FloatArray
    ev_before_kw: FloatArray
    ac_before: AcResult
    ac_after: AcResult
    feeder_parent: np.ndarray
    bus_index: np.ndarray
    two: TwoLayer | None


def vehicle_check(fleet: Fleet, p_kw: FloatArray, tol_kwh: float = ENERGY_TOL_KWH) -> int:
    """Vehicles whose set-points break their own energy balance: replay
    ``e_t+1 = e_t + dt (eta_ch p+ - p- / eta_dis)`` from ``e_init`` and count those leaving
    ``[e_min, e_max]`` while connected, drawing power while disconnected, or arriving at their
    departure below ``min(e_req, reachable)`` (the independent check of the schedule)."""
    n, t_n = p_kw.shape
    t = np.arange(t_n)
    a, d = fleet.arrival_idx[:, None], fleet.departure_idx[:, None]
    on = (t >= a) & (t < d)
    bad = np.any(~on & (np.abs(p_kw) > 1e-6), axis=1)
    step = fleet.dt_h * (fleet.eta_ch * np.maximum(p_kw, 0.0)
                         - np.maximum(-p_kw, 0.0) / fleet.eta_dis)
    since = np.maximum(-fleet.arrival_idx, 0) * fleet.r_ch_kwh  # plugged in before t = 0
    e0 = np.minimum(fleet.upper_energy_kwh(), fleet.e_init_kwh + since)
    e = e0[:, None] + np.cumsum(step, axis=1)  # energy after each interval
    lo, hi = fleet.lower_energy_kwh()[:, None], fleet.upper_energy_kwh()[:, None]
    bad |= np.any(on & ((e < lo - tol_kwh) | (e > hi + tol_kwh)), axis=1)
    last = np.clip(fleet.departure_idx - 1, 0, t_n - 1)
    in_h = fleet.departure_idx <= t_n
    req = fleet.reachable_requirement_kwh()
    bad |= in_h & (fleet.departure_idx > np.maximum(fleet.arrival_idx, 0)) \
        & (e[np.arange(n), last] < req - tol_kwh)
    return int(bad.sum())


def _fleets(scenario: Scenario, behaviour: BehaviourModel, n_days: int,
            rng: np.random.Generator) -> list[Fleet]:
    sc, hz = scenario, scenario.horizon
    return [fleet_from_sessions(draw_sessions(behaviour, hz, st.n_ev, n_days,
                                              sc.behaviour.v2g_share, r), sc.ev, hz)
            for st, r in zip(sc.stations, rng.spawn(len(sc.stations)), strict=True)]


def run_zonal_study(scenario: Scenario, behaviour: BehaviourModel, seed: int,
                    n_days: int = 50, progress: bool = False) -> ZonalStudy:
    """The steps of the module docstring (``progress``: a bar over the four steps)."""
    from tqdm import tqdm

    sc, hz = scenario, scenario.horizon
    bar = tqdm(total=4, desc="zonal: fleets", unit="step", disable=not progress, leave=False)
    gm = build_grid_model(sc)
    dt = hz.dt_h
    rng = np.random.default_rng([seed, 16])
    fleets = _fleets(sc, behaviour, n_days, rng)
    agg = station_aggregates(tuple(s_.name for s_ in sc.stations), fleets, hz.n_intervals, dt)
    bar.update()
    bar.set_description("zonal: partition and distribution layer")
    setup = plan_zonal(sc, gm, agg)
    bar.update()
    bar.set_description("zonal: uncoordinated day and AC checks")
    net, ev0 = setup.net, agg.asap_kw
    basis = cost_basis(sc, setup)
    p_before, res_before, dg_before = before_day(setup, ev0)
    ac = PandapowerAc(gm.feeder)
    ac_before = ac.solve(p_before, net.load_q_kvar)
    before_costs = parts(day_costs(basis, ac_before.p_slack_kw, dg_before, net.res_avail_kw,
                                   res_before))
    ac_plan = ac.solve(setup.plan.p_bus_kw, setup.plan.q_bus_kvar) if setup.plan.feasible \
        else ac_before
    after_costs = parts(day_costs(basis, ac_plan.p_slack_kw, setup.plan.dg_kw,
                                  net.res_avail_kw, setup.plan.res_kw))
    two = None
    bar.update()
    bar.set_description("zonal: aggregation layer")
    if setup.plan.feasible:
        realised = [f.row(0) for f in _fleets(sc, behaviour, 1, rng)]  # not planned on
        two = two_layers(sc, setup, realised, gm, ac)
    bar.update()
    bar.close()
    return ZonalStudy(setup, before_costs, after_costs, p_before, ev0, ac_before, ac_plan,
                      np.asarray(gm.feeder.parent),
                      np.asarray(gm.feeder.bus_index), two)


def cost_basis(sc: Scenario, setup: ZonalSetup) -> CostBasis:
    """The scenario's prices on Table 2's basis (``dispatch.zonal_costs``)."""
    net, z = setup.net, sc.dispatch.zonal
    return CostBasis(net.dt_h, setup.price, z.demand_charge_per_kw, net.dg_cost_per_kwh,
                     net.dg_kg_per_kwh, z.curtail_per_kwh, z.thermal_share,
                     z.thermal_kg_per_kwh, z.quota_kg_per_kwh, z.carbon_price_per_t,
                     z.carbon_step_t, z.carbon_growth, z.carbon_per_interval)


def parts(c: DayCosts) -> CostParts:
    """The summary's form of a day's costs."""
    return CostParts(purchase=c.purchase, diesel=c.diesel, curtailment=c.curtailment,
                     carbon=c.carbon, total=c.total, peak_kw=c.peak_kw)


def before_day(setup: ZonalSetup, ev_kw: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Step 3 of the module docstring: nodal consumption ``(T, n)``, renewable output
    ``(T, K)`` and diesel output ``(T, M)`` of the uncoordinated day with station powers
    ``ev_kw`` ``(T, J)``."""
    net = setup.net
    t_n = net.load_p_kw.shape[0]
    dg = np.broadcast_to(net.dg_max_kw if net.dg_must_run else 0.0 * net.dg_max_kw,
                         (t_n, len(net.dg_bus))).astype(float)
    p = net.load_p_kw.copy()
    np.add.at(p.T, setup.station_pos, ev_kw.T)
    np.add.at(p.T, net.dg_bus, -dg.T)
    avail = net.res_avail_kw
    surplus = np.maximum(avail.sum(axis=1) - p.sum(axis=1), 0.0)  # no export: curtailed
    keep = 1.0 - np.divide(surplus, avail.sum(axis=1), out=np.zeros(t_n),
                           where=avail.sum(axis=1) > 0)
    res = avail * keep[:, None]
    np.add.at(p.T, net.res_bus, -res.T)
    return p, res, dg


def two_layers(sc: Scenario, setup: ZonalSetup, realised: list[Fleet], gm: GridModel,
               ac: PandapowerAc) -> TwoLayer:
    """Step 4 of the module docstring."""
    t0 = time.perf_counter()
    t_n, z = sc.horizon.n_intervals, sc.dispatch.zonal
    omega_z = trading_prices(setup, gm.ldf)
    afs = area_fleets(setup, realised, t_n)
    sets = AreaSets.of_fleets(afs)
    rounds = iterate_targets(setup, gm, sets, omega_z,
                             np.array([g.cost_per_kwh for g in sc.dispatch.generators]),
                             z.targets, z.target_tol_kw, z.target_rounds)
    tracks = rounds.tracks
    scheds = schedule_areas(afs, tracks)
    station_kw = np.zeros((t_n, len(realised)))
    for af, sch in zip(afs, scheds, strict=True):
        np.add.at(station_kw.T, af.station, sch.p_kw)
    first_kw = station_kw
    fix = redispatch(setup, station_sets(afs, len(realised), t_n), station_kw, gm)
    if fix.feasible:
        scheds = reschedule(afs, fix.ev_kw, scheds)
        station_kw = np.zeros((t_n, len(realised)))
        for af, sch in zip(afs, scheds, strict=True):
            np.add.at(station_kw.T, af.station, sch.p_kw)
        p_bus = fix.p_bus_kw + (station_kw - fix.ev_kw) @ setup.station_incidence
        q_bus = fix.q_bus_kvar
    else:
        p_bus, q_bus = two_layer_injections(setup, station_kw, tracks)
    seconds = time.perf_counter() - t0
    ac_two = ac.solve(p_bus, q_bus)
    res = fix.res_kw if fix.feasible else setup.plan.res_kw
    dg = fix.dg_kw if fix.feasible else setup.plan.dg_kw
    costs = day_costs(cost_basis(sc, setup), ac_two.p_slack_kw, dg, setup.net.res_avail_kw,
                      res)
    bad = 0
    for af, sch in zip(afs, scheds, strict=True):
        for j in np.unique(af.station):
            bad += vehicle_check(realised[j], sch.p_kw[af.station == j])
    types = np.concatenate([af.types[(af.batt.u_max_kw != 0).any(axis=1)
                                     | (af.batt.u_min_kw != 0).any(axis=1)] for af in afs])
    return TwoLayer(tracks, omega_z, rounds.targets.q_kvar, station_kw,
                    np.stack([s.deviation_kw for s in scheds], axis=1),
                    float(np.abs(fix.ev_kw - first_kw).sum() * setup.net.dt_h)
                    if fix.feasible else 0.0, p_bus, ac_two, fix, rounds,
                    capability_ratios(setup, sets, rounds.targets.p_kw), costs, bad,
                    int(types.size),
                    [int((types == k).sum()) for k in (1, 2, 3, 4)], seconds,
                    float(sum(af.asap_kw.sum() for af in afs) * setup.net.dt_h))
