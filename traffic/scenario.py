"""From a scenario's ``[traffic]`` section to a network with station links, demand and prices.

The road network is the built-in Nguyen–Dupuis network, a custom one (``[[traffic.links]]``) or
a TNTP network/trips file pair (``network = "tntp"``, read by ``traffic.tntp``); its OD demand
is multiplied by ``demand_scale``.

A station at road node ``n`` becomes a service node ``X``: a charging link ``n -> X`` and a V2G
link ``n -> X`` (``ports`` parallel ports, ``service_min`` per vehicle, access time ``t0``), and a
zero-time dummy link ``X -> n`` back to the road. Charging and V2G users route through their
station link; regular users never use them. Service nodes are numbered from 1000 (from the next
power of ten above the largest road node on larger networks).
"""

from __future__ import annotations

from pathlib import Path

from traffic.assignment import AssignmentResult, Demand, DepartureChoice, Prices, dynamic_ue
from traffic.dynamic import LinkModel
from traffic.network import Link, NetworkError, RoadNetwork, nguyen_dupuis
from traffic.tntp import load_tntp, read_net

STATION_NODE_BASE = 1000


def build_network(cfg, base_dir: str | Path = ".") -> RoadNetwork:
    """The road network of a ``Traffic`` config, with its station links.

    Args:
        cfg: The ``[traffic]`` section (``scenarios.traffic_config.Traffic``).
        base_dir: Folder that relative TNTP file paths are resolved against (the scenario
            file's folder, ``Scenario.base_dir``).

    Raises:
        NetworkError: A station off the network, a malformed TNTP file, an unusable OD pair.
    """
    name = cfg.network
    if cfg.network == "nguyen-dupuis":
        base = nguyen_dupuis()
        links = list(base.links)
        od = dict(base.od_veh_h) if not cfg.od else {}
    elif cfg.network == "tntp":
        net_file, trips_file = cfg.tntp_paths(base_dir)
        if trips_file is not None:
            road = load_tntp(net_file, trips_file, min_per_time_unit=cfg.tntp_time_unit_min)
            links, od, name = list(road.links), dict(road.od_veh_h), road.name
        else:
            links, od = list(read_net(net_file, min_per_time_unit=cfg.tntp_time_unit_min)), {}
    else:
        links = [Link(i + 1, ln.from_node, ln.to_node, ln.free_flow_min, ln.capacity_veh_h,
                      ln.length_km) for i, ln in enumerate(cfg.links)]
        od = {}
    for pair in cfg.od:
        od[(pair.origin, pair.destination)] = pair.veh_h
    if cfg.demand_scale != 1.0:
        od = {pair: q * cfg.demand_scale for pair, q in od.items()}
    nodes = {ln.from_node for ln in links} | {ln.to_node for ln in links}
    base_node = STATION_NODE_BASE
    while base_node <= max(nodes, default=0):
        base_node *= 10
    for j, st in enumerate(cfg.stations):
        if st.node not in nodes:
            raise NetworkError(f"traffic.stations.{st.name}: node {st.node} is not in the "
                               "network")
        x = base_node + j
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
    return RoadNetwork(name, tuple(links), od)


def build_demand(cfg, net: RoadNetwork) -> Demand:
    """Time-varying demand of a ``Traffic`` config (platoons of ``platoon_veh`` road users)."""
    return Demand(dict(net.od_veh_h), cfg.duration_min, cfg.interval_min, tuple(cfg.profile),
                  cfg.charging_share, cfg.v2g_share, cfg.platoon_veh)


def build_prices(cfg) -> Prices:
    """Generalized-cost parameters of a ``Traffic`` config."""
    return Prices(cfg.value_of_time_per_h, cfg.charge_price_per_kwh, cfg.v2g_price_per_kwh,
                  cfg.charge_power_kw, cfg.v2g_power_kw)


def build_departure(cfg) -> DepartureChoice | None:
    """Departure-time choice of the station users (``None``: fixed departures)."""
    if not cfg.departure_shifts_min:
        return None
    return DepartureChoice(tuple(float(d) for d in cfg.departure_shifts_min),
                           cfg.schedule_early_per_h, cfg.schedule_late_per_h)


def station_model(cfg) -> str:
    """The loader's station model of a ``Traffic`` config: ``queue`` (hard ports) or ``bpr``
    (soft: the waiting cost)."""
    return "bpr" if cfg.station_capacity == "soft" else "queue"


def swap_scale(cfg) -> float | None:
    """``kappa`` of the proportional swap of a ``Traffic`` config (``None``: MSA)."""
    return cfg.swap_scale if cfg.share_update == "swap" else None


def scenario_ue(cfg, net: RoadNetwork, demand: Demand, prices: Prices,
                link_model: LinkModel | None = None, target_gap: float | None = None,
                **kwargs) -> AssignmentResult:
    """``traffic.assignment.dynamic_ue`` under a ``Traffic`` config's settings.

    The config gives the link model and target gap (unless overridden), the iteration cap, the
    station model (:func:`station_model`), the departure-time choice (:func:`build_departure`)
    and the share update (:func:`swap_scale`); ``kwargs`` go to ``dynamic_ue`` (warm starts).
    """
    return dynamic_ue(net, demand, link_model or cfg.link_model, prices,
                      target_gap or cfg.target_gap, cfg.max_iterations,
                      station_model=station_model(cfg), departure=build_departure(cfg),
                      swap_cny=swap_scale(cfg), **kwargs)
