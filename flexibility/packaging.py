"""Transmission packaging: a deliverable inner boundary ``B_t`` (paper §3.4).

The station envelope sums per-interval projections, so it is an *outer* description: not every
trajectory inside it can be split among the vehicles. The transmission layer needs the opposite
guarantee — every trajectory inside ``B`` is deliverable — so it is built from inner boxes.

**Vehicle inner box.** Vehicle ``n`` connected for the ``K_n = d_n - a_n`` intervals of its
dwell gets one constant box ``[l_n, u_n]`` of net power such that *any* trajectory with
``l_n <= p_{n,t} <= u_n`` is feasible. The stored energy is monotone in every past ``p_{n,s}``
(``+eta_ch p dt`` when charging, ``+p dt / eta_dis`` when discharging), so it suffices that the
all-``l`` trajectory respects the lower bounds and the departure requirement and the all-``u``
trajectory the upper bound:

    l_n = (q_n - e0_n) / (eta_ch dt K_n)                         if q_n >  e0_n,
    l_n = -min(P_dis, eta_dis (e0_n - max(q_n, e_lo,n)) / (dt K_n))   otherwise,
    u_n = min(P_ch, (e_hi,n - e0_n) / (eta_ch dt K_n)),

with ``q_n`` the (reachable) requirement, ``e_lo = min(e_min, e0)`` and ``e_hi = max(e_max, e0)``.

**Station inner box** ``[L_j,t, U_j,t] = sum_n x_{n,t} [l_n, u_n]`` (difference arrays,
O(N + T)); over scenarios the α inner box keeps the ``U`` and ``L`` reached in a share α.

**Boundary.** The station inner boxes are intersected with the distribution-layer effective
boxes (jointly feasible for the network, AC-corrected); the transmission boundary of a set of
stations is then

    P_up_t = sum_j hi_j,t,   P_down_t = sum_j lo_j,t        (net power, charging positive),
    E_max_t = sum_{s<t} P_up_s dt,   E_min_t = sum_{s<t} P_down_s dt   (cumulative energy),
    R_up_t = P_up_t - P_down_{t-1},  R_down_t = P_up_{t-1} - P_down_t  (largest ramps).

Any trajectory ``P_down <= p <= P_up`` is split to stations with one common
``theta_t = (p_t - P_down_t) / (P_up_t - P_down_t)`` and to vehicles in the same way, which keeps
every station inside a jointly feasible box and every vehicle inside its inner box. With a box
package the energy and ramp limits are implied by the power limits (reported, never binding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.aggregation import scenario_quantile
from flexibility.fleet import Fleet, FloatArray


@dataclass(frozen=True)
class InnerBox:
    """Inner net-power box per interval (arrays ``(..., T)``, charging positive).

    Attributes:
        lo_kw: Lower bound of net power.
        hi_kw: Upper bound of net power.
        dt_h: Interval length.
        t0: First interval index.
    """

    lo_kw: FloatArray
    hi_kw: FloatArray
    dt_h: float
    t0: int = 0


@dataclass(frozen=True)
class Boundary:
    """Packaged transmission boundary ``B_t = (P_up, P_down, E_min, E_max, R_up, R_down)``.

    Attributes:
        p_up_kw: Upper bound of net power (charging positive).
        p_down_kw: Lower bound of net power (negative: discharging).
        e_min_kwh: Least cumulative net energy drawn since ``t0`` at the start of ``t``.
        e_max_kwh: Largest cumulative net energy at the start of ``t``.
        ramp_up_kw: Largest increase ``p_t - p_{t-1}`` inside the boundary.
        ramp_down_kw: Largest decrease ``p_{t-1} - p_t``.
        dt_h: Interval length.
        t0: First interval index.
    """

    p_up_kw: FloatArray
    p_down_kw: FloatArray
    e_min_kwh: FloatArray
    e_max_kwh: FloatArray
    ramp_up_kw: FloatArray
    ramp_down_kw: FloatArray
    dt_h: float
    t0: int = 0


def vehicle_boxes(fleet: Fleet) -> tuple[FloatArray, FloatArray]:
    """Constant inner box ``(l_n, u_n)`` of every vehicle (see module docstring)."""
    k = np.maximum(fleet.departure_idx - fleet.arrival_idx, 1).astype(float)
    dt, eta_c, eta_d = fleet.dt_h, fleet.eta_ch, fleet.eta_dis
    e0 = fleet.e_init_kwh
    lo_e = fleet.lower_energy_kwh()
    hi_e = fleet.upper_energy_kwh()
    q = np.minimum(fleet.reachable_requirement_kwh(), hi_e)
    need = q - e0
    spare = e0 - np.maximum(q, lo_e)
    lower = np.where(need > 0, need / (eta_c * dt * k),
                     -np.minimum(fleet.p_dis_max_kw, eta_d * np.maximum(spare, 0.0) / (dt * k)))
    lower = np.minimum(lower, fleet.p_ch_max_kw)
    upper = np.minimum(fleet.p_ch_max_kw, (hi_e - e0) / (eta_c * dt * k))
    upper = np.maximum(upper, lower)
    return lower, upper


def station_inner_box(fleet: Fleet, n_intervals: int, t0: int = 0,
                      group: np.ndarray | None = None, n_groups: int = 1) -> InnerBox:
    """Sum of vehicle inner boxes over the vehicle axis on intervals ``t0 .. t0 + T - 1``.

    With ``group`` (index in ``[0, n_groups)`` per vehicle) the sum is taken per group and the
    arrays get a group axis before the interval axis.
    """
    lower, upper = vehicle_boxes(fleet)
    shape = np.broadcast(fleet.arrival_idx, lower).shape
    lead = shape[:-1]
    a = np.clip(np.broadcast_to(fleet.arrival_idx, shape) - t0, 0, n_intervals)
    d = np.clip(np.broadcast_to(fleet.departure_idx, shape) - t0, 0, n_intervals)
    rows = int(np.prod(lead)) if lead else 1
    g = 0 if group is None else np.broadcast_to(group, shape).astype(np.int64)
    width = n_intervals + 1
    base = (np.arange(rows) * n_groups).reshape(*lead, 1) if lead else 0
    cell = (base + g) * width
    lead_g = (*lead, n_groups) if group is not None else lead

    def total(v: FloatArray) -> FloatArray:
        v = np.where(d > a, np.broadcast_to(v, shape), 0.0)
        size = rows * n_groups * width
        diff = (np.bincount(np.broadcast_to(a + cell, shape).ravel(), v.ravel(), size)
                - np.bincount(np.broadcast_to(d + cell, shape).ravel(), v.ravel(), size))
        return np.cumsum(diff.reshape(*lead_g, width), axis=-1)[..., :n_intervals]

    return InnerBox(lo_kw=total(lower), hi_kw=total(upper), dt_h=fleet.dt_h, t0=t0)


def inner_quantile(box: InnerBox, alpha: float, axis: int = 0) -> InnerBox:
    """α inner box over the scenario axis: ``U`` and ``L`` reached in a share α of scenarios.

    Where the two quantiles cross (no box is common to a share α of the scenarios) the box
    shrinks to the point ``U``.
    """
    lo = scenario_quantile(box.lo_kw, alpha, upper=True, axis=axis)
    hi = scenario_quantile(box.hi_kw, alpha, upper=False, axis=axis)
    return InnerBox(lo_kw=np.minimum(lo, hi), hi_kw=hi, dt_h=box.dt_h, t0=box.t0)


def add_boxes(a: InnerBox, b: InnerBox) -> InnerBox:
    """Minkowski sum of two boxes on the same grid."""
    return InnerBox(lo_kw=a.lo_kw + b.lo_kw, hi_kw=a.hi_kw + b.hi_kw, dt_h=a.dt_h, t0=a.t0)


def package(lo_kw: FloatArray, hi_kw: FloatArray, dt_h: float, t0: int = 0) -> Boundary:
    """Boundary parameters of a power box ``lo <= p <= hi`` (arrays ``(T,)``)."""
    lo = np.asarray(lo_kw, dtype=float)
    hi = np.asarray(hi_kw, dtype=float)
    e_min = np.concatenate([[0.0], np.cumsum(lo)[:-1]]) * dt_h
    e_max = np.concatenate([[0.0], np.cumsum(hi)[:-1]]) * dt_h
    prev_lo = np.concatenate([[lo[0]], lo[:-1]])
    prev_hi = np.concatenate([[hi[0]], hi[:-1]])
    return Boundary(p_up_kw=hi, p_down_kw=lo, e_min_kwh=e_min, e_max_kwh=e_max,
                    ramp_up_kw=hi - prev_lo, ramp_down_kw=prev_hi - lo, dt_h=dt_h, t0=t0)


def disaggregate(p_kw: FloatArray, lo_kw: FloatArray, hi_kw: FloatArray) -> FloatArray:
    """Split a total trajectory inside ``[sum lo, sum hi]`` with one common ``theta_t``.

    Args:
        p_kw: Total per interval ``(T,)``.
        lo_kw: Member lower bounds ``(T, K)``.
        hi_kw: Member upper bounds ``(T, K)``.

    Returns:
        Member setpoints ``lo + theta (hi - lo)`` of shape ``(T, K)``.
    """
    lo_t, hi_t = lo_kw.sum(axis=1), hi_kw.sum(axis=1)
    width = hi_t - lo_t
    theta = np.divide(p_kw - lo_t, width, out=np.zeros_like(width), where=width > 1e-12)
    return lo_kw + np.clip(theta, 0.0, 1.0)[:, None] * (hi_kw - lo_kw)


def disaggregate_beyond(p_kw: float, lo_kw: FloatArray, hi_kw: FloatArray,
                        limit_lo_kw: FloatArray, limit_hi_kw: FloatArray) -> FloatArray:
    """Split one total over members: inside their boxes first, then up to their limits.

    With boxes ``[lo_j, hi_j]`` inside limits ``[L_j, U_j]`` (arrays ``(J,)``): a total inside
    ``[sum lo, sum hi]`` is split by :func:`disaggregate`; above it every member first takes
    ``hi_j`` and the excess ``p - sum hi`` is shared by one ``theta`` over the spare room
    ``U_j - hi_j``; below it likewise towards ``L_j``. A total beyond ``[sum L, sum U]`` is
    clipped to it.

    Returns:
        Member set-points ``(J,)``.
    """
    lo, hi = np.asarray(lo_kw, float), np.asarray(hi_kw, float)
    lim_lo, lim_hi = np.minimum(limit_lo_kw, lo), np.maximum(limit_hi_kw, hi)
    if p_kw > hi.sum():
        extra = disaggregate(np.array([p_kw - hi.sum()]), np.zeros((1, hi.size)),
                             (lim_hi - hi)[None])[0]
        return hi + extra
    if p_kw < lo.sum():
        extra = disaggregate(np.array([lo.sum() - p_kw]), np.zeros((1, lo.size)),
                             (lo - lim_lo)[None])[0]
        return lo - extra
    return disaggregate(np.array([p_kw]), lo[None], hi[None])[0]


def follow_calls(calls_kw: FloatArray, lo_kw: FloatArray, hi_kw: FloatArray,
                 limit_lo_kw: FloatArray, limit_hi_kw: FloatArray) -> FloatArray:
    """Member set-points for planned calls: each member's own where its limits allow, the
    total's where theirs do, inside the boxes first.

    With boxes ``[lo_j, hi_j]`` inside limits ``[L_j, U_j]`` (arrays ``(J,)``), every call
    ``c_j`` is clipped to its limits, ``x = clip(c, L, U)``; what that leaves of the total,
    ``g = sum c - sum x``, is shared by one ``theta`` over the other members' room in its
    direction inside their boxes (``max(hi_j - x_j, 0)`` if ``g > 0``, ``max(x_j - lo_j, 0)``
    if ``g < 0``), and what the boxes cannot take by a second ``theta`` over the room left up
    to the limits:

        x <- x + sign(g) theta room,   theta = min(1, |g| / sum room),

    so the total is ``clip(sum c, sum L, sum U)``, a member moves from its own call only to
    cover another's shortfall, and no member leaves its box for that while another's box has
    room.

    Args:
        calls_kw: Planned calls ``(J,)``.
        lo_kw: Box lower bounds ``(J,)``.
        hi_kw: Box upper bounds ``(J,)``.
        limit_lo_kw: Lower limits ``(J,)``, ``<= lo_kw``.
        limit_hi_kw: Upper limits ``(J,)``, ``>= hi_kw``.

    Returns:
        Set-points ``(J,)``.

    Raises:
        ValueError: A non-finite input, or boxes not inside their limits.
    """
    c = np.asarray(calls_kw, float)
    lo, hi = np.asarray(lo_kw, float), np.asarray(hi_kw, float)
    lim_lo, lim_hi = np.asarray(limit_lo_kw, float), np.asarray(limit_hi_kw, float)
    if not all(np.isfinite(a).all() for a in (c, lo, hi, lim_lo, lim_hi)):
        raise ValueError("follow_calls: calls, boxes and limits must be finite")
    if np.any(lim_lo > lo + 1e-9) or np.any(lo > hi + 1e-9) or np.any(hi > lim_hi + 1e-9):
        raise ValueError("follow_calls: every box must lie inside its limits (L <= lo <= hi <= U)")
    x = np.clip(c, lim_lo, lim_hi)
    for top, bottom in ((hi, lo), (lim_hi, lim_lo)):
        gap = float(c.sum() - x.sum())
        if abs(gap) <= 1e-12:
            break
        room = np.maximum(top - x, 0.0) if gap > 0 else np.maximum(x - bottom, 0.0)
        x = x + np.sign(gap) * disaggregate(np.array([abs(gap)]), np.zeros((1, room.size)),
                                            room[None])[0]
    return np.clip(x, lim_lo, lim_hi)


def battery_boundary(batt) -> Boundary:
    """Boundary parameters of a generalized battery (``flexibility.battery.Battery``, ``(T,)``).

    Power and energy rows are the tightened battery's (``E`` is the cumulative net energy after
    each interval). The ramp rows are the largest changes the battery admits, bounded by the
    power rows and by the energy rows through
    ``(x_t - x_{t-1}) dt = y_t - 2 y_{t-1} + y_{t-2}``:

        R_up_t = min(P_up_t - P_down_{t-1}, (E_max_t - 2 E_min_{t-1} + E_max_{t-2}) / dt),
        R_down_t = min(P_up_{t-1} - P_down_t, (2 E_max_{t-1} - E_min_t - E_min_{t-2}) / dt),

    with ``y_{-1} = 0`` and ``x_{-1}`` free within the first interval's box.
    """
    b = batt.tightened()
    lo, hi, ylo, yhi, dt = b.p_lo_kw, b.p_hi_kw, b.y_lo_kwh, b.y_hi_kwh, b.dt_h
    prev_lo = np.concatenate([lo[:1], lo[:-1]])
    prev_hi = np.concatenate([hi[:1], hi[:-1]])
    z = np.zeros(1)
    ylo1, yhi1 = np.concatenate([z, ylo[:-1]]), np.concatenate([z, yhi[:-1]])
    ylo2, yhi2 = np.concatenate([z, z, ylo[:-2]])[: ylo.size], np.concatenate(
        [z, z, yhi[:-2]])[: yhi.size]
    r_up = np.minimum(hi - prev_lo, (yhi - 2 * ylo1 + yhi2) / dt)
    r_dn = np.minimum(prev_hi - lo, (2 * yhi1 - ylo - ylo2) / dt)
    r_up[0], r_dn[0] = hi[0] - lo[0], hi[0] - lo[0]
    return Boundary(p_up_kw=hi, p_down_kw=lo, e_min_kwh=ylo, e_max_kwh=yhi,
                    ramp_up_kw=np.maximum(r_up, 0.0), ramp_down_kw=np.maximum(r_dn, 0.0),
                    dt_h=dt, t0=b.t0)
