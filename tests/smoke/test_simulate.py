"""Seeded co-simulated days: invariants, determinism, every shipped scenario, every policy."""

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from environment.cli import main

TABLES = ("ticks", "evs", "network", "setpoints")


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """The default case as shipped (random-within, 200 RT scenarios per station)."""
    out = tmp_path_factory.mktemp("day")
    assert main(["simulate", "--quiet", "--out", str(out)]) == 0
    return out, {t: pd.read_parquet(out / f"{t}.parquet") for t in TABLES}


def test_summary_contract(day):
    out, _ = day
    s = json.loads((out / "summary.json").read_text())
    for key in ("deliverability_rate", "ticks", "calls_delivered", "runtime_s", "seed",
                "scenario", "policy"):
        assert key in s
    assert set(s["shortfall"]) >= {"count", "kwh"}
    assert set(s["ac"]) >= {"violations", "min_vm_pu", "max_loading_pct"}
    assert s["ticks"] == 96 and s["policy"] == "random-within"
    for png in ("boundary_calls.png", "voltage_heatmap.png", "da_vs_rt.png", "occupancy.png"):
        assert (out / png).stat().st_size > 10_000


def test_deliverability_under_random_within(day):
    out, _ = day
    s = json.loads((out / "summary.json").read_text())
    assert s["deliverability_rate"] >= 0.99
    assert s["shortfall"]["count"] == 0
    assert s["ac"]["violations"] == 0


def test_energy_balance_per_ev(day):
    _, t = day
    evs = t["evs"]
    eta_c = eta_d = 0.95
    lhs = evs.e_departure_kwh - evs.e_arrival_kwh
    rhs = eta_c * evs.charged_kwh - evs.discharged_kwh / eta_d
    np.testing.assert_allclose(lhs, rhs, atol=1e-9)
    # and the set-point table adds up to the same energy
    sp = t["setpoints"]
    ch = sp.p_kw.clip(lower=0).groupby(sp.ev).sum() * 0.25
    dis = (-sp.p_kw).clip(lower=0).groupby(sp.ev).sum() * 0.25
    e = evs.set_index("ev")
    np.testing.assert_allclose(ch.reindex(e.index, fill_value=0), e.charged_kwh, atol=1e-9)
    np.testing.assert_allclose(dis.reindex(e.index, fill_value=0), e.discharged_kwh, atol=1e-9)


def test_nobody_charges_when_not_plugged(day):
    _, t = day
    sp = t["setpoints"].merge(t["evs"][["ev", "plug_in_min", "departure_min"]], on="ev")
    assert sp.plug_in_min.notna().all()
    assert (sp.plug_in_min <= sp.t * 15 + 1e-9).all()
    assert ((sp.t + 1) * 15 <= sp.departure_min + 1e-9).all()
    unserved = t["evs"][t["evs"].state == "left_unserved"]
    assert (unserved.charged_kwh == 0).all() and (unserved.discharged_kwh == 0).all()


def test_delivered_within_the_published_boundary(day):
    _, t = day
    ticks = t["ticks"]
    tol = 1e-6
    assert (ticks.delivered_kw >= ticks.p_down_kw - tol).all()
    assert (ticks.delivered_kw <= ticks.p_up_kw + tol).all()
    # the station rows add up to the total
    per = ticks[ticks.station != "ALL"].groupby("t").delivered_kw.sum()
    total = ticks[ticks.station == "ALL"].set_index("t").delivered_kw
    np.testing.assert_allclose(per, total, atol=1e-9)
    # network injections are the delivered station powers
    net = t["network"].groupby("t").p_station_kw.sum()
    np.testing.assert_allclose(net, total, atol=1e-9)


def test_same_seed_identical_outputs(day, tmp_path):
    _, tables = day
    assert main(["simulate", "--quiet", "--no-plots", "--out", str(tmp_path)]) == 0
    for name in TABLES:
        pd.testing.assert_frame_equal(tables[name], pd.read_parquet(tmp_path / f"{name}.parquet"))


def _shipped():
    root = Path(str(resources.files("scenarios")))
    return sorted(p.stem for p in root.glob("*.toml"))


@pytest.mark.parametrize("name", _shipped())
def test_every_shipped_scenario_runs(name, tmp_path):
    assert main(["simulate", "--scenario", name, "--scenarios", "20", "--seed", "3", "--quiet",
                 "--no-plots", "--out", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["scenario"] == name and s["ticks"] > 0


@pytest.mark.parametrize("policy", ["none", "follow-da", "max-up", "max-down", "regulation"])
def test_policies(policy, tmp_path):
    assert main(["simulate", "--policy", policy, "--scenarios", "20", "--seed", "5", "--quiet",
                 "--no-plots", "--out", str(tmp_path)]) == 0
    ticks = pd.read_parquet(tmp_path / "ticks.parquet")
    a = ticks[ticks.station == "ALL"]
    if policy == "max-up":
        np.testing.assert_allclose(a.delivered_kw, a.p_up_kw, atol=1e-6)
    if policy == "max-down":
        np.testing.assert_allclose(a.delivered_kw, a.p_down_kw, atol=1e-6)
    if policy == "follow-da":
        np.testing.assert_allclose(a.call_kw, 0.5 * (a.da_p_up_kw + a.da_p_down_kw))
    inside = (a.call_kw >= a.p_down_kw - 1e-6) & (a.call_kw <= a.p_up_kw + 1e-6)
    assert a.delivered_ok[inside].all()  # the published boundary always holds


def test_bad_simulate_input_is_one_line(capsys):
    assert main(["simulate", "--scenarios", "0"]) == 2
    assert "--scenarios" in capsys.readouterr().err
