"""Who takes part in a co-simulated horizon: stations, their forecast pools and the realised EVs.

:func:`populate` turns a scenario into agents, in a fixed order (mesa numbers agents in
creation order, and the tables are keyed by those numbers): per station of the scenario its
:class:`agents.station.StationAgent`, then that station's EVs.

* **Without ``[traffic]``** the behaviour model draws, per station, a pool of
  ``simulation.n_scenarios`` days (the forecast of later arrivals, never deviated) and one
  realised day, which :func:`environment.validation.apply_deviations` turns into the sessions
  that really happen (no-shows, early departures, arrival-SOC errors).
* **With ``[traffic]``** the dynamic user equilibrium decides the sessions
  (``environment.traffic_coupling``); the equilibrium is also the forecast (a one-day pool).
  Each EV's planned arrival is its trip start, and its arrival at the station is the
  equilibrium's service start (filled into ``arrivals``, see :func:`resolve_travel`).

**Travel model precedence** (:func:`resolve_travel`): an explicit travel model wins, else the
traffic equilibrium's (scenario with ``[traffic]``), else the scheduled arrival of the
behaviour model.

:func:`day_ahead_case` builds the station-layer case of the day-ahead commitment from the pools
(``assessment.da_statistic``, calibrated on fresh days with ``assessment.coverage_days``); the
grid agent turns it into the committed boundary (``GridAgent.commit_day_ahead``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mesa
import numpy as np

from agents.context import QueuePolicy, SimContext, StationDirectory
from agents.ev import EVAgent
from agents.pool import FuturePool
from agents.session import EVSpec
from agents.station import StationAgent
from environment.traffic_coupling import AssignedArrivals, TrafficSessions, traffic_sessions
from environment.validation import Deviations, apply_deviations
from flexibility.alpha_sets import CaseSets, case_sets
from flexibility.cases import Case, make_case
from flexibility.fleet import Fleet
from scenarios.behaviour import BehaviourModel
from scenarios.config import Scenario
from scenarios.fleetgen import SessionDraw, draw_sessions, fleet_from_sessions
from traffic.interface import ScheduledArrival, TravelModel


@dataclass(frozen=True)
class RunStreams:
    """The random streams of one run, spawned from the model's generator in this order.

    Spawning more children later leaves the earlier ones as they were.

    Attributes:
        day: Realised days (one child per station).
        pool: Forecast pools (one child per station).
        calls: The TSO's calls.
        deviations: Deviations of the realised days (one child per station).
        fresh: Fresh days of the DA calibration (one child per station).
        dispatch: The dispatch's training days and realised data day (``dispatch:*``).
    """

    day: np.random.Generator
    pool: np.random.Generator
    calls: np.random.Generator
    deviations: np.random.Generator
    fresh: np.random.Generator
    dispatch: np.random.Generator

    @classmethod
    def spawn(cls, rng: np.random.Generator) -> RunStreams:
        """The six streams of a run."""
        return cls(*rng.spawn(6))


@dataclass
class Population:
    """The agents of a run and the forecast they were built with.

    Attributes:
        stations: Station agents by name (scenario order).
        evs: Realised EVs (creation order).
        pool_fleets: Forecast pool of every station (scenario order).
        traffic: The traffic equilibrium (scenarios with ``[traffic]``).
    """

    stations: dict[str, StationAgent] = field(default_factory=dict)
    evs: list[EVAgent] = field(default_factory=list)
    pool_fleets: list[Fleet] = field(default_factory=list)
    traffic: TrafficSessions | None = None


def queue_policy(scenario: Scenario) -> QueuePolicy:
    """What the scenario's EVs do at a full station (``simulation.queue_rule`` and its
    parameters; ``agents.context``)."""
    s = scenario.simulation
    return QueuePolicy(rule=s.queue_rule, patience_min=s.patience_min,
                       reroute_max_km=s.reroute_max_km, reroute_speed_kmh=s.reroute_speed_kmh,
                       reroute_detour_factor=s.reroute_detour_factor,
                       reroute_kwh_per_km=s.reroute_kwh_per_km,
                       reroute_max_hops=s.reroute_max_hops)


def station_directory(scenario: Scenario) -> StationDirectory:
    """The stations with coordinates, which rerouted EVs can reach (stations registered by
    the kernel once built)."""
    coords = {st.name: (st.lon_deg, st.lat_deg) for st in scenario.stations
              if st.lon_deg is not None and st.lat_deg is not None}
    return StationDirectory(coords, scenario.simulation.reroute_detour_factor)


def resolve_travel(scenario: Scenario, travel: TravelModel | None
                   ) -> tuple[TravelModel, dict[int, float]]:
    """The run's travel model: the explicit one, else the traffic equilibrium's, else scheduled.

    Returns:
        The travel model and the equilibrium arrivals by EV id it reads (filled by
        :func:`populate`; unused unless the traffic model was chosen).
    """
    arrivals: dict[int, float] = {}
    if travel is not None:
        return travel, arrivals
    if scenario.traffic is not None:
        return AssignedArrivals(arrivals), arrivals
    return ScheduledArrival(), arrivals


def populate(model: mesa.Model, ctx: SimContext, scenario: Scenario, behaviour: BehaviourModel,
             deviations: Deviations, streams: RunStreams,
             arrivals: dict[int, float]) -> Population:
    """Stations with their pools and realised EVs (see module docstring).

    Args:
        model: The mesa model the agents belong to.
        ctx: The simulation context.
        scenario: The scenario.
        behaviour: Fitted behaviour model.
        deviations: How the realised EVs deviate from the forecast.
        streams: The run's random streams.
        arrivals: Equilibrium arrival by EV id, filled for scenarios with ``[traffic]``.
    """
    sc, hz, sim = scenario, scenario.horizon, scenario.simulation
    n_st = len(sc.stations)
    dev_streams = iter(streams.deviations.spawn(n_st))
    days, pools = streams.day.spawn(n_st), streams.pool.spawn(n_st)
    pop = Population()
    alpha, v2g = sc.assessment.alpha, sc.behaviour.v2g_share
    ts = traffic_sessions(sc) if sc.traffic is not None else None
    pop.traffic = ts
    for st, r_day, r_pool in zip(sc.stations, days, pools, strict=True):
        if ts is None:
            pool_fleet = fleet_from_sessions(
                draw_sessions(behaviour, hz, st.n_ev, sim.n_scenarios, v2g, r_pool), sc.ev, hz)
            day = draw_sessions(behaviour, hz, st.n_ev, 1, v2g, r_day)
        else:
            day = ts.draws[st.name]
            pool_fleet = fleet_from_sessions(day, sc.ev, hz)
        pop.pool_fleets.append(pool_fleet)
        pool = FuturePool.build(pool_fleet, hz.n_intervals,
                                alpha if sim.package == "vehicle-box" else None)
        chargers = st.chargers or max(1, day.arrival_min.shape[1])
        station = StationAgent(model, ctx, st.name, chargers, pool, alpha)
        pop.stations[st.name] = station
        trip = None if ts is None else np.asarray(ts.trip_start_min[st.name])
        for i, ev_agent in realised_evs(model, ctx, scenario, station, day, deviations,
                                        next(dev_streams), trip):
            pop.evs.append(ev_agent)
            if ts is not None:
                arrivals[ev_agent.unique_id] = float(day.arrival_min[0][i])
    return pop


def ev_spec(scenario: Scenario, v2g: bool) -> EVSpec:
    """Battery and charger parameters of the scenario's EVs."""
    ev = scenario.ev
    cap = ev.capacity_kwh
    return EVSpec(capacity_kwh=cap, e_min_kwh=ev.soc_min * cap, e_max_kwh=ev.soc_max * cap,
                  e_req_kwh=ev.soc_departure_min * cap, p_ch_max_kw=ev.p_ch_max_kw,
                  p_dis_max_kw=ev.p_dis_max_kw if v2g else 0.0, eta_ch=ev.eta_ch,
                  eta_dis=ev.eta_dis)


