"""Tier dispatch (FOR validation) against brute force over boxes."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.tiers import choose_tier, dispatch_lp


def _box(lo, hi):
    """H-form of an axis box."""
    d = len(lo)
    a = np.vstack([np.eye(d), -np.eye(d)])
    return a, np.concatenate([hi, -np.asarray(lo)])


@settings(max_examples=40, deadline=None)
@given(his=st.lists(st.floats(0.5, 3.0), min_size=3, max_size=3), req=st.floats(0.0, 12.0),
       c=st.lists(st.floats(0.1, 2.0), min_size=3, max_size=3))
def test_cheapest_sufficient_tier_and_point(his, req, c):
    # nested boxes growing with the budget: the station-2 upper bound is 1x, 2x, 4x the base
    budgets = [1000.0, 2000.0, 4000.0]
    regions = [_box([-1.0, -1.0, -1.0], np.array(his) * f) for f in (1.0, 2.0, 4.0)]
    choice = choose_tier(budgets, regions, np.array(c), 2, req)
    reachable = [his[2] * f >= req for f in (1.0, 2.0, 4.0)]
    if not any(reachable):
        assert choice.tier == -1
        return
    k = reachable.index(True)  # brute force: the first tier whose box reaches the requirement
    assert choice.tier == k and choice.budget == budgets[k]
    a, b = regions[k]
    assert np.all(a @ choice.p <= b + 1e-7) and choice.p[2] >= req - 1e-7
    # positive costs: the optimum sits at the box's lower corner except where the requirement binds
    expect = np.array([-1.0, -1.0, max(-1.0, req)])
    np.testing.assert_allclose(choice.p, expect, atol=1e-7)
    for j in range(k):  # outside every cheaper tier
        a_j, b_j = regions[j]
        assert np.any(a_j @ choice.p > b_j + 1e-9)


def test_infeasible_lp_returns_none():
    a, b = _box([0.0, 0.0], [1.0, 1.0])
    assert dispatch_lp(a, b, np.ones(2), 0, 2.0) is None
