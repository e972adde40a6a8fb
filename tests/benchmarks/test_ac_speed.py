"""AC per operating point on SimBench feeders with transformers: SparseAc vs pandapower.

Run: python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_ac_speed.py -s

Goals: <= 0.1 ms per point on ``1-MV-urban--0-sw``, <= 5 ms on ``1-MVLV-urban-all-0-sw``
(10,453 buses), feeder set-up <= 10 s. The baseline measured in the same run is
:class:`grid.ac.PandapowerAc` (one ``pp.runpp`` per point, what these feeders used before).
"""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from grid.ac import PandapowerAc
from grid.feeder import load_feeder
from grid.sparse_ac import SparseAc

pytestmark = pytest.mark.benchmark
pytest.importorskip("simbench")


def _points(fe, b: int):
    rng = np.random.default_rng(0)
    scale = rng.uniform(0.2, 1.3, (b, fe.n_bus))
    return fe.load_p_kw * scale, fe.load_q_kvar * scale


def _per_point_s(solver, p, q, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        solver.solve(p, q)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / p.shape[0]


@pytest.mark.parametrize("code,n_ref", [("1-MV-urban--0-sw", 8), ("1-MVLV-urban-all-0-sw", 2)])
def test_sparse_ac_speed(benchmark, code, n_ref):
    with threadpool_limits(1):
        t0 = time.perf_counter()
        fe = load_feeder(code)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        fast = SparseAc(fe)
        setup_s = time.perf_counter() - t0
        p, q = _points(fe, 96)
        benchmark.pedantic(lambda: fast.solve(p, q), rounds=3, iterations=1)
        fast_s = _per_point_s(fast, p, q)
        t0 = time.perf_counter()
        ref = PandapowerAc(fe)
        ref_setup_s = time.perf_counter() - t0
        ref_s = _per_point_s(ref, p[:n_ref], q[:n_ref], repeats=1)
    benchmark.extra_info.update({"buses": fe.n_bus, "load_s": load_s, "setup_s": setup_s,
                                 "ms_per_point": fast_s * 1e3,
                                 "pandapower_ms_per_point": ref_s * 1e3,
                                 "pandapower_setup_s": ref_setup_s, "speedup": ref_s / fast_s})
    print(f"\n{code} ({fe.n_bus} buses): load {load_s:.1f} s, SparseAc set-up {setup_s:.2f} s, "
          f"{fast_s * 1e3:.3f} ms/point; PandapowerAc set-up {ref_setup_s:.1f} s, "
          f"{ref_s * 1e3:.1f} ms/point: {ref_s / fast_s:.0f}x")
    assert fast_s > 0
