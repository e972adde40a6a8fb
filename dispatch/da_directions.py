"""Bonferroni and OBA over uncertainty directions for the chance-constrained day-ahead dispatch.

The directions are ``dispatch.directions``', the dispatch ``dispatch.da_model``'s.

The rows are those of ``da_model`` (network and reserve families). Per interval ``t`` the
moving rows' coefficients span ``K_t`` directions; the row margins are

    a_i x + sum_k w_ik (d_k^T mu_t + kappa_k sigma_k) <= b_i,

with ``kappa_k = kappa(eps / K_t)`` (``bonferroni``: the equal split over directions) or
``kappa_k`` and ``eps_k`` decisions with ``kappa_k >= kappa(eps_k)`` by chord cuts and
``sum_{k in t} eps_k <= eps`` (``oba``). Rows that do not move keep ``a_i x + c_i^T mu <= b_i``.
The risk of a direction is reported against the constraint families in proportion to its
rows' weights.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dispatch.chance import chord_cuts, safety_factor
from dispatch.da_rows import FAMILIES, DaInstance, UncertainRows
from dispatch.directions import Directions, cone_directions
from flexibility.common import FloatArray

N_BREAKS = 16


def family_risk(dirs: Directions, u: UncertainRows, eps_k: FloatArray, t_n: int,
                binding: np.ndarray) -> FloatArray:
    """Risk per interval and family ``(T, 4)``.

    Each direction's ``eps_k`` is split evenly over the families of its binding rows (of all
    its rows when none binds).
    """
    w = dirs.weight.tocsc()
    out = np.zeros((t_n, len(FAMILIES)))
    for k in range(w.shape[1]):
        rows = w.indices[w.indptr[k]:w.indptr[k + 1]]
        pick = rows[binding[rows]] if binding[rows].any() else rows
        fams = np.unique(u.family[pick])
        if fams.size:
            out[dirs.t[k], fams] += eps_k[k] / fams.size
    return out


def direction_margins(inst: DaInstance, u: UncertainRows, sigma: FloatArray,
                      eps: float) -> tuple[FloatArray, Directions, FloatArray]:
    """Bonferroni over directions: the row margins, the directions and their risks."""
    moving = sigma > 1e-12
    dirs = cone_directions(u.c, u.t, moving)
    m_k, s_k = dirs.moments(inst.mu, inst.cov)
    k_t = np.bincount(dirs.t, minlength=inst.shape[0])
    eps_k = eps / np.maximum(k_t[dirs.t], 1)
    kappa = (safety_factor(eps_k, inst.unimodal(dirs.d, dirs.t)) if len(eps_k)
             else np.zeros(0))
    margin = np.einsum("mi,mi->m", u.c, inst.mu[u.t])
    margin[moving] = (dirs.weight @ (m_k + kappa * s_k))[moving]
    return margin, dirs, eps_k


def oba_program(u: UncertainRows, kappa_coef: sp.csr_matrix, rhs: FloatArray,
                item_t: np.ndarray, t_n: int, eps: float, a_dev: sp.csr_matrix,
                lo_dev: FloatArray, hi_dev: FloatArray, cost: FloatArray,
                unimodal: np.ndarray | None = None):
    """The OBA LP with risk items ``k`` (rows or directions).

    Columns ``[x, eps_k, kappa_k]``; rows: device rows,
    ``A x + sum_k kappa_coef_ik kappa_k <= rhs_i``, chords ``beta_j eps_k - kappa_k <= -alpha_j``
    (of ``kappa_U`` for the items marked ``unimodal``) and ``sum_{k in t} eps_k <= eps``.

    Returns:
        ``(a, lo, hi, cost, (col_lo, col_hi) of the extra columns)``.
    """
    n_x = a_dev.shape[1]
    k_n = len(item_t)
    k_t = np.bincount(item_t, minlength=t_n)
    m_max = int(max(k_t.max(initial=1), 1))
    breaks, alpha_m, beta_m = chord_cuts(eps, m_max, n_breaks=N_BREAKS)
    _, alpha_u, beta_u = chord_cuts(eps, m_max, n_breaks=N_BREAKS, unimodal=True)
    uni = np.zeros(k_n, dtype=bool) if unimodal is None else np.asarray(unimodal, dtype=bool)
    alpha_c = np.where(uni[None, :], alpha_u[:, None], alpha_m[:, None])  # (nk, k_n)
    beta_c = np.where(uni[None, :], beta_u[:, None], beta_m[:, None])
    width = n_x + 2 * k_n
    a_unc = sp.hstack([u.a, sp.csr_matrix((len(rhs), k_n)), kappa_coef]).tocsr()
    nk = len(alpha_c)
    r = np.arange(nk * k_n)
    i_of = np.tile(np.arange(k_n), nk)
    chords = sp.csr_matrix((np.r_[beta_c.ravel(), -np.ones(nk * k_n)],
                            (np.r_[r, r], np.r_[n_x + i_of, n_x + k_n + i_of])),
                           shape=(nk * k_n, width))
    budget = sp.csr_matrix((np.ones(k_n), (item_t, n_x + np.arange(k_n))), shape=(t_n, width))
    a_dev_w = sp.hstack([a_dev, sp.csr_matrix((a_dev.shape[0], 2 * k_n))])
    a = sp.vstack([a_dev_w, a_unc, chords, budget]).tocsr()
    lo = np.r_[lo_dev, np.full(len(rhs) + nk * k_n + t_n, -np.inf)]
    hi = np.r_[hi_dev, rhs, -alpha_c.ravel(), np.full(t_n, eps)]
    bounds = (np.r_[np.full(k_n, breaks[0]), np.zeros(k_n)],
              np.r_[np.full(k_n, breaks[-1]), np.full(k_n, np.inf)])
    return a, lo, hi, np.r_[cost, np.zeros(2 * k_n)], bounds


def oba_direction_rows(inst: DaInstance, u: UncertainRows, sigma: FloatArray, eps: float,
                       a_dev: sp.csr_matrix, lo_dev: FloatArray, hi_dev: FloatArray,
                       cost: FloatArray):
    """The OBA program over directions (:func:`oba_program` with the directions as items).

    Returns:
        ``(a, lo, hi, cost, (col_lo, col_hi) of the extra columns, directions)``.
    """
    moving = sigma > 1e-12
    dirs = cone_directions(u.c, u.t, moving)
    m_k, s_k = dirs.moments(inst.mu, inst.cov)
    w = dirs.weight.tocsr()
    kap = (sp.diags(moving.astype(float)) @ w @ sp.diags(s_k)).tocsr()
    shift = np.einsum("mi,mi->m", u.c, inst.mu[u.t])
    shift[moving] = (w @ m_k)[moving]
    a, lo, hi, c, bounds = oba_program(u, kap, u.b - shift, dirs.t, inst.shape[0], eps, a_dev,
                                       lo_dev, hi_dev, cost, inst.unimodal(dirs.d, dirs.t))
    return a, lo, hi, c, bounds, dirs
