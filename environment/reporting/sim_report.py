"""Validation metrics, summary and figures of a co-simulated day (``run_sim.py simulate``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from environment.reporting.plots import _STYLE
from flexibility.stations import TOTAL_LABEL

EXIT_VALID, EXIT_INVALID = 0, 3


def validation_summary(ticks: pd.DataFrame, evs: pd.DataFrame, network: pd.DataFrame,
                       v_min_pu: float, v_max_pu: float,
                       substation_kw: float | None = None) -> dict:
    """Day metrics from the recorded tables.

    * validity: the day is physically valid (``valid``, ``exit_code`` 0) when no tick had an AC
      violation at the realised operating point and no tick was grid-infeasible (must-charge
      load the network could not carry); otherwise ``exit_code`` is 3;
    * deliverability rate: share of ticks whose aggregate call was delivered within 1 %;
    * boundary held: the same over the ticks whose call lay inside the published boundary;
    * validation per layer (``da``, ``prev``, ``rt``): hold rate and undelivered energy of the
      calls inside that layer's boundary (``environment.validation``);
    * grid: grid-infeasible ticks and the unsheddable energy ``sum unsheddable_kw dt``;
    * shortfalls: EVs that departed below their requirement (count, kWh; ``left_early`` of them
      left before their declared departure); EVs that left without a charger; EVs still
      plugged in at the end and whether their requirement is still reachable;
    * AC at the realised operating points: ticks with violations, per violation type, min/max
      voltage, max loading, max substation import;
    * DA vs RT: the published RT boundary minus the DA boundary, per tick (mean and extremes).
    """
    from environment.validation import layer_validation

    a = ticks[ticks.station == TOTAL_LABEL].sort_values("t")
    dt_h = _dt_h(a)
    inside = (a.call_kw >= a.p_down_kw - 1e-6) & (a.call_kw <= a.p_up_kw + 1e-6)
    departed = evs[evs.state == "departed"]
    short = departed[departed.shortfall_kwh > 1e-6]
    end = evs[evs.state == "plugged_at_end"]
    d_up = a.p_up_kw - a.da_p_up_kw
    d_down = a.p_down_kw - a.da_p_down_kw
    vm = network.vm_pu
    labels = a.ac_violation.fillna("")
    violated = labels != ""
    by_type: dict[str, int] = {}
    for lab in labels[violated]:
        for kind in lab.split(";"):
            by_type[kind] = by_type.get(kind, 0) + 1
    infeasible = a.grid_infeasible.astype(bool) if "grid_infeasible" in a else violated & False
    unshed = a.unsheddable_kw if "unsheddable_kw" in a else a.call_kw * 0.0
    valid = not violated.any() and not infeasible.any()
    out = {
        "valid": bool(valid),
        "exit_code": EXIT_VALID if valid else EXIT_INVALID,
        "deliverability_rate": float(a.delivered_ok.mean()),
        "ticks": len(a),
        "calls_delivered": int(a.delivered_ok.sum()),
        "calls_inside_boundary": int(inside.sum()),
        "boundary_held_rate": float(a.delivered_ok[inside].mean()) if inside.any() else None,
        "undelivered_kwh": float(np.abs(a.call_kw - a.delivered_kw).sum() * dt_h),
        "grid": {"infeasible_ticks": int(infeasible.sum()),
                 "unsheddable_kwh": float(unshed.sum() * dt_h),
                 "max_unsheddable_kw": float(unshed.max()) if len(a) else 0.0,
                 "max_must_serve_kw": float(a.must_serve_kw.max())
                 if "must_serve_kw" in a and len(a) else 0.0},
        "shortfall": {"count": len(short), "kwh": float(short.shortfall_kwh.sum()),
                      "left_early": int(short.left_early.sum()) if "left_early" in short else 0,
                      "left_unserved": int((evs.state == "left_unserved").sum()),
                      "plugged_at_end": len(end),
                      "plugged_at_end_unreachable": int((~end.requirement_reachable
                                                         .astype(bool)).sum())},
        "evs": {"total": len(evs), "departed": len(departed),
                "left_early": int(evs.left_early.sum()) if "left_early" in evs else 0,
                "mean_wait_min": float(evs.wait_min.mean()) if len(evs) else 0.0,
                "max_wait_min": float(evs.wait_min.max()) if len(evs) else 0.0,
                "charged_kwh": float(evs.charged_kwh.sum()),
                "discharged_kwh": float(evs.discharged_kwh.sum())},
        "ac": {"violations": int(violated.sum()),
               "violations_by_type": by_type,
               "min_vm_pu": float(vm.min()), "max_vm_pu": float(vm.max()),
               "max_loading_pct": float(a.max_loading_pct.max()),
               "max_p_slack_kw": float(a.p_slack_kw.abs().max()) if "p_slack_kw" in a else None,
               "substation_kw": substation_kw,
               "non_converged": int((~a.ac_converged).sum()),
               "v_limits_pu": [v_min_pu, v_max_pu]},
        "da_vs_rt": {"p_up_mean_kw": float(d_up.mean()), "p_up_min_kw": float(d_up.min()),
                     "p_down_mean_kw": float(d_down.mean()),
                     "p_down_max_kw": float(d_down.max()),
                     "ticks_rt_up_below_da": int((d_up < -1e-6).sum()),
                     "ticks_rt_down_above_da": int((d_down > 1e-6).sum())},
    }
    if {"inside_da", "inside_prev", "inside_rt"} <= set(a.columns):
        out["validation"] = layer_validation(a, dt_h)
    return out


def _power(kw: float) -> str:
    """A power for the console: MW from 1 MW, else kW (one decimal below 10 kW)."""
    if abs(kw) >= 1000.0:
        return f"{kw / 1e3:.1f} MW"
    return f"{kw:.1f} kW" if abs(kw) < 10.0 else f"{kw:.0f} kW"


def headline(summary: dict) -> str:
    """The console verdict: leads with what made the day physically invalid, if anything."""
    ac, grid = summary["ac"], summary["grid"]
    parts = []
    if ac["violations"]:
        sub = ac.get("substation_kw")
        extra = ""
        if sub is not None and ac.get("max_p_slack_kw") is not None \
                and ac["max_p_slack_kw"] > sub * (1 + 1e-9):
            extra = f", substation {_power(ac['max_p_slack_kw'])} > {_power(sub)}"
        types = ", ".join(f"{k} {v}" for k, v in sorted(ac["violations_by_type"].items()))
        parts.append(f"{ac['violations']} ticks with AC violations (min {ac['min_vm_pu']:.3f} "
                     f"p.u., max loading {ac['max_loading_pct']:.0f} %{extra}; {types})")
    if grid["infeasible_ticks"]:
        parts.append(f"{grid['infeasible_ticks']} ticks grid-infeasible (must-charge up to "
                     f"{_power(grid['max_unsheddable_kw'])} not servable, "
                     f"{grid['unsheddable_kwh']:.1f} kWh)")
    if not parts:
        return "physically valid (no AC violation, no grid-infeasible tick)"
    return "PHYSICALLY INVALID: " + ", ".join(parts)


def _dt_h(a: pd.DataFrame) -> float:
    t = a.time_min.to_numpy()
    return float(t[1] - t[0]) / 60.0 if len(t) > 1 else 0.25


def _hours(a: pd.DataFrame, start_min: int) -> np.ndarray:
    t = (start_min + a.time_min.to_numpy()) / 60.0
    step = (t[1] - t[0]) if len(t) > 1 else 0.25
    return np.r_[t, t[-1] + step]


def plot_boundary_and_calls(path: Path, ticks: pd.DataFrame, start_min: int, policy: str) -> None:
    """Published RT boundary, distribution limits, calls, delivery and the invalid ticks.

    The distribution layer's maximum and minimum are dashed lines; ticks with an AC violation
    at the realised point are marked at the top of the axes (red triangles), grid-infeasible
    ticks (must-charge load the network cannot carry) are shaded.
    """
    a = ticks[ticks.station == TOTAL_LABEL].sort_values("t")
    x = _hours(a, start_min)
    mid = 0.5 * (x[1:] + x[:-1])
    with plt.rc_context(_STYLE):
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
        ax.set_xlabel("time of day (h)")
        fig.legend(fontsize=6.5, loc="outside lower center", ncol=4, framealpha=0.9)
        n_v, n_i = int(viol.sum()), int(infeasible.sum())
        verdict = (f" — INVALID: {n_v} AC-violation ticks, {n_i} grid-infeasible"
                   if n_v or n_i else " — physically valid")
        ax.set_title("Rolling real-time validation: boundary, calls and delivery" + verdict,
                     fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_voltage_heatmap(path: Path, network: pd.DataFrame, start_min: int, dt_min: float,
                         v_min_pu: float, v_max_pu: float = 1.05) -> None:
    """Bus voltage at the realised operating point, bus x time, anchored at the limits.

    A diverging colormap spans exactly ``[v_min, v_max]`` (centred on their midpoint); voltages
    outside are drawn in the extension colours (black below ``v_min``, magenta above
    ``v_max``), hatched and outlined.
    """
    from matplotlib import colors

    piv = network.pivot(index="bus", columns="t", values="vm_pu")
    z = piv.to_numpy()
    with plt.rc_context({**_STYLE, "hatch.color": "white", "hatch.linewidth": 0.6}):
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        t0 = start_min / 60.0
        t1 = t0 + piv.shape[1] * dt_min / 60.0
        cmap = plt.get_cmap("RdBu").with_extremes(under="black", over="magenta", bad="0.5")
        norm = colors.TwoSlopeNorm(vcenter=0.5 * (v_min_pu + v_max_pu), vmin=v_min_pu,
                                   vmax=v_max_pu)
        im = ax.imshow(z, aspect="auto", origin="lower", cmap=cmap, norm=norm,
                       interpolation="nearest", extent=(t0, t1, -0.5, piv.shape[0] - 0.5))
        cb = fig.colorbar(im, ax=ax, extend="both")
        cb.set_label("voltage (p.u.); limits at the ends")
        step = dt_min / 60.0
        xc = t0 + step * (np.arange(piv.shape[1]) + 0.5)
        yc = np.arange(piv.shape[0])
        with np.errstate(invalid="ignore"):
            outside = ((z < v_min_pu) | (z > v_max_pu)).astype(float)
        n_out = int(outside.sum())
        if n_out and piv.shape[1] > 1 and piv.shape[0] > 1:
            ax.contourf(xc, yc, outside, levels=[0.5, 1.5], colors="none", hatches=["xxx"])
            ax.contour(xc, yc, outside, levels=[0.5], colors="yellow", linewidths=0.9)
        ax.set_ylabel("bus (pandapower index)")
        ax.set_xlabel("time of day (h)")
        note = (f"{n_out} bus-ticks outside [{v_min_pu}, {v_max_pu}] p.u. (hatched)" if n_out
                else f"all voltages within [{v_min_pu}, {v_max_pu}] p.u.")
        ax.set_title(f"Bus voltages at the realised operating point — {note}", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_da_vs_rt(path: Path, ticks: pd.DataFrame, start_min: int) -> None:
    """DA boundary vs the RT boundary published at each tick (paper Figure 4 form)."""
    a = ticks[ticks.station == TOTAL_LABEL].sort_values("t")
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
    per = ticks[ticks.station != TOTAL_LABEL]
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
