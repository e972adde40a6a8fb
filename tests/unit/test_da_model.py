"""Day-ahead DRJCC dispatch on case33bw: variants, ordering, out-of-sample risk."""

import dataclasses

import numpy as np
import pytest

from dispatch.chance import ChanceInputError
from dispatch.da_model import DaInstance, solve_da, violations
from grid.feeder import load_feeder
from grid.lindistflow import LinDistFlow, NetworkLimits

T = 8  # two hours of 15-minute intervals keep the test fast


@pytest.fixture(scope="module")
def case():
    fe = load_feeder("case33bw", line_margin=1.3)  # lines 30 % above their design load
    ldf = LinDistFlow(fe)
    shape = np.linspace(0.6, 0.9, T)[:, None]
    p_bg = shape * fe.load_p_kw[None, :]
    q_bg = shape * fe.load_q_kvar[None, :]
    ev_pos = np.array([2, 5, 22])  # three aggregators on strong branches near the head
    j = len(ev_pos)
    p_max = np.full((T, j), 400.0)
    p_min = np.full((T, j), -100.0)
    dt = 0.25
    e_need = np.linspace(0, 120.0, T + 1)[1:, None] * np.ones(j)
    inst = DaInstance(
        dt_h=dt, p_bg_kw=p_bg, q_bg_kvar=q_bg, price_per_kwh=np.linspace(0.6, 1.2, T),
        gen_pos=np.array([14, 29]), gen_max_kw=np.array([800.0, 600.0]),
        gen_cost_per_kwh=np.array([0.7, 0.9]), gen_reserve_cost_per_kw=np.array([0.05, 0.06]),
        ev_pos=ev_pos, ev_p_min_kw=p_min, ev_p_max_kw=p_max,
        ev_e_min_kwh=e_need, ev_e_max_kwh=e_need + 200.0, ev_ramp_kw=np.full(j, 300.0),
        ev_reserve_cost_per_kw=np.full(j, 0.03), w_net=fe.load_p_kw / fe.load_p_kw.sum(),
        w_ev=np.full(j, 1.0 / j), mu=np.zeros((T, 2)),
        cov=np.array([[[40.0 ** 2, 0.0], [0.0, 20.0 ** 2]]] * T),
        limits=NetworkLimits(v_min_pu=0.92, v_max_pu=1.05, substation_kw=6000.0))
    rng = np.random.default_rng(5)
    # heavy-tailed errors with the given moments (Student t, 4 dof, scaled to unit variance)
    def draws(k):
        z = rng.standard_t(4, size=(k, T, 2)) / np.sqrt(2.0)
        return z * np.array([40.0, 20.0])
    return inst, ldf, draws(200), draws(20_000)


@pytest.fixture(scope="module")
def sols(case):
    inst, ldf, train, _ = case
    return {m: solve_da(inst, ldf, m, 0.05, samples=train, box_sigmas=4.0)
            for m in ("so", "bonferroni", "oba", "ro")}


def test_oba_solves_where_the_equal_split_cannot(case, sols):
    """Over rows (about 130 moving rows per interval) the textbook equal split asks
    kappa(eps/m) ~ 51 of every row and is infeasible; OBA over rows gives the risk to the
    rows that need it. Over directions both solve and OBA is not dearer."""
    inst, ldf, _, _ = case
    assert not solve_da(inst, ldf, "bonferroni", 0.05, union="rows").feasible
    assert solve_da(inst, ldf, "oba", 0.05, union="rows").feasible
    assert sols["oba"].feasible and sols["so"].feasible and sols["ro"].feasible
    assert sols["bonferroni"].feasible
    assert sols["oba"].cost <= sols["bonferroni"].cost + 1e-6
    assert np.all(sols["oba"].eps_family.sum(axis=1) <= 0.05 + 1e-9)
    assert sols["so"].cost <= sols["oba"].cost


