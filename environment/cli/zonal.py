"""``run_sim.py dispatch --method zonal``: partition and distribution layer (issue 16)."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

AC_TOL_PU = 1e-6


def run_zonal(args: argparse.Namespace, scenario, seed: int, out, behaviour) -> int:
    """Partition, distribution layer, "before" day; tables, summary and figures."""
    from environment.assessment.zonal_study import ENERGY_SHARE, run_zonal_study
    from environment.cli.runs import shown_folder
    from environment.outputs import write_json, write_parquet
    from scenarios.errors import InputError

    t0 = time.perf_counter()
    if not args.quiet:
        print(f"dispatch: zonal partition and distribution layer ({scenario.name}, seed {seed})"
              " ...", flush=True)
    st = run_zonal_study(scenario, behaviour, seed)
    plan, before = st.plan, st.before
    if not plan.feasible:
        raise InputError("zonal dispatch: the distribution layer is infeasible (voltage, line "
                         "or EV energy rows); relax grid.v_min_pu or grid.line_margin")
    label = (lambda v: int(st.bus_index[v]) + 1) if scenario.grid.bus_numbering == "one_based" \
        else (lambda v: int(st.bus_index[v]))
    areas = [sorted(label(v) for v in p) for p in st.parts]
    dt = scenario.horizon.dt_h
    after_net = plan.p_bus_kw.sum(axis=1)
    before_net = st.before_p_bus_kw.sum(axis=1)
    peak_b, peak_a = float(before_net.max()), float(after_net.max())
    after = {"purchase": plan.purchase, "diesel": plan.diesel, "curtailment": plan.curtailment,
             "carbon": plan.carbon, "total": plan.cost, "peak_kw": peak_a}
    summary = {
        "scenario": scenario.name, "seed": seed, "method": "zonal",
        "areas": {f"area {k + 1}": b for k, b in enumerate(areas)},
        "partition": {"modularity": st.scores.modularity, "f2_ev_potential": st.scores.f2,
                      "f3_power_balance": st.scores.f3, "f_c": st.scores.f_c,
                      "comprehensive": st.scores.total,
                      "comprehensive_of_seed": st.seed_scores.total},
        "table2": {"before": before, "after": after},
        "peak_shaving_pct": 100.0 * (peak_b - peak_a) / peak_b,
        "ev_energy_kwh": {"before": float(st.ev_before_kw.sum() * dt),
                          "after": float(plan.ev_kw.sum() * dt), "required_share": ENERGY_SHARE},
        "carbon_traded_t": plan.emission_t,
        "ac": {"v_min_before_pu": float(np.nanmin(st.ac_before.vm_pu)),
               "v_min_after_pu": float(np.nanmin(st.ac_after.vm_pu)),
               "v_min_limit_pu": scenario.grid.v_min_pu,
               "v_min_used_by_the_layer_pu": st.net.v_min_pu},
        "runtime_s": time.perf_counter() - t0}
    if st.areas is not None:
        ev_agg = np.stack([a.ev_kw for a in st.areas], axis=1)
        net_agg = after_net - plan.ev_kw.sum(axis=1) + ev_agg.sum(axis=1)
        summary["aggregation_layer"] = {
            "areas_feasible": int(sum(a.feasible for a in st.areas)),
            "price_change_by_area": [a.price_change.round(4).tolist() for a in st.areas],
            "tracking_deviation_kwh": float(sum(a.deviation_kwh for a in st.areas
                                                if a.feasible)),
            "ev_energy_kwh": float(ev_agg.sum() * dt),
            "peak_kw": float(net_agg.max()),
            "peak_shaving_pct_vs_before": 100.0 * (peak_b - float(net_agg.max())) / peak_b}
    t_n = plan.ev_kw.shape[0]
    write_parquet(out / "zonal_plan.parquet", pd.DataFrame({
        "t": np.arange(t_n), "purchase_kw": plan.buy_kw, "diesel_kw": plan.dg_kw.sum(axis=1),
        "renewables_kw": plan.res_kw.sum(axis=1),
        "curtailed_kw": (st.net.res_avail_kw - plan.res_kw).sum(axis=1),
        "ev_after_kw": plan.ev_kw.sum(axis=1), "ev_before_kw": st.ev_before_kw.sum(axis=1),
        "net_before_kw": before_net, "net_after_kw": after_net}))
    write_parquet(out / "areas.parquet", pd.DataFrame(
        [{"area": k + 1, "t": t, "p_target_kw": plan.area_p_kw[t, k]}
         for k in range(len(areas)) for t in range(t_n)]))
    if not args.no_plots:
        from environment.reporting import zonal_plots

        zonal_plots.plot_partition(out / "partition.png", st, label)
        zonal_plots.plot_zonal_stack(out / "zonal_stack.png", st, scenario.horizon.axis)
        zonal_plots.plot_area_loads(out / "area_loads.png", st, scenario.horizon.axis)
    ac = summary["ac"]
    lim = scenario.grid
    valid = bool(np.nanmin(st.ac_after.vm_pu) >= lim.v_min_pu - AC_TOL_PU
                 and np.nanmax(st.ac_after.vm_pu) <= lim.v_max_pu + AC_TOL_PU
                 and st.ac_after.converged.all())
    summary["valid"] = valid
    write_json(out / "summary.json", summary)
    lead = "" if valid else "PHYSICALLY INVALID (the plan violates voltage in AC) — "
    print(f"{lead}zonal: {len(areas)} areas (modularity {st.scores.modularity:.3f}); total cost "
          f"{before['total']:,.0f} before -> {plan.cost:,.0f} after (purchase "
          f"{before['purchase']:,.0f} -> {plan.purchase:,.0f}, diesel {plan.diesel:,.0f}, "
          f"curtailment {before['curtailment']:,.0f} -> {max(plan.curtailment, 0.0):,.0f}, carbon "
          f"{before['carbon']:,.0f} -> {plan.carbon:,.0f}); peak {peak_b:,.0f} -> "
          f"{peak_a:,.0f} kW ({summary['peak_shaving_pct']:+.1f} % shaved); AC v_min "
          f"{ac['v_min_before_pu']:.4f} before, {ac['v_min_after_pu']:.4f} after "
          f"(limit {ac['v_min_limit_pu']}) -> {shown_folder(args, out)}")
    return 0 if valid else 3
