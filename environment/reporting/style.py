"""The one figure style of every command (``matplotlib.rc_context(STYLE)``) and its helpers.

Reporting modules never switch the matplotlib backend: the command line selects the
non-interactive ``Agg`` backend once at start-up (``environment.cli.main``), and a user importing
these functions in a notebook keeps their own backend.

Conventions every figure follows (helpers below):

* time axes are hours of the day labelled ``HH:MM`` (``clock_axis``), the same clock the console
  and the tables print;
* value axes leave a margin beyond the data extremes (``pad_ylim``), so no peak sits on the frame;
* legends sit outside the axes (``legend_outside``, ``figure_legend``), never over data;
* counts get integer ticks (``integer_axis``);
* shares (rates in [0, 1]) are clamped to [0, 1] with a small margin and no tick outside
  (``share_limits``);
* metrics are titled in words with their unit (``metric_title``), prices and costs carry the
  currency (``CURRENCY``);
* heat maps have no grid lines over them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import ticker

from scenarios.timeaxis import hhmm

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {"font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
                               "figure.dpi": 150, "savefig.bbox": "tight"}

MIN_REPLICATES_FOR_BANDS = 20
"""Below this many replicates, figures draw every replicate instead of percentile bands."""

CLOCK_LABEL = "time of day (HH:MM)"


def clock_label(hours: float) -> str:
    """``HH:MM`` of hours after midnight (wrapping at midnight, rounded to the minute).

    The end of a day reads ``24:00`` (not ``00:00``), so a 00:00-24:00 axis is unambiguous.
    """
    minutes = round(float(hours) * 60.0)
    if minutes > 0 and minutes % 1440 == 0:
        return "24:00"
    return hhmm(minutes)


class ClockLocator(ticker.Locator):
    """Ticks at whole multiples of a step (5 min .. 12 h) chosen from the visible span."""

    STEPS_H = (1 / 12, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 12.0)

    def __init__(self, max_ticks: int = 10) -> None:
        self.max_ticks = max_ticks

    def __call__(self) -> Sequence[float]:
        """Tick positions of the axis's current view."""
        assert self.axis is not None
        vmin, vmax = self.axis.get_view_interval()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        """Multiples of the smallest step giving at most ``max_ticks`` ticks in the range."""
        lo, hi = sorted((float(vmin), float(vmax)))
        span = max(hi - lo, 1e-9)
        step = next((s for s in self.STEPS_H if span / s <= self.max_ticks), 24.0)
        first = np.ceil(lo / step - 1e-9) * step
        return list(np.arange(first, hi + 1e-9, step))


def clock_axis(ax: Axes, label: str | None = CLOCK_LABEL) -> None:
    """Label the x axis (hours after midnight) with ``HH:MM`` ticks."""
    ax.xaxis.set_major_locator(ClockLocator())
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda h, _pos: clock_label(h)))
    if label:
        ax.set_xlabel(label)


def pad_ylim(ax: Axes, frac: float = 0.06, top_frac: float | None = None,
             values: Iterable[Any] | None = None) -> tuple[float, float]:
    """Set the y limits strictly beyond the data extremes (a margin of ``frac`` of the span).

    Matplotlib's sticky edges (filled ``stairs`` with a baseline, bars) otherwise put an extreme
    exactly on the frame. The extent is ``values`` when given, else the axes' data limits.
    """
    if values is not None:
        arrs = [np.asarray(v, dtype=float).ravel() for v in values]
        data = np.concatenate(arrs) if arrs else np.array([])
        data = data[np.isfinite(data)]
        lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
    else:
        lo, hi = (float(v) for v in ax.dataLim.intervaly)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            lo, hi = 0.0, 1.0
    span = hi - lo
    if span <= 0:
        span = max(abs(hi), 1.0)
    bottom, top = lo - frac * span, hi + (frac if top_frac is None else top_frac) * span
    ax.set_ylim(bottom, top)
    return bottom, top


