"""Vehicle dispatch of the zonal aggregation layer against independent references.

* ``flexibility.gpolymatroid_lp.track`` against a dense ``scipy.optimize.linprog`` (HiGHS)
  written out here: one power column per vehicle and interval (its power bounds as column
  bounds), the cumulative energy as a dense ``dt * tril`` block per vehicle, and L1 slack
  columns ``s+, s-`` on the aggregate; the optimal L1 deviation must agree.
* ``dispatch.zonal_vehicles.schedule_vehicles`` on fleets (``flexibility.fleet.Fleet`` ->
  ``vehicle_batteries(...).battery``): set-points inside the raw rows (plain numpy), the
  deviation it reports, one group of all types equal to ``track``, the grouped order as close
  as one group (the joint pass), the earlier groups kept where the last can follow alone
  (independent ``track`` calls), and the vehicles' own lossy energy balance replayed by
  ``environment.assessment.zonal_study.vehicle_check``.
* ``track`` with anchors against the dense oracle with its own move columns, and by hand.
* ``vehicle_check`` catches schedules that break a vehicle's balance.

Break-the-rule checks (done on purpose while writing these tests, through a throwaway
re-execution of the module with one line changed; the library files untouched):

* ``_effective_y_bounds`` not folding the upper bound (``hi`` kept as ``y_max`` where the next
  interval is inactive) fails ``test_track_equals_dense_linprog`` (``track`` returns
  trajectories above an energy ceiling that applies after the device's last active interval);
* ``schedule_vehicles`` not passing the residual on (``residual = residual``) fails
  ``test_a_later_group_tracks_what_the_earlier_ones_left``;
* the move columns at price 0 fail ``test_track_with_anchors_equals_dense_linprog`` and
  ``test_an_anchored_device_moves_only_where_the_deviation_falls_by_more``; the joint pass
  without anchors fails
  ``test_the_joint_pass_keeps_an_earlier_group_where_moving_does_not_help`` and
  ``test_a_later_group_tracks_what_the_earlier_ones_left`` (the property test
  ``test_earlier_groups_keep_their_set_points_when_the_last_can_follow`` did not catch it in
  its 40 examples);
* ``vehicle_check`` without the ``e > hi`` test fails
  ``test_vehicle_check_counts_a_vehicle_charged_beyond_its_ceiling``.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.sparse import block_diag, csr_matrix, hstack, vstack

from dispatch.ev_types import ORDER, classify
from dispatch.zonal_vehicles import schedule_vehicles
from environment.assessment.zonal_study import vehicle_check
from flexibility import gpolymatroid_lp
from flexibility.battery import vehicle_batteries
from flexibility.common import ModelInputError
from flexibility.fleet import Fleet
from flexibility.gpolymatroid import BatterySet
from flexibility.gpolymatroid_lp import track
from tests.oracles import RawFleet
from tests.session_strategies import raw_fleets

TOL = 1e-6
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- data


def _grid(lo, hi, step):
    return st.integers(round(lo / step), round(hi / step)).map(lambda k: k * step)


@st.composite
def battery_sets(draw, max_devices=4, max_t=8):
    """Devices built around one feasible trajectory each (so no set is empty).

    A connection window ``[a, d)`` (possibly empty), power limits inside it (0 outside), a
    trajectory ``x`` inside them and energy bounds ``y(x) - slack <= y <= y(x) + slack``.
    """
    n = draw(st.integers(1, max_devices))
    T = draw(st.integers(1, max_t))
    dt = draw(st.sampled_from([0.25, 0.5, 1.0]))
    u_min, u_max, x = np.zeros((n, T)), np.zeros((n, T)), np.zeros((n, T))
    y_min, y_max = np.zeros((n, T)), np.zeros((n, T))
    slack = st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0, 50.0])
    for i in range(n):
        a = draw(st.integers(0, T - 1))
        d = draw(st.integers(a, T))
        for t in range(a, d):
            lo = draw(_grid(-6.0, 4.0, 1.0))
            u_min[i, t] = lo
            u_max[i, t] = lo + draw(_grid(0.0, 8.0, 1.0))
            x[i, t] = lo + draw(_grid(0.0, 1.0, 0.25)) * (u_max[i, t] - lo)
        y = np.cumsum(x[i]) * dt
        for t in range(T):
            y_min[i, t] = y[t] - draw(slack)
            y_max[i, t] = y[t] + draw(slack)
    return BatterySet(u_min, u_max, y_min, y_max, dt), x


def targets(T):
    return st.lists(_grid(-20.0, 20.0, 0.5), min_size=T, max_size=T).map(np.array)


# --------------------------------------------------------------------------- reference


def dense_l1_tracking(u_min, u_max, y_min, y_max, dt, target, anchor=None, price=0.0):
    """``min sum_t (s+_t + s-_t) + price sum (m+ + m-)`` s.t. ``sum_n x_nt - s+_t + s-_t =
    target_t``, ``x_nt - m+_nt + m-_nt = anchor_nt`` for every device with a finite anchor row
    (all its intervals, idle ones too: there ``x = 0``), the raw power bounds and
    ``y_min <= dt tril x_n <= y_max`` for every vehicle (dense rows). Returns the optimal
    objective, or ``None`` if infeasible."""
    n, T = u_min.shape
    anchored = [] if anchor is None else [i for i in range(n) if np.isfinite(anchor[i]).all()]
    n_m = 2 * T * len(anchored)
    cum = np.tril(np.ones((T, T))) * dt
    a_y = hstack([block_diag([csr_matrix(cum)] * n), csr_matrix((n * T, 2 * T + n_m))])
    a_ub = vstack([a_y, -a_y]).toarray()
    b_ub = np.r_[y_max.ravel(), -y_min.ravel()]
    a_eq = np.hstack([np.tile(np.eye(T), n), -np.eye(T), np.eye(T), np.zeros((T, n_m))])
    b_eq = list(target)
    for k, i in enumerate(anchored):
        rows = np.zeros((T, n * T + 2 * T + n_m))
        rows[:, i * T:(i + 1) * T] = np.eye(T)
        off = n * T + 2 * T + 2 * T * k
        rows[:, off:off + T] = -np.eye(T)
        rows[:, off + T:off + 2 * T] = np.eye(T)
        a_eq = np.vstack([a_eq, rows])
        b_eq += list(anchor[i])
    c = np.r_[np.zeros(n * T), np.ones(2 * T), np.full(n_m, price)]
    bounds = (list(zip(u_min.ravel(), u_max.ravel(), strict=True))
              + [(0, None)] * (2 * T + n_m))
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.array(b_eq), bounds=bounds,
                  method="highs")
    if res.status == 2:
        return None
    assert res.status == 0, res.message
    return float(res.fun)


def assert_in_sets(x, u_min, u_max, y_min, y_max, dt, tol=TOL):
    """Every row of every set, plain numpy."""
    y = np.cumsum(x, axis=1) * dt
    assert np.all(x >= u_min - tol) and np.all(x <= u_max + tol)
    assert np.all(y >= y_min - tol) and np.all(y <= y_max + tol)


# --------------------------------------------------------------------------- track


@pytest.mark.parametrize("primal_from_pairs", [gpolymatroid_lp.PRIMAL_FROM_PAIRS, 0],
                         ids=["default", "primal-simplex"])
@SETTINGS
@given(st.data())
def test_track_equals_dense_linprog(primal_from_pairs, data):
    """Both simplex variants of the tracking LP (the primal one is used on large LPs; a
    threshold of 0 sends every LP there) reach the dense oracle's optimum."""
    batt, x_feas = data.draw(battery_sets())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gpolymatroid_lp, "PRIMAL_FROM_PAIRS", primal_from_pairs)
        _check_track(batt, x_feas, data)


