"""``run_sim.py dispatch`` and the ``dispatch:*`` call policies on the paper case."""

import json
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from environment.cli.main import main


def _run(out, *extra):
    code = main(["dispatch", "--quiet", "--method", "all", "--replay-days", "120", *extra,
                 "--out", str(out)])
    return code, json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("dispatch")
    code, s = _run(out)
    return out, s, code


@pytest.fixture(scope="module")
def unimodal(tmp_path_factory):
    out = tmp_path_factory.mktemp("dispatch_unimodal")
    code, s = _run(out, "--ambiguity", "unimodal", "--no-plots")
    return out, s, code


@pytest.mark.parametrize("which", ["study", "unimodal"])
def test_comparison_verdict_names_claimed_misses_only(which, request):
    """Exit 4 exactly when a claimed variant's Wilson upper end of its worst interval's
    violation rate exceeds eps; so and the other union's variants are reported, not claimed."""
    _, s, code = request.getfixturevalue(which)
    v = s["variants"]
    assert s["replay_days"] == 120 and s["replay_dates"] >= 20
    claimed = {m for m in ("oba", "bonferroni", "ro")
               if v[m]["feasible"] and v[m]["worst_interval_violation_ci"][1] > s["epsilon"]}
    assert set(s["failed_checks"]) == {f"risk_{m}" for m in claimed}
    assert code == s["exit_code"] == (4 if claimed else 0)
    assert "risk_so" in s["noted_checks"]
    for m in v:
        if v[m]["feasible"]:
            lo, hi = v[m]["days_without_violation_ci"]
            assert lo <= v[m]["days_without_violation"] <= hi


def test_outputs_and_ordering(study, unimodal):
    """Out of sample: the scenario approximation is cheapest and misses the target; OBA is
    never dearer than the equal split where both exist (unimodal set); the textbook union over
    rows is solved beside the union over directions."""
    out, s, _ = study
    v = s["variants"]
    assert set(v) == {"oba", "bonferroni", "so", "ro", "oba-rows", "bonferroni-rows"}
    assert s["method"] == "oba" and v["oba"]["feasible"]
    assert v["so"]["cost"] < v["oba"]["cost"]
    assert v["so"]["worst_interval_violation"] > s["epsilon"]
    u = unimodal[1]["variants"]
    assert u["oba"]["feasible"] and u["bonferroni"]["feasible"]
    assert u["oba"]["cost"] <= u["bonferroni"]["cost"]
    assert u["oba"]["cost"] < v["oba"]["cost"]  # the unimodal bound is the tighter one
    risk = pd.read_parquet(out / "risk.parquet")
    per_t = risk[risk.method == "oba"].groupby("t").epsilon.sum()
    assert (per_t <= s["epsilon"] + 1e-9).all()
    sched = pd.read_parquet(out / "schedule.parquet")
    assert set(sched.kind) == {"generator", "aggregator"}
    for png in ("dispatch_stack.png", "reserves.png", "risk_allocation.png",
                "cost_reliability.png"):
        assert (out / png).stat().st_size > 10_000


def test_simulate_with_the_dispatch_in_the_loop(tmp_path):
    out = tmp_path / "sim"
    code = main(["simulate", "--policy", "dispatch:so", "--quiet", "--out", str(out)])
    s = json.loads((out / "summary.json").read_text())
    assert code == s["exit_code"] and s["policy"] == "dispatch:so"
    d = s["dispatch"]
    assert d["dispatch_feasible"] == 1.0 and d["data_day"].startswith("2016-")
    frame = pd.read_parquet(out / "dispatch.parquet")
    assert len(frame) == 96 * 2  # one row per tick and generator
    bad = (frame.groupby("t").first().ac_violation != "") | (
        frame.groupby("t").first().reserve_short_kw > 0)
    assert d["dispatch_violation_ticks"] == bad.sum()


