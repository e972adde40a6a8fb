"""Extensions of the zonal dispatch layers.

* ``dispatch.zonal_agg.track_area`` with local generators and trading: hand-computed
  shortfalls covered by a generator cheaper than the tracking penalty and by purchases at a
  trading price below it, and the reported cost against eq. 22 evaluated here from the returned
  arrays (``dt sum_t (sum_i c_i g_it + omega^Z_t b_t + omega |F_t + e_t - g_t - b_t - P^Z_t|)``).
* ``dispatch.zonal_dn.ZonalNetwork`` with the users' price response: each area's planned EV
  energy per period inside the range ``E_j (1 + sum_k el[j, k] r_k)`` over ``|r| <= r_max``
  (its min and max computed by ``scipy.optimize.linprog``), and the three periods of an area
  reached by one common ``r`` (a feasibility LP); the same day without the response rows plans
  outside that range (so the rows bind).
* The anchor: with a feasible anchor and a large penalty the plan's EV power is the anchor.

Break-the-rule checks (done on purpose while writing these tests, through a throwaway
re-execution of the module with one line changed; the library files untouched):

* ``track_area`` pricing generators at zero (``np.tile(g_cost, t_n) * 0.0``) fails the two
  generator tests, the trading test (generator and purchase together) and
  ``test_cost_is_eq_22_of_the_returned_arrays``;
* ``track_area`` leaving the trade price out of the cost fails
  ``test_trading_below_the_penalty_covers_the_shortfall`` and the cost property;
* ``_response_rows`` with the sign of the ``r-`` columns flipped, or the response rows left
  out, fails both response tests;
* the anchor columns without cost fails ``test_anchor_with_a_large_penalty_is_followed``; the
  anchor rows with ``+a+`` instead of ``-a+`` (the plan may only stay below the anchor) pass
  the feasible-anchor test (the plan is the anchor either way) and fail
  ``test_anchor_outside_the_sets_is_approached_in_l1``.
"""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from dispatch.price_response import PAPER_ELASTICITY
from dispatch.zonal_agg import track_area
from dispatch.zonal_dn import solve_zonal_network
from tests.zonal_day33 import T, day33

# --------------------------------------------------------------------------- area tracking

PER3 = np.array([0, 1, 2])  # one interval per period (peak, flat, valley)
OTHER = np.array([100.0, 100.0, 100.0])
EV = np.array([10.0, 10.0, 10.0])
TARGET = np.array([110.0, 80.0, 110.0])  # 30 kW below the load in interval 1


def _fixed_ev_area(dt=1.0, **kw):
    """EV power pinned to 10 kW (so the response rows force ``r = 0``): only the generator,
    the purchase and the deviation can move."""
    return track_area(TARGET, OTHER, EV * dt, PER3, EV, EV, np.cumsum(EV) * dt - 1e3,
                      np.cumsum(EV) * dt + 1e3, dt, omega_per_kwh=1.0, **kw)


def eq22_cost(res, target, other, dt, omega, g_cost=None, trade=None):
    """eq. 22 from the returned arrays."""
    mismatch = other + res.ev_kw - res.dg_kw.sum(axis=1) - res.buy_kw - target
    cost = omega * np.abs(mismatch).sum() * dt
    if g_cost is not None:
        cost += (res.dg_kw @ np.asarray(g_cost)).sum() * dt
    if trade is not None:
        cost += np.asarray(trade) @ res.buy_kw * dt
    return float(cost)


def test_without_generator_or_trade_the_shortfall_is_a_deviation():
    res = _fixed_ev_area()
    assert res.feasible and res.dg_kw.shape == (3, 0)
    np.testing.assert_allclose(res.buy_kw, 0.0, atol=1e-9)
    assert res.deviation_kwh == pytest.approx(30.0)
    assert res.cost == pytest.approx(30.0)


