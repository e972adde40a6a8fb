"""Seeded end-to-end runs of run_sim.py: output contract, determinism, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from environment.cli.main import main
from scenarios.config import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ["layer", "kind", "station", "t", "time", "p_ch_max_kw", "p_dis_max_kw", "e_min_kwh",
            "e_max_kwh"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["assess", "--scenarios", "40", "--seed", "7", "--out", str(out)]) == 0
    return out


def test_three_layer_contract(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    for layer in ("station", "distribution", "transmission"):
        assert set(summary["layers"][layer]) == {"peak_ch_kw", "peak_dis_kw", "area_kwh"}
    for layer in ("distribution", "transmission"):
        assert set(summary["reductions_pct"][layer]) == {"peak_ch_pct", "peak_dis_pct",
                                                         "area_pct"}
    for side in ("charge", "discharge"):
        assert {"mean_rate", "max_rate", "time_of_max"} <= set(summary["clipping"][side])
    assert summary["policy"] == "uniform"
    # the truncated energy and its split by binding constraint are recomputed from the tables in
    # tests/verification/test_outputs_independent.py
    assert {"truncated_kwh", "by_binding_kwh"} <= set(summary["bte"]["charge"])
    rows = summary["ac_validation"]
    assert rows and set(rows[0]) == {"time", "lindistflow_kw", "ac_kw", "rel_error_pct",
                                     "min_vm_pu", "binding"}
    assert summary["stations"]["CS1"]["paper_bus"] == 18
    assert summary["stations"]["CS1"]["pandapower_bus"] == 17
    assert summary["stations"]["CS4"]["pandapower_bus"] == 32
    lay = summary["layers"]
    for key in ("peak_ch_kw", "area_kwh"):  # layers contract
        assert lay["transmission"][key] <= lay["distribution"][key] <= lay["station"][key]
    env = pd.read_parquet(run_dir / "envelopes.parquet")
    assert set(env["layer"]) == {"station", "distribution", "transmission"}
    assert {"ramp_up_kw", "ramp_down_kw"} <= set(env.columns)
    tr = env[env.layer == "transmission"]
    assert tr.ramp_up_kw.notna().all() and env[env.layer != "transmission"].ramp_up_kw.isna().all()
    assert set(tr["station"]) == {"CS1", "CS2", "CS3", "CS4", "ALL"}
    assert set(tr["kind"]) == {"da", "rt@00:00", "rt@06:00", "rt@12:00", "rt@18:00"}
    net = pd.read_parquet(run_dir / "network.parquet")
    assert list(net.columns[:1]) == ["t"]
    assert {"t", "bus", "p_load_kw", "q_load_kvar", "p_pv_kw"} <= set(net.columns)
    assert len(net) == 96 * 33 and set(net.bus) == set(range(33))
    assert net.groupby("t").p_load_kw.sum().max() == pytest.approx(1850.0)
    for png in ("three_layer_envelopes.png", "clipping_rates.png", "da_rt_transmission.png",
                "layer_comparison.png", "ac_validation.png", "pq_daily_range.png",
                "pq_sets.png", "pq_binding.png"):
        assert (run_dir / png).stat().st_size > 10_000


def test_energy_bands_are_never_empty_and_layers_nest(run_dir):
    """E_min <= E_max in every row (layer, kind, station, interval); the network layers never
    enlarge the station layer's power range."""
    env = pd.read_parquet(run_dir / "envelopes.parquet")
    assert (env.e_min_kwh <= env.e_max_kwh + 1e-6).all()
    assert (env.p_min_kw <= env.p_max_kw + 1e-6).all()
    key = ["kind", "station", "t"]
    st = env[env.layer == "station"].set_index(key)
    for layer in ("distribution", "transmission"):
        other = env[env.layer == layer].set_index(key)
        joined = other.join(st, rsuffix="_st")
        assert (joined.p_max_kw <= joined.p_max_kw_st + 1e-6).all(), layer
        assert (joined.p_min_kw >= joined.p_min_kw_st - 1e-6).all(), layer
    summary = json.loads((run_dir / "summary.json").read_text())
    for layer in ("station", "distribution", "transmission"):
        cov = summary["coverage"][layer]
        assert set(cov) == {"0.80", "0.90", "0.95", "0.99"}
        assert all(0.0 <= c["whole_day"] <= 1.0 for c in cov.values())
    assert 0.0 < summary["packaging"]["efficiency"] <= 1.0 + 1e-9


