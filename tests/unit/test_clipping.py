"""Properties of distribution-layer clipping on case33bw (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linprog

from grid.clipping import clip, clip_optimal, clip_uniform, reference_point, worst_case_rows
from tests.grid_fixtures import small_grid_model

T = 6
DESIGN_LOAD_KW = 3715.0  # case33bw total nominal load


def _floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def cases(draw):
    """Background scale, substation limit, v_min, station buses and station boxes, every number
    drawn by hypothesis (so that failures shrink)."""
    scale = draw(arrays(np.float64, T, elements=_floats(0.2, 1.0)))
    sub = float(draw(_floats(0.5, 1.3)) * DESIGN_LOAD_KW * scale.max())
    vmin = float(draw(st.sampled_from([0.90, 0.93, 0.95])))
    buses = tuple(draw(st.lists(st.integers(2, 33), min_size=1, max_size=4, unique=True)))
    n_st = len(buses)
    p_max = draw(arrays(np.float64, (T, n_st), elements=_floats(-20.0, 400.0)))
    p_min = np.minimum(p_max, draw(arrays(np.float64, (T, n_st), elements=_floats(-200.0, 50.0))))
    return scale, sub, vmin, buses, p_min, p_max


def _worst_case_excess(sec, lo, hi):
    """``max over the box [lo, hi] of A p - b`` per interval and row, computed here: each row's
    worst point takes ``hi`` where its coefficient is positive and ``lo`` where negative."""
    pos, neg = np.maximum(sec.a_p, 0.0), np.minimum(sec.a_p, 0.0)
    return hi @ pos.T + lo @ neg.T - sec.b


@settings(max_examples=40, deadline=None)
@given(cases())
def test_clipping_never_enlarges_and_boxes_are_jointly_feasible(case):
    scale, sub, vmin, buses, p_min, p_max = case
    gm = small_grid_model(scale, sub, buses, vmin)
    for policy in ("uniform", "optimal"):
        res = clip(gm.sec, p_min, p_max, policy)
        assert np.all(res.hi_kw <= p_max + 1e-7) and np.all(res.lo_kw >= p_min - 1e-7)
        ok = ~res.background_infeasible
        excess = _worst_case_excess(gm.sec, res.lo_kw, res.hi_kw)
        assert np.all(excess[ok] <= 1e-6 * np.maximum(1, np.abs(gm.sec.b[ok])))


@settings(max_examples=30, deadline=None)
@given(cases())
def test_optimal_at_least_uniform_and_tighter_limits_never_enlarge(case):
    scale, sub, vmin, buses, p_min, p_max = case
    gm = small_grid_model(scale, sub, buses, vmin)
    uni = clip_uniform(gm.sec, p_min, p_max)
    opt = clip_optimal(gm.sec, p_min, p_max)
    width = lambda r: (r.hi_kw - r.lo_kw).sum(1)  # noqa: E731
    assert np.all(width(opt) >= width(uni) - 1e-6)
    # (raising v_min is not "tighter" for the thermal rows, |S| <= v_min S_rated; see
    # grid.lindistflow) -- tighten the substation headroom
    tight = small_grid_model(scale, 0.9 * sub, buses, vmin)
    uni_t = clip_uniform(tight.sec, p_min, p_max)
    assert np.all(uni_t.hi_kw <= uni.hi_kw + 1e-9) and np.all(uni_t.lo_kw >= uni.lo_kw - 1e-9)
    opt_t = clip_optimal(tight.sec, p_min, p_max)
    assert np.all(width(opt_t) <= width(opt) + 1e-6)


@settings(max_examples=25, deadline=None)
@given(cases())
def test_uniform_scaling_matches_an_lp(case):
    """The closed-form ratio test equals max lambda s.t. A (u0 + lambda d) <= b, lambda <= 1."""
    scale, sub, vmin, buses, p_min, p_max = case
    gm = small_grid_model(scale, sub, buses, vmin)
    res = clip_uniform(gm.sec, p_min, p_max)
    u0 = reference_point(p_min, p_max)
    for t in range(p_max.shape[0]):
        if res.background_infeasible[t]:
            continue
        d = p_max[t] - u0[t]
        if np.all(d <= 1e-12):
            continue
        lp = linprog(c=[-1.0], A_ub=(gm.sec.a_p @ d)[:, None],
                     b_ub=gm.sec.b[t] - gm.sec.a_p @ u0[t], bounds=[(0.0, 1.0)], method="highs")
        assert lp.status == 0
        lam = (res.hi_kw[t] - u0[t]) @ d / (d @ d)
        assert abs(lam - lp.x[0]) < 1e-7


def test_background_infeasible_interval_is_flagged():
    gm = small_grid_model(np.array([0.5, 1.0]), 2000.0, (18,))  # 1.0x: 3.7 MW > 2 MW
    res = clip_uniform(gm.sec, np.full((2, 1), -50.0), np.full((2, 1), 100.0))
    assert list(res.background_infeasible) == [False, True]
    assert res.hi_kw[1, 0] == 0.0 and res.lo_kw[1, 0] == 0.0
    assert worst_case_rows(gm.sec, res.lo_kw, res.hi_kw)[0].max() <= 1e-9
