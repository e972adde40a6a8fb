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
from flexibility.compiled import fmax, fmin, kernel
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
        ref_kw: Reference power ``r_n,t = (Y^r_n,t - Y^r_n,t-1) / dt`` of every vehicle
            (``None``: computed from ``y_ref_kwh`` when needed).
    """

    y_ref_kwh: FloatArray
    omega_kwh: FloatArray
    station: np.ndarray
    n_stations: int
    dt_h: float
    ref_kw: FloatArray | None = None

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

    def reference_kw(self) -> FloatArray:
        """``r_n,t`` of every vehicle (``ref_kw``, or ``diff(Y^r) / dt``)."""
        if self.ref_kw is not None:
            return self.ref_kw
        return cumulative_to_power(self.y_ref_kwh, self.dt_h)


def station_sum(x: FloatArray, station: np.ndarray, n_stations: int) -> FloatArray:
    """Sum ``(..., N, T)`` over vehicles per station -> ``(..., J, T)``.

    ``S_j,t = sum_{n : station_n = j} x_n,t``, added in vehicle order (compiled).
    """
    x = np.asarray(x, dtype=np.float64)
    lead, (n_veh, n_t) = x.shape[:-2], x.shape[-2:]
    st = np.ascontiguousarray(np.broadcast_to(station, (*lead, n_veh)), dtype=np.int64)
    out = np.zeros((int(np.prod(lead, dtype=np.int64)), n_stations, n_t))
    _station_sums(np.ascontiguousarray(x).reshape(-1, n_veh, n_t), st.reshape(-1, n_veh), out)
    return out.reshape(*lead, n_stations, n_t)


@kernel
def station_add(x, station, out):  # pragma: no cover
    """``out[j] += x[n]`` over the vehicles ``n`` of station ``j``, in vehicle order (one
    scenario: ``x (N, T)``, ``out (J, T)``)."""
    for n in range(x.shape[0]):
        row = out[station[n]]
        for t in range(x.shape[1]):
            row[t] += x[n, t]


@kernel
def _station_sums(x, station, out):  # pragma: no cover
    """:func:`station_add` of every scenario (``x (B, N, T)``, ``out (B, J, T)``)."""
    for b in range(x.shape[0]):
        station_add(x[b], station[b], out[b])


@kernel
def row_windows(p_lo, p_hi, y_alap, y_asap, active, window):  # pragma: no cover
    """The smallest ``[j_a, j_d)`` per vehicle (``(R, T)`` rows) outside which the powers are
    0, no interval is active and both bands are constant on each side (``window (R, 2)``;
    what ``vehicle_rows`` returns for the vehicles it builds)."""
    n_t = p_lo.shape[1]
    for i in range(p_lo.shape[0]):
        ja, jd = n_t, 0
        for j in range(n_t):
            busy = (p_lo[i, j] != 0.0) | (p_hi[i, j] != 0.0) | active[i, j]
            if busy or (j > 0 and (y_alap[i, j] != y_alap[i, j - 1]
                                   or y_asap[i, j] != y_asap[i, j - 1])):
                ja = min(ja, j)
                jd = j + 1
        window[i, 0], window[i, 1] = min(ja, jd), jd


@kernel
def anchor_rates(p_lo, p_hi, y_alap, y_asap, active, window, dt, rates):  # pragma: no cover
    """Constant-rate reference powers ``(r^-, r*, r^+)`` of every vehicle (``rates (3, R)``).

    A vehicle connected for ``K`` intervals of the window ends it between its as-late- and
    as-soon-as-possible energies ``Y^-_end <= Y_end <= Y^+_end``. The lower band is convex and
    the upper band concave (maxima and minima of lines from ``y_{a-1} = 0``), so the straight
    line from 0 to any ``Y_end`` in the band stays inside the band at every interval: the
    constant rate ``r = Y_end / (K dt)`` is a feasible reference. ``r^-`` and ``r^+`` end at the
    band's edges; ``r*`` is the rate closest to the middle of the power range (the most
    symmetric room for deviations). Each rate holds on the vehicle's connected intervals
    (``p_hi > p_lo`` or active, all inside ``window``) and is 0 elsewhere. Rows ``(R, T)``.
    """
    n_t = p_lo.shape[1]
    for i in range(p_lo.shape[0]):
        ja, jd = window[i, 0], window[i, 1]
        count, last, mid = 0, n_t - 1, -np.inf
        for j in range(ja, jd):
            if (p_hi[i, j] > p_lo[i, j]) | active[i, j]:
                count += 1
                last = j
                mid = fmax(mid, 0.5 * (p_hi[i, j] + p_lo[i, j]))
        if count < n_t:  # some interval is not connected: its rate is 0
            mid = fmax(mid, 0.0)
        denom = count * dt if count > 0 else 1.0
        r_lo, r_hi = y_alap[i, last] / denom, y_asap[i, last] / denom
        rates[0, i], rates[2, i] = r_lo, r_hi
        rates[1, i] = fmin(fmax(mid, r_lo), fmax(r_lo, r_hi))


@kernel
def station_anchors(p_lo, p_hi, active, window, rates, station, prof):  # pragma: no cover
    """Station powers ``prof (3, J, T)`` of the anchors of one scenario's vehicles (rows
    ``(N, T)``; ``rates (3, N)``), added in vehicle order."""
    for n in range(p_lo.shape[0]):
        j_st = station[n]
        for j in range(window[n, 0], window[n, 1]):
            if (p_hi[n, j] > p_lo[n, j]) | active[n, j]:
                for x in range(3):
                    prof[x, j_st, j] += rates[x, n]


@kernel
def blend_one(lo, mid, hi, theta):  # pragma: no cover
    """Piecewise-linear reference rate between the anchors ``(r^-, r*, r^+)``:
    ``r^- + 2 theta (r* - r^-)`` for ``theta <= 0.5``, ``r* + (2 theta - 1)(r^+ - r*)`` above."""
    a = min(max(2.0 * theta, 0.0), 1.0)
    b = min(max(2.0 * theta - 1.0, 0.0), 1.0)
    return lo + a * (mid - lo) if theta <= 0.5 else mid + b * (hi - mid)


THETA_GRID = np.linspace(0.0, 1.0, 21)
"""The values of ``theta`` tried by :func:`fit_theta_columns`."""


@kernel
def fit_theta_columns(prof, grid, net_lo, net_hi, theta, misfit, excess):  # pragma: no cover
    """Station ``theta`` of one scenario keeping the blended station reference in the box.

    The violation ``v_j(g) = max_t (max(R_jt(g) - hi_jt, 0) + max(lo_jt - R_jt(g), 0))`` of
    the blend ``R(g)`` of the station anchors ``prof (3, J, T)`` on the grid; ``theta_j`` is the
    grid value closest to 0.5 with ``v_j <= 1e-6``, else the one of least violation
    (``misfit_j``); ``excess (J, T)`` is the blend's excess over the box at ``theta_j``.
    """
    n_t = prof.shape[2]
    for j in range(prof.shape[1]):
        best_fit, best_viol, dist, least = -1, 0, np.inf, np.inf
        for g in range(grid.size):
            worst = -np.inf
            for t in range(n_t):
                ref = blend_one(prof[0, j, t], prof[1, j, t], prof[2, j, t], grid[g])
                worst = fmax(worst, fmax(ref - net_hi[j, t], 0.0)
                             + fmax(net_lo[j, t] - ref, 0.0))
            if worst <= 1e-6 and abs(grid[g] - 0.5) < dist:
                best_fit, dist = g, abs(grid[g] - 0.5)
            if worst < least:
                best_viol, least = g, worst
        misfit[j] = best_fit < 0
        theta[j] = grid[best_viol] if best_fit < 0 else grid[best_fit]
        for t in range(n_t):
            ref = blend_one(prof[0, j, t], prof[1, j, t], prof[2, j, t], theta[j])
            excess[j, t] = fmax(ref - net_hi[j, t], 0.0) + fmax(net_lo[j, t] - ref, 0.0)


@kernel
def policy_rows(p_lo, p_hi, y_alap, y_asap, active, window, rates, theta, tau_h, gamma, dt,
                y_ref, omega, ref):  # pragma: no cover
    """References, reference powers and rate-limited shares of vehicles (rows ``(R, T)``).

    Per vehicle: ``r = blend(theta)`` on its connected intervals, ``Y^r = clip(dt cumsum r,
    Y^-, Y^+)``, ``r = diff(Y^r) / dt``, ``room = max(min(p_hi - r, r - p_lo), 0)`` and the
    target ``max(min(min(Y^+ - Y^r, Y^r - Y^-), tau room), 0)`` on active intervals, then the
    rate limit ``|omega_t - omega_{t-1}| <= gamma room_t dt`` (forward rises, backward falls).
    Outside ``window`` nothing is connected or active and the bands are constant: ``Y^r`` is
    constant there and ``omega = 0``.
    """
    n_t = p_lo.shape[1]
    for i in range(p_lo.shape[0]):
        ja, jd = window[i, 0], window[i, 1]
        rate = blend_one(rates[0, i], rates[1, i], rates[2, i], theta[i])
        omega[i, :] = 0.0
        ref[i, :] = 0.0
        cum, prev, w_prev = 0.0, 0.0, 0.0
        for j in range(n_t):
            if ja <= j < jd:
                if (p_hi[i, j] > p_lo[i, j]) | active[i, j]:
                    cum += rate
            elif 0 < j < ja or j > jd:  # constant band, constant cum: Y^r and r repeat
                y_ref[i, j] = prev
                continue
            y = fmin(fmax(cum * dt, y_alap[i, j]), y_asap[i, j])
            r = (y - prev) / dt
            y_ref[i, j], ref[i, j], prev = y, r, y
            if active[i, j]:
                room = fmax(fmin(p_hi[i, j] - r, r - p_lo[i, j]), 0.0)
                half = fmin(y_asap[i, j] - y, y - y_alap[i, j])
                w = fmax(fmin(half, tau_h * room), 0.0)
                step = gamma * room * dt
                w_prev = fmin(w, w_prev + step) if j > 0 else fmin(w, step)
                omega[i, j] = w_prev
            else:
                w_prev = 0.0
        for j in range(min(jd, n_t - 1), max(ja, 0), -1):
            step = 0.0
            if active[i, j]:
                r = ref[i, j]
                step = gamma * fmax(fmin(p_hi[i, j] - r, r - p_lo[i, j]), 0.0) * dt
            omega[i, j - 1] = fmin(omega[i, j - 1], omega[i, j] + step)


@kernel
def _fit_all(p_lo, p_hi, active, window, rates, station, grid, net_lo, net_hi, theta, misfit,
             excess):  # pragma: no cover
    """Station anchors and :func:`fit_theta_columns` of every scenario (rows ``(B, N, T)``)."""
    prof = np.empty((3, net_lo.shape[0], p_lo.shape[2]))
    for b in range(p_lo.shape[0]):
        prof[:] = 0.0
        station_anchors(p_lo[b], p_hi[b], active[b], window[b], rates[:, b], station[b], prof)
        fit_theta_columns(prof, grid, net_lo, net_hi, theta[b], misfit[b], excess[b])


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
    batt = vb.battery
    dt, n_t = batt.dt_h, batt.n_intervals
    lead = vb.y_asap_kwh.shape[:-1]  # (..., N)
    shape, n_veh = (*lead, n_t), lead[-1]
    st = np.broadcast_to(station, lead)
    p_lo, p_hi, y_alap, y_asap = (np.ascontiguousarray(np.broadcast_to(x, shape),
                                                       dtype=np.float64).reshape(-1, n_t)
                                  for x in (batt.p_lo_kw, batt.p_hi_kw, vb.y_alap_kwh,
                                            vb.y_asap_kwh))
    active = np.ascontiguousarray(np.broadcast_to(vb.active, shape)).reshape(-1, n_t)
    window = np.empty((p_lo.shape[0], 2), dtype=np.int64)
    row_windows(p_lo, p_hi, y_alap, y_asap, active, window)
    rates = np.empty((3, p_lo.shape[0]))
    anchor_rates(p_lo, p_hi, y_alap, y_asap, active, window, dt, rates)
    theta = np.full((*lead[:-1], n_stations), 0.5)
    misfit = np.zeros(theta.shape, dtype=bool)
    excess = np.zeros((*theta.shape, n_t))
    if net_lo is not None and net_hi is not None:
        _fit_all(*(x.reshape(-1, n_veh, n_t) for x in (p_lo, p_hi, active)),
                 window.reshape(-1, n_veh, 2), rates.reshape(3, -1, n_veh),
                 np.ascontiguousarray(st, dtype=np.int64).reshape(-1, n_veh), THETA_GRID,
                 *(np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)
                   for x in (net_lo, net_hi)),
                 *(x.reshape(-1, *x.shape[len(lead) - 1:]) for x in (theta, misfit, excess)))
    th = np.take_along_axis(theta, st, axis=-1).reshape(-1)
    y_ref, omega, ref = (np.empty_like(p_lo) for _ in range(3))
    policy_rows(p_lo, p_hi, y_alap, y_asap, active, window, rates, th, float(tau_h),
                float(gamma), dt, y_ref, omega, ref)
    return (SharePolicy(y_ref_kwh=y_ref.reshape(shape), omega_kwh=omega.reshape(shape),
                        station=st, n_stations=n_stations, dt_h=dt, ref_kw=ref.reshape(shape)),
            misfit, excess)
