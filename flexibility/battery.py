"""Lossless battery sets: the conservative vehicle surrogate and the generalized battery.

**Generalized (lossless) battery.** On intervals ``t = 0 .. T-1`` of length ``dt`` a battery set is

    B = { x in R^T :  p_lo_t <= x_t <= p_hi_t,
                      y_lo_t <= y_t = dt * sum_{s<=t} x_s <= y_hi_t },

net power ``x`` in kW (charging positive) and ``y_t`` the cumulative net energy drawn from the
grid after interval ``t`` (kWh). It is the package ``B_t = (P_up, P_down, E_min, E_max)`` the
transmission layer receives, and (per vehicle) a generalized polymatroid, so Minkowski sums are
exact in the representation of ``flexibility.gpolymatroid``.

**Vehicle surrogate.** A vehicle's stored energy follows ``e += g(x) dt`` with the concave
``g(x) = min(eta_ch x, x / eta_dis)`` (charging and discharging never overlap in dispatch). Two
affine bounds hold on ``[-P_dis, P_ch]``:

    g(x) <= eta_ch x                      (tangent of the charging branch),
    g(x) >= c0 + c1 x                     (the chord through the two power limits),

with ``c1 = (eta_ch P_ch + P_dis / eta_dis) / (P_ch + P_dis)`` and ``c0 = (eta_ch - c1) P_ch <= 0``.
After ``k`` connected intervals the energy therefore satisfies

    e0 + c0 k dt + c1 y  <=  e  <=  e0 + eta_ch y,

so the energy limits become limits on the cumulative grid energy ``y`` of the vehicle:

    y_t <= (hi - e0) / eta_ch,
    y_t >= (lo - e0 - c0 k_t dt) / c1,                            (V2G floor)
    y_t >= (q - e0 - c0 K dt) / c1 - P_ch dt (d - 1 - t)          (departure requirement reachable),

with ``k_t = t - a + 1`` intervals elapsed, ``K = d - a`` the dwell, ``lo = min(e_min, e0)``,
``hi = max(e_max, e0)`` and ``q`` the reachable requirement. Every trajectory of the surrogate is
feasible for the real (lossy) vehicle; for a vehicle without V2G (``P_dis = 0``) the chord is the
charging branch itself (``c0 = 0``, ``c1 = eta_ch``) and the surrogate is exact. The chord is exact
at both power limits (so full-power charging keeps every reachable requirement) and loses at
most ``-c0 dt`` kWh per interval at idle: ``0.09 kWh`` per 15 minutes for 7 kW / 7 kW and
``eta = 0.95`` — the price of V2G with losses in a lossless (polymatroid) model.

**Tightening.** The reachable cumulative energy band follows from a forward pass
``y_hi_t <- min(y_hi_t, y_hi_{t-1} + p_hi_t dt)`` (likewise ``y_lo``), and a backward pass
``y_hi_t <- min(y_hi_t, y_hi_{t+1} - p_lo_{t+1} dt)``,
``y_lo_t <- max(y_lo_t, y_lo_{t+1} - p_hi_{t+1} dt)`` with ``y_{-1} = 0``. For a
one-dimensional lossless battery the tightened ``y_hi`` and ``y_lo`` are themselves
feasible trajectories (the as-soon-as-possible and as-late-as-possible ones) and
the exact per-interval projections are

    x_t in [ max(p_lo_t, (y_lo_t - y_hi_{t-1}) / dt),  min(p_hi_t, (y_hi_t - y_lo_{t-1}) / dt) ].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.compiled import tighten_rows, vehicle_rows
from flexibility.fleet import Fleet, FloatArray

EMPTY_TOL_KWH = 1e-7


@dataclass(frozen=True)
class Battery:
    """A generalized lossless battery ``B`` (arrays ``(..., T)``; see the module docstring).

    Attributes:
        p_lo_kw: Lower net-power bound ``P_down`` (negative: discharging).
        p_hi_kw: Upper net-power bound ``P_up``.
        y_lo_kwh: Lower bound of the cumulative net energy after each interval (``E_min``).
        y_hi_kwh: Upper bound of the cumulative net energy (``E_max``).
        dt_h: Interval length.
        t0: Index of the first interval.
    """

    p_lo_kw: FloatArray
    p_hi_kw: FloatArray
    y_lo_kwh: FloatArray
    y_hi_kwh: FloatArray
    dt_h: float
    t0: int = 0

    @property
    def n_intervals(self) -> int:
        """Number of intervals ``T``."""
        return int(self.p_lo_kw.shape[-1])

    def tightened(self) -> Battery:
        """The same set with every bound tight (module docstring); empty sets stay crossed."""
        y_lo, y_hi = tighten(self.p_lo_kw, self.p_hi_kw, self.y_lo_kwh, self.y_hi_kwh, self.dt_h)
        lo, hi = projection_kw(self.p_lo_kw, self.p_hi_kw, y_lo, y_hi, self.dt_h)
        return Battery(lo, hi, y_lo, y_hi, self.dt_h, self.t0)

    def empty_mask(self) -> np.ndarray:
        """Per leading index: the set is empty (some tightened bound pair crosses)."""
        b = self.tightened()
        bad = (b.y_lo_kwh > b.y_hi_kwh + EMPTY_TOL_KWH) | (
            b.p_lo_kw > b.p_hi_kw + EMPTY_TOL_KWH / self.dt_h)
        return np.any(bad, axis=-1)

    def area_kwh(self) -> FloatArray:
        """Envelope area ``sum_t (P_up - P_down) dt`` of the tightened set (0 where empty)."""
        b = self.tightened()
        width = np.maximum(b.p_hi_kw - b.p_lo_kw, 0.0)
        return np.where(self.empty_mask(), 0.0, width.sum(axis=-1) * self.dt_h)

    def contains(self, x_kw: FloatArray, tol: float = 1e-6) -> np.ndarray:
        """Whether trajectories ``x`` (``(..., T)``) satisfy every row of ``B``."""
        y = np.cumsum(x_kw, axis=-1) * self.dt_h
        ok = (x_kw >= self.p_lo_kw - tol) & (x_kw <= self.p_hi_kw + tol)
        ok &= (y >= self.y_lo_kwh - tol) & (y <= self.y_hi_kwh + tol)
        return np.all(ok, axis=-1)

    def scaled(self, factor: float) -> Battery:
        """``factor * B``.

        For a set containing 0 (a deviation set) and ``0 <= factor <= 1`` this is a subset, so
        it keeps every guarantee of ``B``.
        """
        return Battery(self.p_lo_kw * factor, self.p_hi_kw * factor, self.y_lo_kwh * factor,
                       self.y_hi_kwh * factor, self.dt_h, self.t0)

    def take(self, index) -> Battery:
        """Select along the leading axes."""
        return Battery(self.p_lo_kw[index], self.p_hi_kw[index], self.y_lo_kwh[index],
                       self.y_hi_kwh[index], self.dt_h, self.t0)


def tighten(p_lo: FloatArray, p_hi: FloatArray, y_lo: FloatArray, y_hi: FloatArray,
            dt_h: float) -> tuple[FloatArray, FloatArray]:
    """Tightened cumulative-energy bounds of batteries ``(..., T)`` (module docstring).

    Forward ``y_hi_t <- min(y_hi_t, y_hi_{t-1} + p_hi_t dt)`` (``y_lo`` with ``max`` and
    ``p_lo``), then backward ``y_hi_t <- min(y_hi_t, y_hi_{t+1} - p_lo_{t+1} dt)``,
    ``y_lo_t <- max(y_lo_t, y_lo_{t+1} - p_hi_{t+1} dt)``, with ``y_{-1} = 0``; compiled, one
    battery row at a time (``flexibility.compiled.tighten_rows``).
    """
    shape = np.broadcast_shapes(np.shape(p_lo), np.shape(p_hi), np.shape(y_lo), np.shape(y_hi))
    n_t = shape[-1] if shape else 1
    out_lo, out_hi = (np.array(np.broadcast_to(np.asarray(y, dtype=np.float64), shape))
                      for y in (y_lo, y_hi))
    if out_lo.size:
        lo_kw, hi_kw = (np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.float64),
                                                             shape)).reshape(-1, n_t)
                        for x in (p_lo, p_hi))
        tighten_rows(lo_kw, hi_kw, float(dt_h), out_lo.reshape(-1, n_t),
                     out_hi.reshape(-1, n_t))
    return out_lo, out_hi


def projection_kw(p_lo: FloatArray, p_hi: FloatArray, y_lo: FloatArray, y_hi: FloatArray,
                  dt_h: float) -> tuple[FloatArray, FloatArray]:
    """Exact per-interval projections of tightened batteries (module docstring)."""
    zero = np.zeros_like(y_lo[..., :1])
    prev_lo = np.concatenate([zero, y_lo[..., :-1]], axis=-1)
    prev_hi = np.concatenate([zero, y_hi[..., :-1]], axis=-1)
    lo = np.maximum(p_lo, (y_lo - prev_hi) / dt_h)
    hi = np.minimum(p_hi, (y_hi - prev_lo) / dt_h)
    return lo, hi


@dataclass(frozen=True)
class VehicleBatteries:
    """Per-vehicle surrogate batteries over a window of the horizon (arrays ``(..., N, T)``).

    Bounds are the raw rows (before tightening); ``y_*`` are cumulative grid energy after each
    interval. Outside a vehicle's connection both power bounds are 0.

    Attributes:
        battery: The raw rows.
        y_asap_kwh: Tightened upper band: the as-soon-as-possible trajectory (feasible).
        y_alap_kwh: Tightened lower band: the as-late-as-possible trajectory (feasible).
        active: Intervals in which a vehicle may hold a deviation from its reference (connected
            and not in its last interval; vehicles leaving after the window keep it to the end).
        feasible: Vehicles whose surrogate set is non-empty.
    """

    battery: Battery
    y_asap_kwh: FloatArray
    y_alap_kwh: FloatArray
    active: np.ndarray
    feasible: np.ndarray


def vehicle_batteries(fleet: Fleet, n_intervals: int, t0: int = 0) -> VehicleBatteries:
    """Surrogate battery of every vehicle on intervals ``t0 .. t0 + T - 1``.

    Vehicles plugged in before ``t0`` are seen at ``t0`` with the energy reached by immediate
    charging (the uncontrolled baseline, as in ``scenarios.fleetgen.observe_at``). A V2G vehicle
    whose chord surrogate is empty (a floor so close to the ceiling that the idle loss of the
    chord cannot be made up) falls back to charging only, which is exact and never empty.
    The rows ``y_t <= (hi - e0) / eta_ch``, ``y_t >= max(floor_t, req_t)`` (module docstring)
    are built and tightened by the compiled ``flexibility.compiled.vehicle_rows``.
    """
    shape = (*fleet.shape, n_intervals)
    params = vehicle_params(fleet).reshape(len(VEHICLE_PARAMS), -1)
    out = np.zeros((6, params.shape[1], n_intervals))
    active = np.zeros((params.shape[1], n_intervals), dtype=np.bool_)
    feasible = np.ones(params.shape[1], dtype=np.bool_)
    window = np.zeros((params.shape[1], 2), dtype=np.int64)
    if active.size:
        vehicle_rows(params, fleet.eta_ch, fleet.eta_dis, fleet.dt_h, t0, out, active,
                     feasible, window)
    p_lo, p_hi, y_lo, y_hi, y_alap, y_asap = (x.reshape(shape) for x in out)
    return VehicleBatteries(battery=Battery(p_lo, p_hi, y_lo, y_hi, fleet.dt_h, t0),
                            y_asap_kwh=y_asap, y_alap_kwh=y_alap, active=active.reshape(shape),
                            feasible=feasible.reshape(fleet.shape))


def vehicle_params(fleet: Fleet) -> FloatArray:
    """The per-vehicle quantities of the compiled kernels as one float64 array ``(9, ..., N)``.

    Rows (:data:`VEHICLE_PARAMS`): ``a, d, e_init``, ``lo = min(e_min, e_init)`` and
    ``hi = max(e_max, e_init)`` (``Fleet.lower_energy_kwh``, ``Fleet.upper_energy_kwh``),
    ``e_req, P_ch, P_dis`` and ``r_c = eta_ch P_ch dt`` (``Fleet.r_ch_kwh``).
    """
    rows = (fleet.arrival_idx, fleet.departure_idx, fleet.e_init_kwh, fleet.lower_energy_kwh(),
            fleet.upper_energy_kwh(), fleet.e_req_kwh, fleet.p_ch_max_kw, fleet.p_dis_max_kw,
            fleet.r_ch_kwh)
    return np.stack([np.broadcast_to(np.asarray(x, dtype=np.float64), fleet.shape)
                     for x in rows])


VEHICLE_PARAMS = ("a", "d", "e_init", "lo", "hi", "e_req", "p_ch", "p_dis", "r_c")
"""Rows of :func:`vehicle_params`."""


def cumulative_to_power(y_kwh: FloatArray, dt_h: float) -> FloatArray:
    """Power trajectory ``x_t = (y_t - y_{t-1}) / dt`` of cumulative energies ``(..., T)``."""
    return np.diff(y_kwh, axis=-1, prepend=0.0) / dt_h


def compact_fleet(fleet: Fleet, station: np.ndarray, n_intervals: int, t0: int = 0
                  ) -> tuple[Fleet, np.ndarray]:
    """Drop the vehicle slots never connected in the window (padding, departed before ``t0``).

    Scenarios of a fleet ``(M, N)`` are padded with zero-dwell sessions; the vehicles connected
    in ``[t0, t0 + T)`` are moved to the front of each scenario and the vehicle axis is cut to
    the largest count (the rest stay zero-dwell padding).

    Returns:
        ``(fleet (M, N'), station (M, N'))``.
    """
    shape = fleet.shape
    a = np.broadcast_to(fleet.arrival_idx, shape)
    d = np.broadcast_to(fleet.departure_idx, shape)
    live = (d > np.maximum(a, t0)) & (a < t0 + n_intervals) & (d > t0)
    order = np.argsort(~live, axis=-1, kind="stable")
    width = max(int(live.sum(axis=-1).max(initial=0)), 1)
    order = order[..., :width]
    keep = np.take_along_axis(live, order, axis=-1)

    def pick(name: str) -> np.ndarray:
        return np.take_along_axis(np.broadcast_to(getattr(fleet, name), shape), order, axis=-1)

    arrays = {n: pick(n) for n in ("arrival_idx", "departure_idx", "e_init_kwh", "e_min_kwh",
                                   "e_max_kwh", "e_req_kwh", "p_ch_max_kw", "p_dis_max_kw")}
    arrays["departure_idx"] = np.where(keep, arrays["departure_idx"], arrays["arrival_idx"])
    st = np.take_along_axis(np.broadcast_to(station, shape), order, axis=-1)
    return (Fleet(**arrays, eta_ch=fleet.eta_ch, eta_dis=fleet.eta_dis, dt_h=fleet.dt_h), st)
