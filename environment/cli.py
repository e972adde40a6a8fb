"""Command-line interface of ``run_sim.py`` (argument parsing and run folders only)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from flexibility.fleet import FleetError
from scenarios.errors import InputError

DESCRIPTION = """\
EV grid-flexibility co-simulator (the transmission-distribution-microgrid assessment of
Wang et al. 2026).

Commands:
  simulate   rolling real-time validation run: EV, station, grid and transmission agents on a
             15-minute clock; the TSO calls on the published boundary and delivery is checked
             (default command)
  assess     three-layer flexibility assessment (station -> distribution -> transmission),
             day-ahead and real-time
  montecarlo Monte Carlo of co-simulated days on dask.distributed (resumable, sweeps)
  compare-da-rt
             day-ahead boundary vs the real-time boundaries of co-simulated replicates
  traffic    road traffic: static or dynamic user equilibrium on a road network with
             charging/V2G stations (Nguyen-Dupuis built in)
  calibrate  fit the behaviour model (Gaussian copula) to a sessions CSV

Run 'python run_sim.py COMMAND --help' for a command's options. With no command, 'simulate' runs
on the built-in default scenario (the paper case: 200 EVs, 4 stations on IEEE 33-bus, one day,
random calls within the published boundary) and writes runs/<timestamp>/.
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", metavar="FILE",
                   help="scenario TOML file or built-in name (default: paper_case)")
    p.add_argument("--behaviour", metavar="DIR",
                   help="behaviour model folder written by 'calibrate' (default: fit the "
                        "scenario's sessions CSV on the fly)")
    p.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/<timestamp>)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its sub-commands."""
    parser = argparse.ArgumentParser(prog="run_sim.py", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    m = sub.add_parser("simulate", help="rolling real-time validation run (default)",
                       description="Co-simulate one horizon: EVs arrive and queue for chargers, "
                                   "stations update RT envelopes every tick, the grid agent clips "
                                   "them (LinDistFlow + AC) and publishes the transmission "
                                   "boundary, the TSO calls on it, stations dispatch their EVs "
                                   "and delivery is checked. Writes summary.json, "
                                   "ticks.parquet, evs.parquet, network.parquet, "
                                   "setpoints.parquet and PNG plots.")
    _common(m)
    m.add_argument("--policy", choices=["none", "follow-da", "random-within", "max-up",
                                        "max-down", "regulation"],
                   help="TSO call policy (default: the scenario's simulation.policy, "
                        "random-within in the paper case)")
    m.add_argument("--scenarios", type=int, metavar="M",
                   help="sampled future days per station for the RT envelopes (>= 1)")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.add_argument("--no-plots", action="store_true", help="skip the PNG figures")

    a = sub.add_parser("assess", help="three-layer flexibility assessment",
                       description="Compute day-ahead and real-time envelopes of the station "
                                   "layer, clip them with the feeder (LinDistFlow, AC-checked "
                                   "with pandapower's model), package the deliverable "
                                   "transmission boundary and trace the P-Q sets; write "
                                   "summary.json, envelopes.parquet, network.parquet, "
                                   "ac_validation.parquet, pq.parquet and PNG plots to --out.")
    _common(a)
    a.add_argument("--layer", choices=["all", "station"], default="all",
                   help="all: station, distribution and transmission layers (default); "
                        "station: the station layer only")
    a.add_argument("--policy", choices=["uniform", "optimal"],
                   help="allocation of network capacity among stations: uniform (common "
                        "scaling, the paper) or optimal (LP maximising the total); default: "
                        "the scenario's grid.policy")
    a.add_argument("--alpha", type=float, help="confidence level of the inner envelope, in (0, 1)")
    a.add_argument("--scenarios", type=int, metavar="M", help="behaviour scenarios M (>= 1)")
    a.add_argument("--exclusivity-benchmark", action="store_true",
                   help="also run the relaxation-vs-MILP benchmark (paper §4.2) for nEV = 8, "
                        "12, 16, 20, 24 on one station (takes minutes)")
    a.add_argument("--exclusivity-days", type=int, default=8, metavar="D",
                   help="sampled days per size in the exclusivity benchmark (default 8)")
    a.add_argument("--no-plots", action="store_true", help="skip the PNG figures")

    for name, text in (("montecarlo", "Run N co-simulated days (each with its own seed from "
                                      "the scenario seed) on dask.distributed and summarise "
                                      "every metric with mean, std and 95 %% CI."),
                       ("compare-da-rt", "Run N co-simulated days and compare the day-ahead "
                                         "boundary with the real-time boundaries per interval "
                                         "(paper Figure 4 form).")):
        mc = sub.add_parser(name, help=text.split(" and ")[0].lower(), description=text +
                            " Writes summary.json, replicates.parquet, replicates/<id>/ and "
                            "PNG plots to --out; --resume continues a run.")
        mc.add_argument("--scenario", metavar="FILE", help="scenario TOML or built-in name")
        mc.add_argument("--behaviour", metavar="DIR", help="behaviour model folder")
        mc.add_argument("--replicates", type=int, required=True, metavar="N",
                        help="replicates (co-simulated days) per sweep point")
        g = mc.add_mutually_exclusive_group()
        g.add_argument("--workers", type=int, default=1, metavar="K",
                       help="worker processes of a local dask cluster (default 1)")
        g.add_argument("--scheduler", metavar="ADDR",
                       help="use an existing dask scheduler, e.g. tcp://10.0.0.5:8786")
        mc.add_argument("--out", required=True, metavar="DIR", help="output folder")
        mc.add_argument("--resume", action="store_true",
                        help="continue a run in --out, skipping finished replicates")
        mc.add_argument("--ci-target", type=float, metavar="X",
                        help="stop once the 95 %% CI half-width of --ci-metric is below X")
        mc.add_argument("--ci-metric", default="deliverability_rate",
                        help="metric for --ci-target (default deliverability_rate)")
        mc.add_argument("--sweep", action="append", metavar="KEY=V1,V2",
                        help="sweep a scenario parameter (repeatable; grid product): n_ev, "
                             "alpha, policy, n_scenarios, v2g_share, substation_kw or a "
                             "dotted field such as grid.v_min_pu")
        mc.add_argument("--quiet", action="store_true", help="no progress bar")
        mc.add_argument("--no-plots", action="store_true", help="skip the PNG figures")

    tr = sub.add_parser("traffic", help="static or dynamic traffic assignment",
                        description="Solve a user equilibrium on a road network: static "
                                    "(path-based, relative gap 1e-8) or dynamic (event-driven "
                                    "loading of individual vehicles, iterated to a relative "
                                    "gap of 1 %%). Writes summary.json, links.parquet, "
                                    "stations.parquet (dynamic) and PNG plots.")
    tr.add_argument("--network", default="nguyen-dupuis",
                    help="built-in network (nguyen-dupuis) when no --scenario is given")
    tr.add_argument("--scenario", metavar="FILE",
                    help="scenario with a [traffic] section (network, stations, demand), "
                         "e.g. nd_coupled")
    tr.add_argument("--assignment", choices=["static", "dynamic"], default="dynamic",
                    help="static UE (one period) or dynamic UE (default)")
    tr.add_argument("--link-model", choices=["queue", "bpr"],
                    help="dynamic link model: point queue or the paper's BPR on inflow "
                         "(default: the scenario's, queue)")
    tr.add_argument("--target-gap", type=float, help="relative gap to stop at")
    tr.add_argument("--out", metavar="DIR", help="output folder (default: runs/<timestamp>)")
    tr.add_argument("--no-plots", action="store_true", help="skip the PNG figures")

    c = sub.add_parser("calibrate", help="fit the behaviour model to a sessions CSV",
                       description="Clean a sessions CSV (columns: arrival, departure, "
                                   "energy_kwh; optional charger_kw, charger_model, soc_init), "
                                   "fit the Gaussian copula and save it to --out.")
    c.add_argument("--sessions", required=True, metavar="FILE", help="sessions CSV")
    c.add_argument("--out", required=True, metavar="DIR", help="folder for the fitted model")
    c.add_argument("--capacity-kwh", type=float, default=60.0,
                   help="battery capacity used to derive initial SOC (default 60)")
    c.add_argument("--soc-method", choices=["target_minus_delivered", "column"],
                   default="target_minus_delivered",
                   help="initial SOC: target minus delivered energy, or the soc_init column")
    c.add_argument("--target-soc", type=float, default=0.9, help="SOC at plug-out (default 0.9)")
    c.add_argument("--floor-soc", type=float, default=0.05, help="lowest SOC (default 0.05)")
    c.add_argument("--eta-ch", type=float, default=0.95, help="charging efficiency (0.95)")
    c.add_argument("--max-charger-kw", type=float, default=22.0,
                   help="keep charge points up to this rating, i.e. AC (default 22)")
    c.add_argument("--max-dwell-h", type=float, default=48.0,
                   help="drop sessions longer than this (default 48 h)")
    c.add_argument("--default-charger-kw", type=float,
                   help="rating for rows without charger_kw/known charger_model")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad input, one line on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("--") and argv[0] not in ("--help", "-h")):
        argv = ["simulate", *argv]
    args = build_parser().parse_args(argv)
    try:
        if args.command == "calibrate":
            return _calibrate(args)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "traffic":
            return _traffic(args)
        if args.command in ("montecarlo", "compare-da-rt"):
            return _montecarlo(args)
        return _assess(args)
    except (InputError, FleetError) as exc:  # FeederError is an InputError
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _calibrate(args: argparse.Namespace) -> int:
    from scenarios.behaviour import BehaviourModel
    from scenarios.sessions import load_sessions

    for name in ("target_soc", "floor_soc", "eta_ch"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:
            raise InputError(f"--{name.replace('_', '-')}: {value} is outside [0, 1]")
    sessions = load_sessions(args.sessions, args.max_charger_kw, args.max_dwell_h,
                             args.default_charger_kw)
    model = BehaviourModel.fit(sessions, str(args.sessions), args.soc_method, args.capacity_kwh,
                               args.target_soc, args.floor_soc, args.eta_ch)
    model.save(args.out)
    rep = sessions.report
    print(f"calibrated on {rep['rows_kept']} of {rep['rows_read']} sessions -> {args.out}")
    return 0


def load_behaviour(scenario, behaviour_dir: str | None):
    """The behaviour model: a calibrated folder, or a fit of the scenario's sessions."""
    from scenarios.behaviour import BehaviourModel
    from scenarios.sessions import load_sessions

    if behaviour_dir:
        return BehaviourModel.load(behaviour_dir)
    b = scenario.behaviour
    sessions = load_sessions(scenario.sessions_path(), b.max_charger_kw, b.max_dwell_h)
    return BehaviourModel.fit(sessions, b.sessions, b.initial_soc.method,
                              scenario.ev.capacity_kwh, b.initial_soc.target_soc,
                              b.initial_soc.floor_soc, scenario.ev.eta_ch)


