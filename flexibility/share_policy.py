"""The energy-share policy: how a fleet shares an aggregate deviation (paper §3.1.2, §3.4).

**Energy-share policy.** Every vehicle ``n`` of a scenario gets a feasible reference trajectory
``Y^r_n = Y^-_n + theta_j (Y^+_n - Y^-_n)`` between its as-late- and as-soon-as-possible
trajectories (``flexibility.battery``; ``theta_j`` per station, fitted into the network boxes).
A deviation ``delta = X - R`` of the aggregate from ``R = sum_n r_n``, with cumulative energy
``D_t = dt sum_{s<=t} delta_s``, is shared by energy:

    C_n(t) = phi_n(t) D_t,     phi_n(t) = omega_n(t) / sum_m omega_m(t),

so vehicle ``n`` follows ``Y_n = Y^r_n + C_n`` and its power deviation is

    delta_n,t = phi_n(t) delta_t + (phi_n(t) - phi_n(t-1)) D_{t-1} / dt.

``omega_n(t)`` is the vehicle's symmetric room: ``min(Y^+ - Y^r, Y^r - Y^-)``, capped by the energy
it can take on since plug-in and give back before it leaves
(``sum_s min(p_hi - r, r - p_lo) dt``); it is 0 outside the vehicle's active intervals, so every
vehicle leaves on its reference. ``sum_n phi_n = 1`` keeps ``sum_n delta_n = delta``.

``flexibility.inner`` builds the deliverable deviation battery of this policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.battery import VehicleBatteries, cumulative_to_power
from flexibility.common import BoolArray
from flexibility.fleet import FloatArray


@dataclass(frozen=True)
class SharePolicy:
    """The energy-share policy of one or many scenarios (arrays ``(..., N, T)``).

    Attributes:
        y_ref_kwh: Reference cumulative energy of every vehicle.
        omega_kwh: Energy shares ``omega_n(t)`` (0 outside a vehicle's active intervals).
        station: Station index of every vehicle ``(..., N)``.
        n_stations: Number of stations ``J``.
        dt_h: Interval length.
    """

    y_ref_kwh: FloatArray
    omega_kwh: FloatArray
    station: np.ndarray
    n_stations: int
    dt_h: float

    def split(self, delta_kw: FloatArray) -> FloatArray:
        """Vehicle powers for aggregate deviations ``delta`` (``(..., T)``) from the reference.

        ``D = dt cumsum(delta)``, ``s = D / Omega`` (0 where ``Omega = 0``),
        ``C_n = omega_n s`` and ``x_n = diff(Y^r_n + C_n) / dt``.
        """
        d_kwh = np.cumsum(delta_kw, axis=-1) * self.dt_h
        omega = self.omega_kwh.sum(axis=-2)
        s = np.divide(d_kwh, omega, out=np.zeros_like(d_kwh), where=omega > 1e-12)
        return cumulative_to_power(self.y_ref_kwh + self.omega_kwh * s[..., None, :],
                                   self.dt_h)


def station_sum(x: FloatArray, station: np.ndarray, n_stations: int) -> FloatArray:
    """Sum ``(..., N, T)`` over vehicles per station -> ``(..., J, T)``."""
    onehot = (station[..., :, None] == np.arange(n_stations)).astype(np.float64)  # (..., N, J)
    return np.matmul(np.swapaxes(onehot, -1, -2), x)  # (..., J, N) @ (..., N, T)


def _reference_rates(vb: VehicleBatteries) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Constant-rate reference powers ``(r^-, r*, r^+)`` of every vehicle (``(..., N, T)``).

    A vehicle connected for ``K`` intervals of the window ends it between its as-late- and
    as-soon-as-possible energies ``Y^-_end <= Y_end <= Y^+_end``. The lower band is convex and
    the upper band concave (maxima and minima of lines from ``y_{a-1} = 0``), so the straight
    line from 0 to any ``Y_end`` in the band stays inside the band at every interval: the
    constant rate ``r = Y_end / (K dt)`` is a feasible reference. ``r^-`` and ``r^+`` end at the
    band's edges; ``r*`` is the rate closest to the middle of the power range (the most
    symmetric room for deviations).
    """
    batt = vb.battery
    dt = batt.dt_h
    conn = (batt.p_hi_kw > batt.p_lo_kw) | vb.active
    k = conn.sum(axis=-1)
    last = np.maximum(batt.n_intervals - 1 - np.argmax(conn[..., ::-1], axis=-1), 0)[..., None]
    denom = np.where(k > 0, k * dt, 1.0)[..., None]
    r_lo = np.take_along_axis(vb.y_alap_kwh, last, axis=-1) / denom
    r_hi = np.take_along_axis(vb.y_asap_kwh, last, axis=-1) / denom
    mid = np.where(conn, 0.5 * (batt.p_hi_kw + batt.p_lo_kw), 0.0).max(axis=-1, keepdims=True)
    r_mid = np.clip(mid, r_lo, np.maximum(r_lo, r_hi))
    return np.where(conn, r_lo, 0.0), np.where(conn, r_mid, 0.0), np.where(conn, r_hi, 0.0)


def _blend(anchors: tuple[FloatArray, FloatArray, FloatArray], theta: FloatArray) -> FloatArray:
    """Piecewise-linear reference: ``r^- -> r*`` for ``theta`` in [0, 0.5], ``r* -> r^+`` above."""
    lo, mid, hi = anchors
    a = np.clip(2.0 * theta, 0.0, 1.0)
    b = np.clip(2.0 * theta - 1.0, 0.0, 1.0)
    return np.where(theta <= 0.5, lo + a * (mid - lo), mid + b * (hi - mid))


def _fit_theta(prof: tuple[FloatArray, FloatArray, FloatArray], net_lo: FloatArray | None,
               net_hi: FloatArray | None) -> tuple[FloatArray, BoolArray, FloatArray]:
    """Station ``theta`` in [0, 1] keeping the blended station reference in the network box.

    Args:
        prof: Station powers of the anchors ``(r^-, r*, r^+)``, each ``(..., J, T)``.
        net_lo: Network box lower bounds ``(J, T)`` (``None``: no network).
        net_hi: Upper bounds.

    Returns:
        ``(theta (..., J), misfit (..., J) bool, excess_kw (..., J, T))`` — ``theta = 0.5``
        (the symmetric reference) when it fits, else the closest value that does; the excess
        of the best reference over the box where none fits.
    """
    lead = prof[0].shape[:-1]
    if net_lo is None or net_hi is None:
        return np.full(lead, 0.5), np.zeros(lead, dtype=bool), np.zeros_like(prof[0])
    grid = np.linspace(0.0, 1.0, 21)
    viol = np.stack([(np.maximum(_blend(prof, g) - net_hi, 0.0)
                      + np.maximum(net_lo - _blend(prof, g), 0.0)).max(axis=-1)
                     for g in grid], axis=-1)  # (..., J, G)
    fits = viol <= 1e-6
    dist = np.where(fits, np.abs(grid - 0.5), np.inf)
    pick = np.where(fits.any(axis=-1), np.argmin(dist, axis=-1), np.argmin(viol, axis=-1))
    theta = grid[pick]
    misfit = ~np.any(fits, axis=-1)
    ref = _blend(prof, theta[..., None])
    excess = np.maximum(ref - net_hi, 0.0) + np.maximum(net_lo - ref, 0.0)
    return theta, misfit, excess


def _rate_limited(target: FloatArray, step: FloatArray) -> FloatArray:
    """Largest ``w <= target`` with ``|w_t - w_{t-1}| <= step_t`` and ``w_{-1} = w_T = 0``.

    A forward pass bounds the rises, a backward pass the falls (arrays ``(..., T)``, time
    last; the passes run time-first on contiguous memory).
    """
    w = np.ascontiguousarray(np.moveaxis(np.maximum(target, 0.0), -1, 0)).copy()
    s = np.ascontiguousarray(np.moveaxis(np.broadcast_to(step, target.shape), -1, 0))
    T = w.shape[0]
    np.minimum(w[0], s[0], out=w[0])
    for t in range(1, T):
        np.minimum(w[t], w[t - 1] + s[t], out=w[t])
    for t in range(T - 1, 0, -1):
        np.minimum(w[t - 1], w[t] + s[t], out=w[t - 1])
    return np.moveaxis(w, 0, -1)


def share_policy(vb: VehicleBatteries, station: np.ndarray, n_stations: int,
                 net_lo: FloatArray | None = None, net_hi: FloatArray | None = None,
                 tau_h: float = 0.5, gamma: float = 1.0
                 ) -> tuple[SharePolicy, np.ndarray, FloatArray]:
    """References and energy shares ``omega`` of every vehicle (module docstring).

    Args:
        vb: Vehicle batteries ``(..., N, T)``.
        station: Station index per vehicle (broadcast to ``(..., N)``).
        n_stations: Number of stations.
        net_lo: Network lower bounds per station ``(T, J)`` (``None``: no network).
        net_hi: Network upper bounds.
        tau_h: Hours of full deviation power a vehicle's share may hold
            (``omega <= tau p_room``).
        gamma: Rate limit of the shares, ``|omega_t - omega_{t-1}| <= gamma p_room_t dt``.

    Returns:
        ``(policy, misfit (..., J), excess_kw (..., J, T))``.
    """
    dt = vb.battery.dt_h
    batt = vb.battery
    st = np.broadcast_to(station, vb.y_asap_kwh.shape[:-1])
    anchors = _reference_rates(vb)
    nl = None if net_lo is None else np.asarray(net_lo).T  # (J, T)
    nh = None if net_hi is None else np.asarray(net_hi).T
    r_lo, r_mid, r_hi = anchors
    prof = (station_sum(r_lo, st, n_stations), station_sum(r_mid, st, n_stations),
            station_sum(r_hi, st, n_stations))
    theta, misfit, excess = _fit_theta(prof, nl, nh)
    th = np.take_along_axis(theta, st, axis=-1)[..., None]
    r = _blend(anchors, th)
    y_ref = np.clip(np.cumsum(r, axis=-1) * dt, vb.y_alap_kwh, vb.y_asap_kwh)
    r = cumulative_to_power(y_ref, dt)
    batt = vb.battery
    room = np.where(vb.active, np.minimum(batt.p_hi_kw - r, r - batt.p_lo_kw), 0.0)
    room = np.maximum(room, 0.0)
    half_band = np.minimum(vb.y_asap_kwh - y_ref, y_ref - vb.y_alap_kwh)
    target = np.where(vb.active, np.minimum(half_band, tau_h * room), 0.0)
    omega = _rate_limited(target, gamma * room * dt)
    return (SharePolicy(y_ref_kwh=y_ref, omega_kwh=omega, station=st, n_stations=n_stations,
                        dt_h=dt), misfit, excess)
