"""Forecast-error distributions of the chance-constrained dispatch as Gaussian mixtures.

``fit_mixture`` fits scikit-learn's ``GaussianMixture`` (full covariances) with 1..K components
and keeps the one of lowest BIC. The chance constraints of ``dispatch.chance`` need only the
mixture's first two moments:

    mu = sum_k w_k mu_k,   Sigma = sum_k w_k (Sigma_k + mu_k mu_k^T) - mu mu^T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.common import FloatArray, ModelInputError


class MixtureInputError(ModelInputError):
    """Too few or malformed samples for a mixture fit."""


@dataclass(frozen=True)
class Mixture:
    """A fitted Gaussian mixture.

    Attributes:
        weights: ``(K,)``.
        means: ``(K, q)``.
        covariances: ``(K, q, q)``.
        bic: BIC per number of components tried (1..K_max).
    """

    weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    bic: tuple[float, ...]

    @property
    def mean(self) -> FloatArray:
        """Mixture mean ``(q,)``."""
        return self.weights @ self.means

    @property
    def cov(self) -> FloatArray:
        """Mixture covariance ``(q, q)`` (module docstring)."""
        mu = self.mean
        second = np.einsum("k,kij->ij", self.weights, self.covariances) + np.einsum(
            "k,ki,kj->ij", self.weights, self.means, self.means)
        return second - np.outer(mu, mu)

    def sample(self, n: int, rng: np.random.Generator) -> FloatArray:
        """``n`` draws ``(n, q)`` with the injected generator."""
        comp = rng.choice(len(self.weights), size=n, p=self.weights / self.weights.sum())
        out = np.empty((n, self.means.shape[1]))
        for k in range(len(self.weights)):
            idx = np.flatnonzero(comp == k)
            out[idx] = rng.multivariate_normal(self.means[k], self.covariances[k], size=idx.size)
        return out


def fit_mixture(samples: FloatArray, max_components: int = 4, seed: int = 0,
                name: str = "samples") -> Mixture:
    """Lowest-BIC Gaussian mixture of ``samples`` ``(N, q)`` with 1..``max_components``.

    Raises:
        MixtureInputError: fewer than ``10 q`` samples (or than 2 per component), NaN.
    """
    from sklearn.mixture import GaussianMixture

    x = np.asarray(samples, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n, q = x.shape
    if not np.all(np.isfinite(x)):
        raise MixtureInputError(f"{name}: contains NaN or infinite values; drop those rows")
    if n < max(10 * q, 2 * max_components):
        raise MixtureInputError(f"{name}: {n} samples are too few for a mixture in {q} "
                                f"dimension(s); give at least {max(10 * q, 2 * max_components)}")
    best, bics = None, []
    for k in range(1, max_components + 1):
        gm = GaussianMixture(k, covariance_type="full", random_state=seed, reg_covar=1e-9,
                             n_init=1).fit(x)
        bics.append(float(gm.bic(x)))
        if best is None or bics[-1] < min(bics[:-1], default=np.inf):
            best = gm
    assert best is not None
    return Mixture(np.asarray(best.weights_), np.asarray(best.means_),
                   np.asarray(best.covariances_), tuple(bics))


def forecast_errors(series: FloatArray, steps_per_day: int = 96, first_weekday: int = 0,
                    name: str = "series", window_days: int | None = None) -> FloatArray:
    """Forecast errors of a year-long profile by the day-type mean forecast.

    The forecast of step ``s`` of day ``d`` is the mean of step ``s`` over the days of the
    same type (weekday Monday-Friday or weekend); the error is realised minus forecast,
    ``e_{d,s} = x_{d,s} - mean_{d' in D(d)} x_{d',s}``. Without ``window_days``, ``D(d)`` is
    every day of the type in the series; with it, the other days of the type within
    ``|d' - d| <= window_days`` (a seasonal day-type mean that leaves day ``d`` out).

    Args:
        series: The profile, ``(n_days * steps_per_day,)``.
        steps_per_day: Steps per day (96 for 15 minutes).
        first_weekday: Weekday of the first day (0 = Monday).
        name: Name for error messages.
        window_days: Half-width of the seasonal window in days (``None``: the whole series).

    Returns:
        Errors ``(n_days, steps_per_day)``.

    Raises:
        MixtureInputError: a length that is not whole days, fewer than 7 days, NaN.
    """
    x = np.asarray(series, dtype=float)
    if x.ndim != 1 or x.size % steps_per_day or x.size < 7 * steps_per_day:
        raise MixtureInputError(f"{name}: {x.size} values are not whole days of "
                                f"{steps_per_day} steps (at least 7 days needed)")
    if not np.all(np.isfinite(x)):
        raise MixtureInputError(f"{name}: contains NaN or infinite values; fill or drop them")
    days = x.reshape(-1, steps_per_day)
    weekend = (np.arange(len(days)) + first_weekday) % 7 >= 5
    out = np.empty_like(days)
    if window_days is None:
        for mask in (weekend, ~weekend):
            if mask.any():
                out[mask] = days[mask] - days[mask].mean(axis=0)
        return out
    idx = np.arange(len(days))
    for d in idx:
        near = (np.abs(idx - d) <= window_days) & (weekend == weekend[d]) & (idx != d)
        if not near.any():
            raise MixtureInputError(f"{name}: no day of the same type within {window_days} "
                                    f"days of day {d}; widen the window")
        out[d] = days[d] - days[near].mean(axis=0)
    return out


@dataclass(frozen=True)
class IntervalMoments:
    """Mixture moments of one uncertainty source per interval.

    Attributes:
        mean: ``(T,)``.
        var: ``(T,)``.
        mixtures: The fitted mixture of each pooled block (``T / pool`` of them).
    """

    mean: FloatArray
    var: FloatArray
    mixtures: tuple[Mixture, ...]


def pooled_moments(samples: FloatArray, pool: int = 4, max_components: int = 4, seed: int = 0,
                   name: str = "samples") -> IntervalMoments:
    """Fit one mixture per block of ``pool`` consecutive intervals and take its moments.

    The samples of the ``pool`` intervals of a block (an hour of 15-minute steps by default)
    are pooled, ``N * pool`` values, and the mixture of lowest BIC gives the block's mean and
    variance, used for each of its intervals.

    Args:
        samples: ``(N, T)`` realisations (days x intervals).
        pool: Intervals per block (the last block may be shorter).
        max_components: Largest number of components tried.
        seed: Seed of scikit-learn's initialisation (deterministic fits).
        name: Name for error messages.
    """
    x = np.asarray(samples, dtype=float)
    if x.ndim != 2:
        raise MixtureInputError(f"{name}: expected (samples, intervals), got shape {x.shape}")
    t_n = x.shape[1]
    mean, var = np.zeros(t_n), np.zeros(t_n)
    fits = []
    for start in range(0, t_n, pool):
        block = x[:, start:start + pool].ravel()
        if np.ptp(block) < 1e-12:  # a source that never deviates in this block (PV at night)
            fits.append(Mixture(np.ones(1), np.full((1, 1), block[0]), np.zeros((1, 1, 1)), ()))
        else:
            fits.append(fit_mixture(block, max_components, seed, name))
        mean[start:start + pool] = fits[-1].mean[0]
        var[start:start + pool] = fits[-1].cov[0, 0]
    return IntervalMoments(mean, var, tuple(fits))


@dataclass(frozen=True)
class SourceShapes:
    """The fitted one-dimensional mixture of each source at every interval, padded with zero
    weights to ``K`` components.

    Attributes:
        weights: ``(T, 2, K)`` (net load, EV).
        means: ``(T, 2, K)``.
        sds: ``(T, 2, K)``.
    """

    weights: FloatArray
    means: FloatArray
    sds: FloatArray


def source_shapes(net: IntervalMoments, ev: IntervalMoments, pool: int = 1) -> SourceShapes:
    """:class:`SourceShapes` of two sources fitted per block of ``pool`` intervals."""
    t_n = len(net.mean)
    k = max(len(m.weights) for m in (*net.mixtures, *ev.mixtures))
    w, mu, sd = (np.zeros((t_n, 2, k)) for _ in range(3))
    for s, src in enumerate((net, ev)):
        for b, mix in enumerate(src.mixtures):
            rows = slice(b * pool, min((b + 1) * pool, t_n))
            n = len(mix.weights)
            w[rows, s, :n] = mix.weights / mix.weights.sum()
            mu[rows, s, :n] = mix.means[:, 0]
            sd[rows, s, :n] = np.sqrt(np.maximum(mix.covariances[:, 0, 0], 0.0))
    return SourceShapes(w, mu, sd)


def unimodal_projections(shapes: SourceShapes, c: FloatArray, t: np.ndarray,
                         n_grid: int = 801, chunk: int = 512) -> np.ndarray:
    """Whether each projection ``c_i^T xi`` at interval ``t_i`` has a unimodal density.

    The sources are independent, so the projection of the two mixtures is the mixture of the
    ``K^2`` pairs: weight ``w_a w_b``, mean ``c_1 m_a + c_2 m_b``, variance
    ``c_1^2 s_a^2 + c_2^2 s_b^2``. Its density's slope is evaluated on a grid over the mean
    ``+- 8`` standard deviations; unimodal means no rise after a fall. A degenerate projection
    (variance 0) counts as unimodal.

    Args:
        shapes: The sources' mixtures.
        c: ``(M, 2)`` coefficients.
        t: ``(M,)`` intervals.
        n_grid: Grid points of the slope test.
        chunk: Projections evaluated at once (bounds the scratch memory).
    """
    c = np.asarray(c, dtype=float)
    out = np.ones(len(c), dtype=bool)
    w, m, s = shapes.weights, shapes.means, shapes.sds
    for start in range(0, len(c), chunk):
        r = slice(start, start + chunk)
        ti, ci = np.asarray(t)[r], c[r]
        pw = (w[ti, 0, :, None] * w[ti, 1, None, :]).reshape(len(ti), -1)
        pm = (ci[:, :1, None] * m[ti, 0, :, None]
              + ci[:, 1:, None] * m[ti, 1, None, :]).reshape(len(ti), -1)
        ps = np.sqrt((ci[:, :1, None] * s[ti, 0, :, None]) ** 2
                     + (ci[:, 1:, None] * s[ti, 1, None, :]) ** 2).reshape(len(ti), -1)
        live = (pw > 0) & (ps > 1e-12)
        mu = (pw * pm).sum(axis=1)
        sd = np.sqrt(np.maximum((pw * (ps ** 2 + pm ** 2)).sum(axis=1) - mu ** 2, 0.0))
        x = mu[:, None] + sd[:, None] * np.linspace(-8.0, 8.0, n_grid)[None, :]  # (R, G)
        z = (x[:, :, None] - pm[:, None, :]) / np.where(live, ps, 1.0)[:, None, :]
        dens = np.where(live[:, None, :], pw[:, None, :] / np.where(live, ps, 1.0)[:, None, :]
                        * np.exp(-0.5 * z ** 2), 0.0)
        slope = (dens * -z / np.where(live, ps, 1.0)[:, None, :]).sum(axis=2)  # (R, G)
        tol = 1e-9 * np.abs(slope).max(axis=1, keepdims=True)
        sign = np.where(slope > tol, 1, np.where(slope < -tol, -1, 0))
        fell = np.maximum.accumulate(sign == -1, axis=1)
        rises_after = (fell[:, :-1] & (sign[:, 1:] == 1)).any(axis=1)
        degenerate = ~live.any(axis=1) | (sd <= 1e-12)
        out[r] = degenerate | ~rises_after
    return out
