"""Properties of distribution-layer clipping on case33bw (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from grid.clipping import clip, clip_optimal, clip_uniform, reference_point, worst_case_rows
from tests.grid_fixtures import small_grid_model


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    T = 6
    scale = rng.uniform(0.2, 1.0, T)
    sub = float(rng.uniform(0.5, 1.3) * 3715 * scale.max())
    vmin = float(draw(st.sampled_from([0.90, 0.93, 0.95])))
    n_st = draw(st.integers(1, 4))
    buses = tuple(int(b) for b in rng.choice(np.arange(2, 34), n_st, replace=False))
    p_max = rng.uniform(-20, 400, (T, n_st))
    p_min = np.minimum(p_max, rng.uniform(-200, 50, (T, n_st)))
    return scale, sub, vmin, buses, p_min, p_max, rng


def _feasible_points(sec, lo, hi, rng, n=64):
    u = lo[None] + rng.random((n, *lo.shape)) * (hi - lo)[None]
    corners = rng.random((n, *lo.shape)) < 0.5
    v = np.where(corners, lo[None], hi[None])
    pts = np.concatenate([u, v])
    vals = np.einsum("ntj,rj->ntr", pts, sec.a_p) - sec.b[None]
    return vals


@settings(max_examples=40, deadline=None)
@given(cases())
def test_clipping_never_enlarges_and_boxes_are_jointly_feasible(case):
    scale, sub, vmin, buses, p_min, p_max, rng = case
    gm = small_grid_model(scale, sub, buses, vmin)
    for policy in ("uniform", "optimal"):
        res = clip(gm.sec, p_min, p_max, policy)
        assert np.all(res.hi_kw <= p_max + 1e-7) and np.all(res.lo_kw >= p_min - 1e-7)
        ok = ~res.background_infeasible
        vals = _feasible_points(gm.sec, res.lo_kw, res.hi_kw, rng)
        assert np.all(vals[:, ok] <= 1e-6 * np.maximum(1, np.abs(gm.sec.b[ok]))[None])


@settings(max_examples=30, deadline=None)
@given(cases())
def test_optimal_at_least_uniform_and_tighter_limits_never_enlarge(case):
    scale, sub, vmin, buses, p_min, p_max, _ = case
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
    scale, sub, vmin, buses, p_min, p_max, _ = case
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
