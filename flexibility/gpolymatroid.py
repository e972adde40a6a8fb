"""Exact aggregation of lossless battery sets as generalized polymatroids (g-polymatroids).

**Set.** Device ``n`` on intervals ``t = 0 .. T-1`` of length ``dt`` (hours) has net grid power
``x_t`` (kW, charging positive) with

    u_min[n,t] <= x_t <= u_max[n,t],                                   (power, kW)
    y_min[n,t] <= y_t = dt * sum_{s<=t} x_s <= y_max[n,t],              (cumulative energy, kWh)

the "general DER" of Mukhi, Loho & Abate (flexitroid). Inside this module we work in energy
``e_t = x_t dt`` (kWh) with ``l_t = u_min dt`` and ``u_t = u_max dt``; the set is the
g-polymatroid ``Q(p, b) = {e : p(A) <= e(A) <= b(A) for all A}`` on the ground set
``{0 .. T-1}`` with ``b(A) = max e(A)`` and ``p(A) = min e(A)`` over the set. The Minkowski sum
of devices is ``Q(sum_n p_n, sum_n b_n)``, so aggregation is exact in this representation.

**Recursion for b(A) and p(A).** Split every prefix ``{0..t}`` into its part in ``A`` and its
complement and write ``a_t = e(A ∩ {0..t})``, ``c_t = e(A^c ∩ {0..t})`` (so ``y_t = a_t + c_t``).
The image of the prefix set in the plane ``(a_t, c_t)`` is a g-polymatroid on two elements,
described exactly by the six tight numbers ``max/min a_t``, ``max/min c_t`` and
``max/min y_t``. Appending interval ``t`` adds ``e_t in [l_t, u_t]`` to ``a`` (``t in A``) or to
``c`` (``t not in A``) and then cuts with ``y_min_t <= a + c <= y_max_t``. For the pair
``(ba_t, pc_t) = (max a_t, min c_t)`` with ``ua_t = u_t [t in A]`` and ``lc_t = l_t [t not in A]``
this gives the closed two-term update (``ba_{-1} = pc_{-1} = 0``)

    ba_t = min(ba_{t-1} + ua_t,  y_max_t - (pc_{t-1} + lc_t)),
    pc_t = max(pc_{t-1} + lc_t,  y_min_t - (ba_{t-1} + ua_t)),

and ``b(A) = ba_{T-1}``. Symmetrically ``(pa_t, bc_t) = (min a_t, max c_t)`` with
``la_t = l_t [t in A]``, ``uc_t = u_t [t not in A]``:

    pa_t = max(pa_{t-1} + la_t,  y_min_t - (bc_{t-1} + uc_t)),
    bc_t = min(bc_{t-1} + uc_t,  y_max_t - (pa_{t-1} + la_t)),

and ``p(A) = pa_{T-1}`` (implemented as ``p(A) = -b(A)`` of the mirrored set ``{-x}``, which
maps this update onto the first). The recursion runs over the whole horizon, including the
interval ``max(A)`` and every later one, so it needs no pre-tightened ("consistent") bounds.

flexitroid's ``GeneralDER.b`` is the same update written with totals instead of prefix values,
but its loop ``range(t_max)`` skips the energy bound at ``t_max = max(A)`` itself and every later
interval. The latter is harmless only after a backward tightening of ``y``; the former is an
off-by-one that is wrong even for fully tightened bounds: with ``0 <= x_t <= 1``, ``dt = 1`` and
``y_max = [1, 1]`` it gives ``b({0, 1}) = 2`` instead of ``1``.

The set is empty exactly when the forward pass ``y_lo_t = max(y_min_t, y_lo_{t-1} + l_t)``,
``y_hi_t = min(y_max_t, y_hi_{t-1} + u_t)`` crosses (or ``l_t > u_t``); ``b`` and ``p`` of an
empty device are NaN.

**Greedy optimisation.** For ``min sum_t c_t e_t`` over ``Q(p, b)`` order ``t`` by cost. With the
negative costs in increasing order ``t_1, t_2, ..`` and the non-negative costs in decreasing
order ``s_1, s_2, ..`` (Frank's greedy via the base polyhedron with one extra element ``t*`` of
cost 0),

    e_{t_k} = b({t_1..t_k}) - b({t_1..t_{k-1}}),    e_{s_k} = p({s_1..s_k}) - p({s_1..s_{k-1}}).

The same order applied to every device gives each device's optimum, and their sum is the greedy
vertex (the optimum) of the Minkowski sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.common import BoolArray, FloatArray, IntArray

EMPTY_TOL_KWH = 1e-7


@dataclass(frozen=True)
class BatterySet:
    """Lossless battery sets of ``N`` devices on ``T`` intervals (module docstring).

    Attributes:
        u_min_kw: Lower net-power bound, shape ``(N, T)`` (0 outside the connection window).
        u_max_kw: Upper net-power bound, shape ``(N, T)``.
        y_min_kwh: Lower bound of the cumulative net energy after interval ``t``, ``(N, T)``.
        y_max_kwh: Upper bound of the cumulative net energy after interval ``t``, ``(N, T)``.
        dt_h: Interval length in hours.
    """

    u_min_kw: FloatArray
    u_max_kw: FloatArray
    y_min_kwh: FloatArray
    y_max_kwh: FloatArray
    dt_h: float

    def __post_init__(self) -> None:
        arrays = [np.atleast_2d(np.asarray(getattr(self, k), dtype=np.float64))
                  for k in ("u_min_kw", "u_max_kw", "y_min_kwh", "y_max_kwh")]
        if any(a.ndim != 2 or a.shape != arrays[0].shape for a in arrays):
            raise ValueError("BatterySet arrays must all have the same shape (N, T)")
        if not self.dt_h > 0:
            raise ValueError(f"dt_h must be positive, got {self.dt_h}")
        for k, a in zip(("u_min_kw", "u_max_kw", "y_min_kwh", "y_max_kwh"), arrays, strict=True):
            object.__setattr__(self, k, a)

    def subset(self, devices: BoolArray | IntArray) -> BatterySet:
        """The sets of the selected devices (a mask ``(N,)`` or indices), same intervals."""
        return BatterySet(self.u_min_kw[devices], self.u_max_kw[devices],
                          self.y_min_kwh[devices], self.y_max_kwh[devices], self.dt_h)

    @property
    def n_devices(self) -> int:
        """Number of devices ``N``."""
        return int(self.u_min_kw.shape[0])

    @property
    def n_intervals(self) -> int:
        """Number of intervals ``T``."""
        return int(self.u_min_kw.shape[1])

    @property
    def l_kwh(self) -> FloatArray:
        """Per-interval energy lower bound ``l = u_min dt``, shape ``(N, T)``."""
        return self.u_min_kw * self.dt_h

    @property
    def u_kwh(self) -> FloatArray:
        """Per-interval energy upper bound ``u = u_max dt``, shape ``(N, T)``."""
        return self.u_max_kw * self.dt_h


def nonempty(batt: BatterySet, tol_kwh: float = EMPTY_TOL_KWH) -> BoolArray:
    """Per device: whether its set is nonempty (forward pass of the module docstring).

    Args:
        batt: The devices.
        tol_kwh: Slack allowed before a crossing counts as empty.

    Returns:
        Boolean array of shape ``(N,)``.
    """
    e_lo, e_hi = batt.l_kwh, batt.u_kwh
    ok = np.all(e_lo <= e_hi + tol_kwh, axis=1)
    lo = np.zeros(batt.n_devices)
    hi = np.zeros(batt.n_devices)
    for t in range(batt.n_intervals):
        lo = np.maximum(batt.y_min_kwh[:, t], lo + e_lo[:, t])
        hi = np.minimum(batt.y_max_kwh[:, t], hi + e_hi[:, t])
        ok &= lo <= hi + tol_kwh
    return ok


def _as_masks(batt: BatterySet, mask: BoolArray) -> tuple[BoolArray, bool]:
    """Masks as a ``(K, T)`` boolean array and whether a single ``(T,)`` mask was given."""
    m = np.asarray(mask, dtype=bool)
    single = m.ndim == 1
    m = np.atleast_2d(m)
    if m.ndim != 2 or m.shape[1] != batt.n_intervals:
        raise ValueError(f"mask must have shape (T,) or (K, T) with T={batt.n_intervals}")
    return m, single


def _negated(batt: BatterySet) -> BatterySet:
    """The mirrored set ``{-x}``: ``p(A)`` of ``batt`` is ``-b(A)`` of this one."""
    return BatterySet(-batt.u_max_kw, -batt.u_min_kw, -batt.y_max_kwh, -batt.y_min_kwh,
                      batt.dt_h)


def _columns(batt: BatterySet) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``l, u, y_min, y_max`` in kWh as contiguous ``(T, N)`` arrays (one row per step)."""
    return (np.ascontiguousarray(batt.l_kwh.T), np.ascontiguousarray(batt.u_kwh.T),
            np.ascontiguousarray(batt.y_min_kwh.T), np.ascontiguousarray(batt.y_max_kwh.T))


