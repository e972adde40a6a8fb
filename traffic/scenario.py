"""From a scenario's ``[traffic]`` section to a network with station links, demand and prices.

A station at road node ``n`` becomes a service node ``X``: a charging link ``n -> X`` and a V2G
link ``n -> X`` (``ports`` parallel ports, ``service_min`` per vehicle, access time ``t0``), and a
zero-time dummy link ``X -> n`` back to the road. Charging and V2G users route through their
station link; regular users never use them.
"""

from __future__ import annotations

from traffic.assignment import Demand, Prices
from traffic.network import Link, NetworkError, RoadNetwork, nguyen_dupuis

STATION_NODE_BASE = 1000


def build_network(cfg) -> RoadNetwork:
    """The road network of a ``Traffic`` config, with its station links."""
    if cfg.network == "nguyen-dupuis":
        base = nguyen_dupuis()
        links = list(base.links)
        od = dict(base.od_veh_h) if not cfg.od else {}
    else:
        links = [Link(i + 1, ln.from_node, ln.to_node, ln.free_flow_min, ln.capacity_veh_h,
                      ln.length_km) for i, ln in enumerate(cfg.links)]
        od = {}
    for pair in cfg.od:
        od[(pair.origin, pair.destination)] = pair.veh_h
    nodes = {ln.from_node for ln in links} | {ln.to_node for ln in links}
    for j, st in enumerate(cfg.stations):
        if st.node not in nodes:
            raise NetworkError(f"traffic.stations.{st.name}: node {st.node} is not in the "
                               "network")
        x = STATION_NODE_BASE + j
        n = len(links)
        if st.charge_ports:
            links.append(Link(n + 1, st.node, x, st.access_min, 0.0, kind="charge",
                              ports=st.charge_ports, service_min=st.service_min,
                              station=st.name, bus=st.bus))
        if st.v2g_ports:
            links.append(Link(len(links) + 1, st.node, x, st.access_min, 0.0, kind="v2g",
                              ports=st.v2g_ports, service_min=st.service_min,
                              station=st.name, bus=st.bus))
        links.append(Link(len(links) + 1, x, st.node, 0.0, 0.0, kind="dummy", station=st.name))
    return RoadNetwork(cfg.network, tuple(links), od)


def build_demand(cfg, net: RoadNetwork) -> Demand:
    """Time-varying demand of a ``Traffic`` config."""
    return Demand(dict(net.od_veh_h), cfg.duration_min, cfg.interval_min, tuple(cfg.profile),
                  cfg.charging_share, cfg.v2g_share)


def build_prices(cfg) -> Prices:
    """Generalized-cost parameters of a ``Traffic`` config."""
    return Prices(cfg.value_of_time_per_h, cfg.charge_price_per_kwh, cfg.v2g_price_per_kwh,
                  cfg.charge_power_kw, cfg.v2g_power_kw)