def _check_track(batt, x_feas, data):
    T = batt.n_intervals
    near = data.draw(st.booleans())  # half the targets a perturbation of a feasible sum
    target = data.draw(targets(T))
    if near:
        target = x_feas.sum(axis=0) + 0.1 * target
    out = track(batt, target)
    assert out is not None
    x, dev = out
    assert x.shape == (batt.n_devices, T)
    assert_in_sets(x, batt.u_min_kw, batt.u_max_kw, batt.y_min_kwh, batt.y_max_kwh, batt.dt_h)
    np.testing.assert_allclose(dev, x.sum(axis=0) - target, atol=1e-9)
    ref = dense_l1_tracking(batt.u_min_kw, batt.u_max_kw, batt.y_min_kwh, batt.y_max_kwh,
                            batt.dt_h, target)
    assert ref is not None
    assert np.abs(dev).sum() == pytest.approx(ref, abs=TOL)


@SETTINGS
@given(st.data())
def test_track_with_anchors_equals_dense_linprog(data):
    """Some devices anchored (at a feasible trajectory, perturbed), at a move price below,
    near and above the deviation's: the optimum (deviation plus priced moves) is the dense
    oracle's."""
    batt, x_feas = data.draw(battery_sets())
    n, T = batt.u_min_kw.shape
    target = x_feas.sum(axis=0) + 0.1 * data.draw(targets(T))
    anchored = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    idle = (batt.u_min_kw == 0) & (batt.u_max_kw == 0)
    anchor = np.where(idle, 0.0, x_feas + data.draw(_grid(-2.0, 2.0, 0.5)))
    anchor[~anchored] = np.nan
    price = data.draw(st.sampled_from([1e-4, 0.3, 1.0, 2.5]))
    x, dev = track(batt, target, anchor_kw=anchor, move_price=price)
    assert_in_sets(x, batt.u_min_kw, batt.u_max_kw, batt.y_min_kwh, batt.y_max_kwh, batt.dt_h)
    got = np.abs(dev).sum() + price * np.nansum(np.abs(x - anchor))
    ref = dense_l1_tracking(batt.u_min_kw, batt.u_max_kw, batt.y_min_kwh, batt.y_max_kwh,
                            batt.dt_h, target, anchor, price)
    assert got == pytest.approx(ref, abs=TOL)


