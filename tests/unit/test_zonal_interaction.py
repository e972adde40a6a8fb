"""The zonal dispatch's interaction layer and Table 2 on one basis: the costs recomputed from
the returned schedules by an independent function, the users' price response against a case
computed by hand, and the targets' fixed point between the layers (one more round moves them
by at most the tolerance)."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from dispatch.price_response import respond
from dispatch.zonal_costs import CostBasis, day_costs
from dispatch.zonal_dn import solve_zonal_network
from environment.planning.zonal_areas import AreaSets
from environment.planning.zonal_interaction import (
    iterate_targets,
    one_round,
    take_targets,
    tie_losses_kwh,
)
from environment.planning.zonal_setup import ZonalSetup
from grid.ac import PandapowerAc
from grid.layers import NetworkLimits
from tests.zonal_day33 import day33


def ladder_by_hand(e_t: float, c: float = 200.0, step: float = 50.0, g: float = 0.25) -> float:
    """Eq. 4 step by step: each 50 t above zero at c (1 + g k), each below earns c / (1 + g k)."""
    total, k, rest = 0.0, 0, abs(e_t)
    while rest > 0:
        part = min(rest, step)
        total += part * (c * (1 + g * k) if e_t > 0 else c / (1 + g * k))
        rest -= part
        k += 1
    return total if e_t > 0 else -total


def table2_by_hand(price, buy, dg, dg_cost, dg_kg, avail, res, dt, share=0.476, e_th=1.08,
                   quota=0.7, pen=0.1, charge=0.0, per_interval=True):
    """Table 2's parts written out interval by interval (independent of the package)."""
    purchase = diesel = curtail = 0.0
    emissions = []
    for t in range(len(buy)):
        b = max(buy[t], 0.0)
        purchase += price[t] * b * dt
        e = share * (e_th - quota) * b * dt / 1000.0
        for m in range(len(dg_cost)):
            diesel += dg_cost[m] * dg[t][m] * dt
            e += (dg_kg[m] - quota) * dg[t][m] * dt / 1000.0
        for k in range(len(avail[t])):
            curtail += (avail[t][k] - res[t][k]) * pen * dt
        emissions.append(e)
    purchase += charge * max(buy)
    carbon = (sum(ladder_by_hand(e) for e in emissions) if per_interval
              else ladder_by_hand(sum(emissions)))
    return purchase, diesel, curtail, carbon


@pytest.fixture(scope="module")
def case():
    return day33()


@pytest.mark.parametrize("per_interval", [True, False])
def test_table2_costs_of_the_plan_recomputed_by_hand(case, per_interval):
    """The plan's own cost parts and ``day_costs`` at its purchase equal the hand sums."""
    net, ldf, _ = case
    net = dataclasses.replace(net, carbon_per_interval=per_interval, dg_must_run=True,
                              demand_charge_per_kw=1.07)
    plan = solve_zonal_network(net, ldf)
    assert plan.feasible
    assert np.allclose(plan.dg_kw, net.dg_max_kw)  # must-run
    hand = table2_by_hand(net.price_per_kwh, plan.buy_kw, plan.dg_kw, net.dg_cost_per_kwh,
                          net.dg_kg_per_kwh, net.res_avail_kw, plan.res_kw, net.dt_h,
                          charge=1.07, per_interval=per_interval)
    got = (plan.purchase, plan.diesel, plan.curtailment, plan.carbon)
    assert got == pytest.approx(hand, rel=1e-9, abs=1e-6)
    basis = CostBasis(net.dt_h, net.price_per_kwh, 1.07, net.dg_cost_per_kwh,
                      net.dg_kg_per_kwh, 0.1, 0.476, 1.08, 0.7, 200.0, 50.0, 0.25,
                      per_interval)
    dc = day_costs(basis, plan.buy_kw, plan.dg_kw, net.res_avail_kw, plan.res_kw)
    assert (dc.purchase, dc.diesel, dc.curtailment, dc.carbon) == pytest.approx(
        hand, rel=1e-9, abs=1e-6)
    assert plan.carbon_lp == pytest.approx(plan.carbon, rel=1e-7, abs=1e-6)


def test_day_costs_on_the_ladder_beyond_the_first_step():
    """A day whose emission climbs two steps of the ladder and an interval that sells."""
    t_n = 4
    basis = CostBasis(1.0, np.array([0.3, 0.6, 1.0, 0.6]), 2.0, np.array([0.5]),
                      np.array([3.0]), 0.1, 0.5, 1.0, 0.7, 200.0, 50.0, 0.25, False)
    buy = np.array([-100.0, 2e4, 3e4, 1e4])
    dg = np.full((t_n, 1), 1.0e4)
    avail = np.full((t_n, 2), 50.0)
    res = np.full((t_n, 2), 40.0)
    hand = table2_by_hand(basis.price_per_kwh, buy, dg, [0.5], [3.0], avail, res, 1.0,
                          share=0.5, e_th=1.0, charge=2.0, per_interval=False)
    dc = day_costs(basis, buy, dg, avail, res)
    assert dc.emission_t > 100.0  # beyond two steps
    assert (dc.purchase, dc.diesel, dc.curtailment, dc.carbon) == pytest.approx(hand)


