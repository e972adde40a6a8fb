"""Forecast of later arrivals at a station: a pool of sampled days.

Two uses. The α package (``agents.grid_operator.GridAgent.publish_package``) takes, per
sampled day, the vehicles that arrive after the tick (:meth:`FuturePool.later_arrivals`). The
vehicle-box package reads, per tick, the α rows of the later arrivals (:class:`AlphaRows`,
built only for it):

The pool's envelopes are pre-aggregated per arrival interval ``g`` and summed from the back,
``R[m, g] = sum_{g' >= g} E[m, g']`` (:class:`SuffixSums`), so the part of the envelope due to
vehicles arriving after tick ``k`` is ``R[:, k + 1]`` (one slice, no re-aggregation per tick).
The same holds for the deliverable inner boxes (``flexibility.packaging``). The vehicle-box
package only ever reads the α quantiles over the days of these slices (per interval,
``flexibility.aggregation.probabilistic_envelope`` and ``flexibility.packaging.inner_quantile``),
so they are taken once for every ``g`` when the pool is built, and the ``M`` days are dropped:

    A[g, t] = Q_α(R[:, g, t])   (a ``(T + 2, T)`` table per row instead of ``(M, T + 2, T)``),

with the same sort and order statistic per element as the quantile of each tick's slice,
hence the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.aggregation import Envelope, probabilistic_envelope, station_envelope
from flexibility.fleet import Fleet
from flexibility.inner import FLEET_ARRAYS
from flexibility.packaging import InnerBox, inner_quantile, station_inner_box


@dataclass(frozen=True)
class SuffixSums:
    """Suffix sums over arrival intervals of a pool (float32, ``(M, T+2, T)``).

    Attributes:
        env: Envelope arrays ``R[m, g, t]`` (``g = T + 1`` is empty).
        box_lo_kw: Inner-box lower bounds, same layout.
        box_hi_kw: Inner-box upper bounds.
    """

    env: Envelope
    box_lo_kw: np.ndarray
    box_hi_kw: np.ndarray

    @classmethod
    def of(cls, fleet: Fleet, n_intervals: int) -> SuffixSums:
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
                   box_hi_kw=suffix(box.hi_kw))


@dataclass(frozen=True)
class AlphaRows:
    """α rows of the later arrivals by arrival interval (float64, ``(T + 2, T)``).

    Attributes:
        env: α envelope of the arrivals at or after ``g`` (row ``g``): lower α-boundaries of
            ``P_max`` and ``S_max``, upper ones of ``P_min`` and ``S_min``, mean ``dS``.
        box: α inner box of the same arrivals (``flexibility.packaging.inner_quantile``).
    """

    env: Envelope
    box: InnerBox

    @classmethod
    def of(cls, fleet: Fleet, n_intervals: int, alpha: float) -> AlphaRows:
        """The α rows of a pool fleet ``(M, N)`` (quantiles over the ``M`` days)."""
        sums = SuffixSums.of(fleet, n_intervals)
        env = probabilistic_envelope(sums.env.map_arrays(lambda x: x.astype(np.float64)), alpha)
        box = inner_quantile(InnerBox(sums.box_lo_kw.astype(np.float64),
                                      sums.box_hi_kw.astype(np.float64), fleet.dt_h), alpha)
        return cls(env=env, box=box)


@dataclass(frozen=True)
class FuturePool:
    """A station's pool of sampled days.

    Attributes:
        fleet: The pool's sampled days ``(M, N)``.
        dt_h: Interval length.
        rows: The α rows of its later arrivals (built for the vehicle-box package only, else
            ``None``).
    """

    fleet: Fleet
    dt_h: float
    rows: AlphaRows | None = None

    @classmethod
    def build(cls, fleet: Fleet, n_intervals: int, alpha: float | None = None) -> FuturePool:
        """The pool of a fleet ``(M, N)``, with its α rows when ``alpha`` is given."""
        return cls(fleet=fleet, dt_h=fleet.dt_h,
                   rows=None if alpha is None else AlphaRows.of(fleet, n_intervals, alpha))

    def later_arrivals(self, k: int, n_days: int) -> Fleet:
        """The first ``n_days`` sampled days ``(M', N)`` keeping only vehicles arriving after k.

        A vehicle whose first whole interval is ``k`` or earlier is in the plugged-in fleet of
        the real day (or not coming), so it becomes a zero-dwell slot at ``k``.
        """
        f = self.fleet
        m = min(n_days, f.shape[0])
        arrays = {n: np.broadcast_to(getattr(f, n), f.shape)[:m] for n in FLEET_ARRAYS}
        late = arrays["arrival_idx"] > k
        arrays["arrival_idx"] = np.where(late, arrays["arrival_idx"], k)
        arrays["departure_idx"] = np.where(late, arrays["departure_idx"], k)
        return Fleet(**arrays, eta_ch=f.eta_ch, eta_dis=f.eta_dis, dt_h=f.dt_h)

    def future_alpha(self, k: int) -> tuple[Envelope, InnerBox]:
        """α envelope and inner box over ``[k, T)`` of the vehicles arriving after tick k.

        Raises:
            ValueError: The pool was built without α rows.
        """
        if self.rows is None:
            raise ValueError("this pool was built without α rows (the α package reads "
                             "later_arrivals instead)")
        env, box = self.rows.env, self.rows.box
        env = Envelope(p_max_kw=env.p_max_kw[k + 1, k:], p_min_kw=env.p_min_kw[k + 1, k:],
                       e_min_kwh=env.e_min_kwh[k + 1, k:], e_max_kwh=env.e_max_kwh[k + 1, k:],
                       ds_kwh=env.ds_kwh[k + 1, k:], dt_h=env.dt_h, t0=k)
        return env, InnerBox(box.lo_kw[k + 1, k:], box.hi_kw[k + 1, k:], self.dt_h, t0=k)
