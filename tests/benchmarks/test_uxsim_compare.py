"""Sioux Falls loaded by this project and by UXsim, same network, demand and platoon size.

Run (UXsim is not a dependency; it is the ``bench`` extra):
    pip install -e ".[bench]"
    OMP_NUM_THREADS=1 python -m pytest -m benchmark --benchmark-enable \
        tests/benchmarks/test_uxsim_compare.py -s

Both load the full ``SiouxFalls_trips.tntp`` table (360,600 veh/h for 60 minutes) with vehicles
in platoons of ``k`` (UXsim's ``deltan``). The models differ and the comparison says so:

* here: point queues with the TNTP capacity as outflow rate, routes split by the static UE
  (how the dynamic UE starts), one event-driven loading;
* UXsim 1.x: Newell's kinematic-wave links (free-flow speed 20 m/s, length = speed x TNTP
  free-flow time, lanes enough that only the outflow capacity ``capacity_out`` binds) with its
  own dynamic user-optimal route choice.

Printed: wall time of one loading each, total travel time, completed trips.
"""

import math
import time
from pathlib import Path

import numpy as np
import pytest

from traffic.assignment import Demand, Prices, _assign, _initial_shares, build_groups
from traffic.dynamic import load
from traffic.tntp import load_tntp

pytestmark = pytest.mark.benchmark
DATA = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "sioux_falls"
SPEED_M_S = 20.0


def _uxsim_world(net, k: int, uxsim):
    w = uxsim.World(name="", deltan=k, tmax=4 * 3600, print_mode=0, save_mode=0, show_mode=0,
                    random_seed=0)
    nodes = sorted({ln.from_node for ln in net.links} | {ln.to_node for ln in net.links})
    for n in nodes:
        w.addNode(str(n), 0.0, float(n))
    for ln in net.links:
        if ln.kind != "road":
            continue
        cap_veh_s = ln.capacity_veh_h / 3600.0
        lanes = max(1, math.ceil(cap_veh_s / 0.5))  # 0.5 veh/s/lane: the FD never binds first
        w.addLink(f"l{ln.number}", str(ln.from_node), str(ln.to_node),
                  length=max(SPEED_M_S * 60.0 * ln.t0_min, 100.0), free_flow_speed=SPEED_M_S,
                  number_of_lanes=lanes, capacity_out=cap_veh_s)
    for (o, d), q in net.od_veh_h.items():
        if q > 0:
            w.adddemand(str(o), str(d), 0, 3600, q / 3600.0)
    return w


@pytest.mark.parametrize("k", [10, 50])
def test_loading_side_by_side_with_uxsim(benchmark, k):
    uxsim = pytest.importorskip("uxsim")
    net = load_tntp(DATA / "SiouxFalls_net.tntp", DATA / "SiouxFalls_trips.tntp")
    demand = Demand(dict(net.od_veh_h), 60.0, 10.0)
    groups = build_groups(net, demand)
    shares = _initial_shares(net, demand, groups, Prices(), 0.5)
    trips = _assign(groups, shares, k)
    t0 = time.perf_counter()
    ld = benchmark.pedantic(load, args=(net, trips, "queue"), rounds=1, iterations=1)
    ours_s = time.perf_counter() - t0
    ours_tt_h = float(np.nansum(ld.travel_time_min() * ld.trip_veh)) / 60.0
    w = _uxsim_world(net, k, uxsim)
    t0 = time.perf_counter()
    w.exec_simulation()
    ux_s = time.perf_counter() - t0
    w.analyzer.basic_analysis()
    ux_tt_h = float(w.analyzer.total_travel_time) / 3600.0
    ux_done = float(w.analyzer.trip_completed)
    benchmark.extra_info.update({"k": k, "ours_s": ours_s, "uxsim_s": ux_s,
                                 "ours_total_travel_time_veh_h": ours_tt_h,
                                 "uxsim_total_travel_time_veh_h": ux_tt_h,
                                 "uxsim_trips_completed": ux_done})
    print(f"\nSioux Falls, platoons of {k}: ours {ours_s:.2f} s ({len(ld.trips)} simulated, "
          f"{ld.trip_veh.sum():.0f} vehicles, total travel time {ours_tt_h:,.0f} veh-h); UXsim "
          f"{ux_s:.2f} s (completed {ux_done:,.0f} of {w.analyzer.trip_all:,.0f}, total travel "
          f"time {ux_tt_h:,.0f} veh-h); time ratio UXsim / ours {ux_s / ours_s:.1f}")
    assert ld.trip_veh.sum() > 0
