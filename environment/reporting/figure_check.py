"""Automatic check of a drawn figure: overlapping text, series absent from the axes, cut data.

``check_figure(fig)`` draws the figure once and returns the defects it finds (an empty list when
the figure is fine). It only looks at matplotlib artists -- no knowledge of what a figure shows:

* ``overlap``: two visible text artists (titles, suptitle, axis labels, tick labels, legend
  texts, annotations, texts) whose window extents overlap;
* ``outside``: a text reaching beyond the canvas (the figure, or the tight bounding box when
  the figure is saved with ``bbox_inches="tight"``), or a text of an axes (annotation, label)
  cut through by the axes' frame;
* ``absent``: a legend entry whose series has no data inside its axes' view, or draws nothing
  (a band or bar of zero width or height without an edge line);
* ``nan``: a line or collection whose data are all NaN;
* ``cut``: a line's, collection's or patch's data reaching beyond the axes' view limits (more
  than a small tolerance), e.g. a bar clipped by ``ylim``;
* ``hidden``: a legend box lying over data of an axes.

Invisible artists, empty strings, tick labels switched off (shared axes) and the internals of
colorbars are ignored. 3-D axes are checked for their titles, axis labels and legends only
(their tick labels run along slanted edges, so their upright boxes overlap without the texts
touching).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.collections import Collection, PathCollection, PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.container import Container
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.transforms import Bbox, BboxBase

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

OVERLAP_PX = 1.0
"""Window extents must overlap by more than this many pixels in both directions to count."""

CUT_TOLERANCE = 0.005
"""Data may reach this share of the axes' size (plus a pixel) beyond the frame before it is cut."""

THIN_PX = 0.5
"""A filled area thinner than this (mean thickness in pixels) without an edge draws nothing."""


