"""Distributionally robust individual chance constraints and their risk allocation.

An uncertain linear constraint ``g_i(x, xi) = a_i^T x + c_i^T xi <= b_i`` with a random
``xi`` of known mean ``mu`` and covariance ``Sigma`` holds with probability at least
``1 - eps_i`` for **every** distribution with those moments iff (one-sided Chebyshev /
Cantelli bound, tight over the moment ambiguity set)

    a_i^T x + c_i^T mu + kappa(eps_i) * sigma_i <= b_i,
    kappa(eps) = sqrt((1 - eps) / eps),   sigma_i = sqrt(c_i^T Sigma c_i).

If every distribution of the set is also **unimodal** (any mode), the one-sided
Vysochanskij–Petunin inequality (Mercadier & Strobel, EJOR 2021) bounds the tail instead:
``P(X - mu >= lambda sigma) <= 4 / (9 (1 + lambda^2))`` for ``lambda >= sqrt(5/3)`` and
``(3 - lambda^2) / (3 (1 + lambda^2))`` below, so

    kappa_U(eps) = sqrt(4 / (9 eps) - 1)           (eps <= 1/6),
    kappa_U(eps) = sqrt(3 (1 - eps) / (1 + 3 eps))  (eps > 1/6),

about two thirds of ``kappa`` at small ``eps``. Whether a row's error ``c_i^T xi`` is unimodal
is judged on the fitted mixtures (``dispatch.uncertainty.unimodal_projections``); where it is
not, the row keeps ``kappa``.

A joint chance constraint ``P(all i hold) >= 1 - eps`` follows by Bonferroni's union bound from
individual risks with ``sum_i eps_i <= eps``:

* ``bonferroni``: fixed equal split ``eps_i = eps / m``;
* ``oba`` (optimized Bonferroni approximation): ``eps_i`` are decision variables. ``kappa`` is
  convex and decreasing on ``(0, 1)``, so its piecewise-linear interpolant on breakpoints
  ``e_1 < ... < e_K`` lies above it (conservative) and equals the maximum of its chords:
  ``k_i >= kappa(e_j) + s_j (eps_i - e_j)`` for every segment ``j``, an LP. With ``sigma_i``
  constant (the recourse fixed), the margin ``sigma_i k_i`` is linear and OBA is an LP whose
  feasible set contains Bonferroni's whenever ``eps / m`` is a breakpoint — so its optimum is
  never dearer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.common import FloatArray, ModelInputError
from flexibility.lp import LinearProgram, solve


class ChanceInputError(ModelInputError):
    """Bad risk level, shapes or moments (a one-line message naming the fix)."""


def safety_factor(eps: FloatArray | float, unimodal: FloatArray | bool = False) -> FloatArray:
    """``kappa(eps) = sqrt((1 - eps) / eps)`` for ``0 < eps < 1``; ``kappa_U(eps)`` (module
    docstring) where ``unimodal`` (broadcast against ``eps``)."""
    e = np.asarray(eps, dtype=float)
    if np.any(~((e > 0) & (e < 1))):
        raise ChanceInputError(f"epsilon must lie in (0, 1), got {e.min():g}..{e.max():g}")
    moment = np.sqrt((1.0 - e) / e)
    uni = np.where(e <= 1.0 / 6.0, np.sqrt(np.maximum(4.0 / (9.0 * e) - 1.0, 0.0)),
                   np.sqrt(3.0 * (1.0 - e) / (1.0 + 3.0 * e)))
    return np.where(np.asarray(unimodal, dtype=bool), uni, moment)


def chord_cuts(eps_total: float, m: int, n_breaks: int = 24, unimodal: bool = False
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Breakpoints and the chords ``k >= alpha_j + beta_j eps`` of ``kappa``'s interpolant
    (of ``kappa_U``'s with ``unimodal``; both are convex and decreasing).

    The breakpoints run geometrically from ``eps_total / (50 m)`` to ``eps_total`` and include
    ``eps_total / m`` (the Bonferroni split) exactly.

    Returns:
        ``(breaks, alpha, beta)``; ``len(alpha) = len(breaks) - 1``.
    """
    if not 0 < eps_total < 1:
        raise ChanceInputError(f"epsilon = {eps_total:g} is outside (0, 1); e.g. 0.05")
    if m < 1:
        raise ChanceInputError("at least one chance constraint is needed")
    lo = eps_total / (50.0 * m)
    breaks = np.unique(np.r_[np.geomspace(lo, eps_total, n_breaks), eps_total / m])
    k = safety_factor(breaks, unimodal)
    beta = np.diff(k) / np.diff(breaks)
    alpha = k[:-1] - beta * breaks[:-1]
    return breaks, alpha, beta


@dataclass(frozen=True)
class ChanceLp:
    """``min cost^T x`` s.t. deterministic rows and uncertain rows held with joint risk ``eps``.

    Attributes:
        cost: ``(n,)``.
        x_lo: ``(n,)`` lower bounds.
        x_hi: ``(n,)`` upper bounds.
        a_det: ``(r, n)`` deterministic rows ``a_det x <= b_det``.
        b_det: ``(r,)``.
        a_unc: ``(m, n)`` rows of the uncertain constraints.
        b_unc: ``(m,)``.
        c_unc: ``(m, q)`` coefficients of the uncertainty ``xi`` in each uncertain row.
    """

    cost: FloatArray
    x_lo: FloatArray
    x_hi: FloatArray
    a_det: FloatArray
    b_det: FloatArray
    a_unc: FloatArray
    b_unc: FloatArray
    c_unc: FloatArray


