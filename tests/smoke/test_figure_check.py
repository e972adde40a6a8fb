"""The automatic figure check on purpose-built figures, good and bad, and one real figure broken.

Each bad figure has exactly the defect its test names; the good figures (shared axes, twins,
colorbars, hidden tick labels, legends outside) must pass without a false alarm.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from environment.reporting import sim_report
from environment.reporting.figure_check import Defect, check_figure
from environment.reporting.style import STYLE, legend_outside, pad_ylim
from flexibility.stations import TOTAL_LABEL
from scenarios.timeaxis import TimeAxis


@pytest.fixture(autouse=True)
def _close_all():
    yield
    plt.close("all")


def _kinds(defects: list[Defect]) -> set[str]:
    return {d.kind for d in defects}


def _good() -> plt.Figure:
    fig, (a, b) = plt.subplots(2, 1, figsize=(6, 4), sharex=True, layout="constrained")
    x = np.linspace(0, 10, 50)
    a.plot(x, np.sin(x), label="sine")
    a.fill_between(x, np.sin(x) - 0.2, np.sin(x) + 0.2, alpha=0.3, label="band")
    a.bar([2, 5], [0.5, -0.5], width=0.5, label="bars")
    tw = a.twinx()
    tw.plot(x, 100 * x, color="tab:red", label="ramp")
    b.scatter(x, np.cos(x), s=4, label="dots")
    b.axhline(0.0, color="k")
    a.set_title("Two panels")
    a.set_ylabel("value")
    b.set_xlabel("x (unit)")
    fig.legend(loc="outside right upper")
    return fig


def test_good_figure_passes():
    assert check_figure(_good()) == []


def test_colorbar_image_and_hidden_texts_pass():
    fig, ax = plt.subplots(layout="constrained")
    im = ax.imshow(np.arange(12.0).reshape(3, 4), extent=(0, 4, 0, 3))
    fig.colorbar(im, ax=ax, extend="both", label="level (unit)")
    ax.text(0.5, 0.5, "", transform=ax.transAxes)
    ax.text(0.5, 0.5, "hidden", transform=ax.transAxes, visible=False)
    ax.text(0.5, 0.5, "   ", transform=ax.transAxes)
    ax.tick_params(labelbottom=False)
    assert check_figure(fig) == []


def test_overlapping_texts():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.text(0.5, 0.5, "first label", transform=ax.transAxes)
    ax.text(0.52, 0.5, "second label", transform=ax.transAxes)
    defects = check_figure(fig)
    assert _kinds(defects) == {"overlap"}
    assert "'first label'" in str(defects[0]) and "'second label'" in str(defects[0])


def test_banner_over_title():
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_title("The title")
    fig.tight_layout()
    bbox = ax.title.get_window_extent(fig.canvas.get_renderer())
    y = fig.transFigure.inverted().transform((0, bbox.y0 + 2))[1]
    fig.text(0.5, y, "WARNING: a long banner over the title", ha="center", va="bottom",
             color="red")
    assert "overlap" in _kinds(check_figure(fig))


def test_text_outside_the_canvas_unless_saved_tight():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beyond the figure's right edge
    assert _kinds(check_figure(fig)) == {"outside"}
    assert check_figure(fig, tight=True) == []


def test_label_cut_by_the_frame():
    fig, ax = plt.subplots()
    ax.scatter([0.0, 1.0], [0.0, 1.0])
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    ax.annotate("a long point label", (1.0, 1.0), textcoords="offset points", xytext=(5, 4))
    assert _kinds(check_figure(fig)) == {"outside"}


def test_legend_entry_outside_the_view():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="shown")
    ax.plot([5, 6], [0, 1], label="beyond xlim")
    ax.set_xlim(0, 1)
    legend_outside(ax)
    fig.tight_layout()
    defects = check_figure(fig, tight=True)
    assert any(d.kind == "absent" and "beyond xlim" in d.message for d in defects)
    assert not any("'shown'" in d.message for d in defects if d.kind == "absent")


def test_zero_width_band_is_absent_and_an_outline_is_not():
    x = np.arange(10.0)
    for edge, absent in ((None, True), ("k", False)):
        fig, ax = plt.subplots()
        ax.plot(x, x, label="line")
        ax.fill_between(x, x, x, alpha=0.3, linewidth=0 if edge is None else 0.8,
                        edgecolor=edge if edge else "none", label="band")
        legend_outside(ax)
        defects = check_figure(fig, tight=True)
        assert any(d.kind == "absent" and "'band'" in d.message for d in defects) == absent
        plt.close(fig)


def test_zero_height_bar_in_legend_is_absent():
    fig, ax = plt.subplots()
    ax.bar([0, 1], [1.0, 2.0], label="some")
    ax.bar([2], [0.0], label="none")
    pad_ylim(ax)
    legend_outside(ax)
    defects = check_figure(fig, tight=True)
    assert [d.message for d in defects if d.kind == "absent"] == [
        "legend entry 'none' has no visible series in its axes"]


def test_all_nan_line():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.plot([0, 1], [np.nan, np.nan], label="missing")
    assert _kinds(check_figure(fig)) == {"nan"}


def test_bar_clipped_by_ylim():
    fig, ax = plt.subplots()
    ax.bar([0, 1, 2], [1.0, 5.0, 2.0])
    ax.set_ylim(0, 3)
    defects = check_figure(fig)
    assert _kinds(defects) == {"cut"} and "top" in defects[0].message


def test_line_cut_but_small_overshoot_tolerated():
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0.0, 1.0, 0.5])
    ax.set_ylim(0, 0.999)  # a tenth of a per cent: within the tolerance
    assert check_figure(fig) == []
    ax.set_ylim(0, 0.8)
    assert _kinds(check_figure(fig)) == {"cut"}


def test_legend_over_data():
    fig, ax = plt.subplots()
    ax.bar(np.arange(5), [5.0, 5, 5, 5, 5], label="tall bars")
    ax.set_ylim(0, 5.2)
    ax.legend(loc="upper right")
    assert "hidden" in _kinds(check_figure(fig))


def test_3d_axes_checked_for_text_only():
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    ax.scatter([0, 1], [0, 1], [0, 1], label="points")
    ax.set_xlim(0, 0.5)
    ax.set_title("3-D")
    assert "cut" not in _kinds(check_figure(fig))


AXIS = TimeAxis(start_min=0, dt_min=15, n_intervals=24)


def _ticks() -> pd.DataFrame:
    n = AXIS.n_intervals
    up = 60 + 20 * np.sin(np.arange(n) / 3)
    return pd.DataFrame({"t": np.arange(n), "time_min": 15.0 * np.arange(n),
                         "station": TOTAL_LABEL, "p_up_kw": up, "p_down_kw": -40.0 - up / 2,
                         "da_p_up_kw": np.full(n, 40.0), "da_p_down_kw": np.full(n, -20.0)})


def _saved(monkeypatch) -> list:
    kept: list = []
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    return kept


def test_real_figure_passes_and_fails_when_broken(tmp_path, monkeypatch):
    """The DA-vs-RT figure passes; with its limits cut (a broken ``pad_ylim``) it fails."""
    kept = _saved(monkeypatch)
    sim_report.plot_da_vs_rt(tmp_path / "ok.png", _ticks(), AXIS)
    with plt.rc_context(STYLE):
        assert check_figure(kept[0], tight=True) == []

    def too_tight(ax, *args, **kwargs):
        ax.set_ylim(0.0, 50.0)  # cuts P_down (negative) and the P_up peak
        return 0.0, 50.0

    monkeypatch.setattr(sim_report, "pad_ylim", too_tight)
    sim_report.plot_da_vs_rt(tmp_path / "broken.png", _ticks(), AXIS)
    defects = check_figure(kept[1], tight=True)
    assert "cut" in _kinds(defects)
    assert any("RT P_down" in d.message for d in defects)
