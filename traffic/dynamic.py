"""Dynamic network loading of individual vehicles, event-driven (minutes).

Every simulated vehicle departs at its time and traverses its path link by link; the events
(a vehicle leaving a link, a station port freed or taken) run in time order in one compiled
loop (``traffic.compiled``, which states the order of simultaneous events). By default a
simulated vehicle is one vehicle (a flow of 2 veh/h is two vehicles); a *platoon*
(``Trip.n_veh = w > 1``) is one simulated vehicle that carries ``w`` vehicles moving together —
a point mass of ``w`` vehicles (see ``traffic.assignment`` for how platoons form).
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

Station links (``charge``/``v2g``) have ``ports`` parallel servers with one FIFO queue: the
vehicle needs the access time ``t0``, waits for a free port and holds it for ``service_min``.
With ``station_model = "bpr"`` the paper's waiting-time term replaces the explicit queue:
``t = t0 + t_s + t_max (h / ports)^3`` with ``h`` the vehicles on the link and the maximum
acceptable wait ``t_max`` taken equal to the service time ``t_s``. Platoons are for road
users only: a trip with ``n_veh > 1`` may not use a station link (each station user is an EV
session of its own).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np

from traffic import compiled
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


# link kinds and road models of the compiled loop (``traffic.compiled``)
_KIND_CODE = {"road": compiled.ROAD, "dummy": compiled.DUMMY}


def load(net: RoadNetwork, trips: list[Trip], link_model: LinkModel = "queue",
         window_min: float = 10.0, station_model: str = "queue",
         inflow_veh_h: np.ndarray | None = None) -> Loading:
    """Load the trips on the network (see module docstring).

    The event loop runs compiled (``traffic.compiled.load_events``, through
    :func:`load_paths`); traversals are recorded in event order: when the vehicle leaves the
    link.

    Args:
        net: Network.
        trips: Vehicles with their paths.
        link_model: ``queue`` or ``bpr``.
        window_min: BPR: inflow window (also the interval of ``inflow_veh_h``).
        station_model: ``queue`` (ports as parallel servers with a FIFO queue) or ``bpr``
            (waiting term).
        inflow_veh_h: BPR: inflow rate per link and interval to use instead of the running
            window (the assignment passes the smoothed inflows of earlier loadings, which
            keeps the travel times a fixed function of time during one loading).

    Raises:
        ValueError: A departure time that is negative or NaN, a link not in the network, or a
            platoon that is not a whole number of vehicles or uses a station link.
    """
    _check_platoons(net, trips)
    n = len(trips)
    depart, n_veh, path_ptr, path_link = _trip_arrays(trips, len(net.links))
    tr = load_paths(net, depart, n_veh, path_ptr, path_link, link_model, window_min,
                    station_model, inflow_veh_h)
    vid = np.fromiter((t.vid for t in trips), dtype=np.int64, count=n)[tr.trip]
    return Loading(trips=tuple(trips), link=tr.link, vid=vid, enter_min=tr.enter_min,
                   exit_min=tr.exit_min, wait_min=tr.wait_min, arrive_min=tr.arrive_min,
                   veh=n_veh[tr.trip])


@dataclass(frozen=True)
class Traversals:
    """What :func:`load_paths` recorded (per vehicle-link traversal, in event order).

    Attributes:
        link: Link index per traversal.
        trip: Trip (position in the loaded arrays) per traversal.
        enter_min: Time the vehicle entered the link.
        exit_min: Time it left.
        wait_min: Port waiting time (station links; 0 elsewhere).
        arrive_min: Arrival time per trip (at its destination).
    """

    link: np.ndarray
    trip: np.ndarray
    enter_min: np.ndarray
    exit_min: np.ndarray
    wait_min: np.ndarray
    arrive_min: np.ndarray


def load_paths(net: RoadNetwork, depart_min: np.ndarray, n_veh: np.ndarray,
               path_ptr: np.ndarray, path_link: np.ndarray, link_model: LinkModel = "queue",
               window_min: float = 10.0, station_model: str = "queue",
               inflow_veh_h: np.ndarray | None = None) -> Traversals:
    """:func:`load` for trips given as arrays (no :class:`Trip` objects).

    Trip ``i`` departs at ``depart_min[i]`` with ``n_veh[i]`` vehicles along the links
    ``path_link[path_ptr[i]:path_ptr[i + 1]]``; platoons (``n_veh > 1``) must stay on road
    links (:func:`load` checks it, this function does not). The other arguments are
    :func:`load`'s.

    Raises:
        ValueError: A departure time that is negative or NaN, or a link not in the network.
    """
    n, n_links = depart_min.size, len(net.links)
    bad = ~(depart_min >= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"trip {i}: departure time {depart_min[i]} is not a number >= 0")
    if path_link.size and (path_link.min() < 0 or path_link.max() >= n_links):
        raise ValueError(f"a path uses a link index outside 0..{n_links - 1}")
    link_int, link_f = _link_arrays(net, station_model)
    if link_model == "queue":
        model, table = compiled.QUEUE, np.zeros((n_links, 1))
    elif inflow_veh_h is None:
        model, table = compiled.BPR_WINDOW, np.zeros((n_links, 1))
    else:
        model, table = compiled.BPR_TABLE, np.ascontiguousarray(inflow_veh_h, dtype=float)
    slot_ptr = np.zeros(n_links + 1, dtype=np.int64)
    np.cumsum(np.bincount(path_link, minlength=n_links), out=slot_ptr[1:])
    m = path_link.size
    rec_int, rec_f = np.empty((2, m), dtype=np.int64), np.empty((3, m))
    arrive = np.full(n, np.nan)
    order = np.argsort(depart_min, kind="stable")
    done = compiled.load_events(depart_min, order, n_veh, path_ptr, path_link, link_int,
                                link_f, model, float(window_min), table, slot_ptr, rec_int,
                                rec_f, arrive)
    if done != m:  # every vehicle arrives: the ports always free up
        raise RuntimeError(f"loading stopped after {done} of {m} traversals")
    return Traversals(link=rec_int[0], trip=rec_int[1], enter_min=rec_f[0], exit_min=rec_f[1],
                      wait_min=rec_f[2], arrive_min=arrive)


def _trip_arrays(trips: list[Trip], n_links: int) -> tuple[np.ndarray, ...]:
    """Departures, vehicles per trip and the paths as CSR (``path_link[ptr[i]:ptr[i + 1]]``)."""
    n = len(trips)
    depart = np.fromiter((t.depart_min for t in trips), dtype=float, count=n)
    bad = ~(depart >= 0)
    if bad.any():
        raise ValueError(f"trip {trips[int(np.argmax(bad))].vid}: departure time "
                         f"{depart[bad][0]} is not a number >= 0")
    n_veh = np.fromiter((t.n_veh for t in trips), dtype=float, count=n)
    path_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t.path) for t in trips), dtype=np.int64, count=n),
              out=path_ptr[1:])
    path_link = np.fromiter(itertools.chain.from_iterable(t.path for t in trips),
                            dtype=np.int64, count=int(path_ptr[-1]))
    if path_link.size and (path_link.min() < 0 or path_link.max() >= n_links):
        raise ValueError(f"a path uses a link index outside 0..{n_links - 1}")
    return depart, n_veh, path_ptr, path_link


def _link_arrays(net: RoadNetwork, station_model: str) -> tuple[np.ndarray, np.ndarray]:
    """``(kind, ports)`` and ``(t0, headway 60 / capacity, service)`` per link."""
    n_links = len(net.links)
    station = compiled.STATION_QUEUE if station_model == "queue" else compiled.STATION_BPR
    link_int = np.array([[_KIND_CODE.get(ln.kind, station) for ln in net.links],
                         [ln.ports for ln in net.links]], dtype=np.int64).reshape(2, n_links)
    cap = net.capacity_veh_h
    cap_h = np.zeros(n_links)
    np.divide(60.0, cap, out=cap_h, where=cap > 0)  # headway in minutes
    link_f = np.array([net.t0_min, cap_h, [ln.service_min for ln in net.links]],
                      dtype=float).reshape(3, n_links)
    return link_int, link_f


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
