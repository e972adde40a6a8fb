"""Vectorised path times (``traffic.path_cost``) equal the scalar link-by-link walk exactly."""

from dataclasses import replace

import numpy as np
import pytest

from scenarios.traffic_config import Traffic
from traffic.assignment import (
    _assign,
    _initial_shares,
    build_groups,
    dynamic_ue,
    link_time_functions,
    path_time,
)
from traffic.dynamic import load
from traffic.path_cost import LinkTimes, PathTable
from traffic.scenario import build_demand, build_network, build_prices


def _nguyen_dupuis_loading():
    cfg = Traffic(charging_share=0.1, v2g_share=0.05,
                  stations=[{"name": "CS1", "node": 6, "bus": 22},
                            {"name": "CS2", "node": 10, "bus": 12}])
    net = build_network(cfg)
    res = dynamic_ue(net, build_demand(cfg, net), "queue", build_prices(cfg), max_iter=5)
    return net, res.groups, res.loading


def _sioux_falls_loading():
    cfg = Traffic(network="tntp", net_file="builtin:sioux_falls",
                  trips_file="builtin:sioux_falls", demand_scale=0.05, duration_min=120.0,
                  interval_min=60.0, platoon_veh=10, charging_share=0.02, v2g_share=0.01,
                  stations=[{"name": "CS1", "node": 10, "bus": 5},
                            {"name": "CS2", "node": 15, "bus": 7}])
    net = build_network(cfg)
    demand = build_demand(cfg, net)
    prices = build_prices(cfg)
    groups = build_groups(net, demand)
    shares = _initial_shares(net, demand, groups, prices, prices.value_of_time_per_h / 60.0)
    trips = _assign(groups, shares, demand.platoon_veh)
    assert max(t.n_veh for t in trips) == 10  # platoons are loaded
    return net, groups, load(net, trips, "queue", window_min=demand.interval_min)


@pytest.fixture(scope="module", params=["nguyen_dupuis", "sioux_falls"])
def case(request):
    return _nguyen_dupuis_loading() if request.param == "nguyen_dupuis" \
        else _sioux_falls_loading()


def _departures(ld):
    """Group-mean-like times plus times before the first and after the last sample, and
    exactly on samples (the interpolation's knots)."""
    lo, hi = float(ld.enter_min.min()), float(ld.exit_min.max())
    return [lo - 50.0, lo, 0.5 * (lo + hi), float(ld.enter_min[len(ld.enter_min) // 3]),
            hi, hi + 100.0]


def _without_link(ld, a):
    keep = ld.link != a
    return replace(ld, link=ld.link[keep], enter_min=ld.enter_min[keep],
                   exit_min=ld.exit_min[keep])


@pytest.mark.parametrize("drop", [None, 0])
def test_tau_matches_the_scalar_function(case, drop):
    net, _, ld = case
    if drop is not None:
        ld = _without_link(ld, drop)
    tau = link_time_functions(net, ld)
    lt = LinkTimes.from_loading(net, ld)
    n = len(net.links)
    rng = np.random.default_rng(3)
    # every link (used or not) at: each of its samples, between samples, and outside the data
    a = np.concatenate([ld.link, ld.link, np.repeat(np.arange(n), 4)])
    lo, hi = float(ld.enter_min.min()), float(ld.exit_min.max())
    t = np.concatenate([ld.enter_min, ld.enter_min + rng.uniform(0, 0.5, ld.link.size),
                        np.tile([lo - 10.0, lo, 0.5 * (lo + hi), hi + 10.0], n)])
    if drop is not None:
        assert lt.bounds[drop + 1] == lt.bounds[drop]  # a link without samples
    expected = np.array([tau(int(x), float(y)) for x, y in zip(a, t, strict=True)])
    np.testing.assert_array_equal(lt.tau(a, t), expected)


@pytest.mark.parametrize("drop", [None, 0])
def test_path_times_match_the_scalar_walk(case, drop):
    net, groups, ld = case
    if drop is not None:
        ld = _without_link(ld, drop)
    tau = link_time_functions(net, ld)
    lt = LinkTimes.from_loading(net, ld)
    paths = [g.paths for g in groups]
    assert len({len(p) for ps in paths for p in ps}) > 2  # paths of different lengths
    means = [float(g.depart_min.mean()) for g in groups]
    for dep in [means, *([d] * len(groups) for d in _departures(ld))]:
        got = PathTable.build(paths, dep).group_times(lt)
        for g, ps, d, tt in zip(groups, paths, dep, got, strict=True):
            assert tt.shape == (len(g.paths),)
            want = np.array([path_time(tau, p, d) for p in ps])
            np.testing.assert_allclose(tt, want, rtol=0, atol=1e-9)
            np.testing.assert_array_equal(tt, want)  # same additions in the same order


def test_an_empty_loading_gives_free_flow():
    net, groups, ld = _nguyen_dupuis_loading()
    none = replace(ld, link=ld.link[:0], enter_min=ld.enter_min[:0], exit_min=ld.exit_min[:0])
    tau = link_time_functions(net, none)
    paths = [g.paths for g in groups]
    got = PathTable.build(paths, [5.0] * len(groups)).group_times(
        LinkTimes.from_loading(net, none))
    for ps, tt in zip(paths, got, strict=True):
        np.testing.assert_array_equal(tt, [path_time(tau, p, 5.0) for p in ps])
