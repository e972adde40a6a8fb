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
from flexibility.compiled import anchor_rates, fit_theta_all, policy_rows, row_windows, station_sums
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
    station_sums(np.ascontiguousarray(x).reshape(-1, n_veh, n_t), st.reshape(-1, n_veh), out)
    return out.reshape(*lead, n_stations, n_t)


THETA_GRID = np.linspace(0.0, 1.0, 21)
"""The values of ``theta`` tried (``flexibility.compiled.fit_theta_columns``)."""


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
        ``(policy, misfit (..., J), excess_kw (..., J, T))``: ``misfit`` where no ``theta``
        keeps the station reference ``R_j`` inside ``[lo_j, hi_j]``; ``excess_kw`` its load
        above the box, ``max(R_jt - hi_jt, 0)`` (a reference below ``lo_jt`` is discharge the
        station can always shed, ``flexibility.compiled.fit_theta_columns``).
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
        fit_theta_all(*(x.reshape(-1, n_veh, n_t) for x in (p_lo, p_hi, active)),
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
