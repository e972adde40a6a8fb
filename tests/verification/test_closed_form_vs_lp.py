"""Closed-form per-interval projections against an independent trajectory LP/MILP (HiGHS).

The reference is ``tests.oracles``: one small LP per vehicle built here from the raw session
numbers (arrival/departure interval, initial energy, floor, ceiling, requirement, powers,
efficiencies, interval length), with the effective floor/ceiling and the reachable requirement
re-derived from their documented rules. It never calls ``Fleet``'s helpers, so a mistake in
``flexibility/fleet.py`` (e.g. a requirement 10 % too low) shows up as a mismatch; see
``test_oracle_catches_a_lowered_requirement``.

The per-vehicle bounds under test come from the production aggregation
(:func:`flexibility.aggregation.station_envelope`) with every vehicle in its own group, so the
closed forms checked here are the ones the simulator uses.

``flexibility.reference.TrajectoryModel`` (the production LP of the paper's exclusivity
benchmark) is itself checked against the oracle here.
"""

from dataclasses import dataclass, fields

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from flexibility.aggregation import station_envelope
from flexibility.fleet import Fleet
from flexibility.reference import TrajectoryModel
from tests.oracles import RawFleet, limits_of, projection_mismatch, projections
from tests.session_strategies import raw_fleets

T = 12
TOL = 1e-6


def fleet_of(raw: RawFleet) -> Fleet:
    return Fleet(**raw.fleet_kwargs())


@dataclass(frozen=True)
class VehicleBounds:
    """Per-vehicle bounds ``(N, T)``: the shape ``tests.oracles.projection_mismatch`` takes."""

    p_max_kw: np.ndarray
    p_min_kw: np.ndarray
    e_min_kwh: np.ndarray
    e_max_kwh: np.ndarray
    connected: np.ndarray


def vehicle_bounds(fleet: Fleet, n_intervals: int, t0: int = 0,
                   exclusive: bool = False) -> VehicleBounds:
    """Production per-vehicle bounds of a 1-D fleet: ``station_envelope``, one group per vehicle.

    Each group holds one vehicle, so the envelope rows are that vehicle's exact projections
    (zero outside its connection window).
    """
    n = fleet.n_vehicles
    env = station_envelope(fleet, n_intervals, t0=t0, exclusive=exclusive,
                           group=np.arange(n), n_groups=n)
    t = np.arange(t0, t0 + n_intervals)
    a = np.broadcast_to(fleet.arrival_idx, fleet.shape)[:, None]
    d = np.broadcast_to(fleet.departure_idx, fleet.shape)[:, None]
    return VehicleBounds(p_max_kw=env.p_max_kw, p_min_kw=env.p_min_kw, e_min_kwh=env.e_min_kwh,
                         e_max_kwh=env.e_max_kwh, connected=(t >= a) & (t < d))


def concat_fleets(fleets: list[Fleet]) -> Fleet:
    """Join 1-D fleets with equal efficiencies and step along the vehicle axis."""
    first = fleets[0]
    scalars = ("eta_ch", "eta_dis", "dt_h")
    assert all(getattr(f, k) == getattr(first, k) for f in fleets for k in scalars)
    arrays = {fl.name: np.concatenate([np.broadcast_to(getattr(f, fl.name), f.shape)
                                       for f in fleets])
              for fl in fields(Fleet) if fl.name not in scalars}
    return Fleet(**arrays, **{k: getattr(first, k) for k in scalars})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_fleets(horizon=T))
