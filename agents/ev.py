"""EV agent: one charging session as a simpy process.

Life of a session (:meth:`EVAgent.session`):

1. **travel** — the context's travel model (``traffic.interface``) decides when the EV reaches
   its station;
2. **queue** — it requests a charger (the station's simpy ``Resource``, FIFO) and waits at most
   its patience or until its departure, whichever is first (``agents.context.QueuePolicy``:
   ``wait`` has no patience, ``leave`` none at all); when the patience runs out first under
   ``reroute`` it drives to the nearest station with a free charger
   (``agents.context.StationDirectory``) and queues there, else it leaves without a charger;
3. **plugged in** — it tells the station its session id, battery, energy and *declared*
   departure (``ChargePoint.plug``); from then on the station owns the session's energy and
   integrates the set-points it gives (``agents.station``);
4. **departs** at its *actual* departure (``departure_min <= declared_departure_min``: a user
   may leave before the departure declared at plug-in, ``environment.validation.Deviations``),
   unplugs and gets the session's energy account back (``ChargePoint.unplug``); a shortfall
   against the departure requirement is recorded, never hidden.

A session that began before the horizon (previous-day carry-over) is plugged in at the start
with the energy it reached by charging immediately since its arrival.

How it got (or did not get) a charger is its :attr:`EVAgent.access`: ``direct`` (a charger was
free), ``queued`` (after waiting at its own station), ``rerouted`` (at another station),
``balked`` (its patience ran out with nowhere to go), ``left_at_departure`` (its departure came
while it queued or before it arrived), ``pending`` (still travelling or queued at the end).

The EV knows its station only through ``agents.session.ChargePoint`` (no import of
``agents.station``).
"""

from __future__ import annotations

from collections.abc import Generator

import mesa
import simpy

from agents.context import SimContext
from agents.session import ChargePoint, EVSpec, SessionOutcome

__all__ = ["EVAgent", "EVSpec"]


class EVAgent(mesa.Agent):
    """An EV with one session at one station; its ``unique_id`` is the session id.

    Args:
        model: The mesa model the agent belongs to (registration only).
        ctx: The simulation context.
        station: Its station.
        spec: Battery and charger parameters.
        planned_arrival_min: Arrival (or trip start) drawn by the behaviour or traffic model
            (minutes from horizon start; negative: carried over from the previous day).
        departure_min: Actual departure (minutes from horizon start).
        e_arrival_kwh: Energy at arrival.
        declared_departure_min: Departure declared to the station at plug-in (default: the
            actual one; never before it).
    """

    def __init__(self, model: mesa.Model, ctx: SimContext, station: ChargePoint, spec: EVSpec,
                 planned_arrival_min: float, departure_min: float, e_arrival_kwh: float,
                 declared_departure_min: float | None = None) -> None:
        super().__init__(model)
        self.ctx = ctx
        self.station = station
        self.spec = spec
        self.planned_arrival_min = planned_arrival_min
        self.departure_min = departure_min
        self.declared_departure_min = (departure_min if declared_departure_min is None
                                       else max(declared_departure_min, departure_min))
        self.e_arrival_kwh = e_arrival_kwh
        self.outcome = SessionOutcome(e_kwh=e_arrival_kwh)  # updated at unplug
        self.arrival_min: float | None = None
        self.plug_in_min: float | None = None
        self.left_min: float | None = None
        self.state = "travelling"
        self.home_station = station.name
        self.access = "pending"
        self.reroute_km = 0.0

    def departure_idx(self) -> int:
        """First interval the station believes the EV no longer controllable (declared)."""
        return self.ctx.departure_interval(self.declared_departure_min)

    @property
    def left_early(self) -> bool:
        """Whether the actual departure precedes the declared one."""
        return self.departure_min < self.declared_departure_min - 1e-9

    def final_outcome(self) -> SessionOutcome:
        """Energy account now: from the station while plugged in, else as unplugged."""
        return self.station.outcome(self.unique_id) if self.state == "plugged" else self.outcome

    # -- simpy process ---------------------------------------------------------------------
    def session(self) -> Generator[simpy.Event, object, None]:
        """The session as a simpy generator (travel, queue or reroute, plug in, depart)."""
        env = self.ctx.env
        arrival = max(0.0, self.ctx.travel.arrival_min(self.unique_id, self.station.name,
                                                       self.planned_arrival_min))
        if arrival > env.now:
            yield env.timeout(arrival - env.now)
        self.arrival_min = self.planned_arrival_min if self.planned_arrival_min < 0 else env.now
        if env.now >= self.departure_min:
            self._unserved("left_at_departure")
            return
        self.state = "queued"
        visited = {self.station.name}
        policy = self.ctx.queue
        while True:
            served = yield from self._visit(len(visited) > 1)
            if served:
                return
            if env.now >= self.departure_min - 1e-9:
                self._unserved("left_at_departure")
                return
            target = None
            if policy.rule == "reroute" and len(visited) <= policy.reroute_max_hops:
                target = self.ctx.stations.nearest_free(self.station.name, visited,
                                                        policy.reroute_max_km)
            if target is None or env.now + policy.drive_min(target[1]) >= self.departure_min:
                self._unserved("balked")
                return
            station, km = target
            self.state = "travelling"
            yield env.timeout(policy.drive_min(km))
            self.station = station  # type: ignore[assignment]  # a ChargePoint registered by name
            self.reroute_km += km
            self.e_arrival_kwh = max(0.0, self.e_arrival_kwh - km * policy.reroute_kwh_per_km)
            self.outcome = SessionOutcome(e_kwh=self.e_arrival_kwh)
            visited.add(station.name)
            self.state = "queued"

    def _visit(self, rerouted: bool) -> Generator[simpy.Event, object, bool]:
        """Queue at the current station within the patience; if a charger comes, charge until
        the departure. Returns whether it got a charger."""
        env = self.ctx.env
        chargers = self.station.chargers
        patience = self.ctx.queue.patience
        if patience <= 0.0 and chargers.count >= chargers.capacity:
            return False
        limit = self.departure_min - env.now
        asked = env.now
        with chargers.request() as req:
            result = yield req | env.timeout(limit if patience <= 0.0 else min(patience, limit))
            if req not in result:  # type: ignore[operator]
                return False
            self.plug_in_min = (self.planned_arrival_min if self.planned_arrival_min < 0
                                else env.now)
            self.access = ("rerouted" if rerouted else "queued" if env.now > asked else "direct")
            self.state = "plugged"
            self.station.plug(self.unique_id, self.spec, self.e_arrival_kwh, self.plug_in_min,
                              self.declared_departure_min)
            yield env.timeout(max(0.0, self.departure_min - env.now))
            self.outcome = self.station.unplug(self.unique_id)
            self._leave("departed")
        return True

    def _unserved(self, access: str) -> None:
        self.access = access
        self._leave("left_unserved")

    def _leave(self, state: str) -> None:
        self.state = state
        self.left_min = self.ctx.env.now
