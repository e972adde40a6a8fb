"""Bad input is refused up front with one line naming the field and the fix (exit code 2).

Scenario variants are the built-in default scenario with text replacements; every check runs
before any sampling, so each case takes well under a second.
"""

import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from environment.cli.main import main
from scenarios.config import load_scenario
from scenarios.errors import InputError
from scenarios.resources import check_memory, estimate_memory_bytes, memory_limit_bytes
from scenarios.sessions import cleaning_summary, load_sessions

ROOT = Path(__file__).resolve().parents[2]
RT = 'rt_times = ["00:00", "06:00", "12:00", "18:00"]'
CORPUS = tomllib.loads((ROOT / "tests" / "data" / "bad_input_cases.toml").read_text())
#: A refused case is refused before any sampling; this bound (seconds, generous for a busy
#: machine) catches a check that runs only after the heavy work.
REFUSE_WITHIN_S = 15.0


def variant(tmp_path: Path, patch: dict[str, str], base: str = "paper_case") -> Path:
    """The built-in scenario ``base`` with each ``old -> new`` replaced once, as a file."""
    text = (ROOT / "scenarios" / f"{base}.toml").read_text()
    for old, new in patch.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    f = tmp_path / "bad.toml"
    f.write_text(text)
    return f


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("command", ["simulate", "assess"])
@pytest.mark.parametrize("patch,needles", [
    ({"floor_soc = 0.05": "floor_soc = 0.95"},
     ["behaviour.initial_soc", "floor_soc (0.95) is not below target_soc (0.9)",
      "make floor_soc < target_soc"]),
    ({"floor_soc = 0.05": "floor_soc = 0.9"}, ["floor_soc (0.9) is not below target_soc"]),
    ({"pv_buses = []": "pv_buses = [99]"},
     ["grid.profiles.pv_buses", "bus 99 does not exist", "buses 1..33"]),
    ({"pv_buses = []": "pv_buses = [1]"}, ["grid.profiles.pv_buses", "substation"]),
    ({'name = "CS4"': 'name = "ALL"'}, ["stations", "'ALL' is reserved for the total",
                                        "rename that station"]),
    ({'name = "CS4"': 'name = "CS1"'}, ["stations", "'CS1' used more than once"]),
    ({"dt_min = 15": "dt_min = 1440"},
     ["horizon", "96 x 1440 min = 96 days exceeds the 7-day maximum", "n_intervals = 1"]),
    ({RT: 'rt_times = ["00:00", "06:00", "06:00", "18:00"]'},
     ["assessment.rt_times", "'06:00' is listed twice"]),
    ({RT: 'rt_times = ["00:00", "06:07", "12:00", "18:00"]'},
     ["assessment.rt_times", "'06:07' is not on the 15-minute interval grid",
      "use 06:00 or 06:15"]),
])
def test_bad_scenario_is_refused_with_field_and_fix(tmp_path, capsys, command, patch, needles):
    f = variant(tmp_path, patch)
    assert main([command, "--scenario", str(f), "--no-plots", "--quiet",
                 "--out", str(tmp_path / "o")]) == 2
    err = one_line_error(capsys)
    for needle in needles:
        assert needle in err, err
    assert not (tmp_path / "o").exists()


def test_default_horizon_and_grid_times_still_pass(tmp_path):
    # 96 x 15 min is one day; rt times on a 30-minute grid from 00:30
    load_scenario()
    load_scenario(variant(tmp_path, {'start = "00:00"': 'start = "00:30"', "dt_min = 15":
                                     "dt_min = 30", "n_intervals = 96": "n_intervals = 48",
                                     RT: 'rt_times = ["00:30", "06:00", "23:30"]'}))


