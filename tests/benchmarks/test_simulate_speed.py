"""Speed of one co-simulated day of the default case (target: <= 10 s wall, one core).

Run: OMP_NUM_THREADS=1 python -m pytest -m benchmark --benchmark-enable tests/benchmarks -s
The day: 200 EVs, 4 stations, 96 ticks, the full α package every tick (the plugged-in EVs
beside 50 sampled days of later arrivals: per-scenario inner batteries inside the LinDistFlow /
AC-corrected network boxes, α intersection, packaging), the must-serve AC check, the reserve
calls and AC at the realised operating point. Model construction (pools, DA commitment with
its calibration on fresh days, feeder) is included; fitting the behaviour model is not (it is
done once per calibration), nor is the one-off compilation of the kernels (warmed up first).
Baseline in the same run: the vehicle-box package (``simulation.package = "vehicle-box"``).
"""

import time

import pytest

from environment.model import CoSimModel

pytestmark = pytest.mark.benchmark


def test_one_day(benchmark, paper_scenario, shipped_model):
    assert paper_scenario.simulation.n_scenarios >= 200
    assert paper_scenario.simulation.package == "alpha-battery"

    def day(sc=paper_scenario):
        m = CoSimModel(sc, shipped_model, sc.seed)
        m.run()
        m.release()
        return m

    boxes = paper_scenario.with_overrides(simulation={"package": "vehicle-box"})
    t0 = time.perf_counter()
    day(boxes)
    box_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    m = CoSimModel(paper_scenario, shipped_model, paper_scenario.seed)
    built = time.perf_counter() - t0
    m.run()
    ran = time.perf_counter() - t0 - built
    benchmark.pedantic(day, rounds=3, iterations=1)
    med = benchmark.stats.stats.median
    print(f"\none day with the α package every tick: median {med:.2f} s (target <= 10 s); "
          f"first run construction {built:.2f} s + clock {ran:.2f} s; vehicle-box package "
          f"{box_s:.2f} s (ratio {med / box_s:.2f})")
