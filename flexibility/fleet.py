"""The fleet: per-vehicle parameters of the station-layer feasible set (paper §3.1.1)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from flexibility.common import FloatArray, IntArray, ModelInputError


class FleetError(ModelInputError):
    """A fleet's parameters are inconsistent (names the field and the fix)."""


@dataclass(frozen=True)
class Fleet:
    """Vehicles with their connection window and battery parameters.

    All arrays share one shape ``(..., N)`` (leading axes, e.g. scenarios, are free) or
    broadcast to it. Interval ``t`` covers ``[t*dt_h, (t+1)*dt_h)`` hours from the horizon start.
    A vehicle is connected (``x_{n,t} = 1``) for the intervals ``arrival_idx <= t <
    departure_idx``; ``arrival_idx`` may be negative (plugged in before the horizon) and
    ``departure_idx`` may exceed the horizon (its departure requirement still applies then).
    Its energy state ``e_{n,t}`` is the battery energy at the start of interval ``t`` and follows

        e_{n,t+1} = e_{n,t} + eta_ch * p_ch_{n,t} * dt_h - p_dis_{n,t} * dt_h / eta_dis,

    with ``0 <= p_ch <= p_ch_max_kw * x``, ``0 <= p_dis <= p_dis_max_kw * x``,
    ``e_min_kwh <= e <= e_max_kwh`` while connected and ``e_{n,d_n} >= e_req_kwh``.

    Attributes:
        arrival_idx: First connected interval ``a_n``.
        departure_idx: Departure boundary ``d_n`` (first interval no longer connected).
        e_init_kwh: Battery energy at plug-in (start of interval ``a_n``).
        e_min_kwh: Lower energy bound while connected (V2G floor).
        e_max_kwh: Upper energy bound while connected.
        e_req_kwh: Energy required at departure.
        p_ch_max_kw: Charger/vehicle charging power limit.
        p_dis_max_kw: Discharging power limit (0 for a vehicle that does not offer V2G).
        eta_ch: Charging efficiency (grid to battery), in (0, 1].
        eta_dis: Discharging efficiency (battery to grid), in (0, 1].
        dt_h: Interval length in hours.
    """

    arrival_idx: IntArray
    departure_idx: IntArray
    e_init_kwh: FloatArray
    e_min_kwh: FloatArray
    e_max_kwh: FloatArray
    e_req_kwh: FloatArray
    p_ch_max_kw: FloatArray
    p_dis_max_kw: FloatArray
    eta_ch: float = 0.95
    eta_dis: float = 0.95
    dt_h: float = 0.25

    def __post_init__(self) -> None:
        for name in ("arrival_idx", "departure_idx"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.int64))
        for name in ("e_init_kwh", "e_min_kwh", "e_max_kwh", "e_req_kwh", "p_ch_max_kw",
                     "p_dis_max_kw"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        self._validate()

    def _validate(self) -> None:
        if not (0.0 < self.eta_ch <= 1.0 and 0.0 < self.eta_dis <= 1.0):
            raise FleetError("eta_ch/eta_dis must lie in (0, 1]; set an efficiency like 0.95")
        if not self.dt_h > 0:
            raise FleetError("dt_h must be positive; use e.g. 0.25 for 15-minute intervals")
        try:
            shape = self.shape
        except ValueError as exc:
            raise FleetError(f"fleet arrays do not broadcast to one shape: {exc}") from None
        checks = (
            (self.departure_idx < self.arrival_idx, "departure_idx",
             "departure before arrival; swap or drop the session"),
            (self.e_min_kwh > self.e_max_kwh, "e_min_kwh",
             "minimum energy above maximum energy; make soc_min <= soc_max"),
            (self.e_req_kwh > self.e_max_kwh, "e_req_kwh",
             "departure requirement above the maximum energy; lower soc_departure_min"),
            (self.p_ch_max_kw < 0, "p_ch_max_kw", "negative power limit; use >= 0"),
            (self.p_dis_max_kw < 0, "p_dis_max_kw", "negative power limit; use >= 0"),
            (self.e_init_kwh < 0, "e_init_kwh", "negative initial energy; use >= 0"),
        )
        for bad, name, fix in checks:
            if np.any(bad):
                idx = np.argwhere(np.broadcast_to(bad, shape))[0]
                raise FleetError(f"{name}: {fix} (first at index {tuple(int(i) for i in idx)})")

    @cached_property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape ``(..., N)`` of the per-vehicle arrays (computed once)."""
        return np.broadcast_shapes(*(np.shape(getattr(self, n)) for n in _ARRAYS))

    @property
    def n_vehicles(self) -> int:
        """Number of vehicles ``N`` (size of the last axis)."""
        return self.shape[-1] if self.shape else 1

    @property
    def r_ch_kwh(self) -> FloatArray:
        """Largest energy gain per interval, ``eta_ch * p_ch_max_kw * dt_h``."""
        return self.eta_ch * self.p_ch_max_kw * self.dt_h

    @property
    def r_dis_kwh(self) -> FloatArray:
        """Largest energy loss per interval, ``p_dis_max_kw * dt_h / eta_dis``."""
        return self.p_dis_max_kw * self.dt_h / self.eta_dis

    def lower_energy_kwh(self) -> FloatArray:
        """Effective floor ``lo = min(e_min, e_init)``.

        A vehicle arriving below the V2G floor is never discharged further but need not be
        above the floor at plug-in.
        """
        return np.minimum(self.e_min_kwh, self.e_init_kwh)

    def upper_energy_kwh(self) -> FloatArray:
        """Effective ceiling ``hi = max(e_max, e_init)``.

        A vehicle arriving above the ceiling may keep its energy (never forced to discharge).
        """
        return np.maximum(self.e_max_kwh, self.e_init_kwh)

    def reachable_requirement_kwh(self) -> FloatArray:
        """Departure requirement capped to what is reachable.

        ``q = max(lo, min(e_req, e_init + eta_ch * p_ch_max * dt_h * (d - a)))``.
        """
        dwell = (self.departure_idx - self.arrival_idx).astype(np.float64)
        cap = self.e_init_kwh + self.r_ch_kwh * dwell
        return np.maximum(np.minimum(self.e_req_kwh, cap), self.lower_energy_kwh())

    def unreachable_mask(self, tol_kwh: float = 1e-9) -> NDArray[np.bool_]:
        """Vehicles whose stated requirement cannot be reached in their dwell."""
        dwell = (self.departure_idx - self.arrival_idx).astype(np.float64)
        return self.e_req_kwh > self.e_init_kwh + self.r_ch_kwh * dwell + tol_kwh

    def row(self, m: int) -> Fleet:
        """Scenario ``m`` of a ``(M, N)`` fleet as a 1-D fleet."""
        return Fleet(**{n: np.broadcast_to(getattr(self, n), self.shape)[m] for n in _ARRAYS},
                     eta_ch=self.eta_ch, eta_dis=self.eta_dis, dt_h=self.dt_h)

    def take(self, mask_or_index: NDArray[np.bool_] | NDArray[np.int64]) -> Fleet:
        """Vehicles selected along the last axis (for 1-D fleets)."""
        def pick(x: NDArray) -> NDArray:
            return np.broadcast_to(x, self.shape)[..., mask_or_index]
        return Fleet(**{n: pick(getattr(self, n)) for n in _ARRAYS},
                     eta_ch=self.eta_ch, eta_dis=self.eta_dis, dt_h=self.dt_h)


_ARRAYS = ("arrival_idx", "departure_idx", "e_init_kwh", "e_min_kwh", "e_max_kwh", "e_req_kwh",
           "p_ch_max_kw", "p_dis_max_kw")