# traffic stations: ``traffic`` and ``simulate`` refuse the same scenarios with the same line
@pytest.mark.parametrize("patch,needle", [
    ({"bus = 22\ncharge_ports": "bus = 23\ncharge_ports"},
     "traffic.stations.CS1.bus: 23 differs from stations.CS1.bus = 22"),
    ({'name = "CS3"\nnode': 'name = "CS9"\nnode'},
     "traffic.stations.CS9: not among [[stations]] (CS1, CS2, CS3)"),
    ({'name = "CS3"\nnode': 'name = "CS1"\nnode'}, "traffic.stations.CS1: named twice"),
    ({"bus = 22\ncharge_ports": "charge_ports"}, "traffic.stations.CS1.bus: missing"),
    ({'start = "17:00"\nduration': 'start = "22:00"\nduration'}, "outside the horizon"),
])
def test_traffic_and_simulate_validate_stations_alike(tmp_path, capsys, patch, needle):
    f = variant(tmp_path, patch, base="nd_coupled")
    errors = []
    for command in ("traffic", "simulate"):
        assert main([command, "--scenario", str(f), "--no-plots", "--quiet",
                     "--out", str(tmp_path / command)]) == 2
        errors.append(one_line_error(capsys))
    assert errors[0] == errors[1]
    assert needle in errors[0], errors[0]


def sessions_csv(tmp_path: Path, equal_dwell: bool = False, n: int = 200) -> Path:
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60 * 24 * 30, n),
                                                         unit="min")
    dwell = pd.to_timedelta(np.full(n, 240) if equal_dwell else rng.integers(30, 600, n),
                            unit="min")
    f = tmp_path / "sessions.csv"
    pd.DataFrame({"arrival": start, "departure": start + dwell,
                  "energy_kwh": rng.uniform(1, 20, n), "charger_kw": 7.0}).to_csv(f, index=False)
    return f


@pytest.mark.parametrize("options,needles", [
    (["--floor-soc", "0.95"], ["--floor-soc (0.95) is not below --target-soc (0.9)",
                               "make --floor-soc < --target-soc"]),
    (["--capacity-kwh", "0"], ["--capacity-kwh: 0 is not positive", "e.g. 60"]),
    (["--capacity-kwh", "-60"], ["--capacity-kwh: -60 is not positive"]),
    (["--eta-ch", "0"], ["--eta-ch: 0.0 is outside (0, 1]"]),
    (["--max-dwell-h", "0"], ["--max-dwell-h: 0 is not positive"]),
])
def test_bad_calibrate_options(tmp_path, capsys, options, needles):
    out = tmp_path / "beh"
    assert main(["calibrate", "--sessions", str(sessions_csv(tmp_path)), "--out", str(out),
                 *options]) == 2
    err = one_line_error(capsys)
    for needle in needles:
        assert needle in err, err
    assert not out.exists()


def test_calibrate_refuses_constant_dwell(tmp_path, capsys):
    f = sessions_csv(tmp_path, equal_dwell=True)
    assert main(["calibrate", "--sessions", str(f), "--out", str(tmp_path / "beh")]) == 2
    err = one_line_error(capsys)
    assert "dwell (departure - arrival): all 200 sessions have the same value (240 min)" in err
    assert "needs variation" in err