def _upper(batt: BatterySet, masks: BoolArray) -> FloatArray:
    """``b(A)`` in kWh for masks ``(K, T)``, shape ``(K, N)`` (no emptiness check)."""
    e_lo, e_hi, y_lo, y_hi = _columns(batt)
    shape = (masks.shape[0], batt.n_devices)
    ba = np.zeros(shape)  # max e(A ∩ {0..t})
    pc = np.zeros(shape)  # min e(A^c ∩ {0..t})
    cand_b, cand_p = np.empty(shape), np.empty(shape)
    inside = np.ascontiguousarray(masks.T[:, :, None])  # (T, K, 1)
    outside = ~inside
    for t in range(batt.n_intervals):
        np.add(ba, e_hi[t], out=ba, where=inside[t])
        np.add(pc, e_lo[t], out=pc, where=outside[t])
        np.subtract(y_hi[t], pc, out=cand_b)
        np.subtract(y_lo[t], ba, out=cand_p)
        np.minimum(ba, cand_b, out=ba)
        np.maximum(pc, cand_p, out=pc)
    return ba


def _upper_chain(batt: BatterySet, chain: IntArray) -> FloatArray:
    """``b`` of the nested sets ``{chain[0] .. chain[k]}``, shape ``(K, N)``; same recursion.

    Row ``k`` contains interval ``t`` iff ``rank(t) <= k``, so the additions are slices.
    """
    e_lo, e_hi, y_lo, y_hi = _columns(batt)
    K = chain.size
    rank = np.full(batt.n_intervals, K)
    rank[chain] = np.arange(K)
    shape = (K, batt.n_devices)
    ba, pc = np.zeros(shape), np.zeros(shape)
    cand_b, cand_p = np.empty(shape), np.empty(shape)
    for t in range(batt.n_intervals):
        r = rank[t]
        ba[r:] += e_hi[t]
        pc[:r] += e_lo[t]
        np.subtract(y_hi[t], pc, out=cand_b)
        np.subtract(y_lo[t], ba, out=cand_p)
        np.minimum(ba, cand_b, out=ba)
        np.maximum(pc, cand_p, out=pc)
    return ba


