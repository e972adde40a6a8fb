"""Monte Carlo on dask.distributed: workers, determinism, resume after a kill, dead worker,
early stop, sweeps, DA vs RT, bad input."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from scipy import stats

from environment.cli.main import main
from tests.dask_processes import default_sigint

ROOT = Path(__file__).resolve().parents[2]
SMALL = """
name = "small"
seed = 7
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
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    f = tmp_path_factory.mktemp("sc") / "small.toml"
    f.write_text(SMALL)
    return str(f)


@pytest.fixture(scope="module")
def one_worker(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("mc1")
    assert main(["montecarlo", "--scenario", small, "--replicates", "6", "--workers", "1",
                 "--quiet", "--out", str(out)]) == 0
    return out


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, str(ROOT / "run_sim.py"), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint, **kw)


def test_summary_and_store(one_worker):
    s = json.loads((one_worker / "summary.json").read_text())
    assert s["replicates_done"] == 6 and s["workers"] == 1
    reps = pd.read_parquet(one_worker / "replicates.parquet")
    for m in ("deliverability_rate", "shortfall_kwh", "bte_ch_kwh", "clipping_rate_ch",
              "rt_station_area_kwh", "rt_distribution_peak_ch_kw", "rt_transmission_area_kwh"):
        x = reps[m].to_numpy()  # the summary's CI is the t-interval of the replicates' mean
        low, high = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x)) \
            if x.std() > 0 else (x.mean(), x.mean())
        if m.endswith("_rate") or m.endswith("_rate_ch"):  # shares: the interval stays in [0, 1]
            low, high = max(low, 0.0), min(high, 1.0)
        if (x >= 0).all():  # the mean of a non-negative metric is not negative
            low = max(low, 0.0)
        assert s["metrics"][m]["mean"] == pytest.approx(x.mean())
        assert s["metrics"][m]["ci95"] == pytest.approx([low, high])
    assert reps.replicate.tolist() == list(range(6))
    for col in ("valid", "violation_ticks", "infeasible_ticks", "hold_rate_da", "hold_rate_prev",
                "hold_rate_rt", "undelivered_kwh_da", "undelivered_kwh_prev",
                "undelivered_kwh_rt"):
        assert col in reps
    assert s["invalid_day_share"] == pytest.approx(1.0 - reps.valid.mean())
    # a share of days gets the Wilson interval: inside [0, 1] even when every day is valid
    n_ok = int(reps.valid.sum())
    z = stats.norm.ppf(0.975)
    p = n_ok / 6
    centre = (p + z * z / 12) / (1 + z * z / 6)
    half = z * np.sqrt(p * (1 - p) / 6 + z * z / 144) / (1 + z * z / 6)
    assert s["metrics"]["valid"]["ci95"] == pytest.approx([max(0, centre - half),
                                                           min(1, centre + half)])
    assert s["verdict"] == "OK" and s["exit_code"] == 0
    assert ((reps.valid == 1.0) == ((reps.violation_ticks == 0)
                                    & (reps.infeasible_ticks == 0))).all()
    assert s["metrics"]["hold_rate_rt"]["mean"] == pytest.approx(reps.hold_rate_rt.mean())
    manifest = json.loads((one_worker / "manifest.json").read_text())
    assert manifest["replicates_finished"] == list(range(6))
    for i in range(6):
        assert (one_worker / "replicates" / f"{i:05d}" / "ticks.parquet").is_file()
    for png in ("fan_charts.png", "histograms.png", "convergence.png"):
        assert (one_worker / png).stat().st_size > 10_000