def realised_evs(model: mesa.Model, ctx: SimContext, scenario: Scenario, station: StationAgent,
                 forecast: SessionDraw, deviations: Deviations, rng: np.random.Generator,
                 trip_start_min: np.ndarray | None = None) -> list[tuple[int, EVAgent]]:
    """The realised EVs of a station (the day's draw after the deviations).

    A session carried over from the previous day arrives with the energy immediate charging
    reached by the horizon start; sessions over before the horizon are dropped.

    Args:
        model: The mesa model the agents belong to.
        ctx: The simulation context.
        scenario: The scenario (EV parameters).
        station: The EVs' station.
        forecast: The station's day ``(1, N)`` before deviations.
        deviations: How the realised EVs deviate from it.
        rng: The station's deviation stream.
        trip_start_min: Trip start per forecast session (traffic): the EV's planned arrival.

    Returns:
        Each EV created with the index of its session in ``forecast``.
    """
    ev = scenario.ev
    real = apply_deviations(forecast, deviations, ctx.dt_min, rng)
    day = real.draw
    created: list[tuple[int, EVAgent]] = []
    for i, arr, dwell, soc, v2g, actual in zip(real.kept, day.arrival_min[0], day.dwell_min[0],
                                               day.soc_init[0], day.v2g[0],
                                               real.actual_departure_min, strict=True):
        spec = ev_spec(scenario, bool(v2g))
        e0 = float(soc) * ev.capacity_kwh
        departure = float(arr + dwell)
        if arr < 0:  # carry-over: immediate charging until the horizon starts
            hi = max(spec.e_max_kwh, e0)
            e0 = min(hi, e0 + ev.eta_ch * ev.p_ch_max_kw * (-float(arr)) / 60.0)
        if departure <= 0 or actual <= 0:
            continue
        planned = float(arr) if trip_start_min is None else float(trip_start_min[i])
        agent = EVAgent(model, ctx, station, spec, planned, float(actual), e0,
                        declared_departure_min=departure)
        created.append((int(i), agent))
    return created


def day_ahead_case(scenario: Scenario, behaviour: BehaviourModel, pop: Population,
                   rng_fresh: np.random.Generator) -> tuple[Case, float, CaseSets | None]:
    """The station-layer case of the day-ahead commitment (the α battery of the pools).

    The kept share is ``ceil(alpha M) / M`` of the ``M`` pool days; with
    ``assessment.coverage_days > 1`` (and no ``[traffic]``) fresh sampled days calibrate the
    kept share and shrink as in ``assess``.

    Returns:
        The case, its kept share and the fresh days (``None``: uncalibrated).
    """
    sc, hz, a = scenario, scenario.horizon, scenario.assessment
    names = tuple(pop.stations)
    m = pop.pool_fleets[0].shape[0]
    keep = math.ceil(a.alpha * m - 1e-9) / m
    case = make_case(names, pop.pool_fleets, hz.n_intervals, 0, keep, a.aggregation,
                     statistic=a.da_statistic, definition=a.alpha_definition)
    fresh = None
    if sc.traffic is None and a.coverage_days > 1:
        fresh = case_sets(names, [
            fleet_from_sessions(draw_sessions(behaviour, hz, st.n_ev, a.coverage_days,
                                              sc.behaviour.v2g_share, r), sc.ev, hz)
            for st, r in zip(sc.stations, rng_fresh.spawn(len(sc.stations)), strict=True)],
            hz.n_intervals)
    return case, keep, fresh
