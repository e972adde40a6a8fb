"""The co-simulation kernel: a mesa ``Model`` on a simpy clock (minutes).

One model simulates one horizon (a day on the default scenario). It owns the simpy
``Environment``, the agents (mesa ``AgentSet`` per type), one ``numpy.random.Generator`` (from the
seed; every random stream is spawned from it in a fixed order) and a :class:`Recorder`.

EV sessions are simpy processes (``agents.ev``). Every ``dt_min`` a tick process runs the phases
of interval ``k`` in this fixed order, **after** every EV event of the same minute (its timeout
has a lower priority than simpy's normal events, so plug-ins and departures at ``k dt`` are seen):

1. stations update their RT envelopes and deliverable boxes over ``[k, T)``;
2. the grid agent clips them (LinDistFlow), AC-checks and corrects the corners, packages the
   boundary, checks that the must-charge load fits the network and publishes the boundary
   capped at the distribution layer, with an infeasibility flag and the unsheddable load
   (``agents.grid_operator``);
3. the transmission agent calls on the boundary of interval ``k`` (its policy decides which:
   the one published now, the one published at ``k - 1`` or the day-ahead one);
4. the call is split to stations with one ``theta`` inside their published boxes, and each
   station splits its share to its EVs (``agents.station``);
5. EVs integrate the set-points over the interval (energy applied at dispatch);
6. the grid agent solves AC at the realised operating point and labels every violated limit;
   everything is recorded, including whether the call lay inside the DA, previous and current
   boundary of interval ``k`` (``environment.validation``).

The realised EVs deviate from the forecast (no-shows, early departures, arrival-SOC errors;
``environment.validation.Deviations``); the forecast pools do not.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import simpy
from simpy.events import Event
from tqdm import tqdm

from agents.ev import EVSpec
from agents.grid_operator import GridAgent, cap_at_distribution
from agents.station import FuturePool, StationAgent
from agents.transmission import TransmissionAgent
from environment.grid_setup import build_grid_model
from environment.recorder import Recorder
from environment.validation import (
    DEFAULT_DEVIATIONS,
    Deviations,
    RealisedEV,
    apply_deviations,
    inside,
)
from flexibility.alpha_sets import case_sets
from flexibility.cases import make_case
from flexibility.fleet import Fleet
from flexibility.packaging import disaggregate
from flexibility.stations import TOTAL_LABEL
from grid.alpha_layers import case_layers
from scenarios.behaviour import BehaviourModel
from scenarios.config import Scenario
from scenarios.fleetgen import draw_sessions, fleet_from_sessions
from traffic.interface import ScheduledArrival, TravelModel

LATE = 2  # priority of tick timeouts: after simpy's URGENT (0) and NORMAL (1) events
DELIVERY_TOL = 0.01  # a call counts as delivered within 1 % (plus 1 W)


class LateTimeout(Event):
    """A timeout processed after every normal event scheduled for the same time."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, LATE, delay)


