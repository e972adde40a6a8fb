"""Station aggregation: Minkowski sums, generalized-battery parameters, probabilistic envelopes.

Paper §3.1.2–3.1.3. The projection of a Minkowski sum onto one interval's net power is the sum
of the projections, so for every scenario the station bounds are

    P_max_t = sum_n p_max_{n,t},   P_min_t = sum_n p_min_{n,t},
    S_min_t = sum_n e_lo_{n,t},    S_max_t = sum_n e_hi_{n,t},

and the arrival/departure drift of the equivalent storage (energy entering with plugging-in
vehicles minus energy leaving with departing ones at their requirement) is

    dS_t = sum_{n: a_n = t+1} e0_n - sum_{n: d_n = t+1} q_n,

so that ``S_{t+1} = S_t + eta_ch P_ch_t dt - P_dis_t dt / eta_dis + dS_t`` (paper eq. for the
generalized battery). The α inner envelope over M scenarios keeps, per interval, the boundary
value reached in at least a share α of the scenarios (the probabilistic Minkowski sum).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from flexibility.battery import VEHICLE_PARAMS, vehicle_params
from flexibility.compiled import envelope_pairs
from flexibility.fleet import Fleet, FloatArray


@dataclass(frozen=True)
class Envelope:
    """Generalized-battery parameters ``Theta_t`` of one or many stations/scenarios.

    Every array has shape ``(..., T)``; leading axes index scenarios or stations.

    Attributes:
        p_max_kw: Largest aggregate net power (charging positive).
        p_min_kw: Smallest aggregate net power (negative: discharging).
        e_min_kwh: Lowest aggregate reachable energy at the interval start.
        e_max_kwh: Highest aggregate reachable energy at the interval start.
        ds_kwh: Exogenous energy drift from arrivals and departures at the end of the interval.
        dt_h: Interval length in hours.
        t0: Index of the first interval (envelopes over a remaining horizon start later).
    """

    p_max_kw: FloatArray
    p_min_kw: FloatArray
    e_min_kwh: FloatArray
    e_max_kwh: FloatArray
    ds_kwh: FloatArray
    dt_h: float
    t0: int = 0

    @property
    def p_ch_max_kw(self) -> FloatArray:
        """Charging capability ``max(P_max, 0)`` (kW, non-negative)."""
        return np.maximum(self.p_max_kw, 0.0)

    @property
    def p_dis_max_kw(self) -> FloatArray:
        """Discharging capability ``max(-P_min, 0)`` (kW, non-negative)."""
        return np.maximum(-self.p_min_kw, 0.0)

    @property
    def n_intervals(self) -> int:
        """Number of intervals ``T``."""
        return int(self.p_max_kw.shape[-1])

    def map_arrays(self, fn) -> Envelope:
        """Apply ``fn`` to every array (e.g. summing stations or selecting a scenario)."""
        kw = {f.name: fn(getattr(self, f.name)) for f in fields(self) if f.name in _ARRAYS}
        return Envelope(**kw, dt_h=self.dt_h, t0=self.t0)

    def __add__(self, other: Envelope) -> Envelope:
        """Minkowski sum of two envelopes on the same interval grid."""
        if (self.dt_h, self.t0, self.n_intervals) != (other.dt_h, other.t0, other.n_intervals):
            raise ValueError("envelopes on different interval grids cannot be added")
        kw = {n: getattr(self, n) + getattr(other, n) for n in _ARRAYS}
        return Envelope(**kw, dt_h=self.dt_h, t0=self.t0)


_ARRAYS = ("p_max_kw", "p_min_kw", "e_min_kwh", "e_max_kwh", "ds_kwh")


def station_envelope(fleet: Fleet, n_intervals: int, t0: int = 0,
                     exclusive: bool = False, group: np.ndarray | None = None,
                     n_groups: int = 1) -> Envelope:
    """Minkowski sum over the vehicle axis of the exact per-vehicle bounds.

    Only connected (vehicle, interval) pairs are evaluated: vehicle by vehicle over its connected
    intervals, with the closed forms of :mod:`flexibility.vehicle`, added per (scenario,
    interval) in vehicle order (compiled, ``flexibility.compiled.envelope_pairs``). This is
    exact and costs O(connected pairs).

    Args:
        fleet: Vehicles of shape ``(..., N)``; the vehicle axis is summed.
        n_intervals: Number of intervals ``T``.
        t0: First interval index.
        exclusive: Use the charge/discharge-exclusive vehicle set (paper §4.2 benchmark).
        group: Optional group index in ``[0, n_groups)`` per vehicle (shape of the fleet):
            the vehicle axis is then summed per group (e.g. per arrival interval).
        n_groups: Number of groups.

    Returns:
        The envelope with arrays of shape ``(..., T)``, or ``(..., n_groups, T)`` with groups.
    """
    shape = fleet.shape
    lead = shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    n_veh = shape[-1] if shape else 1
    g_all = (np.zeros(shape, dtype=np.int64) if group is None
             else np.broadcast_to(group, shape).astype(np.int64))
    lead_g = (*lead, n_groups) if group is not None else lead
    totals = np.zeros((6, rows * n_groups * n_intervals))
    b = lambda x: np.broadcast_to(np.asarray(x, dtype=np.float64), shape)  # noqa: E731
    params = np.concatenate([vehicle_params(fleet), np.stack(
        [b(fleet.reachable_requirement_kwh()), b(fleet.r_dis_kwh)])]).reshape(
        len(VEHICLE_PARAMS) + 2, -1)
    envelope_pairs(params, np.ascontiguousarray(g_all.reshape(-1)), n_veh, n_groups,
                   (fleet.dt_h, fleet.eta_ch, fleet.eta_dis), t0, n_intervals, exclusive, totals)
    p_max, p_min, e_lo, e_hi, ds_in, ds_out = (x.reshape(*lead_g, n_intervals) for x in totals)
    return Envelope(p_max_kw=p_max, p_min_kw=p_min, e_min_kwh=e_lo, e_max_kwh=e_hi,
                    ds_kwh=ds_in - ds_out, dt_h=fleet.dt_h, t0=t0)


def scenario_quantile(values: FloatArray, share: float, upper: bool, axis: int = 0) -> FloatArray:
    """Boundary value reached in at least ``share`` of the scenarios along ``axis``.

    For a lower boundary (``upper=False``) it is the largest ``v`` with
    ``#{m: x_m >= v} >= share * M`` (the ``k``-th smallest, ``k = floor((1 - share) M)``);
    for an upper boundary the smallest ``v`` with ``#{m: x_m <= v} >= share * M``.
    """
    x = np.sort(values, axis=axis)
    m = x.shape[axis]
    k = int(np.floor((1.0 - share) * m + 1e-9))
    k = min(max(k, 0), m - 1)
    return np.take(x, m - 1 - k if upper else k, axis=axis)


def probabilistic_envelope(env: Envelope, alpha: float, axis: int = 0) -> Envelope:
    """α envelope over the scenario axis (probabilistic Minkowski sum, paper §3.1.2).

    The (inner) envelope keeps, per interval, the charging capability, discharging capability
    and energy band that at least a share ``alpha`` of the scenarios reach:
    ``P_max^α`` and ``S_max^α`` are lower α-boundaries, ``P_min^α`` and ``S_min^α`` upper ones.
    The drift ``dS`` is averaged.

    Args:
        env: Envelope with a scenario axis.
        alpha: Confidence level in (0, 1).
        axis: The scenario axis.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}; use e.g. 0.90")

    def q(x: FloatArray, upper: bool) -> FloatArray:
        return scenario_quantile(x, alpha, upper=upper, axis=axis)

    return Envelope(
        p_max_kw=q(env.p_max_kw, False),
        p_min_kw=q(env.p_min_kw, True),
        e_min_kwh=q(env.e_min_kwh, True),
        e_max_kwh=q(env.e_max_kwh, False),
        ds_kwh=env.ds_kwh.mean(axis=axis),
        dt_h=env.dt_h,
        t0=env.t0,
    )


def mean_envelope(env: Envelope, axis: int = 0) -> Envelope:
    """Expectation of ``Theta_t`` over the scenario axis (the paper's day-ahead form, §3.2.1)."""
    return env.map_arrays(lambda x: x.mean(axis=axis))
