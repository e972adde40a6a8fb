"""Flexible-operation regions (``flexibility.region``) against independent references.

* containment: an LP solved directly with HiGHS decides whether ``p`` is a convex combination
  of the points (``lambda >= 0``, ``sum lambda = 1``, ``sum lambda_i x_i = p``); the point sets
  are built by hypothesis strategies (full-dimensional, on a tilted plane in 3-D, collinear, a
  single point) so a failure shrinks to a small set. Points and queries live on integer and
  quarter grids, so a query is either inside or at least ~1e-4 MW away: no boundary ambiguity;
* volumes: unit cube, simplex ``|det| / d!``, axis box ``prod(sides)``;
* degenerate measures: shoelace area after an explicit rotation into the plane, segment length;
* support values: brute force over the input points.
"""

from __future__ import annotations

import itertools
import math

import highspy
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flexibility.region import convex_region, directions


def lp_distance(points: np.ndarray, p: np.ndarray) -> float:
    """``min ||sum lambda_i x_i - p||_inf`` over ``lambda >= 0, sum lambda = 1`` (0: p inside).

    Columns ``[lambda_1..lambda_n, t]``; rows ``sum lambda x_j - t <= p_j``,
    ``sum lambda x_j + t >= p_j`` for every axis ``j`` and ``sum lambda = 1``.
    """
    n, d = points.shape
    inf = highspy.kHighsInf
    dense = np.zeros((2 * d + 1, n + 1))
    dense[:d, :n], dense[:d, n] = points.T, -1.0
    dense[d:2 * d, :n], dense[d:2 * d, n] = points.T, 1.0
    dense[2 * d, :n] = 1.0
    a = sp.csc_matrix(dense)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n + 1, 2 * d + 1
    lp.col_cost_ = np.r_[np.zeros(n), 1.0]
    lp.col_lower_, lp.col_upper_ = np.zeros(n + 1), np.full(n + 1, inf)
    lp.row_lower_ = np.r_[np.full(d, -inf), p, 1.0]
    lp.row_upper_ = np.r_[p, np.full(d, inf), 1.0]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = a.indptr, a.indices
    lp.a_matrix_.value_ = a.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return float(h.getInfo().objective_function_value)


def ints(shape, lo: int = -4, hi: int = 4):
    return arrays(np.int64, shape, elements=st.integers(lo, hi), fill=st.nothing())


@st.composite
def sets_and_queries(draw):
    """``(points, queries)``: integer points of one of four kinds and quarter-grid queries,
    some placed on the affine hull, some convex combinations of the points."""
    kind = draw(st.sampled_from(["full", "full", "plane", "line", "point"]))
    n = draw(st.integers(1, 9))
    if kind == "full":
        d = draw(st.integers(1, 4))
        pts = draw(ints((n + d, d))).astype(float)  # mostly full-dimensional
        on_hull = draw(ints((6, d), -24, 24)) / 4.0
    elif kind == "plane":  # z = c1 x + c2 y + c0
        d = 3
        c1, c2, c0 = draw(ints(3, -2, 2))
        xy = draw(ints((n, 2))).astype(float)
        pts = np.column_stack([xy, c1 * xy[:, 0] + c2 * xy[:, 1] + c0])
        qxy = draw(ints((6, 2), -24, 24)) / 4.0
        on_hull = np.column_stack([qxy, c1 * qxy[:, 0] + c2 * qxy[:, 1] + c0])
    elif kind == "line":
        d = draw(st.integers(2, 4))
        p0 = draw(ints(d)).astype(float)
        step = draw(ints(d, -3, 3).filter(lambda v: np.any(v != 0))).astype(float)
        pts = p0 + draw(ints(n, -3, 3))[:, None] * step
        on_hull = p0 + (draw(ints(6, -16, 16)) / 4.0)[:, None] * step
    else:
        d = draw(st.integers(1, 4))
        pts = np.tile(draw(ints(d)).astype(float), (n, 1))
        on_hull = pts[:1] + draw(ints((3, d), -1, 1)) / 4.0
    weights = draw(ints((3, pts.shape[0]), 1, 5)).astype(float)
    combos = (weights / weights.sum(axis=1, keepdims=True)) @ pts
    anywhere = draw(ints((6, d), -24, 24)) / 4.0
    return pts, np.vstack([on_hull, combos, anywhere, pts])


@settings(max_examples=150, deadline=None)
@given(case=sets_and_queries())
def test_containment_agrees_with_the_lp(case):
    points, queries = case
    region = convex_region(points)
    got = region.contains(queries)
    assert got.shape == (queries.shape[0],)
    for q, inside in zip(queries, got, strict=True):
        dist = lp_distance(points, q)
        assert dist <= 1e-7 or dist >= 1e-5, "query too close to the boundary for the oracle"
        assert bool(inside) == (dist <= 1e-7), (q, dist, region.dimension)
        assert bool(region.contains(q)) == bool(inside)  # one point, shape (d,)


@settings(max_examples=80, deadline=None)
@given(case=sets_and_queries())
def test_support_is_the_brute_force_maximum(case):
    points, _ = case
    region = convex_region(points)
    d = points.shape[1]
    dirs = directions(d, 30.0) if d <= 3 else directions(d, 90.0)
    for a in dirs:
        assert region.support(a) == pytest.approx(np.max(points @ a), abs=1e-9)
    np.testing.assert_array_equal(region.ranges_mw[:, 0], points.min(axis=0))
    np.testing.assert_array_equal(region.ranges_mw[:, 1], points.max(axis=0))


# --- directions ------------------------------------------------------------------------------

