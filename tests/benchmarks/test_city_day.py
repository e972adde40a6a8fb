"""One city day and its cost against the number of EVs (goals: <= 30 s and <= 2 GB on one core;
time per EV about constant from 1,000 to 30,000 EVs).

Run: python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_city_day.py -s

Each run is one ``run_sim.py simulate --no-plots --quiet`` in its own process (BLAS pinned to
one thread by the CLI); its wall time, CPU time (user + system) and peak RSS come from the
operating system (``os.wait4``), its set-up and tick times from its ``summary.json``. On a
shared machine the wall time depends on the other processes; the CPU time much less, so the
growth is judged on CPU time.

* ``test_city_day``: the shipped ``city`` scenario (10,453 buses, 44 stations, about 10,600
  EVs), with how its EVs got a charger;
* ``test_city_cost_growth``: the same city with 1,000 / 3,000 / 10,000 / 30,000 EVs a day
  (``n_ev`` spread over the 44 stations, chargers scaled with them: 60 per 10,000 EVs).
  Each point runs ``ROUNDS`` times and keeps its least CPU time (the other processes of a
  shared machine only ever add to it). Reported per point: wall, CPU and peak RSS; a
  least-squares line ``t = a + b n`` (``a``: what does not grow with the EVs — imports, the
  10,453-bus grid, its AC checks every tick, the 44 stations' pools; ``b``: CPU per EV); the
  CPU per EV beyond the smallest fleet, ``(t_n - t_1000) / (n - 1000)``, and between
  successive points, ``(t_b - t_a) / (n_b - n_a)``, each also as a ratio to ``b`` (linear
  growth: about 1 everywhere; the step from 1,000 to 3,000 EVs, about 1 s of CPU, is within
  the noise of one run).

Writes ``city_day.json`` and ``city_cost_growth.json`` to ``$EVFLEX_BENCH_OUT`` (default: the
test's temporary folder) and prints the tables.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.benchmark
ROOT = Path(__file__).resolve().parents[2]
EV_COUNTS = (1_000, 3_000, 10_000, 30_000)
ROUNDS = 2
CHARGERS_PER_EV = 60 / 10_000


def run_simulate(scenario: str | Path, out: Path) -> dict:
    """One ``simulate`` in a child process: wall, CPU, peak RSS, exit code and summary."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "run_sim.py", "simulate", "--scenario", str(scenario), "--out",
           str(out / "run"), "--quiet", "--no-plots"]
    t0 = time.perf_counter()
    with (out / "stdout.txt").open("w") as so, (out / "stderr.txt").open("w") as se:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=so, stderr=se)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    summary_path = out / "run" / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "rss_gb": usage.ru_maxrss / 1e6, "exit_code": proc.returncode,
            "setup_s": summary.get("setup_s"), "ticks_s": summary.get("ticks_s"),
            "n_ev": summary.get("n_ev"), "access": summary.get("access"),
            "console": (out / "stdout.txt").read_text().strip()}


def city_with(n_ev: int, path: Path) -> Path:
    """The ``city`` scenario with ``n_ev`` EVs a day over its 44 stations (TOML text)."""
    text = (ROOT / "scenarios" / "city.toml").read_text()
    n_st = len(re.findall(r"(?m)^n_ev = \d+", text))
    per, extra = divmod(n_ev, n_st)
    counts = iter(per + (1 if j < extra else 0) for j in range(n_st))
    text = re.sub(r"(?m)^n_ev = \d+", lambda _: f"n_ev = {next(counts)}", text)
    chargers = max(1, round(CHARGERS_PER_EV * n_ev))
    text = re.sub(r"(?m)^chargers = \d+", f"chargers = {chargers}", text)
    text = re.sub(r'(?m)^name = "city"', f'name = "city_{n_ev}"', text)
    path.write_text(text)
    return path


def _out(tmp_path: Path) -> Path:
    out = Path(os.environ.get("EVFLEX_BENCH_OUT", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_city_day(benchmark, tmp_path):
    res = run_simulate("city", tmp_path / "city")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in res.items() if k != "console"})
    (_out(tmp_path) / "city_day.json").write_text(json.dumps(res, indent=1))
    print(f"\n{res['console']}\ncity day: wall {res['wall_s']:.1f} s, CPU {res['cpu_s']:.1f} s "
          f"(set-up {res['setup_s']:.1f} s + ticks {res['ticks_s']:.1f} s wall), peak RSS "
          f"{res['rss_gb']:.2f} GB, {res['n_ev']:,} EVs (goals: 30 s, 2 GB); load average "
          f"{os.getloadavg()[0]:.1f}")
    assert res["exit_code"] != 2


def test_city_cost_growth(benchmark, tmp_path):
    rows = []
    for n in EV_COUNTS:
        sc = city_with(n, tmp_path / f"city{n}.toml")
        runs = [run_simulate(sc, tmp_path / f"ev{n}_{r}") for r in range(ROUNDS)]
        res = min(runs, key=lambda r: r["cpu_s"])
        rows.append({"evs": n, **{k: v for k, v in res.items() if k != "console"},
                     "cpu_s_rounds": [r["cpu_s"] for r in runs]})
    cpu = np.array([r["cpu_s"] for r in rows])
    evs = np.array(EV_COUNTS, dtype=float)
    beyond = (cpu[1:] - cpu[0]) / (evs[1:] - evs[0]) * 1e3  # ms CPU per EV beyond 1,000 EVs
    marginal = np.diff(cpu) / np.diff(evs) * 1e3  # ms CPU per EV between successive points
    slope, intercept = np.polyfit(evs, cpu, 1)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    b_ms = slope * 1e3
    report = {"rows": rows, "beyond_first_ms_per_ev": beyond.tolist(),
              "beyond_first_ratio": (beyond / b_ms).tolist(),
              "marginal_ms_per_ev": marginal.tolist(),
              "marginal_ratio": (marginal / b_ms).tolist(),
              "fit": {"fixed_s": intercept, "ms_per_ev": b_ms}}
    benchmark.extra_info.update(report)
    (_out(tmp_path) / "city_cost_growth.json").write_text(json.dumps(report, indent=1))
    print("\n   EVs (realised)   wall s    CPU s   setup s   ticks s   RSS GB   exit")
    for r in rows:
        print(f"{r['evs']:6,d} ({r['n_ev']:6,d}) {r['wall_s']:8.1f} {r['cpu_s']:8.1f} "
              f"{r['setup_s']:9.1f} {r['ticks_s']:9.1f} {r['rss_gb']:8.2f} {r['exit_code']:6d}")
    first = ", ".join(f"{n:,}: {b:.2f} ms/EV (x{b / b_ms:.2f})"
                      for n, b in zip(EV_COUNTS[1:], beyond, strict=True))
    steps = ", ".join(f"{a:,}->{b:,}: {m:.2f} ms/EV (x{m / b_ms:.2f})"
                      for a, b, m in zip(EV_COUNTS, EV_COUNTS[1:], marginal, strict=False))
    print(f"least squares: {intercept:.1f} s + {b_ms:.2f} ms per EV (ratios below: to "
          f"{b_ms:.2f} ms)\nCPU per EV beyond 1,000 EVs {first}\nbetween successive points "
          f"{steps}\nload average {os.getloadavg()[0]:.1f}")
    assert all(r["exit_code"] != 2 for r in rows)