def test_an_anchored_device_moves_only_where_the_deviation_falls_by_more():
    """One device, ``0 <= x <= 2`` kW, free energy, anchored at (1, 1), target (0, 0): moving
    to 0 saves 1 of deviation per kW and costs the price; at 0.5 it moves, at 2 it stays
    (hand-computed)."""
    batt = BatterySet([[0.0, 0.0]], [[2.0, 2.0]], [[0.0, 0.0]], [[10.0, 10.0]], 1.0)
    x, dev = track(batt, np.zeros(2), anchor_kw=np.ones((1, 2)), move_price=0.5)
    np.testing.assert_allclose(x, 0.0, atol=TOL)
    x, dev = track(batt, np.zeros(2), anchor_kw=np.ones((1, 2)), move_price=2.0)
    np.testing.assert_allclose(x, 1.0, atol=TOL)
    np.testing.assert_allclose(dev, 1.0, atol=TOL)


def test_track_of_a_feasible_sum_has_no_deviation():
    """Two vehicles, each must hold 2 kWh after interval 1 with at most 2 kW (dt 1 h): the
    target (2, 2, 0) is followed exactly; for (0, 0, 4) the 4 kWh due by interval 1 are drawn
    against a target of 0 and interval 2 is then followed (2 + 2 kW, 4 kWh each <= 6):
    deviation 4 (hand-computed)."""
    u_min, u_max = np.zeros((2, 3)), np.full((2, 3), 2.0)
    y_min = np.array([[0.0, 2.0, 2.0], [0.0, 2.0, 2.0]])
    y_max = np.full((2, 3), 6.0)
    batt = BatterySet(u_min, u_max, y_min, y_max, 1.0)
    x, dev = track(batt, np.array([2.0, 2.0, 0.0]))
    assert np.abs(dev).sum() == pytest.approx(0.0, abs=TOL)
    assert_in_sets(x, u_min, u_max, y_min, y_max, 1.0)
    _, dev = track(batt, np.array([0.0, 0.0, 4.0]))
    assert np.abs(dev).sum() == pytest.approx(
        dense_l1_tracking(u_min, u_max, y_min, y_max, 1.0, np.array([0.0, 0.0, 4.0])), abs=TOL)
    # 4 kWh must be drawn in intervals 0-1 (target 0 there); interval 2 can then give 4 kW
    assert np.abs(dev).sum() == pytest.approx(4.0, abs=TOL)