def test_calibrate_reports_cleaning_by_reason(tmp_path, capsys):
    assert main(["calibrate", "--sessions", str(sessions_csv(tmp_path)),
                 "--out", str(tmp_path / "beh")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sessions: kept ") and "calibrated on" in out


def test_cleaning_summary_of_the_shipped_data(paper_scenario):
    line = cleaning_summary(load_sessions(paper_scenario.sessions_path()).report)
    assert line.startswith("sessions: kept 3,286 of 13,639 (dropped: 10,011 not AC")
    assert "271 no energy delivered" in line and "42 dwell above max_dwell_h" in line
    assert "\n" not in line
    assert cleaning_summary({"rows_read": 5, "rows_kept": 5, "dropped_not_ac": 0}) == \
        "sessions: kept 5 of 5"


def test_copula_names_a_constant_column():
    from scenarios.copula import GaussianCopula

    data = np.column_stack([np.arange(20.0), np.full(20, 3.0)])
    with pytest.raises(InputError, match="dwell_min: all 20 sessions have the same value"):
        GaussianCopula.fit(data, ("arrival_min", "dwell_min"))


# memory: refused before any work with the estimate and the limit
def test_huge_fleet_is_refused_before_work(tmp_path, capsys):
    f = variant(tmp_path, {"n_ev = 50": "n_ev = 10000000"})
    scenario = load_scenario(f)
    for command in ("simulate", "assess", "montecarlo"):
        with pytest.raises(InputError, match=r"needs about [\d.]+ GB of memory") as info:
            check_memory(scenario, command)
        msg = str(info.value)
        assert "stations.CS1.n_ev" in msg and "limit" in msg and "\n" not in msg


@pytest.mark.parametrize("patch,gb", [({}, 1.5), ({"n_ev = 50": "n_ev = 10000"}, 20.0)])
def test_ordinary_fleets_pass_the_memory_check(tmp_path, patch, gb):
    # the paper case passes with a 1.5 GB limit and one station of 10,000 EVs with 20 GB
    # (measured peaks of assess: 0.37 GB and over 10 GB), on any machine with that much memory
    scenario = load_scenario(variant(tmp_path, patch))
    for command in ("simulate", "assess", "montecarlo", "compare-da-rt", "traffic"):
        assert check_memory(scenario, command, limit_bytes=int(gb * 1e9)) >= 0
    if memory_limit_bytes() >= gb * 1e9:
        check_memory(scenario, "assess")


def test_memory_limit_is_explicit(tmp_path):
    scenario = load_scenario()
    need = estimate_memory_bytes(scenario, "assess")
    with pytest.raises(InputError, match=r"assessment\.n_scenarios"):
        check_memory(scenario, "assess", limit_bytes=need // 2)
    assert check_memory(scenario, "assess", limit_bytes=need * 2) == need


# the bad-input corpus (tests/data/bad_input_cases.toml; its header describes the fields)
def _write_file(folder: Path, spec: dict) -> Path:
    path = folder / spec["path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    if "hex" in spec:
        path.write_bytes(bytes.fromhex(spec["hex"]))
    else:
        path.write_text(spec["text"], encoding="utf-8")
    return path


def corpus_command(case: dict, tmp: Path) -> list[str]:
    """Write the case's files into ``tmp``; its command line with the placeholders filled."""
    for spec in [*CORPUS.get("shared_files", []), *case.get("files", [])]:
        _write_file(tmp, spec)
    scenario = tmp / "case.toml"
    if "scenario_hex" in case:
        scenario.write_bytes(bytes.fromhex(case["scenario_hex"]))
    elif "base" in case:
        text = (ROOT / "scenarios" / f"{case['base']}.toml").read_text(encoding="utf-8")
        for old, new in case.get("replace", []):
            assert old in text, f"{case['id']}: {old!r} is not in {case['base']}"
            text = text.replace(old, new, 1)
        for old, new in case.get("replace_all", []):
            assert old in text, f"{case['id']}: {old!r} is not in {case['base']}"
            text = text.replace(old, new)
        scenario.write_bytes(text.encode(case.get("encoding", "utf-8")))
    fill = {"{tmp}": str(tmp), "{scenario}": str(scenario), "{out}": str(tmp / "out")}
    args = []
    for arg in case["args"]:
        for key, value in fill.items():
            arg = arg.replace(key, value)
        args.append(arg)
    return args


def run_cli(args: list[str]) -> int:
    """``run_sim.py ARGS`` in-process; argparse's refusals exit with ``SystemExit``."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_corpus_ids_are_unique():
    ids = [c["id"] for c in CORPUS["case"]]
    assert len(ids) == len(set(ids))
    assert all(set(c) <= {"id", "args", "fragments", "exit", "base", "replace", "replace_all",
                          "encoding", "scenario_hex", "files"} for c in CORPUS["case"])


@pytest.mark.parametrize("case", CORPUS["case"], ids=lambda c: c["id"])
def test_bad_input_case(tmp_path, capsys, case):
    args = corpus_command(case, tmp_path)
    before = set(tmp_path.rglob("*"))
    t0 = time.perf_counter()
    code = run_cli(args)
    elapsed_s = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    expected = case.get("exit", 2)
    assert code == expected, f"exit {code}, stderr: {err}"
    if expected == 0:
        assert not err.strip(), err
        for fragment in case["fragments"]:
            assert fragment in out, out
        return
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in case["fragments"]:
        assert fragment in lines[0], lines[0]
    assert not (tmp_path / "out").exists()
    assert set(tmp_path.rglob("*")) == before, "a refused run left files behind"
    assert elapsed_s < REFUSE_WITHIN_S, f"refused only after {elapsed_s:.1f} s"