def _lower(batt: BatterySet, masks: BoolArray) -> FloatArray:
    """``p(A)`` in kWh for masks ``(K, T)``, shape ``(K, N)``: ``p(A) = -b_{-set}(A)``."""
    return -_upper(_negated(batt), masks)


def b_kwh(batt: BatterySet, mask: BoolArray) -> FloatArray:
    """Submodular upper function ``b(A) = max_{x in set} dt * sum_{t in A} x_t`` per device.

    Computed by the ``(ba, pc)`` recursion of the module docstring in ``O(K N T)``.

    Args:
        batt: The devices.
        mask: Subset ``A`` as a boolean mask ``(T,)``, or a batch of subsets ``(K, T)``.

    Returns:
        ``b_n(A)`` in kWh, shape ``(N,)`` (or ``(K, N)``); NaN for empty devices. The
        aggregate's ``b(A)`` is ``.sum(-1)``.
    """
    m, single = _as_masks(batt, mask)
    out = np.where(nonempty(batt), _upper(batt, m), np.nan)
    return out[0] if single else out


def p_kwh(batt: BatterySet, mask: BoolArray) -> FloatArray:
    """Supermodular lower function ``p(A) = min_{x in set} dt * sum_{t in A} x_t`` per device.

    Computed by the ``(pa, bc)`` recursion of the module docstring in ``O(K N T)``.

    Args:
        batt: The devices.
        mask: Subset ``A`` as a boolean mask ``(T,)``, or a batch of subsets ``(K, T)``.

    Returns:
        ``p_n(A)`` in kWh, shape ``(N,)`` (or ``(K, N)``); NaN for empty devices.
    """
    m, single = _as_masks(batt, mask)
    out = np.where(nonempty(batt), _lower(batt, m), np.nan)
    return out[0] if single else out


