"""AC boundary search along segments: safeguarded regula falsi vs plain bisection.

Run: python -m pytest -m benchmark --benchmark-enable \
    tests/benchmarks/test_boundary_search_speed.py -s

Every tick AC-corrects the charging and discharging corners of its window (a handful of
segments) on the full feeder; on ``1-MVLV-urban-all-0-sw`` a solve of a small batch costs
~10-30 ms, so the number of sequential solves is the cost. The baseline measured in the same
run is the bisection the grid layers used before (start and end solved separately, halving to
``tol``, the result re-solved at ``lo``).
"""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from grid.ac import bisect_segments
from grid.feeder import load_feeder
from grid.lindistflow import NetworkLimits
from grid.sparse_ac import SparseAc

pytestmark = pytest.mark.benchmark
pytest.importorskip("simbench")


class _Counting:
    def __init__(self, solver):
        self.solver, self.calls = solver, 0

    def solve(self, p, q):
        self.calls += 1
        return self.solver.solve(p, q)


def _bisection(solver, bg_p, bg_q, pos, start, end, limits, tol=1e-4):
    """The baseline: plain bisection on feasibility (one solve per halving)."""
    def check(lam, rows):
        p = bg_p[rows].copy()
        p[:, pos] += start[rows] + lam[:, None] * (end[rows] - start[rows])
        return solver.solve(p, bg_q[rows]).violation(limits) < 0

    b, every = start.shape[0], np.arange(start.shape[0])
    ok_end, ok_start = check(np.ones(b), every), check(np.zeros(b), every)
    lo, hi = np.where(ok_end, 1.0, 0.0), np.ones(b)
    active = np.flatnonzero(~ok_end & ok_start)
    while active.size and (hi - lo)[active].max() > tol:
        mid = 0.5 * (lo[active] + hi[active])
        ok = check(mid, active)
        lo[active[ok]], hi[active[~ok]] = mid[ok], mid[~ok]
    check(lo, every)
    return lo


def test_boundary_search_city_feeder(benchmark):
    with threadpool_limits(1):
        fe = load_feeder("1-MVLV-urban-all-0-sw")
        solver = _Counting(SparseAc(fe))
        rng = np.random.default_rng(0)
        b, n_st = 6, 44
        pos = np.sort(rng.choice(np.arange(1, fe.n_bus), n_st, replace=False))
        bg_p = np.repeat(fe.load_p_kw[None] * 0.6, b, axis=0)
        bg_q = np.repeat(fe.load_q_kvar[None] * 0.6, b, axis=0)
        start = np.zeros((b, n_st))
        end = rng.uniform(0.0, 1.0, (b, n_st)) * rng.uniform(300.0, 3000.0, (b, 1))
        limits = NetworkLimits(v_min_pu=0.92, v_max_pu=1.08, substation_kw=60000.0,
                               polygon_sides=12)
        t0 = time.perf_counter()
        new = bisect_segments(solver, bg_p, bg_q, pos, start, end, limits)
        new_s, new_calls = time.perf_counter() - t0, solver.calls
        solver.calls = 0
        t0 = time.perf_counter()
        old = _bisection(solver, bg_p, bg_q, pos, start, end, limits)
        old_s, old_calls = time.perf_counter() - t0, solver.calls
        benchmark.pedantic(lambda: bisect_segments(solver, bg_p, bg_q, pos, start, end, limits),
                           rounds=2, iterations=1)
    assert np.abs(new.lam - old).max() <= 1e-4 and (new.lam < 1).sum() >= 3
    benchmark.extra_info.update({"solves": new_calls, "bisection_solves": old_calls,
                                 "s": new_s, "bisection_s": old_s, "speedup": old_s / new_s})
    print(f"\nboundary search, {b} segments on {fe.n_bus} buses: {new_calls} solves "
          f"{new_s:.2f} s; bisection {old_calls} solves {old_s:.2f} s; "
          f"ratio {old_s / new_s:.1f}x")
