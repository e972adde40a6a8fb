"""One simulated day of V2Sim's ``ux_37nodes`` workload: this project beside V2Sim.

Goal: at least 5x faster per simulated day than V2Sim on the same machine with the same trips
while doing traffic, envelopes, clipping and AC every tick.

Run (V2Sim is not a dependency; install it where you like, e.g. a separate venv):
    python -m venv /tmp/v2venv && /tmp/v2venv/bin/pip install v2sim
    git clone https://github.com/hesl-seu/v2sim /tmp/v2sim   # for cases/ux_37nodes
    V2SIM_PYTHON=/tmp/v2venv/bin/python V2SIM_CASE=/tmp/v2sim/cases/ux_37nodes \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_v2sim_compare.py -s

Without ``V2SIM_PYTHON`` V2Sim must be importable here (else the V2Sim test is skipped by
``pytest.importorskip``); without ``V2SIM_CASE`` it is skipped too.

* here: ``python run_sim.py simulate --scenario ux37`` — V2Sim's road network and day-0 trips
  converted to TNTP (``scenarios/data/ux37``), 4,002 station users among 28,956 trips, dynamic
  user equilibrium (12 loadings, every vehicle on its own), then 96 ticks with RT envelopes,
  LinDistFlow clipping, AC boundary search and AC at the realised point on SimBench
  ``1-MV-urban--0-sw`` (``scenarios/ux37.toml`` says what differs from V2Sim).
* V2Sim: the case as shipped, trips from ``v2sim-gen-trip -n 10000 -seed 0 -day 2`` (4,221 EVs
  and 5,779 petrol vehicles), UXsim microsimulation with 10 s steps for 86,400 s, power flow
  (LinDistFlow2 + Newton AC on its two IEEE 33-bus feeders) every 300 s, V2G windows. V2Sim 1.6
  reads PDN and V2G settings from ``preferences.v2simcfg`` instead of the case's ``pdn``/``v2g``
  plugins (1.5 format); :func:`_to_v16` moves them over unchanged. Trip generation is not timed.

Printed: wall time per simulated day of each and the ratio V2Sim / ours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from environment.cli.main import main

pytestmark = pytest.mark.benchmark

PINNED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
DAY_S = 86400


def _ours(out: Path) -> tuple[float, dict]:
    t0 = time.perf_counter()
    code = main(["simulate", "--scenario", "ux37", "--quiet", "--no-plots", "--out", str(out)])
    wall = time.perf_counter() - t0
    summary = json.loads((out / "summary.json").read_text())
    assert code == summary["exit_code"]
    return wall, summary


def _v2sim_python() -> str:
    exe = os.environ.get("V2SIM_PYTHON")
    if exe:
        return exe
    pytest.importorskip("v2sim")
    return sys.executable


def _run(exe: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **PINNED}
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True)


def _to_v16(case: Path) -> None:
    """Move the 1.5-format ``pdn``/``v2g`` plugins into ``preferences.v2simcfg`` (V2Sim 1.6)."""
    old = case / "preference.v2simcfg"
    plg = next(case.glob("*.plg.xml"), None)
    if not old.exists() or plg is None:
        return
    pref = json.loads(old.read_text())
    root = ET.parse(plg).getroot()
    pdn, v2g = root.find("pdn"), root.find("v2g")
    if pdn is not None:
        pref.update(pdn_interval=int(pdn.get("interval")), pdn_estimator=pdn.get("estimator"),
                    pdn_calculator=pdn.get("calculator"), pdn_mlrp=float(pdn.get("MLRP")),
                    pdn_dec_buses=pdn.get("DecBuses"), pdn_solver=pdn.get("solver"),
                    pdn_max_workers=int(pdn.get("max_workers")))
        pref["charging_mode"] = "smartcharge" if pdn.get("SmartCharge") == "YES" else "unordered"
    if v2g is not None and v2g.get("enabled") == "YES":
        pref["charging_mode"] = "v2g"
        pref["v2g_online"] = [[int(i.get("btime")), int(i.get("etime"))]
                              for i in v2g.find("online")]
    (case / "preferences.v2simcfg").write_text(json.dumps(pref, indent=2))
    old.unlink()
    plg.write_text('<?xml version="1.0" encoding="UTF-8"?><root></root>\n')


def test_ux37_day_ours(benchmark, tmp_path):
    runs = iter(range(10))

    def day():
        return _ours(tmp_path / f"run{next(runs)}")

    wall, s = benchmark.pedantic(day, rounds=1, iterations=1)
    benchmark.extra_info.update({"wall_s": wall, "setup_s": s["setup_s"],
                                 "ticks_s": s["ticks_s"], "n_ev": s["n_ev"]})
    print(f"\nux37, ours: {wall:.1f} s per day (set-up incl. traffic equilibrium "
          f"{s['setup_s']:.1f} s, 96 ticks {s['ticks_s']:.1f} s), {s['n_ev']} EVs, "
          f"valid {s['valid']}")
    assert s["ticks"] == 96


def test_ux37_day_side_by_side_with_v2sim(tmp_path):
    exe = _v2sim_python()
    src = os.environ.get("V2SIM_CASE")
    if not src or not Path(src).is_dir():
        pytest.skip("set V2SIM_CASE to the cases/ux_37nodes folder of a V2Sim checkout")
    case = tmp_path / "ux_37nodes"
    shutil.copytree(src, case)
    version = _run(exe, "-c", "import v2sim; print(v2sim.__version__)", cwd=tmp_path)
    if tuple(int(x) for x in version.stdout.strip().split(".")[:2]) >= (1, 6):
        _to_v16(case)
    _run(exe, "-m", "v2sim.app.cmd_gen_trip", "-d", str(case), "-n", "10000", "-seed", "0",
         "-day", "2", cwd=tmp_path)
    t0 = time.perf_counter()
    _run(exe, "-m", "v2sim.app.sim_single", "-d", str(case), "-e", str(DAY_S), "-o",
         str(tmp_path / "v2sim_out"), cwd=tmp_path)
    v2_s = time.perf_counter() - t0
    ours_s, s = _ours(tmp_path / "ours")
    print(f"\nux37 day: V2Sim {version.stdout.strip()} {v2_s:.1f} s, ours {ours_s:.1f} s "
          f"(traffic set-up {s['setup_s']:.1f} s, ticks {s['ticks_s']:.1f} s); ratio "
          f"V2Sim / ours {v2_s / ours_s:.2f} (goal >= 5)")
    assert s["ticks"] == 96
