"""``run_sim.py montecarlo`` and ``compare-da-rt``: replicates on dask, sweeps, reports.

``--calibration`` adds the sweep ``alpha = 0.8, 0.9, 0.95, 0.99`` (``CALIBRATION_ALPHAS``) and
writes ``calibration.parquet`` / ``calibration.png``: per α the hold rate of the calls inside
each layer (pooled, Wilson interval), the share of days on which every reserve call held and
the absolute DA schedule's hold rate (``environment.experiments.calibration``), to read against
α. Use it with a policy that calls on the day-ahead product (the default ``reserve-edge``) or on
an earlier boundary (``edge-da``, ``edge-prev``); calls inside the current boundary are
delivered by construction. Under a ``reserve-*`` policy the calibration is a target
(``environment.experiments.calibration.calibration_checks``; exit 4 otherwise).

Verdict (:mod:`environment.verdict`): physically invalid (exit 3) when any replicate day was
(AC violations, grid-infeasible ticks, or no feasible dispatch under a ``dispatch:*`` policy;
``invalid_day_share``, with its Wilson interval, in ``summary.json``); target missed (exit 4)
when ``--ci-target`` was given and not reached. Interrupted: exit 130, finished replicates kept
and summarised, the summary agreeing with the manifest.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from environment.cli.output_dir import checked_folder
from environment.cli.runs import cleaning_line, lead_line, load_behaviour
from environment.summaries import SweepPointSummary, SweepSummary, write_summary
from environment.verdict import EXIT_INTERRUPTED, Check, Verdict
from scenarios.errors import InputError

if TYPE_CHECKING:
    from environment.experiments.montecarlo import MCRun


HEADLINE = (("deliverability_rate", "deliverability", "{:.3f}"),
            ("hold_rate_reserve", "hold rate (reserve calls)", "{:.3f}"),
            ("reserve_day_held", "days every reserve call held", "{:.2f}"),
            ("schedule_hold_rate", "DA schedule inside RT", "{:.3f}"),
            ("hold_rate_da", "hold rate (DA)", "{:.3f}"),
            ("hold_rate_rt", "hold rate (RT)", "{:.3f}"),
            ("rt_transmission_area_kwh", "transmission area (kWh)", "{:.0f}"),
            ("bte_ch_kwh", "BTE charging (kWh)", "{:.1f}"),
            ("shortfall_kwh", "departure shortfall (kWh)", "{:.2f}"),
            ("valid", "physically valid days", "{:.2f}"))


def _n(count: int, noun: str) -> str:
    """``1 replicate``, ``3 replicates``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def console_table(run: MCRun, params: dict[str, str]) -> str:
    """Mean and 95 % interval of the headline metrics of one sweep point (console)."""
    from environment.experiments.intervals import metric_ci

    head = ", ".join(f"{k}={v}" for k, v in params.items()) or "all replicates"
    lines = [f"  {head} (n = {len(run.metrics)}):"]
    for col, label, fmt in HEADLINE:
        if col not in run.metrics or not len(run.metrics):
            continue
        mean, _, low, high = metric_ci(col, run.metrics[col].to_numpy(dtype=float))
        ci = (f" [{fmt.format(low)}, {fmt.format(high)}]" if np.isfinite(high - low) else "")
        lines.append(f"    {label:<28} {fmt.format(mean)}{ci}")
    return "\n".join(lines)


DISPATCH_METRICS = ("dispatch_joint_ok", "dispatch_interval_violation_rate",
                    "dispatch_cost_realised", "dispatch_cost_da", "dispatch_reserve_cost",
                    "dispatch_solve_s", "dispatch_feasible")


def _checked_points(args: argparse.Namespace):
    """The scenario, its sweep points (each checked to fit in memory), the calibration flag and
    the link to an existing scheduler (``None``: a local cluster).

    Raises:
        InputError: A bad option, sweep, scenario or scheduler, or a point that does not fit.
    """
    from environment.experiments import sweeps as sweeps_mod
    from environment.experiments.scheduler_link import scheduler_link
    from scenarios.config import load_scenario
    from scenarios.resources import check_memory

    if args.replicates < 1:
        raise InputError(f"--replicates: {args.replicates} < 1; use at least 1")
    link = scheduler_link(args.scheduler, args.scheduler_file, args.tls_ca_file,
                          args.tls_cert, args.tls_key)
    if link is None and args.workers < 1:
        raise InputError(f"--workers: {args.workers} < 1; use at least 1")
    if args.ci_target is not None and not args.ci_target > 0:
        raise InputError("--ci-target: must be positive, e.g. 0.005")
    scenario = load_scenario(args.scenario)
    sweeps = sweeps_mod.parse_sweeps(args.sweep)
    calibration = bool(getattr(args, "calibration", False))
    if calibration:
        if any(k == "alpha" for k, _ in sweeps):
            raise InputError("--calibration sweeps alpha itself; drop --sweep alpha=...")
        sweeps = [("alpha", [str(a) for a in sweeps_mod.CALIBRATION_ALPHAS]), *sweeps]
    points = sweeps_mod.sweep_points(scenario, sweeps)
    for _, sc in points:  # every sweep point must fit, with one day per worker in memory
        check_memory(sc, args.command, workers=args.workers if link is None else 1)
    return scenario, points, calibration, link


