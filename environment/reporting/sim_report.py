"""Validation metrics, summary and figures of a co-simulated day (``run_sim.py simulate``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from environment.reporting.style import (
    STYLE,
    clock_axis,
    integer_axis,
    legend_outside,
    pad_ylim,
)
from flexibility.stations import TOTAL_LABEL
from scenarios.timeaxis import TimeAxis


def _hours(a: pd.DataFrame, axis: TimeAxis) -> np.ndarray:
    t = (axis.start_min + a.time_min.to_numpy()) / 60.0
    step = (t[1] - t[0]) if len(t) > 1 else 0.25
    return np.r_[t, t[-1] + step]


def plot_boundary_and_calls(path: Path, ticks: pd.DataFrame, axis: TimeAxis, policy: str) -> None:
    """Published RT boundary, distribution limits, calls, delivery and the invalid ticks.

    The distribution layer's maximum and minimum are dashed lines; ticks with an AC violation
    at the realised point are marked at the top of the axes (red triangles), grid-infeasible
    ticks (must-charge load the network cannot carry) are shaded. Under a ``reserve-*``
    policy the declared baseline (purple line) and the reserve's power rows around it (purple
    dotted) show what the TSO called on.
    """
    a = ticks[ticks.station == TOTAL_LABEL].sort_values("t")
    x = _hours(a, axis)
    mid = 0.5 * (x[1:] + x[:-1])
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 4.6), layout="constrained")
        infeasible = a.grid_infeasible.to_numpy(bool) if "grid_infeasible" in a \
            else np.zeros(len(a), dtype=bool)
        for i in np.flatnonzero(infeasible):
            ax.axvspan(x[i], x[i + 1], color="tab:orange", alpha=0.18, lw=0,
                       label="grid-infeasible tick" if i == np.flatnonzero(infeasible)[0]
                       else None)
        ax.stairs(a.p_up_kw, x, baseline=a.p_down_kw.to_numpy(), fill=True, color="tab:green",
                  alpha=0.3, label="published RT boundary [P_down, P_up]")
        ax.stairs(a.dist_p_max_kw, x, color="tab:blue", lw=1.0, ls="--", baseline=None,
                  label="distribution max / min")
        ax.stairs(a.dist_p_min_kw, x, color="tab:blue", lw=1.0, ls="--", baseline=None)
        if policy.startswith("reserve-") and "baseline_kw" in a:
            ax.stairs(a.baseline_kw, x, color="tab:purple", lw=1.0, baseline=None,
                      label="declared baseline")
            ax.stairs(a.reserve_p_up_kw, x, color="tab:purple", lw=0.8, ls=":", baseline=None,
                      label="baseline ± reserve rows")
            ax.stairs(a.reserve_p_down_kw, x, color="tab:purple", lw=0.8, ls=":", baseline=None)
        ax.stairs(a.delivered_kw, x, color="k", lw=1.2, baseline=None, label="delivered")
        bad = ~a.delivered_ok.to_numpy()
        ax.plot(mid, a.call_kw, "o", ms=2.5, color="tab:red", label=f"call ({policy})")
        if bad.any():
            ax.plot(mid[bad], a.call_kw.to_numpy()[bad], "x", ms=6, color="tab:red",
                    label="not delivered")
        viol = (a.ac_violation.fillna("") != "").to_numpy()
        if viol.any():
            ax.plot(mid[viol], np.full(viol.sum(), 0.97), "v", ms=5, color="tab:red",
                    transform=ax.get_xaxis_transform(), clip_on=False,
                    label="AC violation at the realised point")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("aggregate net power (kW)")
        clock_axis(ax)
        # room above the data for the AC-violation markers drawn at 97 % of the height
        pad_ylim(ax, top_frac=0.14 if viol.any() else 0.06)
        fig.legend(fontsize=6.5, loc="outside lower center", ncol=4, framealpha=0.9)
        n_v, n_i = int(viol.sum()), int(infeasible.sum())
        verdict = (f" — INVALID: {n_v} AC-violation ticks, {n_i} grid-infeasible"
                   if n_v or n_i else " — physically valid")
        ax.set_title("Rolling real-time validation: boundary, calls and delivery" + verdict,
                     fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_voltage_heatmap(path: Path, network: pd.DataFrame, axis: TimeAxis,
                         v_min_pu: float, v_max_pu: float = 1.05) -> None:
    """Bus voltage at the realised operating point, bus x time, anchored at the limits.

    A diverging colormap spans exactly ``[v_min, v_max]`` (centred on their midpoint). Voltages
    outside are outlined (yellow) and shaded by how far they lie beyond the limit, on a scale
    of their own (greys to black below ``v_min``, pinks to purple above ``v_max``), so the
    severity of a violation stays readable.
    """
    from matplotlib import colors

    piv = network.pivot(index="bus", columns="t", values="vm_pu")
    z = piv.to_numpy(dtype=float)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8.2, 3.6), layout="constrained")
        t0 = float(axis.hours(0))
        t1 = t0 + piv.shape[1] * axis.dt_h
        extent = (t0, t1, -0.5, piv.shape[0] - 0.5)
        cmap = plt.get_cmap("RdBu").with_extremes(under="black", over="purple", bad="0.5")
        norm = colors.TwoSlopeNorm(vcenter=0.5 * (v_min_pu + v_max_pu), vmin=v_min_pu,
                                   vmax=v_max_pu)
        im = ax.imshow(z, aspect="auto", origin="lower", cmap=cmap, norm=norm,
                       interpolation="nearest", extent=extent)
        ax.grid(False)
        cb = fig.colorbar(im, ax=ax, extend="both")
        ticks = [float(v) for v in np.linspace(v_min_pu, v_max_pu, 5)]
        cb.set_ticks(ticks, labels=[f"{v:.3f}" for v in ticks])
        cb.set_label(f"voltage (p.u.); ends = limits {v_min_pu:g} / {v_max_pu:g}", fontsize=8)
        with np.errstate(invalid="ignore"):
            depth = {"below": np.where(z < v_min_pu, v_min_pu - z, np.nan),
                     "above": np.where(z > v_max_pu, z - v_max_pu, np.nan)}
        shades = {"below": ("0.6", "black"), "above": ("plum", "purple")}
        for side, d in depth.items():
            if not np.isfinite(d).any():
                continue
            top = max(float(np.nanmax(d)), 1e-4)
            sev = ax.imshow(np.ma.masked_invalid(d), aspect="auto", origin="lower",
                            cmap=colors.LinearSegmentedColormap.from_list(side, shades[side]),
                            norm=colors.Normalize(0.0, top), interpolation="nearest",
                            extent=extent)
            scb = fig.colorbar(sev, ax=ax, pad=0.01)
            scb.set_label(f"{side} the limit by (p.u.)", fontsize=8)
            scb.ax.tick_params(labelsize=7)
        outside = np.isfinite(depth["below"]) | np.isfinite(depth["above"])
        n_out = int(outside.sum())
        if n_out and piv.shape[1] > 1 and piv.shape[0] > 1:
            xc = t0 + axis.dt_h * (np.arange(piv.shape[1]) + 0.5)
            ax.contour(xc, np.arange(piv.shape[0]), outside.astype(float), levels=[0.5],
                       colors="yellow", linewidths=0.9)
        ax.set_ylabel("bus (pandapower index)")
        clock_axis(ax)
        note = (f"{n_out} bus-ticks outside [{v_min_pu}, {v_max_pu}] p.u. (outlined, shaded "
                "by depth)" if n_out else f"all voltages within [{v_min_pu}, {v_max_pu}] p.u.")
        ax.set_title(f"Bus voltages at the realised operating point — {note}", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_da_vs_rt(path: Path, ticks: pd.DataFrame, axis: TimeAxis) -> None:
    """DA boundary vs the RT boundary published at each tick (paper Figure 4 form)."""
    a = ticks[ticks.station == TOTAL_LABEL].sort_values("t")
    x = _hours(a, axis)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        # the outline keeps a band of zero width (DA P_down = P_up) visible as a line
        ax.stairs(a.da_p_up_kw, x, baseline=a.da_p_down_kw.to_numpy(), fill=True,
                  facecolor=(0.6, 0.6, 0.6, 0.35), edgecolor="0.35", lw=0.7,
                  label="DA boundary (a line where P_down = P_up)")
        ax.stairs(a.p_up_kw, x, color="tab:green", lw=1.2, baseline=None, label="RT P_up")
        ax.stairs(a.p_down_kw, x, color="tab:green", lw=1.2, ls="--", baseline=None,
                  label="RT P_down")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("net power (kW)")
        clock_axis(ax)
        pad_ylim(ax)
        legend_outside(ax)
        ax.set_title("Transmission boundary: day-ahead vs real-time (published each tick)",
                     fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_occupancy(path: Path, ticks: pd.DataFrame, axis: TimeAxis) -> None:
    """Connected EVs and queue per station (integer counts; an all-zero queue is annotated)."""
    per = ticks[ticks.station != TOTAL_LABEL]
    names = list(dict.fromkeys(per.station))
    any_queue = bool((per.queue.fillna(0) > 0).any()) if "queue" in per else False
    with plt.rc_context(STYLE):
        fig, (a, b) = plt.subplots(2, 1, figsize=(7.5, 4.2), sharex=True,
                                   gridspec_kw={"height_ratios": [2, 1] if any_queue else [3, 1]})
        for name in names:
            s = per[per.station == name].sort_values("t")
            x = _hours(s, axis)
            a.stairs(s.connected, x, lw=1.1, baseline=None, label=name)
            if any_queue:
                b.stairs(s.queue, x, lw=1.1, baseline=None, label=name)
        a.set_ylabel("plugged-in EVs")
        integer_axis(a)
        pad_ylim(a)
        b.set_ylabel("EVs queued")
        if any_queue:
            integer_axis(b)
            pad_ylim(b)
        else:
            b.set_yticks([])
            b.grid(False)
            b.text(0.5, 0.5, "no queue: every arriving EV found a free charger (queue = 0 all "
                   "day)", transform=b.transAxes, ha="center", va="center", fontsize=8,
                   color="0.3")
        clock_axis(b)
        legend_outside(a)
        a.set_title("Station occupancy and queues", fontsize=9)
        fig.savefig(path)
        plt.close(fig)
