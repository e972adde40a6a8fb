"""Aggregation layer, one area: tracking with price-responsive users, the period
energies checked against the independent T x T form of eq. 25 (``price_response.respond``)."""

import numpy as np

from dispatch.price_response import respond
from dispatch.zonal_agg import track_area

T = 24
PERIOD = np.array([2] * 7 + [1] * 3 + [0] * 4 + [1] * 3 + [0] * 4 + [1] * 2 + [2])


def _case(target_shift):
    other = 300.0 + 100.0 * np.sin(np.linspace(0, 2 * np.pi, T))
    base_ev = np.where(PERIOD == 0, 80.0, np.where(PERIOD == 1, 60.0, 40.0))
    base_period = np.array([base_ev[PERIOD == j].sum() for j in range(3)])
    target = other + base_ev + target_shift
    return target, other, base_period, base_ev


def test_reachable_target_is_tracked_without_price_moves():
    target, other, base_period, _base_ev = _case(0.0)
    res = track_area(target, other, base_period, PERIOD, np.zeros(T), np.full(T, 200.0),
                     np.zeros(T), np.full(T, 1e6), 1.0)
    assert res.feasible and res.deviation_kwh < 1e-6
    assert np.allclose(res.price_change, 0.0, atol=1e-9)


def test_shifting_demand_out_of_the_peak_moves_prices_as_eq_25_says():
    """A target with 30 kW less in every peak interval: the area raises the peak price (and
    may lower others); the resulting period energies equal the T x T response of the same
    price changes computed by ``respond``."""
    shift = np.where(PERIOD == 0, -30.0, 0.0)
    target, other, base_period, base_ev = _case(shift)
    res = track_area(target, other, base_period, PERIOD, np.zeros(T), np.full(T, 200.0),
                     np.zeros(T), np.full(T, 1e6), 1.0)
    assert res.feasible and res.price_change[0] > 0.05
    price = 1.0 + res.price_change[PERIOD]
    expected = respond(base_ev, np.ones(T), price, PERIOD)
    for j in range(3):
        assert np.isclose(res.period_kwh[j], expected[PERIOD == j].sum(), rtol=1e-6)
    assert np.all(np.abs(res.price_change) <= 0.5 + 1e-9)
