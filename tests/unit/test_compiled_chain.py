"""The compiled α package chain gives the numbers of the array code it replaced.

``flexibility.compiled`` runs the vehicle surrogate, its tightening, the station envelope, the
energy-share policy, the deviation battery and the greedy discard one vehicle (one scenario) at
a time; ``tests/array_reference.py`` keeps the whole-array NumPy formulation they replaced.
Both run here on drawn fleets: before and after the window, plugged in before ``t0``, zero
dwell (padding), V2G vehicles whose chord is empty (charge-only fallback), network boxes that
bind (``theta != 0.5``) or cannot be met (misfit). Element-wise steps must agree exactly; sums
over vehicles (a matrix product before, a sum in vehicle order now) to 1e-9.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flexibility.aggregation import station_envelope
from flexibility.alpha_sets import case_sets
from flexibility.battery import Battery, tighten, vehicle_batteries
from flexibility.discard import discard_order
from flexibility.fleet import Fleet
from flexibility.inner import deviation_battery, fleet_batteries, scenario_batteries
from flexibility.share_policy import share_policy, station_sum
from tests.array_reference import (
    deviation_battery_numpy,
    discard_order_numpy,
    scenario_batteries_numpy,
    share_policy_numpy,
    station_envelope_numpy,
    station_sum_numpy,
    tighten_numpy,
    vehicle_batteries_numpy,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)


@st.composite
def fleets(draw, max_scenarios: int = 3, max_vehicles: int = 6):
    """``(fleet (M, N), station (N,), J, T, t0)`` with every kind of vehicle the chain meets."""
    m = draw(st.integers(1, max_scenarios))
    n = draw(st.integers(1, max_vehicles))
    n_t = draw(st.integers(1, 10))
    t0 = draw(st.integers(0, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (m, n)
    a = rng.integers(t0 - 4, t0 + n_t + 1, shape)
    d = a + rng.integers(0, n_t + 4, shape)  # zero dwell included (padding)
    cap = rng.choice([40.0, 60.0], shape)
    e_min = rng.uniform(0.1, 0.3, shape) * cap
    # a floor next to the ceiling empties the V2G chord: the charge-only fallback
    e_max = np.where(rng.random(shape) < 0.2, e_min + rng.uniform(0.0, 0.05, shape),
                     rng.uniform(0.8, 0.95, shape) * cap)
    e0 = rng.uniform(0.0, 1.0, shape) * cap
    e_req = np.minimum(rng.uniform(0.2, 1.0, shape) * cap, e_max)
    pc = rng.choice([0.0, 3.7, 7.0, 11.0], shape, p=[0.05, 0.35, 0.4, 0.2])
    pd = np.where(rng.random(shape) < 0.5, rng.choice([3.7, 7.0], shape), 0.0)
    eta_c, eta_d = (draw(st.sampled_from([0.9, 0.95, 1.0])) for _ in range(2))
    fleet = Fleet(arrival_idx=a, departure_idx=d, e_init_kwh=e0, e_min_kwh=e_min,
                  e_max_kwh=e_max, e_req_kwh=e_req, p_ch_max_kw=pc, p_dis_max_kw=pd,
                  eta_ch=eta_c, eta_dis=eta_d, dt_h=draw(st.sampled_from([0.25, 0.5, 1.0])))
    n_st = draw(st.integers(1, 3))
    return fleet, rng.integers(0, n_st, n), n_st, n_t, t0


def network(fleet, station, n_st, n_t, squeeze):
    """Station boxes ``(T, J)``: a share ``squeeze`` of the stations' power ranges."""
    cap = np.array([fleet.p_ch_max_kw[:, station == j].sum(axis=1).max(initial=0.0)
                    for j in range(n_st)])
    dis = np.array([fleet.p_dis_max_kw[:, station == j].sum(axis=1).max(initial=0.0)
                    for j in range(n_st)])
    return (np.broadcast_to(-squeeze * dis, (n_t, n_st)),
            np.broadcast_to(squeeze * cap, (n_t, n_st)))


@SETTINGS
@given(case=fleets(), seed=st.integers(0, 2**32 - 1))
def test_tighten_and_vehicle_batteries_are_the_array_code(case, seed):
    fleet, _, _, n_t, t0 = case
    vb, ref = vehicle_batteries(fleet, n_t, t0), vehicle_batteries_numpy(fleet, n_t, t0)
    for name in ("p_lo_kw", "p_hi_kw", "y_lo_kwh", "y_hi_kwh"):
        np.testing.assert_array_equal(getattr(vb.battery, name), getattr(ref.battery, name))
    np.testing.assert_array_equal(vb.y_alap_kwh, ref.y_alap_kwh)
    np.testing.assert_array_equal(vb.y_asap_kwh, ref.y_asap_kwh)
    np.testing.assert_array_equal(vb.active, ref.active)
    np.testing.assert_array_equal(vb.feasible, ref.feasible)
    rng = np.random.default_rng(seed)  # any battery rows, power broadcast over scenarios
    p_lo, p_hi = -rng.uniform(0, 5, n_t), rng.uniform(0, 5, n_t)
    y = np.cumsum(rng.uniform(-3, 3, (3, n_t)), axis=-1)
    y_lo, y_hi = y - rng.uniform(0, 4, y.shape), y + rng.uniform(0, 4, y.shape)
    for got, want in zip(tighten(p_lo, p_hi, y_lo, y_hi, 0.25),
                         tighten_numpy(p_lo, p_hi, y_lo, y_hi, 0.25), strict=True):
        np.testing.assert_array_equal(got, want)


