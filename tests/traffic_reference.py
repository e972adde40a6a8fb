"""The dynamic loading as it was before it was compiled: one simpy process per vehicle.

``traffic.compiled`` runs the same events in one compiled loop; ``load_simpy`` is the code it
replaced, kept verbatim (renamed) as the reference ``tests/traffic/test_compiled_loading.py``
compares it with, traversal by traversal and equilibrium by equilibrium. ``load_simpy_paths``
takes the arrays of ``traffic.dynamic.load_paths`` (what the assignment loads) instead.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import simpy

from traffic.dynamic import LinkModel, Loading, Traversals, Trip
from traffic.network import RoadNetwork


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


def load_simpy(net: RoadNetwork, trips: list[Trip], link_model: LinkModel = "queue",
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


def array_trips(depart_min: np.ndarray, n_veh: np.ndarray, path_ptr: np.ndarray,
                path_link: np.ndarray) -> list[Trip]:
    """The trips of ``traffic.dynamic.load_paths``' arrays (trip ``i`` is vehicle ``i``)."""
    return [Trip(i, (0, 0), "regular", float(depart_min[i]),
                 tuple(path_link[path_ptr[i]:path_ptr[i + 1]].tolist()), n_veh=int(n_veh[i]))
            for i in range(depart_min.size)]


def load_simpy_paths(net: RoadNetwork, depart_min: np.ndarray, n_veh: np.ndarray,
                     path_ptr: np.ndarray, path_link: np.ndarray, *args) -> Traversals:
    """``traffic.dynamic.load_paths`` done by :func:`load_simpy` (``args``: its options)."""
    ld = load_simpy(net, array_trips(depart_min, n_veh, path_ptr, path_link), *args)
    return Traversals(link=ld.link, trip=ld.vid, enter_min=ld.enter_min, exit_min=ld.exit_min,
                      wait_min=ld.wait_min, arrive_min=ld.arrive_min)
