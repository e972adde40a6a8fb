"""Validation metrics, summary and figures of a co-simulated day (``run_sim.py simulate``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from environment.plots import _STYLE
from environment.station_assessment import ALL


def validation_summary(ticks: pd.DataFrame, evs: pd.DataFrame, network: pd.DataFrame,
                       v_min_pu: float, v_max_pu: float) -> dict:
    """Day metrics from the recorded tables.

    * deliverability rate: share of ticks whose aggregate call was delivered within 1 %;
    * boundary held: the same over the ticks whose call lay inside the published boundary;
    * shortfalls: EVs that departed below their requirement (count, kWh); EVs that left
      without a charger; EVs still plugged in at the end and whether their requirement is still
      reachable;
    * AC at the realised operating points: violations, min voltage, max loading;
    * DA vs RT: the published RT boundary minus the DA boundary, per tick (mean and extremes).
    """
    a = ticks[ticks.station == ALL].sort_values("t")
    inside = (a.call_kw >= a.p_down_kw - 1e-6) & (a.call_kw <= a.p_up_kw + 1e-6)
    departed = evs[evs.state == "departed"]
    short = departed[departed.shortfall_kwh > 1e-6]
    end = evs[evs.state == "plugged_at_end"]
    d_up = a.p_up_kw - a.da_p_up_kw
    d_down = a.p_down_kw - a.da_p_down_kw
    vm = network.vm_pu
    return {
        "deliverability_rate": float(a.delivered_ok.mean()),
        "ticks": len(a),
        "calls_delivered": int(a.delivered_ok.sum()),
        "calls_inside_boundary": int(inside.sum()),
        "boundary_held_rate": float(a.delivered_ok[inside].mean()) if inside.any() else None,
        "undelivered_kwh": float(np.abs(a.call_kw - a.delivered_kw).sum() * _dt_h(a)),
        "shortfall": {"count": len(short), "kwh": float(short.shortfall_kwh.sum()),
                      "left_unserved": int((evs.state == "left_unserved").sum()),
                      "plugged_at_end": len(end),
                      "plugged_at_end_unreachable": int((~end.requirement_reachable
                                                         .astype(bool)).sum())},
        "evs": {"total": len(evs), "departed": len(departed),
                "mean_wait_min": float(evs.wait_min.mean()) if len(evs) else 0.0,
                "max_wait_min": float(evs.wait_min.max()) if len(evs) else 0.0,
                "charged_kwh": float(evs.charged_kwh.sum()),
                "discharged_kwh": float(evs.discharged_kwh.sum())},
        "ac": {"violations": int((a.ac_violation != "").sum()),
               "min_vm_pu": float(vm.min()), "max_vm_pu": float(vm.max()),
               "max_loading_pct": float(a.max_loading_pct.max()),
               "non_converged": int((~a.ac_converged).sum()),
               "v_limits_pu": [v_min_pu, v_max_pu]},
        "da_vs_rt": {"p_up_mean_kw": float(d_up.mean()), "p_up_min_kw": float(d_up.min()),
                     "p_down_mean_kw": float(d_down.mean()),
                     "p_down_max_kw": float(d_down.max()),
                     "ticks_rt_up_below_da": int((d_up < -1e-6).sum()),
                     "ticks_rt_down_above_da": int((d_down > 1e-6).sum())},
    }


def _dt_h(a: pd.DataFrame) -> float:
    t = a.time_min.to_numpy()
    return float(t[1] - t[0]) / 60.0 if len(t) > 1 else 0.25


def _hours(a: pd.DataFrame, start_min: int) -> np.ndarray:
    t = (start_min + a.time_min.to_numpy()) / 60.0
    step = (t[1] - t[0]) if len(t) > 1 else 0.25
    return np.r_[t, t[-1] + step]


def plot_boundary_and_calls(path: Path, ticks: pd.DataFrame, start_min: int, policy: str) -> None:
    """Published RT boundary as a band, the calls and the delivered trajectory (all stations)."""
    a = ticks[ticks.station == ALL].sort_values("t")
    x = _hours(a, start_min)
    mid = 0.5 * (x[1:] + x[:-1])
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        ax.stairs(a.p_up_kw, x, baseline=a.p_down_kw.to_numpy(), fill=True, color="tab:green",
                  alpha=0.25, label="published RT boundary [P_down, P_up]")
        ax.stairs(a.delivered_kw, x, color="k", lw=1.2, baseline=None, label="delivered")
        bad = ~a.delivered_ok.to_numpy()
        ax.plot(mid, a.call_kw, "o", ms=2.5, color="tab:red", label=f"call ({policy})")
        if bad.any():
            ax.plot(mid[bad], a.call_kw.to_numpy()[bad], "x", ms=6, color="tab:red",
                    label="not delivered")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("aggregate net power (kW)")
        ax.set_xlabel("time of day (h)")
        ax.legend(fontsize=7, loc="upper left", ncol=2)
        ax.set_title("Rolling real-time validation: boundary, calls and delivery", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_voltage_heatmap(path: Path, network: pd.DataFrame, start_min: int, dt_min: float,
                         v_min_pu: float) -> None:
    """Bus voltage at the realised operating point, bus x time."""
    piv = network.pivot(index="bus", columns="t", values="vm_pu")
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        t0 = start_min / 60.0
        t1 = t0 + piv.shape[1] * dt_min / 60.0
        im = ax.imshow(piv.to_numpy(), aspect="auto", origin="lower", cmap="viridis",
                       extent=(t0, t1, -0.5, piv.shape[0] - 0.5))
        cb = fig.colorbar(im, ax=ax)
        cb.set_label("voltage (p.u.)")
        if float(piv.to_numpy().min()) < v_min_pu:
            ax.contour(np.linspace(t0, t1, piv.shape[1]), np.arange(piv.shape[0]),
                       piv.to_numpy(), levels=[v_min_pu], colors="r", linewidths=0.8)
        ax.set_ylabel("bus (pandapower index)")
        ax.set_xlabel("time of day (h)")
        ax.set_title("Bus voltages at the realised operating point", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_da_vs_rt(path: Path, ticks: pd.DataFrame, start_min: int) -> None:
    """DA boundary vs the RT boundary published at each tick (paper Figure 4 form)."""
    a = ticks[ticks.station == ALL].sort_values("t")
    x = _hours(a, start_min)
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        ax.stairs(a.da_p_up_kw, x, baseline=a.da_p_down_kw.to_numpy(), fill=True, color="0.6",
                  alpha=0.35, label="DA boundary")
        ax.stairs(a.p_up_kw, x, color="tab:green", lw=1.2, baseline=None, label="RT P_up")
        ax.stairs(a.p_down_kw, x, color="tab:green", lw=1.2, ls="--", baseline=None,
                  label="RT P_down")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("net power (kW)")
        ax.set_xlabel("time of day (h)")
        ax.legend(fontsize=7, loc="upper left", ncol=3)
        ax.set_title("Transmission boundary: day-ahead vs real-time (published each tick)",
                     fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_occupancy(path: Path, ticks: pd.DataFrame, start_min: int) -> None:
    """Connected EVs and queue per station."""
    per = ticks[ticks.station != ALL]
    names = list(dict.fromkeys(per.station))
    with plt.rc_context(_STYLE):
        fig, (a, b) = plt.subplots(2, 1, figsize=(7.5, 4.2), sharex=True)
        for name in names:
            s = per[per.station == name].sort_values("t")
            x = _hours(s, start_min)
            a.stairs(s.connected, x, lw=1.1, baseline=None, label=name)
            b.stairs(s.queue, x, lw=1.1, baseline=None, label=name)
        a.set_ylabel("plugged-in EVs")
        b.set_ylabel("EVs queued")
        b.set_xlabel("time of day (h)")
        a.legend(fontsize=7, ncol=len(names))
        a.set_title("Station occupancy and queues", fontsize=9)
        fig.savefig(path)
        plt.close(fig)
