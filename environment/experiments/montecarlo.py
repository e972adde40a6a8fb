"""Monte Carlo replicates of the co-simulated day on dask.distributed, with a resumable store.

* **Seeds.** Replicate ``i`` runs with ``SeedSequence(scenario.seed).spawn(N)[i]``: its result
  depends on ``i`` only, never on the number of workers or the order replicates finish in.
* **Store.** ``DIR/replicates/<i>/`` holds ``metrics.json``, ``ticks.parquet`` and
  ``evs.parquet``. A worker writes them into a temporary folder and renames it into place, so a
  replicate folder either is complete or does not exist. ``DIR/manifest.json`` (rewritten
  atomically after every completion) lists the finished replicates; on ``--resume`` the folders
  are the truth and finished replicates are skipped.
* **Who writes.** Workers write the replicate folders (into the run folder, sent to them as an
  absolute path); this process (the client) writes the manifest and, at the end, the tables,
  figures and summaries. On an existing scheduler the run folder must therefore be one folder,
  at the same path, on every worker and here; ``cluster.Cluster.check_workers`` refuses a cluster
  where it is not, or whose workers run other code.
* **Failures.** Each replicate is a dask task with retries: a replicate lost with a dead worker
  runs again on a restarted one. Ctrl-C cancels what is running; everything finished stays.
* **Early stop** (``ci_target``): after every completion the 95 % confidence half-width of the
  target metric is computed over the *contiguous prefix* of finished replicates ``0..m-1``; the
  run stops at the first ``m >= min_replicates`` whose half-width is below the target. Using the
  prefix keeps the stopping point independent of completion order.
* **Validity.** Every replicate records whether its day was physically valid (``valid``: no AC
  violation at a realised operating point, no grid-infeasible tick, and under a ``dispatch:*``
  policy a feasible dispatch), ``violation_ticks`` and ``infeasible_ticks`` (beside them
  ``package_infeasible_ticks``, ticks the DSO flagged the package: not a validity matter,
  ``environment.day_metrics``); the summary gives
  ``invalid_day_share`` and ``invalid_days``; the command's verdict is physically invalid when
  any day is.
* **Intervals.** Shares of days (0/1 per replicate, ``BINARY_METRICS``: ``valid``,
  ``dispatch_joint_ok``, ``dispatch_feasible``) get the Wilson score interval; per-day rates in
  ``[0, 1]`` (``SHARE_METRICS``) the t-interval clipped to ``[0, 1]``; everything else the
  t-interval (``environment.experiments.intervals``).
* **Layers.** Per replicate the hold rate and undelivered energy of the calls inside the
  reserve rows around the declared baseline, the DA, previous-tick and current boundary
  (``hold_rate_{reserve,da,prev,rt}``, ``undelivered_kwh_{...}``; NaN where no call lay inside
  a layer, left out of the mean and CI); ``reserve_day_held`` (every reserve call of the day
  delivered: the α promise is per day) and ``schedule_hold_rate`` (share of ticks whose
  absolute day-ahead schedule lay inside the published boundary).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from environment.day_metrics import day_metrics
from environment.experiments.fingerprint import check_resume, run_fingerprint
from environment.experiments.intervals import ci95, metric_ci
from environment.outputs import number, write_json, write_parquet
from environment.summaries import MetricSummary, MonteCarloSummary
from environment.validation import LAYERS
from flexibility.stations import TOTAL_LABEL
from scenarios.behaviour import BehaviourModel
from scenarios.config import Scenario
from scenarios.errors import InputError

if TYPE_CHECKING:
    from environment.experiments.cluster import Cluster

MIN_REPLICATES = 5
METRIC_NAMES = tuple(
    [f"rt_{layer}_{m}" for layer in ("station", "distribution", "transmission")
     for m in ("peak_ch_kw", "peak_dis_kw", "area_kwh")]
    + ["clipping_rate_ch", "bte_ch_kwh", "deliverability_rate", "shortfall_count",
       "shortfall_kwh", "left_unserved", "ac_violations", "min_vm_pu", "max_loading_pct",
       "da_overstatement_kw", "valid", "violation_ticks", "infeasible_ticks",
       "unsheddable_kwh", "package_infeasible_ticks"]
    + [f"{m}_{layer}" for m in ("hold_rate", "undelivered_kwh", "calls_inside")
       for layer in LAYERS]
    + ["schedule_hold_rate", "reserve_day_held"])


def replicate_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """Independent seed sequences of replicates ``0..n-1``."""
    return np.random.SeedSequence(seed).spawn(n)


def replicate_metrics(ticks: pd.DataFrame, evs: pd.DataFrame, dt_h: float) -> dict[str, float]:
    """Day metrics of one replicate (deterministic given its seed).

    Layer metrics use the envelope of the *current* interval at every tick (the realised RT
    trajectory of each layer, all stations): peak charging/discharging and area
    ``sum_t (P_ch + P_dis) dt``. The clipping rate is ``1 - P_dist / P_station`` on the charging
    side (mean over ticks with something to clip) and the BTE the energy clipped.
    """
    a = ticks[ticks.station == TOTAL_LABEL].sort_values("t")
    out: dict[str, float] = {}
    for layer, hi, lo in (("station", a.station_p_max_kw, a.station_p_min_kw),
                          ("distribution", a.dist_p_max_kw, a.dist_p_min_kw),
                          ("transmission", a.p_up_kw, a.p_down_kw)):
        ch, dis = np.maximum(hi.to_numpy(), 0.0), np.maximum(-lo.to_numpy(), 0.0)
        out[f"rt_{layer}_peak_ch_kw"] = float(ch.max(initial=0.0))
        out[f"rt_{layer}_peak_dis_kw"] = float(dis.max(initial=0.0))
        out[f"rt_{layer}_area_kwh"] = float(np.sum(ch + dis) * dt_h)
    raw = np.maximum(a.station_p_max_kw.to_numpy(), 0.0)
    eff = np.maximum(a.dist_p_max_kw.to_numpy(), 0.0)
    ok = raw > 1e-9
    out["clipping_rate_ch"] = float(np.mean(1.0 - eff[ok] / raw[ok])) if ok.any() else 0.0
    out["bte_ch_kwh"] = float(np.sum(np.maximum(raw - eff, 0.0)) * dt_h)
    v = day_metrics(ticks, evs, v_min_pu=float("nan"), v_max_pu=float("nan"))
    out["deliverability_rate"] = v.deliverability_rate
    out["shortfall_count"] = float(v.shortfall.count)
    out["shortfall_kwh"] = v.shortfall.kwh
    out["left_unserved"] = float(v.shortfall.left_unserved)
    out["ac_violations"] = float(v.ac.violations)
    out["min_vm_pu"] = float(a.min_vm_pu.min())
    out["max_loading_pct"] = float(a.max_loading_pct.max())
    out["da_overstatement_kw"] = float(np.mean(a.da_p_up_kw - a.p_up_kw))
    out["valid"] = float(v.valid)
    out["violation_ticks"] = float(v.ac.violations)
    out["infeasible_ticks"] = float(v.grid.infeasible_ticks)
    out["unsheddable_kwh"] = v.grid.unsheddable_kwh
    out["package_infeasible_ticks"] = float(v.grid.package_infeasible_ticks)
    for layer in LAYERS:
        out[f"hold_rate_{layer}"] = v.hold_rate(layer)
        out[f"undelivered_kwh_{layer}"] = v.undelivered_kwh_in(layer)
        inside_n = None if v.validation is None else v.validation["calls_inside"].get(layer)
        out[f"calls_inside_{layer}"] = float(inside_n or 0)
    sched = None if v.validation is None else v.validation["schedule"]["inside_rt_share"]
    out["schedule_hold_rate"] = float("nan") if sched is None else float(sched)
    held = out["hold_rate_reserve"]
    out["reserve_day_held"] = float(held >= 1.0 - 1e-12) if np.isfinite(held) else float("nan")
    return out


def run_replicate(scenario: Scenario, behaviour: BehaviourModel, rep: int,
                  seed: np.random.SeedSequence, folder: str, policy: str | None = None) -> dict:
    """One co-simulated day; writes its folder atomically and returns its metrics.

    Args:
        scenario: The scenario.
        behaviour: Fitted behaviour model.
        rep: Replicate index.
        seed: Its seed sequence.
        folder: Output folder of the run.
        policy: Call policy (default: the scenario's).
    """
    from environment.model import CoSimModel

    t0 = time.perf_counter()
    from environment.planning.registry import planner_for

    model = CoSimModel(scenario, behaviour, seed, policy=policy,
                       planner=planner_for(policy or scenario.simulation.policy))
    model.run()
    ticks = model.recorder.frame("ticks")
    evs = model.ev_frame()
    extra = {}
    if model.dispatch is not None:
        extra = model.dispatch.metrics(model.recorder.frame("dispatch"),
                                       scenario.horizon.dt_h)
    model.release()  # mesa's class-level agent counter would keep the model alive
    del model
    gc.collect()  # the model and its agents form cycles holding hundreds of MB of arrays
    metrics = {"replicate": rep, **replicate_metrics(ticks, evs, scenario.horizon.dt_h),
               **extra}
    if metrics.get("dispatch_feasible", 1.0) < 0.5:  # no dispatch: the day did not hold
        metrics["valid"] = 0.0
    info = {"runtime_s": time.perf_counter() - t0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}
    root = Path(folder) / "replicates"
    final = root / f"{rep:05d}"
    tmp = root / f".tmp-{rep:05d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    ticks.to_parquet(tmp / "ticks.parquet", index=False)
    evs.to_parquet(tmp / "evs.parquet", index=False)
    (tmp / "metrics.json").write_text(json.dumps({"metrics": metrics, "info": info}, indent=1))
    if final.exists():  # finished meanwhile by a retried twin: identical by construction
        shutil.rmtree(tmp)
    else:
        os.rename(tmp, final)
    return {"metrics": metrics, "info": info}


def finished(folder: Path) -> dict[int, dict]:
    """Replicates whose folders are complete (the store's truth)."""
    root = folder / "replicates"
    out = {}
    if root.is_dir():
        for d in root.iterdir():
            if d.name.startswith(".") or not (d / "metrics.json").is_file():
                continue
            doc = json.loads((d / "metrics.json").read_text())
            doc["metrics"] = {k: number(v) if k != "replicate" else v
                              for k, v in doc["metrics"].items()}
            out[int(d.name)] = doc
    return out


def prefix(done: dict[int, dict]) -> int:
    """Length of the contiguous prefix ``0..m-1`` of finished replicates."""
    m = 0
    while m in done:
        m += 1
    return m


@dataclass(frozen=True)
class MCRun:
    """A finished (or stopped) Monte Carlo run.

    Attributes:
        folder: Output folder.
        metrics: One row per replicate used (sorted by replicate), deterministic columns only.
        info: Per replicate runtime, peak memory and worker.
        requested: Replicates requested.
        stopped_early: Whether ``ci_target`` stopped the run.
        interrupted: Whether the run was interrupted.
        resumed: Replicates already finished in the folder when the run started.
    """

    folder: Path
    metrics: pd.DataFrame
    info: pd.DataFrame
    requested: int
    stopped_early: bool
    interrupted: bool
    resumed: int = 0


def run_montecarlo(cluster: Cluster, scenario: Scenario, behaviour: BehaviourModel,
                   replicates: int, folder: Path, resume: bool = False,
                   ci_target: float | None = None, ci_metric: str = "deliverability_rate",
                   progress: bool = True, label: str = "",
                   on_done: Callable[[dict[int, dict]], None] | None = None,
                   policy: str | None = None,
                   sweep_point: dict[str, str] | None = None) -> MCRun:
    """Run (or resume) ``replicates`` co-simulated days into ``folder``.

    ``policy`` is the call policy of every replicate (default: the scenario's). A resume is
    refused when the folder's fingerprint (``environment.experiments.fingerprint``) differs.
    """
    from dask.distributed import as_completed
    from tqdm import tqdm

    folder = Path(folder)
    if ci_target is not None and ci_metric not in METRIC_NAMES:
        raise InputError(f"--ci-metric: {ci_metric!r} is not a replicate metric; use one of "
                         f"{', '.join(METRIC_NAMES)}")
    done = finished(folder)
    if done and not resume:
        raise InputError(f"--out: {folder} already holds {len(done)} finished replicates; "
                         "add --resume to continue it or choose another folder")
    manifest = folder / "manifest.json"
    fp = run_fingerprint(scenario, behaviour, policy, sweep_point or {})
    if resume and manifest.is_file():
        check_resume(manifest, fp)
    n_resumed = len(done)
    seeds = replicate_seeds(scenario.seed, replicates)
    todo = [i for i in range(replicates) if i not in done]
    write_manifest(manifest, scenario, replicates, done, fp)
    stopped = interrupted = False
    if _should_stop(done, ci_target, ci_metric):
        todo = []
        stopped = True
    client = cluster.client
    futures = []
    bar = tqdm(total=replicates, initial=len(done), desc=label or "replicates", unit="rep",
               disable=not progress, leave=False)
    try:
        if todo:
            scen_f = client.scatter(scenario, broadcast=True, hash=False)
            beh_f = client.scatter(behaviour, broadcast=True, hash=False)
            where = str(folder.absolute())  # workers may run in other working directories
            futures = [client.submit(run_replicate, scen_f, beh_f, i, seeds[i], where, policy,
                                     key=f"{label}rep-{i}-{scenario.seed}", retries=3,
                                     pure=False) for i in todo]
            for fut in as_completed(futures):
                res = fut.result()
                done[res["metrics"]["replicate"]] = res
                write_manifest(manifest, scenario, replicates, done)
                bar.update()
                if on_done is not None:
                    on_done(done)
                if _should_stop(done, ci_target, ci_metric):
                    stopped = True
                    break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for f in futures:
            f.cancel()
        bar.close()
        write_manifest(manifest, scenario, replicates, finished(folder))
    run = MCRun(folder=folder, metrics=pd.DataFrame(), info=pd.DataFrame(),
                requested=replicates, stopped_early=stopped, interrupted=interrupted,
                resumed=n_resumed)
    return refreshed(run, ci_target, ci_metric)


def refreshed(run: MCRun, ci_target: float | None = None,
              ci_metric: str = "deliverability_rate") -> MCRun:
    """The run's metrics re-read from its folder (the store's truth).

    Replicates still running when a run is interrupted may finish while the cluster shuts
    down; the summary is made from this, so it agrees with the manifest.
    """
    from dataclasses import replace

    done = finished(run.folder)
    used = sorted(done)
    if run.stopped_early:
        used = list(range(_stop_point(done, ci_target, ci_metric) or prefix(done)))
    rows = [done[i]["metrics"] for i in used]
    info = pd.DataFrame([{"replicate": i, **done[i]["info"]} for i in used])
    return replace(run, metrics=pd.DataFrame(rows), info=info)


def _stop_point(done: dict[int, dict], target: float | None, metric: str) -> int | None:
    """Where an early stop falls, or ``None``.

    The first ``m >= MIN_REPLICATES`` within the finished prefix whose 95 % half-width of
    ``metric`` over replicates ``0..m-1`` is below ``target``.
    """
    if target is None:
        return None
    for k in range(MIN_REPLICATES, prefix(done) + 1):
        mean, _, low, _ = ci95(np.array([done[i]["metrics"][metric] for i in range(k)]))
        if mean - low < target:
            return k
    return None


def _should_stop(done: dict[int, dict], target: float | None, metric: str) -> bool:
    return _stop_point(done, target, metric) is not None


def write_manifest(path: Path, scenario: Scenario, requested: int,
                   done: dict[int, dict], fingerprint: dict[str, str] | None = None) -> None:
    """Atomically rewrite the manifest of finished replicates (keeping its fingerprint)."""
    if fingerprint is None and path.is_file():
        fingerprint = json.loads(path.read_text()).get("fingerprint")
    write_json(path, {"scenario": scenario.name, "seed": scenario.seed,
                      "replicates_requested": requested,
                      "replicates_finished": sorted(int(i) for i in done),
                      "fingerprint": fingerprint})


def summarize(run: MCRun, workers: int, runtime_s: float, scenario: Scenario, command: str,
              sweep_point: dict[str, str], policy: str) -> MonteCarloSummary:
    """Mean, std and 95 % interval of every metric, plus bookkeeping (typed)."""
    metrics = {}
    for col in run.metrics.columns:
        if col == "replicate":
            continue
        mean, std, low, high = metric_ci(col, run.metrics[col].to_numpy())
        metrics[col] = MetricSummary(mean, std, (low, high))
    has_valid = "valid" in run.metrics and len(run.metrics)
    return MonteCarloSummary(
        scenario=scenario.name, seed=scenario.seed, run_command=command,
        sweep_point=sweep_point, policy=policy, replicates_requested=run.requested,
        replicates_done=len(run.metrics), replicates_resumed=run.resumed, workers=workers,
        runtime_s=runtime_s, stopped_early=run.stopped_early, interrupted=run.interrupted,
        metrics=metrics,
        invalid_day_share=float(1.0 - run.metrics["valid"].mean()) if has_valid else None,
        invalid_days=int((run.metrics["valid"] < 0.5).sum()) if has_valid else None,
        peak_rss_mb_max=float(run.info.peak_rss_mb.max()) if len(run.info) else None)


def write_tables(run: MCRun) -> None:
    """``replicates.parquet`` (deterministic metrics) and ``replicates_runtime.parquet``."""
    write_parquet(run.folder / "replicates.parquet",
                  run.metrics.sort_values("replicate").reset_index(drop=True))
    if len(run.info):
        write_parquet(run.folder / "replicates_runtime.parquet", run.info)


def load_ticks(folder: Path, reps: list[int]) -> pd.DataFrame:
    """The total (``station = ALL``) tick rows of the replicates (column ``replicate`` added)."""
    frames = []
    for i in reps:
        t = pd.read_parquet(folder / "replicates" / f"{i:05d}" / "ticks.parquet")
        t = t[t.station == TOTAL_LABEL].copy()
        t["replicate"] = i
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