def run_montecarlo_command(args: argparse.Namespace) -> int:
    """Run ``montecarlo``/``compare-da-rt``: every sweep point, then tables and figures."""
    from environment.experiments import sweeps as sweeps_mod

    t_start = time.perf_counter()
    scenario, points, calibration, link = _checked_points(args)
    policy = getattr(args, "policy", None)
    out = checked_folder(args.out, args.resume, args.locks)
    # the input is valid: now the heavy stack (dask, mesa, pandapower)
    from environment.experiments.cluster import Cluster
    from environment.experiments.montecarlo import run_montecarlo

    model = load_behaviour(scenario, args.behaviour)
    cluster = Cluster(args.workers, link)
    results = []
    interrupted = False
    try:
        cluster.check_workers(out)  # an existing scheduler's workers must share --out
        for params, sc in points:
            folder = out / "sweep" / sweeps_mod.point_folder(params) if params else out
            run = run_montecarlo(cluster, sc, model, args.replicates, folder, args.resume,
                                 args.ci_target, args.ci_metric, not args.quiet,
                                 label=sweeps_mod.point_folder(params) if params else "",
                                 policy=policy, sweep_point=params)
            results.append((params, sc, run))
            if run.interrupted:
                interrupted = True
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        workers = cluster.workers
        cluster.close()  # workers stop here: replicates still running may finish first
    from environment.experiments.montecarlo import finished, refreshed, write_manifest

    results = [(p, sc, refreshed(r, args.ci_target, args.ci_metric)) for p, sc, r in results]
    for params, sc in points:  # the folders are the truth; bring every manifest up to date
        folder = out / "sweep" / sweeps_mod.point_folder(params) if params else out
        if (folder / "manifest.json").is_file():
            write_manifest(folder / "manifest.json", sc, args.replicates, finished(folder))
    da_rt_lines = [line for params, sc, run in results
                   if (line := _point_outputs(args, params, sc, run, workers, t_start,
                                              policy)) is not None]
    used_policy = policy or scenario.simulation.policy
    cal_checks: list[Check] = []
    if len(results) > 1 or (results and results[0][0]):  # a sweep
        cal_checks = _sweep_outputs(args, out, results, calibration, used_policy)
    done = sum(len(r.metrics) for _, _, r in results)
    invalid = sum(int((r.metrics["valid"] < 0.5).sum()) for _, _, r in results
                  if "valid" in r.metrics)
    resumed = sum(r.resumed for _, _, r in results)
    verdict = Verdict.of([*_checks([(p, r) for p, _, r in results], args.ci_target,
                                   args.ci_metric), *cal_checks])
    if len(results) > 1 or (results and results[0][0]):  # the sweep's own summary
        write_summary(out / "sweep_summary.json", SweepSummary(
            scenario=scenario.name, run_command=args.command,
            points=tuple(SweepPointSummary(p, len(r.metrics),
                                           int((r.metrics["valid"] < 0.5).sum())
                                           if "valid" in r.metrics else 0)
                         for p, _, r in results)), verdict)
    print(lead_line(verdict, f"{scenario.name}: {args.command} {_n(done, 'replicate')} over "
                    f"{_n(len(results), 'sweep point')} ({resumed} resumed, "
                    f"{max(done - resumed, 0)} new) on {_n(workers, 'worker')}, "
                    f"{_n(invalid, 'physically invalid day')}; "
                    f"{time.perf_counter() - t_start:.1f} s -> {out}"))
    for params, _, run in results:
        print(console_table(run, params))
    if (line := cleaning_line(model)) is not None:
        print(line)
    for line in da_rt_lines:
        print(line)
    if interrupted:
        print("interrupted: finished replicates are kept; run again with --resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return verdict.exit_code


def _point_outputs(args: argparse.Namespace, params: dict[str, str], sc, run: MCRun,
                   workers: int, t_start: float, policy: str | None) -> str | None:
    """One sweep point's tables, figures and ``summary.json``; its DA-vs-RT console line."""
    from environment.experiments.montecarlo import load_ticks, summarize, write_tables
    from environment.outputs import write_parquet
    from environment.reporting import mc_report

    axis = sc.horizon.axis
    write_tables(run)
    summary = summarize(run, workers, time.perf_counter() - t_start, sc, args.command, params,
                        policy or sc.simulation.policy)
    ticks = load_ticks(run.folder, run.metrics.replicate.astype(int).tolist()) \
        if len(run.metrics) else None
    line = None
    if args.command == "compare-da-rt" and ticks is not None and len(ticks):
        table, da_summary = mc_report.da_rt_tables(ticks)
        write_parquet(run.folder / "da_rt.parquet", table)
        summary = replace(summary, da_vs_rt=da_summary)
        head = ", ".join(f"{k}={v}" for k, v in params.items())
        line = f"  DA vs RT{' (' + head + ')' if head else ''}: " + ", ".join(
            f"{k} {v:.3g}" for k, v in da_summary.items()
            if isinstance(v, int | float) and not isinstance(v, bool))
        if not args.no_plots:
            mc_report.plot_da_rt(run.folder / "da_vs_rt.png", table, ticks, axis)
    if not args.no_plots and ticks is not None and len(ticks) and len(run.metrics) > 1:
        mc_report.plot_fan_charts(run.folder / "fan_charts.png", ticks, axis)
        names = ["deliverability_rate", "shortfall_kwh", "bte_ch_kwh", "rt_station_area_kwh",
                 "rt_distribution_area_kwh", "rt_transmission_area_kwh"]
        mc_report.plot_histograms(run.folder / "histograms.png", run.metrics, names)
        mc_report.plot_convergence(run.folder / "convergence.png", run.metrics,
                                   ["deliverability_rate", "rt_transmission_area_kwh",
                                    "bte_ch_kwh"])
    point_verdict = Verdict.of(_checks([(params, run)], args.ci_target, args.ci_metric))
    write_summary(run.folder / "summary.json", summary, point_verdict)
    return line


def _sweep_outputs(args: argparse.Namespace, out, results: list, calibration: bool,
                   policy: str) -> list[Check]:
    """``sweep.parquet`` and the sweep figures; the calibration table and figure.

    Returns:
        The calibration checks (a target under a ``reserve-*`` policy, else none).
    """
    from environment.experiments.intervals import sweep_table
    from environment.outputs import write_parquet
    from environment.reporting import mc_report
    from environment.validation import LAYERS
    from scenarios.sections import RESERVE_POLICIES

    keys = list(results[0][0])
    metrics = ["deliverability_rate", "rt_transmission_area_kwh", "bte_ch_kwh", "shortfall_kwh"]
    extra = ["valid", *(f"hold_rate_{x}" for x in LAYERS), "reserve_day_held",
             "schedule_hold_rate", *DISPATCH_METRICS]
    table = sweep_table([(p, r) for p, _, r in results], metrics + extra)
    write_parquet(out / "sweep.parquet", table)
    if not args.no_plots:
        mc_report.plot_sweep(out / "sweep.png", table, keys, metrics)
        if "dispatch_joint_ok_mean" in table:
            from environment.reporting.dispatch_plots import plot_mc_cost_reliability

            plot_mc_cost_reliability(out / "cost_reliability.png", table, keys)
    if not calibration:
        return []
    from environment.experiments.calibration import (
        CALIBRATION_SLACK,
        calibration_checks,
        calibration_table,
    )

    cal = calibration_table([(p, r) for p, _, r in results])
    write_parquet(out / "calibration.parquet", cal)
    if not args.no_plots:
        mc_report.plot_calibration(out / "calibration.png", cal, policy, CALIBRATION_SLACK)
    return calibration_checks(cal) if policy in RESERVE_POLICIES else []


def _checks(results: list[tuple[dict[str, str], MCRun]], ci_target: float | None,
            ci_metric: str) -> list:
    """Physically valid days at every sweep point; the CI target where one was given."""
    from environment.experiments.intervals import ci95
    from environment.verdict import target, validity, wilson_interval

    out = []
    for params, run in results:
        head = ", ".join(f"{k}={v}" for k, v in params.items())
        where = f" at {head}" if head else ""
        n = len(run.metrics)
        bad = int((run.metrics["valid"] < 0.5).sum()) if "valid" in run.metrics else 0
        lo, hi = wilson_interval(bad, n)
        out.append(validity(f"valid_days{'_' + head if head else ''}", bad == 0,
                            f"{bad} of {n} days physically invalid{where} (share 95 % CI "
                            f"[{lo:.2f}, {hi:.2f}])"))
        if ci_target is not None and n and ci_metric in run.metrics:
            _mean, _, low, high = ci95(run.metrics[ci_metric].to_numpy(float))
            half = 0.5 * (high - low)
            out.append(target(f"ci_target{'_' + head if head else ''}",
                              run.stopped_early or half < ci_target,
                              f"95 % CI half-width of {ci_metric} {half:.3g} (--ci-target "
                              f"{ci_target:g}) after {n} replicates{where}"))
    return out