@SETTINGS
@given(case=fleets(), squeeze=st.sampled_from([None, 0.2, 0.6, 1.0]))
def test_share_policy_and_inner_batteries_are_the_array_code(case, squeeze):
    fleet, station, n_st, n_t, t0 = case
    net_lo, net_hi = (None, None) if squeeze is None else network(fleet, station, n_st, n_t,
                                                                   squeeze)
    vb = vehicle_batteries(fleet, n_t, t0)
    pol, misfit, excess = share_policy(vb, station, n_st, net_lo, net_hi)
    ref, misfit_ref, excess_ref = share_policy_numpy(vb, station, n_st, net_lo, net_hi)
    np.testing.assert_array_equal(misfit, misfit_ref)
    close(excess, excess_ref)
    close(pol.y_ref_kwh, ref.y_ref_kwh)
    close(pol.omega_kwh, ref.omega_kwh)
    close(station_sum(pol.omega_kwh, station, n_st), station_sum_numpy(ref.omega_kwh, station,
                                                                        n_st))
    got = deviation_battery(vb, pol, 0.25, net_lo, net_hi)
    want = deviation_battery_numpy(vb, ref, 0.25, net_lo, net_hi)
    for name in ("p_lo_kw", "p_hi_kw", "y_lo_kwh", "y_hi_kwh"):
        close(getattr(got, name), getattr(want, name))
    whole = scenario_batteries_numpy(vehicle_batteries_numpy(fleet, n_t, t0), station, n_st,
                                     net_lo, net_hi)
    for sb in (scenario_batteries(vb, station, n_st, net_lo, net_hi),
               fleet_batteries(fleet, station, n_st, n_t, t0, net_lo, net_hi)):
        np.testing.assert_array_equal(sb.misfit, whole.misfit)
        for name in ("p_lo_kw", "p_hi_kw", "y_lo_kwh", "y_hi_kwh"):
            close(getattr(sb.batteries, name), getattr(whole.batteries, name))
        for name in ("ref_kw", "unsheddable_kw", "station_ref_kw", "station_share"):
            close(getattr(sb, name), getattr(whole, name))


@SETTINGS
@given(case=fleets(), exclusive=st.booleans(), grouped=st.booleans())
def test_station_envelope_and_case_sets_are_the_array_code(case, exclusive, grouped):
    fleet, station, n_st, n_t, t0 = case
    group = (np.clip(fleet.arrival_idx - t0, -1, n_t) + 1) if grouped else None
    n_groups = n_t + 2 if grouped else 1
    got = station_envelope(fleet, n_t, t0, exclusive, group, n_groups)
    want = station_envelope_numpy(fleet, n_t, t0, exclusive, group, n_groups)
    for name in ("p_max_kw", "p_min_kw", "e_min_kwh", "e_max_kwh", "ds_kwh"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    names = tuple(f"S{j}" for j in range(n_st))
    fleets_j = [fleet.take(station == j) for j in range(n_st)]
    cs = case_sets(names, fleets_j, n_t, t0)
    vb = vehicle_batteries_numpy(cs.fleet, n_t, t0)
    pol, _, _ = share_policy_numpy(vb, cs.station, n_st)
    r = np.diff(pol.y_ref_kwh, axis=-1, prepend=0.0) / fleet.dt_h
    close(cs.ref_kw, station_sum_numpy(r, cs.station, n_st))
    close(cs.exact.y_lo_kwh, station_sum_numpy(vb.y_alap_kwh, cs.station, n_st))
    close(cs.exact.y_hi_kwh, station_sum_numpy(vb.y_asap_kwh, cs.station, n_st))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 12), n_min=st.integers(1, 4),
       ties=st.booleans())
def test_discard_order_is_the_array_code(seed, m, n_min, ties):
    rng = np.random.default_rng(seed)
    n_t = 5
    draw = ((lambda *s: rng.integers(-2, 3, s).astype(float)) if ties
            else (lambda *s: rng.normal(size=s)))
    p_lo, p_hi = -np.abs(draw(m, n_t)), np.abs(draw(m, n_t))
    y_lo, y_hi = -np.abs(draw(m, n_t)), np.abs(draw(m, n_t))
    batt = Battery(p_lo, p_hi, y_lo, y_hi, 0.25)
    unusable = rng.random(m) < 0.2
    for u in (None, unusable):
        np.testing.assert_array_equal(discard_order(batt, n_min, u),
                                      discard_order_numpy(batt, n_min, u))