def test_price_response_matches_a_case_computed_by_hand():
    """Eq. 25 with the paper's matrix (eq. 35): one interval per period, then two."""
    # peak +20 %, flat unchanged, valley -10 %:
    # peak   10 (1 - 0.21 * 0.2 + 0.07 * -0.1 ... )      = 10 * 0.951  = 9.51
    # flat   20 (1 + 0.02 * 0.2 + 0.06 * -0.1)           = 20 * 0.998  = 19.96
    # valley 30 (1 + 0.01 * 0.2 - 0.11 * -0.1)           = 30 * 1.013  = 30.39
    out = respond(np.array([10.0, 20.0, 30.0]), np.ones(3), np.array([1.2, 1.0, 0.9]),
                  np.array([0, 1, 2]))
    assert out == pytest.approx([9.51, 19.96, 30.39])
    # two peak intervals, one up 40 %, one unchanged: the period's mean change is +20 %
    out2 = respond(np.array([5.0, 5.0, 20.0, 30.0]), np.ones(4),
                   np.array([1.4, 1.0, 1.0, 0.9]), np.array([0, 0, 1, 2]))
    assert out2 == pytest.approx([4.755, 4.755, 19.96, 30.39])


def _setup(net, ldf, fe):
    plan = solve_zonal_network(net, ldf)
    ac = PandapowerAc(fe)
    parts = tuple(frozenset(np.flatnonzero(net.area_of_bus == d).tolist()) for d in range(3))
    pos = np.array([fe.position(b) for b in (8, 17, 29)])  # one station per area
    setup = ZonalSetup(parts, None, None, net, plan, ac.solve(plan.p_bus_kw, plan.q_bus_kvar),
                       pos, net.area_of_bus[pos], net.price_per_kwh,
                       np.where(net.price_per_kwh > 0.5, 0, 2),
                       NetworkLimits(net.v_min_pu, net.v_max_pu), 0.0)
    gm = SimpleNamespace(ldf=ldf, feeder=fe, solver=ac)
    y_asap = np.minimum(np.cumsum(net.ev_hi_kw, axis=0) * net.dt_h, net.ev_y_hi_kwh)
    sets = AreaSets(net.ev_lo_kw, net.ev_hi_kw, net.ev_y_lo_kwh, y_asap,
                    np.diff(np.r_[np.zeros((1, 3)), y_asap], axis=0) / net.dt_h)
    return setup, gm, sets


@pytest.fixture(scope="module")
def rounds(case):
    net, ldf, fe = case
    parent = np.asarray(fe.parent)
    ties = tuple(int(b) for b in range(len(parent) - 1)
                 if net.area_of_bus[b + 1] != net.area_of_bus[parent[b + 1]])
    # a band the areas' answers never leave: the anchored plans carry them unmoved
    net = dataclasses.replace(net, tie_lines=ties, dg_must_run=True, ev_ramp_per_kw=0.01,
                              v_min_pu=0.90, v_max_pu=1.10)
    setup, gm, sets = _setup(net, ldf, fe)
    omega = np.repeat(net.price_per_kwh[:, None], 3, axis=1)
    out = iterate_targets(setup, gm, sets, omega, net.dg_cost_per_kwh, "max_with_losses",
                          1.0, 8)
    return out, gm, sets, omega, net


def test_loss_plan_has_no_more_inter_area_losses(rounds):
    """Eq. 6's plan loses no more on the lines between areas than the economic plan (both
    evaluated by the same function), up to the tangents' gap (``u^2`` is approximated from
    below by tangents ``h`` apart: at most ``(h / 2)^2`` per line and interval), and the
    targets are the larger of the two (eq. 9)."""
    r, gm, _, _, net = rounds
    t = take_targets(r.setup, gm, "max_with_losses")
    assert t.losses_plan is not None
    fe, lines = gm.feeder, np.asarray(net.tie_lines)
    rr, xx = fe.r_pu[lines], fe.x_pu[lines]
    h = 2 * (rr + xx) * fe.rating_kva[lines] / fe.s_base_kva / (net.loss_tangents - 1)
    gap = float((fe.s_base_kva * rr / (rr * rr + xx * xx) * (h / 2) ** 2).sum()
                * net.load_p_kw.shape[0] * net.dt_h)
    assert tie_losses_kwh(r.setup, gm, t.losses_plan) <= t.tie_loss_kwh[0] + gap
    assert np.array_equal(t.p_kw, np.maximum(t.economic_p_kw, t.losses_p_kw))


def test_targets_are_a_fixed_point_of_the_rounds(rounds):
    """Converged rounds: one more round moves no target by more than the tolerance."""
    r, gm, sets, omega, net = rounds
    assert r.converged and 1 <= r.rounds <= 8
    assert all(tr.feasible for tr in r.tracks)
    _, again, _ = one_round(r.setup, gm, sets, r.targets, omega, net.dg_cost_per_kwh,
                            "max_with_losses")
    assert np.abs(again.p_kw - r.targets.p_kw).max() <= r.tol_kw