@dataclass(frozen=True)
class ChanceSolution:
    """Solution of one variant.

    Attributes:
        method: ``so``, ``ro``, ``bonferroni`` or ``oba``.
        x: Decision ``(n,)`` (empty if infeasible).
        cost: Objective value (NaN if infeasible).
        eps_i: Risk per uncertain row (NaN for ``so``/``ro``).
        feasible: Whether HiGHS found an optimum.
    """

    method: str
    x: FloatArray
    cost: float
    eps_i: FloatArray
    feasible: bool


def solve_chance(p: ChanceLp, method: str, eps: float, mu: FloatArray, cov: FloatArray,
                 samples: FloatArray | None = None, box: FloatArray | None = None
                 ) -> ChanceSolution:
    """One variant of the joint chance-constrained LP (module docstring).

    Args:
        p: The program.
        method: ``bonferroni``, ``oba``, ``so`` (every row for every sample of ``samples``,
            ``(N, q)``: the scenario approximation) or ``ro`` (every row for the worst corner
            of the box ``mu +- box``, ``box`` ``(q,)`` half-widths).
        eps: Joint risk ``0 < eps < 1``.
        mu: Mean of ``xi`` ``(q,)``.
        cov: Covariance of ``xi`` ``(q, q)``.
        samples: Error samples ``(N, q)`` for ``so`` (``None`` otherwise).
        box: Half-widths ``(q,)`` of the box around ``mu`` for ``ro`` (``None`` otherwise).

    Returns:
        The variant's solution (``feasible`` False when the LP has none).
    """
    m, n = p.a_unc.shape
    if not 0 < eps < 1:
        raise ChanceInputError(f"epsilon = {eps:g} is outside (0, 1); e.g. 0.05")
    shift = p.c_unc @ mu
    sigma = np.sqrt(np.maximum(np.einsum("iq,qr,ir->i", p.c_unc, cov, p.c_unc), 0.0))
    nan = np.full(m, np.nan)
    if method in ("so", "ro"):
        if method == "so":
            if samples is None or len(samples) == 0:
                raise ChanceInputError("method so needs samples of the uncertainty")
            rhs = (p.b_unc[None, :] - samples @ p.c_unc.T).ravel()
            rows = np.tile(p.a_unc, (len(samples), 1))
        else:
            if box is None:
                raise ChanceInputError("method ro needs the box half-widths of the uncertainty")
            rows, rhs = p.a_unc, p.b_unc - shift - np.abs(p.c_unc) @ box
        sol = _lp(p, rows, rhs, n)
        return ChanceSolution(method, sol.x[:n] if sol.optimal else np.zeros(0),
                              sol.objective if sol.optimal else float("nan"), nan, sol.optimal)
    if method == "bonferroni":
        e = np.full(m, eps / m)
        sol = _lp(p, p.a_unc, p.b_unc - shift - safety_factor(e) * sigma, n)
        return ChanceSolution(method, sol.x[:n] if sol.optimal else np.zeros(0),
                              sol.objective if sol.optimal else float("nan"), e, sol.optimal)
    if method != "oba":
        raise ChanceInputError(f"method {method!r} is not one of oba, bonferroni, so, ro")
    return _oba(p, eps, shift, sigma)


def _lp(p: ChanceLp, rows: FloatArray, rhs: FloatArray, n: int):
    a = np.vstack([p.a_det, rows]) if len(p.a_det) else rows
    b = np.r_[p.b_det, rhs]
    lp = LinearProgram(cost=p.cost, col_lo=p.x_lo, col_hi=p.x_hi, a=a,
                       row_lo=np.full(len(b), -np.inf), row_hi=b)
    return solve(lp.highs())


def _oba(p: ChanceLp, eps: float, shift: FloatArray, sigma: FloatArray) -> ChanceSolution:
    """The OBA program with the risk per row a decision.

    Columns ``[x (n), eps_i (m), k_i (m)]``; rows: deterministic, uncertain
    ``a_i x + sigma_i k_i <= b_i - c_i mu``, chords ``alpha_j + beta_j eps_i - k_i <= 0``,
    budget ``sum eps_i <= eps``.
    """
    m, n = p.a_unc.shape
    breaks, alpha, beta = chord_cuts(eps, m)
    nk = len(alpha)
    eye = np.eye(m)
    blocks = [np.hstack([p.a_det, np.zeros((len(p.a_det), 2 * m))]) if len(p.a_det)
              else np.zeros((0, n + 2 * m)),
              np.hstack([p.a_unc, np.zeros((m, m)), np.diag(sigma)])]
    for j in range(nk):  # chord j for every row i
        blocks.append(np.hstack([np.zeros((m, n)), beta[j] * eye, -eye]))
    blocks.append(np.r_[np.zeros(n), np.ones(m), np.zeros(m)][None, :])
    a = np.vstack(blocks)
    b = np.r_[p.b_det, p.b_unc - shift, np.repeat(-alpha, m), eps]
    lp = LinearProgram(cost=np.r_[p.cost, np.zeros(2 * m)],
                       col_lo=np.r_[p.x_lo, np.full(m, breaks[0]), np.zeros(m)],
                       col_hi=np.r_[p.x_hi, np.full(m, breaks[-1]), np.full(m, np.inf)],
                       a=a, row_lo=np.full(len(b), -np.inf), row_hi=b)
    sol = solve(lp.highs())
    if not sol.optimal:
        return ChanceSolution("oba", np.zeros(0), float("nan"), np.full(m, np.nan), False)
    return ChanceSolution("oba", sol.x[:n], sol.objective, sol.x[n:n + m], True)
