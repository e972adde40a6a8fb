"""Monte Carlo throughput on separate dask processes: 2 workers against 1 (goal >= 1.8x).

Run::

    python -m pytest -m benchmark --benchmark-enable -s \
        tests/benchmarks/test_montecarlo_cluster_speed.py

The cluster is what several machines would run, on loopback: ``dask scheduler`` and ``dask
worker --nworkers 1 --nthreads 1`` processes started from the command line
(``tests/dask_processes.py``), BLAS/OpenMP pinned to one thread in the workers' environment
(``OMP_NUM_THREADS=1`` and the like; each worker's threadpoolctl report is printed). Each worker
first runs one day of another seed (imports, compiled kernels, feeder), then the same ``N`` days
of the default scenario are timed through ``run_montecarlo`` on 1 and on 2 workers; both runs
must give identical days. Nothing here asserts a time: the ratio is printed, with the mean
time a worker spent on one day (what contention for the cores costs each day) and the
machine's load average before each timed run (other work on a shared machine).
"""

import os
import time

import pandas as pd
import pytest

from environment.experiments.cluster import Cluster
from environment.experiments.montecarlo import (
    replicate_seeds,
    run_montecarlo,
    run_replicate,
)
from environment.experiments.scheduler_link import SchedulerLink
from tests.dask_processes import dask_processes

pytestmark = pytest.mark.benchmark
N = 10


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max((lib["num_threads"] for lib in threadpool_info()), default=0)


def _throughput(workers, scenario, model, tmp_path):
    with dask_processes(tmp_path / f"cluster{workers}", workers=workers) as procs:
        cluster = Cluster(scheduler=SchedulerLink(address=procs.address, source="--scheduler"))
        try:
            client = cluster.client
            warm_seed = replicate_seeds(scenario.seed + 1, 1)[0]
            warm = [client.submit(run_replicate, scenario, model, 0, warm_seed,
                                  str(tmp_path / f"warm{workers}" / str(i)), workers=[addr],
                                  allow_other_workers=False, pure=False)
                    for i, addr in enumerate(client.scheduler_info()["workers"])]
            client.gather(warm)
            threads = client.run(_blas_threads)
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            run = run_montecarlo(cluster, scenario, model, N, tmp_path / f"w{workers}",
                                 progress=False)
            dt = time.perf_counter() - t0
        finally:
            cluster.close()
    assert len(run.metrics) == N
    mem = run.info.groupby("worker").peak_rss_mb.max()
    return N / dt * 60.0, dt, mem, threads, load, run


def test_cluster_scaling(paper_scenario, shipped_model, tmp_path):
    r1, t1, m1, th1, load1, run1 = _throughput(1, paper_scenario, shipped_model, tmp_path)
    r2, t2, m2, th2, load2, run2 = _throughput(2, paper_scenario, shipped_model, tmp_path)
    pd.testing.assert_frame_equal(run1.metrics.reset_index(drop=True),
                                  run2.metrics.reset_index(drop=True))
    print(f"\n{N} days of {paper_scenario.name} on dask scheduler + dask worker processes: "
          f"1 worker {t1:.1f} s ({r1:.2f} days/min), 2 workers {t2:.1f} s ({r2:.2f} days/min) "
          f"-> {r2 / r1:.2f}x (goal >= 1.8x); mean seconds a worker spent on a day: "
          f"{run1.info.runtime_s.mean():.2f} on 1 worker, {run2.info.runtime_s.mean():.2f} on "
          f"2; load average before: {load1:.2f} and {load2:.2f}; BLAS threads per worker: "
          f"{sorted(th1.values())} and {sorted(th2.values())}; peak RSS per worker (MB): "
          f"{m1.round(0).tolist()} and {m2.round(0).tolist()}")