def test_optimal_policy_allocates_at_least_as_much(run_dir, tmp_path):
    code = main(["assess", "--scenarios", "40", "--seed", "7", "--no-plots", "--policy",
                 "optimal", "--out", str(tmp_path)])
    uni = json.loads((run_dir / "summary.json").read_text())
    opt = json.loads((tmp_path / "summary.json").read_text())
    # with 40 days one kept day's must-charge does not fit the optimal allocation: the run says
    # so (exit 3, grid_feasible failed) and still writes everything
    assert code == opt["exit_code"] == (3 if opt["grid"]["infeasible_intervals"] else 0)
    assert opt["policy"] == "optimal"
    e_u = pd.read_parquet(run_dir / "ac_validation.parquet")
    e_o = pd.read_parquet(tmp_path / "ac_validation.parquet")
    assert (e_o.lindistflow_kw >= e_u.lindistflow_kw - 1e-6).all()
    # the station layer's own α set does not depend on the DSO policy (its rows in the
    # three-layer tables are placed on the network-feasible reference of each policy)
    assert opt["alpha_sensitivity"] == uni["alpha_sensitivity"]


def test_station_layer_only(tmp_path):
    assert main(["assess", "--layer", "station", "--scenarios", "10", "--no-plots",
                 "--out", str(tmp_path)]) == 0
    env = pd.read_parquet(tmp_path / "envelopes.parquet")
    assert set(env["layer"]) == {"station"}
    assert not (tmp_path / "network.parquet").exists()


def test_ac_non_convergence_is_recorded_and_the_run_continues(tmp_path):
    text = (ROOT / "scenarios" / "paper_case.toml").read_text()
    text = text.replace("load_peak_kw = 1850.0", "load_peak_kw = 40000.0")
    f = tmp_path / "heavy.toml"
    f.write_text(text)
    out = tmp_path / "o"
    # the background alone violates the feeder: physically invalid (exit 3), outputs written
    assert main(["assess", "--scenario", str(f), "--scenarios", "10", "--no-plots",
                 "--out", str(out)]) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ac"]["background_infeasible_intervals"] > 0
    assert "background_feasible" in summary["failed_checks"]
    assert summary["ac"]["reference_point_infeasible_intervals"] > 0
    rows = pd.read_parquet(out / "ac_validation.parquet")
    assert rows.ac_note.str.contains("infeasible at the reference point").any()


