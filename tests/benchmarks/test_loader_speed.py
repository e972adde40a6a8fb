"""The dynamic loading on ux37: compiled beside the simpy loader it replaced, then the day.

Run:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_loader_speed.py -s

* loader: the dynamic UE of ``scenarios/ux37.toml`` (28,956 trips, every vehicle on its own,
  12 loadings) runs on ``traffic.dynamic.load_paths`` (its compiled code loaded beforehand);
  the trips of all 12 loadings are then loaded again by ``tests/traffic_reference.load_simpy``
  in the same process. Printed: the time of both over the 12 loadings and their ratio (the last
  loading is checked equal), and the equilibrium's wall time;
* day: ``simulate --scenario ux37`` as ``test_v2sim_compare.py`` runs it, wall and CPU time
  (the process's; less sensitive to other load on the machine). With
  ``V2SIM_DAY_S`` set to V2Sim's time per day on this machine (``test_v2sim_compare.py``'s
  side-by-side run prints it) the ratio V2Sim / ours is printed against the goal of 5.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

import traffic.assignment as assignment
from environment.cli.main import main
from scenarios.config import load_scenario
from tests.traffic_reference import array_trips, load_simpy
from traffic.assignment import dynamic_ue
from traffic.dynamic import Trip, load, load_paths
from traffic.scenario import build_demand, build_network, build_prices

pytestmark = pytest.mark.benchmark


def test_ux37_loader_and_day(benchmark, tmp_path, monkeypatch):
    sc = load_scenario("ux37")
    cfg = sc.traffic
    net = build_network(cfg, sc.base_dir)
    demand = build_demand(cfg, net)
    load(net, [Trip(0, (1, 2), "regular", 0.0, ())])  # the compiled code loaded
    calls: list[tuple[tuple[np.ndarray, ...], dict]] = []
    spent = [0.0]

    def timed_load(net_, depart, n_veh, ptr, link, *args):
        t = time.perf_counter()
        out = load_paths(net_, depart, n_veh, ptr, link, *args)
        spent[0] += time.perf_counter() - t
        options = dict(zip(("link_model", "window_min", "station_model", "inflow_veh_h"), args,
                           strict=False))
        calls.append(((depart, n_veh, ptr, link), options))
        return out

    monkeypatch.setattr(assignment, "load_paths", timed_load)
    t0 = time.perf_counter()
    res = dynamic_ue(net, demand, cfg.link_model, build_prices(cfg), cfg.target_gap,
                     cfg.max_iterations)
    t_due = time.perf_counter() - t0
    monkeypatch.undo()
    t_new = spent[0]
    replay = [(array_trips(*arrays), kwargs) for arrays, kwargs in calls]
    t0 = time.perf_counter()
    for trips, kwargs in replay:
        old = load_simpy(net, trips, **kwargs)
    t_old = time.perf_counter() - t0
    np.testing.assert_array_equal(res.loading.link, old.link)
    np.testing.assert_array_equal(res.loading.exit_min, old.exit_min)

    def day():
        t, cpu = time.perf_counter(), time.process_time()
        code = main(["simulate", "--scenario", "ux37", "--quiet", "--no-plots", "--out",
                     str(tmp_path / "day")])
        return code, time.perf_counter() - t, time.process_time() - cpu

    code, t_day, cpu_day = benchmark.pedantic(day, rounds=1, iterations=1)
    summary = json.loads((tmp_path / "day" / "summary.json").read_text())
    assert code == summary["exit_code"] and summary["ticks"] == 96
    benchmark.extra_info.update({"loading_simpy_s": t_old, "loading_compiled_s": t_new,
                                 "due_s": t_due, "day_s": t_day, "day_cpu_s": cpu_day,
                                 "setup_s": summary["setup_s"], "ticks_s": summary["ticks_s"]})
    v2sim = os.environ.get("V2SIM_DAY_S")
    versus = (f"; V2Sim {float(v2sim):.1f} s: ratio {float(v2sim) / t_day:.2f} (goal >= 5)"
              if v2sim else "")
    print(f"\nux37, {len(calls)} loadings of {len(res.loading.trips)} vehicles: simpy "
          f"{t_old:.2f} s, compiled {t_new:.2f} s, ratio {t_old / t_new:.1f}x; dynamic UE "
          f"{t_due:.2f} s; day {t_day:.1f} s, CPU {cpu_day:.1f} s (set-up incl. equilibrium "
          f"{summary['setup_s']:.1f} s, 96 ticks {summary['ticks_s']:.1f} s){versus}")
