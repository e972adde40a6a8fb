"""Figures of ``run_sim.py dispatch --method zonal``: partition, dispatch stack, area loads.

The areas' loads are shown before and after the dispatch.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from environment.reporting.style import (
    CURRENCY,
    STYLE,
    ClockLocator,
    clock_axis,
    legend_outside,
    pad_ylim,
)
from scenarios.timeaxis import TimeAxis

WARN = "#b2182b"


def _tree_layout(parent: np.ndarray) -> dict[int, tuple[float, float]]:
    """Depth on x, leaves spread on y (a radial feeder drawn as a tree)."""
    n = len(parent)
    children: dict[int, list[int]] = {i: [] for i in range(n)}
    for k in range(1, n):
        children[int(parent[k])].append(k)
    pos: dict[int, tuple[float, float]] = {}
    counter = [0.0]

    def place(v: int, depth: int) -> float:
        if not children[v]:
            y = counter[0]
            counter[0] += 1.0
        else:
            y = float(np.mean([place(c, depth + 1) for c in children[v]]))
        pos[v] = (float(depth), -y)
        return y

    place(0, 0)
    return pos


def plot_partition(path: Path, study, bus_label) -> None:
    """The feeder coloured by aggregation area, DER and station buses marked."""
    fe = study.setup.net
    parent = study.feeder_parent
    pos = _tree_layout(parent)
    g = nx.Graph([(int(parent[k]), k) for k in range(1, len(parent))])
    area = fe.area_of_bus
    cmap = plt.get_cmap("tab10")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9.0, 4.5))
        nx.draw_networkx_edges(g, pos, ax=ax, edge_color="0.6")
        nx.draw_networkx_nodes(g, pos, ax=ax, node_size=180,
                               node_color=[cmap(int(area[v]) % 10) for v in g.nodes])
        nx.draw_networkx_labels(g, pos, {v: bus_label(v) for v in g.nodes}, ax=ax,
                                font_size=6)
        for b in fe.res_bus:  # above the bus, so its label stays readable
            x_b, y_b = pos[int(b)]
            ax.plot(x_b, y_b + 0.3, marker="*", color="gold", markersize=9, markeredgecolor="k")
        for b in study.setup.station_pos:
            ax.plot(*pos[int(b)], marker="s", color="none", markersize=13,
                    markeredgecolor="k")
        handles = [plt.Line2D([], [], marker="o", linestyle="", color=cmap(d % 10),
                              label=f"area {d + 1} ({int((area == d).sum())} buses)")
                   for d in range(int(area.max()) + 1)]
        handles += [plt.Line2D([], [], marker="*", linestyle="", color="gold",
                               markeredgecolor="k", label="PV / wind"),
                    plt.Line2D([], [], marker="s", linestyle="", color="none",
                               markeredgecolor="k", label="EV station")]
        s = study.setup.scores
        ax.set_title(f"Aggregation areas: modularity {s.modularity:.3f}, comprehensive "
                     f"indicator {s.total:.3f} (seed {study.setup.seed_scores.total:.3f})")
        ax.set_axis_off()
        legend_outside(ax, handles)
        fig.savefig(path)
        plt.close(fig)


def plot_zonal_stack(path: Path, study, axis: TimeAxis) -> None:
    """Gross supply and demand above, the buses' net load below (before and after).

    Above: the feeder supply after dispatch (purchase, diesel, renewables used) against the
    base load and the EVs, before (uncoordinated) and after. Below, net of the local generation
    (PV / wind, diesel): the load the buses draw, before and after. Gross and net are different
    quantities and never share an axis.
    """
    net, plan = study.setup.net, study.setup.plan
    t_n = net.load_p_kw.shape[0]
    x = axis.edges_h(0, t_n)
    load = net.load_p_kw.sum(axis=1)
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(2, 1, figsize=(8.0, 6.0), sharex=True,
                                     gridspec_kw={"height_ratios": [3, 2]})
        base = np.zeros(t_n)
        for name, v, c in (("purchase", plan.buy_kw, "0.6"),
                           ("diesel", plan.dg_kw.sum(axis=1), "tab:brown"),
                           ("PV / wind used", plan.res_kw.sum(axis=1), "gold")):
            ax.fill_between(x, np.r_[base, base[-1]], np.r_[base + v, (base + v)[-1]],
                            step="post", color=c, alpha=0.7, label=name, linewidth=0)
            base = base + v
        ax.stairs(load, x, color="k", linestyle=":", label="base load", baseline=None)
        ax.stairs(load + study.ev_before_kw.sum(axis=1), x, color=WARN, linestyle="--",
                  label="base load + EVs, before (uncoordinated)", baseline=None)
        ax.stairs(load + plan.ev_kw.sum(axis=1), x, color="k",
                  label="base load + EVs, after", baseline=None)
        ax.set_ylabel("gross power (kW)")
        ax.set_title(f"Distribution layer: cost ({CURRENCY}, at the AC purchase) "
                     f"{study.before.total:,.0f} before, {study.after.total:,.0f} after")
        pad_ylim(ax)
        legend_outside(ax)
        bx.stairs(study.before_p_bus_kw.sum(axis=1), x, color=WARN, linestyle="--",
                  label="before (uncoordinated EVs)", baseline=None)
        bx.stairs(plan.p_bus_kw.sum(axis=1), x, color="tab:blue", label="after",
                  baseline=None)
        bx.axhline(0.0, color="k", lw=0.6)
        bx.set_ylabel("net load (kW)\nload + EVs − local gen.")
        bx.set_title("Net load of the buses (after local PV / wind and diesel)", fontsize=9)
        pad_ylim(bx)
        legend_outside(bx)
        clock_axis(bx)
        fig.savefig(path)
        plt.close(fig)


def plot_area_loads(path: Path, study, axis: TimeAxis) -> None:
    """Each area's net load before and after (one panel per area)."""
    net, plan = study.setup.net, study.setup.plan
    d_n = plan.area_p_kw.shape[1]
    t_n = net.load_p_kw.shape[0]
    x = axis.edges_h(0, t_n)
    before = np.stack([study.before_p_bus_kw[:, net.area_of_bus == d].sum(axis=1)
                       for d in range(d_n)], axis=1)
    two = None if study.two is None else np.stack(
        [study.two.p_bus_kw[:, net.area_of_bus == d].sum(axis=1) for d in range(d_n)], axis=1)
    cols = 3
    rows = int(np.ceil(d_n / cols))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(10.0, 2.6 * rows), sharex=True,
                                 squeeze=False)
        for d in range(rows * cols):
            ax = axes[d // cols, d % cols]
            if d >= d_n:
                ax.set_visible(False)
                continue
            ax.stairs(before[:, d], x, color=WARN, linestyle="--", label="before",
                      baseline=None)
            ax.stairs(plan.area_p_kw[:, d], x, color="tab:blue",
                      label="target (distribution layer)", baseline=None)
            if two is not None:
                ax.stairs(two[:, d], x, color="tab:green", linestyle="-.",
                          label="both layers, realised vehicles", baseline=None)
            ax.set_title(f"area {d + 1}", fontsize=8)
            pad_ylim(ax)
            clock_axis(ax, None)
            ax.xaxis.set_major_locator(ClockLocator(4))
        axes[0, 0].set_ylabel("net load (kW)")
        legend_outside(axes[0, -1] if d_n >= cols else axes[0, d_n - 1])
        fig.suptitle("Area net loads: uncoordinated charging, the distribution layer's target "
                     "and the two-layer result")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
