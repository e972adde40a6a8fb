"""The four EV user types of the aggregation layer and their scheduling order.

The bilevel zonal dispatch paper, section 2.8, Figs. 3-4.

With the intervals mapped to peak (0), flat/off-peak (1) and valley (2) periods
(``dispatch.price_response``), a vehicle's type follows from the periods its dwell covers and
from whether the energy it can charge in the cheap periods covers its need
(``need = max(e_req - e_init, 0) / eta_ch``, grid side):

* **type 1** — connected in one period class only (peak, flat or valley);
* **type 2** — peak and flat, no valley;
* **type 3** — valley and flat (peak or not), and ``p_ch_max dt`` times its valley and flat
  intervals covers the need;
* **type 4** — all three periods, the valley and flat intervals do not cover the need; also
  peak and valley without flat (whatever the need: a contiguous dwell cannot do that under a
  tariff whose flat periods separate peak and valley).

A vehicle connected in valley and flat but not peak whose cheap intervals do not cover its need
cannot do better anywhere: it is type 3 (it charges flat out in any case).

Scheduling order (Fig. 4): type 4 first (little room, must take the valley and flat intervals
it has), then type 1 (no room to move between periods), then types 2 and 3 together (each
inside its own periods): :data:`ORDER`.
"""

from __future__ import annotations

import numpy as np

from flexibility.common import FloatArray, IntArray

ORDER: tuple[tuple[int, ...], ...] = ((4,), (1,), (2, 3))
"""Groups of types in scheduling order."""


def classify(arrival_idx: IntArray, departure_idx: IntArray, need_kwh: FloatArray,
             p_ch_max_kw: FloatArray, period: IntArray, dt_h: float) -> IntArray:
    """User type (1-4) of every vehicle (module docstring).

    Args:
        arrival_idx: First connected interval per vehicle ``(N,)`` (clipped to the horizon).
        departure_idx: First interval after the connection ``(N,)``.
        need_kwh: Grid energy the vehicle needs by departure ``(N,)``.
        p_ch_max_kw: Charging power limit ``(N,)``.
        period: Period (0 peak, 1 flat, 2 valley) of every interval ``(T,)``.
        dt_h: Interval length in hours.

    Returns:
        Types ``(N,)``, values 1..4.
    """
    per = np.asarray(period, dtype=int)
    t = np.arange(per.size)
    a = np.clip(np.asarray(arrival_idx), 0, per.size)[:, None]
    d = np.clip(np.asarray(departure_idx), 0, per.size)[:, None]
    on = (t >= a) & (t < d)  # (N, T)
    counts = np.stack([(on & (per == j)).sum(axis=1) for j in range(3)], axis=1)  # (N, 3)
    has = counts > 0
    cheap_kwh = (counts[:, 1] + counts[:, 2]) * np.asarray(p_ch_max_kw, float) * dt_h
    covers = cheap_kwh >= np.asarray(need_kwh, float) - 1e-9
    n_classes = has.sum(axis=1)
    out = np.full(len(a), 4, dtype=int)
    out[n_classes <= 1] = 1
    out[(n_classes == 2) & has[:, 0] & has[:, 1]] = 2
    both_cheap = has[:, 1] & has[:, 2] & (n_classes >= 2)
    out[both_cheap & (covers | ~has[:, 0])] = 3
    return out
