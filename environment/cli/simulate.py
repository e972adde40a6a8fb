"""``run_sim.py simulate``: one co-simulated horizon, its tables and figures.

Exit codes (:mod:`environment.verdict`, checks of :func:`environment.day_metrics.day_checks`):

* ``0`` — the day was physically valid and the calls were delivered;
* ``2`` — bad input (one line on stderr naming the field);
* ``3`` — **physically invalid**: some tick had an AC violation at the realised point
  (``summary.json`` ``ac.violations_by_type``) or must-charge load the network could not carry
  (``grid.infeasible_ticks``, ``grid.unsheddable_kwh``);
* ``4`` — physically valid, but fewer than 99 % of the calls were delivered.

A high deliverability rate never makes an invalid day valid.
"""

from __future__ import annotations

import argparse
import time

from environment.cli.runs import (
    cleaning_line,
    lead_line,
    load_behaviour,
    resolve_seed,
    run_folder,
    shown_folder,
    write_summary,
)
from scenarios.errors import InputError


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``simulate``: one co-simulated horizon, its tables, summary and figures."""
    from scenarios.config import load_scenario
    from scenarios.resources import check_memory

    t_start = time.perf_counter()
    if args.scenarios is not None and args.scenarios < 1:
        raise InputError(f"--scenarios: {args.scenarios} < 1; use at least 1 scenario")
    scenario = load_scenario(args.scenario)
    scenario = scenario.with_overrides(simulation={"n_scenarios": args.scenarios,
                                                   "policy": args.policy})
    seed = resolve_seed(scenario, args.seed)
    check_memory(scenario, "simulate")
    # the input is valid: now the heavy stack (mesa, pandapower, matplotlib figures)
    from environment.model import CoSimModel
    from environment.planning.registry import planner_for

    out = run_folder(args.out)
    model = load_behaviour(scenario, args.behaviour)
    policy = scenario.simulation.policy
    sim = CoSimModel(scenario, model, seed, progress=not args.quiet,
                     planner=planner_for(policy))
    if sim.dispatch is not None and sim.dispatch.plan is None:
        sim.release()
        raise InputError(sim.dispatch.message)
    t_ticks = time.perf_counter()
    sim.run()
    ticks_s = time.perf_counter() - t_ticks
    feeder = {"name": sim.grid_agent.grid.feeder.name, "buses": sim.grid_agent.grid.feeder.n_bus,
              "stations": len(scenario.stations)}
    rec = sim.recorder
    ticks, network, evs = rec.frame("ticks"), rec.frame("network"), sim.ev_frame()
    disp: dict[str, object] | None = None
    day_plan = sim.dispatch
    if day_plan is not None:
        disp_metrics = day_plan.metrics(rec.frame("dispatch"), scenario.horizon.dt_h)
        disp = {**disp_metrics, "data_day": day_plan.plan.day if day_plan.plan else None,
                "epsilon": day_plan.epsilon}
    dispatch_frame = rec.frame("dispatch")
    sim.release()
    from environment.day_metrics import day_checks, day_metrics
    from environment.outputs import write_parquet
    from environment.verdict import Verdict, validity

    write_parquet(out / "ticks.parquet", ticks)
    write_parquet(out / "network.parquet", network)
    write_parquet(out / "evs.parquet", evs)
    write_parquet(out / "setpoints.parquet", rec.frame("setpoints"))
    if disp is not None:
        write_parquet(out / "dispatch.parquet", dispatch_frame)
    g, hz = scenario.grid, scenario.horizon
    day = day_metrics(ticks, evs, g.v_min_pu, g.v_max_pu, g.substation_kw, network)
    summary = {"scenario": scenario.name, "seed": seed, "policy": sim.policy, **day.as_dict(),
               "n_scenarios_rt": scenario.simulation.n_scenarios,
               "queue_rule": scenario.simulation.queue_rule, "feeder": feeder,
               "n_ev": day.evs.total}
    if not args.no_plots:
        from environment.reporting import sim_report  # matplotlib only when drawing

        sim_report.plot_boundary_and_calls(out / "boundary_calls.png", ticks, hz.axis,
                                           sim.policy)
        sim_report.plot_voltage_heatmap(out / "voltage_heatmap.png", network, hz.axis,
                                        g.v_min_pu, g.v_max_pu)
        sim_report.plot_da_vs_rt(out / "da_vs_rt.png", ticks, hz.axis)
        sim_report.plot_occupancy(out / "occupancy.png", ticks, hz.axis)
    if disp is not None:
        summary["dispatch"] = disp
    summary["runtime_s"] = round(time.perf_counter() - t_start, 3)
    summary["setup_s"] = round(t_ticks - t_start, 3)  # scenario, feeder, pools, day-ahead
    summary["ticks_s"] = round(ticks_s, 3)
    da = sim.da_commitment
    da_bad = int(da.infeasible.sum())
    da_unshed_kwh = float(da.unsheddable_kw.sum() * hz.dt_h)
    summary["day_ahead"] = {"infeasible_intervals": da_bad, "unsheddable_kwh": da_unshed_kwh}
    crossed = int(((ticks.p_down_kw > ticks.p_up_kw + 1e-6)
                   | (ticks.da_p_down_kw > ticks.da_p_up_kw + 1e-6)).sum())
    verdict = Verdict.of([
        *day_checks(day),
        validity("da_grid_feasible", da_bad == 0,
                 f"day-ahead commitment: {da_bad} intervals grid-infeasible "
                 f"({da_unshed_kwh:.1f} kWh must-charge not servable)"),
        validity("boundaries_ordered", crossed == 0,
                 f"{crossed} published boundary rows with P_down > P_up")])
    write_summary(out / "summary.json", summary, verdict)
    sf = day.shortfall
    val = (day.validation or {}).get("hold_rate", {})
    holds = ", ".join(f"{k} {'-' if v is None else f'{100 * v:.1f} %'}" for k, v in val.items())
    print(lead_line(verdict, f"{scenario.name} ({sim.policy}, seed {seed}): "
          f"{day.calls_delivered}/{day.ticks} calls delivered "
          f"({100 * day.deliverability_rate:.1f} %; hold rate {holds}); "
          f"departure shortfalls {sf.count} ({sf.kwh:.1f} kWh, {sf.left_early} left "
          f"early), {sf.left_unserved} EVs left without a charger; AC min "
          f"{day.ac.min_vm_pu:.4f} p.u., max loading {day.ac.max_loading_pct:.1f} %, "
          f"{day.ac.violations} violations; {summary['runtime_s']:.1f} s -> "
          f"{shown_folder(args, out)}"))
    if day_plan is not None:
        print(day_plan.headline(disp_metrics, day.ticks))
    if (line := cleaning_line(model)) is not None:
        print(line)
    return verdict.exit_code
