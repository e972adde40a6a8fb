"""Forecast of later arrivals at a station: suffix sums of a pool of sampled days.

The pool's envelopes are pre-aggregated per arrival interval ``g`` and summed from the back,
``R[m, g] = sum_{g' >= g} E[m, g']``, so the part of the envelope due to vehicles arriving
after tick ``k`` is ``R[:, k + 1]`` (one slice, no re-aggregation per tick). The same holds for
the deliverable inner boxes (``flexibility.packaging``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.aggregation import Envelope, station_envelope
from flexibility.fleet import Fleet
from flexibility.packaging import InnerBox, station_inner_box


@dataclass(frozen=True)
class FuturePool:
    """Suffix sums over arrival intervals of a pool of sampled days (float32, ``(M, T+2, T)``).

    Attributes:
        env: Envelope arrays ``R[m, g, t]`` (``g = T + 1`` is empty).
        box_lo_kw: Inner-box lower bounds, same layout.
        box_hi_kw: Inner-box upper bounds.
        dt_h: Interval length.
    """

    env: Envelope
    box_lo_kw: np.ndarray
    box_hi_kw: np.ndarray
    dt_h: float

    @classmethod
    def build(cls, fleet: Fleet, n_intervals: int) -> FuturePool:
        """Aggregate a pool fleet ``(M, N)`` per arrival interval and sum from the back."""
        T = n_intervals
        group = np.clip(fleet.arrival_idx, 0, T)
        env = station_envelope(fleet, T, group=group, n_groups=T + 1)
        box = station_inner_box(fleet, T, group=group, n_groups=T + 1)

        def suffix(x: np.ndarray) -> np.ndarray:
            out = np.zeros((x.shape[0], T + 2, T), dtype=np.float32)
            rev = np.ascontiguousarray(x[:, ::-1], dtype=np.float32)
            np.cumsum(rev, axis=1, out=rev)
            out[:, :T + 1] = rev[:, ::-1]
            return out

        return cls(env=env.map_arrays(suffix), box_lo_kw=suffix(box.lo_kw),
                   box_hi_kw=suffix(box.hi_kw), dt_h=fleet.dt_h)

    def future(self, k: int) -> tuple[Envelope, InnerBox]:
        """Scenario envelopes and boxes over ``[k, T)`` of the vehicles arriving after tick k."""
        env = self.env.map_arrays(lambda x: x[:, k + 1, k:].astype(np.float64))
        env = Envelope(env.p_max_kw, env.p_min_kw, env.e_min_kwh, env.e_max_kwh, env.ds_kwh,
                       env.dt_h, t0=k)
        box = InnerBox(self.box_lo_kw[:, k + 1, k:].astype(np.float64),
                       self.box_hi_kw[:, k + 1, k:].astype(np.float64), self.dt_h, t0=k)
        return env, box

    def day_ahead(self) -> tuple[Envelope, InnerBox]:
        """Scenario envelopes and boxes of the whole day (every arrival)."""
        env = self.env.map_arrays(lambda x: x[:, 0].astype(np.float64))
        box = InnerBox(self.box_lo_kw[:, 0].astype(np.float64),
                       self.box_hi_kw[:, 0].astype(np.float64), self.dt_h)
        return env, box
