"""The day-ahead reserve product: a declared baseline plus a reserve set ``D`` with an α guarantee.

What a TSO buys day-ahead from the stations is not an absolute schedule (a fixed day-ahead
trajectory is deliverable on too few days to be promised at α, because every day's fleet has its
own baseline) but **flexibility around the baseline the stations declare before delivery**, as
balancing markets buy reserve around a nominated baseline:

    call_t = b_t + d_t,    d in D,

with ``b_t`` the baseline the stations publish with their real-time boundary before interval
``t`` and ``D`` a lossless battery of deviations (arrays ``(T,)``):

    D = { d :  P^-_t <= d_t <= P^+_t,   Y^-_t <= dt sum_{s<=t} d_s <= Y^+_t },

``P^- <= 0 <= P^+`` and ``Y^- <= 0 <= Y^+`` (``D`` always contains "no activation"). ``D`` is
the α set's deviation battery (``flexibility.inner``): on a share α of days every ``d in D``
around that day's own reference is deliverable.

**Activations.** The TSO keeps its own account of the activated energy
``A_{t-1} = dt sum_{s<t} d_s``. With ``D`` tightened (``flexibility.battery``: every bound
reachable), the activations still admissible at ``t`` are

    d_t in [ max(P^-_t, (Y^-_t - A_{t-1}) / dt),  min(P^+_t, (Y^+_t - A_{t-1}) / dt) ],

a range that is never empty for any ``A_{t-1}`` inside the band, so an activation chosen
inside it at every interval stays in ``D`` for the whole day (no look-ahead needed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.battery import Battery
from flexibility.fleet import FloatArray


@dataclass(frozen=True)
class ReserveProduct:
    """A baseline forecast and the reserve set around the declared baseline (module docstring).

    Attributes:
        baseline_kw: Forecast baseline ``R_hat`` (the mean kept reference), ``(T,)``; the
            absolute day-ahead schedule, whose own hold rate is reported apart.
        reserve: Deviation battery ``D`` (tightened, relative to the declared baseline).
    """

    baseline_kw: FloatArray
    reserve: Battery

    @classmethod
    def of(cls, baseline_kw: FloatArray, deviation: Battery) -> ReserveProduct:
        """The product of a baseline and a deviation battery (tightened, 0 kept inside).

        "No activation" is always part of the product: where the baseline itself lies outside
        the battery's rows (an interval the network cannot serve, flagged grid-infeasible) the
        rows are widened to 0.
        """
        d = deviation.tightened()
        lo, hi = np.minimum(d.p_lo_kw, 0.0), np.maximum(d.p_hi_kw, 0.0)
        y_lo, y_hi = np.minimum(d.y_lo_kwh, 0.0), np.maximum(d.y_hi_kwh, 0.0)
        return cls(np.asarray(baseline_kw, dtype=float),
                   Battery(lo, hi, y_lo, y_hi, d.dt_h, d.t0).tightened())

    @property
    def t0(self) -> int:
        """First interval of the product."""
        return self.reserve.t0

    def power_rows(self, k: int) -> tuple[float, float]:
        """``(P^-_k, P^+_k)`` of interval ``k`` (the reserve's power rows, no energy state)."""
        i = k - self.t0
        return float(self.reserve.p_lo_kw[i]), float(self.reserve.p_hi_kw[i])

    def admissible(self, k: int, activated_kwh: float) -> tuple[float, float]:
        """Activation range of interval ``k`` after ``activated_kwh`` (module docstring).

        Args:
            k: Interval.
            activated_kwh: ``A_{k-1}``, the energy activated since the product's start.

        Returns:
            ``(lo, hi)`` with ``lo <= hi`` (kW, relative to the declared baseline).
        """
        i = k - self.t0
        d = self.reserve
        dt = d.dt_h
        lo = max(float(d.p_lo_kw[i]), (float(d.y_lo_kwh[i]) - activated_kwh) / dt)
        hi = min(float(d.p_hi_kw[i]), (float(d.y_hi_kwh[i]) - activated_kwh) / dt)
        if lo > hi:  # only by rounding: the tightened band is reachable from inside
            mid = 0.5 * (lo + hi)
            lo = hi = mid
        return lo, hi
