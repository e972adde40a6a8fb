"""g-polymatroid aggregation of lossless battery sets against independent HiGHS LPs.

The reference LPs below are built here from the raw arrays (power bounds as column bounds, the
cumulative-energy rows as a dense lower-triangular matrix) and share no code with
``flexibility.gpolymatroid``.

Break-the-rule checks (done on purpose while writing these tests, then restored):

* dropping the ``pc`` update in ``_upper`` and ``_upper_chain`` (``pc_t = pc_{t-1} + lc_t``
  only) fails
  ``test_b_p_equal_lp_for_every_subset``, ``test_optimise_equals_joint_lp``,
  ``test_projection_equals_lp``, ``test_contains_and_disaggregate`` and
  ``test_optimise_large_matches_lp``; hypothesis shrinks to a device with
  ``y_min = y_max = 1/32 kWh`` at ``t = 0, 1``: the energy floor at ``t = 0`` forces charging in
  interval 0 (outside ``A = {1}``), which leaves nothing for interval 1 under ``y_max``, so
  ``b({1}) = 0`` and not ``1/32``;
* skipping the energy bounds at and after ``max(A)`` (flexitroid's loop ``range(t_max)``) fails
  six tests, among them ``test_bound_at_and_after_max_a_counts``.
"""

import itertools

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from flexibility.gpolymatroid import (
    BatterySet,
    b_kwh,
    nonempty,
    optimise,
    p_kwh,
    projection_kw,
)
from flexibility.gpolymatroid_lp import contains, disaggregate

TOL = 1e-6
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- data


def _grid(lo, hi, step):
    """Values on a coarse grid (ties and degenerate vertices are the interesting cases)."""
    return st.integers(round(lo / step), round(hi / step)).map(lambda k: k * step)


@st.composite
def battery_sets(draw, max_devices=4, min_t=2, max_t=6, consistent=True):
    """Random devices and one feasible trajectory per device.

    Each device gets a connection window ``[a, d)`` (possibly empty), per-interval power limits
    inside it (0 outside), a trajectory ``x`` inside those limits, and cumulative energy bounds
    ``y(x) - slack_lo <= y <= y(x) + slack_hi``, so every set contains ``x``. With
    ``consistent=False`` the energy bounds are drawn freely (sets may be empty).
    """
    n = draw(st.integers(1, max_devices))
    T = draw(st.integers(min_t, max_t))
    dt = draw(st.sampled_from([0.25, 0.5, 1.0]))
    u_min = np.zeros((n, T))
    u_max = np.zeros((n, T))
    x = np.zeros((n, T))
    y_min = np.zeros((n, T))
    y_max = np.zeros((n, T))
    slack = st.sampled_from([0.0, 0.0, 0.25, 0.5, 1.0, 2.0, 50.0])
    for i in range(n):
        a = draw(st.integers(0, T - 1))
        d = draw(st.integers(a, T))
        for t in range(a, d):
            lo = draw(_grid(-4.0, 2.0, 0.5))
            u_min[i, t] = lo
            u_max[i, t] = lo + draw(_grid(0.0, 6.0, 0.5))
            x[i, t] = lo + draw(_grid(0.0, 1.0, 0.25)) * (u_max[i, t] - lo)
        y = np.cumsum(x[i]) * dt
        for t in range(T):
            if consistent:
                y_min[i, t] = y[t] - draw(slack)
                y_max[i, t] = y[t] + draw(slack)
            else:
                y_min[i, t] = draw(_grid(-3.0, 3.0, 0.25))
                y_max[i, t] = y_min[i, t] + draw(_grid(-0.5, 4.0, 0.25))
    return BatterySet(u_min, u_max, y_min, y_max, dt), x


# --------------------------------------------------------------------------- reference LP


