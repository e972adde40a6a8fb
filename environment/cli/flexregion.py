"""``run_sim.py flexibility-region``: the stations' FOR under coupon budgets."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from environment.cli.numbers import finite_float
from environment.cli.runs import CommandOutcome
from environment.summaries import RegionSummary, TierValidation
from environment.verdict import Check, target, validity
from scenarios.errors import InputError

if TYPE_CHECKING:
    from environment.experiments.cluster import Cluster

DESCRIPTION = """\
Flexible operation region (FOR) of the charging stations' net load at one time under coupon
budgets (spatiotemporal DTA paper, section 2): for every direction a of a rotating hyperplane
(polar and azimuth angles in steps of --step-deg), the coupon vector within the budget that
minimises a^T P is searched with a linear response model around the no-coupon equilibrium
(finite differences, one equilibrium per coupon coordinate) and an LP (HiGHS) with a trust
region that spreads the budget over several coupons; --refine rounds refit the model to the
equilibria found and search again. Every reported point is re-simulated (dynamic UE to the
scenario's gap, or the static model), within budget and grid-feasible (the DG dispatched on the
LinDistFlow rows of t*, then AC at that dispatch). The points' convex hull (scipy) gives the region:
vertices, facets A p <= b, volume (MW^3) or, for a flat region, its dimension and area.
Equilibria run as tasks that this process shares with --workers minus one dask workers; the
directions are stored one file each, so --resume continues.
Writes summary.json, points.parquet, hull.parquet and PNGs (hulls per budget, volume against
budget, dynamic against static). The validation dispatch (paper 2.2) reserves --reserve-mw of
extra load at --reserve-station and picks the cheapest sufficient tier of --tiers.
"""


def add_parser(sub) -> None:
    """Register the command on the ``run_sim.py`` sub-parsers."""
    f = sub.add_parser("flexibility-region", help="FOR of station net load under coupons",
                       description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--scenario", default="nd_coupled", metavar="FILE",
                   help="coupled scenario with [traffic] stations (default nd_coupled)")
    f.add_argument("--time", default="18:00", help="t*, start of the interval (default 18:00)")
    f.add_argument("--budget", default="1000,2000,4000,6000",
                   help="comma-separated subsidy budgets F_bs^max in the scenario's currency "
                        "(default 1000,2000,4000,6000)")
    f.add_argument("--model", choices=["dynamic", "static", "both"], default="both",
                   help="dynamic UE, static (30-min intervals), or both (default; needed for "
                        "the DTA-vs-STA figure)")
    f.add_argument("--step-deg", type=finite_float("--step-deg", "45"), default=45.0,
                   help="angular step of the directions (default 45: 26 directions in 3-D)")
    f.add_argument("--band-min", type=finite_float("--band-min", "60"), default=None,
                   help="coupon band length in minutes of departure time, a multiple of the "
                        "traffic interval (default: each model's interval, the paper's coupon "
                        "per interval psi_a(t); on nd_coupled 10 min dynamic, 12 bands x 3 "
                        "stations x charge/V2G = 72 coupon coordinates, and 30 min static, 24; "
                        "60 gives 12, and one set-up equilibrium per coordinate)")
    f.add_argument("--grid", choices=["enforce", "report"], default="enforce",
                   help="enforce: a point counts only if grid-feasible (LinDistFlow rows and "
                        "AC at t*); report: keep every equilibrium and flag its grid check "
                        "(the run then exits 3 if any reported point is infeasible)")
    f.add_argument("--refine", type=int, default=1,
                   help="refinement rounds (default 1): the response model is refitted to "
                        "every equilibrium verified so far and each direction's LP solved "
                        "again around its best point; 0 keeps the first proposals. Directions "
                        "that propose the same coupons share one verification")
    f.add_argument("--per-direction", action="store_true",
                   help="search every direction on its own (--refine secant updates each) "
                        "instead of sharing verifications between directions (slower)")
    f.add_argument("--tiers", default="1000,2000,4000",
                   help="subsidy tiers of the validation dispatch (must be among --budget)")
    f.add_argument("--reserve-mw", type=finite_float("--reserve-mw", "5"), default=5.0,
                   help="extra load to reserve at --reserve-station above its no-coupon "
                        "level (default 5 MW)")
    f.add_argument("--reserve-station", default="CS3", help="station of the reservation")
    f.add_argument("--workers", type=int, default=1, metavar="K",
                   help="processes that solve equilibria: this one and K-1 dask workers, "
                        "all taking tasks from one queue (default 1: this process alone)")
    f.add_argument("--resume", action="store_true",
                   help="continue the run in --out (finished directions are kept)")
    f.add_argument("--out", metavar="DIR", help="output folder (default: runs/<timestamp>)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.add_argument("--no-plots", action="store_true", help="skip the PNG figures")


def _floats(text: str, flag: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{flag}: {text!r} is not a comma-separated list of numbers, e.g. "
                         "1000,2000") from None
    if not vals or any(not np.isfinite(v) or v <= 0 for v in vals):
        raise InputError(f"{flag}: give positive numbers, e.g. 1000,2000")
    return sorted(set(vals))


def run_flexibility_region(args: argparse.Namespace) -> CommandOutcome:
    """Run the command: regions per model and budget, validation dispatch, tables, figures."""
    from environment.cli.output_dir import checked_folder
    from scenarios.config import load_scenario, traffic_section
    from scenarios.timeaxis import minutes_of_day

    t_start = time.perf_counter()
    budgets = _floats(args.budget, "--budget")
    tiers = _floats(args.tiers, "--tiers")
    if not set(tiers) <= set(budgets):
        raise InputError(f"--tiers: {args.tiers} must be among --budget {args.budget}")
    if args.step_deg <= 0 or 180.0 % args.step_deg > 1e-9:
        raise InputError(f"--step-deg: {args.step_deg:g} must divide 180, e.g. 45 or 30")
    if args.workers < 1:
        raise InputError(f"--workers: {args.workers} < 1; use at least 1")
    if args.band_min is not None and args.band_min <= 0:
        raise InputError("--band-min: must be positive, e.g. 30")
    if args.refine < 0:
        raise InputError("--refine: must be 0 or more")
    try:
        minutes_of_day(args.time)
    except ValueError as exc:
        raise InputError(f"--time: {exc}; e.g. 18:00") from None
    scenario = load_scenario(args.scenario)
    cfg = traffic_section(scenario, "flexibility-region")
    names = [st.name for st in cfg.stations]
    if args.reserve_station not in names:
        raise InputError(f"--reserve-station: {args.reserve_station!r} is not a traffic "
                         f"station of {scenario.name}; use one of {', '.join(names) or '(none)'}")
    if len(names) != 3:
        raise InputError(f"--scenario: the region plots and the paper's method are 3-D; "
                         f"{scenario.name} has {len(names)} traffic stations")
    from environment.experiments.flex_region import check_request, model_interval_min, warm

    models = ["dynamic", "static"] if args.model == "both" else [args.model]
    band_min_by_model = {m: model_interval_min(cfg, m) if args.band_min is None
                         else args.band_min for m in models}
    for m in models:  # before any equilibrium is solved
        check_request(scenario, m, args.time, band_min_by_model[m])
    out = checked_folder(args.out, args.resume, args.locks)
    from environment.experiments.cluster import Cluster
    from environment.experiments.flex_region_run import RegionOptions, run_region
    from environment.grid_setup import build_grid_model
    from environment.outputs import write_json

    write_json(out / "manifest.json", {"command": "flexibility-region", "models": models})
    # started on a thread while this process builds the grid model and solves the no-coupon
    # equilibrium; the workers import the models meanwhile
    cluster = Cluster(args.workers - 1, warm=partial(warm, scenario, models[0], args.time,
                                                 band_min_by_model[models[0]]),
                      background=True) if args.workers > 1 else None
    runs = {}
    try:
        grid = build_grid_model(scenario)  # once: it travels to the workers where it can
        for m in models:
            opt = RegionOptions(m, args.time, args.step_deg, band_min_by_model[m],
                                refine=args.refine, grid=args.grid,
                                shared=not args.per_direction)
            runs[m] = run_region(cluster, scenario, opt, budgets, out, args.resume,
                                 progress=not args.quiet, grid=grid)
        return _report(args, out, runs, budgets, tiers, t_start, cluster)
    finally:
        if cluster is not None:
            cluster.close()


def _report(args, out: Path, runs: dict, budgets: list[float], tiers: list[float],
            t_start: float, cluster: Cluster | None) -> CommandOutcome:
    from environment.cli.runs import lead_line
    from environment.experiments import region_tables as rep
    from environment.experiments.flex_region_run import best_points, solver
    from environment.outputs import write_parquet
    from environment.reporting import region_plots as plots
    from environment.summaries import RegionGridCheck, RegionSummary, write_summary
    from environment.verdict import Verdict

    frames, hulls, regs_all, models = [], [], {}, {}
    for m, run in runs.items():
        regs = rep.regions(run)
        regs_all[m] = regs
        frames.append(rep.points_frame(m, run))
        hulls.append(rep.hull_frame(m, regs, run.setup.stations))
        models[m] = rep.model_summary(run, regs, budgets)
    write_parquet(out / "points.parquet", pd.concat(frames, ignore_index=True))
    write_parquet(out / "hull.parquet", pd.concat(hulls, ignore_index=True))
    main = "dynamic" if "dynamic" in runs else "static"
    validation = rep.tier_validation(runs[main], regs_all[main], tiers, args.reserve_station,
                                     args.reserve_mw, solver(cluster, runs[main].setup)) \
        if all(t in regs_all[main] for t in tiers) else None
    bad = {m: sum(not o.grid_feasible for pts in best_points(run).values() for o, _ in pts)
           for m, run in runs.items()}
    total = {m: sum(len(pts) for pts in run.points.values()) for m, run in runs.items()}
    summary = RegionSummary(scenario=args.scenario, time=args.time, budgets=tuple(budgets),
                            step_deg=args.step_deg, models=models,
                            validation=validation,
                            grid=RegionGridCheck(args.grid, bad, total), runtime_s=0.0,
                            processes=args.workers)
    verdict = Verdict.of(region_checks(summary))
    warning = None if summary.grid.valid else (
        "GRID-INFEASIBLE: " + ", ".join(f"{m} {bad[m]}/{total[m]} points" for m in runs)
        + " violate the feeder at t* (LinDistFlow/AC); the regions are traffic outcomes")
    if not args.no_plots:
        for m, run in runs.items():
            plots.plot_hulls(out / f"hulls_{m}.png", regs_all[m], run.setup.stations,
                             run.setup.base.p_kw / 1e3, args.time, m, warning)
        plots.plot_volume(out / "volume_vs_budget.png", {m: regs_all[m] for m in runs},
                          args.time, warning)
        if len(runs) == 2:
            b = max(budgets)
            plots.plot_dta_vs_sta(out / "dta_vs_sta.png", regs_all["dynamic"][b],
                                  regs_all["static"][b], runs["dynamic"].setup.stations, b,
                                  args.time, warning)
    summary = replace(summary, runtime_s=time.perf_counter() - t_start)
    write_summary(out / "summary.json", summary, verdict)
    parts = []
    for m in runs:
        vols = ", ".join(f"{b:g}: {_headline(regs_all[m][b])}" for b in budgets)
        parts.append(f"{m} [{vols}]")
    print(lead_line(verdict, f"{args.scenario} FOR at {args.time}: {'; '.join(parts)}; "
                             f"{_validation_text(summary.validation)}; "
                             f"{summary.runtime_s:.1f} s -> {out}"))
    return CommandOutcome(verdict.exit_code, summary)


def _headline(r) -> str:
    if r.dimension == 3:
        return f"{r.volume_mw3:.3f} MW³"
    return f"{r.dimension}-D {r.measure:.3f} {r.measure_unit}"


def region_checks(s: RegionSummary) -> list[Check]:
    """Region points on the feeder (validity, per model); the tier validation (target)."""
    g = s.grid
    out = [validity(f"grid_{m}", g.infeasible_points[m] == 0,
                    f"{m}: {g.infeasible_points[m]}/{g.points[m]} region points violate the "
                    f"feeder at {s.time} (--grid {g.mode})") for m in s.models]
    v = s.validation
    if v is not None:
        out.append(target("validation_tier", v.chosen_tier is not None,
                          f"no tier covers {v.reserve_mw:g} MW at {v.station} (needs "
                          f"{v.requirement_mw:.2f} MW)"))
    return out


def _validation_text(v: TierValidation | None) -> str:
    if v is None:
        return "no tier validation (tiers not among the budgets run)"
    if v.chosen_tier is not None:
        spent = v.actual_subsidy_spent if v.actual_subsidy_spent is not None else float("nan")
        return f"reserve {v.reserve_mw:g} MW at {v.station}: tier {v.chosen_tier:g}, spent " \
               f"{spent:.1f}"
    cap = v.station_charging_capacity_mw
    return (f"reserve {v.reserve_mw:g} MW at {v.station}: no tier suffices (needs "
            f"{v.requirement_mw:.2f} MW; the station's charging ports hold "
            f"{cap if cap is not None else float('nan'):.2f} MW)")
