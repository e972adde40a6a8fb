"""The co-simulation kernel: a mesa ``Model`` on a simpy clock (minutes).

One model simulates one horizon (a day on the default scenario). It owns the simpy clock (in
the agents' :class:`agents.context.SimContext`), one ``numpy.random.Generator`` (from the seed;
every random stream is spawned from it in a fixed order, ``environment.population.RunStreams``)
and a :class:`environment.recorder.Recorder`. Who takes part comes from
``environment.population``; what a tick records is declared in ``environment.records``. The
kernel itself only runs the clock.

EV sessions are simpy processes (``agents.ev``). Every ``dt_min`` a tick process runs the phases
of interval ``k`` in this fixed order, **after** every EV event of the same minute (its timeout
has a lower priority than simpy's normal events, so plug-ins and departures at ``k dt`` are seen):

1. stations hand over their scenario fleets over ``[k, T)`` (the plugged-in EVs exactly
   beside sampled days of later arrivals; ``simulation.package = "vehicle-box"``: their RT
   envelopes and deliverable boxes instead);
2. the grid agent packages the α battery as ``assess`` does at τ
   (``grid.alpha_layers.realtime_layers``: inner batteries inside the LinDistFlow/AC network
   boxes, α intersection), checks that the package's must-serve load fits the network and
   publishes the boundary capped at the distribution layer, with the package's flag, its
   unsheddable load and the stations' declared baseline; it also checks the plugged-in EVs'
   exact must-charge of the interval (what they cannot shed now) against the AC network: the
   tick's physical grid feasibility (``agents.grid_operator``);
3. the transmission agent calls: on the day-ahead reserve around the declared baseline
   (``reserve-*``), or on the boundary of interval ``k`` its policy chooses (the one published
   now, the one published at ``k - 1`` or the day-ahead one the grid agent committed to before
   the horizon, ``GridAgent.commit_day_ahead``), or as a day planner planned (then the grid
   agent commits day-ahead on the background with the planner's devices at their expected
   output and clips in real time on the background the plan schedules:
   ``DayPlanner.forecast_background``, ``PlannedDay.planned_background``);
4. the call is split to stations with one ``theta`` inside their published boxes (beyond them
   up to the network boxes and the EVs' exact ranges of the interval, :meth:`CoSimModel._split`);
   under a planner each station is called for its planned power and a station's shortfall is
   shared over the others (:meth:`CoSimModel._carry`); each station splits its share to its
   EVs (``agents.station``);
5. stations integrate their EVs' set-points over the interval (energy applied at dispatch);
6. the grid agent solves AC at the realised operating point and labels every violated limit;
   everything is recorded, including whether the call lay inside the reserve rows, the DA,
   previous and current boundary of interval ``k`` (``environment.validation``).

The realised EVs deviate from the forecast (no-shows, early departures, arrival-SOC errors;
``environment.validation.Deviations``); the forecast pools do not.

**Memory.** mesa 3 numbers agents per model in the class-level dictionary ``Agent._ids``
keyed by the model, which keeps every model (and its hundreds of MB of envelope pools) alive
for the life of the process. Call :meth:`CoSimModel.release` once the results are read; it is
the one place that works around this.
"""

from __future__ import annotations

from collections.abc import Generator

import mesa
import numpy as np
import pandas as pd
import simpy
from simpy.events import Event, EventPriority
from tqdm import tqdm

from agents.context import SimContext
from agents.ev import EVAgent
from agents.grid_operator import GridAgent, Publication
from agents.station import SplitRule, StationAgent
from agents.transmission import RULES, TransmissionAgent
from environment.day_plan import DayPlanner, PlannedDay, PlanningInputs
from environment.grid_setup import build_grid_model, with_background
from environment.population import (
    RunStreams,
    day_ahead_case,
    populate,
    queue_policy,
    resolve_travel,
    station_directory,
)
from environment.recorder import Recorder
from environment.records import (
    DELIVERY_TOL,
    SCHEMAS,
    SetpointRows,
    TickOutcome,
    ev_frame,
    network_rows,
    tick_rows,
)
from environment.validation import DEFAULT_DEVIATIONS, Deviations
from flexibility.aggregation import Envelope
from flexibility.packaging import disaggregate, disaggregate_beyond, follow_calls
from scenarios.behaviour import BehaviourModel
from scenarios.config import Scenario
from traffic.interface import TravelModel

