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

:func:`flexibility.aggregation.station_envelope` evaluates these closed forms on the connected
(vehicle, interval) pairs (compiled: ``flexibility.compiled.envelope_pairs``);
:class:`VehicleParams` holds the per-vehicle quantities they use, all taken from the fleet's
helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.fleet import Fleet, FloatArray


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