class JointLP:
    """All devices' variables ``x[n,t]`` (column ``n*T + t``) with their raw constraints."""

    def __init__(self, u_min, u_max, y_min, y_max, dt):
        n, T = u_min.shape
        self.shape = (n, T)
        cum = sparse.kron(sparse.eye(n), sparse.csr_matrix(np.tril(np.ones((T, T))) * dt))
        a = sparse.csc_matrix(cum)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n * T, n * T
        lp.col_cost_ = np.zeros(n * T)
        lp.col_lower_, lp.col_upper_ = u_min.ravel(), u_max.ravel()
        lp.row_lower_, lp.row_upper_ = y_min.ravel(), y_max.ravel()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("primal_feasibility_tolerance", 1e-9)
        self.h.setOptionValue("dual_feasibility_tolerance", 1e-9)
        self.h.passModel(lp)

    def minimise(self, cost):
        """Minimum of ``cost . x`` (cost of shape ``(N, T)``) and the minimiser, or None."""
        c = np.asarray(cost, dtype=float).ravel()
        self.h.changeColsCost(c.size, np.arange(c.size, dtype=np.int32), c)
        self.h.run()
        status = self.h.getModelStatus()
        if status in (highspy.HighsModelStatus.kInfeasible,
                      highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return None
        assert status == highspy.HighsModelStatus.kOptimal, self.h.modelStatusToString(status)
        x = np.asarray(self.h.getSolution().col_value).reshape(self.shape)
        return self.h.getInfo().objective_function_value, x

    def feasible_sum(self, x_total):
        """Whether some feasible ``x`` has ``sum_n x[n,t] = x_total_t`` (rows added, removed)."""
        n, T = self.shape
        h = self.h
        h.changeColsCost(n * T, np.arange(n * T, dtype=np.int32), np.zeros(n * T))
        for t in range(T):
            idx = np.arange(n, dtype=np.int32) * T + t
            h.addRow(x_total[t] - 1e-9, x_total[t] + 1e-9, n, idx, np.ones(n))
        h.run()
        status = h.getModelStatus()
        h.deleteRows(T, np.arange(n * T, n * T + T, dtype=np.int32))
        return status == highspy.HighsModelStatus.kOptimal


def joint_lp(batt):
    return JointLP(batt.u_min_kw, batt.u_max_kw, batt.y_min_kwh, batt.y_max_kwh, batt.dt_h)


def device_lp(batt, i):
    s = slice(i, i + 1)
    return JointLP(batt.u_min_kw[s], batt.u_max_kw[s], batt.y_min_kwh[s], batt.y_max_kwh[s],
                   batt.dt_h)


def assert_device_feasible(batt, x, atol=1e-7):
    """Every device row of ``x`` (kW) satisfies its raw constraints."""
    y = np.cumsum(x, axis=1) * batt.dt_h
    assert np.all(x >= batt.u_min_kw - atol) and np.all(x <= batt.u_max_kw + atol)
    assert np.all(y >= batt.y_min_kwh - atol) and np.all(y <= batt.y_max_kwh + atol)


# --------------------------------------------------------------------------- tests


@SETTINGS
@given(battery_sets(max_t=5))
def test_b_p_equal_lp_for_every_subset(data):
    batt, _ = data
    T = batt.n_intervals
    masks = np.array(list(itertools.product([False, True], repeat=T)))
    b, p = b_kwh(batt, masks), p_kwh(batt, masks)  # (K, N)
    assert b.shape == p.shape == (masks.shape[0], batt.n_devices)
    for i in range(batt.n_devices):
        model = device_lp(batt, i)
        for k, m in enumerate(masks):
            w = m[None, :] * batt.dt_h
            lo, _ = model.minimise(w)
            neg_hi, _ = model.minimise(-w)
            assert b[k, i] == pytest.approx(-neg_hi, abs=TOL), (i, m)
            assert p[k, i] == pytest.approx(lo, abs=TOL), (i, m)
    # single masks return (N,) and agree with the batch
    np.testing.assert_allclose(b_kwh(batt, masks[-1]), b[-1], atol=1e-12)
    np.testing.assert_allclose(p_kwh(batt, masks[-1]), p[-1], atol=1e-12)


@SETTINGS
@given(battery_sets(), st.data())
def test_optimise_equals_joint_lp(data, draw):
    batt, _ = data
    T = batt.n_intervals
    cost = np.array(draw.draw(st.lists(_grid(-3.0, 3.0, 0.5), min_size=T, max_size=T)))
    x = optimise(batt, cost)
    assert x.shape == (batt.n_devices, T)
    assert_device_feasible(batt, x)
    ref, _ = joint_lp(batt).minimise(np.broadcast_to(cost, x.shape))
    assert float(cost @ x.sum(axis=0)) == pytest.approx(ref, abs=1e-6)
    # each device's part is optimal for that device alone
    for i in range(batt.n_devices):
        ref_i, _ = device_lp(batt, i).minimise(cost[None, :])
        assert float(cost @ x[i]) == pytest.approx(ref_i, abs=1e-6)


@SETTINGS
@given(battery_sets())
def test_projection_equals_lp(data):
    batt, _ = data
    N, T = batt.n_devices, batt.n_intervals
    lo, hi = projection_kw(batt)
    model = joint_lp(batt)
    for t in range(T):
        w = np.zeros((N, T))
        w[:, t] = 1.0
        ref_lo, _ = model.minimise(w)
        ref_hi, _ = model.minimise(-w)
        assert lo[t] == pytest.approx(ref_lo, abs=TOL)
        assert hi[t] == pytest.approx(-ref_hi, abs=TOL)


@SETTINGS
@given(battery_sets(), st.data())
def test_contains_and_disaggregate(data, draw):
    batt, x_feas = data
    T = batt.n_intervals
    # a sum of feasible device trajectories is inside and disaggregates feasibly
    total = x_feas.sum(axis=0)
    assert contains(batt, total)
    parts = disaggregate(batt, total)
    assert parts is not None
    assert_device_feasible(batt, parts, atol=1e-6)
    np.testing.assert_allclose(parts.sum(axis=0), total, atol=1e-6)
    # so is a mix of two greedy vertices
    c1, c2 = (np.array(draw.draw(st.lists(_grid(-2.0, 2.0, 1.0), min_size=T, max_size=T)))
              for _ in range(2))
    w = draw.draw(_grid(0.0, 1.0, 0.125))
    assert contains(batt, w * optimise(batt, c1).sum(0) + (1 - w) * optimise(batt, c2).sum(0))
    # a point outside the projection is not
    lo, hi = projection_kw(batt)
    t = draw.draw(st.integers(0, T - 1))
    out = total.copy()
    out[t] = hi[t] + 0.01 if draw.draw(st.booleans()) else lo[t] - 0.01
    assert not contains(batt, out)
    assert disaggregate(batt, out) is None
    # a point of the projection box: membership agrees with the independent LP
    frac = np.array(draw.draw(st.lists(_grid(0.0, 1.0, 0.25), min_size=T, max_size=T)))
    box = lo + frac * (hi - lo)
    assert contains(batt, box, tol=1e-9) == joint_lp(batt).feasible_sum(box)


@SETTINGS
@given(battery_sets(consistent=False))
def test_nonempty_equals_lp_feasibility(data):
    batt, _ = data
    ok = nonempty(batt)
    for i in range(batt.n_devices):
        feasible = device_lp(batt, i).minimise(np.zeros((1, batt.n_intervals))) is not None
        assert bool(ok[i]) == feasible
    full = np.ones(batt.n_intervals, dtype=bool)
    assert np.array_equal(np.isnan(b_kwh(batt, full)), ~ok)
    assert np.array_equal(np.isnan(p_kwh(batt, full)), ~ok)


@SETTINGS
@given(battery_sets(consistent=False))
def test_b_p_equal_lp_with_free_energy_bounds(data):
    """Untightened (possibly inconsistent) bounds: b, p still exact where the set is nonempty."""
    batt, _ = data
    T = batt.n_intervals
    masks = np.array(list(itertools.product([False, True], repeat=T)))[1:: max(1, 2**T // 12)]
    b, p = b_kwh(batt, masks), p_kwh(batt, masks)
    for i in np.flatnonzero(nonempty(batt)):
        model = device_lp(batt, i)
        for k, m in enumerate(masks):
            w = m[None, :] * batt.dt_h
            assert p[k, i] == pytest.approx(model.minimise(w)[0], abs=TOL)
            assert b[k, i] == pytest.approx(-model.minimise(-w)[0], abs=TOL)


def test_bound_at_and_after_max_a_counts():
    """The bound at ``max(A)`` and bounds after it limit ``b(A)`` (flexitroid's loop misses both).

    ``0 <= x <= 1``, ``dt = 1``: with ``y_max = [1, 1]`` the pair can only draw 1 kWh, and
    with ``y_max = [5, 5, 0.5]`` the first two intervals together draw at most 0.5 kWh
    (flexitroid's ``GeneralDER.b`` gives 2, 1 and 2).
    """
    z, one = np.zeros((1, 2)), np.ones((1, 2))
    batt = BatterySet(z, one, z, one, 1.0)
    assert b_kwh(batt, np.array([True, True]))[0] == pytest.approx(1.0)
    z3, one3 = np.zeros((1, 3)), np.ones((1, 3))
    batt = BatterySet(z3, one3, z3, np.array([[5.0, 5.0, 0.5]]), 1.0)
    assert b_kwh(batt, np.array([True, False, False]))[0] == pytest.approx(0.5)
    assert b_kwh(batt, np.array([True, True, False]))[0] == pytest.approx(0.5)
    # a must-reach floor later raises p of earlier intervals
    batt = BatterySet(z3, one3, np.array([[0.0, 0.0, 2.5]]), 3 * one3, 1.0)
    assert p_kwh(batt, np.array([True, False, False]))[0] == pytest.approx(0.5)


def test_optimise_large_matches_lp():
    """A realistic size with a continuous cost (no ties): greedy objective equals the LP."""
    rng = np.random.default_rng(7)
    N, T, dt = 30, 24, 0.5
    a = rng.integers(0, T // 2, N)
    d = rng.integers(T // 2, T + 1, N)
    win = (np.arange(T) >= a[:, None]) & (np.arange(T) < d[:, None])
    u_min = np.where(win, -rng.uniform(0, 7, (N, 1)), 0.0)
    u_max = np.where(win, rng.uniform(3, 11, (N, 1)), 0.0)
    x = u_min + rng.uniform(0, 1, (N, T)) * (u_max - u_min)
    y = np.cumsum(x, axis=1) * dt
    batt = BatterySet(u_min, u_max, y - rng.uniform(0, 5, (N, T)), y + rng.uniform(0, 5, (N, T)),
                      dt)
    cost = rng.normal(size=T)
    xo = optimise(batt, cost)
    assert_device_feasible(batt, xo)
    ref, _ = joint_lp(batt).minimise(np.broadcast_to(cost, (N, T)))
    assert float(cost @ xo.sum(0)) == pytest.approx(ref, abs=1e-6)
    assert contains(batt, xo.sum(0))
