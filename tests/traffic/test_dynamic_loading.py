"""Dynamic loading against deterministic queueing theory; conservation, FIFO, no loss."""

import numpy as np
import pytest

from traffic.assignment import Demand, build_groups, dynamic_ue
from traffic.dynamic import Trip, departures, link_table, load
from traffic.network import Link, RoadNetwork, nguyen_dupuis


def _bottleneck(cap=600.0, t0=5.0):
    return RoadNetwork("bottleneck", (Link(1, 1, 2, t0, cap),), {(1, 2): 1.0})


def test_point_queue_matches_cumulative_curves_exactly():
    """Newell: D_n = max_{j <= n} (A_j + t0 + (n - j) h) for a FIFO bottleneck of headway h."""
    rng = np.random.default_rng(4)
    cap, t0 = 600.0, 5.0
    h = 60.0 / cap
    # time-varying arrivals: bursts above capacity, lulls below
    dep = np.sort(np.concatenate([departures(1500, 0, 20), departures(300, 20, 50),
                                  departures(1000, 50, 60) + rng.uniform(0, 0.01)]))
    net = _bottleneck(cap, t0)
    ld = load(net, [Trip(i, (1, 2), "regular", float(t), (0,)) for i, t in enumerate(dep)],
              "queue")
    n = np.arange(dep.size)
    theory = np.max(np.where(n[None, :] <= n[:, None],
                             dep[None, :] + t0 + (n[:, None] - n[None, :]) * h, -np.inf), axis=1)
    order = np.argsort(ld.vid)
    np.testing.assert_allclose(ld.exit_min[order], theory, rtol=0, atol=1e-9)
    # queue length at interval ends = A(s) - D(s) with A counted at the exit point (s - t0)
    tab = link_table(net, ld, 5.0, 20)
    for k in range(20):
        s = (k + 1) * 5.0
        expected = np.sum(dep + t0 <= s) - np.sum(theory <= s)
        assert tab["queue"][0, k] == expected
    delay = theory - dep - t0
    assert delay.max() > 5.0  # the case does queue


def test_station_ports_serve_like_a_deterministic_multi_server_queue():
    link = Link(1, 1, 2, 0.0, 1.0, kind="charge", ports=2, service_min=30.0, station="CS",
                bus=5)
    net = RoadNetwork("station", (link,), {(1, 2): 1.0})
    trips = [Trip(i, (1, 2), "charging", 0.0, (0,)) for i in range(6)]
    ld = load(net, trips, "queue")
    assert sorted(ld.wait_min) == [0, 0, 30, 30, 60, 60]
    assert sorted(ld.exit_min) == [30, 30, 60, 60, 90, 90]


def test_station_waiting_term_alternative():
    """station_model='bpr': t = t0 + t_s + t_s (h / ports)^3 with h counted on entry."""
    link = Link(1, 1, 2, 2.0, 1.0, kind="charge", ports=2, service_min=30.0, station="CS",
                bus=5)
    net = RoadNetwork("station", (link,), {(1, 2): 1.0})
    trips = [Trip(i, (1, 2), "charging", 0.0, (0,)) for i in range(3)]
    ld = load(net, trips, "queue", station_model="bpr")
    expected = [2.0 + 30.0 + 30.0 * (h / 2) ** 3 for h in (1, 2, 3)]
    assert sorted(ld.exit_min) == pytest.approx(expected)


@pytest.mark.parametrize("model", ["queue", "bpr"])
def test_conservation_fifo_no_loss(model):
    net = nguyen_dupuis()
    groups = build_groups(net, Demand(dict(net.od_veh_h), 60.0, 10.0))
    trips = []
    rng = np.random.default_rng(1)
    for g in groups:
        for t in g.depart_min:
            trips.append(Trip(len(trips), g.od, g.user, float(t),
                              g.paths[rng.integers(len(g.paths))]))
    ld = load(net, trips, model)
    # no vehicle lost, every traversal recorded
    assert not np.isnan(ld.arrive_min).any()
    assert ld.link.size == sum(len(t.path) for t in trips)
    # contiguous: depart = first enter, exit = next enter, last exit = arrival
    for tr in trips[::37]:
        rows = np.flatnonzero(ld.vid == tr.vid)
        rows = rows[np.argsort(ld.enter_min[rows], kind="stable")]
        assert list(ld.link[rows]) == list(tr.path)
        assert ld.enter_min[rows[0]] == pytest.approx(tr.depart_min)
        np.testing.assert_allclose(ld.exit_min[rows[:-1]], ld.enter_min[rows[1:]])
        assert ld.exit_min[rows[-1]] == pytest.approx(ld.arrive_min[tr.vid])
    # conservation at every event instant: entered = exited + on a link
    dep = np.array([t.depart_min for t in trips])
    for s in np.unique(np.concatenate([ld.enter_min, ld.exit_min]))[::50]:
        entered = np.sum(dep <= s)
        exited = np.sum(ld.arrive_min <= s)
        on_link = np.sum((ld.enter_min <= s) & (ld.exit_min > s))
        assert entered == exited + on_link
    # FIFO on every road link: entering strictly earlier never means leaving later
    for a in range(len(net.links)):
        m = ld.link == a
        order = np.lexsort((ld.exit_min[m], ld.enter_min[m]))
        assert np.all(np.diff(ld.exit_min[m][order]) >= -1e-9)


def test_dynamic_ue_reaches_one_percent_gap():
    net = nguyen_dupuis()
    res = dynamic_ue(net, Demand(dict(net.od_veh_h), 120.0, 10.0), "queue", target_gap=0.01)
    assert res.relative_gap <= 0.01
    assert len(res.gaps) < 60
    assert res.loading.arrive_min.size == sum(g.depart_min.size for g in res.groups)
