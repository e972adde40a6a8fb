"""Publication-style PNG figures of the station layer (paper Figures 4, 6–9 and Table 1 form)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from environment.reporting.style import (
    STYLE,
    clock_axis,
    figure_legend,
    legend_outside,
    pad_ylim,
)
from flexibility.aggregation import Envelope
from flexibility.metrics import EnvelopeMetrics
from flexibility.stations import PerStation
from scenarios.behaviour import LABELS, SpearmanRow
from scenarios.timeaxis import TimeAxis


def plot_station_envelopes(path: Path, da: PerStation[Envelope],
                           rt: dict[str, PerStation[Envelope]], axis: TimeAxis,
                           da_label: str) -> None:
    """DA envelope of every station and the total, with RT envelopes at the observation times."""
    names = [label for label, _ in da.labelled()]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(names), 1, figsize=(7.5, 1.9 * len(names) + 0.6),
                                 sharex=True)
        axes = np.atleast_1d(axes)
        colors = plt.cm.viridis(np.linspace(0.1, 0.85, max(1, len(rt))))
        for ax, name in zip(axes, names, strict=True):
            env = da.by_label(name)
            x = axis.edges_h(env.t0, env.n_intervals)
            ax.stairs(env.p_ch_max_kw, x, baseline=0, fill=True, color="tab:blue", alpha=0.25,
                      label=f"DA charging ({da_label})")
            ax.stairs(-env.p_dis_max_kw, x, baseline=0, fill=True, color="tab:red", alpha=0.25,
                      label=f"DA discharging ({da_label})")
            for (kind, per), c in zip(rt.items(), colors, strict=True):
                r = per.by_label(name)
                xr = axis.edges_h(r.t0, r.n_intervals)
                ax.stairs(r.p_ch_max_kw, xr, color=c, lw=1.1, label=kind.replace("rt@", "RT @ "))
                ax.stairs(-r.p_dis_max_kw, xr, color=c, lw=1.1, ls="--")
            ax.axhline(0, color="k", lw=0.6)
            ax.set_ylabel(f"{name}\npower (kW)")
            pad_ylim(ax)
        clock_axis(axes[-1])
        legend_outside(axes[0])
        axes[0].set_title("Station-layer envelopes: charging (+) and discharging (−) capability;"
                          " RT over the remaining horizon", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_alpha_sensitivity(path: Path, envelopes: dict[float, Envelope],
                           metrics: list[tuple[float, EnvelopeMetrics]], axis: TimeAxis) -> None:
    """Inner envelopes and their metrics for several confidence levels (paper Figures 8–9)."""
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.9), width_ratios=[1.6, 1],
                                     layout="constrained")
        # distinct hues, and the lower α drawn wider underneath: where two levels give the
        # same envelope, both stay visible (a narrow line inside a wide one)
        n = len(envelopes)
        colors = [plt.get_cmap("tab10")((0, 1, 2, 3, 5, 6, 8, 9)[i % 8]) for i in range(n)]
        widths = np.linspace(3.2, 1.0, n) if n > 1 else np.array([1.4])
        for i, ((alpha, env), c) in enumerate(zip(sorted(envelopes.items()), colors,
                                                  strict=True)):
            x = axis.edges_h(env.t0, env.n_intervals)
            ax.stairs(env.p_ch_max_kw, x, color=c, lw=widths[i], baseline=None, zorder=2 + i,
                      label=f"α = {alpha:.2f}")
            ax.stairs(-env.p_dis_max_kw, x, color=c, lw=widths[i], ls="--", baseline=None,
                      zorder=2 + i)
        ax.axhline(0, color="k", lw=0.6)
        clock_axis(ax)
        pad_ylim(ax)
        ax.set_ylabel("total power capability (kW)")
        ax.set_title("Inner envelope of all stations vs α (solid: charging, dashed: discharging)",
                     fontsize=9)
        alphas = [a for a, _ in metrics]
        # metric colours apart from the α colours of the left panel
        bx.plot(alphas, [m.peak_ch_kw for _, m in metrics], "o-", color="k",
                label="peak charging (kW)")
        bx.plot(alphas, [m.peak_dis_kw for _, m in metrics], "s--", color="0.5",
                label="peak discharging (kW)")
        bx.set_xlabel("confidence level α")
        bx.set_ylabel("peak (kW)")
        cx = bx.twinx()
        cx.plot(alphas, [m.area_kwh for _, m in metrics], "^-", color="tab:purple",
                label="area (kWh, right)")
        cx.set_ylabel("envelope area (kWh)")
        cx.grid(False)
        pad_ylim(bx, values=[[0.0], *(ln.get_ydata() for ln in bx.lines)])
        pad_ylim(cx, values=[[0.0], *(ln.get_ydata() for ln in cx.lines)])  # from zero
        bx.set_title("Metrics shrink as α grows", fontsize=9)
        figure_legend(fig, (ax, bx, cx), loc="outside lower center", ncol=7)
        fig.savefig(path)
        plt.close(fig)


def plot_spearman_table(path: Path, rows: list[SpearmanRow], n_generated: int) -> None:
    """Empirical vs copula-generated Spearman correlations as a table (paper Table 1 form)."""
    cells = [[f"{LABELS[a]} vs {LABELS[b]}", f"{r.empirical:+.4f}", f"{r.generated:+.4f}",
              f"{r.gap:.4f}", "yes" if r.fitted else "derived"]
             for r in rows for a, b in [r.pair]]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8.4, 0.3 * len(rows) + 0.8))
        ax.axis("off")
        table = ax.table(cellText=cells, colLabels=["Variable pair", "Empirical",
                                                    f"Generated (n = {n_generated})",
                                                    "Absolute gap", "Copula variable"],
                         loc="center", cellLoc="center",
                         colWidths=[0.34, 0.12, 0.24, 0.14, 0.16])
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        table.scale(1, 1.5)
        ax.set_title("Spearman rank correlation: data vs Gaussian-copula sample", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_exclusivity(path: Path, relaxed: Envelope, milp: Envelope, n_ev_shown: int,
                     table: list[dict], axis: TimeAxis) -> None:
    """Relaxed vs exclusive (MILP) envelopes and the scaling table (paper Figures 6–7)."""
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.9), width_ratios=[1.6, 1],
                                     layout="constrained")
        x = axis.edges_h(relaxed.t0, relaxed.n_intervals)
        ax.stairs(relaxed.p_ch_max_kw, x, color="tab:blue", lw=2.2, alpha=0.5,
                  label="convex relaxation")
        ax.stairs(-relaxed.p_dis_max_kw, x, color="tab:blue", lw=2.2, alpha=0.5)
        ax.stairs(milp.p_ch_max_kw, x, color="k", lw=0.9, ls="--", label="MILP (exclusive)")
        ax.stairs(-milp.p_dis_max_kw, x, color="k", lw=0.9, ls="--")
        ax.axhline(0, color="k", lw=0.6)
        clock_axis(ax)
        pad_ylim(ax)
        ax.set_ylabel("power capability (kW)")
        ax.set_title(f"One station, nEV = {n_ev_shown}: relaxed vs exclusive inner envelope",
                     fontsize=9)
        n = [r["n_ev"] for r in table]
        bx.plot(n, [r["apd_area_pct"] for r in table], "o-", label="area APD (%)")
        bx.set_xlabel("vehicles per day (nEV)")
        bx.set_ylabel("area APD (%)")
        cx = bx.twinx()
        cx.plot(n, [r["runtime_ratio"] for r in table], "s-", color="tab:orange",
                label="MILP / relaxed runtime (right)")
        cx.set_ylabel("runtime ratio (×)")
        cx.grid(False)
        pad_ylim(bx)
        pad_ylim(cx)
        bx.set_title("Relaxation error and cost vs fleet size", fontsize=9)
        figure_legend(fig, (ax, bx, cx), loc="outside lower center", ncol=4)
        fig.savefig(path)
        plt.close(fig)
