"""Static counterpart of the station loads (spatiotemporal paper §3.3, STA).

The demand is aggregated into intervals of ``interval_min`` with instantaneous propagation.
Per interval: road times from a static UE of that interval's mean demand; station users split
over their station paths by MSA to equalize the generalized cost, a station adding the paper's
static waiting term ``t_s + t_s (h / ports)^3`` with occupancy ``h = flow * t_s / 60``
(vehicles in service; the loads use the final flows, like the sessions and the spend); the station's
load is ``power * min(h, ports)`` with hard capacity and ``power * h`` with soft capacity (the
paper's, where the waiting term alone holds occupancy near the ports), charging positive, V2G
negative. With soft capacity the total net load of an interval is fixed by its demand, so
coupons only move it between stations. Coupons apply by the band of
the interval start. Every station user of the
interval is one session: the subsidy spent is ``sum_paths flow * interval / 60 * incentive *
energy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traffic.assignment import Demand, path_sets
from traffic.network import RoadNetwork
from traffic.prices import SERVICES, Prices, money
from traffic.static import static_ue


@dataclass(frozen=True)
class StaticStationLoads:
    """Station loads of the static model.

    Attributes:
        stations: Station names (rows of ``p_kw``), in link order.
        start_min: Interval starts (minutes from the loading start).
        p_kw: Net load per station and interval (kW, charging positive).
        subsidy: Subsidy spent per interval (CNY).
        sessions: Sessions per station, service (charge, V2G) and interval: the station
            users of the interval on that station's link, ``flow * interval / 60``.
    """

    stations: list[str]
    start_min: np.ndarray
    p_kw: np.ndarray
    subsidy: np.ndarray
    sessions: np.ndarray | None = None


def _station_link(net: RoadNetwork, path: tuple[int, ...]) -> int:
    return next(i for i in path if net.links[i].kind in SERVICES)


def static_station_loads(net: RoadNetwork, demand: Demand, prices: Prices,
                         interval_min: float = 30.0, iterations: int = 200,
                         capacity: str = "hard") -> StaticStationLoads:
    """Station loads and subsidy per static interval (module docstring).

    ``capacity``: ``hard`` (load capped at the ports) or ``soft`` (uncapped).
    """
    if capacity not in ("hard", "soft"):
        raise ValueError(f"capacity must be 'hard' or 'soft', got {capacity!r}")
    sets = {key: paths for key, paths in path_sets(net, list(demand.od_veh_h)).items()
            if key[1] != "regular" and paths}
    vot = prices.value_of_time_per_h / 60.0
    stations = list(dict.fromkeys(ln.station for ln in net.links if ln.kind in SERVICES))
    n = int(np.ceil(demand.duration_min / interval_min - 1e-9))
    p_kw = np.zeros((len(stations), n))
    subsidy = np.zeros(n)
    sessions = np.zeros((len(stations), len(SERVICES), n))
    road_only = np.array([ln.kind == "road" for ln in net.links])
    for k in range(n):
        a = k * interval_min
        idx = [j for j in range(demand.n_intervals)  # demand intervals overlapping [a, a + S)
               if j * demand.interval_min < a + interval_min
               and (j + 1) * demand.interval_min > a]
        od = {p: float(np.mean([demand.rate(p, j) for j in idx])) for p in demand.od_veh_h}
        sue = static_ue(RoadNetwork(net.name, net.road_only().links, od), target_gap=1e-6)
        times = net.full_times(sue.time_min)
        users = {key: od[key[0]] * (demand.charging_share if key[1] == "charging"
                                    else demand.v2g_share) for key in sets}
        base = {key: np.array([vot * times[list(p)][road_only[list(p)]].sum()
                               + money(net, p, key[1], prices, a) for p in paths])
                for key, paths in sets.items()}
        flows = {key: np.eye(len(paths))[int(np.argmin(base[key]))] * users[key]
                 for key, paths in sets.items()}
        st_of = {key: [_station_link(net, p) for p in paths] for key, paths in sets.items()}
        occ = np.zeros(len(net.links))
        for it in range(1, iterations + 1):
            occ = _occupancy(net, sets, flows, st_of)
            for key, paths in sets.items():
                cost = base[key].copy()
                for j, st in enumerate(st_of[key]):
                    ln = net.links[st]
                    cost[j] += vot * (ln.t0_min + ln.service_min
                                      + ln.service_min * (occ[st] / ln.ports) ** 3)
                aon = np.eye(len(paths))[int(np.argmin(cost))] * users[key]
                flows[key] = flows[key] + (aon - flows[key]) / (it + 1)
        occ = _occupancy(net, sets, flows, st_of)
        for i, ln in enumerate(net.links):
            if ln.kind in SERVICES:
                power = prices.charge_power_kw if ln.kind == "charge" else -prices.v2g_power_kw
                busy = occ[i] if capacity == "soft" else min(occ[i], ln.ports)
                p_kw[stations.index(ln.station), k] += power * busy
        for key in sets:
            for f, st in zip(flows[key], st_of[key], strict=True):
                ln = net.links[st]
                subsidy[k] += (f * interval_min / 60.0 * prices.energy_kwh(ln.kind, ln.service_min)
                               * prices.incentive_per_kwh(ln.kind, ln.station, a))
                sessions[stations.index(ln.station), SERVICES.index(ln.kind), k] += \
                    f * interval_min / 60.0
    return StaticStationLoads(stations, np.arange(n) * interval_min, p_kw, subsidy, sessions)


def _occupancy(net: RoadNetwork, sets: dict, flows: dict, st_of: dict) -> np.ndarray:
    """Vehicles in service per station link: ``h = flow * t_s / 60``."""
    occ = np.zeros(len(net.links))
    for key in sets:
        for f, st in zip(flows[key], st_of[key], strict=True):
            occ[st] += f * net.links[st].service_min / 60.0
    return occ
