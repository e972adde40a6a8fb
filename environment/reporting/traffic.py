"""Tables and figures of ``run_sim.py traffic`` (static and dynamic assignment)."""

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
from scenarios.timeaxis import minutes_of_day
from traffic.assignment import Demand, Prices
from traffic.dynamic import Loading, link_table
from traffic.network import RoadNetwork
from traffic.static import StaticResult
from traffic.static_stations import static_station_loads

_TAB10 = [plt.get_cmap("tab10")(i) for i in range(10)]  # its ten colours


def static_links_frame(net: RoadNetwork, res: StaticResult) -> pd.DataFrame:
    """One row per link: flow and travel time at the static equilibrium."""
    return pd.DataFrame({
        "link": [ln.number for ln in net.links],
        "from_node": [ln.from_node for ln in net.links],
        "to_node": [ln.to_node for ln in net.links],
        "flow_veh_h": res.flow_veh_h, "travel_time_min": res.time_min})


def dynamic_links_frame(net: RoadNetwork, ld: Loading, interval_min: float, n_intervals: int,
                        start_min: float) -> pd.DataFrame:
    """Per link and interval: inflow, outflow (veh per interval), mean travel time, queue."""
    tab = link_table(net, ld, interval_min, n_intervals)
    rows = []
    for i, ln in enumerate(net.links):
        for k in range(n_intervals):
            rows.append((ln.number, ln.from_node, ln.to_node, ln.kind, k,
                         _clock(start_min + k * interval_min), tab["inflow"][i, k],
                         tab["outflow"][i, k], tab["travel_time_min"][i, k], tab["queue"][i, k]))
    return pd.DataFrame(rows, columns=["link", "from_node", "to_node", "kind", "interval", "time",
                                       "inflow", "outflow", "travel_time_min", "queue"])


def stations_frame(net: RoadNetwork, ld: Loading, interval_min: float, n_intervals: int,
                   start_min: float, prices: Prices) -> pd.DataFrame:
    """Per station, service and interval: arrivals, queue, waits, vehicles in service, power."""
    rows = []
    for i, ln in enumerate(net.links):
        if ln.kind not in ("charge", "v2g"):
            continue
        m = ld.link == i
        enter, exit_, wait = ld.enter_min[m], ld.exit_min[m], ld.wait_min[m]
        start_service = exit_ - ln.service_min
        power = prices.charge_power_kw if ln.kind == "charge" else -prices.v2g_power_kw
        for k in range(n_intervals):
            a, b = k * interval_min, (k + 1) * interval_min
            arr = (enter >= a) & (enter < b)
            queued = np.sum((enter + ln.t0_min <= b) & (start_service > b))
            overlap = np.clip(np.minimum(exit_, b) - np.maximum(start_service, a), 0, None)
            in_service = overlap.sum() / interval_min
            rows.append((ln.station, ln.kind, ln.bus, k, _clock(start_min + a), int(arr.sum()),
                         int(queued), float(wait[arr].mean()) if arr.any() else 0.0,
                         float(wait[arr].max()) if arr.any() else 0.0, in_service,
                         in_service * power))
    return pd.DataFrame(rows, columns=["station", "service", "bus", "interval", "time",
                                       "arrivals", "queue", "mean_wait_min", "max_wait_min",
                                       "in_service", "p_kw"])


def sta_station_loads(net: RoadNetwork, demand: Demand, prices: Prices,
                      sta_interval_min: float = 30.0, iterations: int = 200) -> pd.DataFrame:
    """Static counterpart of the station loads (``traffic.static_stations``) as a table."""
    sta = static_station_loads(net, demand, prices, sta_interval_min, iterations)
    rows = [(name, k, float(a), float(sta.p_kw[j, k]))
            for k, a in enumerate(sta.start_min) for j, name in enumerate(sta.stations)]
    return pd.DataFrame(rows, columns=["station", "interval", "start_min", "p_kw"])


def _clock(minutes: float) -> str:
    m = round(minutes) % 1440
    return f"{m // 60:02d}:{m % 60:02d}"


def _start_and_step_min(frame: pd.DataFrame) -> tuple[float, float]:
    """Clock minutes of interval 0 and the interval length, read off the ``time`` column."""
    first = frame.drop_duplicates("interval").sort_values("interval")
    k = first.interval.to_numpy(float)
    m = np.array([minutes_of_day(str(x)) for x in first.time], dtype=float)
    if k.size < 2:
        return float(m[0] - k[0]) if k.size else 0.0, 1.0
    step = ((m[1] - m[0]) % 1440.0) / (k[1] - k[0])
    return float(m[0] - k[0] * step), float(step)


def _hours_of_day(frame: pd.DataFrame, interval: np.ndarray) -> np.ndarray:
    """Hours after midnight (not wrapped) of interval starts of a links/stations frame."""
    start, step = _start_and_step_min(frame)
    return (start + np.asarray(interval, dtype=float) * step) / 60.0


