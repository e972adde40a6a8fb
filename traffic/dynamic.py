"""Dynamic network loading of individual vehicles, event-driven on a simpy clock (minutes).

Every simulated vehicle is a simpy process that departs at its time and traverses its path link
by link. By default a simulated vehicle is one vehicle (a flow of 2 veh/h is two vehicles); a
*platoon* (``Trip.n_veh = w > 1``) is one simulated vehicle that carries ``w`` vehicles moving
together — a point mass of ``w`` vehicles (see ``traffic.assignment`` for how platoons form).
Link models:

* ``queue`` — point queue: the vehicle needs the free-flow time ``t0`` and leaves FIFO at the
  capacity rate, ``exit = max(enter + t0, previous exit + 60 / capacity)``. Cumulative departures
  are then exactly those of deterministic queueing theory. A platoon of ``w`` is discharged
  like ``w`` vehicles arriving together: its members leave at ``first, first + h, ...,
  first + (w - 1) h`` with ``first = max(enter + t0, previous exit + h)`` and ``h = 60 /
  capacity``; the link's previous exit becomes the last member's, and the platoon moves on at
  its members' mean exit ``first + (w - 1) h / 2`` (for ``w = 1`` exactly the vehicle rule);
* ``bpr`` — the paper's modified BPR on the link inflow: with ``w`` the inflow rate over the
  last ``window_min`` (veh/h, platoons counted with their vehicles), ``t = t0 (1 + 0.15 (w /
  c)^4)``; exits are kept FIFO (``exit = max(enter + t, previous exit)``).

Station links (``charge``/``v2g``) have ``ports`` parallel servers (a simpy ``Resource``): the
vehicle needs the access time ``t0``, waits for a free port and holds it for ``service_min``.
With ``station_model = "bpr"`` the paper's waiting-time term replaces the explicit queue:
``t = t0 + t_s + t_max (h / ports)^3`` with ``h`` the vehicles on the link and the maximum
acceptable wait ``t_max`` taken equal to the service time ``t_s``. Platoons are for road
users only: a trip with ``n_veh > 1`` may not use a station link (each station user is an EV
session of its own).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import simpy

from traffic.network import RoadNetwork

LinkModel = Literal["bpr", "queue"]


@dataclass(frozen=True)
class Trip:
    """One vehicle's trip.

    Attributes:
        vid: Vehicle id.
        od: Origin and destination nodes.
        user: ``regular``, ``charging`` or ``v2g``.
        depart_min: Departure time (minutes from the loading start).
        path: Link indices in order.
        group: Index of its (OD, user, departure interval) group.
        n_veh: Vehicles the simulated vehicle carries (1; more for a platoon).
    """

    vid: int
    od: tuple[int, int]
    user: str
    depart_min: float
    path: tuple[int, ...]
    group: int = -1
    n_veh: int = 1


@dataclass(frozen=True)
class Loading:
    """What happened in one loading (per vehicle-link traversal, in event order).

    Attributes:
        trips: The trips loaded.
        link: Link index per traversal.
        vid: Vehicle per traversal.
        enter_min: Time the vehicle entered the link.
        exit_min: Time it left.
        wait_min: Port waiting time (station links; 0 elsewhere).
        arrive_min: Arrival time per trip (at its destination).
        veh: Vehicles per traversal (the ``n_veh`` of its trip; all 1 without platoons).
    """

    trips: tuple[Trip, ...]
    link: np.ndarray
    vid: np.ndarray
    enter_min: np.ndarray
    exit_min: np.ndarray
    wait_min: np.ndarray
    arrive_min: np.ndarray
    veh: np.ndarray | None = None

    @property
    def trip_veh(self) -> np.ndarray:
        """Vehicles per trip (``n_veh``)."""
        return np.array([t.n_veh for t in self.trips], dtype=float)

    @property
    def traversal_veh(self) -> np.ndarray:
        """Vehicles per traversal (ones if the loading recorded none)."""
        return np.ones(self.link.size) if self.veh is None else self.veh

    def travel_time_min(self) -> np.ndarray:
        """Experienced trip times."""
        dep = np.array([t.depart_min for t in self.trips])
        return self.arrive_min - dep


class _LinkState:
    __slots__ = ("cap_h", "entries", "in_window", "kind", "last_exit", "on_link", "ports",
                 "service", "t0")

    def __init__(self, t0: float, cap_veh_h: float, kind: str, ports, service: float) -> None:
        self.t0 = t0
        self.cap_h = 60.0 / cap_veh_h if cap_veh_h > 0 else 0.0  # headway in minutes
        self.kind = kind
        self.last_exit = -np.inf
        self.entries: deque[tuple[float, int]] = deque()
        self.in_window = 0  # vehicles in ``entries``
        self.on_link = 0
        self.ports = ports
        self.service = service


def load(net: RoadNetwork, trips: list[Trip], link_model: LinkModel = "queue",
         window_min: float = 10.0, station_model: str = "queue",
         inflow_veh_h: np.ndarray | None = None) -> Loading:
    """Load the trips on the network (see module docstring).

    Args:
        net: Network.
        trips: Vehicles with their paths.
        link_model: ``queue`` or ``bpr``.
        window_min: BPR: inflow window (also the interval of ``inflow_veh_h``).
        station_model: ``queue`` (ports as a simpy Resource) or ``bpr`` (waiting term).
        inflow_veh_h: BPR: inflow rate per link and interval to use instead of the running
            window (the assignment passes the smoothed inflows of earlier loadings, which
            keeps the travel times a fixed function of time during one loading).
    """
    _check_platoons(net, trips)
    env = simpy.Environment()
    states = []
    for ln in net.links:
        ports = (simpy.Resource(env, capacity=ln.ports)
                 if ln.kind in ("charge", "v2g") and station_model == "queue" else None)
        states.append(_LinkState(ln.t0_min, ln.capacity_veh_h, ln.kind, ports, ln.service_min))
    rec_link, rec_vid, rec_in, rec_out, rec_wait = [], [], [], [], []
    arrive = np.full(len(trips), np.nan)

    def traverse(index: int, trip: Trip):
        yield env.timeout(trip.depart_min)
        for a in trip.path:
            s = states[a]
            enter = env.now
            s.on_link += 1
            wait = 0.0
            if s.kind in ("charge", "v2g"):
                if s.ports is not None:
                    if s.t0 > 0:
                        yield env.timeout(s.t0)
                    with s.ports.request() as req:
                        t_req = env.now
                        yield req
                        wait = env.now - t_req
                        yield env.timeout(s.service)
                else:
                    ports = net.links[a].ports
                    yield env.timeout(s.t0 + s.service + s.service * (s.on_link / ports) ** 3)
            elif s.kind == "dummy":
                if s.t0 > 0:
                    yield env.timeout(s.t0)
            else:
                if link_model == "queue":
                    out = max(enter + s.t0, s.last_exit + s.cap_h)
                    s.last_exit = out
                    if trip.n_veh > 1:  # a platoon: members leave h apart, it moves at the mean
                        s.last_exit = out + (trip.n_veh - 1) * s.cap_h
                        out += 0.5 * (trip.n_veh - 1) * s.cap_h
                else:
                    if inflow_veh_h is not None:
                        k = min(int(enter // window_min), inflow_veh_h.shape[1] - 1)
                        w = inflow_veh_h[a, k]
                    else:
                        s.entries.append((enter, trip.n_veh))
                        s.in_window += trip.n_veh
                        while s.entries and s.entries[0][0] <= enter - window_min:
                            s.in_window -= s.entries.popleft()[1]
                        w = s.in_window * 60.0 / window_min
                    out = max(enter + s.t0 * (1.0 + 0.15 * (w * s.cap_h / 60.0) ** 4),
                              s.last_exit)
                    s.last_exit = out
                yield env.timeout(out - enter)
            s.on_link -= 1
            rec_link.append(a)
            rec_vid.append(trip.vid)
            rec_in.append(enter)
            rec_out.append(env.now)
            rec_wait.append(wait)
        arrive[index] = env.now

    for i, trip in enumerate(trips):
        env.process(traverse(i, trip))
    env.run()
    vid = np.asarray(rec_vid, dtype=np.int64)
    n_veh = np.ones(int(vid.max(initial=-1)) + 1)
    for trip in trips:
        if trip.n_veh != 1:
            n_veh[trip.vid] = trip.n_veh
    return Loading(trips=tuple(trips), link=np.asarray(rec_link, dtype=np.int64), vid=vid,
                   enter_min=np.asarray(rec_in), exit_min=np.asarray(rec_out),
                   wait_min=np.asarray(rec_wait), arrive_min=arrive, veh=n_veh[vid])


def _check_platoons(net: RoadNetwork, trips: list[Trip]) -> None:
    """Platoons (``n_veh > 1``) stay on road links; ``n_veh`` is a positive whole number."""
    station = {i for i, ln in enumerate(net.links) if ln.kind in ("charge", "v2g")}
    for trip in trips:
        if trip.n_veh == 1:
            continue
        if trip.n_veh < 1 or trip.n_veh != int(trip.n_veh):
            raise ValueError(f"trip {trip.vid}: n_veh must be a whole number >= 1, got "
                             f"{trip.n_veh}")
        if station.intersection(trip.path):
            raise ValueError(f"trip {trip.vid}: a platoon of {trip.n_veh} uses a station link; "
                             "station users travel one vehicle per trip")


def departures(rate_veh_h: float, start_min: float, end_min: float,
               offset: float = 0.5) -> np.ndarray:
    """Deterministic departure times of a constant flow.

    The n-th vehicle leaves when the cumulative demand reaches ``n + offset``, so a flow of
    q veh/h gives exactly q vehicles per hour.
    """
    if rate_veh_h <= 0 or end_min <= start_min:
        return np.zeros(0)
    n = int(np.floor(rate_veh_h * (end_min - start_min) / 60.0 - offset + 1e-9)) + 1
    return start_min + (np.arange(max(n, 0)) + offset) * 60.0 / rate_veh_h


def link_table(net: RoadNetwork, ld: Loading, interval_min: float,
               n_intervals: int) -> dict[str, np.ndarray]:
    """Per link and interval: inflow, outflow, mean travel time of entrants, queue at the end.

    The queue of a link at time ``s`` counts vehicles that entered at least ``t0`` earlier but
    have not left (they are held at the exit: the point-queue's queue). Platoons count with
    their vehicles (the whole platoon in the interval of its mean exit).
    """
    n_links = len(net.links)
    shape = (n_links, n_intervals)
    k_in = np.minimum((ld.enter_min // interval_min).astype(int), n_intervals - 1)
    k_out = np.minimum((ld.exit_min // interval_min).astype(int), n_intervals - 1)
    inflow = np.zeros(shape)
    outflow = np.zeros(shape)
    veh = ld.traversal_veh
    np.add.at(inflow, (ld.link, k_in), veh)
    np.add.at(outflow, (ld.link, k_out), veh)
    tt_sum = np.zeros(shape)
    np.add.at(tt_sum, (ld.link, k_in), (ld.exit_min - ld.enter_min) * veh)
    t0 = net.t0_min
    queue = np.zeros(shape)
    for k in range(n_intervals):
        s = (k + 1) * interval_min
        held = (ld.enter_min + t0[ld.link] <= s) & (ld.exit_min > s)
        np.add.at(queue[:, k], ld.link[held], veh[held])
    with np.errstate(invalid="ignore", divide="ignore"):
        tt = np.where(inflow > 0, tt_sum / inflow, np.nan)
    return {"inflow": inflow, "outflow": outflow, "travel_time_min": tt, "queue": queue}
