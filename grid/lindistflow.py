"""LinDistFlow (Baran & Wu 1989, linearised) and the distribution security set (paper §3.3.1).

Powers are **consumption-positive** (the project's convention: charging positive; PV enters as
negative consumption). With branch flows ``F = D s`` (``D`` the downstream incidence of
:class:`~grid.feeder.Feeder`), losses neglected, the squared voltage magnitudes are

    W_k = W_0 - 2 sum_b D[b, k] (r_b F^P_b + x_b F^Q_b) / S_base,        W = |V|^2 in p.u.

so that ``W = W_0 - 2 (R P + X Q)`` with the path-resistance matrix ``R = D^T diag(r) D``.
For station consumptions ``u`` (kW) and ``v`` (kvar) at buses ``s_j`` the security set of one
interval is the polyhedron ``{(u, v) | A^P u + A^Q v <= b_t}`` made of three constraint
families, one function each:

* voltage: ``v_min^2 <= W_k <= v_max^2`` for every bus;
* thermal: a current limit ``I_b <= I_max,b``; with voltages held above ``v_min`` by the
  voltage rows, ``|S_b| <= v_min S_b,rated`` implies it, and the circle is replaced by the
  inscribed regular polygon ``cos(th_m) F^P_b + sin(th_m) F^Q_b <= v_min S_b cos(pi / M)``,
  ``th_m = (2m + 1) pi / M``
  (conservative on both counts);
* substation headroom: ``|sum_k P_k + L_t| <= P_sub`` (active power through the supply
  transformer), where ``L_t`` are the feeder losses of the background operating point (from an
  AC solution, passed in by the caller; LinDistFlow itself has no losses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grid.feeder import Feeder, FeederError, FloatArray, IntArray

SUBSTATION, VOLTAGE, THERMAL = 0, 1, 2
KIND_NAMES = ("substation", "voltage", "thermal")


@dataclass(frozen=True)
class NetworkLimits:
    """Security limits of the distribution layer.

    Attributes:
        v_min_pu: Lower voltage magnitude limit.
        v_max_pu: Upper voltage magnitude limit.
        substation_kw: Active-power headroom of the supply transformer (both directions).
        polygon_sides: Sides ``M`` of the polygon that replaces each thermal circle.
    """

    v_min_pu: float = 0.95
    v_max_pu: float = 1.05
    substation_kw: float = np.inf
    polygon_sides: int = 12

    def __post_init__(self) -> None:
        if not 0 < self.v_min_pu < self.v_max_pu:
            raise FeederError(f"voltage limits inverted or empty: v_min_pu = {self.v_min_pu}, "
                              f"v_max_pu = {self.v_max_pu}; use e.g. 0.95 and 1.05")
        if self.substation_kw <= 0:
            raise FeederError(f"substation headroom must be positive, got {self.substation_kw}")
        if self.polygon_sides < 4:
            raise FeederError("thermal polygon needs at least 4 sides")


@dataclass(frozen=True)
class SecuritySet:
    """``A^P u + A^Q v <= b_t`` for station consumptions, one row per constraint.

    Attributes:
        a_p: Coefficients on station active consumption (kW), shape ``(R, J)``.
        a_q: Coefficients on station reactive consumption (kvar), shape ``(R, J)``.
        b: Right-hand sides per interval, shape ``(T, R)`` (background included).
        kind: Constraint family per row (``SUBSTATION``, ``VOLTAGE``, ``THERMAL``).
        element: Bus position (voltage) or branch (thermal) of each row; ``-1`` substation.
    """

    a_p: FloatArray
    a_q: FloatArray
    b: FloatArray
    kind: IntArray
    element: IntArray


class LinDistFlow:
    """LinDistFlow matrices of one feeder, built once (sparse incidence, dense station columns).

    Args:
        feeder: The radial feeder.
    """

    def __init__(self, feeder: Feeder) -> None:
        self.feeder = feeder
        self.d = feeder.downstream()  # (n-1, n) sparse
        self.dt = self.d.T.tocsr()

    def branch_flows(self, s_kw: FloatArray) -> FloatArray:
        """``F = D s``: flow into every branch, ``(..., n_bus)`` -> ``(..., n_bus - 1)``."""
        s = np.asarray(s_kw, dtype=float)
        return (self.d @ s.reshape(-1, s.shape[-1]).T).T.reshape(*s.shape[:-1], -1)

    def voltage_sq(self, p_kw: FloatArray, q_kvar: FloatArray) -> FloatArray:
        """Squared voltage magnitudes ``W = W_0 - 2 (R P + X Q) / S_base`` per bus."""
        fe = self.feeder
        drop = (self.branch_flows(p_kw) * fe.r_pu + self.branch_flows(q_kvar) * fe.x_pu)
        drop_bus = (self.dt @ drop.reshape(-1, drop.shape[-1]).T).T.reshape(*drop.shape[:-1], -1)
        return fe.v_slack_pu ** 2 - 2.0 * drop_bus / fe.s_base_kva

    def sensitivity(self, positions: IntArray) -> tuple[FloatArray, FloatArray]:
        """``R[:, s]`` and ``X[:, s]`` (bus x station), in p.u. of squared voltage per kW."""
        fe = self.feeder
        cols = self.d[:, positions].toarray()  # (n-1, J)
        r = self.dt @ (fe.r_pu[:, None] * cols)
        x = self.dt @ (fe.x_pu[:, None] * cols)
        return np.asarray(r) / fe.s_base_kva, np.asarray(x) / fe.s_base_kva

    def security_set(self, positions: IntArray, p_bg_kw: FloatArray, q_bg_kvar: FloatArray,
                     limits: NetworkLimits, loss_kw: FloatArray | None = None) -> SecuritySet:
        """The security set for stations at ``positions`` given background consumption.

        Args:
            positions: Station bus positions (``J``).
            p_bg_kw: Background active consumption per interval and position ``(T, n)``.
            q_bg_kvar: Background reactive consumption ``(T, n)``.
            limits: Voltage, substation and polygon settings.
            loss_kw: Background feeder losses per interval ``(T,)`` added to the substation
                flow (default: none).
        """
        parts = [substation_rows(positions, p_bg_kw, limits, loss_kw),
                 voltage_rows(self, positions, p_bg_kw, q_bg_kvar, limits),
                 thermal_rows(self, positions, p_bg_kw, q_bg_kvar, limits)]
        return SecuritySet(a_p=np.vstack([p[0] for p in parts]),
                           a_q=np.vstack([p[1] for p in parts]),
                           b=np.hstack([p[2] for p in parts]),
                           kind=np.concatenate([p[3] for p in parts]),
                           element=np.concatenate([p[4] for p in parts]))


Rows = tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray]


def substation_rows(positions: IntArray, p_bg_kw: FloatArray, limits: NetworkLimits,
                    loss_kw: FloatArray | None = None) -> Rows:
    """Headroom ``-P_sub <= sum_k P_bg,k + L_t + sum_j u_j <= P_sub``."""
    j = positions.size
    total = p_bg_kw.sum(axis=1) + (0.0 if loss_kw is None else loss_kw)
    a = np.vstack([np.ones(j), -np.ones(j)])
    b = np.stack([limits.substation_kw - total, limits.substation_kw + total], axis=1)
    return a, np.zeros_like(a), b, np.full(2, SUBSTATION), np.full(2, -1)


def voltage_rows(ldf: LinDistFlow, positions: IntArray, p_bg_kw: FloatArray,
                 q_bg_kvar: FloatArray, limits: NetworkLimits) -> Rows:
    """``v_min^2 <= W_bg - 2 (R_s u + X_s v) <= v_max^2`` at every bus except the substation.

    Buses whose path to the substation leaves the stations' paths at the same bus ``g`` (their
    attachment, :func:`attachment`) have identical rows ``R[k, s] = R[g, s]``; each such group
    keeps one row per side with the tightest right-hand side,
    ``min_k W_bg,k - v_min^2`` and ``v_max^2 - max_k W_bg,k`` — the same polyhedron with
    O(stations x depth) rows instead of O(buses).
    """
    r, x = ldf.sensitivity(positions)
    w_bg = ldf.voltage_sq(p_bg_kw, q_bg_kvar)[:, 1:]
    group = attachment(ldf.feeder, positions)[1:]
    reps, w_min, k_min = _group_reduce(group, w_bg, np.minimum)
    _, neg_w_max, k_max = _group_reduce(group, -w_bg, np.minimum)
    r, x = r[reps + 1], x[reps + 1]  # reps index buses 1..n-1
    a_p = np.vstack([2.0 * r, -2.0 * r])
    a_q = np.vstack([2.0 * x, -2.0 * x])
    b = np.hstack([w_min - limits.v_min_pu ** 2, limits.v_max_pu ** 2 + neg_w_max])
    return (a_p, a_q, b, np.full(a_p.shape[0], VOLTAGE),
            np.concatenate([k_min + 1, k_max + 1]))


def thermal_rows(ldf: LinDistFlow, positions: IntArray, p_bg_kw: FloatArray,
                 q_bg_kvar: FloatArray, limits: NetworkLimits) -> Rows:
    """``cos(th_m) F^P_b + sin(th_m) F^Q_b <= v_min S_b cos(pi/M)`` per branch and side ``m``.

    Branches with the same set of stations downstream have identical coefficients; each such
    group (including the group with no station, whose rows are constant) keeps the smallest
    right-hand side per side ``m`` and interval.
    """
    m = limits.polygon_sides
    th = (2.0 * np.arange(m) + 1.0) * np.pi / m  # vertices on the axes: pure P keeps S
    cos, sin = np.cos(th), np.sin(th)
    inc = ldf.d[:, positions].toarray() > 0  # (n-1, J): station below branch
    _, group = np.unique(np.packbits(inc, axis=1), axis=0, return_inverse=True)
    fp, fq = ldf.branch_flows(p_bg_kw), ldf.branch_flows(q_bg_kvar)  # (T, n-1)
    rating = ldf.feeder.rating_kva * limits.v_min_pu * np.cos(np.pi / m)
    b_parts, elements = [], []
    for c, s_ in zip(cos, sin, strict=True):
        reps, b_m, k_m = _group_reduce(group.ravel(), rating - (c * fp + s_ * fq), np.minimum)
        b_parts.append(b_m)
        elements.append(k_m)
    pattern = inc[reps].astype(float)
    a_p = (cos[:, None, None] * pattern[None]).reshape(-1, positions.size)
    a_q = (sin[:, None, None] * pattern[None]).reshape(-1, positions.size)
    return (a_p, a_q, np.hstack(b_parts), np.full(a_p.shape[0], THERMAL),
            np.concatenate(elements))


def attachment(feeder: Feeder, positions: IntArray) -> IntArray:
    """Per position, its deepest ancestor-or-self with a station in its subtree (``0`` if none).

    Positions are in breadth-first order (parents first), so one pass settles every bus.
    """
    below = np.zeros(feeder.n_bus, dtype=bool)
    below[positions] = True
    for k in range(feeder.n_bus - 1, 0, -1):  # children before parents
        if below[k]:
            below[feeder.parent[k]] = True
    att = np.arange(feeder.n_bus)
    for k in range(1, feeder.n_bus):
        if not below[k]:
            att[k] = att[feeder.parent[k]]
    return att


def _group_reduce(group: IntArray, values: FloatArray,
                  ufunc: np.ufunc) -> tuple[IntArray, FloatArray, IntArray]:
    """Reduce the columns of ``values`` (``(T, K)``) within groups.

    Returns:
        A representative member per group (its first), the reduced values ``(T, G)`` and the
        member that attains them most often (for reporting which element binds).
    """
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    reduced = ufunc.reduceat(values[:, order], starts, axis=1)
    typical = values.mean(axis=0)[order]
    best = np.minimum.reduceat(typical, starts)
    hit = np.flatnonzero(typical == np.repeat(best, np.diff(np.r_[starts, order.size])))
    first_hit = hit[np.searchsorted(hit, starts)]
    return order[starts], reduced, order[first_hit]


def station_positions(feeder: Feeder, pp_buses: list[int]) -> IntArray:
    """Positions of the station buses (pandapower indices)."""
    return np.asarray([feeder.position(b) for b in pp_buses], dtype=np.int64)
