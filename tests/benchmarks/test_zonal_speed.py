"""Speed of the 3,000-EV day-ahead two-layer zonal dispatch (target: <= 30 s, one core).

Run: python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_zonal_speed.py -s
or   python -m tests.benchmarks.test_zonal_speed   (prints the table of the README)

The process is pinned to one CPU (``os.sched_setaffinity``) and BLAS to one thread. Timed:
the stations' expected fleets from 50 sampled days (``station_aggregates``), the partition and
the distribution layer (an LP with the capacitor steps rounded) with its AC rounds
(``plan_zonal``), and the aggregation layer on a realised day of its vehicles: the rounds of
targets between the layers, trading prices, the six areas' price-response LPs, the vehicles'
tracking LPs by user type, the correction round and the rescheduling (``two_layers``; its
final AC check included). Not timed: fitting the behaviour model, drawing the sessions,
building the feeder. ``python -m tests.benchmarks.test_zonal_speed`` also measures, in the
same run, the baseline: the same pipeline with pandapower's Newton-Raphson as the AC model of
the tightening rounds and of the checks (the first implementation).

The case's residential vehicles dwell overnight: its tracking LPs have 17,000-36,000 active
(vehicle, interval) pairs. The second case is the reproduction's public-sessions run (the
``--set`` of the ``public`` run of ``environment.experiments.reproduce.papers``: the Perth &
Kinross daytime sessions on a day from midnight), with fewer than 12,000.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np
import pytest

pytestmark = pytest.mark.benchmark


CASES = ("zonal_case", "public")


def _inputs(case: str = "zonal_case"):
    from environment.assessment.zonal_study import _fleets
    from environment.cli.runs import load_behaviour, load_with_settings
    from environment.experiments.reproduce import papers
    from environment.grid_setup import build_grid_model

    runs = {run.tag: run.settings for run in papers.ZONAL_SENSITIVITY}
    sc = load_with_settings("zonal_case", list(runs[case]) if case in runs else [])
    behaviour = load_behaviour(sc, None)
    gm = build_grid_model(sc)
    rng = np.random.default_rng([sc.seed, 16])
    fleets = _fleets(sc, behaviour, 50, rng)
    realised = [f.row(0) for f in _fleets(sc, behaviour, 1, rng)]
    return sc, gm, fleets, realised


def two_layer_day(sc, gm, fleets, realised):
    """The timed pipeline (module docstring); returns the two-layer result."""
    from environment.assessment.zonal_study import two_layers
    from environment.planning.zonal_setup import plan_zonal, station_aggregates

    hz = sc.horizon
    agg = station_aggregates(tuple(s.name for s in sc.stations), fleets, hz.n_intervals,
                             hz.dt_h)
    setup = plan_zonal(sc, gm, agg)
    return setup, two_layers(sc, setup, realised, gm, gm.solver)


def measure() -> dict[str, float]:
    """Wall times of the fast pipeline and of the pandapower baseline, one core."""
    from threadpoolctl import threadpool_limits

    from grid.ac import PandapowerAc

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with threadpool_limits(1):
        sc, gm, fleets, realised = _inputs()
        out = {}
        for name, model in (("radial sweep", gm), ("pandapower", replace(
                gm, solver=PandapowerAc(gm.feeder)))):
            t0 = time.perf_counter()
            setup, two = two_layer_day(sc, model, fleets, realised)
            out[name] = time.perf_counter() - t0
            out[f"{name} feasible"] = float(setup.plan.feasible and two.redispatch.feasible)
    return out


@pytest.mark.parametrize("case", CASES)
def test_two_layer_day(benchmark, case):
    from threadpoolctl import threadpool_limits

    pinned = hasattr(os, "sched_setaffinity")
    cpus = os.sched_getaffinity(0) if pinned else set()
    if pinned:
        os.sched_setaffinity(0, {sorted(cpus)[0]})
    try:
        with threadpool_limits(1):
            inputs = _inputs(case)
            benchmark.pedantic(lambda: two_layer_day(*inputs), rounds=2, iterations=1)
    finally:
        if pinned:
            os.sched_setaffinity(0, cpus)
    print(f"\ntwo-layer day, 3,000 EVs, {case}: median {benchmark.stats.stats.median:.1f} s "
          "(target <= 30 s, one core)")


if __name__ == "__main__":
    m = measure()
    fast, base = m["radial sweep"], m["pandapower"]
    print("| AC model in the loop | wall time, one core | feasible |\n|---|---|---|")
    print(f"| radial sweep | {fast:.1f} s | {bool(m['radial sweep feasible'])} |")
    print(f"| pandapower (baseline) | {base:.1f} s | {bool(m['pandapower feasible'])} |")
    print(f"ratio baseline / ours: {base / fast:.2f}")