def test_track_of_an_empty_set_is_none():
    """A device idle in interval 0 that must hold 1 kWh after it: its set is empty
    (``flexibility.gpolymatroid.nonempty`` says so, ``disaggregate`` returns ``None``)."""
    batt = BatterySet([[0.0, 0.0]], [[0.0, 5.0]], [[1.0, 1.0]], [[2.0, 2.0]], 1.0)
    assert track(batt, np.array([0.0, 1.0])) is None


# --------------------------------------------------------------------------- schedule


def _periods(T):
    return st.lists(st.integers(0, 2), min_size=T, max_size=T).map(np.array)


def fleet_of(raw: RawFleet) -> Fleet:
    return Fleet(**raw.fleet_kwargs())


def _types(fleet: Fleet, period) -> np.ndarray:
    """As the area layer does it (``environment.planning.zonal_areas.area_fleets``)."""
    need = np.maximum(fleet.e_req_kwh - fleet.e_init_kwh, 0.0) / fleet.eta_ch
    return classify(fleet.arrival_idx, fleet.departure_idx, need, fleet.p_ch_max_kw, period,
                    fleet.dt_h)


def _batt(fleet: Fleet, T: int) -> BatterySet:
    b = vehicle_batteries(fleet, T).battery
    return BatterySet(b.p_lo_kw, b.p_hi_kw, b.y_lo_kwh, b.y_hi_kwh, fleet.dt_h)


T_FLEET = 8


@SETTINGS
@given(raw_fleets(max_vehicles=6, horizon=T_FLEET), _periods(T_FLEET),
       st.lists(_grid(-10.0, 40.0, 2.5), min_size=T_FLEET, max_size=T_FLEET).map(np.array))
def test_schedule_is_feasible_and_as_close_as_one_group(raw, period, target):
    """The groups in turn, then the joint pass, reach the least deviation of any schedule
    of the fleet (one group of all types, i.e. ``track`` on every vehicle)."""
    fleet = fleet_of(raw)
    b = vehicle_batteries(fleet, T_FLEET).battery
    batt = _batt(fleet, T_FLEET)
    types = _types(fleet, period)
    sch = schedule_vehicles(batt, types, target)
    p = sch.p_kw
    assert p.shape == (fleet.n_vehicles, T_FLEET)
    assert_in_sets(p, b.p_lo_kw, b.p_hi_kw, b.y_lo_kwh, b.y_hi_kwh, fleet.dt_h)
    np.testing.assert_allclose(sch.deviation_kw, p.sum(axis=0) - target, atol=1e-7)
    np.testing.assert_allclose(sch.group_kw.sum(axis=0), p.sum(axis=0), atol=1e-9)
    one = schedule_vehicles(batt, types, target, order=((1, 2, 3, 4),))
    _, dev_track = track(batt, target)
    assert np.abs(one.deviation_kw).sum() == pytest.approx(np.abs(dev_track).sum(), abs=TOL)
    assert np.abs(sch.deviation_kw).sum() == pytest.approx(np.abs(one.deviation_kw).sum(),
                                                            abs=TOL)
    assert vehicle_check(fleet, p) == 0
    assert vehicle_check(fleet, one.p_kw) == 0


@SETTINGS
@given(raw_fleets(max_vehicles=6, horizon=T_FLEET), st.data(),
       st.lists(_grid(-10.0, 40.0, 2.5), min_size=T_FLEET, max_size=T_FLEET).map(np.array))
def test_earlier_groups_keep_their_set_points_when_the_last_can_follow(raw, data, target):
    """The groups before the last, each tracking what the ones before left (independent
    ``track`` calls here): where the last group alone then reaches the fleet's least
    deviation, the joint pass has no reason to move them, and they keep those set-points.
    The types are drawn (not classified), so every group is often present."""
    fleet = fleet_of(raw)
    batt = _batt(fleet, T_FLEET)
    n = fleet.n_vehicles
    types = np.array(data.draw(st.lists(st.sampled_from([1, 2, 3, 4]), min_size=n,
                                        max_size=n)))
    residual = target.astype(float).copy()
    kept = {}
    for group in ORDER[:-1]:
        m = np.isin(types, group)
        if m.any():
            x, _ = track(_sub(batt, m), residual)
            kept[group] = (m, x)
            residual = residual - x.sum(axis=0)
    last = np.isin(types, ORDER[-1])
    _, dev_all = track(batt, target)
    dev_last = (track(_sub(batt, last), residual)[1] if last.any() else -residual)
    if np.abs(dev_last).sum() > np.abs(dev_all).sum() + TOL:
        return  # the earlier groups must move: nothing to assert
    sch = schedule_vehicles(batt, types, target)
    for m, x in kept.values():
        np.testing.assert_allclose(sch.p_kw[m], x, atol=1e-6)