@dataclass(frozen=True)
class Defect:
    """One defect of a figure.

    Attributes:
        kind: ``overlap``, ``outside``, ``absent``, ``nan``, ``cut`` or ``hidden``.
        message: What is wrong, naming the artists (texts quoted, series by label).
    """

    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def check_figure(fig: Figure, tight: bool = False) -> list[Defect]:
    """Defects of a figure (drawn here once); an empty list means none was found.

    Args:
        fig: The figure, complete as it is saved.
        tight: Whether it is saved with ``bbox_inches="tight"`` (the canvas is then the tight
            bounding box, so text beyond the figure's own size is not cut off).

    Returns:
        The defects, texts first, then the series of each axes.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    canvas = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans) if tight else fig.bbox
    defects = _text_defects(fig, renderer, canvas)
    for ax in fig.axes:
        if _is_colorbar(ax) or not ax.get_visible() or ax.name == "3d":
            continue
        defects += _series_defects(ax)
    for leg in _legends(fig):
        defects += _legend_defects(fig, leg, renderer)
    return defects


# ---------------------------------------------------------------------------------------------
# text


def _is_colorbar(ax: Axes) -> bool:
    return ax.get_label() == "<colorbar>" or hasattr(ax, "_colorbar")


def _legends(fig: Figure) -> list[Legend]:
    legs = [leg for leg in fig.legends if leg.get_visible()]
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is not None and leg.get_visible() and ax.get_visible():
            legs.append(leg)
    return legs


def _tick_labels(axis: Any) -> list[Text]:
    """Tick labels drawn on an axis (ticks inside the view, labels switched on)."""
    try:
        ticks = axis._update_ticks()  # the ticks the axis draws
    except AttributeError:  # pragma: no cover - other matplotlib versions
        ticks = axis.get_major_ticks()
    lo, hi = sorted(axis.get_view_interval())
    span = hi - lo
    out = []
    for tick in ticks:
        loc = tick.get_loc()
        if loc is not None and not lo - 1e-9 * span <= loc <= hi + 1e-9 * span:
            continue  # not drawn
        for lab in (tick.label1, tick.label2):
            if lab.get_visible():
                out.append(lab)
    return out


def _texts(fig: Figure) -> list[tuple[Text, str]]:
    """Every text artist of the figure with a description of where it sits."""
    found: list[tuple[Text, str]] = [(t, "figure text") for t in fig.texts]
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        where = "colorbar" if _is_colorbar(ax) else f"axes {i}"
        for t in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None)):
            if t is not None:
                found.append((t, f"{where} title"))
        axes = [ax.xaxis, ax.yaxis] + ([ax.zaxis] if hasattr(ax, "zaxis") else [])
        shown = ax.axison or getattr(ax, "_axis3don", False)  # 3-D axes: their own switch
        for axis in axes if shown else []:
            if not axis.get_visible():
                continue  # e.g. the shared x axis of a twin
            name = axis.axis_name
            found.append((axis.label, f"{where} {name} label"))
            found.append((axis.get_offset_text(), f"{where} {name} offset"))
            if ax.name != "3d":  # 3-D tick labels sit along slanted edges, their boxes overlap
                found += [(t, f"{where} {name} tick label") for t in _tick_labels(axis)]
        found += [(t, f"{where} text") for t in ax.texts]
    for leg in _legends(fig):
        found += [(t, "legend") for t in leg.get_texts()]
        found.append((leg.get_title(), "legend title"))
    unique: dict[int, tuple[Text, str]] = {}
    for t, where in found:
        if _shown(t):
            unique.setdefault(id(t), (t, where))
    return list(unique.values())


def _shown(t: Text) -> bool:
    if not t.get_visible() or not t.get_text().strip():
        return False
    alpha = t.get_alpha()
    return alpha is None or alpha > 0


def _text_defects(fig: Figure, renderer: RendererBase, canvas: BboxBase) -> list[Defect]:
    boxes = []
    for t, where in _texts(fig):
        try:
            box = t.get_window_extent(renderer)
        except (RuntimeError, ValueError):  # pragma: no cover - text without a renderer
            continue
        if not (np.isfinite(box.get_points()).all() and box.width > 0 and box.height > 0):
            continue
        boxes.append((t, where, box))
    defects = []
    for (t1, w1, b1), (t2, w2, b2) in itertools.combinations(boxes, 2):
        if _overlap(b1, b2) > OVERLAP_PX:
            defects.append(Defect("overlap", f"{w1} {_q(t1)} overlaps {w2} {_q(t2)}"))
    for t, where, box in boxes:
        ax = t.axes
        if t in getattr(ax, "texts", ()) and _crosses(box, ax.bbox):  # type: ignore[union-attr]
            defects.append(Defect("outside", f"{where} {_q(t)} crosses the frame of its axes"))
        if (box.x0 < canvas.x0 - OVERLAP_PX or box.y0 < canvas.y0 - OVERLAP_PX
                or box.x1 > canvas.x1 + OVERLAP_PX or box.y1 > canvas.y1 + OVERLAP_PX):
            defects.append(Defect("outside", f"{where} {_q(t)} extends beyond the canvas"))
    return defects


def _crosses(box: Bbox, frame: Bbox) -> bool:
    """Whether a text box lies partly inside and partly outside a frame (a cut-through label).

    A text wholly outside (a header above the axes) or wholly inside is fine.
    """
    if _overlap(box, frame) <= OVERLAP_PX:
        return False
    return (box.x0 < frame.x0 - OVERLAP_PX or box.x1 > frame.x1 + OVERLAP_PX
            or box.y0 < frame.y0 - OVERLAP_PX or box.y1 > frame.y1 + OVERLAP_PX)


def _overlap(a: Bbox, b: Bbox) -> float:
    """Smaller side of the intersection of two boxes in pixels (<= 0 if disjoint)."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return min(w, h)


def _q(t: Text) -> str:
    s = t.get_text().replace("\n", " ")
    return repr(s if len(s) <= 40 else s[:37] + "...")


# ---------------------------------------------------------------------------------------------
# series


