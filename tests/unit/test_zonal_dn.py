"""Distribution layer of the zonal dispatch (issue 16): the carbon ladder at the optimum, AC
feasibility by pandapower at every interval, integer capacitor steps, EV energy bounds."""

import dataclasses

import numpy as np
import pytest

from dispatch.carbon import ladder_cost
from dispatch.zonal_dn import solve_zonal_network
from grid.ac import PandapowerAc
from tests.zonal_day33 import day33


@pytest.fixture(scope="module")
def case():
    return day33()


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
