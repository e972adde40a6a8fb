"""Distribution layer of the zonal dispatch: the carbon ladder at the optimum, AC
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


def test_each_family_has_the_rows_its_docstring_states(case):
    """Row builders of ``dispatch.zonal_rows`` on the day with every option on: the counts of
    their docstrings, and together (in the module docstring's order) the program's matrix."""
    from dispatch import zonal_rows as zr
    from dispatch.carbon import ladder_pieces
    from dispatch.zonal_dn import build_zonal_program, zonal_rows

    net, ldf, _ = case
    t_n, n = net.load_p_kw.shape
    d_n, sides = net.area_share.shape[0], net.polygon_sides
    full = dataclasses.replace(
        net, ev_period=np.repeat([2, 1, 0, 1], 6), ev_base_period_kwh=np.full((3, 3), 130.0),
        ev_anchor_kw=np.full((t_n, d_n), 20.0), anchor_penalty_per_kwh=1.0,
        ev_energy_target_kwh=np.full(d_n, 400.0), purchase_ramp_per_kw=0.01,
        ev_ramp_per_kw=0.01, carbon_per_interval=True, objective="losses",
        tie_lines=(1, 4))
    cols = zr.ZonalColumns.of(full)
    nodal = zr.NodalPowers.of(full, cols)
    pieces = len(ladder_pieces(full.carbon_price_per_t, full.carbon_step_t,
                               full.carbon_growth, zr.ladder_steps(full))[0])
    counts = [
        (zr.balance_rows(full, cols, nodal), 2 * t_n),
        (zr.voltage_rows(full, ldf, nodal), t_n * n),
        (zr.line_rows(full, ldf, nodal), sides * t_n * (n - 1)),
        (zr.ev_energy_rows(full, cols), t_n * d_n),
        (zr.price_response_rows(full, cols), 3 * d_n),
        (zr.purchase_ramp_rows(full, cols), 2 * (t_n - 1)),
        (zr.ev_ramp_rows(full, cols), 2 * (t_n - 1) * d_n),
        (zr.energy_floor_rows(full, cols), d_n),
        (zr.anchor_rows(full, cols), t_n * d_n),
        (zr.carbon_rows(full, cols), t_n * (1 + pieces)),
        (zr.demand_charge_rows(full, cols), t_n),
        (zr.v2g_wear_rows(full, cols), t_n * d_n),
        (zr.loss_rows(full, ldf, nodal, cols), t_n * 2 * full.loss_tangents),
    ]
    for rows, m in counts:
        assert rows.a.shape == (m, cols.width) and rows.lo.shape == rows.hi.shape == (m,)
        assert np.all(rows.lo <= rows.hi)
    prog = build_zonal_program(full, ldf)
    assert (prog.lp.a != zonal_rows(full, ldf, cols, nodal).a).nnz == 0
    assert prog.lp.a.shape[0] == sum(m for _, m in counts)
    # the optional families are off on the plain day: no rows and no columns
    plain = zr.ZonalColumns.of(net)
    for f in (zr.price_response_rows, zr.purchase_ramp_rows, zr.ev_ramp_rows,
              zr.energy_floor_rows, zr.anchor_rows):
        assert f(net, plain).a.shape == (0, plain.width)
    for name in ("r_up", "r_dn", "anc_up", "anc_dn", "unserved", "ramp", "ev_ramp", "loss"):
        assert plain.idx(name).size == 0


def test_inverter_reactive_output_enters_the_nodal_powers_within_its_range(case):
    """With the inverters' reactive range (eq. 32's Q^PV, Q^WP) the plan's reactive injection
    at every bus is the load's less the capacitors' steps less the inverters' output, the
    output stays inside +-q_max, pandapower agrees with the voltage rows, and the plan costs
    no more than without the range (the columns only widen the program)."""
    from dispatch.zonal_rows import ZonalColumns

    net, ldf, fe = case
    q_max = 0.33 * net.res_avail_kw.max(axis=0)
    wide = dataclasses.replace(net, res_q_max_kvar=q_max)
    plain, plan = solve_zonal_network(net, ldf), solve_zonal_network(wide, ldf)
    assert plan.feasible and plain.feasible
    # the voltage rows bind on this day (test above): reactive support there buys cheaper energy
    assert plan.cost < plain.cost - 1e-3
    cols = ZonalColumns.of(wide)
    assert cols.idx("res_q").shape == (net.load_p_kw.shape[0], len(net.res_bus))
    # the inverters' output recovered from the nodal balance, bus by bus (independently of the
    # row builder: load, capacitors and the plan's reactive powers only)
    q_inj = wide.load_q_kvar - plan.q_bus_kvar
    for k, b in enumerate(net.cap_bus):
        q_inj[:, b] -= plan.cap[:, k] * net.cap_step_kvar[k]
    inv = np.zeros_like(q_inj)
    assert np.abs(np.delete(q_inj, np.unique(net.res_bus), axis=1)).max() < 1e-6
    for b in np.unique(net.res_bus):
        lim = q_max[net.res_bus == b].sum()
        assert np.all(np.abs(q_inj[:, b]) <= lim + 1e-6)
        inv[:, b] = q_inj[:, b]
    assert np.abs(inv).max() > 1.0  # the inverters are used
    ac = PandapowerAc(fe).solve(plan.p_bus_kw, plan.q_bus_kvar)
    assert ac.converged.all() and ac.vm_pu.min() >= net.v_min_pu - 0.002


def test_ac_rounds_bring_an_overloaded_plan_inside_every_rating(case):
    """The AC solver's most loaded line rated at 99 % of the loading the plan gives it (as
    when LinDistFlow's lossless flows understate the AC current): the plan overloads it in
    pandapower; the AC rounds scale that branch's rating in the rows and the plan they return
    loads no branch above 100 % in an independent pandapower run."""
    import copy

    from environment.planning.zonal_setup import solve_with_ac

    net, ldf, fe = case
    raw = solve_zonal_network(net, ldf)
    ac_raw = PandapowerAc(fe).solve(raw.p_bus_kw, raw.q_bus_kvar)
    worst = np.nanmax(ac_raw.loading_pct, axis=0)
    b = int(np.argmax(worst))
    element, idx = fe.branch[b]
    assert element == "line"
    pp_net = copy.deepcopy(fe.net)
    pp_net.line.loc[idx, "max_i_ka"] *= worst[b] / 100.0 * 0.99
    tight = dataclasses.replace(fe, net=pp_net)
    assert np.nanmax(PandapowerAc(tight).solve(raw.p_bus_kw, raw.q_bus_kvar).loading_pct) > 100

    class Gm:  # the two members of the grid model that solve_with_ac uses
        solver = PandapowerAc(tight)

    Gm.ldf = ldf  # type: ignore[attr-defined]
    out, plan, ac = solve_with_ac(net, Gm())  # type: ignore[arg-type]
    assert plan.feasible and ac is not None and out.line_scale is not None
    assert out.line_scale[b] < 1.0 and np.all(np.delete(out.line_scale, b) == 1.0)
    check = PandapowerAc(tight).solve(plan.p_bus_kw, plan.q_bus_kvar)
    assert np.nanmax(check.loading_pct) <= 100.0 + 1e-6
    # without the thermal rounds (ratings as given) the same plan stays overloaded
    same = PandapowerAc(tight).solve(raw.p_bus_kw, raw.q_bus_kvar)
    assert np.nanmax(same.loading_pct) > 100.0


def test_ac_rounds_bring_the_supply_within_the_substation(case):
    """An AC model whose supply carries 500 kW the rows do not see (as when LinDistFlow's
    loss estimate understates the AC losses) and the substation limit 500 kW above the plan's
    peak purchase, so that the rows' limit does not bind while the AC supply breaks it (the
    voltage floor at 0.90 p.u., so that only the substation binds): the AC
    rounds lower the purchase limit of the rows to leave room for the plan's AC losses, and the
    plan they return draws at most the limit in that model (pandapower plus the 500 kW).
    Lowering the limit only by the excess off it (which first has to reach the purchase before
    it binds) leaves the plan over the limit after the rounds."""
    from environment.planning.zonal_setup import solve_with_ac

    net, ldf, fe = case
    pp = PandapowerAc(fe)

    class Lossy:  # pandapower, 500 kW more at the slack
        @staticmethod
        def solve(p_kw, q_kvar):
            r = pp.solve(p_kw, q_kvar)
            return dataclasses.replace(r, p_slack_kw=r.p_slack_kw + 500.0)

    net = dataclasses.replace(net, v_min_pu=0.90)
    raw = solve_zonal_network(net, ldf)
    limit = float(raw.buy_kw.max()) + 500.0
    tight = dataclasses.replace(net, substation_kw=limit)
    plain = solve_zonal_network(tight, ldf)
    assert plain.feasible
    assert Lossy.solve(plain.p_bus_kw, plain.q_bus_kvar).p_slack_kw.max() > limit + 50.0

    class Gm:  # the two members of the grid model that solve_with_ac uses
        solver = Lossy()

    Gm.ldf = ldf  # type: ignore[attr-defined]
    out, plan, ac = solve_with_ac(tight, Gm())  # type: ignore[arg-type]
    assert plan.feasible and ac is not None and out.substation_kw < limit
    assert Lossy.solve(plan.p_bus_kw, plan.q_bus_kvar).p_slack_kw.max() <= limit + 1e-6