def test_infeasibility_names_the_family(case):
    """Independent instance edits: energy bounds no power trajectory can meet make the device
    rows infeasible; per-row Bonferroni fails on a chance family, never on the devices."""
    from dispatch.da_diagnose import infeasible_family
    from environment.planning.chance import infeasibility_message

    inst, ldf, _, _ = case
    assert infeasible_family(inst, ldf, "bonferroni", 0.05, union="rows") in (
        "reserve", "voltage", "thermal", "substation", "all")
    bad = dataclasses.replace(inst, ev_e_min_kwh=inst.ev_e_max_kwh + 1.0)
    assert not solve_da(bad, ldf, "oba", 0.05).feasible
    fam = infeasible_family(bad, ldf, "oba", 0.05)
    assert fam == "devices"
    msg = infeasibility_message("oba", 0.05, fam)
    assert "infeasible" in msg and "\n" not in msg


@pytest.mark.parametrize("scale", [0.05, 0.1])
def test_oba_is_never_dearer_than_bonferroni(case, scale):
    inst, ldf, _, _ = case
    small = dataclasses.replace(inst, cov=inst.cov * scale ** 2)
    bon, oba = solve_da(small, ldf, "bonferroni", 0.05), solve_da(small, ldf, "oba", 0.05)
    assert bon.feasible and oba.feasible
    assert oba.cost <= bon.cost + 1e-6


def test_distributionally_robust_variants_hold_out_of_sample(case, sols):
    """Fresh heavy-tailed draws (not the moments the model used): per-interval joint
    violation rate of the DR variants stays within eps; the scenario approximation with
    200 training samples is evaluated too and reported by the assertion message."""
    inst, ldf, _, fresh = case
    rate = {m: violations(inst, ldf, s, fresh).mean(axis=0).max() for m, s in sols.items()
            if s.feasible}
    assert rate["oba"] <= 0.05, rate


def test_schedule_respects_the_battery(case, sols):
    inst, _, _, _ = case
    s = sols["oba"]
    e = np.cumsum(s.p_ev_kw, axis=0) * inst.dt_h
    assert np.all(e >= inst.ev_e_min_kwh - 1e-6) and np.all(e <= inst.ev_e_max_kwh + 1e-6)
    assert np.all(s.p_ev_kw - s.r_up_kw[:, 2:] >= inst.ev_p_min_kw - 1e-6)


def test_bad_epsilon(case):
    inst, ldf, _, _ = case
    with pytest.raises(ChanceInputError, match="epsilon"):
        solve_da(inst, ldf, "oba", 1.2)


def test_voltages_recomputed_from_injections(case, sols):
    """Independent of the row builder: nodal consumption from the schedule, the errors and the
    recourse, voltages by ``LinDistFlow.voltage_sq``; the OBA schedule keeps every bus above
    v_min in at least 95 % of fresh draws per interval."""
    inst, ldf, _, fresh = case
    s = sols["oba"]
    draws = fresh[:4000]
    alpha = inst.alpha
    g_n = len(inst.gen_pos)
    worst_rate = 0.0
    for t in range(T):
        delta, eta = draws[:, t, 0], draws[:, t, 1]
        total = delta + eta
        p = np.repeat(inst.p_bg_kw[t][None, :], len(draws), axis=0)
        p += delta[:, None] * inst.w_net[None, :]
        np.add.at(p.T, inst.ev_pos, (s.p_ev_kw[t][:, None] + eta[None, :] * inst.w_ev[:, None]
                                     - alpha[t, g_n:, None] * total[None, :]))
        np.add.at(p.T, inst.gen_pos, -(s.g_kw[t][:, None] + alpha[t, :g_n, None] * total[None, :]))
        q = np.repeat(inst.q_bg_kvar[t][None, :], len(draws), axis=0)
        w = ldf.voltage_sq(p, q)
        low = (w < inst.limits.v_min_pu ** 2 - 1e-9).any(axis=1)
        worst_rate = max(worst_rate, low.mean())
    assert worst_rate <= 0.05
