"""The compiled loading against the process-per-vehicle loading it replaced.

``tests/traffic_reference.py`` keeps the simpy code verbatim. Both load the same trips: every
traversal (link, vehicle, vehicles carried) comes in the same order and all times agree to
1e-9 min — point queues, BPR windows and tables, platoons, station ports with ties at the same
instant, zero-time dummies. Equilibria iterated on either loading agree to 1e-9 in gaps, path
shares, path costs and the final loading (Nguyen–Dupuis with both link models, with stations
and coupons, Sioux Falls in platoons).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import traffic.assignment as assignment
from scenarios.config import load_scenario
from tests.traffic_reference import load_simpy, load_simpy_paths
from traffic.assignment import Demand, build_groups, dynamic_ue, path_sets
from traffic.dynamic import Loading, Trip, link_table, load
from traffic.network import Link, RoadNetwork, nguyen_dupuis
from traffic.prices import Coupons
from traffic.scenario import build_demand, build_network, build_prices
from traffic.tntp import load_tntp

TOL_MIN = 1e-9
SIOUX = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "sioux_falls"


def assert_same_loading(new: Loading, ref: Loading) -> None:
    """Same traversals in the same order; times within ``TOL_MIN``."""
    assert new.trips == ref.trips
    for name in ("link", "vid"):
        np.testing.assert_array_equal(getattr(new, name), getattr(ref, name), err_msg=name)
    np.testing.assert_array_equal(new.traversal_veh, ref.traversal_veh)
    for name in ("enter_min", "exit_min", "wait_min", "arrive_min"):
        np.testing.assert_allclose(getattr(new, name), getattr(ref, name), rtol=0, atol=TOL_MIN,
                                   err_msg=name)


def random_trips(net: RoadNetwork, rng: np.random.Generator, n: int, horizon_min: float,
                 platoon_max: int = 1, ties: bool = False) -> list[Trip]:
    """Trips on the candidate paths of every OD pair and user; platoons for road users only.

    ``ties``: departures on a coarse grid, so that many vehicles start at the same instant.
    """
    sets = path_sets(net, list(net.od_veh_h), k_paths=3)
    choices = [(od, user, p) for (od, user), paths in sets.items() for p in paths]
    trips = []
    for vid in range(n):
        od, user, path = choices[rng.integers(len(choices))]
        t = float(rng.integers(0, 12) * horizon_min / 12) if ties else float(
            rng.uniform(0, horizon_min))
        w = int(rng.integers(1, platoon_max + 1)) if user == "regular" else 1
        trips.append(Trip(vid, od, user, t, path, n_veh=w))
    return trips


def nd_with_stations(t0_access: float = 0.0, ports: int = 2) -> RoadNetwork:
    """Nguyen–Dupuis with a charging and a V2G link at node 6 and one at node 10."""
    links = list(nguyen_dupuis().links)
    for j, (node, dummy_min) in enumerate(((6, 0.0), (10, 1.5))):
        x = 1000 + j
        links.append(Link(len(links) + 1, node, x, t0_access, 0.0, kind="charge", ports=ports,
                          service_min=20.0, station=f"CS{j}", bus=1))
        links.append(Link(len(links) + 1, node, x, t0_access, 0.0, kind="v2g", ports=1,
                          service_min=30.0, station=f"CS{j}", bus=1))
        links.append(Link(len(links) + 1, x, node, dummy_min, 0.0, kind="dummy",
                          station=f"CS{j}"))
    return RoadNetwork("nd-stations", tuple(links), dict(nguyen_dupuis().od_veh_h))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("model", ["queue", "bpr", "bpr-table"])
def test_road_loading_is_the_reference_one(seed, model):
    net = nguyen_dupuis()
    rng = np.random.default_rng(seed)
    trips = random_trips(net, rng, 1500, 60.0, platoon_max=4, ties=seed == 2)
    if seed == 1:
        rng.shuffle(trips)  # the loader takes trips in any order
    kw = {}
    if model == "bpr-table":
        kw["inflow_veh_h"] = rng.uniform(0.0, 600.0, (len(net.links), 4))
    link_model = "queue" if model == "queue" else "bpr"
    for window in (10.0, 7.0):
        assert_same_loading(load(net, trips, link_model, window_min=window, **kw),
                            load_simpy(net, trips, link_model, window_min=window, **kw))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("access_min", [0.0, 2.0])
@pytest.mark.parametrize("station_model", ["queue", "bpr"])
def test_station_loading_is_the_reference_one(seed, access_min, station_model):
    """Busy ports: many users start at the same instant, ties decide the queue order."""
    net = nd_with_stations(access_min)
    rng = np.random.default_rng(seed)
    trips = random_trips(net, rng, 900, 30.0, platoon_max=3, ties=True)
    assert sum(t.user != "regular" for t in trips) > 300
    new = load(net, trips, "queue", station_model=station_model)
    assert_same_loading(new, load_simpy(net, trips, "queue", station_model=station_model))
    if station_model == "queue":
        assert new.wait_min.max() > 30.0  # the ports do queue


def test_same_instant_requests_and_releases_at_one_port():
    """One port, service ending exactly when the next users arrive: the order of grants."""
    st = Link(1, 1, 2, 0.0, 0.0, kind="charge", ports=1, service_min=10.0, station="S", bus=1)
    back = Link(2, 2, 1, 0.0, 0.0, kind="dummy", station="S")
    road = Link(3, 1, 3, 10.0, 60.0)
    net = RoadNetwork("one-port", (st, back, road), {(1, 2): 1.0})
    paths = [(0,), (0, 1), (0, 1, 0), (2,), (0, 1, 2)]
    trips = [Trip(i, (1, 2), "charging", float(10 * (i % 4)), paths[i % len(paths)])
             for i in range(40)]
    assert_same_loading(load(net, trips), load_simpy(net, trips))


def test_edge_cases():
    net = nguyen_dupuis()
    empty = load(net, [])
    assert empty.link.size == 0 and empty.arrive_min.size == 0
    assert_same_loading(empty, load_simpy(net, []))
    stay = [Trip(0, (1, 1), "regular", 3.0, ()), Trip(1, (1, 2), "regular", 0.0, (0, 4))]
    assert_same_loading(load(net, stay), load_simpy(net, stay))
    for bad in (-1.0, np.nan):
        with pytest.raises(ValueError, match="is not a number >= 0"):
            load(net, [Trip(0, (1, 2), "regular", bad, (0,))])
    with pytest.raises(ValueError, match=r"outside 0\.\.18"):
        load(net, [Trip(0, (1, 2), "regular", 0.0, (0, 19))])


def assert_same_equilibrium(monkeypatch, net, demand, model="queue", **kw):
    """``dynamic_ue`` on the compiled loading and on the reference one."""
    new = dynamic_ue(net, demand, model, **kw)
    with monkeypatch.context() as m:
        m.setattr(assignment, "load_paths", load_simpy_paths)
        ref = dynamic_ue(net, demand, model, **kw)
    np.testing.assert_allclose(new.gaps, ref.gaps, rtol=0, atol=TOL_MIN)
    for a, b in zip(new.shares + new.costs, ref.shares + ref.costs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL_MIN)
    assert_same_loading(new.loading, ref.loading)
    horizon = int(new.loading.exit_min.max() // 10.0) + 1
    tab_new = link_table(net, new.loading, 10.0, horizon)
    tab_ref = link_table(net, ref.loading, 10.0, horizon)
    for key, value in tab_new.items():  # link flows, travel times and queues
        np.testing.assert_allclose(value, tab_ref[key], rtol=0, atol=TOL_MIN, err_msg=key)
    return new


@pytest.mark.parametrize("model", ["queue", "bpr"])
def test_nguyen_dupuis_equilibrium_is_the_reference_one(monkeypatch, model):
    net = nguyen_dupuis()
    res = assert_same_equilibrium(monkeypatch, net, Demand(dict(net.od_veh_h), 60.0, 10.0),
                                  model, max_iter=8)
    assert len(res.gaps) > 3


def test_station_equilibrium_with_coupons_is_the_reference_one(monkeypatch):
    sc = load_scenario("nd_coupled")
    cfg = sc.traffic
    net = build_network(cfg, sc.base_dir)
    prices = build_prices(cfg)
    stations = sorted({ln.station for ln in net.links if ln.station})
    coupons = Coupons(60.0, {s: (0.0, 0.8) for s in stations[:2]}, {stations[-1]: (0.5, 0.0)})
    prices = dataclasses.replace(prices, coupons=coupons)
    res = assert_same_equilibrium(monkeypatch, net, build_demand(cfg, net), cfg.link_model,
                                  prices=prices, max_iter=6)
    assert res.loading.wait_min.max() > 0.0


def test_sioux_falls_platoon_equilibrium_is_the_reference_one(monkeypatch):
    full = load_tntp(SIOUX / "SiouxFalls_net.tntp", SIOUX / "SiouxFalls_trips.tntp")
    od = dict(sorted(full.od_veh_h.items(), key=lambda kv: -kv[1])[:60])
    net = RoadNetwork(full.name, full.links, od)
    demand = Demand(od, 30.0, 10.0, platoon_veh=5)
    assert len(build_groups(net, demand)) > 100
    res = assert_same_equilibrium(monkeypatch, net, demand, max_iter=5)
    assert max(t.n_veh for t in res.loading.trips) == 5