def integer_axis(ax: Axes, which: str = "y", nbins: int | None = None) -> None:
    """Integer ticks on a count axis."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_locator(ticker.MaxNLocator(nbins="auto" if nbins is None else nbins,
                                              integer=True))


class ShareLocator(ticker.MaxNLocator):
    """Ticks of a share axis: at most ``nbins`` round values, none outside ``[0, 1]``."""

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        """The ``MaxNLocator`` ticks inside ``[0, 1]``."""
        ticks = np.asarray(super().tick_values(vmin, vmax), dtype=float)
        return list(ticks[(ticks >= -1e-9) & (ticks <= 1.0 + 1e-9)])


def share_limits(ax: Axes, values: Iterable[Any], which: str = "y",
                 margin: float = 0.02) -> tuple[float, float]:
    """Limits of a share axis: the data with a margin, inside ``[0, 1]`` (ticks too).

    The visible range spans at least 0.1 and never more than ``[0, 1]``; the frame lies
    ``margin`` of that span beyond it, so a share of exactly 0 or 1 is not drawn on the frame,
    and no tick reads an impossible share (``ShareLocator``).
    """
    data = np.asarray(list(values), dtype=float).ravel()
    data = data[np.isfinite(data)]
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
    lo, hi = min(max(lo, 0.0), 1.0), min(max(hi, 0.0), 1.0)
    pad = max(0.05, 0.1 * (hi - lo))
    lo_v, hi_v = max(0.0, lo - pad), min(1.0, hi + pad)
    edge = margin * (hi_v - lo_v)
    lim = (lo_v - edge, hi_v + edge)
    (ax.set_ylim if which == "y" else ax.set_xlim)(*lim)
    (ax.yaxis if which == "y" else ax.xaxis).set_major_locator(
        ShareLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10]))
    return lim


CURRENCY = "CNY"
"""Currency of every cost and price (the scenarios' prices are in CNY; they name no currency)."""

METRIC_TITLES = {
    "deliverability_rate": "calls delivered (share of calls)",
    "shortfall_kwh": "departure shortfall (kWh)",
    "bte_ch_kwh": "BTE charging energy (kWh)",
    "rt_station_area_kwh": "RT station-layer envelope area (kWh)",
    "rt_distribution_area_kwh": "RT distribution-layer envelope area (kWh)",
    "rt_transmission_area_kwh": "RT transmission-layer envelope area (kWh)",
    "hold_rate_da": "hold rate, DA boundary (share of calls)",
    "hold_rate_prev": "hold rate, previous RT boundary (share of calls)",
    "hold_rate_rt": "hold rate, RT boundary (share of calls)",
}
"""Readable titles (with units) of the Monte Carlo day metrics."""

_UNITS = (("_kwh", "kWh"), ("_kw", "kW"), ("_pct", "%"), ("_pu", "p.u."), ("_s", "s"),
          ("_rate", "share"), ("_share", "share"))


def metric_title(name: str) -> str:
    """Readable title of a metric column with its unit (``METRIC_TITLES``, else the suffix)."""
    if name in METRIC_TITLES:
        return METRIC_TITLES[name]
    for suffix, unit in _UNITS:
        if name.endswith(suffix):
            stem = name if unit == "share" else name[: -len(suffix)]
            return f"{stem.replace('_', ' ')} ({unit})"
    return name.replace("_", " ")


def is_share(name: str) -> bool:
    """Whether a metric name denotes a share in [0, 1] (rates, shares, hold rates)."""
    return name.endswith(("_rate", "_share")) or name.startswith("hold_rate")


def legend_outside(ax: Axes, handles: list | None = None, labels: list[str] | None = None,
                   **kwargs: Any) -> Legend:
    """Legend to the right of the axes (top-aligned), where it cannot hide data."""
    opts: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0),
                            "borderaxespad": 0.0, "fontsize": 7, "framealpha": 0.9}
    opts.update(kwargs)
    if handles is not None:
        return ax.legend(handles, labels if labels is not None
                         else [h.get_label() for h in handles], **opts)
    return ax.legend(**opts)


def figure_legend(fig: Figure, axes: Iterable[Axes], loc: str = "outside right upper",
                  **kwargs: Any) -> Legend | None:
    """One legend for several axes, outside them (needs ``layout="constrained"``)."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if not lab.startswith("_"):
                seen.setdefault(lab, h)
    if not seen:
        return None
    opts: dict[str, Any] = {"fontsize": 7, "framealpha": 0.9}
    opts.update(kwargs)
    opts["loc"] = loc
    return fig.legend(list(seen.values()), list(seen), **opts)
