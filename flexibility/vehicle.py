"""Exact per-interval projections of one vehicle's whole-horizon feasible set (paper §3.1.1).

For vehicle ``n`` connected over intervals ``a <= t < d`` the convex relaxation allows charging
and discharging in the same interval. Write ``r_c = eta_ch * P_ch * dt`` and
``r_d = P_dis * dt / eta_dis`` for the largest energy gain and loss per interval, ``lo``/``hi``
for the effective energy bounds and ``q`` for the reachable departure requirement (see
:class:`~flexibility.fleet.Fleet`). Because the state is one-dimensional, the set of energies
reachable at the start of interval ``t`` that can still meet the requirement is the interval

    e_lo(t) = max(lo, e0 - r_d (t - a), q - r_c (d - t)),    e_hi(t) = min(hi, e0 + r_c (t - a)).

Fixing everything but interval ``t``, the energy change ``delta`` in ``t`` must satisfy
``delta_lo <= delta <= delta_hi`` with

    delta_hi = hi - max(lo, e0 - r_d (t - a)),
    delta_lo = max(lo, q - r_c (d - t - 1)) - min(hi, e0 + r_c (t - a)).

A net power ``p = p_ch - p_dis`` can realise the energy changes
``[dt * max(eta_ch p - k P_dis, p / eta_dis - k P_ch), dt * min(eta_ch p, p / eta_dis)]`` with
``k = 1 / eta_dis - eta_ch >= 0`` (simultaneous charging and discharging burns energy). Both ends
increase in ``p``, so the projection of the feasible set onto ``p_t`` is ``[p_min, p_max]`` with

    p_max = min(P_ch, (delta_hi / dt + k P_dis) / eta_ch, eta_dis (delta_hi / dt + k P_ch)),
    p_min = max(-P_dis, delta_lo / (dt eta_ch), eta_dis delta_lo / dt).

With charge/discharge exclusivity (the MILP of paper §4.2) the burn term vanishes:
``p_max = min(P_ch, delta_hi / (dt eta_ch))`` and ``p_min`` is unchanged.
Outside the connection window both bounds are zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.fleet import Fleet, FloatArray


@dataclass(frozen=True)
class VehicleBounds:
    """Per-vehicle, per-interval bounds, arrays of shape ``(..., N, T)``.

    Attributes:
        p_max_kw: Largest net (charging-positive) power in the interval.
        p_min_kw: Smallest net power (negative: discharging).
        e_min_kwh: Lowest reachable energy at the interval start (0 when not connected).
        e_max_kwh: Highest reachable energy at the interval start (0 when not connected).
        connected: Connection indicator ``x_{n,t}``.
    """

    p_max_kw: FloatArray
    p_min_kw: FloatArray
    e_min_kwh: FloatArray
    e_max_kwh: FloatArray
    connected: np.ndarray


def vehicle_bounds(fleet: Fleet, n_intervals: int, t0: int = 0,
                   exclusive: bool = False) -> VehicleBounds:
    """Exact per-interval power projections and reachable energy band of every vehicle.

    Args:
        fleet: Vehicles, arrays of shape ``(..., N)``.
        n_intervals: Number of intervals ``T`` to evaluate.
        t0: Index of the first evaluated interval (``t = t0 ... t0 + T - 1``).
        exclusive: Evaluate the charge/discharge-exclusive (MILP) set instead of the relaxation.

    Returns:
        Bounds of shape ``(..., N, T)``; see the module docstring for the equations.
    """
    t = np.arange(t0, t0 + n_intervals, dtype=np.float64)
    params = VehicleParams.of(fleet)
    col = params.map(lambda x: np.broadcast_to(x, fleet.shape)[..., None])
    p_max, p_min, e_lo, e_hi, connected = bounds_at(col, t, exclusive)
    zero = 0.0
    return VehicleBounds(
        p_max_kw=np.where(connected, p_max, zero),
        p_min_kw=np.where(connected, p_min, zero),
        e_min_kwh=np.where(connected, e_lo, zero),
        e_max_kwh=np.where(connected, e_hi, zero),
        connected=connected,
    )


@dataclass(frozen=True)
class VehicleParams:
    """The per-vehicle quantities the closed forms use (see the module docstring)."""

    a: FloatArray
    d: FloatArray
    e0: FloatArray
    lo: FloatArray
    hi: FloatArray
    q: FloatArray
    rc: FloatArray
    rd: FloatArray
    pc: FloatArray
    pd: FloatArray
    dt: float
    eta_c: float
    eta_d: float

    @classmethod
    def of(cls, fleet: Fleet) -> VehicleParams:
        """Derive the parameters of a fleet (broadcast to the fleet's shape)."""
        b = lambda x: np.broadcast_to(np.asarray(x, dtype=np.float64), fleet.shape)  # noqa: E731
        return cls(a=b(fleet.arrival_idx), d=b(fleet.departure_idx), e0=b(fleet.e_init_kwh),
                   lo=b(fleet.lower_energy_kwh()), hi=b(fleet.upper_energy_kwh()),
                   q=b(fleet.reachable_requirement_kwh()), rc=b(fleet.r_ch_kwh),
                   rd=b(fleet.r_dis_kwh), pc=b(fleet.p_ch_max_kw), pd=b(fleet.p_dis_max_kw),
                   dt=fleet.dt_h, eta_c=fleet.eta_ch, eta_d=fleet.eta_dis)

    def map(self, fn) -> VehicleParams:
        """Apply ``fn`` to every array (indexing, broadcasting)."""
        arrays = ("a", "d", "e0", "lo", "hi", "q", "rc", "rd", "pc", "pd")
        kw = {n: fn(getattr(self, n)) for n in arrays}
        return VehicleParams(**kw, dt=self.dt, eta_c=self.eta_c, eta_d=self.eta_d)


def bounds_at(v: VehicleParams, t: FloatArray, exclusive: bool = False
              ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray]:
    """Evaluate the closed forms at interval indices ``t`` (broadcast against ``v``).

    Returns:
        ``(p_max_kw, p_min_kw, e_lo_kwh, e_hi_kwh, connected)``; values where ``connected`` is
        false are meaningless and must be masked by the caller.
    """
    since = t - v.a
    to_go = v.d - t
    connected = (since >= 0) & (to_go > 0)
    f_lo = np.maximum(v.lo, v.e0 - v.rd * since)
    f_hi = np.minimum(v.hi, v.e0 + v.rc * since)
    delta_hi = v.hi - f_lo
    delta_lo = np.maximum(v.lo, v.q - v.rc * (to_go - 1.0)) - f_hi
    dt, eta_c, eta_d = v.dt, v.eta_c, v.eta_d
    if exclusive:
        p_max = np.minimum(v.pc, delta_hi / (dt * eta_c))
    else:
        k = 1.0 / eta_d - eta_c
        p_max = np.minimum(np.minimum(v.pc, (delta_hi / dt + k * v.pd) / eta_c),
                           eta_d * (delta_hi / dt + k * v.pc))
    p_min = np.maximum(np.maximum(-v.pd, delta_lo / (dt * eta_c)), eta_d * delta_lo / dt)
    e_lo = np.maximum(f_lo, v.q - v.rc * to_go)
    return p_max, p_min, e_lo, f_hi, connected
