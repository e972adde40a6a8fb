"""The time axis of a study horizon: interval ``t`` starts ``start_min + t dt_min`` after midnight.

Built once from the scenario's horizon (``Horizon.axis``) and handed to everything that labels,
plots or indexes time, so that ``HH:MM`` is parsed and printed in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from numpy.typing import ArrayLike
from pydantic import AfterValidator

DAY_MIN = 1440


def minutes_of_day(hhmm: str) -> int:
    """Minutes after midnight of an ``HH:MM`` string.

    Raises:
        ValueError: Not ``HH:MM`` or not a time of day (the message says how to write it).
    """
    try:
        h, m = hhmm.split(":")
        hours, minutes = int(h), int(m)
    except ValueError:
        raise ValueError(f"{hhmm!r} is not HH:MM; write e.g. '06:00'") from None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"{hhmm!r} is not a time of day; use 00:00 to 23:59")
    return hours * 60 + minutes


def _time_of_day(value: str) -> str:
    minutes_of_day(value)
    return value


TimeOfDay = Annotated[str, AfterValidator(_time_of_day)]
"""A scenario field holding an ``HH:MM`` time of day (validated by :func:`minutes_of_day`)."""


def hhmm(minutes: float) -> str:
    """``HH:MM`` of minutes after midnight (wrapping at midnight, truncated to the minute)."""
    m = int(minutes) % DAY_MIN
    return f"{m // 60:02d}:{m % 60:02d}"


@dataclass(frozen=True)
class TimeAxis:
    """Intervals ``t = 0 .. n_intervals - 1`` of ``dt_min`` minutes from ``start_min``.

    Attributes:
        start_min: Start of interval 0 in minutes after midnight.
        dt_min: Interval length (minutes).
        n_intervals: Number of intervals of the horizon.
    """

    start_min: int
    dt_min: int
    n_intervals: int

    @property
    def dt_h(self) -> float:
        """Interval length in hours."""
        return self.dt_min / 60.0

    def clock(self, t: ArrayLike) -> list[str]:
        """``HH:MM`` of the start of each interval ``t`` (wrapping at midnight)."""
        minutes = (self.start_min + np.asarray(t) * self.dt_min) % DAY_MIN
        return [f"{m // 60:02d}:{m % 60:02d}" for m in minutes.astype(int)]

    def hours(self, t: ArrayLike) -> np.ndarray:
        """Hours after the horizon day's midnight at interval position ``t`` (not wrapped)."""
        return (self.start_min + np.asarray(t, dtype=float) * self.dt_min) / 60.0

    def edges_h(self, t0: int, n: int) -> np.ndarray:
        """Hours of the ``n + 1`` edges of intervals ``t0 .. t0 + n - 1`` (for step plots)."""
        return self.hours(t0 + np.arange(n + 1))

    def interval_at(self, hhmm_str: str) -> int:
        """Interval that starts at or contains the time of day ``HH:MM`` (counted from start)."""
        minutes = (minutes_of_day(hhmm_str) - self.start_min) % DAY_MIN
        return int(minutes // self.dt_min)
