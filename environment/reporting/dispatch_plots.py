"""Figures of ``run_sim.py dispatch``: stack, reserves, risk allocation, cost and reliability."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from dispatch.da_rows import FAMILIES
from environment.reporting.style import (
    CURRENCY,
    STYLE,
    clock_axis,
    legend_outside,
    pad_ylim,
    share_limits,
)
from scenarios.timeaxis import TimeAxis

WARN = "#b2182b"
FAMILY_COLOURS = {"voltage": "tab:blue", "thermal": "tab:orange", "substation": "tab:green",
                  "reserve": "tab:purple"}
METHOD_COLOURS = {"oba": "tab:blue", "bonferroni": "tab:orange", "so": "tab:red",
                  "ro": "tab:green", "oba-rows": "tab:cyan", "bonferroni-rows": "tab:brown",
                  "oba-directions": "tab:cyan", "bonferroni-directions": "tab:brown"}


def plot_all(out: Path, study, axis: TimeAxis, eps: float, summary=None) -> None:
    """Every figure of a study (the first method's dispatch; all methods where compared);
    ``summary`` (``DispatchSummary``) gives the Wilson intervals drawn as error bars."""
    main = next(iter(study.variants))
    with plt.rc_context(STYLE):
        if study.variants[main].sol.feasible:
            plot_stack(out / "dispatch_stack.png", study, main, axis)
            plot_reserves(out / "reserves.png", study, main, axis)
        plot_risk(out / "risk_allocation.png", study, axis, eps)
        if len(study.variants) > 1:
            plot_cost_reliability(out / "cost_reliability.png", study, eps, summary)


def _edges(axis: TimeAxis, n: int) -> np.ndarray:
    return axis.edges_h(0, n)


def plot_stack(path: Path, study, method: str, axis: TimeAxis) -> None:
    """Supply stack against demand, with the import price; below, the aggregators' schedule.

    The stack is the substation import and the generators, the demand the background, the
    forecast feeder losses and the
    EVs; the aggregators' schedule is drawn inside their packaged boundary.
    """
    sol, case = study.variants[method].sol, study.day.case
    inst = case.inst
    t_n = inst.shape[0]
    x = _edges(axis, t_n)
    bg = inst.p_bg_kw.sum(axis=1)
    loss = np.zeros(t_n) if inst.loss_kw is None else np.asarray(inst.loss_kw)
    ev = sol.p_ev_kw.sum(axis=1)
    gen = sol.g_kw
    imp = bg + loss + ev - gen.sum(axis=1)  # the model's substation exchange
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8.0, 6.0), sharex=True,
                                  gridspec_kw={"height_ratios": [2, 1]})
    base = np.zeros(t_n)
    layers = [(name, gen[:, k], c) for k, (name, c) in
              enumerate(zip(case.gen_names, ("tab:brown", "tab:olive", "tab:pink", "tab:cyan"),
                            strict=False))] + [("substation import", np.maximum(imp, 0.0), "0.6")]
    exp = np.where(imp < -1e-6, imp, 0.0)  # below the LP's tolerance is no export
    if (exp < 0).any():
        ax.fill_between(x, 0.0, np.r_[exp, exp[-1]], step="post", color="tab:cyan", alpha=0.5,
                        label="export to the grid above", linewidth=0)
    for name, v, c in layers:
        ax.fill_between(x, np.r_[base, base[-1]], np.r_[base + v, (base + v)[-1]], step="post",
                        color=c, alpha=0.6, label=name, linewidth=0)
        base = base + v
    ax.axhline(0.0, color="k", linewidth=0.6)
    ax.stairs(bg + loss + ev, x, color="k", linewidth=1.6, baseline=None, zorder=3,
              label="demand: background + losses + EVs")
    # the forecast is drawn over the demand line in a colour of its own: where the EVs add
    # little the two coincide, and a dotted black line on the black one vanished
    ax.stairs(bg, x, color="tab:blue", linestyle=(0, (2, 1.5)), linewidth=1.2, baseline=None,
              zorder=4, label="background (forecast)")
    ax.set_ylabel("power (kW)")
    ax.set_title(f"Day-ahead dispatch ({method}), cost {sol.cost:,.0f} {CURRENCY}")
    pad_ylim(ax)
    tw = ax.twinx()
    tw.stairs(inst.price_per_kwh, x, color="tab:red", linewidth=1.0, baseline=None,
              label="import price")
    tw.set_ylabel(f"import price ({CURRENCY}/kWh)", color="tab:red")
    pad_ylim(tw, values=[[0.0], inst.price_per_kwh])
    tw.grid(False)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = tw.get_legend_handles_labels()
    legend_outside(tw, h1 + h2, l1 + l2, bbox_to_anchor=(1.1, 1.0))
    lo, hi = inst.ev_p_min_kw.sum(axis=1), inst.ev_p_max_kw.sum(axis=1)
    ax2.fill_between(x, np.r_[lo, lo[-1]], np.r_[hi, hi[-1]], step="post", color="tab:blue",
                     alpha=0.2, label="packaged DA boundary (sum)")
    ax2.stairs(ev, x, color="tab:blue", linewidth=1.2, baseline=None,
               label="EV schedule (sum)")
    ax2.set_ylabel("EV aggregators (kW)")
    pad_ylim(ax2, values=[lo, hi])
    legend_outside(ax2, bbox_to_anchor=(1.1, 1.0))
    clock_axis(ax2)
    fig.savefig(path)
    plt.close(fig)


def plot_reserves(path: Path, study, method: str, axis: TimeAxis) -> None:
    """Up (above zero) and down (below) reserves per device, the error's s.d. for scale.

    Generators above, the EV aggregators below on a scale of their own (their reserves are
    small beside the generators'). A device without any reserve is named in its panel instead
    of a legend entry with nothing drawn.
    """
    sol, case = study.variants[method].sol, study.day.case
    t_n = case.inst.shape[0]
    x = _edges(axis, t_n)
    names = [*case.gen_names, *case.station_names]
    n_gen = len(case.gen_names)
    colours = plt.get_cmap("tab10")(np.arange(len(names)) % 10)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8.0, 5.6), sharex=True,
                                  gridspec_kw={"height_ratios": [2, 1]})
    sd = np.sqrt(case.inst.cov[:, 0, 0] + case.inst.cov[:, 1, 1])
    for panel, devices, who in ((ax, range(n_gen), "generators"),
                                (ax2, range(n_gen, len(names)), "EV aggregators")):
        up0, dn0 = np.zeros(t_n), np.zeros(t_n)
        none = []
        for d in devices:
            up, dn = sol.r_up_kw[:, d], sol.r_dn_kw[:, d]
            if not (np.abs(up).max(initial=0.0) > 0 or np.abs(dn).max(initial=0.0) > 0):
                none.append(names[d])
                continue
            panel.fill_between(x, np.r_[up0, up0[-1]], np.r_[up0 + up, (up0 + up)[-1]],
                               step="post", color=colours[d], alpha=0.7, label=names[d],
                               linewidth=0)
            panel.fill_between(x, np.r_[-dn0, -dn0[-1]], np.r_[-dn0 - dn, (-dn0 - dn)[-1]],
                               step="post", color=colours[d], alpha=0.7, linewidth=0)
            up0, dn0 = up0 + up, dn0 + dn
        panel.axhline(0.0, color="k", linewidth=0.6)
        if none:
            panel.text(0.01, 0.97, f"no reserve from {', '.join(none)}", fontsize=7,
                       color="0.3", transform=panel.transAxes, va="top")
        panel.set_ylabel(f"{who} (kW)")
        pad_ylim(panel, values=[up0, -dn0, [0.0]], top_frac=0.14 if none else 0.06)
        if panel.get_legend_handles_labels()[0]:
            legend_outside(panel)
    ax.stairs(sd, x, color="k", linestyle="--", baseline=None, label="error s.d. (net + EV)")
    ax.stairs(-sd, x, color="k", linestyle="--", baseline=None)
    pad_ylim(ax)
    legend_outside(ax)
    ax.set_title(f"Procured reserves ({method}; up above zero, down below), reserve cost "
                 f"{sol.reserve_cost:,.0f} {CURRENCY}")
    clock_axis(ax2)
    fig.savefig(path)
    plt.close(fig)


def plot_risk(path: Path, study, axis: TimeAxis, eps: float) -> None:
    """Risk allocated per constraint family and interval.

    One panel per method that allocates risk (``oba``, ``bonferroni``); a family without any
    risk is named in the panel instead of a legend entry with nothing drawn.
    """
    methods = [m for m, v in study.variants.items()
               if v.sol.feasible and not np.all(np.isnan(v.sol.eps_family))]
    missing = [m for m in ("oba", "bonferroni") if m in study.variants and m not in methods]
    n = max(len(methods), 1)
    fig, axes = plt.subplots(n, 1, figsize=(8.0, 2.8 * n + 0.4), sharex=True, squeeze=False,
                             layout="constrained")
    t_n = study.day.case.inst.shape[0]
    x = _edges(axis, t_n)
    for ax, m in zip(axes[:, 0], methods, strict=False):
        e = study.variants[m].sol.eps_family
        base = np.zeros(t_n)
        none = []
        for i, f in enumerate(FAMILIES):
            if not np.nanmax(e[:, i], initial=0.0) > 0:
                none.append(f)  # named below, not a legend entry with nothing drawn
                continue
            ax.fill_between(x, np.r_[base, base[-1]], np.r_[base + e[:, i], (base + e[:, i])[-1]],
                            step="post", color=FAMILY_COLOURS[f], alpha=0.7, label=f,
                            linewidth=0)
            base = base + e[:, i]
        if none:
            ax.text(0.01, 0.97, f"no risk allocated to: {', '.join(none)}", fontsize=7,
                    color="0.3", transform=ax.transAxes, va="top")
        ax.axhline(eps, color="k", linestyle="--", linewidth=0.8, label=f"budget eps = {eps:g}")
        ax.set_ylabel("risk per interval")
        ax.set_title(f"{m}: joint risk allocated to each constraint family")
        ax.set_ylim(0.0, eps * 1.15)
        legend_outside(ax)
    if not methods:
        axes[0, 0].text(0.5, 0.5, "no feasible risk-allocating method", ha="center",
                        transform=axes[0, 0].transAxes)
    if missing:
        fig.suptitle(f"INFEASIBLE: {', '.join(missing)} (no dispatch holds every row)",
                     color=WARN, fontweight="bold")
    clock_axis(axes[-1, 0])
    fig.savefig(path)
    plt.close(fig)


def plot_cost_reliability(path: Path, study, eps: float, summary=None) -> None:
    """Cost against the out-of-sample reliability of every feasible method.

    Reliability is the share of replay days without a violation and the worst interval's
    violation rate.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.8), layout="constrained")
    points = [(m, v.sol.cost, v.day_ok, float(np.nanmax(v.interval_rate)))
              for m, v in study.variants.items() if v.sol.feasible]
    ax1.set_ylabel("share of replay days without violation")
    ax2.set_ylabel("worst interval: joint violation rate")
    share_limits(ax1, [p[2] for p in points] + [0.0, 1.0])
    highs = [] if summary is None else [
        summary.variants[m].worst_interval_violation_ci[1] for m, *_ in points
        if summary.variants.get(m) is not None
        and summary.variants[m].worst_interval_violation_ci is not None]
    share_limits(ax2, [p[3] for p in points] + [eps, 0.0] + highs)
    costs = [p[1] for p in points]
    for ax in (ax1, ax2):
        ax.set_xlabel(f"day-ahead cost ({CURRENCY})")
        if costs:  # room for the labels beside the extreme points
            lo, hi = min(costs), max(costs)
            span = max(hi - lo, 0.05 * max(abs(hi), 1.0))
            ax.set_xlim(lo - 0.08 * span, hi + 0.08 * span)
    for m, cost, share, worst in points:
        c = METHOD_COLOURS.get(m, "k")
        v = None if summary is None else summary.variants.get(m)
        cis = (None, None) if v is None else (v.days_without_violation_ci,
                                              v.worst_interval_violation_ci)
        for ax, y, ci in ((ax1, share, cis[0]), (ax2, worst, cis[1])):
            if np.isfinite(y):
                ax.scatter(cost, y, color=c, s=40, label=m)
                if ci is not None:  # the 95 % Wilson interval over the replay days
                    ax.errorbar(cost, y, yerr=[[y - ci[0]], [ci[1] - y]], color=c,
                                capsize=3, linewidth=1)
                _label_point(ax, m, cost, y)
    ax2.axhline(eps, color="k", linestyle="--", linewidth=0.8, label=f"target eps = {eps:g}")
    infeasible = [m for m, v in study.variants.items() if not v.sol.feasible]
    title = ("Cost against held-out reliability (AC replay"
             + (", 95 % Wilson)" if summary is not None else ")"))
    if infeasible:
        title += f"\nINFEASIBLE: {', '.join(infeasible)}"
    fig.suptitle(title, color=WARN if infeasible else "k")
    fig.legend(*ax2.get_legend_handles_labels(), loc="outside right upper", fontsize=7)
    fig.savefig(path)
    plt.close(fig)


