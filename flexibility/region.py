"""Flexible-operation regions (FOR) of station net loads: convex hulls in H- and V-form.

A region is the convex hull of operating points ``p in R^d`` (one coordinate per station, MW).
It is written both ways,

    V-form:  conv{v_1, ..., v_V},            H-form:  {p : A p <= b},  ||A_i|| = 1,

and measured in its own dimension. The rotating-hyperplane method probes a region with unit
normals ``a(theta)``: the support value ``h(a) = max_{p in region} a . p`` for every ``a`` of
:func:`directions` outlines the region from outside.

Degenerate point sets are not errors. With ``c`` the centroid and ``Y = P - c`` the centred
points, the affine dimension ``k`` is the number of singular values of ``Y`` above ``tol`` times
the scale. The hull is taken in the coordinates ``z = V (p - c)`` of the affine hull (``V`` the
``k x d`` orthonormal basis) and lifted back: an in-plane facet ``e . z <= f`` becomes
``(e V) . p <= f + (e V) . c``, and every normal ``n`` of the affine hull adds the pair
``+-n . p <= +-n . c + tol``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, KDTree, QhullError

from flexibility.common import BoolArray, FloatArray, IntArray, ModelInputError

MAX_SIGN_DIM = 20  # 2^n sign combinations beyond this would not fit in memory
_MERGE_TOL = 1e-10  # floor of the facet-merging tolerance (triangulated facets of one plane)


class RegionInputError(ModelInputError):
    """Bad input to :func:`convex_region` or :func:`directions`."""


def _first_unique(x: FloatArray, radius: float) -> IntArray:
    """Indices of the rows of ``x`` kept when every row within ``radius`` of an earlier one is
    dropped (Euclidean distance), in their original order.
    """
    n = x.shape[0]
    if n <= 1:
        return np.arange(n, dtype=np.int64)
    pairs = KDTree(x).query_pairs(max(radius, 0.0), output_type="ndarray")
    drop = np.zeros(n, dtype=bool)
    if pairs.size:
        drop[pairs.max(axis=1)] = True
    return np.flatnonzero(~drop).astype(np.int64)


def directions(n_dim: int, step_deg: float) -> FloatArray:
    """Unit normals ``a(theta)`` of the rotating-hyperplane method, shape ``(K, n_dim)``.

    * ``n_dim = 1``: ``[+1], [-1]``.
    * ``n_dim = 2``: ``a = (cos theta, sin theta)``, ``theta = 0, step, ...`` below 360 degrees.
    * ``n_dim = 3``: ``a = (sin alpha sin beta, sin alpha cos beta, cos alpha)``, ``alpha`` in
      ``[0, 180]`` and ``beta`` in ``[0, 360)`` in steps of ``step_deg``; duplicates (the poles
      ``alpha = 0, 180`` give one direction each) are dropped, the first occurrence kept.
    * ``n_dim > 3``: only ``step_deg = 90``: the ``2 n`` signed unit vectors, then the ``2^n``
      sign vectors ``(+-1, ..., +-1) / sqrt(n)``.

    Args:
        n_dim: Dimension of the space (number of stations).
        step_deg: Angular step, degrees, ``0 < step_deg <= 180``.

    Returns:
        Unit rows in a deterministic order (alpha outer, beta inner for ``n_dim = 3``).

    Raises:
        RegionInputError: (a ``ValueError``) for ``n_dim < 1``, a step outside ``(0, 180]``, or
            ``n_dim > 3`` with a step other than 90 degrees.
    """
    if int(n_dim) != n_dim or n_dim < 1:
        raise RegionInputError(f"directions: n_dim must be a positive integer, got {n_dim!r}")
    if not np.isfinite(step_deg) or not 0.0 < step_deg <= 180.0:
        raise RegionInputError(f"directions: step_deg must be in (0, 180], got {step_deg!r}")
    if n_dim == 1:
        return np.array([[1.0], [-1.0]])
    n_beta = int(np.floor(360.0 / step_deg - 1e-9)) + 1  # beta * step < 360
    beta = np.deg2rad(step_deg * np.arange(n_beta))
    if n_dim == 2:
        out = np.column_stack([np.cos(beta), np.sin(beta)])
    elif n_dim == 3:
        n_alpha = int(np.floor(180.0 / step_deg + 1e-9)) + 1  # alpha * step <= 180
        alpha = np.deg2rad(step_deg * np.arange(n_alpha))
        al, be = (g.ravel() for g in np.meshgrid(alpha, beta, indexing="ij"))
        out = np.column_stack([np.sin(al) * np.sin(be), np.sin(al) * np.cos(be), np.cos(al)])
    elif step_deg != 90.0:
        raise RegionInputError(f"directions: the angular grid is defined for n_dim <= 3; for "
                               f"n_dim = {n_dim} pass step_deg = 90 (unit and sign vectors)")
    elif n_dim > MAX_SIGN_DIM:
        raise RegionInputError(f"directions: n_dim = {n_dim} gives 2^{n_dim} sign vectors; "
                               f"at most {MAX_SIGN_DIM} dimensions are supported")
    else:
        units = np.repeat(np.eye(n_dim), 2, axis=0) * np.tile([1.0, -1.0], n_dim)[:, None]
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n_dim))) / np.sqrt(n_dim)
        out = np.vstack([units, signs])
    out = np.where(np.abs(out) < 1e-15, 0.0, out)
    out = out / np.linalg.norm(out, axis=1, keepdims=True)
    return out[_first_unique(out, 1e-9)]


@dataclass(frozen=True)
class Region:
    """A convex region of station net loads, ``conv(points)``, in V- and H-form.

    Attributes:
        points_mw: The input points, MW ``(N, d)``.
        vertices_mw: Hull vertices, MW ``(V, d)`` (counter-clockwise in a 2-D hull).
        a: Facet normals ``(F, d)``, unit rows; each facet once.
        b: Facet offsets, MW ``(F,)``: the region is ``{p : a p <= b}``. For a lower-dimensional
            region the rows include ``+-n . p <= +-n . c + tol`` for every normal ``n`` of the
            affine hull.
        dimension: Affine dimension ``k`` of the point set, ``0..d``.
        volume_mw3: ``d``-dimensional volume, ``MW^d`` (0 unless ``k = d``).
        measure: Volume in the affine hull's own dimension (``k``-volume; 0 for a point).
        measure_unit: ``"MW^k"`` for ``k >= 2``, ``"MW"`` for ``k = 1``, ``""`` for ``k = 0``.
        ranges_mw: Per-axis ``[min, max]``, MW ``(d, 2)``.
        origin_mw: Point ``c`` of the affine hull (the centroid of the distinct points) ``(d,)``.
        basis: Orthonormal basis ``V`` of the affine hull's directions ``(k, d)``.
    """

    points_mw: FloatArray
    vertices_mw: FloatArray
    a: FloatArray
    b: FloatArray
    dimension: int
    volume_mw3: float
    measure: float
    measure_unit: str
    ranges_mw: FloatArray
    origin_mw: FloatArray
    basis: FloatArray

    @property
    def n_dim(self) -> int:
        """Dimension ``d`` of the space."""
        return int(self.points_mw.shape[1])

    def contains(self, p: FloatArray, tol: float = 1e-9) -> BoolArray:
        """Whether points lie in the region: ``a p <= b + tol`` on every row and, when
        ``k < d``, ``||(I - V^T V)(p - c)|| <= tol`` (in the affine hull).

        Args:
            p: Points ``(..., d)``, MW.
            tol: Absolute tolerance, MW.

        Returns:
            Booleans of shape ``p.shape[:-1]``.
        """
        q = np.asarray(p, dtype=np.float64)
        if q.shape[-1:] != (self.n_dim,):
            raise RegionInputError(f"contains: points must have last axis {self.n_dim}, "
                                   f"got shape {q.shape}")
        inside = np.all(q @ self.a.T <= self.b + tol, axis=-1)
        if self.dimension < self.n_dim:
            y = q - self.origin_mw
            off_plane = y - (y @ self.basis.T) @ self.basis
            inside &= np.linalg.norm(off_plane, axis=-1) <= tol
        return np.asarray(inside, dtype=bool)

    def support(self, direction: FloatArray) -> float:
        """Support value ``h(a) = max_v a . v`` over the vertices (MW for a unit ``a``)."""
        a = np.asarray(direction, dtype=np.float64)
        if a.shape != (self.n_dim,):
            raise RegionInputError(f"support: direction must have shape ({self.n_dim},), "
                                   f"got {a.shape}")
        return float(np.max(self.vertices_mw @ a))


def _affine_frame(y: FloatArray, tol: float, scale: float) -> tuple[int, FloatArray]:
    """Affine dimension and the right singular vectors ``(d, d)`` of the centred points."""
    n, d = y.shape
    if n < d:
        y = np.vstack([y, np.zeros((d - n, d))])
    elif n > d:
        y = np.asarray(np.linalg.qr(y, mode="r"))  # same singular values, right vectors
    _, s, vt = np.linalg.svd(y)
    k = int(np.sum(s > tol * max(float(s[0]), scale)))
    return k, vt


def _in_plane_hull(z: FloatArray, tol: float, scale: float
                   ) -> tuple[IntArray, FloatArray, FloatArray, float]:
    """Hull of ``z`` (``(n, k)``, full-dimensional): vertex indices, facets ``e z <= f`` with
    unit rows, merged, and the ``k``-volume. Raises ``QhullError`` for a too thin set.
    """
    if z.shape[1] == 1:
        lo, hi = int(np.argmin(z[:, 0])), int(np.argmax(z[:, 0]))
        e, f = np.array([[1.0], [-1.0]]), np.array([z[hi, 0], -z[lo, 0]])
        return np.array([lo, hi], dtype=np.int64), e, f, float(z[hi, 0] - z[lo, 0])
    hull = ConvexHull(z)
    eq = hull.equations  # e . z + g <= 0
    norm = np.linalg.norm(eq[:, :-1], axis=1, keepdims=True)
    e, f = eq[:, :-1] / norm, -eq[:, -1] / norm[:, 0]
    keep = _first_unique(np.column_stack([e, f / scale]), max(tol, _MERGE_TOL))
    return hull.vertices.astype(np.int64), e[keep], f[keep], float(hull.volume)


def convex_region(points_mw: FloatArray, tol: float = 1e-9) -> Region:
    """The region ``conv(points_mw)``, of any affine dimension.

    Distinct points (closer than ``tol * scale`` merged, ``scale = max(1, max |p|)``) are centred
    at their centroid ``c``; the affine dimension ``k`` counts the singular values above
    ``tol * max(s_1, scale)``. ``k = d`` uses ``scipy.spatial.ConvexHull`` directly; ``k < d``
    hulls the projection ``z = V (p - c)`` (min/max for ``k = 1``) and lifts the facets back with
    the two-sided equality rows of the affine hull (see the module docstring). A set too thin for
    Qhull in ``k`` dimensions is treated as ``(k-1)``-dimensional.

    Args:
        points_mw: Operating points, MW ``(N, d)``.
        tol: Relative tolerance of deduplication, rank and facet merging.

    Returns:
        The :class:`Region`.

    Raises:
        RegionInputError: (a ``ValueError``) for no points, a wrong shape, NaN or infinity.
    """
    pts = np.asarray(points_mw, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 1:
        raise RegionInputError(f"convex_region: points_mw must have shape (N, d) with d >= 1, "
                               f"got {pts.shape}")
    if pts.shape[0] == 0:
        raise RegionInputError("convex_region: points_mw is empty; give at least one point")
    if not np.all(np.isfinite(pts)):
        raise RegionInputError("convex_region: points_mw contains NaN or infinite values")
    d = pts.shape[1]
    scale = max(1.0, float(np.max(np.abs(pts))))
    tol_abs = tol * scale
    uniq = pts[_first_unique(pts, tol_abs)]
    centre = uniq.mean(axis=0)
    y = uniq - centre
    k, vt = _affine_frame(y, tol, scale)
    while True:
        basis = np.eye(d) if k == d else vt[:k]
        if k == 0:
            idx, e, f, measure = np.array([0], dtype=np.int64), np.zeros((0, 0)), np.zeros(0), 0.0
            break
        try:
            idx, e, f, measure = _in_plane_hull(y @ basis.T, tol, scale)
            break
        except QhullError:  # too thin in k dimensions: one dimension fewer
            k -= 1
    normals = vt[k:] if k < d else np.zeros((0, d))
    lifted = e @ basis if k > 0 else np.zeros((0, d))
    a = np.vstack([lifted, normals, -normals])
    b = np.concatenate([f + lifted @ centre, normals @ centre + tol_abs,
                        -(normals @ centre) + tol_abs])
    unit = "" if k == 0 else ("MW" if k == 1 else f"MW^{k}")
    return Region(points_mw=pts, vertices_mw=uniq[idx], a=a, b=b, dimension=k,
                  volume_mw3=measure if k == d else 0.0, measure=measure, measure_unit=unit,
                  ranges_mw=np.column_stack([pts.min(axis=0), pts.max(axis=0)]),
                  origin_mw=centre, basis=basis)


MAX_BUDGET_COORDS = 16  # up to 2^16 subsets of coupon coordinates are enumerated
SUPPORT_STEP_DEG = 3.0  # angular step of the support directions beyond that (up to 3-D)


def _budget_data(where: str, name: str, mat: FloatArray, cost: FloatArray,
                 upper: FloatArray, budget: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The matrix (one column per coordinate), cost and upper bound as float arrays, after
    checking their shapes and that everything is finite and cost, upper and budget are
    non-negative (``RegionInputError`` naming ``where`` otherwise)."""
    m = np.asarray(mat, dtype=np.float64)
    c, u = np.asarray(cost, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    if m.ndim != 2 or c.shape != (m.shape[1],) or u.shape != c.shape:
        raise RegionInputError(f"{where}: {name} {m.shape}, cost {c.shape} and upper {u.shape} "
                               "do not match (want (k, n), (n,), (n,))")
    if not (np.isfinite(m).all() and np.isfinite(c).all() and np.isfinite(u).all()
            and np.isfinite(budget)) or (c < 0).any() or (u < 0).any() or budget < 0:
        raise RegionInputError(f"{where}: {name}, cost, upper and budget must be finite, "
                               "cost, upper and budget non-negative")
    return m, c, u


def knapsack_support(g: FloatArray, cost: FloatArray, upper: FloatArray,
                     budget: float) -> FloatArray:
    """Maximisers of ``g_k . psi`` s.t. ``c . psi <= B``, ``0 <= psi <= u``, one per row of ``g``.

    The fractional knapsack's greedy solution (Dantzig 1957): coordinates with ``g_i > 0`` and
    ``c_i = 0`` at ``u_i``; those with ``g_i > 0`` and ``c_i > 0`` filled in descending order
    of ``g_i / c_i`` until the budget binds, ``psi_i = clip((B - sum_{j before i} c_j u_j) /
    c_i, 0, u_i)``; the rest at 0. Vectorised over the rows.

    Args:
        g: Objective per row, ``(K, n)``.
        cost: ``c >= 0``, ``(n,)``.
        upper: ``u >= 0``, ``(n,)``.
        budget: ``B >= 0``.

    Returns:
        ``psi`` per row, ``(K, n)``.

    Raises:
        RegionInputError: Shapes that do not match, or negative or non-finite data.
    """
    g, cost, upper = _budget_data("knapsack_support", "g", g, cost, upper, budget)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(g > 0, np.where(cost > 0, g / cost, np.inf), -np.inf)
    order = np.argsort(-ratio, axis=1, kind="stable")
    take = np.take_along_axis(ratio, order, axis=1) > -np.inf
    c_s, u_s = cost[order], upper[order]
    spent = c_s * u_s
    before = np.concatenate([np.zeros((spent.shape[0], 1)), np.cumsum(spent, axis=1)[:, :-1]],
                            axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = np.where(c_s > 0, np.clip((budget - before) / c_s, 0.0, u_s), u_s)
    psi = np.zeros_like(g, dtype=np.float64)
    np.put_along_axis(psi, order, np.where(take, fill, 0.0), axis=1)
    return psi


def budget_image_points(jac: FloatArray, cost: FloatArray, upper: FloatArray,
                        budget: float) -> FloatArray:
    """Points whose hull is the image of a budgeted box under a linear map.

    The set ``{J psi : c . psi <= B, 0 <= psi <= u}`` (``J`` of shape ``(d, n)``, ``c >= 0``)
    is the image of a polytope whose vertices have every coordinate at ``0`` or ``u_i`` except
    at most one, set so the budget binds: for every subset ``S`` with ``sum_{i in S} c_i u_i
    <= B`` the point ``psi = u 1_S``, and for every ``j`` outside ``S`` with ``0 < (B - sum_S
    c_i u_i) / c_j < u_j`` the point ``u 1_S + e_j (B - sum_S c_i u_i) / c_j``. The hull of
    their images contains ``J psi`` for every feasible ``psi`` (a linear image of a polytope is
    the hull of its vertices' images). Up to ``MAX_BUDGET_COORDS`` coordinates every such
    vertex is enumerated (exact). Beyond, the points are the image's exact support points
    (:func:`knapsack_support` on ``g = J^T w``) in the rotating-hyperplane directions ``w`` of
    :func:`directions` at ``SUPPORT_STEP_DEG`` (90 degrees above three dimensions): their hull
    is an inner approximation that touches the image in every one of those directions.

    Args:
        jac: The linear map ``J``, ``(d, n)``.
        cost: Cost per unit of each coordinate ``c``, ``(n,)``, non-negative.
        upper: Upper bound of each coordinate ``u``, ``(n,)``, non-negative.
        budget: ``B >= 0``.

    Returns:
        The images ``J psi`` of the candidate vertices, ``(N, d)`` (the origin among them).

    Raises:
        RegionInputError: Shapes that do not match, or negative or non-finite data.
    """
    j, c, u = _budget_data("budget_image_points", "jac", jac, cost, upper, budget)
    n = c.size
    if n > MAX_BUDGET_COORDS:
        w = directions(j.shape[0], SUPPORT_STEP_DEG if j.shape[0] <= 3 else 90.0)
        psi = np.vstack([np.zeros(n), knapsack_support(w @ j, c, u, budget)])
        return psi @ j.T
    mask = ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    full = mask * u[None, :]
    room = budget - full @ c
    ok = room >= -1e-12 * max(1.0, budget)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = room[:, None] / c[None, :]
    frac = ok[:, None] & ~mask & (c[None, :] > 0) & (t > 0) & (t < u[None, :])
    rows, cols = np.nonzero(frac)
    psi = np.concatenate([full[ok], full[rows] + np.eye(n)[cols] * t[rows, cols][:, None]])
    return psi @ j.T