def test_relaxed_projection_equals_lp(raw):
    vb = vehicle_bounds(fleet_of(raw), T)
    assert projection_mismatch(raw, vb, T, energy=False) < TOL


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_fleets(max_vehicles=2, horizon=8))
def test_exclusive_projection_equals_milp(raw):
    vb = vehicle_bounds(fleet_of(raw), 8, exclusive=True)
    assert projection_mismatch(raw, vb, 8, exclusive=True, energy=False) < 1e-5


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_fleets(horizon=T))
def test_energy_band_matches_lp(raw):
    """The reachable energy at each interval start equals the LP's min/max energy."""
    vb = vehicle_bounds(fleet_of(raw), T)
    assert projection_mismatch(raw, vb, T, energy=True) < TOL


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_fleets(max_vehicles=3, horizon=T))
def test_projection_with_offset_equals_lp(raw):
    """Evaluated from ``t0 > 0`` (real-time rows): still the oracle's projections."""
    vb = vehicle_bounds(fleet_of(raw), T - 3, t0=3)
    assert projection_mismatch(raw, vb, T - 3, t0=3) < TOL


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_fleets(max_vehicles=3, horizon=8))
def test_production_trajectory_model_equals_oracle(raw):
    """The production reference LP (``flexibility.reference``) agrees with the oracle."""
    lp = TrajectoryModel(fleet_of(raw)).interval_extremes(8)
    ref = projections(raw, 8, energy=False)
    np.testing.assert_allclose(lp.p_max_kw, ref.p_max_kw.sum(0), atol=TOL, rtol=0)
    np.testing.assert_allclose(lp.p_min_kw, ref.p_min_kw.sum(0), atol=TOL, rtol=0)


@settings(max_examples=100, deadline=None)
@given(raw_fleets(horizon=T, eta_c=0.93, eta_d=0.9, dt=0.5),
       raw_fleets(horizon=T, eta_c=0.93, eta_d=0.9, dt=0.5))
def test_station_sum_equals_oracle_sum(r1, r2):
    """The fast (ragged) station aggregation equals the sum of the oracle's vehicle bounds."""
    fleet = concat_fleets([fleet_of(r1), fleet_of(r2)])
    for t0 in (0, 3):
        env = station_envelope(fleet, T - t0, t0=t0)
        ref = [projections(r, T - t0, t0=t0) for r in (r1, r2)]
        np.testing.assert_allclose(env.p_max_kw, sum(p.p_max_kw.sum(0) for p in ref), atol=1e-6)
        np.testing.assert_allclose(env.p_min_kw, sum(p.p_min_kw.sum(0) for p in ref), atol=1e-6)
        np.testing.assert_allclose(env.e_min_kwh, sum(p.e_min_kwh.sum(0) for p in ref),
                                   atol=1e-6)
        np.testing.assert_allclose(env.e_max_kwh, sum(p.e_max_kwh.sum(0) for p in ref),
                                   atol=1e-6)


def test_relaxation_can_exceed_exclusive_only_on_charging_side():
    """A nearly full V2G vehicle: burning energy lets the relaxed set charge more."""
    eta = 0.9
    raw = RawFleet(a=[0], d=[4], e0=[53.0], e_min=[12.0], e_max=[54.0], e_req=[36.0], pc=[7.0],
                   pd=[7.0], eta_c=eta, eta_d=eta, dt=1.0)
    relaxed = projections(raw, 1, energy=False)
    exclusive = projections(raw, 1, exclusive=True, energy=False)
    assert relaxed.p_max_kw[0, 0] > exclusive.p_max_kw[0, 0] + 1e-3
    assert exclusive.p_max_kw[0, 0] == pytest.approx(1.0 / eta, abs=1e-6)  # 1 kWh headroom
    assert relaxed.p_min_kw[0, 0] == pytest.approx(exclusive.p_min_kw[0, 0], abs=1e-6)
    # and production agrees on both
    fleet = fleet_of(raw)
    assert TrajectoryModel(fleet).extreme_net_power(0, True) == pytest.approx(
        relaxed.p_max_kw[0, 0], abs=1e-6)
    assert TrajectoryModel(fleet, exclusive=True).extreme_net_power(0, True) == pytest.approx(
        1.0 / eta, abs=1e-6)


# --------------------------------------------------------------------------- mutation checks

