"""Properties of the probabilistic Minkowski sum (inner/outer envelopes, α monotonicity)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexibility.aggregation import (
    Envelope,
    mean_envelope,
    probabilistic_envelope,
    scenario_quantile,
    station_envelope,
)
from flexibility.fleet import Fleet, FleetError
from flexibility.metrics import envelope_metrics


def random_scenario_envelope(seed, m=50, n=20, t=16):
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, t, (m, n))
    d = a + rng.integers(0, t, (m, n))
    fleet = Fleet(a, d, rng.uniform(5, 50, (m, n)), 10.0, 54.0, rng.uniform(20, 54, (m, n)),
                  7.0, np.where(rng.random((m, n)) < 0.5, 7.0, 0.0))
    return station_envelope(fleet, t)


def within(inner, outer):
    """inner ⊆ outer interval-wise: charging, discharging and energy band."""
    tol = 1e-9
    return (np.all(inner.p_max_kw <= outer.p_max_kw + tol)
            and np.all(inner.p_min_kw >= outer.p_min_kw - tol)
            and np.all(inner.e_max_kwh <= outer.e_max_kwh + tol)
            and np.all(inner.e_min_kwh >= outer.e_min_kwh - tol))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.floats(0.5, 0.98), st.floats(0.0, 0.49))
def test_inner_envelope_shrinks_with_alpha(seed, a1, gap):
    env = random_scenario_envelope(seed)
    a2 = min(a1 + gap, 0.999)
    hi, lo = probabilistic_envelope(env, a2), probabilistic_envelope(env, a1)
    assert within(hi, lo)
    assert envelope_metrics(hi).area_kwh <= envelope_metrics(lo).area_kwh + 1e-9


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.floats(0.51, 0.99))
def test_inner_median_outer_nested(seed, alpha):
    env = random_scenario_envelope(seed)
    inner = probabilistic_envelope(env, alpha, "inner")
    outer = probabilistic_envelope(env, alpha, "outer")
    median = probabilistic_envelope(env, 0.5, "inner")
    assert within(inner, median) and within(median, outer)
    # the expectation lies between the extreme scenarios (α -> 1)
    mean = mean_envelope(env)
    hull = Envelope(p_max_kw=env.p_max_kw.max(0), p_min_kw=env.p_min_kw.min(0),
                    e_min_kwh=env.e_min_kwh.min(0), e_max_kwh=env.e_max_kwh.max(0),
                    ds_kwh=env.ds_kwh.mean(0), dt_h=env.dt_h)
    assert within(mean, hull)


def test_quantile_definition_counts_scenarios():
    x = np.arange(1.0, 11.0)[:, None]  # 10 scenarios, values 1..10
    v = scenario_quantile(x, 0.9, upper=False)
    assert np.sum(x >= v) >= 9 and np.sum(x >= v + 1) < 9  # largest value reached in >= 90 %
    assert scenario_quantile(x, 0.9, upper=True)[0] == 9.0


def test_alpha_outside_unit_interval_rejected():
    env = random_scenario_envelope(0, m=5)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="alpha"):
            probabilistic_envelope(env, bad)


def test_minkowski_sum_adds():
    e1 = random_scenario_envelope(1, m=3)
    e2 = random_scenario_envelope(2, m=3)
    s = e1 + e2
    np.testing.assert_allclose(s.p_max_kw, e1.p_max_kw + e2.p_max_kw)
    assert isinstance(s, Envelope)


def test_drift_balances_energy_of_complete_sessions():
    """Sum of dS equals arrivals' energy minus departures' requirement within the horizon."""
    fleet = Fleet([2, 5], [6, 9], [20.0, 30.0], 10.0, 54.0, [36.0, 40.0], 7.0, 7.0)
    env = station_envelope(fleet, 12)
    q = fleet.reachable_requirement_kwh()
    assert env.ds_kwh.sum() == pytest.approx(50.0 - q.sum())
    assert env.ds_kwh[1] == pytest.approx(20.0) and env.ds_kwh[5] == pytest.approx(-q[0])


def test_metrics_area_definition():
    fleet = Fleet([0], [4], [30.0], 10.0, 54.0, 30.0, 7.0, 7.0, dt_h=0.25)
    env = station_envelope(fleet, 4)
    m = envelope_metrics(env)
    assert m.peak_ch_kw == pytest.approx(7.0) and m.peak_dis_kw == pytest.approx(7.0)
    assert m.area_kwh == pytest.approx(4 * 14.0 * 0.25)


@pytest.mark.parametrize("field,kwargs", [
    ("departure_idx", dict(arrival_idx=[3], departure_idx=[2])),
    ("e_min_kwh", dict(e_min_kwh=[60.0])),
    ("e_req_kwh", dict(e_req_kwh=[58.0])),
])
def test_fleet_rejects_inconsistent_input(field, kwargs):
    base = dict(arrival_idx=[0], departure_idx=[4], e_init_kwh=[30.0], e_min_kwh=[10.0],
                e_max_kwh=[54.0], e_req_kwh=[36.0], p_ch_max_kw=[7.0], p_dis_max_kw=[7.0])
    with pytest.raises(FleetError, match=field):
        Fleet(**{**base, **kwargs})


def test_unreachable_requirement_is_capped_and_counted():
    fleet = Fleet([0], [2], [12.0], 12.0, 54.0, 36.0, 7.0, 7.0, eta_ch=1.0, dt_h=0.25)
    assert fleet.unreachable_mask().tolist() == [True]
    assert fleet.reachable_requirement_kwh()[0] == pytest.approx(12.0 + 2 * 7.0 * 0.25)
