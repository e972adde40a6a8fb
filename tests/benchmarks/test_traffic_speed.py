"""Traffic speed on Nguyen–Dupuis, 2 h of standard demand (~4,000 individual vehicles).

Run: OMP_NUM_THREADS=1 python -m pytest -m benchmark --benchmark-enable tests/benchmarks -s
Targets: one dynamic loading <= 2 s; dynamic UE to a 1 % gap <= 30 s; static UE to
1e-8 <= 0.2 s, one core. (Reference from the issue, not measured here: UXsim's Python engine
~41 s per loading at platoon size 1.)
"""

import time

import numpy as np
import pytest

from traffic.assignment import (
    Demand,
    Prices,
    _assign,
    _initial_shares,
    build_groups,
    dynamic_ue,
)
from traffic.dynamic import load
from traffic.network import nguyen_dupuis
from traffic.static import static_ue

pytestmark = pytest.mark.benchmark


def test_traffic_speed(benchmark):
    net = nguyen_dupuis()
    demand = Demand(dict(net.od_veh_h), 120.0, 10.0)
    groups = build_groups(net, demand)
    trips = _assign(groups, _initial_shares(net, demand, groups, Prices(), 0.5))
    benchmark.pedantic(load, args=(net, trips, "queue"), rounds=3, iterations=1)
    t_load = benchmark.stats.stats.median
    t0 = time.perf_counter()
    res = dynamic_ue(net, demand, "queue", target_gap=0.01)
    t_due = time.perf_counter() - t0
    t0 = time.perf_counter()
    sue = static_ue(net, target_gap=1e-8)
    t_sue = time.perf_counter() - t0
    print(f"\nloading of {len(trips)} vehicles: {t_load:.3f} s (target <= 2 s); dynamic UE: gap "
          f"{res.relative_gap:.4f} in {len(res.gaps)} iterations, {t_due:.2f} s (target <= 30 s);"
          f" static UE: gap {sue.relative_gap:.1e} in {t_sue:.3f} s (target <= 0.2 s)")
    assert np.isfinite(res.loading.arrive_min).all()
