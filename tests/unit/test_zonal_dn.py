"""Distribution layer of the zonal dispatch (issue 16): the carbon ladder at the optimum, AC
feasibility by pandapower at every interval, integer capacitor steps, EV energy bounds."""

import dataclasses

import numpy as np
import pytest

from dispatch.carbon import ladder_cost
from dispatch.zonal_dn import ZonalNetwork, solve_zonal_network
from grid.ac import PandapowerAc
from grid.feeder import load_feeder
from grid.lindistflow import LinDistFlow

T = 24
PV = [(2, 550), (4, 200), (6, 300), (7, 200), (11, 200), (13, 200), (15, 100), (18, 100),
      (23, 650), (26, 350), (29, 400), (31, 250), (32, 100)]  # the paper's Table 1


@pytest.fixture(scope="module")
def case():
    fe = load_feeder("case33bw")
    ldf = LinDistFlow(fe)
    pos = [fe.position(b - 1) for b in range(1, 34)]
    shape = 0.45 + 0.3 * np.sin(np.linspace(0, 2 * np.pi, T) - 1.5) ** 2
    sun = np.clip(np.sin(np.linspace(-np.pi / 2, 3 * np.pi / 2, T)), 0, None)
    avail = np.c_[sun[:, None] * np.array([k for _, k in PV]), np.full((T, 1), 120.0)]
    area = np.repeat(np.arange(3), 11)
    share = np.stack([(area == d) / 11.0 for d in range(3)])
    need = np.linspace(0, 400, T + 1)[1:, None] * np.ones(3)
    net = ZonalNetwork(
        dt_h=1.0, load_p_kw=shape[:, None] * fe.load_p_kw,
        load_q_kvar=shape[:, None] * fe.load_q_kvar,
        price_per_kwh=np.where((np.arange(T) >= 8) & (np.arange(T) < 22), 1.0, 0.4),
        res_bus=np.array([pos[b - 1] for b, _ in PV] + [pos[32]]), res_avail_kw=avail,
        dg_bus=np.array([pos[2]]), dg_max_kw=np.array([200.0]),
        dg_cost_per_kwh=np.array([0.8]), dg_kg_per_kwh=np.array([0.8]),
        cap_bus=np.array([pos[17], pos[32]]), cap_step_kvar=np.array([50.0, 50.0]),
        cap_steps=np.array([6, 6]), area_share=share, ev_lo_kw=np.zeros((T, 3)),
        ev_hi_kw=np.full((T, 3), 150.0), ev_y_lo_kwh=need, ev_y_hi_kwh=need + 1500.0,
        area_of_bus=area, v_min_pu=0.94, v_max_pu=1.05)
    return net, ldf, fe


def test_carbon_cost_equals_the_ladder_at_the_optimum(case):
    net, ldf, _ = case
    plan = solve_zonal_network(net, ldf)
    assert plan.feasible
    # E recomputed from the schedule, independently of the row builder
    e = (net.thermal_share * (net.thermal_kg_per_kwh - net.quota_kg_per_kwh) * plan.buy_kw.sum()
         + ((net.dg_kg_per_kwh - net.quota_kg_per_kwh) * plan.dg_kw).sum()) * net.dt_h / 1000
    assert plan.emission_t == pytest.approx(e, abs=1e-9)
    assert plan.carbon_lp == pytest.approx(float(ladder_cost(e)), rel=1e-7, abs=1e-6)
    assert plan.cost == pytest.approx(plan.purchase + plan.diesel + plan.curtailment
                                      + plan.carbon)


def test_plan_is_ac_feasible_and_integer(case):
    """pandapower at every interval's nodal powers: voltages within the limits less a 0.002
    p.u. allowance for LinDistFlow's neglected losses; capacitors on integer steps; EV energy
    inside the areas' batteries."""
    net, ldf, fe = case
    plan = solve_zonal_network(net, ldf)
    ac = PandapowerAc(fe).solve(plan.p_bus_kw, plan.q_bus_kvar)
    assert ac.converged.all()
    assert ac.vm_pu.min() >= net.v_min_pu - 0.002 and ac.vm_pu.max() <= net.v_max_pu + 0.002
    assert np.allclose(plan.cap, np.round(plan.cap)) and plan.cap.max() >= 1
    y = np.cumsum(plan.ev_kw, axis=0) * net.dt_h
    assert np.all(y >= net.ev_y_lo_kwh - 1e-6) and np.all(y <= net.ev_y_hi_kwh + 1e-6)
    np.testing.assert_allclose(plan.area_p_kw.sum(axis=1), plan.p_bus_kw.sum(axis=1),
                               atol=1e-6)


def test_without_voltage_rows_the_same_day_violates(case):
    """The voltage rows bind on this day: with v_min lowered to 0.92 the plan lets AC fall
    below the 0.94 limit by more than the allowance above."""
    net, ldf, fe = case
    plan = solve_zonal_network(dataclasses.replace(net, v_min_pu=0.92), ldf)
    assert plan.feasible
    ac = PandapowerAc(fe).solve(plan.p_bus_kw, plan.q_bus_kvar)
    assert ac.vm_pu.min() < net.v_min_pu - 0.002