def test_the_joint_pass_keeps_an_earlier_group_where_moving_does_not_help():
    """A type-4 vehicle (0-2 kW, 2 kWh due by the end) and a type-2 one (+-2 kW), target
    (0, 2) kW: the first alone follows it exactly, (0, 2), and the second then idles. The
    fleet has other exact schedules (the first at (2, 0), the second at (-2, 2)); the joint
    pass must not take one of them, since moving the first group is priced and gains
    nothing (hand-computed; an unpriced joint LP returns the first at (2, 0))."""
    u_min = np.array([[0.0, 0.0], [-2.0, -2.0]])
    u_max = np.array([[2.0, 2.0], [2.0, 2.0]])
    y_min = np.array([[0.0, 2.0], [-8.0, -8.0]])
    y_max = np.array([[4.0, 4.0], [8.0, 8.0]])
    sch = schedule_vehicles(BatterySet(u_min, u_max, y_min, y_max, 1.0), np.array([4, 2]),
                            np.array([0.0, 2.0]))
    np.testing.assert_allclose(sch.p_kw, [[0.0, 2.0], [0.0, 0.0]], atol=TOL)
    np.testing.assert_allclose(sch.deviation_kw, 0.0, atol=TOL)


def _sub(batt, m):
    return batt.subset(m)



def test_a_later_group_tracks_what_the_earlier_ones_left():
    """Types 4, 1 and 2, each free in energy: 0-2 kW, 0-2 kW and -1-0 kW; target (2, 2) kW.
    Type 4 first takes the whole target, (2, 2); type 1 then has nothing left to follow and
    idles, as does type 2 (hand-computed). A type-4 vehicle that did not pass its leftover on
    would leave type 1 the whole target, and the fleet other exact schedules, e.g. (1, 1),
    (2, 2), (-1, -1)."""
    u_min = np.array([[0.0, 0.0], [0.0, 0.0], [-1.0, -1.0]])
    u_max = np.array([[2.0, 2.0], [2.0, 2.0], [0.0, 0.0]])
    y_min = np.full((3, 2), -10.0)
    y_max = np.full((3, 2), 10.0)
    sch = schedule_vehicles(BatterySet(u_min, u_max, y_min, y_max, 1.0), np.array([4, 1, 2]),
                            np.array([2.0, 2.0]))
    np.testing.assert_allclose(sch.p_kw, [[2.0, 2.0], [0.0, 0.0], [0.0, 0.0]], atol=TOL)


def test_an_empty_scheduling_order_is_refused():
    batt = BatterySet([[0.0]], [[1.0]], [[0.0]], [[1.0]], 1.0)
    with pytest.raises(ModelInputError):
        schedule_vehicles(batt, np.array([1]), np.array([1.0]), order=())


def test_the_joint_pass_follows_what_the_groups_left():
    """Three vehicles (types 4, 4, 2) whose first group, alone, picks a trajectory the last one
    cannot complement: in turn the groups end 6 kW off the target; the joint pass reaches
    the fleet's least deviation, 5 kW (the dense LP over every vehicle's set)."""
    u_min = np.array([[0.0, -1, -1], [0, -2, 0], [-2, -1, 0]])
    u_max = np.array([[2.0, 1, 2], [2, 0, 1], [0, 2, 1]])
    y_min = np.array([[2.0, 2, 1], [0, 1, 0], [-1, -3, -1]])
    y_max = np.array([[2.0, 4, 3], [2, 1, 2], [0, -2, -1]])
    target = np.array([-2.0, -2.0, 0.0])
    sch = schedule_vehicles(BatterySet(u_min, u_max, y_min, y_max, 1.0), np.array([4, 4, 2]),
                            target)
    assert_in_sets(sch.p_kw, u_min, u_max, y_min, y_max, 1.0)
    best = dense_l1_tracking(u_min, u_max, y_min, y_max, 1.0, target)
    assert best == pytest.approx(5.0, abs=TOL)
    assert np.abs(sch.deviation_kw).sum() == pytest.approx(best, abs=TOL)

