"""Properties of the probabilistic Minkowski sum (inner/outer envelopes, α monotonicity)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flexibility.aggregation import (
    Envelope,
    mean_envelope,
    probabilistic_envelope,
    scenario_quantile,
    station_envelope,
)
from flexibility.fleet import Fleet, FleetError
from flexibility.metrics import envelope_metrics

# synthetic cases with their own constants (not the scenario's)
ETA = 0.95
DT_H = 0.25
E_MIN_KWH, E_MAX_KWH, P_KW = 10.0, 54.0, 7.0


def random_scenario_envelope(seed, m=50, n=20, t=16):
    """A fixed pseudo-random case for the example-based tests below (not hypothesis)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, t, (m, n))
    d = a + rng.integers(0, t, (m, n))
    fleet = Fleet(a, d, rng.uniform(5, 50, (m, n)), E_MIN_KWH, E_MAX_KWH,
                  rng.uniform(20, 54, (m, n)), P_KW, np.where(rng.random((m, n)) < 0.5, P_KW, 0.0),
                  eta_ch=ETA, eta_dis=ETA, dt_h=DT_H)
    return station_envelope(fleet, t)


@st.composite
def scenario_envelopes(draw, max_m=12, max_n=6, t=16):
    """Station envelopes of ``(M, N)`` scenario fleets, every number drawn by hypothesis."""
    m = draw(st.integers(2, max_m))
    n = draw(st.integers(1, max_n))
    ints = lambda lo, hi: arrays(np.int64, (m, n), elements=st.integers(lo, hi))  # noqa: E731
    flt = lambda lo, hi: arrays(np.float64, (m, n), elements=st.floats(  # noqa: E731
        lo, hi, allow_nan=False, allow_subnormal=False))
    a = draw(ints(-4, t - 1))
    dwell = draw(ints(0, t - 1))
    v2g = draw(arrays(np.bool_, (m, n)))
    fleet = Fleet(a, a + dwell, draw(flt(5.0, 50.0)), E_MIN_KWH, E_MAX_KWH, draw(flt(20.0, 54.0)),
                  P_KW, np.where(v2g, P_KW, 0.0), eta_ch=ETA, eta_dis=ETA, dt_h=DT_H)
    return station_envelope(fleet, t)


def within(inner, outer):
    """inner ⊆ outer interval-wise: charging, discharging and energy band."""
    tol = 1e-9
    return (np.all(inner.p_max_kw <= outer.p_max_kw + tol)
            and np.all(inner.p_min_kw >= outer.p_min_kw - tol)
            and np.all(inner.e_max_kwh <= outer.e_max_kwh + tol)
            and np.all(inner.e_min_kwh >= outer.e_min_kwh - tol))


@settings(max_examples=40, deadline=None)
@given(scenario_envelopes(), st.floats(0.5, 0.98), st.floats(0.0, 0.49))
def test_inner_envelope_shrinks_with_alpha(env, a1, gap):
    a2 = min(a1 + gap, 0.999)
    hi, lo = probabilistic_envelope(env, a2), probabilistic_envelope(env, a1)
    assert within(hi, lo)
    assert envelope_metrics(hi).area_kwh <= envelope_metrics(lo).area_kwh + 1e-9


def outer_envelope(env, alpha):
    """Mirror of the α envelope: covers at least ``alpha`` of the scenarios from outside."""
    q = lambda x, up: scenario_quantile(x, alpha, upper=up)  # noqa: E731
    return Envelope(p_max_kw=q(env.p_max_kw, True), p_min_kw=q(env.p_min_kw, False),
                    e_min_kwh=q(env.e_min_kwh, False), e_max_kwh=q(env.e_max_kwh, True),
                    ds_kwh=env.ds_kwh.mean(0), dt_h=env.dt_h, t0=env.t0)


@settings(max_examples=40, deadline=None)
@given(scenario_envelopes(), st.floats(0.51, 0.99))
def test_inner_median_outer_nested(env, alpha):
    inner = probabilistic_envelope(env, alpha)
    outer = outer_envelope(env, alpha)
    median = probabilistic_envelope(env, 0.5)
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
    a, d, e0, e_req = [2, 5], [6, 9], [20.0, 30.0], [36.0, 40.0]
    fleet = Fleet(a, d, e0, E_MIN_KWH, E_MAX_KWH, e_req, P_KW, P_KW, eta_ch=ETA, eta_dis=ETA,
                  dt_h=DT_H)
    env = station_envelope(fleet, 12)
    # the requirement each can reach: full power over its whole dwell (here below e_req)
    q = [max(min(E_MIN_KWH, e), min(r, e + ETA * P_KW * DT_H * (dd - aa)))
         for aa, dd, e, r in zip(a, d, e0, e_req, strict=True)]
    assert q == pytest.approx([20.0 + 4 * ETA * P_KW * DT_H, 30.0 + 4 * ETA * P_KW * DT_H])
    assert env.ds_kwh.sum() == pytest.approx(sum(e0) - sum(q))
    assert env.ds_kwh[1] == pytest.approx(20.0) and env.ds_kwh[5] == pytest.approx(-q[0])


def test_metrics_area_definition():
    fleet = Fleet([0], [4], [30.0], E_MIN_KWH, E_MAX_KWH, 30.0, P_KW, P_KW, eta_ch=ETA,
                  eta_dis=ETA, dt_h=DT_H)
    env = station_envelope(fleet, 4)
    m = envelope_metrics(env)
    assert m.peak_ch_kw == pytest.approx(P_KW) and m.peak_dis_kw == pytest.approx(P_KW)
    assert m.area_kwh == pytest.approx(4 * 2 * P_KW * DT_H)


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
    fleet = Fleet([0], [2], [12.0], 12.0, 54.0, 36.0, P_KW, P_KW, eta_ch=1.0, dt_h=DT_H)
    assert fleet.unreachable_mask().tolist() == [True]
    assert fleet.reachable_requirement_kwh()[0] == pytest.approx(12.0 + 2 * P_KW * DT_H)