def optimise(batt: BatterySet, cost: FloatArray) -> FloatArray:
    """Per-device minimiser of ``sum_t cost_t x_t`` by the g-polymatroid greedy.

    With ``t_1, t_2, ..`` the negative-cost intervals by increasing cost and ``s_1, s_2, ..`` the
    others by decreasing cost (ties in index order),

        x_{t_k} = (b({t_1..t_k}) - b({t_1..t_{k-1}})) / dt,
        x_{s_k} = (p({s_1..s_k}) - p({s_1..s_{k-1}})) / dt,

    (zero-cost intervals take the ``p`` side: any split is optimal). Costs ``O(N T^2)``: one
    batch of at most ``T`` nested masks. The aggregate optimum is ``x.sum(0)``.

    Args:
        batt: The devices.
        cost: Cost per kW of every interval, shape ``(T,)`` (the same for all devices).

    Returns:
        ``x`` in kW, shape ``(N, T)``; rows of empty devices are NaN.
    """
    c = np.asarray(cost, dtype=np.float64)
    T = batt.n_intervals
    if c.shape != (T,):
        raise ValueError(f"cost must have shape ({T},), got {c.shape}")
    order = np.argsort(c, kind="stable")
    neg = order[c[order] < 0]
    rest = order[c[order] >= 0]
    # non-negative side by decreasing cost, ties in index order
    pos = rest[np.lexsort((rest, -c[rest]))]
    e = np.zeros((batt.n_devices, T))
    if neg.size:
        e[:, neg] = np.diff(_upper_chain(batt, neg), axis=0, prepend=0.0).T
    if pos.size:
        e[:, pos] = -np.diff(_upper_chain(_negated(batt), pos), axis=0, prepend=0.0).T
    e[~nonempty(batt)] = np.nan
    return e / batt.dt_h


def projection_kw(batt: BatterySet) -> tuple[FloatArray, FloatArray]:
    """Exact per-interval projection of the aggregate set on ``x_t``.

        lo_t = sum_n p_n({t}) / dt,    hi_t = sum_n b_n({t}) / dt.

    Args:
        batt: The devices.

    Returns:
        ``(lo, hi)`` in kW, each of shape ``(T,)`` (NaN if some device is empty).
    """
    eye = np.eye(batt.n_intervals, dtype=bool)
    ok = nonempty(batt)
    hi = np.where(ok, _upper(batt, eye), np.nan).sum(axis=1) / batt.dt_h
    lo = np.where(ok, _lower(batt, eye), np.nan).sum(axis=1) / batt.dt_h
    return lo, hi