def plot_gap(path: Path, gaps: list[float], target: float) -> None:
    """Relative gap per DUE iteration."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.semilogy(np.arange(1, len(gaps) + 1), gaps, "o-", ms=3)
        ax.axhline(target, color="tab:red", ls="--", lw=0.8, label=f"target {target:g}")
        integer_axis(ax, "x")
        ax.set_xlabel("iteration")
        ax.set_ylabel("relative gap")
        ax.legend(fontsize=8)
        ax.set_title("Dynamic user equilibrium: convergence", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_link_queues(path: Path, links: pd.DataFrame, top: int = 6) -> None:
    """Queues over time on the most congested links (an all-zero queue is annotated)."""
    worst = links.groupby("link").queue.max().nlargest(top)
    worst = worst[worst > 0].index
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7, 3.2))
        for ln in worst:
            s = links[links.link == ln].sort_values("interval")
            ax.step(_hours_of_day(links, s.interval.to_numpy()), s.queue, where="post",
                    label=f"link {ln} ({s.from_node.iloc[0]}→{s.to_node.iloc[0]})")
        if len(worst):
            integer_axis(ax)
            pad_ylim(ax)
            legend_outside(ax)
        else:
            _no_queue(ax, "no link queue at any time (all zero)")
            ax.set_xlim(*_hours_of_day(links, np.array([links.interval.min(),
                                                        links.interval.max() + 1])))
        clock_axis(ax, "time of day (HH:MM, interval start)")
        ax.set_ylabel("vehicles queued")
        ax.set_title("Link queues (point-queue vehicles held at the exit)", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def _no_queue(ax, text: str) -> None:
    ax.set_yticks([])
    ax.grid(False)
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=8,
            color="0.3")


def plot_station_queues(path: Path, stations: pd.DataFrame) -> None:
    """Arrivals and queues at every station service (an all-zero queue is annotated)."""
    any_queue = bool((stations.queue > 0).any())
    with plt.rc_context(STYLE):
        fig, (a, b) = plt.subplots(2, 1, figsize=(7, 4.2), sharex=True,
                                   gridspec_kw={"height_ratios": [1, 1] if any_queue
                                                else [3, 1]})
        for (st, kind), s in stations.groupby(["station", "service"]):
            s = s.sort_values("interval")
            x = _hours_of_day(stations, s.interval.to_numpy())
            a.step(x, s.arrivals, where="post", label=f"{st} {kind}")
            if any_queue:
                b.step(x, s.queue, where="post", label=f"{st} {kind}")
        a.set_ylabel("arrivals / interval")
        integer_axis(a)
        pad_ylim(a)
        b.set_ylabel("queued")
        if any_queue:
            integer_axis(b)
            pad_ylim(b)
        else:
            _no_queue(b, "no queue at any station (all zero)")
        clock_axis(b, "time of day (HH:MM, interval start)")
        legend_outside(a)
        a.set_title("Station arrivals and queues", fontsize=9)
        fig.savefig(path)
        plt.close(fig)


def plot_dta_vs_sta(path: Path, stations: pd.DataFrame, sta: pd.DataFrame,
                    interval_min: float, sta_interval_min: float) -> None:
    """Net station load (kW) over time: DTA (per interval) vs STA (per aggregate interval)."""
    dta = stations.groupby(["station", "interval"]).p_kw.sum().reset_index()
    start_min, _ = _start_and_step_min(stations)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7, 3.4))
        colors = dict(zip(sorted(dta.station.unique()), _TAB10, strict=False))
        for st, s in dta.groupby("station"):
            x = np.r_[s.interval.to_numpy(), s.interval.max() + 1] * interval_min
            ax.stairs(s.p_kw / 1e3, (start_min + x) / 60.0, color=colors[st], lw=1.3,
                      baseline=None, label=f"{st} DTA")
        groups = list(sta.groupby("station"))
        # wider lines underneath: stations with the same static load all stay visible
        widths = np.linspace(3.0, 1.0, len(groups)) if len(groups) > 1 else [1.2]
        for (st, s), lw in zip(groups, widths, strict=True):
            x = np.r_[s.start_min.to_numpy(), s.start_min.max() + sta_interval_min]
            ax.stairs(s.p_kw / 1e3, (start_min + x) / 60.0, color=colors.get(st, "k"), lw=lw,
                      ls=(0, (3, 1.5)), baseline=None, label=f"{st} STA")
        ax.axhline(0, color="k", lw=0.5)
        clock_axis(ax)
        pad_ylim(ax)
        ax.set_ylabel("net station load (MW)")
        legend_outside(ax)
        ax.set_title("Station loads: dynamic vs static traffic assignment", fontsize=9)
        fig.savefig(path)
        plt.close(fig)
