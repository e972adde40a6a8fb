"""Figures on small synthetic frames: margins, legends, counts, clock ticks, the DA-vs-RT metric;
and every figure the commands write, on real runs, through the automatic figure check.

Each plotting function is run as the commands run it; ``plt.close`` is intercepted so that the
figure can be inspected after it was saved. The real runs intercept ``Figure.savefig`` and check
each figure (``environment.reporting.figure_check``) just before it is written.
"""

import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib import ticker
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from environment.cli.main import main
from environment.reporting import grid_plots, mc_report, sim_report
from environment.reporting.figure_check import check_figure
from environment.reporting.style import MIN_REPLICATES_FOR_BANDS, ClockLocator, clock_label
from flexibility.stations import TOTAL_LABEL
from scenarios.timeaxis import TimeAxis

AXIS = TimeAxis(start_min=17 * 60, dt_min=15, n_intervals=24)
HHMM = re.compile(r"^\d\d:\d\d$")


@pytest.fixture
def figures(monkeypatch):
    """Figures the plotting functions closed, kept open for inspection."""
    close = plt.close
    kept: list = []
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    yield kept
    for fig in kept:
        close(fig)


def _data_y(ax) -> tuple[float, float]:
    lo, hi = ax.dataLim.intervaly
    return float(lo), float(hi)


def _assert_margins(ax, lo: float, hi: float) -> None:
    y0, y1 = ax.get_ylim()
    assert y0 < lo and y1 > hi, f"y-limits {(y0, y1)} touch the data extremes {(lo, hi)}"


def _assert_legends_off_axes(fig) -> None:
    fig.canvas.draw()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    assert legends, "expected a legend"
    renderer = fig.canvas.get_renderer()
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert not box.overlaps(ax.get_window_extent(renderer)), \
                f"legend {leg.get_texts()[0].get_text()!r} lies over an axes"


def _assert_clock_ticks(ax) -> None:
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(HHMM.match(s) for s in labels), labels