def _display_points(artist: Artist) -> list[np.ndarray]:
    """The artist's data in display coordinates, one array per path (finite rows only)."""
    out = []
    if isinstance(artist, Line2D):
        xy = np.asarray(artist.get_xydata(), dtype=float)
        if xy.size:
            out.append(artist.get_transform().transform(xy))
    elif isinstance(artist, PathCollection):
        offsets = np.asarray(artist.get_offsets(), dtype=float)
        if offsets.size:
            out.append(artist.get_offset_transform().transform(offsets))
    elif isinstance(artist, Collection):
        tr = artist.get_transform()
        for path in artist.get_paths():
            verts = np.asarray(path.vertices, dtype=float)
            if verts.size:
                out.append(tr.transform(verts))
    elif isinstance(artist, Patch):
        verts = np.asarray(artist.get_path().vertices, dtype=float)
        if verts.size:
            out.append(artist.get_transform().transform(verts))
    return [p[np.isfinite(p).all(axis=1)] if p.ndim == 2 else p for p in out]


def _all_nan(artist: Artist) -> bool:
    if isinstance(artist, Line2D):
        y = np.asarray(artist.get_ydata(), dtype=float)
        return y.size > 0 and not np.isfinite(y).any()
    if isinstance(artist, PathCollection):
        off = np.asarray(artist.get_offsets(), dtype=float)
        return off.size > 0 and not np.isfinite(off).all(axis=1).any()
    if isinstance(artist, PolyCollection):
        paths = artist.get_paths()
        verts = [np.asarray(p.vertices, dtype=float) for p in paths]
        return bool(verts) and all(not np.isfinite(v).all(axis=1).any() for v in verts if v.size)
    return False


def _name(artist: Artist) -> str:
    label = str(artist.get_label() or "")
    kind = type(artist).__name__
    return f"{kind} {label!r}" if label and not label.startswith("_") else f"unlabelled {kind}"


def _series(ax: Axes) -> list[Artist]:
    arts: list[Artist] = [*ax.lines, *ax.collections, *ax.patches]
    return [a for a in arts if a.get_visible()]


def _series_defects(ax: Axes) -> list[Defect]:
    """All-NaN series and data cut by the view limits of one axes."""
    defects = []
    frame = ax.bbox
    tol_x = CUT_TOLERANCE * frame.width + 1.0
    tol_y = CUT_TOLERANCE * frame.height + 1.0
    title = ax.get_title() or ax.get_ylabel() or "axes"
    for art in _series(ax):
        if _all_nan(art):
            defects.append(Defect("nan", f"{_name(art)} in {title!r} has only NaN data"))
            continue
        if not art.get_clip_on():
            continue
        for pts in _display_points(art):
            if not pts.size:
                continue
            side = []
            if pts[:, 0].min() < frame.x0 - tol_x:
                side.append("left")
            if pts[:, 0].max() > frame.x1 + tol_x:
                side.append("right")
            if pts[:, 1].min() < frame.y0 - tol_y:
                side.append("bottom")
            if pts[:, 1].max() > frame.y1 + tol_y:
                side.append("top")
            if side:
                defects.append(Defect("cut", f"{_name(art)} in {title!r} is cut at the "
                                             f"{'/'.join(side)} of the view"))
                break
    return defects


def _edge_drawn(art: Artist) -> bool:
    if isinstance(art, Collection):
        lws = np.atleast_1d(art.get_linewidth())
        ecs = np.atleast_2d(art.get_edgecolor())
        return bool(lws.size and lws.max() > 0 and ecs.size and ecs[:, 3].max() > 0)
    if isinstance(art, Patch):
        return bool(art.get_linewidth() > 0 and _alpha(art.get_edgecolor()) > 0)
    return True


def _alpha(colour: Any) -> float:
    return float(to_rgba(colour)[3])


def _filled(art: Artist) -> bool:
    if isinstance(art, Collection):
        fcs = np.atleast_2d(art.get_facecolor())
        return bool(fcs.size and fcs[:, 3].max() > 0)
    if isinstance(art, Patch):
        return bool(art.get_fill() and _alpha(art.get_facecolor()) > 0)
    return False


