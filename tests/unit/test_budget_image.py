"""The image of a budgeted coupon box (``flexibility.region.budget_image_points``) against an
LP oracle (scipy's HiGHS on the coupon variables, not the enumeration) and random sampling."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from flexibility.region import RegionInputError, budget_image_points, convex_region


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
