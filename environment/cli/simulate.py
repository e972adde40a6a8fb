"""``run_sim.py simulate``: one co-simulated horizon, its tables and figures.

Exit codes (:mod:`environment.verdict`, checks of :func:`environment.day_metrics.day_checks`):

* ``0`` — the day was physically valid and the calls were delivered;
* ``2`` — bad input (one line on stderr naming the field);
* ``3`` — **physically invalid**: some tick had an AC violation at the realised point
  (``summary.json`` ``ac.violations_by_type``) or must-charge load the plugged-in EVs could not
  shed and the network could not carry (``grid.infeasible_ticks``, ``grid.unsheddable_kwh``);
* ``4`` — physically valid, but fewer than 99 % of the calls were delivered.

Ticks the DSO flagged the α package (its lower bound above the network,
``grid.package_infeasible_ticks``) are the report ``package_within_network``: named when there
are any, exit code unchanged.

A high deliverability rate never makes an invalid day valid.
"""

from __future__ import annotations

import argparse
import time

from environment.cli.runs import (
    CommandOutcome,
    cleaning_line,
    lead_line,
    load_behaviour,
    load_with_settings,
    resolve_seed,
    run_folder,
    shown_folder,
)
from environment.summaries import write_summary
from environment.verdict import Verdict
from scenarios.errors import InputError


def run_simulate(args: argparse.Namespace) -> CommandOutcome:
    """Run ``simulate``: one co-simulated horizon, its tables, summary and figures."""
    from scenarios.resources import check_memory

    t_start = time.perf_counter()
    if args.scenarios is not None and args.scenarios < 1:
        raise InputError(f"--scenarios: {args.scenarios} < 1; use at least 1 scenario")
    scenario = load_with_settings(args.scenario, args.set)
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
    rec = sim.recorder
    ticks, network, evs = rec.frame("ticks"), rec.frame("network"), sim.ev_frame()
    day_plan = sim.dispatch
    disp = None
    if day_plan is not None:
        disp = {**day_plan.metrics(rec.frame("dispatch"), scenario.horizon.dt_h),
                "data_day": day_plan.plan.day if day_plan.plan else None,
                "epsilon": day_plan.epsilon}
    frames = {"ticks": ticks, "network": network, "evs": evs,
              "setpoints": rec.frame("setpoints")}
    if disp is not None:
        frames["dispatch"] = rec.frame("dispatch")
    feeder = sim.grid_agent.grid.feeder
    da = sim.da_commitment
    sim.release()
    from environment.day_metrics import day_metrics
    from environment.outputs import write_parquet
    from environment.summaries import DayAheadInfo, FeederInfo, SimulateSummary

    for name, frame in frames.items():
        write_parquet(out / f"{name}.parquet", frame)
    g, hz = scenario.grid, scenario.horizon
    day = day_metrics(ticks, evs, g.v_min_pu, g.v_max_pu, g.substation_kw, network)
    if not args.no_plots:
        _plots(out, ticks, network, scenario, sim.policy)
    summary = SimulateSummary(
        scenario=scenario.name, seed=seed, policy=sim.policy, day=day,
        n_scenarios_rt=scenario.simulation.n_scenarios, alpha=scenario.assessment.alpha,
        package=scenario.simulation.package,
        package_days=min(scenario.simulation.package_days, scenario.simulation.n_scenarios),
        queue_rule=scenario.simulation.queue_rule,
        patience_min=(scenario.simulation.patience_min
                      if scenario.simulation.queue_rule in ("patience", "reroute") else None),
        feeder=FeederInfo(feeder.name, feeder.n_bus, len(scenario.stations)),
        day_ahead=DayAheadInfo.of(da, hz.dt_h),
        dispatch=disp, runtime_s=time.perf_counter() - t_start, setup_s=t_ticks - t_start,
        ticks_s=ticks_s)
    verdict = Verdict.of(simulate_checks(summary, ticks))
    write_summary(out / "summary.json", summary, verdict)
    print(lead_line(verdict, _headline(summary, shown_folder(args, out))))
    if day_plan is not None and disp is not None:
        print(day_plan.headline({k: v for k, v in disp.items() if isinstance(v, float)},
                                day.ticks))
    if day.access is not None:
        print("  " + day.access.line(scenario.simulation.queue_rule,
                                     scenario.simulation.patience_min))
    if (line := cleaning_line(model)) is not None:
        print(line)
    return CommandOutcome(verdict.exit_code, summary)


