"""Speed of the three-layer α assessment vs the per-vehicle LP baseline, same run.

Run: python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_package_speed.py -s

Measured: the whole DA + RT pipeline of the paper case (station α rows, network clipping with
AC correction, per-scenario inner batteries, α intersection with calibration on 200 fresh days,
coverage) at M = 500, and its core — the per-scenario inner batteries of the DA case. The
baseline is the per-vehicle LP: the exact per-interval projections of one scenario's fleet by
HiGHS (two LPs per interval), extrapolated to the DA case's M scenarios x 4 stations. The issue's
target was 2 s for DA + RT; see the README for the measured numbers.
"""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from environment.assessment.grid import assess_grid_layers
from environment.assessment.station import assess_station_layer
from environment.grid_setup import build_grid_model
from flexibility.alpha_sets import join_fleets
from flexibility.battery import compact_fleet
from flexibility.inner import fleet_batteries
from flexibility.reference import TrajectoryModel
from scenarios.fleetgen import draw_sessions, fleet_from_sessions

pytestmark = pytest.mark.benchmark


def lp_seconds_per_station_scenario(fleet, T, n_sample=2):
    start = time.perf_counter()
    for m in range(n_sample):
        TrajectoryModel(fleet.row(m)).interval_extremes(T)
    return (time.perf_counter() - start) / n_sample


def test_three_layer_pipeline_speed(benchmark, paper_scenario, shipped_model):
    sc = paper_scenario
    gm = build_grid_model(sc)

    def run():
        with threadpool_limits(1):
            st = assess_station_layer(sc, shipped_model, np.random.default_rng(sc.seed))
            return assess_grid_layers(sc, st, gm)

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    pipeline_s = benchmark.stats.stats.median
    hz = sc.horizon
    rng = np.random.default_rng(1)
    fleets = [fleet_from_sessions(draw_sessions(shipped_model, hz, s.n_ev, 500, 0.5, r), sc.ev,
                                  hz) for s, r in zip(sc.stations, rng.spawn(4), strict=True)]
    joined, station = join_fleets(fleets)
    fleet, st_idx = compact_fleet(joined, station, hz.n_intervals)
    t0 = time.perf_counter()
    with threadpool_limits(1):
        fleet_batteries(fleet, st_idx, 4, hz.n_intervals)
    core_s = time.perf_counter() - t0
    per = lp_seconds_per_station_scenario(fleets[0], hz.n_intervals)
    lp_s = per * 500 * 4
    benchmark.extra_info.update({"pipeline_da_rt_s": pipeline_s, "inner_batteries_da_s": core_s,
                                 "lp_projection_da_extrapolated_s": lp_s,
                                 "ratio_lp_to_core": lp_s / core_s})
    print(f"\nDA+RT three-layer pipeline (M = 500, 200 coverage days): {pipeline_s:.1f} s; "
          f"DA inner batteries {core_s:.2f} s; per-vehicle LP projections of the DA case "
          f"{per:.3f} s x 2000 station-scenarios = {lp_s:.0f} s; ratio {lp_s / core_s:.0f}x")
    assert np.isfinite(lp_s / core_s)
