"""Monte Carlo figures, the DA-vs-RT comparison and parameter sweeps."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from environment.experiments.montecarlo import ci95
from environment.reporting.style import (
    MIN_REPLICATES_FOR_BANDS,
    STYLE,
    clock_axis,
    figure_legend,
    integer_axis,
    is_share,
    metric_title,
    pad_ylim,
    share_limits,
)
from environment.validation import POWER_TOL_KW
from scenarios.timeaxis import TimeAxis

PERCENTILES = (5, 25, 50, 75, 95)
TOL_KW = POWER_TOL_KW
"""Power comparisons (RT below DA, a DA edge outside RT) count only beyond 1 W."""
PCT_FLOOR_KW = 1.0
"""Floor of the overstatement percentage's denominator (kW), see ``da_rt_tables``."""


def plot_sweep(path: Path, table: pd.DataFrame, keys: list[str], metrics: list[str]) -> None:
    """Metric means (with 95 % CI) against the first swept parameter."""
    x_key = keys[0]
    others = keys[1:]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(metrics), figsize=(3.3 * len(metrics), 3.0),
                                 squeeze=False, layout="constrained")
        groups = table.groupby(others) if others else [((), table)]
        for ax, m in zip(axes[0], metrics, strict=True):
            for name, g in groups:
                x = np.arange(len(g))
                y = g[f"{m}_mean"].to_numpy()
                err = np.vstack([y - g[f"{m}_ci_low"], g[f"{m}_ci_high"] - y])
                label = ", ".join(f"{k}={v}" for k, v in zip(others, np.atleast_1d(name),
                                                             strict=False)) or "mean"
                ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=label)
                ax.set_xticks(x, g[x_key].astype(str))
            ax.set_xlabel(x_key)
            ax.set_title(metric_title(m), fontsize=8)
        figure_legend(fig, axes[0][:1], loc="outside lower center", ncol=4)
        fig.suptitle("Sweep: means with 95 % confidence intervals", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


# -- calibration -------------------------------------------------------------------------------
MEASURE_COLORS = {"reserve calls": "tab:red", "reserve days": "darkred", "DA schedule": "black",
                  "prev calls": "tab:blue", "rt calls": "tab:green", "da calls": "tab:gray"}


def plot_calibration(path: Path, table: pd.DataFrame, policy: str, slack: float) -> None:
    """Hold rate against α per measure (``environment.experiments.calibration``), with the
    diagonal and the ``α - slack`` line of the target."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(5.6, 4.0), layout="constrained")
        a = np.array(sorted(table.alpha.unique()))
        x0 = a.min() - 0.02
        ax.plot([x0, 1.0], [x0, 1.0], color="k", lw=0.8, ls=":", label="hold rate = α")
        ax.plot([x0, 1.0], [x0 - slack, 1.0 - slack], color="tab:red", lw=0.6, ls="--",
                label=f"α − {slack:g} (target)")
        measures = [m for m in MEASURE_COLORS if m in set(table.measure)]
        for i, measure in enumerate(measures):
            g = table[table.measure == measure].sort_values("alpha")
            y = g.hold_rate.to_numpy(float)
            ok = np.isfinite(y)
            if not ok.any():
                continue
            err = np.vstack([y - g.ci_low.to_numpy(float), g.ci_high.to_numpy(float) - y])
            err = np.where(np.isfinite(err), np.clip(err, 0, 1), 0.0)
            x = g.alpha.to_numpy(float) + (i - len(measures) / 2) * 0.002
            ax.errorbar(x[ok], y[ok], yerr=err[:, ok], marker="o", ms=3, capsize=3,
                        color=MEASURE_COLORS[measure], label=measure)
        ax.set_xlabel("confidence level α of the day-ahead product")
        ax.set_ylabel("hold rate (delivered within 1 %)")
        low = table.ci_low.clip(lower=0)
        ax.set_ylim(max(0.0, float(np.nanmin(low)) - 0.05) if low.notna().any() else 0.0, 1.02)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        ax.set_title(f"Calibration ({policy}): hold rate vs α, 95 % Wilson / t intervals",
                     fontsize=9)
        fig.savefig(path)
        plt.close(fig)


# -- Monte Carlo figures -----------------------------------------------------------------------
def plot_fan_charts(path: Path, ticks: pd.DataFrame, axis: TimeAxis) -> None:
    """Each layer's boundary across replicates (all stations).

    From ``MIN_REPLICATES_FOR_BANDS`` replicates on: median with 25–75 % and 5–95 % bands;
    below, percentiles would be read off a handful of days, so every replicate's boundary is
    drawn as a thin line instead (the legend says which).
    """
    layers = (("station", "station_p_max_kw", "station_p_min_kw"),
              ("distribution", "dist_p_max_kw", "dist_p_min_kw"),
              ("transmission", "p_up_kw", "p_down_kw"))
    n_rep = int(ticks.replicate.nunique())
    bands = n_rep >= MIN_REPLICATES_FOR_BANDS
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(3, 1, figsize=(7.5, 7.0), sharex=True, layout="constrained")
        for ax, (name, hi, lo) in zip(axes, layers, strict=True):
            for col, color, side in ((hi, "tab:blue", "upper"), (lo, "tab:red", "lower")):
                piv = ticks.pivot(index="t", columns="replicate", values=col)
                x = axis.hours(piv.index.to_numpy())
                if bands:
                    q = np.percentile(piv.to_numpy(), PERCENTILES, axis=1)
                    ax.fill_between(x, q[0], q[4], color=color, alpha=0.15, step="post",
                                    label=f"{side} edge, 5–95 %")
                    ax.fill_between(x, q[1], q[3], color=color, alpha=0.3, step="post",
                                    label=f"{side} edge, 25–75 %")
                    ax.step(x, q[2], where="post", color=color, lw=1.0,
                            label=f"{side} edge, median")
                else:
                    for i, rep in enumerate(piv.columns):
                        ax.step(x, piv[rep].to_numpy(), where="post", color=color, lw=0.8,
                                alpha=0.6, label=f"{side} edge, each of {n_rep} replicates"
                                if i == 0 else None)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_ylabel(f"{name}\n(kW)")
            pad_ylim(ax)
        what = ("median, 25–75 % and 5–95 % bands" if bands else
                f"every replicate (n = {n_rep} < {MIN_REPLICATES_FOR_BANDS}: too few for "
                "percentile bands)")
        axes[0].set_title(f"Boundaries across replicates: {what}", fontsize=9)
        clock_axis(axes[-1])
        figure_legend(fig, axes[:1], loc="outside lower center", ncol=3)
        fig.savefig(path)
        plt.close(fig)


def plot_histograms(path: Path, metrics: pd.DataFrame, names: list[str]) -> None:
    """Histograms of day metrics across replicates (shares on a [0, 1]-clamped axis)."""
    names = [n for n in names if n in metrics]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, (len(names) + 1) // 2, figsize=(9, 5.0), squeeze=False,
                                 layout="constrained")
        for ax, n in zip(axes.ravel(), names, strict=False):
            v = metrics[n].to_numpy(float)
            v = v[np.isfinite(v)]
            bins = min(20, max(5, len(v) // 2))
            if is_share(n) and v.size:
                lo, hi = share_limits(ax, v, which="x")
                ax.hist(v, bins=bins, range=(max(0.0, lo), min(1.0, hi)), color="tab:blue",
                        alpha=0.8)
                ax.set_xlim(lo, hi)
            else:
                ax.hist(v, bins=bins, color="tab:blue", alpha=0.8)
                lo, hi = ax.get_xlim()
                if v.size and v.min() >= 0.0 and lo < 0.0:  # no negative energies on the axis
                    ax.set_xlim(-0.01 * (hi - lo), hi)
            integer_axis(ax)
            pad_ylim(ax, frac=0.0, top_frac=0.08)
            ax.set_ylabel("replicates", fontsize=7)
            ax.set_title(metric_title(n), fontsize=8)
        for ax in axes.ravel()[len(names):]:
            ax.axis("off")
        fig.suptitle(f"Day metrics across {len(metrics)} replicates", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_convergence(path: Path, metrics: pd.DataFrame, names: list[str]) -> None:
    """Running mean and 95 % CI of the estimates against the number of replicates."""
    names = [n for n in names if n in metrics]
    m = metrics.sort_values("replicate")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.0), squeeze=False,
                                 layout="constrained")
        for ax, n in zip(axes[0], names, strict=True):
            x = m[n].to_numpy(dtype=float)
            k = np.arange(2, x.size + 1)
            est = np.array([ci95(x[:j]) for j in k]).reshape(-1, 4)
            low, high = est[:, 2], est[:, 3]
            if is_share(n):
                low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
            elif np.nanmin(x, initial=np.inf) >= 0.0:  # a non-negative metric's CI stays >= 0
                low = np.clip(low, 0.0, None)
            ax.plot(k, est[:, 0], color="k", lw=1.0, marker="o", ms=3)
            ax.fill_between(k, low, high, color="tab:blue", alpha=0.25)
            if is_share(n):
                share_limits(ax, np.r_[est[:, 0], low, high])
            else:
                pad_ylim(ax, values=[est[:, 0], low, high])
            ax.set_xlim(1.5, max(int(x.size), 2) + 0.5)
            integer_axis(ax, "x")
            ax.set_xlabel("replicates N")
            ax.set_title(metric_title(n), fontsize=8)
        fig.suptitle("Convergence of the estimates (mean and 95 % CI)", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


# -- DA vs RT ----------------------------------------------------------------------------------
def da_rt_tables(ticks: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per interval across replicates: DA overstatement and how often RT fell below DA.

    * ``overstatement_kw``: mean over replicates of ``DA P_up - RT P_up`` (kW; positive: the
      day-ahead boundary promised more upward power than real time could deliver). This is the
      primary metric; the summary reports it in kW.
    * ``overstatement_pct``: the same difference relative to the larger of the two boundaries,
      ``100 (DA - RT) / max(|DA|, |RT|, 1 kW)`` with ``RT`` the replicate mean. Where DA
      overstates (``DA > RT >= 0``) this is the familiar share of the DA promise that RT cannot
      deliver; where RT exceeds DA it is negative and relative to RT. It lies in
      ``[-100, 100] %`` when both edges have the same sign and in ``[-200, 200] %`` always, so
      it cannot explode when the DA value is near zero (dividing by DA did: −179 % from
      intervals with DA P_up ≈ 1 kW). The 1 kW floor (``PCT_FLOOR_KW``) sends both-near-zero
      intervals to ≈ 0 %.
    * ``rt_below_da_share``: replicates whose RT P_up fell more than 1 W (``TOL_KW``) below the
      DA commitment;
    * ``da_undeliverable_share``: replicates in which a call the DA boundary promised
      (its upper or lower edge) lay more than 1 W outside the RT boundary.
    """
    t = ticks.copy()
    t["over_kw"] = t.da_p_up_kw - t.p_up_kw
    t["below"] = t.p_up_kw < t.da_p_up_kw - TOL_KW
    t["undeliverable"] = t.below | (t.p_down_kw > t.da_p_down_kw + TOL_KW)
    g = t.groupby("t")
    table = pd.DataFrame({
        "da_p_up_kw": g.da_p_up_kw.first(), "da_p_down_kw": g.da_p_down_kw.first(),
        "rt_p_up_mean_kw": g.p_up_kw.mean(),
        "rt_p_up_median_kw": g.p_up_kw.median(), "rt_p_up_p5_kw": g.p_up_kw.quantile(0.05),
        "rt_p_up_p95_kw": g.p_up_kw.quantile(0.95),
        "overstatement_kw": g.over_kw.mean(),
        "rt_below_da_share": g.below.mean(), "da_undeliverable_share": g.undeliverable.mean(),
    }).reset_index()
    table["overstatement_pct"] = overstatement_pct(table.da_p_up_kw.to_numpy(float),
                                                   table.rt_p_up_mean_kw.to_numpy(float))
    per_rep = t.groupby("replicate").agg(over=("over_kw", "mean"), below=("below", "mean"),
                                         und=("undeliverable", "mean"))
    pct = table.overstatement_pct.to_numpy(float)
    summary = {
        "overstatement_kw_mean": float(table.overstatement_kw.mean()),
        "overstatement_kw_max": float(table.overstatement_kw.max()),
        "overstatement_pct_mean": float(np.nanmean(pct)) if np.isfinite(pct).any()
        else float("nan"),
        "overstatement_pct_definition": "100 (DA P_up - RT P_up) / max(|DA P_up|, |RT P_up|, "
                                        f"{PCT_FLOOR_KW:g} kW) per interval (RT: replicate "
                                        "mean), then averaged over intervals",
        "rt_below_da_ticks": int(t.below.sum()),
        "rt_below_da_share_mean": float(table.rt_below_da_share.mean()),
        "da_undeliverable_share_mean": float(table.da_undeliverable_share.mean()),
        "tolerance_kw": TOL_KW,
        "per_replicate": {
            "overstatement_kw": dict(zip(["mean", "std", "ci_low", "ci_high"],
                                         ci95(per_rep.over.to_numpy()), strict=True)),
            "rt_below_da_share": dict(zip(["mean", "std", "ci_low", "ci_high"],
                                          ci95(per_rep.below.to_numpy()), strict=True)),
        },
    }
    return table, summary


def overstatement_pct(da_kw: np.ndarray, rt_kw: np.ndarray,
                      floor_kw: float = PCT_FLOOR_KW) -> np.ndarray:
    """``100 (DA - RT) / max(|DA|, |RT|, floor)``: bounded by 200 % in magnitude (see above)."""
    da, rt = np.asarray(da_kw, dtype=float), np.asarray(rt_kw, dtype=float)
    den = np.maximum(np.maximum(np.abs(da), np.abs(rt)), floor_kw)
    return 100.0 * (da - rt) / den


def plot_da_rt(path: Path, table: pd.DataFrame, ticks: pd.DataFrame, axis: TimeAxis) -> None:
    """Paper Figure 4 form (DA band vs RT) and the mean overstatement of every replicate.

    From ``MIN_REPLICATES_FOR_BANDS`` replicates on, RT P_up is drawn as its median and 5–95 %
    band (and the replicates as a histogram); below, every replicate's RT P_up is drawn as a
    line (and its mean overstatement as a point).
    """
    x = axis.hours(table.t.to_numpy())
    per_rep = (ticks.assign(over=ticks.da_p_up_kw - ticks.p_up_kw)
               .groupby("replicate").over.mean())
    n_rep = int(per_rep.size)
    bands = n_rep >= MIN_REPLICATES_FOR_BANDS
    with plt.rc_context(STYLE):
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained",
                                   gridspec_kw={"width_ratios": [3, 1]})
        # the outline keeps a band of zero width (DA P_down = P_up) visible as a line
        a.fill_between(x, table.da_p_down_kw, table.da_p_up_kw, step="post", facecolor="0.6",
                       edgecolor="0.35", lw=0.7, alpha=0.45,
                       label="DA boundary (a line where P_down = P_up)")
        if bands:
            a.fill_between(x, table.rt_p_up_p5_kw, table.rt_p_up_p95_kw, step="post",
                           color="tab:green", alpha=0.3, label="RT P_up, 5–95 %")
            a.step(x, table.rt_p_up_median_kw, where="post", color="tab:green", lw=1.2,
                   label="RT P_up, median")
        else:
            piv = ticks.pivot(index="t", columns="replicate", values="p_up_kw")
            xr = axis.hours(piv.index.to_numpy())
            for i, rep in enumerate(piv.columns):
                a.step(xr, piv[rep].to_numpy(), where="post", color="tab:green", lw=0.9,
                       alpha=0.7, label=f"RT P_up, each of {n_rep} replicates (too few "
                       "for percentiles)" if i == 0 else None)
        a.axhline(0, color="k", lw=0.5)
        clock_axis(a)
        a.set_ylabel("net power (kW)")
        pad_ylim(a)
        a.set_title("Day-ahead vs real-time transmission boundary", fontsize=9)
        if bands:
            b.hist(per_rep, bins=min(15, max(5, per_rep.size // 2)), color="tab:purple",
                   alpha=0.8)
            b.set_ylabel("replicates")
            integer_axis(b)
        else:
            b.plot(per_rep.to_numpy(), np.arange(n_rep), "o", color="tab:purple")
            b.set_yticks(np.arange(n_rep), [str(r) for r in per_rep.index])
            b.set_ylim(-0.6, n_rep - 0.4)
            b.set_ylabel("replicate")
        b.axvline(0, color="k", lw=0.5)
        b.set_xlabel("mean DA − RT P_up (kW)")
        b.set_title("per replicate", fontsize=9)
        figure_legend(fig, (a,), loc="outside lower center", ncol=3)
        fig.savefig(path)
        plt.close(fig)