def _plots(out, ticks, network, scenario, policy: str) -> None:
    from environment.reporting import sim_report  # matplotlib only when drawing

    g, axis = scenario.grid, scenario.horizon.axis
    sim_report.plot_boundary_and_calls(out / "boundary_calls.png", ticks, axis, policy)
    sim_report.plot_voltage_heatmap(out / "voltage_heatmap.png", network, axis, g.v_min_pu,
                                    g.v_max_pu)
    sim_report.plot_da_vs_rt(out / "da_vs_rt.png", ticks, axis)
    sim_report.plot_occupancy(out / "occupancy.png", ticks, axis)


def simulate_checks(summary, ticks) -> list:
    """The day's checks (``environment.day_metrics.day_checks``), the day-ahead commitment's
    grid feasibility and the published boxes' order (nothing crossed is ever published).

    ``da_grid_feasible`` (validity) counts the expected vehicles' unavoidable draw the network
    cannot carry on a kept day; the α package's own day-ahead flag (its lower bound above the
    network) is the report ``da_package_within_network``, as ``package_within_network`` in real
    time (``agents.grid_operator``)."""
    from environment.day_metrics import day_checks
    from environment.verdict import report, validity

    da = summary.day_ahead
    crossed = int(((ticks.p_down_kw > ticks.p_up_kw + 1e-6)
                   | (ticks.da_p_down_kw > ticks.da_p_up_kw + 1e-6)).sum())
    from scenarios.sections import RESERVE_POLICIES, TSO_RULES

    reserve_alpha = summary.alpha if summary.policy in RESERVE_POLICIES else None
    return [*day_checks(summary.day, reserve_alpha, boundary_promise=summary.policy in TSO_RULES),
            validity("da_grid_feasible", da.infeasible_intervals == 0,
                     f"day-ahead commitment: {da.infeasible_intervals} intervals "
                     f"grid-infeasible ({da.unsheddable_kwh:.1f} kWh must-charge not servable)"),
            report("da_package_within_network", da.package_infeasible_intervals == 0,
                   f"day-ahead commitment: {da.package_infeasible_intervals} intervals with the "
                   f"package's lower bound above the network ({da.package_unsheddable_kwh:.1f} "
                   f"kWh of its must-serve not servable; published capped)"),
            validity("boundaries_ordered", crossed == 0,
                     f"{crossed} published boundary rows with P_down > P_up")]


def _headline(s, folder) -> str:
    day, sf = s.day, s.day.shortfall
    val = (day.validation or {}).get("hold_rate", {})
    holds = ", ".join(f"{k} {'-' if v is None else f'{100 * v:.1f} %'}" for k, v in val.items())
    sched = (day.validation or {}).get("schedule", {}).get("inside_rt_share")
    if sched is not None:
        holds += f"; DA schedule inside RT {100 * sched:.1f} %"
    if day.package_efficiency_mean is not None:
        holds += f"; package {100 * day.package_efficiency_mean:.0f} % of the exact area"
    return (f"{s.scenario} ({s.policy}, seed {s.seed}): {day.calls_delivered}/{day.ticks} calls "
            f"delivered ({100 * day.deliverability_rate:.1f} %; hold rate {holds}); departure "
            f"shortfalls {sf.count} ({sf.kwh:.1f} kWh, {sf.left_early} left early), "
            f"{sf.left_unserved} EVs left without a charger; AC min {day.ac.min_vm_pu:.4f} "
            f"p.u., max loading {day.ac.max_loading_pct:.1f} %, {day.ac.violations} "
            f"violations; {s.runtime_s:.1f} s -> {folder}")
