"""City-scale traffic: Sioux Falls' full OD table loaded dynamically, platoons.

Run: OMP_NUM_THREADS=1 python -m pytest -m benchmark --benchmark-enable \
    tests/benchmarks/test_city_traffic_speed.py -s

The 360,600 veh/h of ``SiouxFalls_trips.tntp`` over a 60-minute loading period (360,642
vehicles after per-group rounding), split over the paths by the static UE as the dynamic UE
starts, loaded once vehicle by vehicle (``platoon_veh = 1``) and once in platoons of 10 and
50; prints the wall times, their ratio and how far the platoons move the total travel time.
"""

import time
from pathlib import Path

import numpy as np
import pytest

from traffic.assignment import Demand, Prices, _assign, _initial_shares, build_groups
from traffic.dynamic import load
from traffic.tntp import load_tntp

pytestmark = pytest.mark.benchmark

DATA = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "sioux_falls"


def test_sioux_falls_loading_platoons(benchmark):
    t0 = time.perf_counter()
    net = load_tntp(DATA / "SiouxFalls_net.tntp", DATA / "SiouxFalls_trips.tntp")
    t_parse = time.perf_counter() - t0
    demand = Demand(dict(net.od_veh_h), 60.0, 10.0)
    groups = build_groups(net, demand)
    shares = _initial_shares(net, demand, groups, Prices(), 0.5)

    def loaded(k: int):
        trips = _assign(groups, shares, k)
        t = time.perf_counter()
        ld = load(net, trips, "queue")
        return ld, time.perf_counter() - t

    ld1, t1 = loaded(1)
    trips10 = _assign(groups, shares, 10)
    ld10 = benchmark.pedantic(load, args=(net, trips10, "queue"), rounds=3, iterations=1)
    t10 = benchmark.stats.stats.median
    ld50, t50 = loaded(50)
    tt = {k: float(np.nansum(ld.travel_time_min() * ld.trip_veh))
          for k, ld in ((1, ld1), (10, ld10), (50, ld50))}
    print(f"\nSioux Falls: parse {t_parse * 1e3:.0f} ms; loading of {ld1.trip_veh.sum():.0f} "
          f"vehicles: k=1 {len(ld1.trips)} simulated, {t1:.1f} s; k=10 {len(ld10.trips)}, "
          f"{t10:.2f} s; k=50 {len(ld50.trips)}, {t50:.2f} s; speed-up k=10 vs k=1 "
          f"{t1 / t10:.1f}x, k=50 vs k=10 {t10 / t50:.1f}x; total travel time vs k=1: k=10 "
          f"{tt[10] / tt[1] - 1:+.2%}, k=50 {tt[50] / tt[1] - 1:+.2%}")
    for ld in (ld1, ld10, ld50):
        assert ld.trip_veh.sum() == ld1.trip_veh.sum()
        assert np.isfinite(ld.arrive_min).all()
    assert t10 < t1
