"""Forecast-error distributions fitted as Gaussian mixtures (issue 15).

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
                    name: str = "series") -> FloatArray:
    """Forecast errors of a year-long profile by the day-type mean forecast.

    The forecast of step ``s`` of day ``d`` is the mean of step ``s`` over all days of the
    same type (weekday Monday-Friday or weekend) in the series; the error is realised minus
    forecast, ``e_{d,s} = x_{d,s} - mean_{d' of type(d)} x_{d',s}``.

    Args:
        series: The profile, ``(n_days * steps_per_day,)``.
        steps_per_day: Steps per day (96 for 15 minutes).
        first_weekday: Weekday of the first day (0 = Monday).
        name: Name for error messages.

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
    for mask in (weekend, ~weekend):
        if mask.any():
            out[mask] = days[mask] - days[mask].mean(axis=0)
    return out