@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_generator_cheaper_than_the_penalty_covers_the_shortfall(dt):
    """Generator 50 kW at 0.3 < omega = 1: it supplies the 30 kW of interval 1 only (cost
    0.3 * 30 * dt); capped at 20 kW it supplies 20 and 10 stay a deviation (0.3 * 20 + 10);
    at 2 > omega it stays off."""
    res = _fixed_ev_area(dt, dg_max_kw=[50.0], dg_cost_per_kwh=[0.3])
    assert res.feasible
    np.testing.assert_allclose(res.dg_kw[:, 0], [0.0, 30.0, 0.0], atol=1e-7)
    assert res.deviation_kwh == pytest.approx(0.0, abs=1e-7)
    assert res.cost == pytest.approx(9.0 * dt)
    assert res.cost == pytest.approx(eq22_cost(res, TARGET, OTHER, dt, 1.0, [0.3]))

    res = _fixed_ev_area(dt, dg_max_kw=[20.0], dg_cost_per_kwh=[0.3])
    np.testing.assert_allclose(res.dg_kw[:, 0], [0.0, 20.0, 0.0], atol=1e-7)
    assert res.deviation_kwh == pytest.approx(10.0 * dt)
    assert res.cost == pytest.approx(16.0 * dt)
    assert res.cost == pytest.approx(eq22_cost(res, TARGET, OTHER, dt, 1.0, [0.3]))

    res = _fixed_ev_area(dt, dg_max_kw=[50.0], dg_cost_per_kwh=[2.0])
    np.testing.assert_allclose(res.dg_kw, 0.0, atol=1e-7)
    assert res.cost == pytest.approx(30.0 * dt)


def test_cheaper_generator_is_used_first():
    """Two generators 20 kW at 0.6 and 0.2: the cheap one full, the other the last 10 kW."""
    res = _fixed_ev_area(dg_max_kw=[20.0, 20.0], dg_cost_per_kwh=[0.6, 0.2])
    np.testing.assert_allclose(res.dg_kw[1], [10.0, 20.0], atol=1e-7)
    assert res.cost == pytest.approx(0.6 * 10 + 0.2 * 20)
    assert res.cost == pytest.approx(eq22_cost(res, TARGET, OTHER, 1.0, 1.0, [0.6, 0.2]))


