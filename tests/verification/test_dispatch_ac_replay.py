"""The dispatch replay's AC verdict against pandapower run point by point (an independent
oracle: the recourse is written here from the model statement, the limits read off
pandapower's results)."""

import copy

import numpy as np
import pandapower as pp
import pytest

from environment.assessment.dispatch_study import (
    ac_violations,
    realised_consumption,
    run_dispatch_study,
)
from environment.cli.runs import load_behaviour
from environment.grid_setup import build_grid_model
from scenarios.config import load_scenario


@pytest.fixture(scope="module")
def case():
    sc = load_scenario(None)
    study = run_dispatch_study(sc, load_behaviour(sc, None), sc.seed, ["so"], n_replay=6)
    return sc, study


def _consumption(inst, sol, t, delta, eta):
    """The realised consumption per bus, from the model statement (a loop per device)."""
    g_n = len(inst.gen_pos)
    s = delta + eta
    p = inst.p_bg_kw[t] + delta * inst.w_net
    for j, pos in enumerate(inst.ev_pos):
        p[pos] += sol.p_ev_kw[t, j] + eta * inst.w_ev[j] - inst.alpha[t, g_n + j] * s
    for k, pos in enumerate(inst.gen_pos):
        p[pos] -= sol.g_kw[t, k] + inst.alpha[t, k] * s
    return p


def _oracle(inst, sol, feeder, limits, err):
    """Violated (bool) for one interval's realised point, by pandapower."""
    t, delta, eta = err
    s = delta + eta
    p = _consumption(inst, sol, t, delta, eta)
    net = copy.deepcopy(feeder.net)
    net.load.drop(net.load.index, inplace=True)
    net.sgen.drop(net.sgen.index, inplace=True)
    for b, bus in enumerate(feeder.bus_index):
        pp.create_load(net, int(bus), p_mw=p[b] / 1e3, q_mvar=inst.q_bg_kvar[t, b] / 1e3)
    pp.runpp(net, tolerance_mva=1e-10)
    vm = net.res_bus.vm_pu.loc[feeder.bus_index].to_numpy()
    bad = (vm.min() < limits.v_min_pu - 1e-9) or (vm.max() > limits.v_max_pu + 1e-9)
    bad |= bool((net.res_line.loading_percent > 100.0 + 1e-7).any())
    bad |= abs(float(net.res_ext_grid.p_mw.sum()) * 1e3) > limits.substation_kw * (1 + 1e-9)
    resp = inst.alpha[t] * s
    bad |= bool(np.any(resp > sol.r_up_kw[t] + 1e-3) or np.any(-resp > sol.r_dn_kw[t] + 1e-3))
    return bad


def test_ac_replay_matches_pandapower_point_by_point(case):
    sc, study = case
    inst, sol = study.day.case.inst, study.variants["so"].sol
    gm = build_grid_model(sc)
    # the held-out errors, and the same scaled up so that voltages and lines break too
    errors = np.concatenate([study.replay_errors[:3], 6.0 * study.replay_errors[:3]])
    got = ac_violations(inst, gm, sol, errors)
    rng = np.random.default_rng(4)
    picks = [(n, int(t)) for n in range(len(errors)) for t in rng.choice(96, 4, replace=False)]
    want = np.array([_oracle(inst, sol, gm.feeder, gm.limits,
                             (t, errors[n, t, 0], errors[n, t, 1])) for n, t in picks])
    have = np.array([got[n, t] for n, t in picks])
    np.testing.assert_array_equal(have, want)
    p = realised_consumption(inst, sol, errors)
    for n, t in picks:
        np.testing.assert_allclose(p[n, t], _consumption(inst, sol, t, errors[n, t, 0],
                                                         errors[n, t, 1]), rtol=1e-12, atol=1e-9)
    assert want.any() and not want.all()  # both outcomes occur in the sample
