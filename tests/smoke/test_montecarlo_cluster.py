"""Monte Carlo on a cluster of separate processes: ``dask scheduler`` and two ``dask worker``
started from the command line, as on several machines (here on loopback).

The run is interrupted (Ctrl-C) and resumed on the cluster; every per-day output (the metrics
table, each day's ticks and EV tables, the summary's statistics) must equal the same run on a
local cluster of one worker. Also: the same over TLS, the workers' view of ``--out`` checked
before any work, and the scheduler options refused in one line.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from environment.cli.main import main
from tests.dask_processes import ROOT, dask_processes, default_sigint, make_tls_files

N = 6
SCENARIO = """
name = "cluster_small"
seed = 11
[horizon]
n_intervals = 32
[[stations]]
name = "CS1"
n_ev = 8
bus = 18
chargers = 8
[[stations]]
name = "CS2"
n_ev = 8
bus = 33
chargers = 8
[simulation]
n_scenarios = 10
[grid]
feeder = "feeder.json"
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The scenario, with a feeder file beside it that the workers read (IEEE 33-bus)."""
    import pandapower as pp
    import pandapower.networks as pn

    folder = tmp_path_factory.mktemp("sc")
    pp.to_json(pn.case33bw(), str(folder / "feeder.json"))
    f = folder / "cluster_small.toml"
    f.write_text(SCENARIO)
    return str(f)


@pytest.fixture(scope="module")
def reference(small, tmp_path_factory):
    """The run on a local cluster of one worker."""
    out = tmp_path_factory.mktemp("ref") / "mc"
    assert main(["montecarlo", "--scenario", small, "--replicates", str(N), "--workers", "1",
                 "--quiet", "--no-plots", "--out", str(out)]) == 0
    return out


def _finished(manifest: Path) -> list[int]:
    try:
        return json.loads(manifest.read_text())["replicates_finished"]
    except (OSError, ValueError, KeyError):
        return []


def assert_same_days(got: Path, want: Path, n: int) -> None:
    """Every per-day output of ``got`` equals that of ``want`` (replicates ``0..n-1``)."""
    pd.testing.assert_frame_equal(pd.read_parquet(got / "replicates.parquet"),
                                  pd.read_parquet(want / "replicates.parquet").iloc[:n])
    for i in range(n):
        for table in ("ticks.parquet", "evs.parquet"):
            pd.testing.assert_frame_equal(
                pd.read_parquet(got / "replicates" / f"{i:05d}" / table),
                pd.read_parquet(want / "replicates" / f"{i:05d}" / table))


def test_interrupted_and_resumed_on_two_worker_processes(small, reference, tmp_path):
    client_dir = tmp_path / "client" / "cwd"  # not the workers' working directory (cluster/)
    client_dir.mkdir(parents=True)
    with dask_processes(tmp_path / "cluster", workers=2) as cluster:
        proc = subprocess.Popen(  # --scenario and --out relative to the command's directory
            [sys.executable, str(ROOT / "run_sim.py"), "montecarlo", "--scenario",
             os.path.relpath(small, client_dir), "--replicates", str(N), "--scheduler-file",
             str(cluster.scheduler_file), "--quiet", "--no-plots", "--out", "mc"],
            cwd=client_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=default_sigint)
        out = client_dir / "mc"
        t0 = time.monotonic()
        while not _finished(out / "manifest.json"):
            assert proc.poll() is None, proc.communicate()[1] + cluster.log_tail()
            assert time.monotonic() - t0 < 180, "no replicate finished\n" + cluster.log_tail()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err + cluster.log_tail()
        assert "--resume" in err
        time.sleep(1.0)  # a replicate the workers were running when the client left may land
        before = _finished(out / "manifest.json")
        assert 1 <= len(before) < N
        # resume on the same cluster, now named by its address
        assert main(["montecarlo", "--scenario", small, "--replicates", str(N), "--scheduler",
                     cluster.address, "--quiet", "--no-plots", "--resume",
                     "--out", str(out)]) == 0, cluster.log_tail()
    assert_same_days(out, reference, N)
    summary = json.loads((out / "summary.json").read_text())
    want = json.loads((reference / "summary.json").read_text())
    assert summary["metrics"] == want["metrics"]
    assert summary["workers"] == 2 and summary["replicates_done"] == N
    assert summary["replicates_resumed"] >= len(before)
    assert _finished(out / "manifest.json") == list(range(N))
    # the days ran in both worker processes, none in this one
    runtime = pd.read_parquet(out / "replicates_runtime.parquet")
    assert runtime.worker.nunique() == 2
    assert not runtime.worker.str.endswith(f":{proc.pid}").any()
    assert not list(Path(ROOT).glob("mc")) and not list((tmp_path / "cluster").glob("mc"))


def test_tls_cluster(small, reference, tmp_path):
    tls = make_tls_files(tmp_path / "tls")
    if tls is None:
        pytest.skip("openssl is not installed (it makes the test certificates)")
    out = tmp_path / "mc"
    with dask_processes(tmp_path / "cluster", workers=1, tls=tls) as cluster:
        assert cluster.address.startswith("tls://")
        assert main(["montecarlo", "--scenario", small, "--replicates", "2", "--scheduler-file",
                     str(cluster.scheduler_file), *tls.flags(), "--quiet", "--no-plots",
                     "--out", str(out)]) == 0, cluster.log_tail()
    assert_same_days(out, reference, 2)


class _FakeClient:
    def __init__(self, view):
        self.view = view

    def run(self, func, folder, probe, token):
        seen = func(folder, probe, token)  # the real probe, run here
        return {"tcp://10.0.0.7:4000": {**seen, **self.view}}


@pytest.mark.parametrize("view,needle", [
    ({"sees_folder": False}, "does not see this folder"),
    ({"writable": False}, "cannot write there"),
    ({"code": "0.0.1+other"}, "runs evflex 0.0.1+other"),
])
def test_workers_must_share_out_and_code(view, needle, tmp_path):
    from environment.experiments.cluster import Cluster
    from environment.experiments.scheduler_link import SchedulerLink
    from scenarios.errors import InputError

    link = SchedulerLink(address="tcp://10.0.0.5:8786", source="--scheduler")
    cluster = Cluster.of_client(_FakeClient({}), link)
    cluster.check_workers(tmp_path)  # a worker on this machine sees the folder: accepted
    cluster = Cluster.of_client(_FakeClient(view), link)
    with pytest.raises(InputError, match=re.escape(needle)) as exc:
        cluster.check_workers(tmp_path)
    assert "10.0.0.7:4000" in str(exc.value) and len(str(exc.value).splitlines()) == 1
    assert not list(tmp_path.iterdir())  # the probe file is gone


@pytest.mark.parametrize("args,needle", [
    (["--scheduler", "10.0.0.5"], "--scheduler: '10.0.0.5' is not a scheduler address"),
    (["--scheduler", "ucx://10.0.0.5:8786"], "uses protocol 'ucx'"),
    (["--scheduler-file", "{tmp}/none.json"], "--scheduler-file: {tmp}/none.json does not"),
    (["--scheduler-file", "{tmp}/bad.json"], "--scheduler-file: {tmp}/bad.json holds no"),
    (["--tls-ca-file", "{tmp}/ca.pem"], "--tls-ca-file: {tmp}/ca.pem given without"),
    (["--scheduler", "tcp://10.0.0.5:8786", "--tls-ca-file", "{tmp}/ca.pem", "--tls-cert",
      "{tmp}/ca.pem"], "which is unencrypted"),
    (["--scheduler", "tls://10.0.0.5:8786"], "no certificates were given"),
    (["--scheduler", "tls://10.0.0.5:8786", "--tls-ca-file", "{tmp}/ca.pem"],
     "--tls-cert: missing"),
    (["--scheduler", "tls://10.0.0.5:8786", "--tls-ca-file", "{tmp}/none.pem", "--tls-cert",
      "{tmp}/ca.pem"], "--tls-ca-file: {tmp}/none.pem is not a readable file"),
])
def test_bad_scheduler_options(small, args, needle, tmp_path, capsys):
    (tmp_path / "bad.json").write_text('{"type": "Scheduler"}')
    (tmp_path / "ca.pem").write_text("not checked before connecting\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["montecarlo", "--scenario", small, "--replicates", "1", "--out",
                 str(tmp_path / "mc"), *args]) == 2
    err = capsys.readouterr().err
    assert needle.replace("{tmp}", str(tmp_path)) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "mc").exists()  # refused before any work