__all__ = ["DELIVERY_TOL", "LATE", "CoSimModel", "LateTimeout"]

# priority of tick timeouts: after simpy's URGENT (0) and NORMAL (1) events
LATE = EventPriority(2)


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
        travel: Travel model deciding arrivals. Precedence: this argument, else the traffic
            equilibrium (scenario with ``[traffic]``), else the behaviour model's times.
        progress: Show a progress bar over ticks.
        deviations: How the realised EVs deviate from the forecast (default:
            ``DEFAULT_DEVIATIONS``; ``Deviations.none()`` for the forecast day itself).
        planner: The day planner of a planning policy (``dispatch:*``;
            ``environment.planning.registry.planner_for``), injected: the kernel knows planners
            only through ``environment.day_plan``.
    """

    def __init__(self, scenario: Scenario, behaviour: BehaviourModel,
                 seed: int | np.random.SeedSequence,
                 policy: str | None = None, travel: TravelModel | None = None,
                 progress: bool = False, deviations: Deviations | None = None,
                 planner: DayPlanner | None = None) -> None:
        super().__init__(rng=np.random.default_rng(seed))
        sc, hz, sim = scenario, scenario.horizon, scenario.simulation
        self.scenario = sc
        self.policy = policy or sim.policy
        if planner is None and self.policy not in RULES:
            raise ValueError(f"call policy {self.policy!r} needs a day planner "
                             "(environment.planning.registry.planner_for)")
        self.progress = progress
        self.deviations = DEFAULT_DEVIATIONS if deviations is None else deviations
        self.recorder = Recorder(SCHEMAS)
        self.tick = 0
        travel_model, arrivals = resolve_travel(sc, travel)
        self.ctx = SimContext(env=simpy.Environment(), dt_min=float(hz.dt_min), dt_h=hz.dt_h,
                              n_intervals=hz.n_intervals, travel=travel_model,
                              queue=queue_policy(sc), stations=station_directory(sc))
        streams = RunStreams.spawn(self.rng)
        grid = build_grid_model(sc)
        pop = populate(self, self.ctx, sc, behaviour, self.deviations, streams, arrivals)
        self.stations: dict[str, StationAgent] = pop.stations
        self.ctx.stations.register(self.stations.values())
        self.evs: list[EVAgent] = pop.evs
        self.traffic = pop.traffic
        expected = None if planner is None else planner.forecast_background(sc, grid)
        self.grid_agent = GridAgent(self, grid if expected is None
                                    else with_background(grid, *expected),
                                    sc.ev.eta_ch, sc.ev.eta_dis)
        case, keep, fresh = day_ahead_case(sc, behaviour, pop, streams.fresh)
        da = self.grid_agent.commit_day_ahead(case, keep, fresh, sc.assessment.alpha)
        self.da_commitment = da
        self.da_layers, self.da_boundary = da.layers, da.boundary
        self.dispatch: PlannedDay | None = None
        if planner is not None:
            self.dispatch = planner.plan_day(PlanningInputs(
                scenario=sc, grid=grid, boundary=dict(self.da_boundary.stations),
                pools=pop.pool_fleets, ev_ref_kw=case.sets.ref_kw, rng=streams.dispatch))
            planned = self.dispatch.planned_background()
            if planned is not None:  # the DSO clips the real-time envelopes on its own plan
                self.grid_agent.grid = with_background(grid, *planned)
        self.tso = TransmissionAgent(self, self.da_boundary.total, self.policy, streams.calls,
                                     sim.regulation_period_min,
                                     None if self.dispatch is None else self.dispatch.plan,
                                     planned=planner is not None, reserve=da.reserve)
        for agent in self.evs:
            self.ctx.env.process(agent.session())
        self.ctx.env.process(self._ticks())

    # -- clock -----------------------------------------------------------------------------
    def _ticks(self) -> Generator[Event, object, None]:
        bar = tqdm(total=self.ctx.n_intervals, desc="simulating", unit="tick",
                   disable=not self.progress, leave=False)
        for k in range(self.ctx.n_intervals):
            yield LateTimeout(self.ctx.env, max(0.0, k * self.ctx.dt_min - self.ctx.env.now))
            self.tick = k
            self.step()
            bar.update()
        bar.close()

    def run(self) -> None:
        """Simulate the horizon; EVs still plugged in at its end are reported as such."""
        self.ctx.env.run(until=self.ctx.n_intervals * self.ctx.dt_min + 1e-6)

    def release(self) -> None:
        """Let the finished model be garbage-collected (see "Memory" in the module docstring).

        Drops this model's entry from mesa's class-level ``Agent._ids``.
        """
        mesa.Agent._ids.pop(self, None)

    def step(self) -> None:
        """The phases of one tick (see module docstring)."""
        k = self.tick
        names = list(self.stations)
        pub, envs = self._publish(k)
        fleet = np.array([st.one_step_range(k) for st in self.stations.values()]).reshape(-1, 2)
        must = self.grid_agent.must_charge(k, fleet[:, 0])
        b_all = pub.transmission.total
        p_down, p_up = float(b_all.p_down_kw[0]), float(b_all.p_up_kw[0])
        schedule = float(self.da_commitment.reserve.baseline_kw[k])
        baseline = (float(pub.baseline_kw[0]) if pub.baseline_kw is not None
                    else min(max(schedule, p_down), p_up))
        edges = {"da": self.tso.edges(k, "da"), "prev": self.tso.edges(k, "prev"),
                 "rt": (p_down, p_up), "reserve": self.tso.reserve_rows(k, baseline)}
        call = self.tso.call(k, p_down, p_up, self.ctx.dt_min, baseline)
        self.tso.receive(b_all)
        lo = np.array([pub.transmission[n].p_down_kw[0] for n in names])
        hi = np.array([pub.transmission[n].p_up_kw[0] for n in names])
        plan = self.tso.plan
        if plan is None:
            share = self._split(call, pub, lo, hi, fleet)
        else:  # the dispatch calls every station; beyond its box, what can still be carried
            share = self._carry(plan.station_calls_kw(k), pub, lo, hi, fleet)
        delivered = np.zeros(len(names))
        rule: SplitRule = ("vehicle-box" if self.scenario.simulation.package == "vehicle-box"
                           else "one-step")
        for j, name in enumerate(names):
            delivered[j], ids, p_ev = self.stations[name].dispatch(k, float(share[j]), rule)
            if ids.size:
                self.recorder.add(SetpointRows(t=k, station=name, ev=ids.tolist(),
                                               p_kw=p_ev.tolist()))
        done = None if plan is None else plan.realise(k, delivered)
        ac = self.grid_agent.operating_point(k, delivered,
                                             None if done is None else done.bg_p_kw,
                                             None if done is None else done.bg_q_kvar)
        outcome = TickOutcome(
            k=k, names=names, envs=envs, pub=pub, must=must, edges=edges, baseline_kw=baseline,
            schedule_kw=schedule, activated_kwh=self.tso.activated_kwh, call=call, share=share,
            delivered=delivered, ac=ac, label=self.grid_agent.labels(ac)[0],
            connected=[len(self.stations[n].controllable(k)) for n in names],
            queue=[self.stations[n].queue_length for n in names])
        self.recorder.add(tick_rows(outcome, self.ctx.dt_min))
        self.recorder.add(network_rows(k, self.grid_agent.grid, delivered, ac))
        if done is not None and self.dispatch is not None:
            self.recorder.add(self.dispatch.rows(k, done, ac, outcome.label))

    def _split(self, call: float, pub: Publication, lo: np.ndarray, hi: np.ndarray,
               fleet: np.ndarray) -> np.ndarray:
        """The call split to stations (phase 4).

        Inside the published boundary: one ``theta`` inside the station boxes. Under the α
        package a call beyond it is not refused: the DSO delivers what the fleet and the network
        can carry now, sharing the excess over each station's room up to the smaller of its
        network box (jointly feasible, AC-corrected) and its EVs' exact range of the interval
        (``flexibility.packaging.disaggregate_beyond``). The published boundary is the DSO's
        promise; the limits are what it can still do.
        """
        inside = lo.sum() - 1e-9 <= call <= hi.sum() + 1e-9
        if inside or self.scenario.simulation.package == "vehicle-box":
            return disaggregate(np.array([call]), lo[None], hi[None])[0]
        return disaggregate_beyond(call, lo, hi, *self._limits(pub, fleet))

    def _carry(self, calls: np.ndarray, pub: Publication, lo: np.ndarray, hi: np.ndarray,
               fleet: np.ndarray) -> np.ndarray:
        """Planned calls per station (``flexibility.packaging.follow_calls``).

        Each station's call ``s_j`` inside its published box ``[lo_j, hi_j]`` is kept; beyond
        it (α package) the station goes as far as its limits ``[min(L_j, lo_j),
        max(U_j, hi_j)]`` allow (:meth:`_limits`: what its network box and its EVs can still
        carry now), and what it cannot carry is shared over the other stations' room, inside
        their published boxes first, then up to their limits: the transmission side is called
        for the plan's total, which the DSO delivers wherever the stations together can.
        Under ``vehicle-box`` the limits are the boxes (that package promises nothing beyond
        them).
        """
        if self.scenario.simulation.package == "vehicle-box":
            return follow_calls(calls, lo, hi, lo, hi)
        lim_lo, lim_hi = self._limits(pub, fleet)
        return follow_calls(calls, lo, hi, np.minimum(lim_lo, lo), np.maximum(lim_hi, hi))

    @staticmethod
    def _limits(pub: Publication, fleet: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What every station can still carry in the tick beyond its published box.

        The smaller of its network box (jointly feasible, AC-corrected) and its EVs' exact
        range of the interval (``fleet``, ``(J, 2)``: ``StationAgent.one_step_range``); where
        the network cannot carry the must-serve load, its AC cap ``lambda * must_serve_j``
        holds too.
        """
        net = pub.layers.dist_boxes
        lim_lo = np.maximum(net.lo_kw[0], fleet[:, 0])
        lim_hi = np.minimum(net.hi_kw[0], fleet[:, 1])
        lam = float(pub.servable_share[0])
        if lam < 1.0:
            lim_hi = np.minimum(lim_hi, lam * pub.must_serve_kw[0])
        return lim_lo, lim_hi

    def _publish(self, k: int) -> tuple[Publication, dict[str, Envelope]]:
        """Phases 1–2: the stations' real-time sets and the DSO's checked publication.

        ``simulation.package = "alpha-battery"``: the α battery of every station's plugged-in
        EVs beside ``package_days`` sampled days of later arrivals, packaged as ``assess``
        does; ``"vehicle-box"``: the sum of constant per-vehicle boxes inside the station
        envelopes.

        Returns:
            The publication and the station-layer rows per station.
        """
        sim = self.scenario.simulation
        if sim.package == "vehicle-box":
            envs, boxes = {}, {}
            for name, station in self.stations.items():
                envs[name], boxes[name] = station.rt_update(k)
            return self.grid_agent.publish(envs, boxes), envs
        fleets = [st.rt_fleet(k, sim.package_days) for st in self.stations.values()]
        a = self.scenario.assessment
        pub = self.grid_agent.publish_package(fleets, k, self.ctx.n_intervals - k, a.alpha,
                                              a.aggregation, a.alpha_definition)
        package = pub.layers.package
        rows = package.station if package is not None else pub.layers.distribution
        return pub, {n: rows[n] for n in self.stations}

    def ev_frame(self) -> pd.DataFrame:
        """Per-EV outcomes (after :meth:`run`; ``environment.records.EVRow``)."""
        return ev_frame(self.evs, self.ctx.n_intervals, self.ctx.dt_h)