@pytest.mark.parametrize("argv, needle", [
    (["--epsilon", "1.5"], "--epsilon"),
    (["--method", "cheap"], "--method"),
    (["--replay-days", "0"], "--replay-days"),
])
def test_bad_options_are_one_line(tmp_path, capsys, argv, needle):
    assert main(["dispatch", "--quiet", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_infeasible_instance_names_the_family(tmp_path, capsys):
    """Two 10 kW generators leave the recourse of a 150 kW net-load error to the stations at
    the feeder's ends: a chance family cannot hold and the line names it."""
    text = (resources.files("scenarios") / "paper_case.toml").read_text()
    text = text[:text.index("[dispatch]")]  # replace the shipped section
    text += ('\n[dispatch]\nmethod = "bonferroni"\ngenerators = [\n'
             '  {name = "G1", bus = 3, p_max_kw = 10.0, cost_per_kwh = 0.5},\n'
             '  {name = "G2", bus = 23, p_max_kw = 10.0, cost_per_kwh = 0.6}]\n')
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    assert main(["dispatch", "--quiet", "--scenario", str(path), "--replay-days", "10",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is infeasible:" in err[0]
    assert any(f in err[0] for f in ("reserve", "voltage", "thermal", "substation", "devices"))


def test_zonal_partition_and_distribution_layer(tmp_path):
    """The zonal case (3,000 EVs, Table 1 DERs): areas cover every bus once, the search does
    not lose to its seed, the layer is AC-feasible after its correction, costs add up."""
    out = tmp_path / "zonal"
    assert main(["dispatch", "--quiet", "--method", "zonal", "--scenario", "zonal_case",
                 "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    buses = sorted(b for area in s["areas"].values() for b in area)
    assert buses == list(range(1, 34))
    p = s["partition"]
    assert p["comprehensive"] <= p["comprehensive_of_seed"]
    after = s["table2"]["after"]
    assert after["total"] == pytest.approx(after["purchase"] + after["diesel"]
                                           + after["curtailment"] + after["carbon"])
    assert s["ac"]["v_min_after_pu"] >= s["ac"]["v_min_limit_pu"] - 1e-6 and s["valid"]
    for png in ("partition.png", "zonal_stack.png", "area_loads.png"):
        assert (out / png).stat().st_size > 10_000
    two = s["aggregation_layer"]
    assert two["vehicles_outside_their_sets"] == 0 and two["correction_round_feasible"]
    assert s["ac"]["intervals_violating_two_layers"] == 0
    assert sum(two["user_types_1_to_4"]) == two["realised_vehicles"]
    assert two["uncoordinated_ev_energy_kwh"] > 0.5 * two["ev_energy_kwh"] > 0
    frame = pd.read_parquet(out / "areas.parquet")
    assert (frame.trading_price_per_kwh >= 0).all() and len(frame) == 96 * len(s["areas"])


def test_simulate_with_the_zonal_dispatch_in_the_loop(tmp_path):
    """``--policy dispatch:zonal`` on a lighter zonal case (40 EVs per station): the plan is
    feasible, every tick has its rows, the deviation metric is the rows' |eta| sum."""
    text = (resources.files("scenarios") / "zonal_case.toml").read_text()
    path = tmp_path / "zonal_light.toml"
    path.write_text(text.replace("n_ev = 300", "n_ev = 40").replace(
        "[simulation]\npolicy = \"none\"\nn_scenarios = 50", "[simulation]\npolicy = \"none\"\n"
        "n_scenarios = 10"))
    out = tmp_path / "sim"
    code = main(["simulate", "--policy", "dispatch:zonal", "--quiet", "--scenario", str(path),
                 "--out", str(out)])
    s = json.loads((out / "summary.json").read_text())
    assert code == s["exit_code"] and s["policy"] == "dispatch:zonal"
    d = s["dispatch"]
    assert d["dispatch_feasible"] == 1.0
    frame = pd.read_parquet(out / "dispatch.parquet")
    per_tick = frame.groupby("t").first()
    assert len(per_tick) == 96
    assert d["dispatch_deviation_kwh"] == pytest.approx(per_tick.eta_kw.abs().sum() * 0.25)
    assert d["dispatch_violation_ticks"] == (per_tick.ac_violation != "").sum()
    # a station called above its published box delivers what its network still carries (the
    # call is not cut at the box), never more than the distribution layer admits
    st = pd.read_parquet(out / "ticks.parquet").query("station != 'ALL'")
    assert (st.delivered_kw > st.p_up_kw + 1.0).any()
    assert (st.delivered_kw <= np.maximum(st.p_up_kw, st.dist_p_max_kw) + 1e-6).all()
    # the plan's total is called; where it lies inside the stations' boxes together, the
    # stations' set-points add up to it (a station short of its own call is covered by the
    # others' room), whatever the plan's split
    ticks = pd.read_parquet(out / "ticks.parquet")
    total = ticks.query("station == 'ALL'").set_index("t")
    boxes = st.groupby("t")[["p_down_kw", "p_up_kw", "call_kw"]].sum()
    inside = ((total.call_kw >= boxes.p_down_kw - 1e-6)
              & (total.call_kw <= boxes.p_up_kw + 1e-6))
    assert inside.sum() >= 48
    np.testing.assert_allclose(boxes.call_kw[inside], total.call_kw[inside], atol=1e-6)
