"""Speed of one co-simulated day of the default case (target: <= 10 s wall, one core).

Run: OMP_NUM_THREADS=1 python -m pytest -m benchmark --benchmark-enable tests/benchmarks -s
The day: 200 EVs, 4 stations, 96 ticks, RT envelopes from 200 sampled days per station per
tick, LinDistFlow clipping, AC check and correction and packaging every tick, AC at the realised
operating point. Model construction (pools, DA boundary, feeder) is included; fitting the
behaviour model is not (it is done once per calibration).
"""

import time

import pytest

from environment.model import CoSimModel

pytestmark = pytest.mark.benchmark


def test_one_day(benchmark, paper_scenario, shipped_model):
    assert paper_scenario.simulation.n_scenarios >= 200

    def day():
        m = CoSimModel(paper_scenario, shipped_model, paper_scenario.seed)
        m.run()
        return m

    t0 = time.perf_counter()
    m = CoSimModel(paper_scenario, shipped_model, paper_scenario.seed)
    built = time.perf_counter() - t0
    m.run()
    ran = time.perf_counter() - t0 - built
    benchmark.pedantic(day, rounds=3, iterations=1)
    print(f"\none day: median {benchmark.stats.stats.median:.2f} s (target <= 10 s); first run "
          f"construction {built:.2f} s + clock {ran:.2f} s")
