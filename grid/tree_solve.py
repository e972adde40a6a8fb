"""Direct solves of sparse systems whose graph is a forest, level by level over many columns.

For a matrix ``A`` (``m x m``) whose off-diagonal pattern is a forest (a radial feeder's
admittance matrix without the slack bus), Gaussian elimination from the leaves to the roots
creates no fill-in. Eliminating node ``k`` with parent ``p`` updates only

    d_p <- d_p - a_pk a_kp / d_k          (factorisation, once)
    y_p <- y_p - (a_pk / d_k) y_k         (forward sweep, per right-hand side)

and the back substitution runs from the roots to the leaves,

    x_k = (y_k - a_kp x_p) / d_k.

Nodes are renumbered breadth first so that every tree level is a contiguous slice; each sweep
then costs one vectorised step per level over all right-hand-side columns at once — the
backward/forward sweep of a radial power flow, written for any such matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components


class NotAForest(ValueError):
    """The matrix graph has a cycle (use a general sparse LU instead)."""


class ForestSolver:
    """Factorise ``A`` once; solve ``A X = B`` for ``B`` of shape ``(m, K)``.

    Args:
        a: Square sparse matrix whose off-diagonal pattern is symmetric and a forest.

    Raises:
        NotAForest: The pattern has a cycle or is not structurally symmetric.
    """

    def __init__(self, a: sp.spmatrix) -> None:
        a = sp.csr_matrix(a)
        m = a.shape[0]
        off = sp.coo_matrix(a - sp.diags(a.diagonal()))
        off.eliminate_zeros()
        pattern = sp.csr_matrix((np.ones(off.nnz), (off.row, off.col)), shape=(m, m))
        if (pattern != pattern.T).nnz or off.nnz != 2 * (m - connected_components(pattern)[0]):
            raise NotAForest("matrix pattern is not a symmetric forest")
        order, parent = _forest_order(pattern)
        new = np.empty(m, dtype=np.int64)
        new[order] = np.arange(m)
        self.order = order
        par = np.where(parent[order] >= 0, new[np.maximum(parent[order], 0)], -1)
        depth = np.zeros(m, dtype=np.int64)
        for i in range(m):  # breadth-first order: the parent's depth is known
            if par[i] >= 0:
                depth[i] = depth[par[i]] + 1
        self.bounds = np.searchsorted(depth, np.arange(depth.max() + 2))
        self.parent = par
        orig_par = parent[order]
        has = orig_par >= 0
        a_csr = a.tocsr()
        a_pk = np.zeros(m, dtype=a.dtype)
        a_kp = np.zeros(m, dtype=a.dtype)
        a_pk[has] = np.asarray(a_csr[orig_par[has], order[has]]).ravel()
        a_kp[has] = np.asarray(a_csr[order[has], orig_par[has]]).ravel()
        d = a.diagonal()[order].astype(np.result_type(a.dtype, np.float64))
        self.levels: list[tuple] = []
        for lev in range(len(self.bounds) - 2, 0, -1):  # deepest level first
            lo, hi = self.bounds[lev], self.bounds[lev + 1]
            plo = self.bounds[lev - 1]
            local_parent = par[lo:hi] - plo  # non-decreasing: breadth-first order
            if np.any(np.diff(local_parent) < 0):
                raise NotAForest("breadth-first order does not group siblings")
            starts = np.flatnonzero(np.r_[True, local_parent[1:] != local_parent[:-1]])
            np.subtract.at(d, par[lo:hi], a_pk[lo:hi] * a_kp[lo:hi] / d[lo:hi])
            self.levels.append((lo, hi, plo, local_parent, starts, plo + local_parent[starts]))
        self.d = d
        self.groups = np.concatenate(
            [np.stack([lo + starts, lo + np.r_[starts[1:], hi - lo], parents], axis=1)
             for lo, hi, _, _, starts, parents in self.levels]
            or [np.zeros((0, 3), dtype=np.int64)]).astype(np.int64)
        self.inv_d = (1.0 / d)[:, None]
        self.l_coef = (a_pk / d)[:, None]  # multiplier of the forward sweep
        self.a_kp = a_kp[:, None]

    @property
    def n_roots(self) -> int:
        """Number of roots (the first rows of :attr:`order`)."""
        return int(self.bounds[1])

    def solve(self, b: np.ndarray) -> np.ndarray:
        """Solve ``A X = B`` for ``B`` of shape ``(m,)`` or ``(m, K)`` (original numbering)."""
        one = b.ndim == 1
        y = np.array(b[self.order].reshape(b.shape[0], -1), dtype=np.result_type(b, self.d))
        x = self.solve_ordered(y)
        out = np.empty_like(x)
        out[self.order] = x
        return out[:, 0] if one else out

    def solve_ordered(self, y: np.ndarray) -> np.ndarray:
        """Solve in place for ``Y`` of shape ``(m, K)`` whose rows are in :attr:`order`."""
        for lo, hi, _, _, starts, parents in self.levels:  # leaves to roots
            y[parents] -= np.add.reduceat(self.l_coef[lo:hi] * y[lo:hi], starts, axis=0)
        y[: self.bounds[1]] *= self.inv_d[: self.bounds[1]]
        for lo, hi, plo, local_parent, _, _ in reversed(self.levels):  # roots to leaves
            y[lo:hi] -= self.a_kp[lo:hi] * y[plo:lo][local_parent]
            y[lo:hi] *= self.inv_d[lo:hi]
        return y


def _forest_order(pattern: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first order of every tree (roots first, level by level) and parents.

    Returns:
        ``order`` (nodes sorted by depth, then tree) and ``parent`` (``-1`` at roots), in the
        original numbering.
    """
    m = pattern.shape[0]
    n_comp, label = connected_components(pattern)
    roots = np.array([np.flatnonzero(label == c)[0] for c in range(n_comp)])
    # a virtual super-root joins the trees so one breadth-first search numbers every level
    rows = np.concatenate([pattern.tocoo().row, np.full(n_comp, m), roots])
    cols = np.concatenate([pattern.tocoo().col, roots, np.full(n_comp, m)])
    joined = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(m + 1, m + 1))
    order, pred = breadth_first_order(joined, m, directed=False, return_predecessors=True)
    order = order[1:]
    parent = pred[:m].astype(np.int64)
    parent[parent == m] = -1
    return order, parent