# --------------------------------------------------------------------------- vehicle_check


def _valid_case():
    """Three vehicles (dt 1 h, eta 0.95): one charging only, one V2G, one leaving after the
    horizon; a schedule from ``schedule_vehicles`` that ``vehicle_check`` accepts."""
    fleet = Fleet(arrival_idx=[0, 1, 2], departure_idx=[4, 5, 9],
                  e_init_kwh=[30.0, 20.0, 10.0], e_min_kwh=[5.0, 10.0, 5.0],
                  e_max_kwh=[40.0, 50.0, 45.0], e_req_kwh=[36.0, 30.0, 40.0],
                  p_ch_max_kw=[7.0, 7.0, 11.0], p_dis_max_kw=[0.0, 7.0, 0.0], eta_ch=0.95,
                  eta_dis=0.95, dt_h=1.0)
    T = 6
    period = np.array([2, 2, 1, 0, 0, 1])
    batt = _batt(fleet, T)
    sch = schedule_vehicles(batt, _types(fleet, period), np.full(T, 6.0))
    assert vehicle_check(fleet, sch.p_kw) == 0
    return fleet, sch.p_kw


def test_vehicle_check_counts_a_vehicle_charged_beyond_its_ceiling():
    """Vehicle 0: 30 kWh + 0.95 * 7 kW * 4 h = 56.6 kWh > 40 kWh."""
    fleet, p = _valid_case()
    bad = p.copy()
    bad[0, :4] = 7.0
    assert vehicle_check(fleet, bad) == 1


def test_vehicle_check_counts_power_while_disconnected():
    fleet, p = _valid_case()
    bad = p.copy()
    bad[1, 0] = 1.0  # vehicle 1 arrives at interval 1
    assert vehicle_check(fleet, bad) == 1
    bad = p.copy()
    bad[0, 5] = -0.5  # vehicle 0 left after interval 3
    assert vehicle_check(fleet, bad) == 1


def test_vehicle_check_counts_a_missed_departure_requirement():
    """Vehicle 0 idle: it leaves with 30 kWh, needs 36 (reachable: 30 + 26.6)."""
    fleet, p = _valid_case()
    bad = p.copy()
    bad[0] = 0.0
    assert vehicle_check(fleet, bad) == 1


def test_vehicle_check_counts_a_discharge_below_the_floor():
    """Vehicle 1 (V2G, floor 10 kWh, 20 kWh at plug-in) discharging 7 kW for 2 h loses
    14 / 0.95 = 14.7 kWh."""
    fleet, p = _valid_case()
    bad = p.copy()
    bad[1, 1:3] = -7.0
    assert vehicle_check(fleet, bad) == 1


@SETTINGS
@given(raw_fleets(max_vehicles=5, horizon=T_FLEET), _periods(T_FLEET), st.data())
def test_vehicle_check_catches_power_while_disconnected(raw, period, data):
    """A valid schedule with one vehicle drawing power in an interval it is not connected:
    exactly that vehicle is counted."""
    fleet = fleet_of(raw)
    batt = _batt(fleet, T_FLEET)
    sch = schedule_vehicles(batt, _types(fleet, period), np.full(T_FLEET, 5.0))
    assert vehicle_check(fleet, sch.p_kw) == 0
    t = np.arange(T_FLEET)
    off = ~((t >= fleet.arrival_idx[:, None]) & (t < fleet.departure_idx[:, None]))
    cand = np.argwhere(off)
    if cand.size == 0:
        return
    n, s = cand[data.draw(st.integers(0, len(cand) - 1))]
    bad = sch.p_kw.copy()
    bad[n, s] += data.draw(st.sampled_from([-2.0, 0.5, 3.0]))
    assert vehicle_check(fleet, bad) == 1
