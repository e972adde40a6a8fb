"""The dynamic loading on ux37: compiled beside the simpy loader it replaced, then the day.

Run:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_loader_speed.py -s

* loader: the 28,956 trips of the first loading of ``scenarios/ux37.toml``'s equilibrium
  (static-UE path split, every vehicle on its own) loaded by ``traffic.dynamic.load`` (median of
  5, after one call that loads the compiled code) and by ``tests/traffic_reference.load_simpy``
  in the same process; prints both and their ratio (the loadings are checked equal);
* equilibrium: the scenario's dynamic UE (12 loadings) and the part of it spent loading;
* day: ``simulate --scenario ux37`` as ``test_v2sim_compare.py`` runs it. With
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
from tests.traffic_reference import load_simpy
from traffic.assignment import _assign, _initial_shares, build_groups, dynamic_ue
from traffic.dynamic import load
from traffic.scenario import build_demand, build_network, build_prices

pytestmark = pytest.mark.benchmark


def test_ux37_loader_and_day(benchmark, tmp_path, monkeypatch):
    sc = load_scenario("ux37")
    cfg = sc.traffic
    net = build_network(cfg, sc.base_dir)
    demand = build_demand(cfg, net)
    prices = build_prices(cfg)
    groups = build_groups(net, demand)
    shares = _initial_shares(net, demand, groups, prices, prices.value_of_time_per_h / 60.0)
    trips = _assign(groups, shares, demand.platoon_veh)
    load(net, trips, cfg.link_model, window_min=demand.interval_min)  # compiled code loaded
    new = benchmark.pedantic(load, args=(net, trips, cfg.link_model),
                             kwargs={"window_min": demand.interval_min}, rounds=5, iterations=1)
    t_new = benchmark.stats.stats.median
    t0 = time.perf_counter()
    old = load_simpy(net, trips, cfg.link_model, window_min=demand.interval_min)
    t_old = time.perf_counter() - t0
    np.testing.assert_array_equal(new.link, old.link)
    np.testing.assert_array_equal(new.exit_min, old.exit_min)

    spent = [0.0]

    def timed_load(*args, **kwargs):
        t = time.perf_counter()
        out = load(*args, **kwargs)
        spent[0] += time.perf_counter() - t
        return out

    monkeypatch.setattr(assignment, "load", timed_load)
    t0 = time.perf_counter()
    res = dynamic_ue(net, demand, cfg.link_model, prices, cfg.target_gap, cfg.max_iterations)
    t_due = time.perf_counter() - t0
    monkeypatch.undo()

    t0 = time.perf_counter()
    code = main(["simulate", "--scenario", "ux37", "--quiet", "--no-plots", "--out",
                 str(tmp_path / "day")])
    t_day = time.perf_counter() - t0
    summary = json.loads((tmp_path / "day" / "summary.json").read_text())
    assert code == summary["exit_code"] and summary["ticks"] == 96
    benchmark.extra_info.update({"loader_simpy_s": t_old, "loader_compiled_s": t_new,
                                 "due_s": t_due, "due_loading_s": spent[0], "day_s": t_day,
                                 "setup_s": summary["setup_s"], "ticks_s": summary["ticks_s"]})
    v2sim = os.environ.get("V2SIM_DAY_S")
    versus = (f"; V2Sim {float(v2sim):.1f} s: ratio {float(v2sim) / t_day:.2f} (goal >= 5)"
              if v2sim else "")
    print(f"\nux37 loading of {len(trips)} vehicles ({new.link.size} traversals): simpy "
          f"{t_old:.2f} s, compiled {t_new * 1e3:.1f} ms, ratio {t_old / t_new:.0f}x; dynamic "
          f"UE {len(res.gaps)} loadings {t_due:.2f} s, of which loading {spent[0]:.2f} s; day "
          f"{t_day:.1f} s (set-up incl. equilibrium {summary['setup_s']:.1f} s, 96 ticks "
          f"{summary['ticks_s']:.1f} s){versus}")