def _pairwise_min_distance(x: np.ndarray) -> float:
    diff = x[:, None, :] - x[None, :, :]
    dist = np.linalg.norm(diff, axis=-1) + np.eye(len(x)) * 10.0
    return float(dist.min())


def test_directions_3d_at_45_degrees():
    a = directions(3, 45.0)
    assert a.shape == (2 + 3 * 8, 3)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-12)
    assert _pairwise_min_distance(a) > 1e-3
    for row in a:  # symmetric: -a is present
        assert np.min(np.linalg.norm(a + row, axis=1)) < 1e-9
    np.testing.assert_allclose(a[0], [0.0, 0.0, 1.0], atol=1e-12)  # the pole alpha = 0 first
    np.testing.assert_array_equal(a, directions(3, 45.0))  # deterministic


def test_directions_2d_1d_and_higher():
    a = directions(2, 45.0)
    assert a.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-12)
    assert _pairwise_min_distance(a) > 1e-3
    np.testing.assert_array_equal(directions(1, 10.0), [[1.0], [-1.0]])
    b = directions(4, 90.0)
    assert b.shape == (2 * 4 + 2 ** 4, 4)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="n_dim"):
        directions(4, 45.0)
    with pytest.raises(ValueError, match="step_deg"):
        directions(3, 0.0)


# --- volumes ---------------------------------------------------------------------------------

def test_unit_cube_volume(rng):
    corners = np.array(list(itertools.product((0.0, 1.0), repeat=3)))
    pts = np.vstack([corners, rng.uniform(0.0, 1.0, (20, 3))])
    region = convex_region(rng.permutation(pts))
    assert region.dimension == 3 and region.measure_unit == "MW^3"
    assert region.volume_mw3 == pytest.approx(1.0, rel=1e-12)
    assert region.measure == region.volume_mw3
    assert region.a.shape == (6, 3)  # coplanar triangles merged: one row per face
    np.testing.assert_allclose(np.linalg.norm(region.a, axis=1), 1.0, atol=1e-12)
    assert len(region.vertices_mw) == 8


@pytest.mark.parametrize("d", [2, 3, 4])
def test_simplex_volume(rng, d):
    pts = rng.normal(size=(d + 1, d)) * 3.0
    expected = abs(np.linalg.det(pts[1:] - pts[0])) / math.factorial(d)
    assert convex_region(pts).volume_mw3 == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_axis_box_volume(rng, d):
    lo, sides = rng.uniform(-5, 5, d), rng.uniform(0.1, 4.0, d)
    corners = lo + np.array(list(itertools.product((0.0, 1.0), repeat=d))) * sides
    region = convex_region(corners)
    assert region.dimension == d
    assert region.volume_mw3 == pytest.approx(np.prod(sides), rel=1e-9)
    np.testing.assert_allclose(region.ranges_mw, np.column_stack([lo, lo + sides]))


# --- degenerate sets -------------------------------------------------------------------------

def _rotation(theta: float, phi: float) -> np.ndarray:
    """About the x-axis by theta, then about the z-axis by phi."""
    rx = np.array([[1, 0, 0], [0, np.cos(theta), -np.sin(theta)],
                   [0, np.sin(theta), np.cos(theta)]])
    rz = np.array([[np.cos(phi), -np.sin(phi), 0], [np.sin(phi), np.cos(phi), 0], [0, 0, 1]])
    return rz @ rx


def test_coplanar_points_measure_the_polygon_area(rng):
    angles = np.sort(rng.uniform(0.0, 2 * np.pi, 9))
    radius = 2.5
    uv = radius * np.column_stack([np.cos(angles), np.sin(angles)])  # convex, in order
    shoelace = 0.5 * abs(np.dot(uv[:, 0], np.roll(uv[:, 1], -1))
                         - np.dot(uv[:, 1], np.roll(uv[:, 0], -1)))
    inner = rng.dirichlet(np.ones(9), 15) @ uv
    plane = np.vstack([uv, inner])
    pts = np.column_stack([plane, np.zeros(len(plane))]) @ _rotation(0.7, 1.9).T + [3, -1, 2]
    region = convex_region(pts)
    assert region.dimension == 2 and region.volume_mw3 == 0.0
    assert region.measure == pytest.approx(shoelace, rel=1e-9)
    assert region.measure_unit == "MW^2"
    assert len(region.vertices_mw) == 9
    normal = _rotation(0.7, 1.9) @ [0.0, 0.0, 1.0]
    centre = pts.mean(axis=0)
    assert region.contains(centre) and not region.contains(centre + 1e-6 * normal)


def test_collinear_points_measure_the_segment(rng):
    p0, step = rng.normal(size=3), rng.normal(size=3)
    t = rng.uniform(-2.0, 3.0, 12)
    region = convex_region(p0 + t[:, None] * step)
    assert region.dimension == 1 and region.volume_mw3 == 0.0 and region.measure_unit == "MW"
    assert region.measure == pytest.approx((t.max() - t.min()) * np.linalg.norm(step), rel=1e-9)
    assert len(region.vertices_mw) == 2


def test_single_point_and_duplicates():
    region = convex_region(np.array([[1.5, -2.0, 0.25]] * 4))
    assert region.dimension == 0 and region.measure == 0.0 and region.measure_unit == ""
    assert region.points_mw.shape == (4, 3) and region.vertices_mw.shape == (1, 3)
    assert region.contains(np.array([1.5, -2.0, 0.25]))
    assert not region.contains(np.array([1.5, -2.0, 0.26]))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="empty"):
        convex_region(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        convex_region(np.array([[0.0, 1.0], [np.nan, 2.0]]))
