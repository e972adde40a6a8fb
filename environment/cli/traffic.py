"""``run_sim.py traffic``: static or dynamic user equilibrium, tables and figures.

Target (:mod:`environment.verdict`): the equilibrium's relative gap reaches the target gap
(``--target-gap``, else the scenario's, 1e-8 for the static UE); a run that stops at its
iteration limit above it exits 4 and leads with ``TARGET MISSED``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from environment.cli.runs import CommandOutcome, lead_line, run_folder, shown_folder
from environment.summaries import TrafficSummary, write_summary
from environment.verdict import Verdict
from environment.verdict import target as target_check
from scenarios.errors import InputError
from scenarios.timeaxis import minutes_of_day

STATIC_TARGET_GAP = 1e-8


def run_traffic(args: argparse.Namespace) -> CommandOutcome:
    """Run ``traffic``: a static or dynamic equilibrium, its tables, summary and figures."""
    from environment.outputs import write_parquet
    from environment.reporting import traffic as report
    from scenarios.config import Traffic, load_scenario
    from traffic.scenario import (
        build_demand,
        build_network,
        build_prices,
        scenario_ue,
    )
    from traffic.static import static_ue

    t_start = time.perf_counter()
    if args.scenario:
        scenario = load_scenario(args.scenario)
        if scenario.traffic is None:
            raise InputError(f"--scenario: {args.scenario} has no [traffic] section")
        cfg, name, base = scenario.traffic, scenario.name, scenario.base_dir
    else:
        if args.network != "nguyen-dupuis":
            raise InputError(f"--network: {args.network!r} is not built in; use "
                             "nguyen-dupuis or a --scenario with a [traffic] section")
        cfg, name, base = Traffic(charging_share=0.0, v2g_share=0.0), args.network, "."
    if args.target_gap is not None and not args.target_gap > 0:
        raise InputError("--target-gap: must be positive, e.g. 0.01")
    net = build_network(cfg, base)
    out = run_folder(args.out)
    start = minutes_of_day(cfg.start)
    if args.assignment == "static":
        target = args.target_gap or STATIC_TARGET_GAP
        sres = static_ue(net.road_only(), target_gap=target)
        write_parquet(out / "links.parquet", report.static_links_frame(net.road_only(), sres))
        summary = TrafficSummary(
            scenario=name, network=cfg.network, assignment="static",
            relative_gap=sres.relative_gap, target_gap=target, iterations=len(sres.gaps),
            gaps=tuple(sres.gaps), runtime_s=0.0,
            total_travel_time_veh_min=sres.total_travel_time_veh_min,
            od_costs={f"{o}-{d}": c for (o, d), c in sres.od_cost_min.items()})
        print_line = (f"static UE: relative gap {sres.relative_gap:.2e} after {len(sres.gaps)} "
                      f"iterations, total travel time {sres.total_travel_time_veh_min:.0f} "
                      "veh·min per hour")
    else:
        demand, prices = build_demand(cfg, net), build_prices(cfg)
        model = args.link_model or cfg.link_model
        target = args.target_gap or cfg.target_gap
        res = scenario_ue(cfg, net, demand, prices, model, target)
        horizon = res.loading.exit_min.max(initial=cfg.duration_min)
        n_int = int(np.ceil(horizon / cfg.interval_min)) + 1
        links = report.dynamic_links_frame(net, res.loading, cfg.interval_min, n_int, start)
        stations = report.stations_frame(net, res.loading, cfg.interval_min, n_int, start,
                                         prices)
        write_parquet(out / "links.parquet", links)
        write_parquet(out / "stations.parquet", stations)
        summary = dynamic_summary(name, cfg.network, model, target, res)
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
    summary = replace(summary, runtime_s=time.perf_counter() - t_start)
    verdict = Verdict.of([target_check(
        "equilibrium_gap", summary.converged,
        f"relative gap {summary.relative_gap:.3g} (target ≤ {summary.target_gap:g}) after "
        f"{summary.iterations} iterations "
        f"({'converged' if summary.converged else 'not converged'})")])
    write_summary(out / "summary.json", summary, verdict)
    print(lead_line(verdict, f"{name}: {print_line}; {summary.runtime_s:.1f} s -> "
                             f"{shown_folder(args, out)}"))
    return CommandOutcome(verdict.exit_code, summary)


def dynamic_summary(name: str, network: str, model: str, target: float, res) -> TrafficSummary:
    """The summary of a dynamic assignment: gap, loading counts, mean OD costs per user class."""
    ld = res.loading
    costs: dict[str, dict[str, list[float]]] = {}
    for g, c in zip(res.groups, res.costs, strict=True):
        costs.setdefault(f"{g.od[0]}-{g.od[1]}", {}).setdefault(g.user, []).append(
            float(c.min()))
    return TrafficSummary(
        scenario=name, network=network, assignment="dynamic", relative_gap=res.relative_gap,
        target_gap=target, iterations=len(res.gaps), gaps=tuple(res.gaps), runtime_s=0.0,
        total_travel_time_veh_min=float(np.nansum(ld.travel_time_min())),
        od_costs={k: {u: float(np.mean(v)) for u, v in d.items()} for k, d in costs.items()},
        vehicles=int(ld.trip_veh.sum()), simulated_vehicles=len(ld.trips), link_model=model)