# A deterministic synthetic fleet (its own constants) where every limit binds somewhere:
# vehicles 0 and 1 arrive low and must leave high (the requirement binds the late intervals),
# vehicle 2 offers V2G with a low requirement and a long dwell (the floor binds), vehicle 3
# arrives nearly full (the ceiling binds).
_DT_H, _ETA = 0.25, 0.95
_BINDING = RawFleet(a=[0, 2, 4, 1], d=[20, 14, 24, 9], e0=[18.0, 30.0, 25.0, 52.0],
                    e_min=[12.0, 12.0, 12.0, 12.0], e_max=[54.0, 54.0, 54.0, 54.0],
                    e_req=[48.0, 45.0, 20.0, 40.0], pc=[7.0, 11.0, 7.0, 7.0],
                    pd=[7.0, 0.0, 7.0, 7.0], eta_c=_ETA, eta_d=_ETA, dt=_DT_H)


def test_oracle_limits_follow_the_documented_rules():
    """The oracle's own rule, on hand-computed numbers (not through production)."""
    raw = RawFleet(a=[0, -2, 3], d=[2, 6, 3], e0=[12.0, 58.0, 5.0], e_min=[15.0, 12.0, 12.0],
                   e_max=[54.0, 54.0, 54.0], e_req=[36.0, 40.0, 36.0], pc=[7.0, 7.0, 7.0],
                   pd=[7.0, 7.0, 7.0], eta_c=1.0, eta_d=1.0, dt=0.25)
    assert limits_of(raw, 0) == pytest.approx((12.0, 54.0, 12.0 + 2 * 7.0 * 0.25))  # unreachable
    assert limits_of(raw, 1) == pytest.approx((12.0, 58.0, 40.0))  # above the ceiling at plug-in
    assert limits_of(raw, 2) == pytest.approx((5.0, 54.0, 5.0))  # zero dwell: nothing reachable


def test_oracle_agrees_with_production_on_the_binding_fleet():
    vb = vehicle_bounds(fleet_of(_BINDING), 24)
    assert projection_mismatch(_BINDING, vb, 24) < TOL


@pytest.mark.parametrize("helper", ["reachable_requirement_kwh", "lower_energy_kwh",
                                    "upper_energy_kwh"])
def test_oracle_catches_a_lowered_requirement(monkeypatch, helper):
    """Mutation check: a production helper off by 10 % must make the comparison fail.

    With the requirement (or floor, or ceiling) scaled in ``Fleet`` the production projections
    move and the oracle, which derives those numbers from the raw rows itself, does not.
    """
    original = getattr(Fleet, helper)
    scale = 1.1 if helper == "upper_energy_kwh" else 0.9
    monkeypatch.setattr(Fleet, helper, lambda self: scale * original(self))
    vb = vehicle_bounds(fleet_of(_BINDING), 24)
    assert projection_mismatch(_BINDING, vb, 24) > 0.1


# -- the paper's per-interval α envelope: each bound holds on a share α of the scenarios -------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 30), t=st.integers(1, 6), alpha=st.floats(0.05, 0.99),
       seed=st.integers(0, 10_000))
def test_per_interval_envelope_bounds_hold_on_a_share_alpha(m, t, alpha, seed):
    from types import SimpleNamespace

    from flexibility.alpha_sets import per_interval_envelope
    from flexibility.battery import Battery

    rng = np.random.default_rng(seed)
    lo = -rng.uniform(0, 50, (m, 2, t))
    hi = rng.uniform(0, 80, (m, 2, t))
    y_lo, y_hi = np.cumsum(lo, -1) * 0.25, np.cumsum(hi, -1) * 0.25
    cs = SimpleNamespace(exact=Battery(lo, hi, y_lo, y_hi, 0.25, 0), dt_h=0.25, t0=0)
    env = per_interval_envelope(cs, alpha)
    tot_hi, tot_lo = hi.sum(1), lo.sum(1)
    need = alpha * m - 1e-9
    # counted directly on the raw scenario rows, per interval
    assert ((tot_hi >= env.p_max_kw[None, :] - 1e-9).sum(0) >= need).all()
    assert ((tot_lo <= env.p_min_kw[None, :] + 1e-9).sum(0) >= need).all()
    assert (env.p_min_kw <= env.p_max_kw + 1e-9).all()
    assert (env.e_min_kwh <= env.e_max_kwh + 1e-9).all()
