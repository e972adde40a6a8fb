"""Deliverability of the surrogate vehicle sets, the share-policy inner batteries and the α set.

The checker here is independent of the code under test: it simulates every vehicle's stored
energy with the lossy model ``e += eta_ch x dt`` (charging) / ``e += x dt / eta_dis``
(discharging) from the raw session numbers (arrival and departure intervals, initial energy,
limits, requirement) and checks every limit and the departure requirement itself; it never
calls ``Fleet``'s helpers or ``flexibility.battery``. Extreme trajectories of the batteries come
from the g-polymatroid greedy (``flexibility.gpolymatroid``, verified against LPs elsewhere).

Breaking a rule on purpose (done while writing these tests): with the chord's idle loss ``c0``
set to 0 in ``flexibility/battery.py`` (a lossless model of a lossy V2G vehicle),
``test_surrogate_trajectories_are_feasible`` fails with a departure shortfall; with the
aggregate transfer term ``|ΔOmega| k`` dropped from the power box in
``flexibility.inner.deviation_battery``, ``test_share_policy_delivers_every_extreme_trajectory``
fails. Dropping only the per-vehicle transfer term ``|Δw_n| k`` was not caught by these small
cases (the rate limit on the shares keeps it small); it stays in the rows as derived.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flexibility.battery import vehicle_batteries
from flexibility.discard import deviations
from flexibility.fleet import Fleet
from flexibility.inner import alpha_intersection, fleet_batteries, scenario_batteries
from flexibility.share_policy import share_policy
from tests.batteries import battery_vertices

TOL = 1e-6
HORIZON = 8
DT_CHOICES_H = (0.25, 0.5, 1.0)  # synthetic cases: 15-, 30- and 60-minute intervals


@st.composite
def raw_fleets(draw, max_scenarios: int = 3, max_vehicles: int = 4, horizon: int = HORIZON):
    """Raw session numbers, drawn value by value so that failures shrink."""
    m = draw(st.integers(1, max_scenarios))
    n = draw(st.integers(1, max_vehicles))
    shape = (m, n)
    T = horizon

    def arr(elements):
        return np.array(draw(st.lists(elements, min_size=m * n, max_size=m * n))).reshape(shape)

    a = arr(st.integers(-2, T - 1))
    dwell = arr(st.integers(0, T + 3))
    cap = arr(st.sampled_from([40.0, 60.0]))
    soc0 = arr(st.floats(0.05, 0.95))
    pc = arr(st.sampled_from([3.7, 7.0, 11.0]))
    v2g = arr(st.booleans())
    req = arr(st.floats(0.3, 0.9))
    eta_c = draw(st.sampled_from([0.9, 0.95, 1.0]))
    eta_d = draw(st.sampled_from([0.9, 0.95, 1.0]))
    dt = draw(st.sampled_from(DT_CHOICES_H))
    return dict(a=a, d=a + dwell, e0=soc0 * cap, e_min=0.2 * cap, e_max=0.9 * cap,
                e_req=np.minimum(req, 0.9) * cap, pc=pc, pd=np.where(v2g, pc, 0.0),
                eta_c=eta_c, eta_d=eta_d, dt=dt, T=T)


def fleet_of(raw: dict) -> Fleet:
    return Fleet(arrival_idx=raw["a"], departure_idx=raw["d"], e_init_kwh=raw["e0"],
                 e_min_kwh=raw["e_min"], e_max_kwh=raw["e_max"], e_req_kwh=raw["e_req"],
                 p_ch_max_kw=raw["pc"], p_dis_max_kw=raw["pd"], eta_ch=raw["eta_c"],
                 eta_dis=raw["eta_d"], dt_h=raw["dt"])


def violations(raw: dict, m: int, x_kw: np.ndarray) -> list[str]:
    """Independent lossy check of vehicle trajectories ``x (N, T)`` of scenario ``m``."""
    out = []
    T, dt = raw["T"], raw["dt"]
    for n in range(x_kw.shape[0]):
        a, d = int(raw["a"][m, n]), int(raw["d"][m, n])
        pc, pd = raw["pc"][m, n], raw["pd"][m, n]
        e_min, e_max, e0 = raw["e_min"][m, n], raw["e_max"][m, n], raw["e0"][m, n]
        lo, hi = min(e_min, e0), max(e_max, e0)
        # before the horizon the vehicle charged at full power (uncontrolled baseline)
        e = e0
        for _ in range(max(0, -a)):
            e = min(hi, e + raw["eta_c"] * pc * dt)
        start = max(a, 0)
        # the requirement reachable from the plug-in state, computed from the raw numbers
        reach = e0 + raw["eta_c"] * pc * dt * (d - a)
        q = max(lo, min(raw["e_req"][m, n], reach))
        for t in range(T):
            p = x_kw[n, t]
            if not start <= t < d:
                if abs(p) > TOL:
                    out.append(f"vehicle {n} moves outside its window at t={t}: {p}")
                continue
            if p > pc + TOL or p < -pd - TOL:
                out.append(f"vehicle {n} power {p} outside [-{pd}, {pc}] at t={t}")
            e += (raw["eta_c"] * p if p >= 0 else p / raw["eta_d"]) * dt
            if e < lo - TOL or e > hi + TOL:
                out.append(f"vehicle {n} energy {e} outside [{lo}, {hi}] after t={t}")
        if d > start:
            left = max(d - T, 0)
            if e + raw["eta_c"] * pc * dt * left < q - TOL:
                out.append(f"vehicle {n} misses its requirement {q} (has {e}, {left} left)")
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_fleets(), theta=st.floats(0.0, 1.0))
def test_surrogate_trajectories_are_feasible(raw, theta):
    fleet = fleet_of(raw)
    vb = vehicle_batteries(fleet, raw["T"])
    y = vb.y_alap_kwh + theta * (vb.y_asap_kwh - vb.y_alap_kwh)  # convex combination
    x = np.diff(y, axis=-1, prepend=0.0) / raw["dt"]
    for m in range(x.shape[0]):
        assert not violations(raw, m, x[m])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_fleets(), n_st=st.integers(1, 2), network=st.booleans(),
       directions=arrays(np.float64, (8, HORIZON),
                         elements=st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)))
def test_share_policy_delivers_every_extreme_trajectory(raw, n_st, network, directions):
    fleet = fleet_of(raw)
    T = raw["T"]
    m, n = fleet.shape
    station = np.arange(n) % n_st
    vb = vehicle_batteries(fleet, T)
    net_lo = net_hi = None
    if network:  # a network box per station around half the stations' ranges
        cap = np.array([[raw["pc"][:, station == j].sum() for j in range(n_st)]] * T)
        net_lo, net_hi = -0.5 * cap, 0.6 * cap
    sb = scenario_batteries(vb, station, n_st, net_lo, net_hi)
    pol, _, _ = share_policy(vb, station, n_st, net_lo, net_hi, *sb.params[:2])
    for k in range(m):
        if sb.misfit[k]:
            continue
        b = sb.batteries.take(k).tightened()
        assert not b.empty_mask(), "the reference itself must lie inside B_m"
        for x in battery_vertices(b, directions=directions):
            assert b.contains(x, 1e-6)
            delta = x - sb.ref_kw[k]
            xv = pol.split(np.broadcast_to(delta, (m, T)))[k]
            np.testing.assert_allclose(xv.sum(axis=0), x, atol=1e-6)
            assert not violations(raw, k, xv)
            if network:
                for j in range(n_st):
                    pj = xv[station == j].sum(axis=0)
                    assert (pj <= net_hi[:, j] + 1e-6).all() and (pj >= net_lo[:, j] - 1e-6).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_fleets(max_scenarios=4), alpha=st.sampled_from([0.5, 0.75, 0.9]))
def test_alpha_set_is_nonempty_and_inside_every_kept_scenario(raw, alpha):
    fleet = fleet_of(raw)
    vb = vehicle_batteries(fleet, raw["T"])
    n = fleet.shape[1]
    sb = scenario_batteries(vb, np.zeros(n, int), 1)
    m = fleet.shape[0]
    inner = alpha_intersection(sb, max(1, int(np.ceil(alpha * m))))
    d = inner.deviation.tightened()
    assert not d.empty_mask()
    assert (d.y_lo_kwh <= d.y_hi_kwh + 1e-9).all() and (d.p_lo_kw <= d.p_hi_kw + 1e-9).all()
    assert (d.y_lo_kwh <= 1e-9).all() and (d.y_hi_kwh >= -1e-9).all()  # contains 0
    dev = deviations(sb.batteries, sb.ref_kw)
    for k in np.flatnonzero(inner.kept):
        assert (d.p_lo_kw >= dev.p_lo_kw[k] - 1e-9).all()
        assert (d.p_hi_kw <= dev.p_hi_kw[k] + 1e-9).all()
        assert (d.y_lo_kwh >= dev.y_lo_kwh[k] - 1e-9).all()
        assert (d.y_hi_kwh <= dev.y_hi_kwh[k] + 1e-9).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_fleets(max_scenarios=4), n_st=st.integers(1, 2), chunk=st.integers(1, 3))
def test_fleet_batteries_do_not_depend_on_the_scenario_chunk(raw, n_st, chunk):
    """Building scenarios a few at a time (``chunk``) gives exactly the all-at-once result,
    the deliverability rows of ``flexibility.common_battery`` included."""
    fleet = fleet_of(raw)
    _m, n = fleet.shape
    station = np.arange(n) % n_st
    whole = scenario_batteries(vehicle_batteries(fleet, raw["T"]), station, n_st)
    parts = fleet_batteries(fleet, station, n_st, raw["T"], chunk=chunk)
    for name in ("p_lo_kw", "p_hi_kw", "y_lo_kwh", "y_hi_kwh"):
        np.testing.assert_array_equal(getattr(parts.batteries, name),
                                      getattr(whole.batteries, name))
    np.testing.assert_array_equal(parts.ref_kw, whole.ref_kw)
    np.testing.assert_array_equal(parts.station_share, whole.station_share)
    for name in ("power_coef_per_kw", "energy_coef_per_kwh", "n_rows", "limits"):
        np.testing.assert_array_equal(getattr(parts.rows, name), getattr(whole.rows, name))
