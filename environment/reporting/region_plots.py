"""Figures of the flexible operation region: 3-D hulls, volume against budget, DTA against STA."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # type: ignore[import-untyped]
from scipy.spatial import ConvexHull, QhullError

from flexibility.region import Region

VIEWS = ((25.0, -60.0), (15.0, 35.0))  # (elevation, azimuth) of the two viewpoints
WARN = "#b2182b"


def _header(fig, warning: str | None, title: str | None = None,
            title_size: float = 11.0) -> float:
    """A grid violation leads the figure (red, on top), the title below it; neither overlaps.

    Returns:
        The figure fraction below the header, the top of the axes' area (``tight_layout``).
    """
    import textwrap

    height = fig.get_figheight()
    line_in = 1.25 / 72.0  # inches per point of font size, one line
    y = 1.0 - 0.06 / height
    if warning:
        width = int(fig.get_figwidth() * 13)  # characters per line at 9 pt
        text = textwrap.fill(warning, width)
        fig.text(0.5, y, text, ha="center", va="top", color=WARN, fontsize=9,
                 fontweight="bold")
        y -= ((text.count("\n") + 1) * 9 * line_in + 0.08) / height
    if title:
        fig.suptitle(title, y=y, va="top", fontsize=title_size)
        y -= ((title.count("\n") + 1) * title_size * line_in + 0.08) / height
    return y


COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _draw_region(ax, region: Region, colour: str, label: str) -> None:
    """Hull facets (full-dimensional), a filled polygon (planar) or the points."""
    v = region.vertices_mw
    if region.dimension == 3 and len(v) >= 4:
        try:
            hull = ConvexHull(v)
        except QhullError:
            hull = None
        if hull is not None:
            faces = [v[s] for s in hull.simplices]
            ax.add_collection3d(Poly3DCollection(faces, alpha=0.18, facecolor=colour,
                                                 edgecolor=colour, linewidths=0.3))
    elif region.dimension == 2 and len(v) >= 3:
        centre = v.mean(axis=0)
        _, _, vt = np.linalg.svd(v - centre)
        ang = np.arctan2((v - centre) @ vt[1], (v - centre) @ vt[0])
        poly = v[np.argsort(ang)]
        ax.add_collection3d(Poly3DCollection([poly], alpha=0.3, facecolor=colour,
                                             edgecolor=colour))
    pts = region.points_mw
    ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], s=8, color=colour, label=label)


def _axes_labels(ax, names: tuple[str, ...]) -> None:
    ax.set_xlabel(f"{names[0]} (MW)", fontsize=8)
    ax.set_ylabel(f"{names[1]} (MW)", fontsize=8)
    ax.set_zlabel(f"{names[2]} (MW)", fontsize=8)
    ax.tick_params(labelsize=7)


def plot_hulls(path: Path, regions: dict[float, Region], names: tuple[str, ...],
               base_mw: np.ndarray, t_star: str, model: str,
               warning: str | None = None) -> None:
    """One row per budget, the hull from two viewpoints, the no-coupon point marked."""
    budgets = sorted(regions)
    fig = plt.figure(figsize=(9.0, 3.6 * len(budgets)))
    every = np.vstack([regions[b].points_mw for b in budgets])
    lo, hi = every.min(axis=0), every.max(axis=0)
    pad = 0.05 * np.maximum(hi - lo, 0.1)
    for i, b in enumerate(budgets):
        r = regions[b]
        for j, (elev, azim) in enumerate(VIEWS):
            ax = fig.add_subplot(len(budgets), 2, 2 * i + j + 1, projection="3d")
            _draw_region(ax, r, COLOURS[i % len(COLOURS)], f"budget {b:,.0f}")
            ax.scatter(*base_mw, marker="*", s=80, color="k", label="no coupons")
            ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
            ax.set_zlim(lo[2] - pad[2], hi[2] + pad[2])
            ax.view_init(elev, azim)
            _axes_labels(ax, names)
            ax.set_title(f"budget {b:,.0f}: {_measure_text(r)}", fontsize=9)
            if i == 0 and j == 0:
                ax.legend(fontsize=7, loc="upper left")
    top = _header(fig, warning, f"Flexible operation region of the stations' net load at "
                                f"{t_star} ({model} equilibrium)")
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _measure_text(r: Region) -> str:
    if r.dimension == 3:
        return f"volume {r.volume_mw3:.3f} MW³"
    return f"{r.dimension}-D, measure {r.measure:.3f} {r.measure_unit}"


def plot_volume(path: Path, regions: dict[str, dict[float, Region]], t_star: str,
                warning: str | None = None) -> None:
    """FOR volume against the subsidy budget, one line per model; a flat region (volume 0)
    is labelled with its dimension and measure, e.g. ``2-D, 1.37 MW^2``."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for i, (model, regs) in enumerate(regions.items()):
        b = sorted(regs)
        y = [regs[k].volume_mw3 for k in b]
        flat = [r for r in regs.values() if r.dimension < r.n_dim]
        label = (f"{model} (flat, {flat[0].dimension}-D: volume 0;\nlabels: area in "
                 f"{flat[0].measure_unit})" if flat else model)
        ax.plot(b, y, marker="o", color=COLOURS[i], label=label)
        for k in b:
            r = regs[k]
            solid = r.dimension == r.n_dim
            ax.annotate(f"{r.volume_mw3 if solid else r.measure:.3g}", (k, r.volume_mw3),
                        textcoords="offset points", xytext=(0, 6 if solid else -8),
                        ha="center", va="bottom" if solid else "top", fontsize=8)
    ax.margins(x=0.15)  # room for the labels of the first and last budget
    top = max((r.volume_mw3 for regs in regions.values() for r in regs.values()), default=0.0)
    top = top if top > 0 else 1.0
    ax.set_ylim(-0.12 * top, 1.15 * top)  # a flat region's line and labels below it
    ax.set_xlabel("subsidy budget F_bs^max (CNY)")
    ax.set_ylabel("FOR volume (MW³)")
    ax.set_title(f"Volume of the flexible operation region at {t_star}")
    ax.grid(alpha=0.3)
    ax.legend(loc="center right")  # between the rising line and the flat one
    fig.tight_layout(rect=(0, 0, 1, _header(fig, warning)))
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_dta_vs_sta(path: Path, dyn: Region, sta: Region, names: tuple[str, ...],
                    budget: float, t_star: str, warning: str | None = None) -> None:
    """Both regions in 3-D and their per-axis ranges."""
    fig = plt.figure(figsize=(10.0, 4.2))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    _draw_region(ax, dyn, "tab:blue", f"dynamic ({dyn.dimension}-D)")
    _draw_region(ax, sta, "tab:red", f"static ({sta.dimension}-D)")
    _axes_labels(ax, names)
    ax.view_init(*VIEWS[0])
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)  # below
    ax.set_title(f"budget {budget:,.0f} CNY, t* = {t_star}", fontsize=9)
    bx = fig.add_subplot(1, 2, 2)
    x = np.arange(len(names))
    for off, r, c, lab in ((-0.2, dyn, "tab:blue", "dynamic"), (0.2, sta, "tab:red", "static")):
        width = r.ranges_mw[:, 1] - r.ranges_mw[:, 0]
        # the outline keeps a range of zero width visible as a line
        bx.bar(x + off, width, 0.38, bottom=r.ranges_mw[:, 0], color=c, alpha=0.6,
               edgecolor=c, linewidth=1.2, label=f"{lab}: {_measure_text(r)}")
    bx.set_xticks(x, names)
    bx.set_ylabel("net load range at t* (MW)")
    bx.axhline(0.0, color="k", lw=0.6)
    lo = float(min(dyn.ranges_mw.min(), sta.ranges_mw.min(), 0.0))
    hi = float(max(dyn.ranges_mw.max(), sta.ranges_mw.max(), 0.0))
    pad = 0.08 * max(hi - lo, 1e-3)
    bx.set_ylim(lo - pad, hi + pad)  # every bar inside the frame, with a margin
    bx.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=1,
              borderaxespad=0.0)  # below the axes, never over a bar
    bx.grid(axis="y", alpha=0.3)
    bx.set_title("per-station range")
    fig.tight_layout(rect=(0, 0, 1, _header(fig, warning)))
    fig.savefig(path, dpi=130)
    plt.close(fig)
