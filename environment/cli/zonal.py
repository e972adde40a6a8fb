"""``run_sim.py dispatch --method zonal``: partition, distribution and aggregation layers.

Verdict (:mod:`environment.verdict`): physically invalid (exit 3) when the distribution layer's
plan or the two-layer result leaves the AC voltage or line limits in some interval, or a vehicle
leaves its own set when its set-points are replayed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from environment.cli.runs import CommandOutcome
from environment.summaries import AggregationLayerSummary, ZonalSummary


def run_zonal(args: argparse.Namespace, scenario, seed: int, out,
              behaviour) -> CommandOutcome:
    """Partition, distribution layer, "before" day; tables, summary and figures."""
    from environment.assessment.zonal_study import run_zonal_study
    from environment.assessment.zonal_summary import zonal_checks, zonal_summary
    from environment.cli.runs import CommandOutcome, lead_line, shown_folder
    from environment.summaries import write_summary
    from environment.verdict import Verdict
    from scenarios.errors import InputError

    t0 = time.perf_counter()
    if not args.quiet:
        print(f"dispatch: zonal partition and distribution layer ({scenario.name}, seed {seed})"
              " ...", file=sys.stderr, flush=True)
    st = run_zonal_study(scenario, behaviour, seed, progress=not args.quiet)
    if not st.setup.plan.feasible:
        raise InputError("zonal dispatch: the distribution layer is infeasible (voltage, line, "
                         "substation or EV energy rows); relax grid.v_min_pu, "
                         "grid.line_margin or grid.substation_kw")
    one_based = scenario.grid.bus_numbering == "one_based"

    def label(v: int) -> int:
        return int(st.bus_index[v]) + (1 if one_based else 0)

    summary = zonal_summary(st, scenario, seed, label, time.perf_counter() - t0)
    verdict = Verdict.of(zonal_checks(summary))
    summary = replace(summary, valid=not verdict.invalid)
    _write_tables(out, st, len(summary.areas))
    if not args.no_plots:
        from environment.reporting import zonal_plots

        zonal_plots.plot_partition(out / "partition.png", st, label)
        zonal_plots.plot_zonal_stack(out / "zonal_stack.png", st, scenario.horizon.axis)
        zonal_plots.plot_area_loads(out / "area_loads.png", st, scenario.horizon.axis)
    write_summary(out / "summary.json", summary, verdict)
    print(lead_line(verdict, _headline(summary, shown_folder(args, out))))
    if summary.aggregation_layer is not None:
        print(_aggregation_line(summary.aggregation_layer))
    return CommandOutcome(verdict.exit_code, summary)


def _headline(s: ZonalSummary, folder) -> str:
    b, a, ac = s.before, s.after, s.ac
    change = s.peak_shaving_pct
    shaved = f"{change:.1f} % shaved" if change >= 0 else f"a {-change:.1f} % rise"
    return (f"zonal: {len(s.areas)} areas (modularity {s.partition.modularity:.3f}); total "
            f"cost {b.total:,.0f} before -> {a.total:,.0f} after (purchase {b.purchase:,.0f} "
            f"-> {a.purchase:,.0f}, diesel {a.diesel:,.0f}, curtailment {b.curtailment:,.0f} "
            f"-> {a.curtailment:,.0f}, carbon {b.carbon:,.0f} -> {a.carbon:,.0f}); peak "
            f"{b.peak_kw:,.0f} -> {a.peak_kw:,.0f} kW ({shaved}); AC v_min "
            f"{ac.v_min_before_pu:.4f} before, {ac.v_min_after_pu:.4f} after (limit "
            f"{ac.v_min_limit_pu}) -> {folder}")


def _aggregation_line(al: AggregationLayerSummary) -> str:
    fix = f"moved {al.override_kwh:,.0f} kWh" if al.correction_round_feasible else "INFEASIBLE"
    conv = "agree" if al.targets_converged else "do NOT agree"
    c = al.costs
    cost = "" if c is None else (f"two-layer cost {c.total:,.0f} (purchase {c.purchase:,.0f}, "
                                 f"carbon {c.carbon:,.0f}); ")
    u = al.uncoordinated_ev_energy_kwh
    energy = "" if u is None else f" ({u:,.0f} uncoordinated)"
    return (f"interaction: targets {al.targets}, {al.target_rounds} rounds, the targets {conv} "
            f"within {al.target_tol_kw:g} kW (last move {al.target_moves_kw[-1]:.3g} kW); "
            f"inter-area losses (eq. 6) {al.tie_loss_kwh_economic_plan:,.1f} kWh economic, "
            f"{al.tie_loss_kwh_loss_plan:,.1f} kWh loss-minimising plan; areas' demand over "
            f"their EVs' capability at most {max(al.demand_over_capability_max_by_area):.2f}\n"
            f"aggregation layer: {cost}{al.realised_vehicles} vehicles (types 1-4: "
            f"{list(al.user_types_1_to_4)}), {al.vehicles_outside_their_sets} outside their "
            f"sets, {al.ev_energy_kwh:,.0f} kWh net{energy}; areas off target "
            f"{al.area_tracking_deviation_kwh:,.0f} kWh, vehicles off their targets "
            f"{al.vehicle_deviation_kwh:,.0f} kWh; correction round {fix}; peak "
            f"{al.peak_kw:,.0f} kW; AC v_min {al.ac_v_min_pu:.4f}; {al.seconds:.1f} s")


def _write_tables(out, st, n_areas: int) -> None:
    """``zonal_plan.parquet`` (the day before and after) and ``areas.parquet``."""
    from environment.outputs import write_parquet

    plan, two = st.setup.plan, st.two
    t_n = plan.ev_kw.shape[0]
    write_parquet(out / "zonal_plan.parquet", pd.DataFrame({
        "t": np.arange(t_n), "purchase_kw": plan.buy_kw, "diesel_kw": plan.dg_kw.sum(axis=1),
        "renewables_kw": plan.res_kw.sum(axis=1),
        "curtailed_kw": (st.setup.net.res_avail_kw - plan.res_kw).sum(axis=1),
        "ev_after_kw": plan.ev_kw.sum(axis=1), "ev_before_kw": st.ev_before_kw.sum(axis=1),
        "net_before_kw": st.before_p_bus_kw.sum(axis=1),
        "net_after_kw": plan.p_bus_kw.sum(axis=1)}))
    area_rows = {"area": np.repeat(np.arange(n_areas) + 1, t_n),
                 "t": np.tile(np.arange(t_n), n_areas),
                 "p_target_kw": plan.area_p_kw.T.ravel()}
    if two is not None:
        area_rows |= {"q_target_kvar": two.q_target_kvar.T.ravel(),
                      "trading_price_per_kwh": two.omega_z.T.ravel(),
                      "ev_area_kw": np.concatenate([a.ev_kw for a in two.tracks]),
                      "bought_kw": np.concatenate([a.buy_kw for a in two.tracks]),
                      "vehicle_deviation_kw": two.vehicle_deviation_kw.T.ravel()}
    write_parquet(out / "areas.parquet", pd.DataFrame(area_rows))
