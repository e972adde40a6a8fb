"""Road networks: links with free-flow time and capacity, station links, OD demand.

A :class:`RoadNetwork` is a directed graph (networkx) whose links are numbered from 1 in the
order given. Link kinds:

* ``road`` — free-flow time ``t0_min``, capacity ``capacity_veh_h``, length;
* ``charge`` / ``v2g`` — a station's charging or V2G service: ``ports`` parallel ports, each
  vehicle occupies one for ``service_min``; the link belongs to station ``station``, which is
  connected to feeder bus ``bus``;
* ``dummy`` — zero-cost bypass of a station (regular users and the station's alternative).

The built-in Nguyen–Dupuis network (Nguyen & Dupuis 1984; 13 nodes, 19 links) carries the
standard OD demand 1→2 400, 1→3 800, 4→2 600, 4→3 200 veh/h.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from flexibility.common import ModelInputError

LINK_KINDS = ("road", "charge", "v2g", "dummy")

NGUYEN_DUPUIS_LINKS = (  # (from, to, free-flow min, capacity veh/h), numbered 1..19
    (1, 5, 7, 300), (1, 12, 9, 200), (4, 5, 9, 200), (4, 9, 12, 200), (5, 6, 3, 350),
    (5, 9, 9, 400), (6, 7, 5, 500), (6, 10, 13, 250), (7, 8, 5, 250), (7, 11, 9, 300),
    (8, 2, 9, 500), (9, 10, 10, 550), (9, 13, 9, 200), (10, 11, 6, 400), (11, 2, 9, 300),
    (11, 3, 8, 300), (12, 6, 7, 200), (12, 8, 14, 300), (13, 3, 11, 200),
)
NGUYEN_DUPUIS_OD = {(1, 2): 400.0, (1, 3): 800.0, (4, 2): 600.0, (4, 3): 200.0}


class NetworkError(ModelInputError):
    """A road network or its demand is unusable (names the element and the fix)."""


@dataclass(frozen=True)
class Link:
    """One directed link.

    Attributes:
        number: Link number (1-based, as in the network description).
        from_node: Tail node.
        to_node: Head node.
        t0_min: Free-flow travel time (min); for station links the access time.
        capacity_veh_h: Capacity (veh/h); for station links the service rate of all ports.
        length_km: Length.
        kind: ``road``, ``charge``, ``v2g`` or ``dummy``.
        ports: Parallel service ports (station links).
        service_min: Service time per vehicle (station links).
        station: Station name (station links).
        bus: Feeder bus of the station (station links).
    """

    number: int
    from_node: int
    to_node: int
    t0_min: float
    capacity_veh_h: float
    length_km: float = 0.0
    kind: str = "road"
    ports: int = 0
    service_min: float = 0.0
    station: str = ""
    bus: int | None = None


@dataclass(frozen=True)
class RoadNetwork:
    """A road network with OD demand.

    Attributes:
        name: Network name.
        links: Links in number order.
        od_veh_h: Demand per OD pair (veh/h), constant over the loading period unless a
            time profile is given to the loader.
        graph: The directed graph (edge attribute ``index`` = position in ``links``).
    """

    name: str
    links: tuple[Link, ...]
    od_veh_h: dict[tuple[int, int], float]
    graph: nx.MultiDiGraph = field(compare=False, repr=False, default=None)

    def __post_init__(self) -> None:
        for ln in self.links:
            _check_link(ln)
        g = nx.MultiDiGraph()
        for i, ln in enumerate(self.links):
            g.add_edge(ln.from_node, ln.to_node, key=i, index=i)
        object.__setattr__(self, "graph", g)
        reach: dict[int, set[int]] = {}  # one search per origin, not per OD pair
        for (o, d), q in self.od_veh_h.items():
            if q < 0:
                raise NetworkError(f"{self.name}: demand {o}->{d} is negative ({q})")
            if o in g and o not in reach:
                reach[o] = nx.descendants(g, o) | {o}
            if o not in g or d not in reach[o]:
                raise NetworkError(f"{self.name}: OD pair {o}->{d} has no path; add a link or "
                                   "remove the pair")

    @property
    def t0_min(self) -> np.ndarray:
        """Free-flow times per link."""
        return np.array([ln.t0_min for ln in self.links])

    @property
    def capacity_veh_h(self) -> np.ndarray:
        """Capacities per link."""
        return np.array([ln.capacity_veh_h for ln in self.links])

    def road_only(self) -> RoadNetwork:
        """The road links only (regular users' view); they must come first in ``links``."""
        keep = tuple(ln for ln in self.links if ln.kind == "road")
        if any(ln.kind != "road" for ln in self.links[:len(keep)]):
            raise NetworkError(f"{self.name}: road links must precede station links")
        return RoadNetwork(self.name, keep, self.od_veh_h)

    def full_times(self, road_time_min: np.ndarray) -> np.ndarray:
        """Link times of the whole network from road-link times.

        Station links take access plus service time; dummy links their own time.
        """
        t = np.array([ln.t0_min + ln.service_min for ln in self.links])
        t[:road_time_min.size] = road_time_min
        return t


def _check_link(ln: Link) -> None:
    where = f"link {ln.number} ({ln.from_node}->{ln.to_node})"
    if ln.kind not in LINK_KINDS:
        raise NetworkError(f"{where}: kind {ln.kind!r} is not one of {LINK_KINDS}")
    if ln.kind == "road":
        if not ln.t0_min > 0:
            raise NetworkError(f"{where}: free-flow time must be positive, got {ln.t0_min}")
        if not ln.capacity_veh_h > 0:
            raise NetworkError(f"{where}: capacity must be positive, got {ln.capacity_veh_h}")
    if ln.kind in ("charge", "v2g"):
        if ln.bus is None:
            raise NetworkError(f"{where}: station link of {ln.station or '?'} has no feeder "
                               "bus; give 'bus'")
        if ln.ports < 1 or not ln.service_min > 0:
            raise NetworkError(f"{where}: a station link needs ports >= 1 and service_min > 0")
    if ln.kind == "dummy" and ln.t0_min < 0:
        raise NetworkError(f"{where}: negative time on a dummy link")


def node_path_to_links(net: RoadNetwork, nodes: list[int], cost: np.ndarray) -> tuple[int, ...]:
    """Link indices along a node path (the cheapest of parallel links)."""
    out = []
    for u, v in itertools.pairwise(nodes):
        cand = net.graph.get_edge_data(u, v)
        out.append(min((e["index"] for e in cand.values()), key=lambda i: cost[i]))
    return tuple(out)


def nguyen_dupuis() -> RoadNetwork:
    """The Nguyen–Dupuis network with its standard demand (link numbers 1–19)."""
    links = tuple(Link(i + 1, a, b, float(t), float(c))
                  for i, (a, b, t, c) in enumerate(NGUYEN_DUPUIS_LINKS))
    return RoadNetwork("nguyen-dupuis", links, dict(NGUYEN_DUPUIS_OD))
