"""PNG figures of the three-layer assessment (paper Figures 2, 3, 4, 5, 10, 11, 12, 14 in form)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from environment.assessment.grid import GridLayerResult
from environment.assessment.grid_tables import boundary_metrics
from environment.assessment.station import StationLayerResult
from environment.reporting.style import (
    STYLE,
    clock_axis,
    clock_label,
    figure_legend,
    integer_axis,
    legend_outside,
    pad_ylim,
)
from flexibility.metrics import envelope_metrics
from grid.clipping import clipping_rate
from grid.pq import PQ_BINDING
from scenarios.timeaxis import TimeAxis

LAYER_COLORS = {"station": "tab:blue", "distribution": "tab:orange", "transmission": "tab:green"}


def _hours_axis(ax, axis: TimeAxis) -> None:
    """HH:MM ticks on a time axis in hours of the day (``axis`` kept for the call sites)."""
    clock_axis(ax)


def plot_three_layers(path: Path, st: StationLayerResult, gr: GridLayerResult,
                      axis: TimeAxis) -> None:
    """Figure 2: the three DA envelopes of the total (charging +, discharging −)."""
    s, d, b = st.da.total, gr.da.distribution.total, gr.da.transmission.total
    x = axis.edges_h(0, s.n_intervals)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        for name, up, down in (("station", s.p_ch_max_kw, s.p_dis_max_kw),
                               ("distribution", d.p_ch_max_kw, d.p_dis_max_kw),
                               ("transmission", np.maximum(b.p_up_kw, 0),
                                np.maximum(-b.p_down_kw, 0))):
            c = LAYER_COLORS[name]
            ax.stairs(up, x, color=c, lw=1.4, label=f"{name} layer")
            ax.stairs(-down, x, color=c, lw=1.4)
            ax.stairs(up, x, baseline=-down, fill=True, color=c, alpha=0.10)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel("aggregate power (kW)\ncharging (+) / discharging (−)")
        _hours_axis(ax, axis)
        pad_ylim(ax)
        legend_outside(ax, fontsize=8)
        ax.set_title("Three-layer DA envelopes: station → distribution (LinDistFlow + AC) → "
                     "transmission (deliverable)", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_clipping_rates(path: Path, st: StationLayerResult, gr: GridLayerResult,
                        axis: TimeAxis) -> None:
    """Figure 3: distribution-layer clipping rate per interval, both sides, max annotated."""
    s, d = st.da.total, gr.da.distribution.total
    x = axis.edges_h(0, s.n_intervals)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.2))
        for label, raw, eff, c in (("charging side", s.p_ch_max_kw, d.p_ch_max_kw, "tab:blue"),
                                   ("discharging side", s.p_dis_max_kw, d.p_dis_max_kw,
                                    "tab:red")):
            rate = 100 * np.nan_to_num(clipping_rate(raw, eff))
            ax.stairs(rate, x, color=c, lw=1.3, label=label)
            if rate.max() > 0:
                k = int(np.argmax(rate))
                ax.annotate(f"max {rate[k]:.1f} % at {clock_label(x[k])}",
                            (0.5 * (x[k] + x[k + 1]), rate[k]), textcoords="offset points",
                            xytext=(-60, 8), fontsize=7,
                            arrowprops={"arrowstyle": "->", "lw": 0.6}, color=c)
        ax.set_ylabel("clipping rate (%)")
        ax.set_ylim(-2, 105)
        _hours_axis(ax, axis)
        legend_outside(ax, fontsize=8)
        ax.set_title("Distribution-layer clipping rate 1 − P_eff / P_station", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_da_rt_transmission(path: Path, gr: GridLayerResult, axis: TimeAxis) -> None:
    """Figure 4: DA vs RT transmission boundaries of the total (RT over the remaining horizon)."""
    da = gr.da.transmission.total
    x = axis.edges_h(0, da.p_up_kw.size)
    colors = plt.cm.viridis(np.linspace(0.1, 0.85, max(1, len(gr.rt))))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        ax.stairs(da.p_up_kw, x, baseline=da.p_down_kw, fill=True, color="0.6", alpha=0.35,
                  label="DA boundary")
        for (kind, ls), c in zip(gr.rt.items(), colors, strict=True):
            b = ls.transmission.total
            xr = axis.edges_h(b.t0, b.p_up_kw.size)
            ax.stairs(b.p_up_kw, xr, color=c, lw=1.2, label=kind.replace("rt@", "RT @ "))
            ax.stairs(b.p_down_kw, xr, color=c, lw=1.2, ls="--")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel("net power (kW)\nP_up (solid) / P_down (dashed)")
        _hours_axis(ax, axis)
        pad_ylim(ax)
        legend_outside(ax)
        ax.set_title("Transmission-layer deliverable boundary: day-ahead vs real-time updates",
                     fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_layer_bars(path: Path, st: StationLayerResult, gr: GridLayerResult) -> None:
    """Figure 5: peaks (a) and area (b) per layer."""
    ms = [envelope_metrics(st.da.total), envelope_metrics(gr.da.distribution.total),
          boundary_metrics(gr.da.transmission.total)]
    names = list(LAYER_COLORS)
    with plt.rc_context(STYLE):
        fig, (a, b) = plt.subplots(1, 2, figsize=(7.5, 3.0), layout="constrained")
        w = 0.38
        idx = np.arange(3)
        a.bar(idx - w / 2, [m.peak_ch_kw for m in ms], w, label="peak charging", color="tab:blue")
        a.bar(idx + w / 2, [m.peak_dis_kw for m in ms], w, label="peak discharging",
              color="tab:red")
        a.set_xticks(idx, names)
        a.set_ylabel("kW")
        a.set_ylim(0, 1.15 * max(max(m.peak_ch_kw, m.peak_dis_kw) for m in ms) + 1e-9)
        a.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=2,
                 borderaxespad=0.0)
        a.set_title("(a) peak power", fontsize=9)
        b.bar(idx, [m.area_kwh for m in ms], 0.6, color=[LAYER_COLORS[n] for n in names])
        for i, m in enumerate(ms):
            b.text(i, m.area_kwh, f"{m.area_kwh:.0f}", ha="center", va="bottom", fontsize=7)
        b.set_xticks(idx, names)
        b.set_ylabel("kWh")
        b.set_ylim(0, 1.12 * max(m.area_kwh for m in ms) + 1e-9)
        b.set_title("(b) feasible-region area", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_ac_validation(path: Path, rows: pd.DataFrame, v_min_pu: float, axis: TimeAxis) -> None:
    """Figure 10: LinDistFlow vs AC charging boundary and min AC voltage, all intervals."""
    x = axis.edges_h(int(rows.t.iloc[0]), len(rows))
    with plt.rc_context(STYLE):
        fig, (a, b) = plt.subplots(2, 1, figsize=(7.5, 4.6), sharex=True,
                                   gridspec_kw={"height_ratios": [2, 1]})
        # station_kw is the sum of the stations' power boxes the distribution layer clips
        # (each station's largest charging power over the kept scenarios), not the station
        # layer's aggregate envelope of the three-layer figure
        a.stairs(rows.station_kw, x, color="tab:blue", lw=1.0, ls=":", baseline=None,
                 label="Σ station power boxes before clipping\n(not the station-layer "
                       "envelope)")
        a.stairs(rows.lindistflow_kw, x, color="tab:orange", lw=1.3, baseline=None,
                 label="LinDistFlow boundary")
        a.stairs(rows.ac_kw, x, color="k", lw=1.0, ls="--", baseline=None,
                 label="AC boundary (pandapower model)")
        a.set_ylabel("charging boundary (kW)")
        pad_ylim(a)
        legend_outside(a)
        a.set_title("LinDistFlow vs AC charging boundaries of the stations' total (uniform "
                    "direction)", fontsize=9)
        b.stairs(rows.min_vm_pu, x, color="tab:purple", lw=1.2, baseline=None,
                 label="min AC voltage at corner")
        vmin = float(np.nanmin(np.r_[rows.min_vm_pu, v_min_pu]))
        b.set_ylim(vmin - 0.01, max(1.0, float(np.nanmax(rows.min_vm_pu))) + 0.005)
        b.axhline(v_min_pu, color="tab:red", lw=0.8, ls="--", label=f"limit {v_min_pu:.2f} p.u.")
        b.set_ylabel("p.u.")
        legend_outside(b)
        _hours_axis(b, axis)
        fig.savefig(path)
        plt.close(fig)


def plot_pq_range(path: Path, gr: GridLayerResult, axis: TimeAxis) -> None:
    """Figure 11 (and 13): feasible aggregate P range per interval, min voltage, max loading."""
    p, q = gr.pq.ranges()
    T = p.shape[0]
    x = axis.edges_h(0, T)
    with plt.rc_context(STYLE):
        fig, (a, b) = plt.subplots(2, 1, figsize=(7.5, 4.6), sharex=True, layout="constrained",
                                   gridspec_kw={"height_ratios": [2, 1]})
        a.stairs(p[:, 1], x, baseline=p[:, 0], fill=True, facecolor=(0.17, 0.63, 0.17, 0.35),
                 edgecolor="tab:green", lw=0.6, label="feasible P_tot (AC-checked)")
        a.stairs(q[:, 1], x, color="tab:purple", lw=0.9, baseline=None, label="Q_tot max")
        a.stairs(q[:, 0], x, color="tab:purple", lw=0.9, ls="--", baseline=None,
                 label="Q_tot min")
        a.axhline(0, color="k", lw=0.6)
        a.set_ylabel("kW / kvar")
        pad_ylim(a)
        a.set_title("Daily feasible aggregate P–Q ranges of the stations", fontsize=9)
        b.stairs(gr.pq.vm_min_pu, x, color="tab:blue", lw=1.1, baseline=None,
                 label="min voltage (p.u., left)")
        vm = gr.pq.vm_min_pu
        b.set_ylim(float(np.nanmin(vm)) - 0.01, max(1.0, float(np.nanmax(vm))) + 0.005)
        b.set_ylabel("min V (p.u.)")
        b2 = b.twinx()
        b2.stairs(gr.pq.loading_max_pct, x, color="tab:brown", lw=1.1, baseline=None,
                  label="max loading (%, right)")
        b2.set_ylim(0, max(110.0, 1.06 * float(np.nanmax(gr.pq.loading_max_pct))))
        b2.set_ylabel("max loading (%)")
        b2.grid(False)
        _hours_axis(b, axis)
        figure_legend(fig, (a, b, b2), loc="outside lower center", ncol=3)
        fig.savefig(path)
        plt.close(fig)


def plot_pq_sets(path: Path, gr: GridLayerResult, times: list[str], all_times: list[str]) -> None:
    """Figure 12: projected P–Q polygons at representative times (LinDistFlow and AC)."""
    shown = [t for t in times if t in all_times]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(7.5, 2.8), squeeze=False,
                                 layout="constrained")
        for ax, tt in zip(axes[0], shown, strict=False):
            k = all_times.index(tt)
            pq = gr.pq
            close = np.r_[np.arange(pq.theta.size), 0]
            ax.fill(pq.p_kw[k, close], pq.q_kvar[k, close], color="tab:orange", alpha=0.25,
                    label="LinDistFlow")
            ax.plot(pq.p_ac_kw[k, close], pq.q_ac_kvar[k, close], "k.-", lw=0.8, ms=3,
                    label="AC-checked")
            ax.set_title(tt, fontsize=9)
            ax.set_xlabel("P_tot (kW)")
            ax.axhline(0, color="k", lw=0.4)
            ax.axvline(0, color="k", lw=0.4)
        axes[0][0].set_ylabel("Q_tot (kvar)")
        figure_legend(fig, axes[0][:1], loc="outside lower center", ncol=2)
        fig.suptitle("Projected P–Q feasible sets of the stations", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_binding(path: Path, gr: GridLayerResult, axis: TimeAxis) -> None:
    """Figure 14: dominant binding per interval and counts over all boundary points."""
    dom = gr.pq.dominant()
    T = len(dom)
    hours = axis.hours(np.arange(T) + 0.5)
    labels = list(PQ_BINDING)
    y = np.array([labels.index(d) for d in dom])
    counts = np.bincount(gr.pq.binding.ravel(), minlength=len(labels))
    colors = plt.cm.tab10(np.arange(len(labels)) % 10)
    with plt.rc_context(STYLE):
        fig, (a, b) = plt.subplots(1, 2, figsize=(7.5, 2.8), sharey=True,
                                   gridspec_kw={"width_ratios": [3, 1]})
        a.scatter(hours, y, c=colors[y], s=12)
        a.set_yticks(range(len(labels)), labels)
        a.set_ylim(-0.5, len(labels) - 0.5)
        _hours_axis(a, axis)
        a.set_title("Dominant binding per interval", fontsize=9)
        b.barh(np.arange(len(labels)), counts, height=0.6, color=colors)
        b.tick_params(axis="y", labelleft=False)
        b.set_xlim(0, 1.15 * max(int(counts.max()), 1))
        integer_axis(b, "x", nbins=3)
        b.set_xlabel("boundary points")
        b.set_title("Counts", fontsize=9)
        fig.savefig(path)
        plt.close(fig)