class CoSimModel(mesa.Model):
    """Rolling real-time validation run of one scenario.

    Args:
        scenario: The scenario.
        behaviour: Fitted behaviour model.
        seed: Seed of the model's generator.
        policy: Call policy (default: the scenario's ``simulation.policy``).
        travel: Travel model deciding arrivals (default: the behaviour model's times).
        progress: Show a progress bar over ticks.
        deviations: How the realised EVs deviate from the forecast (default:
            ``DEFAULT_DEVIATIONS``; ``Deviations.none()`` for the forecast day itself).
    """

    def __init__(self, scenario: Scenario, behaviour: BehaviourModel, seed: int,
                 policy: str | None = None, travel: TravelModel | None = None,
                 progress: bool = False, deviations: Deviations | None = None) -> None:
        super().__init__(rng=np.random.default_rng(seed))
        sc, hz, sim = scenario, scenario.horizon, scenario.simulation
        self.scenario = sc
        self.dt_min = float(hz.dt_min)
        self.dt_h = hz.dt_h
        self.n_intervals = hz.n_intervals
        self.queue_rule = sim.queue_rule
        self.policy = policy or sim.policy
        self.env = simpy.Environment()
        self.travel = travel or ScheduledArrival()
        self.recorder = Recorder()
        self.progress = progress
        self.deviations = DEFAULT_DEVIATIONS if deviations is None else deviations
        self.evs: list[RealisedEV] = []
        # realised day, future pools, TSO calls, deviations of the realised day, fresh days of
        # the DA calibration (spawning more children leaves the earlier ones as they were)
        streams = self.rng.spawn(5)
        self._dev_streams = iter(streams[3].spawn(len(sc.stations)))
        grid = build_grid_model(sc)
        alpha, ev = sc.assessment.alpha, sc.ev
        self.stations: dict[str, StationAgent] = {}
        self._pool_fleets: list[Fleet] = []
        days = streams[0].spawn(len(sc.stations))
        pools = streams[1].spawn(len(sc.stations))
        if sc.traffic is not None:
            self._traffic_stations(alpha)
        else:
            for st, r_day, r_pool in zip(sc.stations, days, pools, strict=True):
                pool_draw = draw_sessions(behaviour, hz, st.n_ev, sim.n_scenarios,
                                          sc.behaviour.v2g_share, r_pool)
                pool_fleet = fleet_from_sessions(pool_draw, ev, hz)
                self._pool_fleets.append(pool_fleet)
                pool = FuturePool.build(pool_fleet, hz.n_intervals)
                day = draw_sessions(behaviour, hz, st.n_ev, 1, sc.behaviour.v2g_share, r_day)
                chargers = st.chargers or max(1, day.arrival_min.shape[1])
                station = StationAgent(self, st.name, chargers, pool, alpha)
                self.stations[st.name] = station
                self._create_evs(station, day)
        self.grid_agent = GridAgent(self, grid, ev.eta_ch, ev.eta_dis)
        # the day-ahead commitment: the α battery of the pools (assess's DA transmission layer,
        # placed at the kept days' mean reference); with ``assessment.coverage_days`` the kept
        # share and shrink are calibrated on fresh sampled days as in ``assess``
        names = tuple(self.stations)
        m = self._pool_fleets[0].shape[0]
        keep = math.ceil(alpha * m - 1e-9) / m
        da_case = make_case(names, self._pool_fleets, hz.n_intervals, 0, keep,
                            sc.assessment.aggregation)
        fresh = None
        n_fresh = sc.assessment.coverage_days
        if sc.traffic is None and n_fresh > 1:
            fresh = case_sets(names, [
                fleet_from_sessions(draw_sessions(behaviour, hz, st.n_ev, n_fresh,
                                                  sc.behaviour.v2g_share, r), ev, hz)
                for st, r in zip(sc.stations, streams[4].spawn(len(sc.stations)),
                                 strict=True)], hz.n_intervals)
        self.da_layers = case_layers(grid, da_case, keep, fresh, (alpha,), alpha)
        self.da_boundary = cap_at_distribution(self.da_layers, list(grid.stations))
        self.tso = TransmissionAgent(self, self.da_boundary.total, self.policy,
                                     streams[2], sim.regulation_period_min)
        for agent in self.evs:
            self.env.process(agent.session(self.env))
        self.env.process(self._ticks())

    def _traffic_stations(self, alpha: float) -> None:
        """Stations and EVs from the traffic equilibrium (scenarios with ``[traffic]``).

        The equilibrium is the forecast of later arrivals too (a one-scenario pool), and the
        travel model hands every EV its equilibrium arrival at the station.
        """
        from environment.traffic_coupling import AssignedArrivals, traffic_sessions

        sc, hz = self.scenario, self.scenario.horizon
        ts = traffic_sessions(sc)
        self.traffic = ts
        travel = AssignedArrivals()
        self.travel = travel
        for st in sc.stations:
            day = ts.draws[st.name]
            pool_fleet = fleet_from_sessions(day, sc.ev, hz)
            self._pool_fleets.append(pool_fleet)
            pool = FuturePool.build(pool_fleet, hz.n_intervals)
            chargers = st.chargers or max(1, day.arrival_min.shape[1])
            station = StationAgent(self, st.name, chargers, pool, alpha)
            self.stations[st.name] = station
            t_station = day.arrival_min[0]
            t_trip = np.asarray(ts.trip_start_min[st.name])
            for i, ev_agent in self._create_evs(station, day):
                ev_agent.planned_arrival_min = float(t_trip[i])
                travel.arrival[ev_agent.unique_id] = float(t_station[i])

    def _create_evs(self, station: StationAgent, forecast) -> list[tuple[int, RealisedEV]]:
        """The realised EVs of a station (the day's draw after the deviations).

        Returns:
            Each EV created with the index of its session in ``forecast``.
        """
        ev = self.scenario.ev
        cap = ev.capacity_kwh
        real = apply_deviations(forecast, self.deviations, self.dt_min, next(self._dev_streams))
        day = real.draw
        created: list[tuple[int, RealisedEV]] = []
        for i, arr, dwell, soc, v2g, actual in zip(real.kept, day.arrival_min[0],
                                                   day.dwell_min[0], day.soc_init[0],
                                                   day.v2g[0], real.actual_departure_min,
                                                   strict=True):
            spec = EVSpec(capacity_kwh=cap, e_min_kwh=ev.soc_min * cap,
                          e_max_kwh=ev.soc_max * cap, e_req_kwh=ev.soc_departure_min * cap,
                          p_ch_max_kw=ev.p_ch_max_kw,
                          p_dis_max_kw=ev.p_dis_max_kw if v2g else 0.0,
                          eta_ch=ev.eta_ch, eta_dis=ev.eta_dis)
            e0 = float(soc) * cap
            departure = float(arr + dwell)
            if arr < 0:  # carry-over: immediate charging until the horizon starts
                hi = max(spec.e_max_kwh, e0)
                e0 = min(hi, e0 + ev.eta_ch * ev.p_ch_max_kw * (-float(arr)) / 60.0)
            if departure <= 0 or actual <= 0:
                continue
            agent = RealisedEV(self, station, spec, float(arr), float(actual), e0, departure)
            created.append((int(i), agent))
            self.evs.append(agent)
        return created

    # -- clock -----------------------------------------------------------------------------
    def _ticks(self):
        bar = tqdm(total=self.n_intervals, desc="simulating", unit="tick",
                   disable=not self.progress, leave=False)
        for k in range(self.n_intervals):
            yield LateTimeout(self.env, max(0.0, k * self.dt_min - self.env.now))
            self.tick = k
            self.step()
            bar.update()
        bar.close()

    def run(self) -> None:
        """Simulate the horizon; EVs still plugged in at its end are reported as such."""
        self.env.run(until=self.n_intervals * self.dt_min + 1e-6)

    def release(self) -> None:
        """Let the finished model be garbage-collected.

        mesa 3 numbers agents per model in a class-level ``Agent._ids`` dictionary keyed by the
        model, which keeps every model (and its hundreds of MB of envelope pools) alive for the
        life of the process; drop this model's entry.
        """
        mesa.Agent._ids.pop(self, None)

    def step(self) -> None:
        """The phases of one tick (see module docstring)."""
        k = self.tick
        names = list(self.stations)
        envs, boxes = {}, {}
        for name, station in self.stations.items():
            envs[name], boxes[name] = station.rt_update(k, self.n_intervals)
        pub = self.grid_agent.publish(envs, boxes)
        b_all = pub.transmission.total
        p_down, p_up = float(b_all.p_down_kw[0]), float(b_all.p_up_kw[0])
        edges = {"da": self.tso.edges(k, "da"), "prev": self.tso.edges(k, "prev"),
                 "rt": (p_down, p_up)}
        call = self.tso.call(k, p_down, p_up, self.dt_min)
        self.tso.receive(b_all)
        lo = np.array([pub.transmission[n].p_down_kw[0] for n in names])
        hi = np.array([pub.transmission[n].p_up_kw[0] for n in names])
        share = disaggregate(np.array([call]), lo[None], hi[None])[0]
        delivered = np.zeros(len(names))
        for j, name in enumerate(names):
            delivered[j], evs, p_ev = self.stations[name].dispatch(k, float(share[j]), self.dt_h)
            if evs:
                self.recorder.add_many("setpoints", t=k, station=name,
                                       ev=[ev.unique_id for ev in evs], p_kw=p_ev.tolist())
        ac = self.grid_agent.operating_point(k, delivered)
        self._record(k, names, envs, pub, edges, call, share, delivered, ac)

    # -- recording -------------------------------------------------------------------------
    def _record(self, k, names, envs, pub, edges, call, share, delivered, ac) -> None:
        g = self.grid_agent.grid
        vm = ac.vm_pu[0]
        label = self.grid_agent.labels(ac)[0]
        layers = pub.layers
        total = float(delivered.sum())
        ok = abs(total - call) <= DELIVERY_TOL * abs(call) + 1e-3
        rows = [*names, TOTAL_LABEL]
        n_st = len(names)
        b = pub.transmission
        packaged = layers.transmission
        dist = layers.distribution
        station_ok = [bool(abs(d - s) <= DELIVERY_TOL * abs(s) + 1e-3)
                      for d, s in zip(delivered, share, strict=True)]
        unshed = pub.unsheddable_kw[0]
        nan = [np.nan] * n_st
        in_layer = {layer: bool(inside(np.array(call), *map(np.array, edges[layer])))
                    for layer in edges}
        self.recorder.add_many(
            "ticks", t=k, time_min=k * self.dt_min, station=rows,
            p_up_kw=[float(x.p_up_kw[0]) for _, x in b.labelled()],
            p_down_kw=[float(x.p_down_kw[0]) for _, x in b.labelled()],
            packaged_p_up_kw=[float(x.p_up_kw[0]) for _, x in packaged.labelled()],
            packaged_p_down_kw=[float(x.p_down_kw[0]) for _, x in packaged.labelled()],
            station_p_max_kw=[float(envs[n].p_max_kw[0]) for n in names]
            + [float(sum(envs[n].p_max_kw[0] for n in names))],
            station_p_min_kw=[float(envs[n].p_min_kw[0]) for n in names]
            + [float(sum(envs[n].p_min_kw[0] for n in names))],
            dist_p_max_kw=[float(x.p_max_kw[0]) for _, x in dist.labelled()],
            dist_p_min_kw=[float(x.p_min_kw[0]) for _, x in dist.labelled()],
            da_p_up_kw=[*nan, edges["da"][1]], da_p_down_kw=[*nan, edges["da"][0]],
            prev_p_up_kw=[*nan, edges["prev"][1]], prev_p_down_kw=[*nan, edges["prev"][0]],
            call_kw=[*share.tolist(), call], delivered_kw=[*delivered.tolist(), total],
            q_kvar=0.0, delivered_ok=[*station_ok, ok],
            inside_da=[False] * n_st + [in_layer["da"]],
            inside_prev=[False] * n_st + [in_layer["prev"]],
            inside_rt=[False] * n_st + [in_layer["rt"]],
            grid_infeasible=bool(pub.infeasible[0]),
            must_serve_kw=[*pub.must_serve_kw[0].tolist(), float(pub.must_serve_kw[0].sum())],
            unsheddable_kw=[*unshed.tolist(), float(unshed.sum())],
            connected=[len(self.stations[n].controllable(k)) for n in names]
            + [sum(len(s.controllable(k)) for s in self.stations.values())],
            queue=[self.stations[n].queue_length for n in names]
            + [sum(s.queue_length for s in self.stations.values())],
            min_vm_pu=float(np.nanmin(vm)) if np.isfinite(vm).any() else np.nan,
            max_vm_pu=float(np.nanmax(vm)) if np.isfinite(vm).any() else np.nan,
            max_loading_pct=float(np.nanmax(ac.loading_pct)),
            p_slack_kw=float(ac.p_slack_kw[0]), ac_converged=bool(ac.converged[0]),
            ac_violation=label)
        p_bg, q_bg = g.bg(k, 1)
        inj = np.zeros(g.feeder.n_bus)
        inj[g.positions] = delivered
        self.recorder.add_many(
            "network", t=k, bus=g.feeder.bus_index.tolist(),
            p_background_kw=p_bg[0].tolist(), q_background_kvar=q_bg[0].tolist(),
            p_station_kw=inj.tolist(), vm_pu=vm.tolist())

    def ev_frame(self):
        """Per-EV outcomes (after :meth:`run`)."""
        import pandas as pd

        rows = []
        horizon_idx = self.n_intervals
        for ev in self.evs:
            s = ev.spec
            state = "plugged_at_end" if ev.state == "plugged" else ev.state
            left = max(0, ev.departure_idx() - horizon_idx)
            reachable = (ev.e_kwh + s.eta_ch * s.p_ch_max_kw * self.dt_h * left
                         >= min(s.e_req_kwh, s.e_max_kwh) - 1e-6)
            rows.append({
                "ev": ev.unique_id, "station": ev.station.name,
                "planned_arrival_min": ev.planned_arrival_min, "arrival_min": ev.arrival_min,
                "plug_in_min": ev.plug_in_min, "departure_min": ev.departure_min,
                "left_min": ev.left_min, "state": state,
                "declared_departure_min": ev.declared_departure_min,
                "left_early": ev.left_early,
                "wait_min": (ev.plug_in_min - ev.arrival_min) if ev.plug_in_min is not None
                and ev.arrival_min is not None and ev.planned_arrival_min >= 0 else 0.0,
                "e_arrival_kwh": ev.e_arrival_kwh, "e_departure_kwh": ev.e_kwh,
                "soc_departure": ev.e_kwh / s.capacity_kwh, "e_req_kwh": s.e_req_kwh,
                "charged_kwh": ev.charged_kwh, "discharged_kwh": ev.discharged_kwh,
                "shortfall_kwh": ev.shortfall_kwh if state in ("departed", "left_unserved")
                else float("nan"),
                "requirement_reachable": bool(reachable) if state == "plugged_at_end" else None,
                "v2g": s.p_dis_max_kw > 0,
                "controlled_ticks": ev.controlled_ticks})
        return pd.DataFrame(rows)
