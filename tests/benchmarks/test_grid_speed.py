"""Three-layer assessment speed and the per-interval AC check vs plain pandapower (same run).

Run: OMP_NUM_THREADS=1 python -m pytest -m benchmark --benchmark-enable tests/benchmarks -s
Targets: the whole three-layer assessment of the paper case (DA, RT at 4 instants,
clipping, AC correction of all 96 intervals, packaging, P-Q) in <= 2 s of compute on one core
(setup excluded: fitting the behaviour model, parsing the feeder); the AC check <= 0.5 ms per
interval on the 33-bus feeder, with the ratio against a plain ``pp.runpp`` loop.
"""

import copy
import time

import numpy as np
import pandapower as pp
import pytest

from environment.assessment.grid import assess_grid_layers
from environment.assessment.station import assess_station_layer
from environment.grid_setup import build_grid_model
from grid.ac import RadialSweep
from grid.feeder import run_ac

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def grid_model(paper_scenario):
    return build_grid_model(paper_scenario)


def test_three_layer_assessment_speed(benchmark, paper_scenario, shipped_model, grid_model):
    sc = paper_scenario

    def run():
        st = assess_station_layer(sc, shipped_model, np.random.default_rng(sc.seed))
        return st, assess_grid_layers(sc, st, grid_model)

    st, gr = benchmark.pedantic(run, rounds=3, iterations=1)
    t0 = time.perf_counter()
    assess_grid_layers(sc, st, grid_model)
    grid_only = time.perf_counter() - t0
    median = benchmark.stats.stats.median
    print(f"\nthree-layer assessment: median {median:.3f} s (target <= 2 s); "
          f"network layers alone {grid_only:.3f} s; P-Q LPs {gr.pq.p_kw.size}")


def test_ac_check_per_interval_vs_runpp(benchmark, grid_model):
    gm = grid_model
    bg_p, bg_q = gm.bg(0, 96)
    sweep = RadialSweep(gm.feeder)
    res = benchmark(sweep.solve, bg_p, bg_q)
    per_interval_ms = benchmark.stats.stats.median / 96 * 1e3
    net = copy.deepcopy(gm.feeder.net)
    net.load.drop(net.load.index, inplace=True)
    idx = [pp.create_load(net, int(b), 0.0, 0.0) for b in gm.feeder.bus_index]
    n_ref = 20
    vm_err = 0.0
    t0 = time.perf_counter()
    for t in range(n_ref):
        net.load.loc[idx, "p_mw"] = bg_p[t] / 1e3
        net.load.loc[idx, "q_mvar"] = bg_q[t] / 1e3
        run_ac(net)
        vm = net.res_bus.vm_pu.loc[gm.feeder.bus_index].to_numpy()
        vm_err = max(vm_err, float(np.abs(vm - res.vm_pu[t]).max()))
    runpp_ms = (time.perf_counter() - t0) / n_ref * 1e3
    print(f"\nAC check: radial sweep {per_interval_ms:.4f} ms per interval (batch of 96; target "
          f"<= 0.5 ms), pp.runpp {runpp_ms:.1f} ms per call -> {runpp_ms / per_interval_ms:.0f}x;"
          f" max |dV| vs runpp {vm_err:.1e} p.u.")
    assert vm_err < 1e-6
