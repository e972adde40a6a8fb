"""Static UE on Nguyen–Dupuis against an independent Frank–Wolfe written here."""

import heapq

import numpy as np
import pytest

from traffic.network import Link, NetworkError, RoadNetwork, nguyen_dupuis
from traffic.static import static_ue


def _bpr(t0, c, x):
    return t0 * (1 + 0.15 * (x / c) ** 4)


def _dijkstra(links, cost, o, d):
    adj = {}
    for i, (a, b) in enumerate(links):
        adj.setdefault(a, []).append((b, i))
    dist, prev, heap = {o: 0.0}, {}, [(0.0, o)]
    while heap:
        du, u = heapq.heappop(heap)
        if du > dist.get(u, np.inf):
            continue
        for v, i in adj.get(u, []):
            if du + cost[i] < dist.get(v, np.inf):
                dist[v], prev[v] = du + cost[i], i
                heapq.heappush(heap, (dist[v], v))
    path, node = [], d
    while node != o:
        i = prev[node]
        path.append(i)
        node = links[i][0]
    return path, dist[d]


def frank_wolfe(net, gap_target=1e-4, max_iter=20000):
    """Textbook Frank–Wolfe with bisection line search on the Beckmann objective."""
    ends = [(ln.from_node, ln.to_node) for ln in net.links]
    t0, c = net.t0_min, net.capacity_veh_h

    def aon(cost):
        y = np.zeros(len(ends))
        low = 0.0
        for (o, d), q in net.od_veh_h.items():
            p, dist = _dijkstra(ends, cost, o, d)
            y[p] += q
            low += q * dist
        return y, low

    x, _ = aon(_bpr(t0, c, np.zeros(len(ends))))
    for _ in range(max_iter):
        t = _bpr(t0, c, x)
        y, low = aon(t)
        gap = (x @ t - low) / (x @ t)
        if gap <= gap_target:
            return x, gap
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if (y - x) @ _bpr(t0, c, x + mid * (y - x)) > 0:
                hi = mid
            else:
                lo = mid
        x = x + lo * (y - x)
    return x, gap


def beckmann(net, x):
    t0, c = net.t0_min, net.capacity_veh_h
    return float(np.sum(t0 * (x + 0.15 * x ** 5 / (5 * c ** 4))))


def test_path_based_ue_matches_frank_wolfe_within_its_tolerance():
    net = nguyen_dupuis()
    res = static_ue(net, target_gap=1e-8)
    assert res.relative_gap <= 1e-8
    x_fw, gap_fw = frank_wolfe(net, 1e-4)
    assert gap_fw <= 1e-4
    # FW at gap 1e-4 is close in objective; link flows agree within FW's accuracy
    assert beckmann(net, res.flow_veh_h) <= beckmann(net, x_fw) + 1e-9
    # convexity: Beckmann(x_fw) - Beckmann(x*) <= gap_fw * TSTT(x_fw) (the duality bound)
    tstt_fw = float(x_fw @ (net.t0_min * (1 + 0.15 * (x_fw / net.capacity_veh_h) ** 4)))
    assert beckmann(net, x_fw) - beckmann(net, res.flow_veh_h) <= gap_fw * tstt_fw + 1e-9
    assert np.abs(res.flow_veh_h - x_fw).max() <= 0.02 * net.od_veh_h[(1, 3)]
    # Wardrop: every used path costs the OD minimum (to 1e-6 relative)
    for od, ps in res.paths.items():
        for p, f in ps:
            if f > 1e-6:
                assert res.time_min[list(p)].sum() == pytest.approx(res.od_cost_min[od],
                                                                     rel=1e-6)
    # demand is conserved
    for od, ps in res.paths.items():
        assert sum(f for _, f in ps) == pytest.approx(net.od_veh_h[od])


def test_bad_networks_are_named():
    with pytest.raises(NetworkError, match="capacity must be positive"):
        RoadNetwork("x", (Link(1, 1, 2, 5.0, 0.0),), {(1, 2): 10.0})
    with pytest.raises(NetworkError, match="free-flow time must be positive"):
        RoadNetwork("x", (Link(1, 1, 2, -1.0, 10.0),), {(1, 2): 10.0})
    with pytest.raises(NetworkError, match="OD pair 2->1 has no path"):
        RoadNetwork("x", (Link(1, 1, 2, 5.0, 10.0),), {(2, 1): 10.0})
    with pytest.raises(NetworkError, match="no feeder bus"):
        RoadNetwork("x", (Link(1, 1, 2, 5.0, 10.0, kind="charge", ports=2, service_min=30,
                               station="CS1"),), {(1, 2): 10.0})
