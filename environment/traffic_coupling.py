"""Traffic-driven EV sessions for the co-simulator (the other side of ``traffic.interface``).

For a scenario with a ``[traffic]`` section the dynamic user equilibrium decides who charges
where and when: every charging or V2G user becomes an EV session at the station whose link it
used. The station sees the EV when its service starts — after the trip and any queue at the
ports — and the EV leaves when its service ends. :class:`AssignedArrivals` is the travel model
that tells each EV agent that arrival time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.config import Scenario, traffic_offset_min, traffic_problem
from scenarios.errors import InputError
from scenarios.fleetgen import SessionDraw
from traffic.assignment import AssignmentResult
from traffic.scenario import (
    build_demand,
    build_network,
    build_prices,
    scenario_ue,
)


@dataclass(frozen=True)
class TrafficSessions:
    """EV sessions per station from a traffic equilibrium (arrays of shape ``(1, N)``).

    Attributes:
        draws: Sessions per station: ``arrival_min`` is the service start, relative to the
            horizon start.
        trip_start_min: Departure from the origin per station and session (horizon minutes).
        result: The dynamic equilibrium.
    """

    draws: dict[str, SessionDraw]
    trip_start_min: dict[str, np.ndarray]
    result: AssignmentResult


class AssignedArrivals:
    """Travel model: each EV reaches its station when the traffic equilibrium says.

    Args:
        arrival: Equilibrium arrival (service start, horizon minutes) by EV id; the mapping is
            kept, not copied, so it may be filled after the model is handed out.
    """

    def __init__(self, arrival: dict[int, float] | None = None) -> None:
        self.arrival: dict[int, float] = {} if arrival is None else arrival

    def arrival_min(self, ev_id: int, station: str, planned_min: float) -> float:
        """The equilibrium arrival of this EV (its planned trip start if unknown)."""
        return self.arrival.get(ev_id, planned_min)


def traffic_sessions(scenario: Scenario) -> TrafficSessions:
    """Run the dynamic equilibrium of the scenario and turn station users into sessions.

    Raises:
        InputError: A traffic station that is not one of the scenario's stations (or on
            another bus), or demand outside the horizon (``scenarios.config.traffic_problem``).
    """
    cfg = scenario.traffic
    if cfg is None:
        raise InputError("traffic: the scenario has no [traffic] section to run")
    problem = traffic_problem(scenario)  # checked on loading; again for model_copy'd scenarios
    if problem:
        raise InputError(problem)
    names = [s.name for s in scenario.stations]
    offset = traffic_offset_min(cfg.start, scenario.horizon.start_min)
    net = build_network(cfg, scenario.base_dir)
    res = scenario_ue(cfg, net, build_demand(cfg, net), build_prices(cfg))
    ld = res.loading
    trips = {t.vid: t for t in ld.trips}
    rows: dict[str, list[tuple[float, float, float, float, bool]]] = {n: [] for n in names}
    for a, vid, exit_ in zip(ld.link, ld.vid, ld.exit_min, strict=True):
        ln = net.links[int(a)]
        if ln.kind not in ("charge", "v2g"):
            continue
        trip = trips[int(vid)]
        start = exit_ - ln.service_min
        soc = cfg.soc_arrival_v2g if trip.user == "v2g" else cfg.soc_arrival_charging
        rows[ln.station].append((start + offset, ln.service_min, soc,
                                 trip.depart_min + offset, trip.user == "v2g"))
    draws, starts = {}, {}
    for name, r in rows.items():
        r.sort()
        arr = np.array(r, dtype=float).reshape(-1, 5)
        draws[name] = SessionDraw(arrival_min=arr[None, :, 0], dwell_min=arr[None, :, 1],
                                  soc_init=arr[None, :, 2], v2g=arr[None, :, 4].astype(bool))
        starts[name] = arr[:, 3]
    return TrafficSessions(draws=draws, trip_start_min=starts, result=res)