def _assess(args: argparse.Namespace) -> int:
    from environment import outputs, plots
    from environment.station_assessment import ALL, assess_station_layer, sum_envelopes
    from flexibility.aggregation import probabilistic_envelope
    from scenarios.config import load_scenario

    t_start = time.perf_counter()
    if args.scenarios is not None and args.scenarios < 1:
        raise InputError(f"--scenarios: {args.scenarios} < 1; use at least 1 scenario")
    if args.alpha is not None and not 0.0 < args.alpha < 1.0:
        raise InputError(f"--alpha: {args.alpha} is outside (0, 1); use e.g. 0.90")
    scenario = load_scenario(args.scenario)
    scenario = scenario.with_overrides(alpha=args.alpha, n_scenarios=args.scenarios)
    seed = scenario.seed if args.seed is None else args.seed
    if seed < 0:
        raise InputError(f"--seed: {seed} is negative; use a non-negative integer")
    out = Path(args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"))
    model = load_behaviour(scenario, args.behaviour)
    rng = np.random.default_rng(seed)
    result = assess_station_layer(scenario, model, rng)
    hz, cfg = scenario.horizon, scenario.assessment

    frames = [outputs.envelope_frame("station", "da", result.da, hz.start_min, hz.dt_min)]
    frames += [outputs.envelope_frame("station", kind, per, hz.start_min, hz.dt_min)
               for kind, per in result.rt.items()]
    grid = None
    if args.layer == "all":
        grid = _grid_layers(args, scenario, result, frames, out)
    outputs.write_parquet(out / "envelopes.parquet", outputs.concat_frames(frames))

    summary = {
        "scenario": scenario.name, "seed": seed, "alpha": cfg.alpha,
        "n_ev": sum(s.n_ev for s in scenario.stations),
        "n_scenarios": cfg.n_scenarios,
        "da_statistic": cfg.da_statistic,
        "layers": {"station": result.metrics.as_dict()},
        "stations": {name: _metrics(env) for name, env in result.da.items() if name != ALL},
        "policy": None,
        "alpha_sensitivity": [{"alpha": a, **m.as_dict()} for a, m in result.alpha_sensitivity],
        "behaviour": {
            "source": model.source,
            "spearman_gap_max": max(r.gap for r in result.spearman if r.fitted),
            "spearman": [{"pair": list(r.pair), "empirical": r.empirical,
                          "generated": r.generated, "gap": r.gap, "fitted": r.fitted}
                         for r in result.spearman],
            **{k: v for k, v in model.meta.items() if k != "spearman_empirical"},
        },
        "unreachable_requirements_capped": result.unreachable_capped,
        "n_sessions_sampled": result.n_sessions,
        "rt_times": list(result.rt),
    }
    if grid is not None:
        gsum, gres, ac_rows = grid
        stations = summary["stations"]
        summary.update(gsum)
        summary["stations"] = {n: {**gsum["stations"][n], **stations[n]} for n in stations}
    if args.exclusivity_benchmark:
        from environment.exclusivity import exclusivity_benchmark

        if args.exclusivity_days < 1:
            raise InputError("--exclusivity-days: use at least 1 day")
        bench = exclusivity_benchmark(scenario, model, np.random.default_rng([seed, 1]),
                                      args.exclusivity_days)
        summary["exclusivity_benchmark"] = bench.rows
        outputs.write_parquet(out / "exclusivity.parquet", pd.DataFrame(bench.rows))
        if not args.no_plots:
            plots.plot_exclusivity(out / "exclusivity_benchmark.png", bench.relaxed, bench.milp,
                                   bench.n_ev_shown, bench.rows, hz.start_min, hz.dt_min)
    if not args.no_plots:
        da_label = f"α = {cfg.alpha:.2f}" if cfg.da_statistic == "quantile" else "mean"
        plots.plot_station_envelopes(out / "station_envelopes.png", result.da, result.rt,
                                     hz.start_min, hz.dt_min, da_label)
        sens_env = {a: sum_envelopes([probabilistic_envelope(env, a)
                                      for env in result.scenario_envelopes.values()])
                    for a in cfg.alpha_sensitivity}
        plots.plot_alpha_sensitivity(out / "alpha_sensitivity.png", sens_env,
                                     result.alpha_sensitivity, hz.start_min, hz.dt_min)
        plots.plot_spearman_table(out / "spearman_table.png", result.spearman,
                                  cfg.n_scenarios * (scenario.stations[0].n_ev or 1))
        if grid is not None:
            _grid_plots(out, scenario, result, gres, ac_rows)
    summary["runtime_s"] = round(time.perf_counter() - t_start, 3)
    outputs.write_json(out / "summary.json", summary)
    m = result.metrics
    print(f"{scenario.name}: station layer (α = {cfg.alpha:.2f}, M = {cfg.n_scenarios}) "
          f"peak charging {m.peak_ch_kw:.1f} kW, peak discharging {m.peak_dis_kw:.1f} kW, "
          f"area {m.area_kwh:.0f} kWh; Spearman gap "
          f"{summary['behaviour']['spearman_gap_max']:.4f}")
    if grid is not None:
        for layer in ("distribution", "transmission"):
            lm = summary["layers"][layer]
            print(f"  {layer} layer ({summary['policy']}): peak charging "
                  f"{lm['peak_ch_kw']:.1f} kW, peak discharging {lm['peak_dis_kw']:.1f} kW, "
                  f"area {lm['area_kwh']:.0f} kWh")
        c = summary["clipping"]["charge"]
        print(f"  charging-side clipping: mean {100 * c['mean_rate']:.1f} %, max "
              f"{100 * c['max_rate']:.1f} % at {c['time_of_max']}; AC checks: "
              f"{summary['ac']['corrected_intervals']} corners tightened, "
              f"{summary['ac']['background_infeasible_intervals']} intervals infeasible "
              "without EVs")
    print(f"  {summary['runtime_s']:.1f} s -> {out}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from environment import sim_report
    from environment.cosim import CoSimModel
    from scenarios.config import load_scenario

    t_start = time.perf_counter()
    if args.scenarios is not None and args.scenarios < 1:
        raise InputError(f"--scenarios: {args.scenarios} < 1; use at least 1 scenario")
    scenario = load_scenario(args.scenario)
    scenario = scenario.with_overrides(simulation={"n_scenarios": args.scenarios,
                                                   "policy": args.policy})
    seed = scenario.seed if args.seed is None else args.seed
    if seed < 0:
        raise InputError(f"--seed: {seed} is negative; use a non-negative integer")
    out = Path(args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"))
    model = load_behaviour(scenario, args.behaviour)
    sim = CoSimModel(scenario, model, seed, progress=not args.quiet)
    sim.run()
    rec = sim.recorder
    ticks, network, evs = rec.frame("ticks"), rec.frame("network"), sim.ev_frame()
    sim.release()
    from environment.outputs import write_json, write_parquet

    write_parquet(out / "ticks.parquet", ticks)
    write_parquet(out / "network.parquet", network)
    write_parquet(out / "evs.parquet", evs)
    write_parquet(out / "setpoints.parquet", rec.frame("setpoints"))
    g = scenario.grid
    summary = {"scenario": scenario.name, "seed": seed, "policy": sim.policy,
               **sim_report.validation_summary(ticks, evs, network, g.v_min_pu, g.v_max_pu),
               "n_scenarios_rt": scenario.simulation.n_scenarios,
               "queue_rule": scenario.simulation.queue_rule}
    hz = scenario.horizon
    if not args.no_plots:
        sim_report.plot_boundary_and_calls(out / "boundary_calls.png", ticks, hz.start_min,
                                           sim.policy)
        sim_report.plot_voltage_heatmap(out / "voltage_heatmap.png", network, hz.start_min,
                                        hz.dt_min, g.v_min_pu)
        sim_report.plot_da_vs_rt(out / "da_vs_rt.png", ticks, hz.start_min)
        sim_report.plot_occupancy(out / "occupancy.png", ticks, hz.start_min)
    summary["runtime_s"] = round(time.perf_counter() - t_start, 3)
    write_json(out / "summary.json", summary)
    sf = summary["shortfall"]
    print(f"{scenario.name} ({sim.policy}, seed {seed}): {summary['calls_delivered']}/"
          f"{summary['ticks']} calls delivered ({100 * summary['deliverability_rate']:.1f} %); "
          f"departure shortfalls {sf['count']} ({sf['kwh']:.1f} kWh), "
          f"{sf['left_unserved']} EVs left without a charger; AC min "
          f"{summary['ac']['min_vm_pu']:.4f} p.u., max loading "
          f"{summary['ac']['max_loading_pct']:.1f} %, {summary['ac']['violations']} violations; "
          f"{summary['runtime_s']:.1f} s -> {out}")
    return 0


def _montecarlo(args: argparse.Namespace) -> int:
    from environment import mc_report
    from environment.montecarlo import (
        Cluster,
        load_ticks,
        run_montecarlo,
        summarize,
        write_tables,
    )
    from environment.outputs import write_json, write_parquet
    from scenarios.config import load_scenario

    t_start = time.perf_counter()
    if args.replicates < 1:
        raise InputError(f"--replicates: {args.replicates} < 1; use at least 1")
    if args.scheduler is None and args.workers < 1:
        raise InputError(f"--workers: {args.workers} < 1; use at least 1")
    if args.ci_target is not None and not args.ci_target > 0:
        raise InputError("--ci-target: must be positive, e.g. 0.005")
    scenario = load_scenario(args.scenario)
    points = mc_report.sweep_points(scenario, mc_report.parse_sweeps(args.sweep))
    out = Path(args.out)
    model = load_behaviour(scenario, args.behaviour)
    cluster = Cluster(args.workers, args.scheduler)
    results = []
    interrupted = False
    try:
        for params, sc in points:
            folder = out / "sweep" / mc_report.point_folder(params) if params else out
            run = run_montecarlo(cluster, sc, model, args.replicates, folder, args.resume,
                                 args.ci_target, args.ci_metric, not args.quiet,
                                 label=mc_report.point_folder(params) if params else "")
            results.append((params, sc, run))
            if run.interrupted:
                interrupted = True
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        workers = cluster.workers
        cluster.close()  # workers stop here: replicates still running may finish first
    from environment.montecarlo import finished, write_manifest

    for params, sc in points:  # the folders are the truth; bring every manifest up to date
        folder = out / "sweep" / mc_report.point_folder(params) if params else out
        if (folder / "manifest.json").is_file():
            write_manifest(folder / "manifest.json", sc, args.replicates, finished(folder))
    hz = scenario.horizon
    for params, sc, run in results:
        hz = sc.horizon
        write_tables(run)
        summary = {"scenario": sc.name, "seed": sc.seed, "command": args.command,
                   "sweep_point": params,
                   **summarize(run, workers, time.perf_counter() - t_start)}
        ticks = load_ticks(run.folder, run.metrics.replicate.astype(int).tolist()) \
            if len(run.metrics) else None
        if args.command == "compare-da-rt" and ticks is not None and len(ticks):
            table, da_summary = mc_report.da_rt_tables(ticks)
            write_parquet(run.folder / "da_rt.parquet", table)
            summary["da_vs_rt"] = da_summary
            if not args.no_plots:
                mc_report.plot_da_rt(run.folder / "da_vs_rt.png", table, ticks, hz.start_min,
                                     hz.dt_min)
        if not args.no_plots and ticks is not None and len(ticks) and len(run.metrics) > 1:
            mc_report.plot_fan_charts(run.folder / "fan_charts.png", ticks, hz.start_min,
                                      hz.dt_min)
            names = ["deliverability_rate", "shortfall_kwh", "bte_ch_kwh", "station_area_kwh",
                     "distribution_area_kwh", "transmission_area_kwh"]
            mc_report.plot_histograms(run.folder / "histograms.png", run.metrics, names)
            mc_report.plot_convergence(run.folder / "convergence.png", run.metrics,
                                       ["deliverability_rate", "transmission_area_kwh",
                                        "bte_ch_kwh"])
        write_json(run.folder / "summary.json", summary)
    if len(results) > 1 or (results and results[0][0]):  # a sweep
        keys = list(results[0][0])
        metrics = ["deliverability_rate", "transmission_area_kwh", "bte_ch_kwh",
                   "shortfall_kwh"]
        table = mc_report.sweep_table([(p, r) for p, _, r in results], metrics)
        write_parquet(out / "sweep.parquet", table)
        if not args.no_plots:
            mc_report.plot_sweep(out / "sweep.png", table, keys, metrics)
    done = sum(len(r.metrics) for _, _, r in results)
    print(f"{scenario.name}: {args.command} {done} replicates over {len(results)} point(s) on "
          f"{workers} worker(s); {time.perf_counter() - t_start:.1f} s -> {out}")
    if interrupted:
        print("interrupted: finished replicates are kept; run again with --resume",
              file=sys.stderr)
        return 130
    return 0


def _traffic(args: argparse.Namespace) -> int:
    from environment.outputs import write_json, write_parquet
    from scenarios.config import Traffic, load_scenario
    from traffic import report
    from traffic.assignment import dynamic_ue
    from traffic.scenario import build_demand, build_network, build_prices
    from traffic.static import static_ue

    t_start = time.perf_counter()
    if args.scenario:
        scenario = load_scenario(args.scenario)
        if scenario.traffic is None:
            raise InputError(f"--scenario: {args.scenario} has no [traffic] section")
        cfg, name = scenario.traffic, scenario.name
    else:
        if args.network != "nguyen-dupuis":
            raise InputError(f"--network: {args.network!r} is not built in; use "
                             "nguyen-dupuis or a --scenario with a [traffic] section")
        cfg, name = Traffic(charging_share=0.0, v2g_share=0.0), args.network
    if args.target_gap is not None and not args.target_gap > 0:
        raise InputError("--target-gap: must be positive, e.g. 0.01")
    net = build_network(cfg)
    out = Path(args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"))
    start = int(cfg.start[:2]) * 60 + int(cfg.start[3:])
    summary: dict = {"scenario": name, "network": cfg.network, "assignment": args.assignment}
    if args.assignment == "static":
        res = static_ue(net.road_only(), target_gap=args.target_gap or 1e-8)
        write_parquet(out / "links.parquet", report.static_links_frame(net.road_only(), res))
        summary.update({"relative_gap": res.relative_gap, "iterations": len(res.gaps),
                        "total_travel_time_veh_min": res.total_travel_time_veh_min,
                        "od_costs": {f"{o}-{d}": c for (o, d), c in res.od_cost_min.items()},
                        "od_costs_unit": "minutes", "gaps": res.gaps})
        print_line = (f"static UE: relative gap {res.relative_gap:.2e} after {len(res.gaps)} "
                      f"iterations, total travel time {res.total_travel_time_veh_min:.0f} "
                      "veh·min per hour")
    else:
        demand, prices = build_demand(cfg, net), build_prices(cfg)
        model = args.link_model or cfg.link_model
        target = args.target_gap or cfg.target_gap
        res = dynamic_ue(net, demand, model, prices, target, cfg.max_iterations)
        horizon = res.loading.exit_min.max(initial=cfg.duration_min)
        n_int = int(np.ceil(horizon / cfg.interval_min)) + 1
        links = report.dynamic_links_frame(net, res.loading, cfg.interval_min, n_int, start)
        stations = report.stations_frame(net, res.loading, cfg.interval_min, n_int, start,
                                         prices)
        write_parquet(out / "links.parquet", links)
        write_parquet(out / "stations.parquet", stations)
        summary.update(report.summary_dynamic(res))
        summary["link_model"] = model
        summary["target_gap"] = target
        if not args.no_plots:
            report.plot_gap(out / "gap_convergence.png", res.gaps, target)
            report.plot_link_queues(out / "link_queues.png", links)
            if len(stations):
                report.plot_station_queues(out / "station_queues.png", stations)
                sta = report.sta_station_loads(net, demand, prices)
                report.plot_dta_vs_sta(out / "dta_vs_sta_station_loads.png", stations, sta,
                                       cfg.interval_min, 30.0)
        print_line = (f"dynamic UE ({model}): relative gap {res.relative_gap:.4f} after "
                      f"{len(res.gaps)} iterations, {len(res.loading.trips)} vehicles")
    summary["runtime_s"] = round(time.perf_counter() - t_start, 3)
    write_json(out / "summary.json", summary)
    print(f"{name}: {print_line}; {summary['runtime_s']:.1f} s -> {out}")
    return 0


def _grid_layers(args: argparse.Namespace, scenario, result, frames: list,
                 out: Path) -> tuple[dict, object, pd.DataFrame]:
    """Distribution and transmission layers: tables written, summary entries returned."""
    from environment import grid_report, outputs
    from environment.grid_assessment import assess_grid_layers, build_grid_model

    hz = scenario.horizon
    gm = build_grid_model(scenario, args.policy)
    gres = assess_grid_layers(scenario, result, gm)
    frames += grid_report.layer_frames("da", gres.da, hz.start_min, hz.dt_min)
    for kind, layers in gres.rt.items():
        frames += grid_report.layer_frames(kind, layers, hz.start_min, hz.dt_min)
    ac_rows = grid_report.ac_validation_frame(gres.da, hz.start_min, hz.dt_min)
    outputs.write_parquet(out / "network.parquet",
                          grid_report.network_frame(gres, hz.start_min, hz.dt_min))
    outputs.write_parquet(out / "ac_validation.parquet", ac_rows)
    outputs.write_parquet(out / "pq.parquet", grid_report.pq_frame(gres, hz.start_min, hz.dt_min))
    return grid_report.grid_summary(result, gres, hz.start_min, hz.dt_min, ac_rows), gres, ac_rows


def _grid_plots(out: Path, scenario, result, gres, ac_rows: pd.DataFrame) -> None:
    """The distribution/transmission figures."""
    from environment import grid_plots as gp
    from environment.outputs import clock

    hz = scenario.horizon
    s, d = hz.start_min, hz.dt_min
    gp.plot_three_layers(out / "three_layer_envelopes.png", result, gres, s, d)
    gp.plot_clipping_rates(out / "clipping_rates.png", result, gres, s, d)
    gp.plot_da_rt_transmission(out / "da_rt_transmission.png", gres, s, d)
    gp.plot_layer_bars(out / "layer_comparison.png", result, gres)
    gp.plot_ac_validation(out / "ac_validation.png", ac_rows, scenario.grid.v_min_pu, s, d)
    gp.plot_pq_range(out / "pq_daily_range.png", gres, s, d)
    gp.plot_pq_sets(out / "pq_sets.png", gres, ["12:00", "18:30", "21:00", "23:00"],
                    clock(s, d, np.arange(hz.n_intervals)))
    gp.plot_binding(out / "pq_binding.png", gres, s, d)


def _metrics(env) -> dict:
    from flexibility.metrics import envelope_metrics

    return envelope_metrics(env).as_dict()
