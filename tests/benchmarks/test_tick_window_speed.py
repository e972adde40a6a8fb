"""Per-tick grid work on a two-interval window vs the whole remaining horizon.

Run: python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_tick_window_speed.py -s

The same default day is simulated twice in one process (BLAS pinned to one thread): once with
the grid agent publishing intervals ``k`` and ``k + 1`` (the default), once re-computing the
whole remaining horizon ``[k, T)`` every tick (the previous behaviour). Only ``run()`` is timed
(the set-up, including the day-ahead commitment, is the same for both); the AC power flows are
counted through the solver.
"""

import time

import pytest
from threadpoolctl import threadpool_limits

from environment.model import CoSimModel

pytestmark = pytest.mark.benchmark


def _day(scenario, behaviour, lookahead):
    sim = CoSimModel(scenario, behaviour, scenario.seed)
    agent = sim.grid_agent
    publish = agent.publish
    agent.publish = lambda envs, boxes: publish(envs, boxes, lookahead=lookahead)
    solver = agent.grid.solver
    solve = solver.solve
    points = [0]

    def counted(p, q):
        points[0] += len(p)
        return solve(p, q)

    solver.solve = counted  # instance attribute shadows the method for this run
    t0 = time.perf_counter()
    sim.run()
    seconds = time.perf_counter() - t0
    sim.release()
    del solver.solve
    return seconds, points[0]


def test_window_vs_full_horizon(benchmark, paper_scenario, shipped_model):
    with threadpool_limits(1):
        full_s, full_pts = _day(paper_scenario, shipped_model, None)
        benchmark.pedantic(lambda: _day(paper_scenario, shipped_model, 2), rounds=1,
                           iterations=1, warmup_rounds=0)
        win_s, win_pts = _day(paper_scenario, shipped_model, 2)
    benchmark.extra_info.update({"full_horizon_s": full_s, "window_s": win_s,
                                 "speedup": full_s / win_s, "ac_points_full": full_pts,
                                 "ac_points_window": win_pts})
    print(f"\nticks of one day: whole remaining horizon {full_s:.2f} s ({full_pts} AC points), "
          f"two-interval window {win_s:.2f} s ({win_pts} AC points): {full_s / win_s:.1f}x")
    assert win_s > 0