def test_two_workers_give_identical_replicates(small, one_worker, tmp_path):
    assert main(["montecarlo", "--scenario", small, "--replicates", "6", "--workers", "2",
                 "--quiet", "--no-plots", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["workers"] == 2
    pd.testing.assert_frame_equal(pd.read_parquet(one_worker / "replicates.parquet"),
                                  pd.read_parquet(tmp_path / "replicates.parquet"))


def _wait_for(manifest: Path, n: int, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if manifest.is_file():
            done = json.loads(manifest.read_text())["replicates_finished"]
            if len(done) >= n:
                return done
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.2)
    raise AssertionError("no progress")


def test_resume_after_a_killed_run(small, one_worker, tmp_path):
    proc = _cli("montecarlo", "--scenario", small, "--replicates", "6", "--workers", "1",
                "--quiet", "--no-plots", "--out", str(tmp_path), start_new_session=True)
    done = _wait_for(tmp_path / "manifest.json", 2, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its dask workers, mid-run
    proc.wait()
    assert len(done) < 6
    # a second plain run refuses to overwrite; --resume finishes the rest
    assert main(["montecarlo", "--scenario", small, "--replicates", "6", "--quiet",
                 "--no-plots", "--out", str(tmp_path)]) == 2
    assert main(["montecarlo", "--scenario", small, "--replicates", "6", "--quiet",
                 "--no-plots", "--resume", "--out", str(tmp_path)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(one_worker / "replicates.parquet"),
                                  pd.read_parquet(tmp_path / "replicates.parquet"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["replicates_finished"] == list(range(6))


def test_a_worker_killed_mid_replicate_is_retried(small, one_worker, tmp_path):
    proc = _cli("montecarlo", "--scenario", small, "--replicates", "6", "--workers", "2",
                "--quiet", "--no-plots", "--out", str(tmp_path))
    _wait_for(tmp_path / "manifest.json", 1, proc)
    workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
               if "dask" in " ".join(c.cmdline()) or "spawn" in " ".join(c.cmdline())]
    assert workers
    workers[-1].kill()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    pd.testing.assert_frame_equal(pd.read_parquet(one_worker / "replicates.parquet"),
                                  pd.read_parquet(tmp_path / "replicates.parquet"))


def test_ci_target_stops_early_and_deterministically(small, one_worker, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(one_worker, run)  # resume a copy: the module's run stays as it is
    assert main(["montecarlo", "--scenario", small, "--replicates", "6", "--quiet",
                 "--no-plots", "--resume", "--ci-target", "1e9", "--ci-metric",
                 "rt_transmission_area_kwh", "--out", str(run)]) == 0
    s = json.loads((run / "summary.json").read_text())
    assert s["stopped_early"] and s["replicates_done"] == 5
    assert main(["montecarlo", "--scenario", small, "--replicates", "6", "--quiet",
                 "--ci-target", "1", "--ci-metric", "bogus", "--out",
                 str(tmp_path / "x")]) == 2


def test_sweep_and_compare_da_rt(small, tmp_path):
    assert main(["compare-da-rt", "--scenario", small, "--replicates", "2", "--quiet",
                 "--sweep", "n_ev=4,8", "--out", str(tmp_path)]) == 0
    sweep = pd.read_parquet(tmp_path / "sweep.parquet")
    assert sweep.n_ev.tolist() == ["4", "8"] and (sweep.replicates == 2).all()
    point = tmp_path / "sweep" / "n_ev=8"
    s = json.loads((point / "summary.json").read_text())
    assert {"overstatement_kw_mean", "rt_below_da_share_mean",
            "da_undeliverable_share_mean"} <= set(s["da_vs_rt"])
    table = pd.read_parquet(point / "da_rt.parquet")
    assert len(table) == 32 and table.rt_below_da_share.between(0, 1).all()
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    assert (point / "da_vs_rt.png").stat().st_size > 10_000


def test_calibration_sweep_and_invalid_days(small, tmp_path):
    out = tmp_path / "cal"
    assert main(["montecarlo", "--scenario", small, "--replicates", "2", "--calibration",
                 "--policy", "edge-da", "--quiet", "--out", str(out)]) == 0
    cal = pd.read_parquet(out / "calibration.parquet")
    assert sorted(cal.alpha.unique()) == [0.8, 0.9, 0.95, 0.99]
    assert set(cal.measure) == {"reserve calls", "da calls", "prev calls", "rt calls",
                                "reserve days", "DA schedule"} and len(cal) == 24
    da = cal[cal.measure == "da calls"]
    assert da.hold_rate.between(0, 1).all() and (da.days == 2).all()
    assert (cal.ci_low <= cal.hold_rate + 1e-12).all()
    assert (cal.hold_rate <= cal.ci_high + 1e-12).all()
    # a finished sweep resumes: nothing new is run, the tables are written again
    assert main(["montecarlo", "--scenario", small, "--replicates", "2", "--calibration",
                 "--policy", "edge-da", "--quiet", "--no-plots", "--resume",
                 "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(cal, pd.read_parquet(out / "calibration.parquet"))
    reps = pd.read_parquet(out / "sweep" / "alpha=0.9" / "replicates.parquet")
    # pooled over the calls of both days, recomputed here from the per-day rates and counts
    pooled = (reps.hold_rate_da * reps.calls_inside_da).sum() / reps.calls_inside_da.sum()
    assert da[da.alpha == 0.9].hold_rate.iloc[0] == pytest.approx(pooled)
    assert (out / "calibration.png").stat().st_size > 10_000
    # a physically impossible feeder: every day invalid, the run says so (exit 3) and keeps all
    bad = tmp_path / "bad"
    assert main(["montecarlo", "--scenario", small, "--replicates", "2", "--sweep",
                 "substation_kw=1", "--quiet", "--no-plots", "--out", str(bad)]) == 3
    s = json.loads((bad / "sweep" / "substation_kw=1" / "summary.json").read_text())
    assert s["invalid_day_share"] == 1.0 and s["exit_code"] == 3
    sweep = json.loads((bad / "sweep_summary.json").read_text())
    assert sweep["verdict"] == "PHYSICALLY INVALID"
    assert sweep["failed_checks"] == ["valid_days_substation_kw=1"]


@pytest.mark.parametrize("args,needle", [
    (["--sweep", "bogus=1,2"], "unknown key 'bogus'"),
    (["--sweep", "alpha"], "not KEY=V1,V2"),
    (["--sweep", "alpha=1.5"], "assessment.alpha"),
    (["--replicates", "0"], "--replicates"),
])
def test_bad_montecarlo_input(small, args, needle, tmp_path, capsys):
    base = ["montecarlo", "--scenario", small, "--replicates", "2", "--out", str(tmp_path)]
    assert main(base + args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_existing_scheduler(small, one_worker, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert main(["montecarlo", "--scenario", small, "--replicates", "2", "--scheduler",
                     cluster.scheduler_address, "--quiet", "--no-plots",
                     "--out", str(tmp_path)]) == 0
    got = pd.read_parquet(tmp_path / "replicates.parquet")
    want = pd.read_parquet(one_worker / "replicates.parquet").iloc[:2]
    pd.testing.assert_frame_equal(got, want)


def test_unreachable_scheduler_is_one_line(small, tmp_path, capsys):
    assert main(["montecarlo", "--scenario", small, "--replicates", "1", "--scheduler",
                 "tcp://127.0.0.1:9", "--out", str(tmp_path)]) == 2
    assert "--scheduler" in capsys.readouterr().err


def test_ctrl_c_keeps_finished_replicates(small, tmp_path):
    proc = _cli("montecarlo", "--scenario", small, "--replicates", "6", "--workers", "1",
                "--quiet", "--no-plots", "--out", str(tmp_path))
    _wait_for(tmp_path / "manifest.json", 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    folders = sorted(int(p.name) for p in (tmp_path / "replicates").iterdir()
                     if not p.name.startswith("."))
    assert manifest["replicates_finished"] == folders and 1 <= len(folders) < 6
    # the summary is made from the same folders: it agrees with the manifest
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["replicates_done"] == len(folders) and summary["interrupted"] is True
    for i in folders:
        doc = json.loads((tmp_path / "replicates" / f"{i:05d}" / "metrics.json").read_text())
        assert doc["metrics"]["replicate"] == i and "deliverability_rate" in doc["metrics"]
