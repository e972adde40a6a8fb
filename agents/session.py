"""What an EV and its station share: battery parameters, the session outcome, the charge point.

The EV agent (``agents.ev``) and the station agent (``agents.station``) do not import each
other. The EV knows its station only through the :class:`ChargePoint` protocol: it requests
and releases one of the station's chargers (a simpy ``Resource``) and notifies the station
when it plugs in and out, by session id. The station owns the energy of every plugged-in
session and hands back a :class:`SessionOutcome` at unplug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import simpy


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


@dataclass(frozen=True)
class SessionOutcome:
    """Energy account of one session (at unplug, or now for a session still plugged in).

    Attributes:
        e_kwh: Battery energy.
        charged_kwh: Energy drawn from the grid.
        discharged_kwh: Energy fed to the grid.
        controlled_ticks: Intervals the station dispatched the session.
    """

    e_kwh: float
    charged_kwh: float = 0.0
    discharged_kwh: float = 0.0
    controlled_ticks: int = 0


class ChargePoint(Protocol):
    """The station as an EV sees it."""

    @property
    def name(self) -> str:
        """Station name (what the travel model routes to)."""
        ...

    @property
    def chargers(self) -> simpy.Resource:
        """The charge points (request one, release it on leaving)."""
        ...

    def plug(self, session_id: int, spec: EVSpec, e_kwh: float, plug_in_min: float,
             departure_min: float) -> None:
        """A session got a charger (``departure_min``: the departure declared at plug-in)."""
        ...

    def unplug(self, session_id: int) -> SessionOutcome:
        """A session leaves; its final energy account."""
        ...

    def outcome(self, session_id: int) -> SessionOutcome:
        """Energy account of a session still plugged in."""
        ...