def _thickness(pts: np.ndarray) -> float:
    """Mean thickness of a closed polygon in pixels (twice its area over its perimeter)."""
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0], pts[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    perimeter = float(np.hypot(*np.diff(np.vstack([pts, pts[:1]]), axis=0).T).sum())
    return 2.0 * area / perimeter if perimeter > 0 else 0.0


def _in_view(pts: np.ndarray, frame: Bbox) -> np.ndarray:
    return ((pts[:, 0] >= frame.x0 - 0.5) & (pts[:, 0] <= frame.x1 + 0.5)
            & (pts[:, 1] >= frame.y0 - 0.5) & (pts[:, 1] <= frame.y1 + 0.5))


def _shows_something(art: Artist) -> bool:
    """Whether a series draws anything inside its axes' view."""
    ax = art.axes
    if ax is None or not art.get_visible():
        return False
    frame = ax.bbox
    paths = _display_points(art)
    if isinstance(art, Line2D):
        has_marker = art.get_marker() not in (None, "None", "none", "", " ")
        has_line = art.get_linestyle() not in ("None", "none", "", " ")
        for pts in paths:
            inside = _in_view(pts, frame)
            if has_marker and inside.any():
                return True
            if has_line and len(pts) >= 2:
                box = Bbox.from_extents(*pts.min(axis=0), *pts.max(axis=0))
                if inside.any() or _overlap(box, frame) > -0.5:
                    return True
        return False
    if isinstance(art, PathCollection):
        return any(_in_view(pts, frame).any() for pts in paths)
    if isinstance(art, (Collection, Patch)):
        edge, filled = _edge_drawn(art), _filled(art)
        for pts in paths:
            if len(pts) == 0:
                continue
            box = Bbox.from_extents(*pts.min(axis=0), *pts.max(axis=0))
            if _overlap(box, frame) < -0.5:
                continue
            if edge or (filled and _thickness(pts) >= THIN_PX):
                return True
        return False
    return True  # images, meshes: drawn over their extent


def _legend_defects(fig: Figure, leg: Legend, renderer: RendererBase) -> list[Defect]:
    """Legend entries without a visible series; a legend box over data."""
    defects = []
    by_label: dict[str, list[Artist]] = {}
    for ax in fig.axes:
        if _is_colorbar(ax):
            continue
        for art in [*ax.lines, *ax.collections, *ax.patches, *ax.images]:
            by_label.setdefault(str(art.get_label()), []).append(art)
        for cont in ax.containers:
            by_label.setdefault(str(cont.get_label()), []).append(cont)  # type: ignore[arg-type]
    for text in leg.get_texts():
        label = text.get_text()
        arts = by_label.get(label)
        if not label or not arts:
            continue  # a proxy artist drawn only in the legend: nothing to compare
        if any(a.axes is not None and a.axes.name == "3d" for a in arts
               if not isinstance(a, Container)):
            continue
        if not any(_entry_shown(a) for a in arts):
            defects.append(Defect("absent", f"legend entry {label!r} has no visible series "
                                            "in its axes"))
    box = leg.get_window_extent(renderer)
    for ax in fig.axes:
        if _is_colorbar(ax) or ax.name == "3d" or not ax.get_visible():
            continue
        if _overlap(box, ax.bbox) <= OVERLAP_PX:
            continue
        for art in _series(ax):
            if _covers(box, art):
                first = leg.get_texts()[0].get_text() if leg.get_texts() else ""
                defects.append(Defect("hidden", f"legend {first!r}... lies over "
                                                f"{_name(art)} in {ax.get_title()!r}"))
                break
    return defects


def _entry_shown(art: Artist | Container) -> bool:
    if isinstance(art, Container):
        return any(_shows_something(c) for c in art.get_children() if c is not None)
    return _shows_something(art)


def _covers(box: Bbox, art: Artist) -> bool:
    """Whether a legend box lies over part of a series (a vertex, or a bar's rectangle)."""
    inner = Bbox.from_extents(box.x0 + OVERLAP_PX, box.y0 + OVERLAP_PX,
                              box.x1 - OVERLAP_PX, box.y1 - OVERLAP_PX)
    for pts in _display_points(art):
        if not len(pts):
            continue
        if isinstance(art, Patch) and _filled(art):
            pbox = Bbox.from_extents(*pts.min(axis=0), *pts.max(axis=0))
            if _overlap(pbox, inner) > 0 and _overlap(pbox, art.axes.bbox) > 0:  # type: ignore
                return True
        elif _in_view(pts, inner).any():
            return True
    return False
