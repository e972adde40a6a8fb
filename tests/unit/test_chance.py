"""Chance-constraint core of the dispatching DSO: safety factor, chords, OBA."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.chance import (
    ChanceInputError,
    ChanceLp,
    chord_cuts,
    safety_factor,
    solve_chance,
)
from dispatch.uncertainty import MixtureInputError, fit_mixture


def _skewed(rng, n):
    """Bimodal, skewed 2-D errors (not Gaussian): a mixture fit has work to do."""
    a = rng.gamma(2.0, 1.0, size=n) - 2.0
    b = np.where(rng.random(n) < 0.3, rng.normal(3.0, 0.5, n), rng.normal(-1.0, 0.7, n))
    return np.c_[a + 0.5 * b, b]


def test_moment_constraint_is_conservative_on_fresh_mixture_samples():
    """For every eps_i: P(c^T xi > c^T mu + kappa(eps_i) sigma) <= eps_i, estimated on
    200,000 fresh draws of the fitted mixture (independent of the bound's derivation)."""
    rng = np.random.default_rng(7)
    mix = fit_mixture(_skewed(rng, 4000), max_components=4, seed=1)
    assert len(mix.weights) >= 2  # BIC picks a real mixture for bimodal data
    fresh = mix.sample(200_000, np.random.default_rng(11))
    np.testing.assert_allclose(fresh.mean(0), mix.mean, atol=0.02)
    np.testing.assert_allclose(np.cov(fresh.T), mix.cov, atol=0.05)
    for c in (np.array([1.0, 0.0]), np.array([0.3, -1.0]), np.array([1.0, 1.0])):
        sigma = np.sqrt(c @ mix.cov @ c)
        for eps in (0.2, 0.05, 0.01):
            thr = c @ mix.mean + safety_factor(eps) * sigma
            assert np.mean(fresh @ c > thr) <= eps


@given(st.floats(0.005, 0.3), st.integers(1, 40))
@settings(max_examples=60, deadline=None)
def test_chords_lie_above_kappa_and_hit_the_equal_split(eps, m):
    breaks, alpha, beta = chord_cuts(eps, m)
    grid = np.geomspace(breaks[0], breaks[-1], 500)
    upper = np.max(alpha[None, :] + beta[None, :] * grid[:, None], axis=1)
    assert np.all(upper >= safety_factor(grid) - 1e-9)
    at = np.max(alpha + beta * (eps / m))
    assert at == pytest.approx(float(safety_factor(eps / m)), rel=1e-9)


def _instance(rng, n=4, m=3, q=2):
    """min cost x, x >= 0, demand row sum x >= d, uncertain rows a_i x + c_i xi <= b_i."""
    cost = rng.uniform(1, 5, n)
    a_unc = rng.uniform(0, 1, (m, n))
    c_unc = rng.normal(0, 1, (m, q))
    b_unc = rng.uniform(8, 12, m)
    p = ChanceLp(cost=cost, x_lo=np.zeros(n), x_hi=np.full(n, 10.0),
                 a_det=-np.ones((1, n)), b_det=np.array([-3.0]), a_unc=a_unc, b_unc=b_unc,
                 c_unc=c_unc)
    return p, np.zeros(q), np.eye(q) * rng.uniform(0.2, 1.0)


@given(st.integers(0, 10_000), st.floats(0.01, 0.2))
@settings(max_examples=40, deadline=None)
def test_oba_never_dearer_than_bonferroni(seed, eps):
    rng = np.random.default_rng(seed)
    p, mu, cov = _instance(rng)
    bon = solve_chance(p, "bonferroni", eps, mu, cov)
    oba = solve_chance(p, "oba", eps, mu, cov)
    assert bon.feasible == oba.feasible or (oba.feasible and not bon.feasible)
    if bon.feasible:
        assert oba.cost <= bon.cost + 1e-7 * max(1.0, abs(bon.cost))
        assert oba.eps_i.sum() <= eps + 1e-9


def test_oba_against_a_brute_force_allocation():
    """Two uncertain rows that both bind: OBA against the best equal-or-not split found by
    enumerating eps_1 on a fine grid (exact kappa, eps_2 = eps - eps_1); OBA's own point must
    satisfy the exact-kappa rows with its eps_i."""
    n, eps = 2, 0.05
    p = ChanceLp(cost=np.array([-1.0, -1.0]), x_lo=np.full(n, -100.0), x_hi=np.full(n, 100.0),
                 a_det=np.zeros((0, n)), b_det=np.zeros(0),
                 a_unc=np.eye(2), b_unc=np.array([10.0, 10.0]),
                 c_unc=np.array([[3.0, 0.0], [0.0, 1.0]]))
    mu, cov = np.zeros(2), np.eye(2)
    best = np.inf
    for e1 in np.linspace(0.0005, eps - 0.0005, 2000):
        e = np.array([e1, eps - e1])
        x = p.b_unc - safety_factor(e) * np.array([3.0, 1.0])
        best = min(best, float(p.cost @ x))
    oba = solve_chance(p, "oba", eps, mu, cov)
    bon = solve_chance(p, "bonferroni", eps, mu, cov)
    assert best <= oba.cost <= best + 0.02 * abs(best)  # interpolant slightly conservative
    assert oba.cost < bon.cost - 0.1  # the wider row takes more of the risk
    assert oba.eps_i[0] > oba.eps_i[1]
    sigma = np.array([3.0, 1.0])
    assert np.all(p.a_unc @ oba.x + safety_factor(oba.eps_i) * sigma <= p.b_unc + 1e-7)


def test_so_and_ro_bracket_the_distributionally_robust_variants():
    rng = np.random.default_rng(3)
    p, mu, cov = _instance(rng)
    samples = rng.multivariate_normal(mu, cov, size=200)
    so = solve_chance(p, "so", 0.05, mu, cov, samples=samples)
    ro = solve_chance(p, "ro", 0.05, mu, cov, box=4.0 * np.sqrt(np.diag(cov)))
    oba = solve_chance(p, "oba", 0.05, mu, cov)
    assert so.feasible and ro.feasible and oba.feasible
    assert so.cost <= oba.cost + 1e-9  # samples of a Gaussian are milder than the DR bound


@pytest.mark.parametrize("eps", [0.0, 1.0, -0.1, 1.5])
def test_epsilon_outside_the_unit_interval(eps):
    rng = np.random.default_rng(0)
    p, mu, cov = _instance(rng)
    with pytest.raises(ChanceInputError, match="epsilon"):
        solve_chance(p, "oba", eps, mu, cov)


def test_too_few_samples_for_a_mixture():
    with pytest.raises(MixtureInputError, match="too few"):
        fit_mixture(np.zeros((5, 2)), name="pv errors")


def test_forecast_errors_recover_the_noise_of_a_known_profile():
    """Weekday and weekend shapes plus white noise of 0.1: the day-type mean forecast leaves
    errors with mean ~0 and standard deviation ~0.1 (a single all-day mean would not: the
    weekend shape differs by 0.5)."""
    from dispatch.uncertainty import forecast_errors

    rng = np.random.default_rng(2)
    n_days, steps = 364, 96
    s = np.arange(steps) / steps
    weekday, weekend = np.sin(2 * np.pi * s), np.sin(2 * np.pi * s) + 0.5
    first = 2  # the series starts on a Wednesday
    kind = (np.arange(n_days) + first) % 7 >= 5
    clean = np.where(kind[:, None], weekend[None, :], weekday[None, :])
    series = (clean + rng.normal(0.0, 0.1, clean.shape)).ravel()
    err = forecast_errors(series, steps, first)
    assert err.shape == (n_days, steps)
    assert abs(err.mean()) < 1e-12
    assert err.std() == pytest.approx(0.1, rel=0.03)
    wrong = forecast_errors(series, steps, first_weekday=0)  # weekends misplaced
    assert wrong.std() > 0.15
    with pytest.raises(MixtureInputError, match="whole days"):
        forecast_errors(series[:-1], steps)


# --------------------------------------------------------------- the unimodal ambiguity set


def _tail(x: np.ndarray, kappa: float) -> float:
    """Empirical ``P(X - mean >= kappa sd)`` with the sample's own moments."""
    return float(np.mean(x - x.mean() >= kappa * x.std()))


@pytest.mark.parametrize("eps", [0.2, 0.05, 0.01])
def test_unimodal_factor_holds_for_heavy_tailed_unimodal_samples(eps):
    """Student t (3 dof), Laplace, a lognormal and a one-sided exponential: all unimodal, with
    their moments the one-sided Vysochanskij-Petunin factor keeps the tail at most eps."""
    rng = np.random.default_rng(7)
    n = 400_000
    k = float(safety_factor(eps, True))
    for x in (rng.standard_t(3, n), rng.laplace(size=n), rng.lognormal(0, 0.8, n),
              rng.exponential(size=n)):
        assert _tail(x, k) <= eps * 1.02 + 3 * np.sqrt(eps / n)


def test_unimodal_factor_fails_on_a_bimodal_sample_where_cantelli_holds():
    """Break it on purpose: a two-point-like mixture (mass at the mean-ish, a small far
    bump) is not unimodal; the unimodal factor undershoots its tail, Cantelli does not, and
    the projection check refuses the unimodal factor for it."""
    from dispatch.uncertainty import SourceShapes, unimodal_projections

    rng = np.random.default_rng(3)
    eps, n, w = 0.05, 400_000, 0.08
    far = rng.random(n) < w
    x = np.where(far, rng.normal(6.0, 0.05, n), rng.normal(0.0, 0.05, n))
    assert _tail(x, float(safety_factor(eps, True))) > eps  # the VP factor is wrong here
    assert _tail(x, float(safety_factor(eps))) <= eps  # Cantelli needs only the moments
    shapes = SourceShapes(np.array([[[1 - w, w], [1.0, 0.0]]]),
                          np.array([[[0.0, 6.0], [0.0, 0.0]]]),
                          np.array([[[0.05, 0.05], [1.0, 0.0]]]))
    assert not unimodal_projections(shapes, np.array([[1.0, 0.0]]), np.array([0]))[0]
    # added to a wide unimodal EV error the projection is unimodal again
    assert unimodal_projections(shapes, np.array([[1.0, 10.0]]), np.array([0]))[0]


def test_unimodal_projection_against_a_density_grid():
    """Independent check of the projection test: convolve the two sources' densities on a
    grid numerically (no shared code) and count the density's local maxima."""
    from dispatch.uncertainty import SourceShapes, unimodal_projections

    rng = np.random.default_rng(11)
    for _ in range(30):
        w = rng.dirichlet(np.ones(2), size=2)
        m = rng.normal(0, 3, (2, 2))
        s = rng.uniform(0.3, 2.0, (2, 2))
        c = rng.normal(size=2)
        shapes = SourceShapes(w[None], m[None], s[None])
        grid = np.linspace(-40, 40, 16001)
        h = grid[1] - grid[0]
        dens = []
        for src in range(2):
            scale = abs(c[src])
            pdf = sum(w[src, k] * np.exp(-0.5 * ((grid - c[src] * m[src, k])
                                                  / (scale * s[src, k])) ** 2)
                      / (scale * s[src, k]) for k in range(2))
            dens.append(pdf)
        conv = np.convolve(dens[0], dens[1], mode="same") * h
        d = np.diff(conv)
        d = d[np.abs(d) > 1e-9 * np.abs(d).max()]
        maxima = int(np.sum((d[:-1] > 0) & (d[1:] < 0)))
        got = unimodal_projections(shapes, c[None], np.array([0]))[0]
        assert got == (maxima == 1)
