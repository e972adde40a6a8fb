"""BLAS/OpenMP threads pinned for a run unless the user chose."""

from threadpoolctl import threadpool_info

from environment.cli import main as cli


def test_pinned_to_one_thread_during_a_run(monkeypatch):
    for v in cli.THREAD_VARS:
        monkeypatch.delenv(v, raising=False)
    seen = {}

    def fake_dispatch(args):
        seen["env"] = {v: cli.os.environ.get(v) for v in cli.THREAD_VARS}
        seen["blas"] = [p["num_threads"] for p in threadpool_info()]
        return 0

    monkeypatch.setattr(cli, "_dispatch", fake_dispatch)
    assert cli.main(["traffic"]) == 0
    assert set(seen["env"].values()) == {"1"}  # inherited by dask workers
    assert seen["blas"] and set(seen["blas"]) == {1}
    assert all(v not in cli.os.environ for v in cli.THREAD_VARS)  # restored afterwards


def test_user_choice_is_kept(monkeypatch):
    for v in cli.THREAD_VARS:
        monkeypatch.delenv(v, raising=False)  # e.g. left by dask in this process
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    seen = {}

    def fake_dispatch(args):
        seen["omp"] = cli.os.environ.get("OMP_NUM_THREADS")
        return 0

    monkeypatch.setattr(cli, "_dispatch", fake_dispatch)
    assert cli.main(["traffic"]) == 0
    assert seen["omp"] is None and cli.os.environ["OPENBLAS_NUM_THREADS"] == "2"
