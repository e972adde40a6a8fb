"""Closed-form per-interval projections against the trajectory LP/MILP solved by HiGHS."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from flexibility.aggregation import station_envelope
from flexibility.reference import TrajectoryModel
from flexibility.vehicle import vehicle_bounds
from tests.strategies import fleets

T = 12
TOL = 1e-6


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(horizon=T))
def test_relaxed_projection_equals_lp(fleet):
    lp = TrajectoryModel(fleet).interval_extremes(T)
    vb = vehicle_bounds(fleet, T)
    np.testing.assert_allclose(vb.p_max_kw.sum(axis=0), lp.p_max_kw, atol=TOL, rtol=0)
    np.testing.assert_allclose(vb.p_min_kw.sum(axis=0), lp.p_min_kw, atol=TOL, rtol=0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(max_vehicles=2, horizon=8))
def test_exclusive_projection_equals_milp(fleet):
    milp = TrajectoryModel(fleet, exclusive=True).interval_extremes(8)
    vb = vehicle_bounds(fleet, 8, exclusive=True)
    np.testing.assert_allclose(vb.p_max_kw.sum(axis=0), milp.p_max_kw, atol=1e-5, rtol=0)
    np.testing.assert_allclose(vb.p_min_kw.sum(axis=0), milp.p_min_kw, atol=1e-5, rtol=0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(horizon=T))
def test_energy_band_matches_lp(fleet):
    """The reachable energy at each interval start equals the LP's min/max energy."""
    vb = vehicle_bounds(fleet, T)
    for n in range(fleet.n_vehicles):
        single = fleet.take(np.array([n]))
        model = TrajectoryModel(single)
        for t in range(T):
            if not vb.connected[n, t]:
                continue
            lo, hi = model.extreme_energy(t)
            assert vb.e_min_kwh[n, t] == pytest.approx(lo, abs=TOL)
            assert vb.e_max_kwh[n, t] == pytest.approx(hi, abs=TOL)


@settings(max_examples=100, deadline=None)
@given(fleets(horizon=T), fleets(horizon=T))
def test_ragged_station_sum_equals_dense(f1, f2):
    """The fast station aggregation equals summing the dense per-vehicle bounds."""
    from flexibility.fleet import concat_fleets

    if (f1.eta_ch, f1.eta_dis, f1.dt_h) != (f2.eta_ch, f2.eta_dis, f2.dt_h):
        f2 = type(f2)(**{**{k: getattr(f2, k) for k in (
            "arrival_idx", "departure_idx", "e_init_kwh", "e_min_kwh", "e_max_kwh", "e_req_kwh",
            "p_ch_max_kw", "p_dis_max_kw")}, "eta_ch": f1.eta_ch, "eta_dis": f1.eta_dis,
            "dt_h": f1.dt_h})
    fleet = concat_fleets([f1, f2])
    for t0 in (0, 3):
        env = station_envelope(fleet, T - t0, t0=t0)
        vb = vehicle_bounds(fleet, T - t0, t0=t0)
        np.testing.assert_allclose(env.p_max_kw, vb.p_max_kw.sum(0), atol=1e-9)
        np.testing.assert_allclose(env.p_min_kw, vb.p_min_kw.sum(0), atol=1e-9)
        np.testing.assert_allclose(env.e_min_kwh, vb.e_min_kwh.sum(0), atol=1e-9)
        np.testing.assert_allclose(env.e_max_kwh, vb.e_max_kwh.sum(0), atol=1e-9)


def test_relaxation_can_exceed_exclusive_only_on_charging_side():
    """A nearly full V2G vehicle: burning energy lets the relaxed set charge more."""
    from flexibility.fleet import Fleet

    fleet = Fleet(arrival_idx=[0], departure_idx=[4], e_init_kwh=[53.0], e_min_kwh=[12.0],
                  e_max_kwh=[54.0], e_req_kwh=[36.0], p_ch_max_kw=[7.0], p_dis_max_kw=[7.0],
                  eta_ch=0.9, eta_dis=0.9, dt_h=1.0)
    relaxed = TrajectoryModel(fleet).extreme_net_power(0, True)
    exclusive = TrajectoryModel(fleet, exclusive=True).extreme_net_power(0, True)
    assert relaxed > exclusive + 1e-3
    assert exclusive == pytest.approx(1.0 / 0.9, abs=1e-6)  # fills the 1 kWh headroom
