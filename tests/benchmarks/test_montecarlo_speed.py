"""Monte Carlo scaling from 1 to 2 workers on the default scenario (target >= 1.7x).

Run: python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_montecarlo_speed.py -s
Each cluster is warmed up with one replicate (imports, feeder parse) before the timed batch of
10 replicates; peak resident memory per worker process is reported.
"""

import time

import pytest

from environment.experiments.cluster import Cluster
from environment.experiments.montecarlo import run_montecarlo

pytestmark = pytest.mark.benchmark
N = 10


def _throughput(workers, scenario, model, tmp_path):
    cluster = Cluster(workers)
    try:
        run_montecarlo(cluster, scenario.model_copy(update={"seed": 1}), model, 1,
                       tmp_path / f"warm{workers}", progress=False)
        t0 = time.perf_counter()
        run = run_montecarlo(cluster, scenario, model, N, tmp_path / f"w{workers}",
                             progress=False)
        dt = time.perf_counter() - t0
    finally:
        cluster.close()
    mem = run.info.groupby("worker").peak_rss_mb.max()
    return N / dt * 60.0, mem


def test_scaling(paper_scenario, shipped_model, tmp_path):
    r1, m1 = _throughput(1, paper_scenario, shipped_model, tmp_path)
    r2, m2 = _throughput(2, paper_scenario, shipped_model, tmp_path)
    print(f"\nreplicates per minute: 1 worker {r1:.1f}, 2 workers {r2:.1f} -> {r2 / r1:.2f}x "
          f"(target >= 1.7x); peak RSS per worker (MB): 1 worker {m1.round(0).tolist()}, "
          f"2 workers {m2.round(0).tolist()}")