def test_trading_below_the_penalty_covers_the_shortfall():
    """Trade price 0.5 < omega = 1, no generator: 30 kW bought in interval 1 (cost 15); at 1.5
    in interval 1 nothing is bought; with a 20 kW generator at 0.3 as well: 20 generated and 10
    bought (6 + 5)."""
    trade = np.array([0.5, 0.5, 0.5])
    res = _fixed_ev_area(trade_price_per_kwh=trade)
    np.testing.assert_allclose(res.buy_kw, [0.0, 30.0, 0.0], atol=1e-7)
    assert res.deviation_kwh == pytest.approx(0.0, abs=1e-7)
    assert res.cost == pytest.approx(15.0)
    assert res.cost == pytest.approx(eq22_cost(res, TARGET, OTHER, 1.0, 1.0, trade=trade))

    res = _fixed_ev_area(trade_price_per_kwh=np.array([0.5, 1.5, 0.5]))
    np.testing.assert_allclose(res.buy_kw, 0.0, atol=1e-7)
    assert res.cost == pytest.approx(30.0)

    res = _fixed_ev_area(dg_max_kw=[20.0], dg_cost_per_kwh=[0.3], trade_price_per_kwh=trade)
    np.testing.assert_allclose(res.dg_kw[:, 0], [0.0, 20.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(res.buy_kw, [0.0, 10.0, 0.0], atol=1e-7)
    assert res.cost == pytest.approx(11.0)
    assert res.cost == pytest.approx(eq22_cost(res, TARGET, OTHER, 1.0, 1.0, [0.3], trade))


def test_a_surplus_is_not_covered_by_generators_or_purchases():
    """Target 30 kW above the load in interval 1: generation and purchases only lower the net
    load, so they stay at 0 and the surplus is a deviation."""
    target = np.array([110.0, 140.0, 110.0])
    res = track_area(target, OTHER, EV, PER3, EV, EV, np.cumsum(EV) - 1e3, np.cumsum(EV) + 1e3,
                     1.0, dg_max_kw=[50.0], dg_cost_per_kwh=[0.0],
                     trade_price_per_kwh=np.zeros(3))
    np.testing.assert_allclose(res.dg_kw, 0.0, atol=1e-7)
    np.testing.assert_allclose(res.buy_kw, 0.0, atol=1e-7)
    assert res.deviation_kwh == pytest.approx(30.0)


T6 = 6
PER6 = np.array([2, 2, 1, 0, 0, 1])


def _kw(lo, hi, n):
    return st.lists(st.integers(lo, hi).map(float), min_size=n, max_size=n).map(np.array)


@settings(max_examples=30, deadline=None)
@given(target=_kw(60, 160, T6), other=_kw(50, 120, T6),
       g_max=st.lists(st.integers(0, 40).map(float), max_size=2),
       g_cost=st.lists(st.sampled_from([0.1, 0.5, 0.9, 1.5]), min_size=2, max_size=2),
       trade=st.none() | _kw(0, 2, T6), dt=st.sampled_from([0.5, 1.0]))
def test_cost_is_eq_22_of_the_returned_arrays(target, other, g_max, g_cost, trade, dt):
    """Random days with a flexible EV battery (0..30 kW, energy 60-120 kWh by the end): the
    returned cost is eq. 22 of the returned arrays, generators within their limits, purchases
    non-negative and zero without trading, and the response rows hold with ``|r| <= 0.5``."""
    g_cost = np.asarray(g_cost[:len(g_max)])
    base_ev = np.full(T6, 15.0)
    base_period = np.array([base_ev[PER6 == j].sum() * dt for j in range(3)])
    y_lo = np.r_[np.zeros(T6 - 1), 60.0 * dt]
    y_hi = np.full(T6, 120.0 * dt)
    res = track_area(target, other, base_period, PER6, np.zeros(T6), np.full(T6, 30.0), y_lo,
                     y_hi, dt, omega_per_kwh=1.0, dg_max_kw=g_max or None,
                     dg_cost_per_kwh=g_cost if g_max else None, trade_price_per_kwh=trade)
    assert res.feasible
    assert res.dg_kw.shape == (T6, len(g_max))
    assert np.all(res.dg_kw >= -1e-7) and np.all(res.dg_kw <= np.asarray(g_max) + 1e-7)
    assert np.all(res.buy_kw >= -1e-7)
    if trade is None:
        np.testing.assert_allclose(res.buy_kw, 0.0, atol=1e-9)
    assert res.cost == pytest.approx(
        eq22_cost(res, target, other, dt, 1.0, g_cost if g_max else None, trade),
        rel=1e-7, abs=1e-6)
    assert np.all(np.abs(res.price_change) <= 0.5 + 1e-9)
    np.testing.assert_allclose(
        res.period_kwh, base_period * (1.0 + PAPER_ELASTICITY @ res.price_change), atol=1e-6)


# --------------------------------------------------------------------------- distribution layer

HOURS = np.arange(T)
# valley where the price is low (0.4), peak 17-21, flat 8-16
PERIOD = np.where((HOURS < 8) | (HOURS >= 22), 2, np.where(HOURS >= 17, 0, 1))
BASE = np.array([[150.0, 200.0, 250.0], [120.0, 220.0, 200.0], [100.0, 150.0, 300.0]])
R_MAX = 0.5


@pytest.fixture(scope="module")
def case():
    """The 33-bus day of ``tests/zonal_day33.py`` (three areas of 11 buses)."""
    net, ldf, _ = day33()
    return net, ldf


def _period_kwh(plan, dt):
    return np.stack([plan.ev_kw[PERIOD == j].sum(axis=0) * dt for j in range(3)], axis=1)


def response_range(base_j, el_row, r_max):
    """Min and max of ``E_j (1 + el_row . r)`` over ``|r_k| <= r_max`` (two LPs)."""
    bounds = [(-r_max, r_max)] * 3
    lo = linprog(base_j * el_row, bounds=bounds, method="highs")
    hi = linprog(-base_j * el_row, bounds=bounds, method="highs")
    assert lo.status == 0 and hi.status == 0
    return base_j + lo.fun, base_j - hi.fun


def common_price_change(base, el, period_kwh, r_max):
    """Some ``r`` with ``|r| <= r_max`` and ``E_j (1 + el[j] . r) = period_j`` for all ``j``, or
    ``None`` (a feasibility LP with slacks on the equalities)."""
    # columns r (3), s+ (3), s- (3): min sum s  s.t.  E_j el[j] r + s+_j - s-_j = period_j - E_j
    a_eq = np.hstack([base[:, None] * el, np.eye(3), -np.eye(3)])
    res = linprog(np.r_[np.zeros(3), np.ones(6)], A_eq=a_eq, b_eq=period_kwh - base,
                  bounds=[(-r_max, r_max)] * 3 + [(0, None)] * 6, method="highs")
    assert res.status == 0
    return res.x[:3] if res.fun <= 1e-6 else None


def _inside(period_kwh, base, el, r_max, tol=1e-6):
    for j in range(3):
        lo, hi = response_range(base[j], el[j], r_max)
        if not lo - tol <= period_kwh[j] <= hi + tol:
            return False
    return True


def test_planned_period_energies_are_a_price_response(case):
    net, ldf = case
    free = solve_zonal_network(net, ldf)
    assert free.feasible
    free_kwh = _period_kwh(free, net.dt_h)
    # without the response rows the plan is outside what the users would do (rows bind)
    assert not all(_inside(free_kwh[d], BASE[d], PAPER_ELASTICITY, R_MAX) for d in range(3))

    resp = dataclasses.replace(net, ev_period=PERIOD, ev_base_period_kwh=BASE,
                               max_price_change=R_MAX)
    plan = solve_zonal_network(resp, ldf)
    assert plan.feasible
    got = _period_kwh(plan, net.dt_h)
    for d in range(3):
        assert _inside(got[d], BASE[d], PAPER_ELASTICITY, R_MAX), (d, got[d])
        r = common_price_change(BASE[d], PAPER_ELASTICITY, got[d], R_MAX)
        assert r is not None, (d, got[d])
    # the plan's other rows still hold
    y = np.cumsum(plan.ev_kw, axis=0) * net.dt_h
    assert np.all(y >= net.ev_y_lo_kwh - 1e-6) and np.all(y <= net.ev_y_hi_kwh + 1e-6)


def test_response_with_a_given_elasticity_and_smaller_range(case):
    """Another elasticity matrix (stronger cross terms) and ``r_max = 0.2``: still inside."""
    net, ldf = case
    el = np.array([[-0.4, 0.1, 0.2], [0.05, -0.3, 0.1], [0.05, 0.05, -0.25]])
    resp = dataclasses.replace(net, ev_period=PERIOD, ev_base_period_kwh=BASE, elasticity=el,
                               max_price_change=0.2)
    plan = solve_zonal_network(resp, ldf)
    assert plan.feasible
    got = _period_kwh(plan, net.dt_h)
    for d in range(3):
        assert _inside(got[d], BASE[d], el, 0.2), (d, got[d])
        assert common_price_change(BASE[d], el, got[d], 0.2) is not None


def test_anchor_with_a_large_penalty_is_followed(case):
    """A flat 20 kW per area (``y_t = 20 (t+1) >= 400 (t+1) / 24``, inside every set) is not
    what the plan would do on its own (it charges in the valley); with 1000 per kWh off the
    anchor the plan is the anchor."""
    net, ldf = case
    anchor = np.full((T, 3), 20.0)
    free = solve_zonal_network(net, ldf)
    assert np.abs(free.ev_kw - anchor).max() > 1.0
    plan = solve_zonal_network(dataclasses.replace(net, ev_anchor_kw=anchor,
                                                   anchor_penalty_per_kwh=1e3), ldf)
    assert plan.feasible
    np.testing.assert_allclose(plan.ev_kw, anchor, atol=1e-6)


def test_anchor_outside_the_sets_is_approached_in_l1(case):
    """Anchor 0 kW: the areas must still draw their 400 kWh by the end of the day, so the
    plan stays inside its sets and leaves the anchor by exactly that much (L1, per area)."""
    net, ldf = case
    plan = solve_zonal_network(dataclasses.replace(net, ev_anchor_kw=np.zeros((T, 3)),
                                                   anchor_penalty_per_kwh=1e3), ldf)
    assert plan.feasible
    assert np.all(plan.ev_kw >= -1e-6)
    np.testing.assert_allclose(np.abs(plan.ev_kw).sum(axis=0) * net.dt_h,
                               net.ev_y_lo_kwh[-1], atol=1e-5)
