"""Violation labels against pandapower, the DSO's publication, deviations, layer hold rates."""

import copy

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from environment.validation import (
    DEFAULT_DEVIATIONS,
    Deviations,
    apply_deviations,
    layer_validation,
    no_show_from_sessions,
)
from grid.ac import VIOLATION_TYPES, AcResult, violation_labels
from grid.feeder import load_feeder, run_ac
from grid.lindistflow import NetworkLimits
from grid.sparse_ac import ac_solver
from scenarios.fleetgen import SessionDraw
from scenarios.sessions import read_sessions


@pytest.fixture(scope="module")
def feeder():
    return load_feeder("case33bw")


def _independent_labels(net, limits: NetworkLimits) -> str:
    """Labels from pandapower's own result tables, thresholds applied here."""
    vm = net.res_bus.vm_pu.to_numpy()
    found = []
    if vm.min() < limits.v_min_pu:
        found.append("undervoltage")
    if vm.max() > limits.v_max_pu:
        found.append("overvoltage")
    if (net.res_line.loading_percent.to_numpy() > 100.0).any():
        found.append("line")
    if len(net.trafo) and (net.res_trafo.loading_percent.to_numpy() > 100.0).any():
        found.append("transformer")
    if abs(float(net.res_ext_grid.p_mw.sum()) * 1e3) > limits.substation_kw:
        found.append("substation")
    return ";".join(found)


@pytest.mark.parametrize("scale,pv_kw,sub_kw,expect", [
    (1.8, 0.0, 2000.0, {"undervoltage", "line", "substation"}),  # heavy load
    (0.5, 0.0, 5000.0, set()),  # half the design load: every limit holds
    (0.3, 4000.0, 5000.0, {"overvoltage", "line"}),  # strong reverse flow at the feeder end
])
def test_violation_labels_match_pandapower(feeder, scale, pv_kw, sub_kw, expect):
    limits = NetworkLimits(0.95, 1.05, sub_kw)
    p = feeder.load_p_kw * scale
    q = feeder.load_q_kvar * scale
    end = feeder.n_bus - 1  # position of the last bus (feeder end)
    p = p.copy()
    p[end] -= pv_kw
    res = ac_solver(feeder).solve(p[None], q[None])
    got = violation_labels(res, limits, [e for e, _ in feeder.branch])[0]

    net = copy.deepcopy(feeder.net)
    net.load["p_mw"] *= scale
    net.load["q_mvar"] *= scale
    if pv_kw:
        pp.create_sgen(net, int(feeder.bus_index[end]), p_mw=pv_kw / 1e3)
    run_ac(net)
    want = _independent_labels(net, limits)
    assert got == want
    assert set(filter(None, want.split(";"))) == expect


def test_transformer_and_nonconvergence_labels():
    limits = NetworkLimits(0.95, 1.05, 100.0)
    res = AcResult(vm_pu=np.array([[1.0, 0.99, 0.98], [np.nan, np.nan, np.nan]]),
                   loading_pct=np.array([[120.0, 50.0], [np.nan, np.nan]]),
                   p_slack_kw=np.array([50.0, np.nan]), converged=np.array([True, False]))
    assert violation_labels(res, limits, ["trafo", "line"]) == ["transformer", "nonconvergence"]
    assert violation_labels(res, limits, ["line", "line"])[0] == "line"
    assert set(VIOLATION_TYPES) >= {"undervoltage", "overvoltage", "line", "transformer",
                                     "substation"}


def _draw(n=400, seed=0):
    rng = np.random.default_rng(seed)
    arr = rng.uniform(-300, 1200, n)
    dwell = rng.uniform(20, 600, n)
    return SessionDraw(arr[None], dwell[None], rng.uniform(0.1, 0.8, n)[None],
                       (rng.random(n) < 0.5)[None])


def test_deviations_apply_to_the_realised_day():
    from scenarios.config import load_scenario

    dt_min = float(load_scenario().horizon.dt_min)
    day = _draw()
    real = apply_deviations(day, DEFAULT_DEVIATIONS, dt_min, np.random.default_rng(1))
    arr = day.arrival_min[0]
    # carry-over sessions always show; about no_show_prob of the others do not
    assert np.all(np.isin(np.flatnonzero(arr < 0), real.kept))
    missing = 1.0 - np.isin(np.flatnonzero(arr >= 0), real.kept).mean()
    assert 0.02 < missing < 0.2
    declared = real.draw.arrival_min[0] + real.draw.dwell_min[0]
    actual = real.actual_departure_min
    assert np.all(actual <= declared + 1e-9)
    early = actual < declared - 1e-9
    assert 0.03 < early.mean() < 0.2
    assert np.allclose(actual[early] / dt_min, np.round(actual[early] / dt_min))  # on grid
    assert not np.allclose(real.draw.soc_init[0], day.soc_init[0][real.kept])
    # switched off: the forecast day itself
    same = apply_deviations(day, Deviations.none(), dt_min, np.random.default_rng(1))
    assert same.kept.size == arr.size
    np.testing.assert_array_equal(same.actual_departure_min, arr + day.dwell_min[0])
    np.testing.assert_array_equal(same.draw.soc_init, day.soc_init)


def test_no_show_default_comes_from_the_data():
    from scenarios.config import load_scenario

    sc = load_scenario()
    raw = read_sessions(sc.sessions_path())
    ac = raw[(raw.charger_kw <= sc.behaviour.max_charger_kw)]  # the AC charge points
    share = no_show_from_sessions(ac[ac.energy_kwh > 0].arrival)
    assert share == pytest.approx(DEFAULT_DEVIATIONS.no_show_prob, abs=0.01)


def test_layer_hold_rates():
    a = pd.DataFrame({
        "call_kw": [10.0, 20.0, 30.0, 40.0], "delivered_kw": [10.0, 10.0, 30.0, 40.0],
        "delivered_ok": [True, False, True, True],
        "inside_da": [True, True, False, False], "inside_prev": [True, True, True, True],
        "inside_rt": [True, False, True, True], "inside_reserve": [False, True, True, False],
        "schedule_inside_rt": [True, False, False, False]})
    dt_h = 0.5  # synthetic table, its own interval length
    v = layer_validation(a, dt_h)
    assert v["hold_rate"] == {"reserve": 0.5, "da": 0.5, "prev": 0.75, "rt": 1.0}
    assert v["schedule"]["inside_rt_share"] == 0.25
    # the one undelivered call inside the DA layer missed 20 - 10 kW for one interval
    assert v["undelivered_kwh"]["da"] == pytest.approx((20.0 - 10.0) * dt_h)
    assert v["undelivered_kwh"]["rt"] == 0.0
    none = layer_validation(a.assign(inside_da=False), dt_h)
    assert none["hold_rate"]["da"] is None
