"""The image of a budgeted coupon box (``flexibility.region.budget_image_points``) against an
LP oracle (scipy's HiGHS on the coupon variables, not the enumeration) and random sampling."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from flexibility.region import (
    RegionInputError,
    budget_image_points,
    convex_region,
    knapsack_support,
)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(0, 2 ** 31 - 1),
       st.floats(0.0, 5.0))
def test_support_equals_the_lp_in_every_direction(d, n, seed, budget):
    rng = np.random.default_rng(seed)
    jac = rng.normal(size=(d, n))
    cost = rng.uniform(0.0, 2.0, n) * (rng.random(n) > 0.2)
    upper = rng.uniform(0.0, 3.0, n)
    pts = budget_image_points(jac, cost, upper, budget)
    for a in rng.normal(size=(5, d)):
        lp = linprog(-(a @ jac), A_ub=cost[None], b_ub=[budget],
                     bounds=list(zip(np.zeros(n), upper, strict=True)), method="highs")
        assert lp.status == 0
        assert (pts @ a).max() == pytest.approx(-lp.fun, abs=1e-7)


def test_every_feasible_coupon_lands_inside_the_hull():
    rng = np.random.default_rng(3)
    jac, cost, upper = rng.normal(size=(3, 5)), rng.uniform(0.5, 2.0, 5), np.full(5, 1.0)
    region = convex_region(budget_image_points(jac, cost, upper, 2.0))
    psi = rng.uniform(0.0, 1.0, (4000, 5))
    psi = psi[psi @ cost <= 2.0]
    assert len(psi) > 100 and region.contains(psi @ jac.T, 1e-9).all()
    # and a point beyond the budget in the steepest direction is outside
    assert region.support(np.ones(3)) > 0


def test_no_budget_is_the_origin_and_bad_input_is_refused():
    pts = budget_image_points(np.eye(2), np.ones(2), np.ones(2), 0.0)
    assert np.allclose(pts, 0.0)
    with pytest.raises(RegionInputError, match="do not match"):
        budget_image_points(np.eye(2), np.ones(3), np.ones(2), 1.0)
    with pytest.raises(RegionInputError, match="non-negative"):
        budget_image_points(np.eye(2), -np.ones(2), np.ones(2), 1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2 ** 31 - 1), st.floats(0.0, 10.0))
def test_knapsack_support_is_the_lp_optimum_and_feasible(n, seed, budget):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(4, n))
    cost = rng.uniform(0.0, 2.0, n) * (rng.random(n) > 0.2)
    upper = rng.uniform(0.0, 3.0, n)
    psi = knapsack_support(g, cost, upper, budget)
    assert (psi >= -1e-12).all() and (psi <= upper + 1e-12).all()
    assert (psi @ cost <= budget + 1e-9).all()
    for k in range(len(g)):
        lp = linprog(-g[k], A_ub=cost[None], b_ub=[budget],
                     bounds=list(zip(np.zeros(n), upper, strict=True)), method="highs")
        assert g[k] @ psi[k] == pytest.approx(-lp.fun, abs=1e-7)


def test_many_coordinates_give_an_inner_hull_touching_the_lp_support():
    """Beyond the enumeration's 16 coordinates: every point is the image of a feasible coupon
    (inside the LP's support in every direction) and the hull reaches the LP's support to
    within 1 % of the image's extent in random directions."""
    rng = np.random.default_rng(7)
    n = 36
    jac, cost, upper = rng.normal(size=(3, n)), rng.uniform(0.2, 2.0, n), rng.uniform(0, 2, n)
    pts = budget_image_points(jac, cost, upper, 3.0)
    extent = np.ptp(pts, axis=0).max()
    for a in rng.normal(size=(20, 3)):
        lp = linprog(-(a @ jac), A_ub=cost[None], b_ub=[3.0],
                     bounds=list(zip(np.zeros(n), upper, strict=True)), method="highs")
        best = (pts @ a).max()
        assert best <= -lp.fun + 1e-7
        assert best >= -lp.fun - 0.01 * extent * np.linalg.norm(a)


def test_knapsack_refuses_bad_input():
    with pytest.raises(RegionInputError, match="do not match"):
        knapsack_support(np.ones((2, 3)), np.ones(2), np.ones(3), 1.0)
    with pytest.raises(RegionInputError, match="non-negative"):
        knapsack_support(np.ones((2, 2)), -np.ones(2), np.ones(2), 1.0)
