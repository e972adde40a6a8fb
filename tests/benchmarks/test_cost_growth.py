"""Cost growth of a co-simulated day against EVs and feeder buses.

Run: python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_cost_growth.py -s

Each point is one ``run_sim.py simulate`` in its own process (wall time and peak RSS from
``/usr/bin/time``), BLAS pinned to one thread by the CLI:

* EVs: the paper case (case33bw, 4 stations) with 1,000 / 3,000 / 10,000 / 30,000 EVs;
* buses: 1,000 EVs at 4 stations on case33bw (33 buses), SimBench ``1-MV-urban--0-sw`` (139)
  and ``1-MVLV-urban-all-0-sw`` (10,453).

Every run uses 50 sampled days per station (``simulation.n_scenarios``) and no calibration days
so that 30,000 EVs fit in memory. Writes ``cost_growth.parquet`` and ``cost_growth.png`` to
``$EVFLEX_BENCH_OUT`` (default: the test's temporary folder) and prints the table.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.benchmark
ROOT = Path(__file__).resolve().parents[2]
EV_COUNTS = (1_000, 3_000, 10_000, 30_000)
FEEDERS = (("case33bw", "one_based", (18, 25, 30, 33), 33),
           ("1-MV-urban--0-sw", "index", None, 139),
           ("1-MVLV-urban-all-0-sw", "index", None, 10_453))


def _scenario(path: Path, feeder: str, numbering: str, buses, n_ev: int) -> None:
    """The paper case with another feeder, station buses and EV count (TOML text)."""
    text = (ROOT / "scenarios" / "paper_case.toml").read_text()
    text = re.sub(r'(?m)^feeder = .*$', f'feeder = "{feeder}"', text)
    text = re.sub(r'(?m)^bus_numbering = .*$', f'bus_numbering = "{numbering}"', text)
    text = re.sub(r"(?m)^n_ev = \d+", f"n_ev = {n_ev // 4}", text)
    text = re.sub(r"(?m)^chargers = \d+", f"chargers = {max(20, n_ev // 16)}", text)
    text = re.sub(r"(?m)^n_scenarios = \d+", "n_scenarios = 50", text)
    text = re.sub(r"(?m)^coverage_days = \d+", "", text)
    text = text.replace("[assessment]", "[assessment]\ncoverage_days = 0")
    if buses is not None:
        for i, b in enumerate(buses):
            text = re.sub(rf"(?m)^bus = {(18, 25, 30, 33)[i]}$", f"bus = __{b}", text)
        text = text.replace("bus = __", "bus = ")
    if "[simulation]" not in text:
        text += "\n[simulation]\nn_scenarios = 50\n"
    path.write_text(text)


def _station_buses(feeder: str) -> tuple[int, ...]:
    """Four station buses (pandapower indices): the LV busbars of four MV/LV transformers
    where the feeder has them (as in ``city.toml``), else buses spread over the depth."""
    from grid.feeder import load_feeder

    fe = load_feeder(feeder)
    tr = fe.net.trafo[fe.net.trafo.vn_lv_kv < 1.0].sort_index()
    if len(tr) >= 4:
        return tuple(int(b) for b in tr.lv_bus.iloc[np.linspace(0, len(tr) - 1, 4).astype(int)])
    depth = np.asarray(fe.downstream().sum(axis=0)).ravel()
    order = np.argsort(depth, kind="stable")
    picks = order[np.linspace(len(order) // 4, len(order) - 1, 4).astype(int)]
    return tuple(int(fe.bus_index[p]) for p in picks)


def _run(scenario: Path, out: Path) -> tuple[float, float, int]:
    cmd = ["/usr/bin/time", "-f", "%e %M", sys.executable, "run_sim.py", "simulate",
           "--scenario", str(scenario), "--out", str(out), "--quiet", "--no-plots"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall, rss_kb = res.stderr.strip().splitlines()[-1].split()
    return float(wall), float(rss_kb) / 1e6, res.returncode


def test_cost_growth(benchmark, tmp_path):
    out = Path(os.environ.get("EVFLEX_BENCH_OUT", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in EV_COUNTS:
        sc = tmp_path / f"ev{n}.toml"
        _scenario(sc, "case33bw", "one_based", None, n)
        wall, rss, rc = _run(sc, tmp_path / f"ev{n}")
        rows.append(("evs", "case33bw", 33, n, wall, rss, rc))
    for feeder, numbering, buses, n_bus in FEEDERS:
        sc = tmp_path / f"bus{n_bus}.toml"
        _scenario(sc, feeder, numbering, buses or _station_buses(feeder), 1_000)
        wall, rss, rc = _run(sc, tmp_path / f"bus{n_bus}")
        rows.append(("buses", feeder, n_bus, 1_000, wall, rss, rc))
    table = pd.DataFrame(rows, columns=["sweep", "feeder", "buses", "evs", "wall_s", "rss_gb",
                                        "exit_code"])
    table.to_parquet(out / "cost_growth.parquet", index=False)
    _plot(table, out / "cost_growth.png")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update({"table": table.to_dict("records")})
    print("\n" + table.to_string(index=False))
    ev = table[table.sweep == "evs"]
    slope = np.polyfit(ev.evs, ev.wall_s, 1)
    print(f"wall time vs EVs: {slope[1]:.1f} s + {slope[0] * 1e3:.2f} ms per EV")
    assert (table.exit_code != 2).all()


def _plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for ax, sweep, x, label in ((axes[0], "evs", "evs", "EVs (case33bw, 4 stations)"),
                                (axes[1], "buses", "buses", "feeder buses (1,000 EVs)")):
        d = table[table.sweep == sweep]
        ax.plot(d[x], d.wall_s, "o-", color="C0", label="wall time")
        if sweep == "buses":
            ax.set_xscale("log")
        else:
            ax.set_xlim(left=0)
            ax.set_ylim(bottom=0)
        ax.set_xlabel(label)
        ax.set_ylabel("wall time per simulated day (s)")
        ax2 = ax.twinx()
        ax2.plot(d[x], d.rss_gb, "s--", color="C1", label="peak RSS")
        ax2.set_ylabel("peak RSS (GB)", color="C1")
        ax.grid(alpha=0.3)
    axes[0].set_title("cost against EV count")
    axes[1].set_title("cost against feeder size")
    fig.savefig(path, dpi=150)
    plt.close(fig)