def test_output_contract(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    st = summary["layers"]["station"]
    assert set(st) == {"peak_ch_kw", "peak_dis_kw", "area_kwh"}
    for key in ("alpha", "n_ev", "n_scenarios", "seed", "runtime_s", "alpha_sensitivity"):
        assert key in summary
    assert summary["n_ev"] == 200 and summary["n_scenarios"] == 40 and summary["seed"] == 7
    assert [r["alpha"] for r in summary["alpha_sensitivity"]] == [0.8, 0.9, 0.95, 0.99]
    assert "spearman_gap_max" in summary["behaviour"]
    assert isinstance(summary["unreachable_requirements_capped"], int)
    env = pd.read_parquet(run_dir / "envelopes.parquet")
    assert list(env.columns[:len(CONTRACT)]) == CONTRACT
    assert "station" in set(env["layer"])
    env = env[env.layer == "station"]
    assert set(env["kind"]) == {"da", "rt@00:00", "rt@06:00", "rt@12:00", "rt@18:00"}
    assert set(env["station"]) == {"CS1", "CS2", "CS3", "CS4", "ALL"}
    assert (env["p_ch_max_kw"] >= 0).all() and (env["p_dis_max_kw"] >= 0).all()
    da = env[(env.kind == "da") & (env.station == "ALL")]
    assert da["t"].tolist() == list(range(96)) and da["time"].iloc[-1] == "23:45"
    rt18 = env[(env.kind == "rt@18:00") & (env.station == "ALL")]
    assert rt18["t"].min() == 72  # remaining horizon only
    # ALL is the sum of the stations
    per = env[(env.kind == "da") & (env.station != "ALL")].groupby("t")["p_ch_max_kw"].sum()
    np.testing.assert_allclose(per.to_numpy(), da["p_ch_max_kw"].to_numpy())
    # headline metrics are those of the DA ALL envelope
    area = float(((da.p_ch_max_kw + da.p_dis_max_kw) * load_scenario().horizon.dt_h).sum())
    assert st["area_kwh"] == pytest.approx(area)
    for png in ("station_envelopes.png", "alpha_sensitivity.png", "spearman_table.png"):
        assert (run_dir / png).stat().st_size > 10_000


def test_same_seed_same_outputs(run_dir, tmp_path):
    assert main(["assess", "--scenarios", "40", "--seed", "7", "--no-plots",
                 "--out", str(tmp_path)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(run_dir / "envelopes.parquet"),
                                  pd.read_parquet(tmp_path / "envelopes.parquet"))


def test_other_seed_other_outputs(run_dir, tmp_path):
    assert main(["assess", "--scenarios", "40", "--seed", "8", "--no-plots",
                 "--out", str(tmp_path)]) == 0
    a = pd.read_parquet(run_dir / "envelopes.parquet")
    b = pd.read_parquet(tmp_path / "envelopes.parquet")
    assert not np.allclose(a.p_ch_max_kw, b.p_ch_max_kw)


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "run_sim.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,needle", [
    (["assess", "--alpha", "1.5"], "--alpha"),
    (["assess", "--alpha", "0"], "--alpha"),
    (["assess", "--scenarios", "0"], "--scenarios"),
    (["assess", "--scenario", "nope.toml"], "--scenario"),
    (["calibrate", "--sessions", "missing.csv", "--out", "x"], "sessions"),
])
def test_bad_cli_input_is_one_line(args, needle):
    res = run_cli(*args)
    assert res.returncode == 2
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("patch,needle", [
    ({"soc_min = 0.20": "soc_min = 0.95"}, "ev: soc_min"),
    ({"soc_departure_min = 0.60": "soc_departure_min = 0.95"}, "soc_departure_min"),
    ({"\nalpha = 0.90": "\nalpha = 1.2"}, "assessment.alpha"),
    ({"n_scenarios = 500": "n_scenarios = 0"}, "assessment.n_scenarios"),
    ({"eta_ch = 0.95": "eta_chh = 0.95"}, "unknown field"),
    ({'start = "00:00"': 'start = "25:00"'}, "horizon.start"),
    ({"bus = 33": "bus = 40"}, "station bus 40 does not exist"),
    ({"v_min_pu = 0.95": "v_min_pu = 1.10"}, "grid: voltage limits inverted"),
    ({'feeder = "case33bw"': 'feeder = "meshed.json"'}, "meshed"),
    ({'feeder = "case33bw"': 'feeder = "nowhere.json"'}, "does not exist"),
])
def test_bad_scenario_file_names_the_field(tmp_path, patch, needle):
    text = (ROOT / "scenarios" / "paper_case.toml").read_text()
    for old, new in patch.items():
        assert old in text
        text = text.replace(old, new, 1)
    f = tmp_path / "bad.toml"
    f.write_text(text)
    if "meshed.json" in text:
        import pandapower as pp
        import pandapower.networks as pn

        net = pn.case33bw()
        net.line["in_service"] = True
        net.line["max_i_ka"] = 0.4
        pp.to_json(net, str(tmp_path / "meshed.json"))
    res = run_cli("assess", "--scenario", str(f), "--scenarios", "5",
                  "--out", str(tmp_path / "o"))
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_calibrate_then_assess_with_behaviour(tmp_path):
    csv = tmp_path / "mine.csv"
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60 * 24 * 60, 300),
                                                         unit="min")
    dwell = pd.to_timedelta(rng.integers(30, 600, 300), unit="min")
    pd.DataFrame({"arrival": start, "departure": start + dwell,
                  "energy_kwh": rng.uniform(1, 3, 300), "charger_kw": 7.0,
                  "soc_init": rng.uniform(0.2, 0.8, 300)}).to_csv(csv, index=False)
    assert main(["calibrate", "--sessions", str(csv), "--out", str(tmp_path / "beh"),
                 "--soc-method", "column"]) == 0
    code = main(["assess", "--behaviour", str(tmp_path / "beh"), "--scenarios", "10",
                 "--no-plots", "--out", str(tmp_path / "run")])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert code == summary["exit_code"] and code in (0, 3)  # the synthetic fleet may not fit
    assert summary["behaviour"]["source"] == str(csv)
    assert summary["behaviour"]["initial_soc"]["method"] == "column"


def test_help_lists_commands():
    res = run_cli("--help")
    assert res.returncode == 0 and "assess" in res.stdout and "calibrate" in res.stdout
