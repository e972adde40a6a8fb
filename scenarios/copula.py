"""Gaussian copula with empirical marginals (rank-based fit), vectorised sampling.

Fit (paper §3.1.2 and 4.1): the dependence of the behaviour variables is measured by Spearman's
rank correlation ``rho_S``, mapped to the latent Gaussian correlation by the exact relation for
a Gaussian copula ``rho = 2 sin(pi rho_S / 6)``, and repaired to the nearest correlation matrix
(Higham 2002, alternating projections with Dykstra's correction) when that map leaves the
positive-definite cone. Sampling draws ``z ~ N(0, R)``, maps ``u = Phi(z)`` and reads each
marginal's empirical inverse CDF ``x = x_(ceil(u n))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from flexibility.common import FloatArray
from scenarios.errors import InputError


def spearman_to_pearson(rho_s: FloatArray) -> FloatArray:
    """Latent Gaussian correlation of a Gaussian copula with Spearman matrix ``rho_s``."""
    r = 2.0 * np.sin(np.pi * np.asarray(rho_s) / 6.0)
    np.fill_diagonal(r, 1.0)
    return r


def nearest_correlation(a: FloatArray, tol: float = 1e-10, max_iter: int = 500,
                        eig_floor: float = 1e-8) -> FloatArray:
    """Nearest (Frobenius) correlation matrix to a symmetric ``a`` (Higham 2002).

    Alternates the projection on the PSD cone (eigenvalues floored at ``eig_floor``) and on
    unit-diagonal matrices, with Dykstra's correction on the PSD step.
    """
    y = np.array(a, dtype=np.float64)
    ds = np.zeros_like(y)
    for _ in range(max_iter):
        r = y - ds
        w, v = np.linalg.eigh((r + r.T) / 2.0)
        x = (v * np.maximum(w, eig_floor)) @ v.T
        ds = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        if np.linalg.norm(y_new - y) <= tol * max(1.0, float(np.linalg.norm(y))):
            y = y_new
            break
        y = y_new
    return y


@dataclass(frozen=True)
class GaussianCopula:
    """A fitted Gaussian copula with empirical marginals.

    Attributes:
        names: Variable names, in column order.
        marginals: Sorted empirical samples, shape ``(K, n)`` (one row per variable).
        corr: Latent Gaussian correlation matrix, shape ``(K, K)``.
    """

    names: tuple[str, ...]
    marginals: FloatArray
    corr: FloatArray

    @classmethod
    def fit(cls, data: FloatArray, names: tuple[str, ...]) -> GaussianCopula:
        """Rank-based fit on ``data`` of shape ``(n, K)``.

        Raises:
            InputError: A column without variation (its rank correlation is undefined), or
                non-finite values; the message names the column.
        """
        data = np.asarray(data, dtype=np.float64)
        for k, name in enumerate(names):
            col = data[:, k]
            if not np.isfinite(col).all():
                raise InputError(f"{name}: {int(np.sum(~np.isfinite(col)))} of {col.size} "
                                 "values are not finite numbers; drop or fix those sessions")
            if col.size and np.all(col == col[0]):
                raise InputError(f"{name}: all {col.size} sessions have the same value "
                                 f"({col[0]:g}); the behaviour model needs variation in "
                                 f"{name}")
        rho = stats.spearmanr(data).statistic  # a number for two columns, else the matrix
        rho_s = np.array([[1.0, rho], [rho, 1.0]]) if np.ndim(rho) == 0 else np.asarray(rho)
        corr = nearest_correlation(spearman_to_pearson(rho_s))
        return cls(names=tuple(names), marginals=np.sort(data, axis=0).T, corr=corr)

    @property
    def n_obs(self) -> int:
        """Number of observations behind the marginals."""
        return int(self.marginals.shape[1])

    def _inverse_cdf(self, u: FloatArray) -> FloatArray:
        """Empirical inverse CDF per variable; ``u`` has shape ``(..., K)``."""
        n = self.n_obs
        idx = np.clip(np.ceil(u * n).astype(np.int64) - 1, 0, n - 1)
        return np.stack([self.marginals[k][idx[..., k]] for k in range(len(self.names))],
                        axis=-1)

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw samples of shape ``(*size, K)``."""
        z = rng.standard_normal((*size, len(self.names))) @ np.linalg.cholesky(self.corr).T
        return self._inverse_cdf(stats.norm.cdf(z))

    def sample_where(self, rng: np.random.Generator, size: tuple[int, ...], var: int,
                     intervals: list[tuple[float, float]]) -> FloatArray:
        """Draw from the copula conditioned on ``x_var`` in a union of intervals ``(lo, hi]``.

        With the empirical inverse CDF, ``lo < x <= hi`` exactly when ``F(lo) < u <= F(hi)``,
        so ``u_var`` is drawn uniformly on the union of those ranges (a truncated latent normal)
        and the other coordinates from the Gaussian conditional
        ``z_r | z_var ~ N(R_rv z_var, R_rr - R_rv R_vr)``.

        Raises:
            ValueError: If no observation falls in the intervals.
        """
        k = len(self.names)
        cdf = lambda x: np.searchsorted(self.marginals[var], x, side="right") / self.n_obs  # noqa: E731
        ranges = np.array([(cdf(lo), cdf(hi)) for lo, hi in intervals if hi > lo]).reshape(-1, 2)
        widths = ranges[:, 1] - ranges[:, 0]
        if widths.sum() <= 0:
            raise ValueError(f"no observation of {self.names[var]} lies in {intervals}")
        # inverse of the piecewise-uniform CDF on the union of ranges
        w = rng.uniform(0.0, widths.sum(), size=size)
        ends = np.cumsum(widths)
        j = np.minimum(np.searchsorted(ends, w, side="right"), len(widths) - 1)
        u_v = ranges[j, 0] + (w - (ends[j] - widths[j]))
        # strictly inside (0, 1): at u = 1 the latent z_var would be infinite and drag every
        # other coordinate to its largest or smallest observation
        u_v = np.clip(u_v, np.nextafter(ranges[j, 0], 1.0),
                      np.minimum(ranges[j, 1], np.nextafter(1.0, 0.0)))
        rest = [i for i in range(k) if i != var]
        r_rv = self.corr[rest, var]
        cond_cov = self.corr[np.ix_(rest, rest)] - np.outer(r_rv, r_rv)
        chol = np.linalg.cholesky(cond_cov + 1e-12 * np.eye(k - 1))
        z_v = stats.norm.ppf(u_v)
        z = np.empty((*size, k))
        z[..., var] = z_v  # every entry set: np.empty's bytes can be a signalling NaN
        z[..., rest] = z_v[..., None] * r_rv + rng.standard_normal((*size, k - 1)) @ chol.T
        u = stats.norm.cdf(z)
        u[..., var] = u_v  # exact, not via the round trip through Phi
        return self._inverse_cdf(u)
