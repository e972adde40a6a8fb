"""EV agent: one charging session as a simpy process.

Life of a session (``session`` generator):

1. **travel** — the model's travel model (``traffic.interface``) decides when the EV reaches
   its station;
2. **queue** — it requests a charger (the station's simpy ``Resource``). Queue rule ``wait``:
   it waits until a charger frees or its planned departure comes, whichever is first, and leaves
   unserved in the second case; rule ``leave``: it leaves at once when every charger is busy;
3. **plugged in** — it is controllable for the whole intervals between plug-in and departure
   (``a = ceil(t_plug / dt)``, ``d = floor(t_dep / dt)``, the station layer's grid) and integrates
   the set-points its station gives it: ``e += eta_ch p dt`` when charging, ``e += p dt / eta_dis``
   when discharging;
4. **departs** at its planned departure with whatever energy it has; a shortfall against the
   departure requirement is recorded, never hidden.

A session that began before the horizon (previous-day carry-over) is plugged in at the start
with the energy it reached by charging immediately since its arrival.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import simpy

if TYPE_CHECKING:
    from agents.station import StationAgent


@dataclass(frozen=True)
class EVSpec:
    """Battery and charger parameters of one EV (kWh, kW).

    Attributes:
        capacity_kwh: Battery capacity.
        e_min_kwh: Lower energy bound while plugged in (V2G floor).
        e_max_kwh: Upper energy bound while plugged in.
        e_req_kwh: Energy required at departure.
        p_ch_max_kw: Charging limit.
        p_dis_max_kw: Discharging limit (0: no V2G).
        eta_ch: Charging efficiency.
        eta_dis: Discharging efficiency.
    """

    capacity_kwh: float
    e_min_kwh: float
    e_max_kwh: float
    e_req_kwh: float
    p_ch_max_kw: float
    p_dis_max_kw: float
    eta_ch: float
    eta_dis: float


class EVAgent(mesa.Agent):
    """An EV with one session at one station.

    Args:
        model: The co-simulation model (provides ``env``, ``travel``, ``dt_min``, ``queue_rule``).
        station: Its station agent.
        spec: Battery and charger parameters.
        planned_arrival_min: Arrival drawn by the behaviour model (minutes from horizon start).
        departure_min: Planned departure (minutes from horizon start).
        e_arrival_kwh: Energy at arrival.
    """

    def __init__(self, model: mesa.Model, station: StationAgent, spec: EVSpec,
                 planned_arrival_min: float, departure_min: float, e_arrival_kwh: float) -> None:
        super().__init__(model)
        self.station = station
        self.spec = spec
        self.planned_arrival_min = planned_arrival_min
        self.departure_min = departure_min
        self.e_arrival_kwh = e_arrival_kwh
        self.e_kwh = e_arrival_kwh
        self.arrival_min: float | None = None
        self.plug_in_min: float | None = None
        self.left_min: float | None = None
        self.state = "travelling"
        self.charged_kwh = 0.0  # energy drawn from the grid
        self.discharged_kwh = 0.0  # energy fed to the grid
        self.controlled_ticks = 0

    # -- time grid -------------------------------------------------------------------------
    def departure_idx(self) -> int:
        """First interval the EV is no longer controllable."""
        return math.floor(self.departure_min / self.model.dt_min + 1e-9)

    def controllable_at(self, k: int) -> bool:
        """Plugged in for the whole interval ``k``."""
        if self.state != "plugged" or self.plug_in_min is None:
            return False
        a = math.ceil(self.plug_in_min / self.model.dt_min - 1e-9)
        return a <= k < self.departure_idx()

    # -- physics ---------------------------------------------------------------------------
    def apply(self, p_kw: float, dt_h: float) -> None:
        """Integrate one interval at net power ``p_kw`` (charging positive)."""
        s = self.spec
        if p_kw >= 0.0:
            self.e_kwh += s.eta_ch * p_kw * dt_h
            self.charged_kwh += p_kw * dt_h
        else:
            self.e_kwh += p_kw * dt_h / s.eta_dis
            self.discharged_kwh += -p_kw * dt_h
        self.controlled_ticks += 1

    @property
    def shortfall_kwh(self) -> float:
        """Energy missing against the departure requirement (0 when met)."""
        return max(0.0, self.spec.e_req_kwh - self.e_kwh)

    # -- simpy process ---------------------------------------------------------------------
    def session(self, env: simpy.Environment):
        """The session as a simpy generator (travel, queue, plug in, depart)."""
        arrival = max(0.0, self.model.travel.arrival_min(self.unique_id, self.station.name,
                                                         self.planned_arrival_min))
        if arrival > env.now:
            yield env.timeout(arrival - env.now)
        self.arrival_min = self.planned_arrival_min if self.planned_arrival_min < 0 else env.now
        if env.now >= self.departure_min:
            self._leave(env, "left_unserved")
            return
        self.state = "queued"
        chargers = self.station.chargers
        if self.model.queue_rule == "leave" and chargers.count >= chargers.capacity:
            self._leave(env, "left_unserved")
            return
        with chargers.request() as req:
            result = yield req | env.timeout(self.departure_min - env.now)
            if req not in result:
                self._leave(env, "left_unserved")
                return
            self.plug_in_min = (self.planned_arrival_min if self.planned_arrival_min < 0
                                else env.now)
            self.state = "plugged"
            self.station.plug(self)
            yield env.timeout(max(0.0, self.departure_min - env.now))
            self.station.unplug(self)
            self._leave(env, "departed")

    def _leave(self, env: simpy.Environment, state: str) -> None:
        self.state = state
        self.left_min = env.now
