"""The union bound over uncertainty directions instead of rows (two uncertainty sources).

Each uncertain row of an interval reads ``a_i x + c_i^T xi <= b_i`` with ``xi in R^2``
(net-load and EV errors). Many rows move almost together — every bus voltage falls with the
net load — and a union bound over rows charges each of them its own share of the risk. In two
dimensions every ``c_i`` lies in a cone spanned by two unit **directions** ``d_lo, d_hi``
(angles at most 170 degrees apart), ``c_i = w_lo d_lo + w_hi d_hi`` with ``w >= 0``. If
every direction event of the interval holds,

    d_k^T xi <= d_k^T mu + kappa_k sigma_k,     sigma_k = sqrt(d_k^T Sigma d_k),

then every row with the margin ``sum_k w_ik (d_k^T mu + kappa_k sigma_k)`` holds, so

    P(some row fails) <= P(some direction event fails) <= sum_k 1 / (1 + kappa_k^2)

for every distribution with mean ``mu`` and covariance ``Sigma`` (Cantelli per direction,
Bonferroni over the ``K`` directions). The joint risk is split over ``K`` directions (a few
per interval) instead of ``m`` rows (over a hundred on a 33-bus feeder). A row whose ``c_i``
is a direction itself keeps exactly its individual margin.

**Directions.** The angles of the rows' ``c_i`` are sorted around the circle and cut at gaps
wider than ``gap_deg``; a cluster spanning more than ``MAX_SPAN_DEG`` is cut into equal arcs.
Each arc contributes its two end directions (one when its rows are parallel to within
``PARALLEL_RAD``, whose residual ``|c_i| 1e-9`` is far below the LP's tolerance; an arc
narrower than ``MIN_SPAN_RAD`` is widened to it, so the two ends are well conditioned);
adjacent arcs share an end.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from flexibility.common import FloatArray, IntArray

MAX_SPAN_DEG = 170.0
MIN_SPAN_RAD = 1e-3  # arcs narrower than this (but not parallel) are widened to it
PARALLEL_RAD = 1e-9  # rows within this angle share one direction (residual below LP tolerance)


@dataclass(frozen=True)
class Directions:
    """The directions of all intervals and each row's conic weights on them.

    Attributes:
        weight: ``(M, K)`` sparse, non-negative: ``c_i = sum_k weight_ik d_k`` (rows that do
            not move have no weight).
        d: Unit directions ``(K, 2)``.
        t: Interval of each direction ``(K,)``.
    """

    weight: sp.csr_matrix
    d: FloatArray
    t: IntArray

    def moments(self, mu: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``d_k^T mu_t`` and ``sigma_k`` per direction.

        ``mu`` is ``(T, 2)``, ``cov`` ``(T, 2, 2)``.
        """
        m = np.einsum("ki,ki->k", self.d, mu[self.t])
        s = np.sqrt(np.maximum(np.einsum("ki,kij,kj->k", self.d, cov[self.t], self.d), 0.0))
        return m, s


def _arcs(theta: FloatArray, gap_rad: float) -> list[tuple[float, float]]:
    """Arcs covering every angle, each at most ``MAX_SPAN_DEG`` wide.

    An arc is ``(lo, hi)`` in radians, ``hi >= lo`` (``hi`` may exceed ``2 pi``).
    """
    a = np.sort(np.mod(theta, 2 * np.pi))
    if a.size == 0:
        return []
    gaps = np.diff(np.r_[a, a[0] + 2 * np.pi])
    start = int(np.argmax(gaps)) + 1  # begin after the widest gap
    a = np.r_[a[start:], a[:start] + 2 * np.pi] if start < a.size else a
    arcs: list[tuple[float, float]] = []
    lo = prev = a[0]
    for x in a[1:]:
        if x - prev > gap_rad:
            arcs.append((lo, prev))
            lo = x
        prev = x
    arcs.append((lo, prev))
    out: list[tuple[float, float]] = []
    limit = np.deg2rad(MAX_SPAN_DEG)
    for lo, hi in arcs:
        if PARALLEL_RAD <= hi - lo < MIN_SPAN_RAD:  # nearly parallel: a well-conditioned pair
            mid = 0.5 * (lo + hi)
            lo, hi = mid - 0.5 * MIN_SPAN_RAD, mid + 0.5 * MIN_SPAN_RAD
        n = int(np.ceil((hi - lo) / limit - 1e-12)) if hi - lo > limit else 1
        edges = np.linspace(lo, hi, n + 1)
        out.extend((float(a), float(b)) for a, b in itertools.pairwise(edges))
    return out


def cone_directions(c: FloatArray, t: IntArray, moving: np.ndarray,
                    gap_deg: float = 20.0) -> Directions:
    """The directions of each interval and the rows' conic weights (module docstring)."""
    c = np.asarray(c, dtype=float)
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError("directions need exactly two uncertainty sources")
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    dirs: list[list[float]] = []
    d_t: list[int] = []
    theta_all = np.arctan2(c[:, 1], c[:, 0])
    for tt in np.unique(t[moving]):
        idx = np.flatnonzero(moving & (t == tt))
        theta = theta_all[idx]
        for lo, hi in _arcs(theta, np.deg2rad(gap_deg)):
            # rows of this arc (angles shifted into [lo, lo + 2 pi))
            free = np.isfinite(theta)
            rel = np.mod(np.where(free, theta, lo) - lo, 2 * np.pi)
            rel[rel > 2 * np.pi - 1e-9] = 0.0  # the arc's start seen from a full turn away
            inside = free & (rel <= (hi - lo) + 1e-12)
            mine = idx[inside]
            if mine.size == 0:
                continue
            k0 = len(dirs)
            if hi - lo < PARALLEL_RAD:
                dirs.append([np.cos(lo), np.sin(lo)])
                d_t.append(int(tt))
                norm = c[mine] @ np.array([np.cos(lo), np.sin(lo)])  # |c_i| cos(<1e-9)
                rows.append(mine)
                cols.append(np.full(mine.size, k0))
                vals.append(norm)
                theta[inside] = np.inf  # taken
                continue
            d2 = np.array([[np.cos(lo), np.sin(lo)], [np.cos(hi), np.sin(hi)]])
            dirs.extend(d2.tolist())
            d_t.extend([int(tt), int(tt)])
            w = np.linalg.solve(d2.T, c[mine].T).T  # c = w_lo d_lo + w_hi d_hi
            w = np.maximum(w, 0.0)
            rows.extend([mine, mine])
            cols.extend([np.full(mine.size, k0), np.full(mine.size, k0 + 1)])
            vals.extend([w[:, 0], w[:, 1]])
            theta[inside] = np.inf  # a row on a shared edge is counted once
    k = len(dirs)
    if k == 0:
        return Directions(sp.csr_matrix((len(c), 0)), np.zeros((0, 2)), np.zeros(0, dtype=int))
    weight = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(len(c), k))
    return Directions(weight, np.asarray(dirs), np.asarray(d_t, dtype=int))
