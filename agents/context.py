"""The simulation context every agent is built with (instead of reading the mesa model).

The kernel (``environment.model``) builds one :class:`SimContext` per run and hands it to the
EV and station agents at construction; agents read the clock, the interval grid, the travel
model, the queue policy and the station directory from it and nothing else from the model. A
test needs no model subclass: ``SimContext.create(15.0, 96)`` and a plain ``mesa.Model()`` are
enough.

**Full stations** (:class:`QueuePolicy`, ``agents.ev``). An EV that finds every charger taken
joins the station's FIFO queue and waits at most ``w = min(patience, t_dep - t)``: the queue
rule ``wait`` has no patience (``w = t_dep - t``), ``leave`` none at all (it leaves at once),
``patience`` and ``reroute`` wait ``patience_min``. When the patience runs out first, ``reroute``
sends the EV to the nearest station (by :class:`StationDirectory`) that has a free charger now,
is not yet visited and lies within ``reroute_max_km`` road kilometres,

    d_road = f_detour 2 R asin( sqrt( sin^2(dphi/2) + cos phi_1 cos phi_2 sin^2(dlambda/2) ) ),

``R = 6371.0088`` km (haversine between the station coordinates), arriving there after
``60 d_road / v`` minutes with ``d_road * kwh_per_km`` less energy, before its departure; it
queues there again with the same patience, up to ``reroute_max_hops`` stations. Otherwise it
leaves without a charger (balks).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import simpy

from traffic.interface import ScheduledArrival, TravelModel

QueueRule = Literal["wait", "leave", "patience", "reroute"]
GRID_TOL = 1e-9  # minutes divided by dt within this of an interval edge count as on it
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class QueuePolicy:
    """What an EV does when every charger of its station is taken (module docstring).

    Attributes:
        rule: ``wait``, ``leave``, ``patience`` or ``reroute``.
        patience_min: Longest wait in one station's queue (``patience``, ``reroute``).
        reroute_max_km: Farthest station a reroute goes to (road km).
        reroute_speed_kmh: Driving speed of a reroute.
        reroute_detour_factor: Road km per straight-line km.
        reroute_kwh_per_km: Battery energy used per road km.
        reroute_max_hops: Stations tried after the EV's own.
    """

    rule: QueueRule = "wait"
    patience_min: float = 15.0
    reroute_max_km: float = 5.0
    reroute_speed_kmh: float = 25.0
    reroute_detour_factor: float = 1.3
    reroute_kwh_per_km: float = 0.18
    reroute_max_hops: int = 2

    @property
    def patience(self) -> float:
        """Minutes an EV queues at one station: ``inf`` (``wait``), ``0`` (``leave``) or
        ``patience_min``."""
        if self.rule == "wait":
            return math.inf
        return 0.0 if self.rule == "leave" else self.patience_min

    def drive_min(self, road_km: float) -> float:
        """Driving time of a reroute, ``60 d / v`` minutes."""
        return 60.0 * road_km / self.reroute_speed_kmh


class Charger(Protocol):
    """What the directory needs of a station: its name and its chargers."""

    @property
    def name(self) -> str:
        """Station name."""
        ...

    @property
    def chargers(self) -> simpy.Resource:
        """The charge points."""
        ...


def road_km(lon_deg: np.ndarray, lat_deg: np.ndarray, detour_factor: float) -> np.ndarray:
    """Road distances ``(J, J)`` between points: haversine distance times the detour factor."""
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return detour_factor * 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


class StationDirectory:
    """The stations an EV can reroute to: their chargers by name and the road distances.

    Args:
        coords_deg: ``(lon, lat)`` per station name (stations without coordinates are left
            out: nothing reroutes to or from them).
        detour_factor: Road km per straight-line km.
    """

    def __init__(self, coords_deg: dict[str, tuple[float, float]] | None = None,
                 detour_factor: float = 1.3) -> None:
        coords = dict(coords_deg or {})
        self.names = list(coords)
        self._index = {n: i for i, n in enumerate(self.names)}
        lon = np.array([coords[n][0] for n in self.names], dtype=float)
        lat = np.array([coords[n][1] for n in self.names], dtype=float)
        self.km = road_km(lon, lat, detour_factor)
        self._by_distance = np.argsort(self.km, axis=1, kind="stable")
        self._stations: dict[str, Charger] = {}

    def register(self, stations: Iterable[Charger]) -> None:
        """Make stations reachable by name."""
        for st in stations:
            self._stations[st.name] = st

    def nearest_free(self, here: str, visited: set[str], max_km: float
                     ) -> tuple[Charger, float] | None:
        """The nearest station from ``here`` with a free charger now, not in ``visited`` and at
        most ``max_km`` road km away, with its distance (``None``: there is none)."""
        i = self._index.get(here)
        if i is None:
            return None
        for j in self._by_distance[i]:
            km = float(self.km[i, j])
            if km > max_km:
                return None
            name = self.names[j]
            st = self._stations.get(name)
            if name in visited or st is None:
                continue
            if st.chargers.count < st.chargers.capacity:
                return st, km
        return None


@dataclass(frozen=True)
class SimContext:
    """Clock, interval grid and rules shared by the agents of one run.

    Attributes:
        env: The simpy clock (minutes from the horizon start).
        dt_min: Interval length in minutes.
        dt_h: Interval length in hours.
        n_intervals: Number of intervals of the horizon.
        travel: Decides when an EV reaches its station (``traffic.interface``).
        queue: What an EV does at a full station (module docstring).
        stations: The stations a rerouted EV can go to.
    """

    env: simpy.Environment
    dt_min: float
    dt_h: float
    n_intervals: int
    travel: TravelModel = field(default_factory=ScheduledArrival)
    queue: QueuePolicy = field(default_factory=QueuePolicy)
    stations: StationDirectory = field(default_factory=StationDirectory)

    @property
    def queue_rule(self) -> QueueRule:
        """The queue rule (``queue.rule``)."""
        return self.queue.rule

    @classmethod
    def create(cls, dt_min: float, n_intervals: int, travel: TravelModel | None = None,
               queue_rule: QueueRule = "wait", queue: QueuePolicy | None = None,
               stations: StationDirectory | None = None) -> SimContext:
        """A context on a fresh simpy clock (``dt_h = dt_min / 60``); ``queue`` wins over
        ``queue_rule``."""
        return cls(env=simpy.Environment(), dt_min=float(dt_min), dt_h=dt_min / 60.0,
                   n_intervals=n_intervals, travel=travel or ScheduledArrival(),
                   queue=queue or QueuePolicy(rule=queue_rule),
                   stations=stations or StationDirectory())

    def first_whole_interval(self, minute: float) -> int:
        """First interval starting at or after ``minute`` (``ceil(minute / dt)``)."""
        return math.ceil(minute / self.dt_min - GRID_TOL)

    def departure_interval(self, minute: float) -> int:
        """First interval not wholly before ``minute`` (``floor(minute / dt)``)."""
        return math.floor(minute / self.dt_min + GRID_TOL)