def _label_point(ax, text: str, x: float, y: float) -> None:
    """Name a point beside it, on the sides that keep the label inside the axes' frame."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    right = x > x0 + 0.6 * (x1 - x0)
    top = y > y0 + 0.8 * (y1 - y0)
    ax.annotate(text, (x, y), textcoords="offset points",
                xytext=(-6 if right else 6, -5 if top else 4), ha="right" if right else "left",
                va="top" if top else "bottom", fontsize=8)


def plot_mc_cost_reliability(path: Path, table, keys: list[str]) -> None:
    """Monte Carlo of dispatched days: realised cost against reliability (95 % CIs).

    Reliability is the share of replicate days without a joint violation; one point per sweep
    point.
    """
    import pandas as pd

    t: pd.DataFrame = table
    with plt.rc_context(STYLE):
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.8))
        notes, labels = [], []
        for _, row in t.iterrows():
            label = ", ".join(str(row[k]) for k in keys)
            feas = row.get("dispatch_feasible_mean", 1.0)
            if feas < 1.0:
                notes.append(f"{label.removeprefix('dispatch:')}: no dispatch on "
                             f"{1.0 - feas:.0%} of days (counted as violated)")
            if not np.isfinite(row["dispatch_cost_realised_mean"]):
                continue
            colour = METHOD_COLOURS.get(str(row[keys[0]]).removeprefix("dispatch:"), "k")
            x = row["dispatch_cost_realised_mean"]
            for ax, m in ((ax1, "dispatch_joint_ok"), (ax2, "dispatch_interval_violation_rate")):
                y = row[f"{m}_mean"]
                lo_ci, hi_ci = row[f"{m}_ci_low"], row[f"{m}_ci_high"]
                err = [[y - max(lo_ci, 0.0)], [min(hi_ci, 1.0) - y]]  # shares: CI inside [0, 1]
                ax.errorbar([x], [y], yerr=np.maximum(np.nan_to_num(err), 0.0), marker="o",
                            capsize=3, color=colour, label=label)
                labels.append((ax, label.removeprefix("dispatch:"), x, y))
        ax1.set_ylabel("share of days without joint violation")
        ax2.set_ylabel("violated ticks / ticks")
        for ax in (ax1, ax2):
            ax.set_xlabel(f"realised cost of the day (mean, {CURRENCY})")
        share_limits(ax1, [0.0, 1.0])
        rate = "dispatch_interval_violation_rate"
        share_limits(ax2, [*t[f"{rate}_mean"], *t[f"{rate}_ci_high"].clip(upper=1.0), 0.0])
        for ax, text, x, y in labels:  # once the limits are final
            _label_point(ax, text, x, y)
        n = int(t["replicates"].min()) if "replicates" in t else 0
        title = ("Co-simulated dispatch: cost against reliability (AC at the realised point, "
                 f"reserves; {n} days per point)")
        if notes:
            title += "\n" + "; ".join(notes)
        fig.suptitle(title, color=WARN if notes else "k", fontsize=9)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
