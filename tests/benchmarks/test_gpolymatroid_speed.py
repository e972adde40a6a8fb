"""g-polymatroid greedy vs the joint HiGHS LP for 200 EVs x 96 intervals (same run).

Run: OMP_NUM_THREADS=1 python -m pytest -m benchmark --benchmark-enable \
    tests/benchmarks/test_gpolymatroid_speed.py -s
BLAS threads are pinned to one with threadpoolctl when it is installed (else the environment
variables below only help if numpy was not yet loaded, hence the command line above). The LP is
the sparse joint model ``min sum_t c_t sum_n x[n,t]`` with ``y[n,t] - y[n,t-1] - dt x[n,t] = 0``
over the connection windows, built here independently of ``flexibility.gpolymatroid``; its build
time is reported separately from its solve time.
"""

import contextlib
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import highspy  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import sparse  # noqa: E402

from flexibility.gpolymatroid import BatterySet, optimise  # noqa: E402
from flexibility.gpolymatroid_lp import contains, disaggregate  # noqa: E402
from flexibility.lp import LinearProgram  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - optional
    threadpool_limits = None

pytestmark = pytest.mark.benchmark

N, T, DT = 200, 96, 0.25


def _one_thread():
    return threadpool_limits(1) if threadpool_limits else contextlib.nullcontext()


@pytest.fixture(scope="module")
def fleet():
    """EV-like lossless sets: a window, 11 kW charging, V2G for a third, a departure floor."""
    rng = np.random.default_rng(2024)
    a = rng.integers(0, 60, N)
    d = np.minimum(a + rng.integers(8, 48, N), T)
    win = (np.arange(T) >= a[:, None]) & (np.arange(T) < d[:, None])
    p_ch = rng.choice([3.7, 7.4, 11.0], N)
    p_dis = np.where(rng.random(N) < 1 / 3, p_ch, 0.0)
    u_min = np.where(win, -p_dis[:, None], 0.0)
    u_max = np.where(win, p_ch[:, None], 0.0)
    headroom = rng.uniform(5.0, 40.0, N)  # kWh until full
    floor = -rng.uniform(0.0, 10.0, N)  # V2G floor relative to plug-in energy
    need = np.minimum(np.minimum(rng.uniform(0.0, 30.0, N), p_ch * DT * (d - a)), headroom)
    t = np.arange(T)
    y_max = np.broadcast_to(headroom[:, None], (N, T)).copy()
    y_min = np.where(t >= d[:, None] - 1, need[:, None], floor[:, None])
    y_min = np.where(t < a[:, None], 0.0, y_min)
    y_max = np.where(t < a[:, None], 0.0, y_max)
    return BatterySet(u_min, u_max, y_min, y_max, DT), rng.normal(size=T)


def joint_lp(batt, cost):
    """Build and solve the sparse joint LP; returns (objective, build s, solve s)."""
    t0 = time.perf_counter()
    active = (batt.u_min_kw != 0) | (batt.u_max_kw != 0)
    nn, tt = np.nonzero(active)
    M = nn.size
    j = np.arange(M)
    prev = np.r_[False, nn[1:] == nn[:-1]]
    rows = np.concatenate([j, j, j[prev]])
    cols = np.concatenate([M + j, j, M + j[prev] - 1])
    vals = np.concatenate([np.ones(M), np.full(M, -batt.dt_h), -np.ones(prev.sum())])
    a = sparse.csc_matrix((vals, (rows, cols)), shape=(M, 2 * M))
    # windows are contiguous: after a device's last interval its y stays flat, so the bounds of
    # every later interval apply to the y of the last one
    y_lo = batt.y_min_kwh[nn, tt].copy()
    y_hi = batt.y_max_kwh[nn, tt].copy()
    last = np.r_[~prev[1:], True]
    later = np.arange(T)[None, :] >= tt[last][:, None]
    y_lo[last] = np.where(later, batt.y_min_kwh[nn[last]], -np.inf).max(axis=1)
    y_hi[last] = np.where(later, batt.y_max_kwh[nn[last]], np.inf).min(axis=1)
    h = LinearProgram(np.r_[cost[tt], np.zeros(M)], np.r_[batt.u_min_kw[nn, tt], y_lo],
                      np.r_[batt.u_max_kw[nn, tt], y_hi], a, np.zeros(M),
                      np.zeros(M)).highs()
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value, t1 - t0, t2 - t1


def test_optimise_vs_joint_lp(benchmark, fleet):
    batt, cost = fleet
    with _one_thread():
        x = benchmark.pedantic(optimise, args=(batt, cost), rounds=10, iterations=1,
                               warmup_rounds=1)
        greedy_s = benchmark.stats.stats.median
        runs = [joint_lp(batt, cost) for _ in range(3)]
        t0 = time.perf_counter()
        ok = contains(batt, x.sum(0))
        parts = disaggregate(batt, x.sum(0))
        member_s = (time.perf_counter() - t0) / 2
    obj, build_s, solve_s = (float(np.median(v)) for v in zip(*runs, strict=True))
    greedy_obj = float(cost @ x.sum(0))
    benchmark.extra_info.update({"greedy_s": greedy_s, "lp_build_s": build_s,
                                 "lp_solve_s": solve_s, "contains_s": member_s,
                                 "speedup_vs_lp_solve": solve_s / greedy_s})
    print(f"\noptimise N={N} T={T}: {greedy_s * 1e3:.1f} ms; joint LP build {build_s * 1e3:.1f}"
          f" ms + solve {solve_s * 1e3:.1f} ms (x{(build_s + solve_s) / greedy_s:.1f});"
          f" contains/disaggregate {member_s * 1e3:.1f} ms; objectives {greedy_obj:.6f} vs"
          f" {obj:.6f}")
    assert greedy_obj == pytest.approx(obj, abs=1e-6 * max(1.0, abs(obj)))
    assert ok and parts is not None
    assert member_s < 1.0