def _ticks(n: int = 24, reps: int = 1, da_up: float = 40.0, queue: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for r in range(reps):
        for station in ("CS1", "CS2", TOTAL_LABEL):
            up = 60 + 20 * np.sin(np.arange(n) / 3) + rng.normal(0, 3, n)
            rows.append(pd.DataFrame({
                "replicate": r, "t": np.arange(n), "time_min": 15.0 * np.arange(n),
                "station": station, "p_up_kw": up, "p_down_kw": -140.0 + np.arange(n),
                "da_p_up_kw": np.full(n, da_up), "da_p_down_kw": np.full(n, -20.0),
                "station_p_max_kw": up + 30, "station_p_min_kw": -150.0 + np.arange(n),
                "dist_p_max_kw": up + 10, "dist_p_min_kw": -145.0 + np.arange(n),
                "connected": rng.integers(0, 9, n),
                "queue": (np.arange(n) % 7 == 3).astype(int) if queue else np.zeros(n, int)}))
    return pd.concat(rows, ignore_index=True)


def test_three_layers_margins_and_legend(tmp_path, figures):
    T = AXIS.n_intervals
    down = np.linspace(0, 140, T)  # the discharge peak (-140) used to sit on the frame
    env = SimpleNamespace(p_ch_max_kw=np.linspace(10, 200, T), p_dis_max_kw=down, n_intervals=T)
    bnd = SimpleNamespace(p_up_kw=np.linspace(5, 90, T), p_down_kw=-0.5 * down)
    st = SimpleNamespace(da=SimpleNamespace(total=env))
    gr = SimpleNamespace(da=SimpleNamespace(distribution=SimpleNamespace(total=env),
                                            transmission=SimpleNamespace(total=bnd)))
    grid_plots.plot_three_layers(tmp_path / "f.png", st, gr, AXIS)
    (ax,) = figures[0].axes
    _assert_margins(ax, -140.0, 200.0)
    _assert_legends_off_axes(figures[0])
    _assert_clock_ticks(ax)


def test_da_vs_rt_margins_legend_clock(tmp_path, figures):
    ticks = _ticks()
    sim_report.plot_da_vs_rt(tmp_path / "f.png", ticks, AXIS)
    (ax,) = figures[0].axes
    a = ticks[ticks.station == TOTAL_LABEL]
    _assert_margins(ax, float(a.p_down_kw.min()), float(a.p_up_kw.max()))
    _assert_legends_off_axes(figures[0])
    _assert_clock_ticks(ax)


def test_boundary_calls_margins(tmp_path, figures):
    ticks = _ticks()
    a = ticks.station == TOTAL_LABEL
    ticks["call_kw"] = np.where(a, 0.5 * ticks.p_up_kw, 0.0)
    ticks["delivered_kw"] = ticks.call_kw
    ticks["delivered_ok"] = True
    ticks["ac_violation"] = ""
    sim_report.plot_boundary_and_calls(tmp_path / "f.png", ticks, AXIS, "test")
    (ax,) = figures[0].axes
    lo, hi = _data_y(ax)
    _assert_margins(ax, lo, hi)
    _assert_legends_off_axes(figures[0])


def test_occupancy_counts_and_empty_queue(tmp_path, figures):
    sim_report.plot_occupancy(tmp_path / "f.png", _ticks(), AXIS)
    a, b = figures[0].axes
    assert isinstance(a.yaxis.get_major_locator(), ticker.MaxNLocator)
    assert all(float(v).is_integer() for v in a.get_yticks())
    assert not b.patches and not b.lines, "an all-zero queue panel should not draw lines"
    assert any("no queue" in t.get_text() for t in b.texts)
    _assert_legends_off_axes(figures[0])
    _assert_clock_ticks(b)


def test_occupancy_with_queue_integer_ticks(tmp_path, figures):
    sim_report.plot_occupancy(tmp_path / "f.png", _ticks(queue=True), AXIS)
    _, b = figures[0].axes
    b.figure.canvas.draw()
    assert b.patches and all(float(v).is_integer() for v in b.get_yticks())


def test_voltage_heatmap_anchored_without_grid(tmp_path, figures):
    T, buses = 8, 5
    vm = np.linspace(0.93, 1.0, T * buses)
    network = pd.DataFrame({"bus": np.repeat(np.arange(buses), T),
                            "t": np.tile(np.arange(T), buses), "vm_pu": vm})
    sim_report.plot_voltage_heatmap(tmp_path / "f.png", network, AXIS, 0.94, 1.06)
    ax = figures[0].axes[0]
    im, depth = ax.images  # the voltages, then the depth below the limit (0.93 < 0.94)
    assert (im.norm.vmin, im.norm.vmax) == (0.94, 1.06)
    assert depth.norm.vmin == 0.0 and depth.norm.vmax == pytest.approx(0.01)
    assert not any(c.get_hatch() for c in ax.collections), "hatching hides the severity"
    assert not any(g.get_visible() for g in ax.get_xgridlines() + ax.get_ygridlines())
    _assert_clock_ticks(ax)


def test_pq_binding_bars_aligned(tmp_path, figures):
    T, K = 12, 8
    binding = np.zeros((T, K), int)
    binding[:, :5] = 3
    binding[:4, 5:] = 2
    pq = SimpleNamespace(dominant=lambda: ["converter"] * (T - 2) + ["thermal"] * 2,
                         binding=binding)
    grid_plots.plot_binding(tmp_path / "f.png", SimpleNamespace(pq=pq), AXIS)
    a, b = figures[0].axes
    assert a.get_ylim() == b.get_ylim()
    centres = sorted(p.get_y() + p.get_height() / 2 for p in b.patches)
    assert np.allclose(centres, a.get_yticks())
    assert isinstance(b.xaxis.get_major_locator(), ticker.MaxNLocator)
    widths = [p.get_width() for p in b.patches]
    assert widths[3] == 5 * T and widths[2] == 3 * 4  # bar i is the count of label i


@pytest.mark.parametrize("reps", [4, MIN_REPLICATES_FOR_BANDS])
def test_fan_charts_bands_only_with_enough_replicates(tmp_path, figures, reps):
    ticks = _ticks(reps=reps)
    ticks = ticks[ticks.station == TOTAL_LABEL]
    mc_report.plot_fan_charts(tmp_path / "f.png", ticks, AXIS)
    fig = figures[0]
    bands = [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]
    texts = " ".join(t.get_text() for leg in fig.legends for t in leg.get_texts())
    if reps < MIN_REPLICATES_FOR_BANDS:
        assert not bands and f"each of {reps} replicates" in texts
        assert "5–95" not in fig.axes[0].get_title()
    else:
        assert bands and "5–95 %" in texts
    for ax in fig.axes:
        _assert_margins(ax, *_data_y(ax))


def test_histogram_share_axis_clamped(tmp_path, figures):
    m = pd.DataFrame({"replicate": range(4), "deliverability_rate": [1.0] * 4,
                      "shortfall_kwh": [0.0, 0.2, 0.0, 0.1]})
    mc_report.plot_histograms(tmp_path / "f.png", m, ["deliverability_rate", "shortfall_kwh"])
    ax = figures[0].axes[0]
    lo, hi = ax.get_xlim()
    assert -0.05 <= lo < 1.0 < hi <= 1.05, (lo, hi)
    figures[0].canvas.draw()
    assert all(0.0 <= v <= 1.0 for v in ax.get_xticks()), "a share tick outside [0, 1]"
    for ax in figures[0].axes[:2]:
        assert isinstance(ax.yaxis.get_major_locator(), ticker.MaxNLocator)
    assert [ax.get_title() for ax in figures[0].axes[:2]] == [
        "calls delivered (share of calls)", "departure shortfall (kWh)"]


def test_convergence_integer_n_share_inside_unit(tmp_path, figures):
    m = pd.DataFrame({"replicate": range(5), "deliverability_rate": [1.0, 0.9, 1.0, 1.0, 0.95],
                      "bte_ch_kwh": [10.0, 0.0, 0.5, 12.0, 3.0]})
    mc_report.plot_convergence(tmp_path / "f.png", m, ["deliverability_rate", "bte_ch_kwh"])
    fig = figures[0]
    fig.canvas.draw()
    share, energy = fig.axes
    for ax in fig.axes:
        assert all(float(v).is_integer() for v in ax.get_xticks())
        assert "_" not in ax.get_title() and "(" in ax.get_title()
    assert all(0.0 <= v <= 1.0 for v in share.get_yticks())
    band = energy.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() >= 0.0, "the CI of an energy went below zero"


def test_overstatement_bounded_when_da_near_zero():
    n, reps = 6, 3
    rows = []
    for r in range(reps):
        rows.append(pd.DataFrame({
            "replicate": r, "t": np.arange(n),
            "da_p_up_kw": [1e-6, 0.9, 2.0, 50.0, 0.0, 30.0],
            "da_p_down_kw": np.zeros(n),
            "p_up_kw": [20.0, 25.0, 2.0 - 1e-4, 40.0, 0.0, 30.0 - 1e-4],  # 1e-4 kW: noise
            "p_down_kw": np.zeros(n)}))
    table, summary = mc_report.da_rt_tables(pd.concat(rows, ignore_index=True))
    pct = table.overstatement_pct.to_numpy()
    assert np.isfinite(pct).all() and (np.abs(pct) <= 100.0 + 1e-9).all()
    assert pct[3] == pytest.approx(20.0)  # DA 50 vs RT 40: a fifth of the DA promise
    assert pct[4] == 0.0
    assert np.isfinite(summary["overstatement_pct_mean"])
    assert abs(summary["overstatement_pct_mean"]) <= 100.0
    # sub-watt differences are not "RT below DA"; only the 50 -> 40 kW interval counts
    assert table.rt_below_da_share.tolist() == [0, 0, 0, 1, 0, 0]
    assert summary["rt_below_da_ticks"] == reps
    assert summary["overstatement_kw_max"] == pytest.approx(10.0)
    assert abs(mc_report.overstatement_pct(np.array([-5.0]), np.array([5.0]))[0]) <= 200.0


def test_clock_locator_steps():
    assert list(ClockLocator().tick_values(17.0, 23.0)) == [17, 18, 19, 20, 21, 22, 23]
    ticks = ClockLocator().tick_values(0.0, 24.0)
    assert ticks[0] == 0 and ticks[-1] == 24 and len(ticks) <= 10
    assert [clock_label(h) for h in (0.0, 19.25, 24.0, 25.5)] == ["00:00", "19:15", "24:00",
                                                                  "01:30"]


# -- every figure of the commands, on real runs -------------------------------------------------
def _checked_run(argv: list[str], out: Path, monkeypatch) -> tuple[int, dict[str, list]]:
    """Run a command in-process; check each figure as it is saved (file name -> defects)."""
    checked: dict[str, list] = {}
    save = Figure.savefig

    def savefig(fig, fname, *args, **kwargs):
        tight = kwargs.get("bbox_inches", matplotlib.rcParams["savefig.bbox"]) == "tight"
        checked[Path(str(fname)).name] = check_figure(fig, tight=tight)
        return save(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    code = main([*argv, "--out", str(out), "--quiet"])
    return code, checked


RUNS = {
    "simulate": (["simulate"], {"boundary_calls", "voltage_heatmap", "da_vs_rt", "occupancy"}),
    "assess": (["assess"], {"three_layer_envelopes", "ac_validation", "pq_daily_range",
                            "alpha_sensitivity", "station_envelopes", "pq_sets", "pq_binding"}),
    "traffic": (["traffic", "--scenario", "nd_coupled"],
                {"gap_convergence", "link_queues", "dta_vs_sta_station_loads"}),
    "dispatch": (["dispatch", "--method", "all", "--replay-days", "200"],
                 {"dispatch_stack", "reserves", "risk_allocation", "cost_reliability"}),
}
SLOW_RUNS = {
    "zonal": (["dispatch", "--method", "zonal", "--scenario", "zonal_case"],
              {"partition", "zonal_stack", "area_loads"}),
    "montecarlo": (["montecarlo", "--replicates", "3"],
                   {"fan_charts", "histograms", "convergence"}),
    "flexibility-region": (["flexibility-region", "--budget", "1000,2000", "--tiers", "1000,2000",
                            "--band-min", "60",
                            "--step-deg", "90", "--refine", "0", "--reserve-mw", "0.15",
                            "--grid", "report", "--model", "both"],
                           {"hulls_dynamic", "hulls_static", "volume_vs_budget", "dta_vs_sta"}),
}


def _assert_figures_pass(name: str, spec, tmp_path, monkeypatch) -> None:
    argv, expected = spec
    out = tmp_path / name
    code, checked = _checked_run(argv, out, monkeypatch)
    assert code in (0, 3, 4), f"{name} exited {code}"
    written = {p.stem for p in out.rglob("*.png")}
    assert expected <= set(Path(f).stem for f in checked), sorted(checked)
    assert written <= {Path(f).stem for f in checked}, "a figure was written unchecked"
    bad = {f: [str(d) for d in defects] for f, defects in checked.items() if defects}
    assert not bad, bad


@pytest.mark.parametrize("name", list(RUNS))
def test_every_figure_of_the_command_passes_the_check(name, tmp_path, monkeypatch):
    _assert_figures_pass(name, RUNS[name], tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_RUNS))
def test_every_figure_of_the_slow_commands_passes_the_check(name, tmp_path, monkeypatch):
    _assert_figures_pass(name, SLOW_RUNS[name], tmp_path, monkeypatch)
