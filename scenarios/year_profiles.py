"""A year of 15-minute profiles (load, PV, wind) and their day-ahead forecast errors.

The built-in year (``builtin:simbench_2016_year``, ``scenarios/data/simbench_2016_year.csv.gz``)
holds the SimBench profiles H0-H (load), PV5 and WP4 (wind) of 2016 in normalised units; the
built-in sets (``builtin:simbench_2016_sets``) hold six such years, each from other SimBench codes
(column ``set``; ``scenarios.tools.extract_simbench_sets``). Every set is processed as its own
year and its days are further draws of each date's errors. The
forecast of a day is the seasonal day-type mean (``dispatch.uncertainty.forecast_errors`` with
a window of ``forecast_window_days``, leaving the day itself out); the error is realised minus
forecast. With ``method = "energy-scaled"`` the forecast is that shape scaled to the day's realised
energy, ``f_{d,s} = m_{d,s} sum_s x_{d,s} / sum_s m_{d,s}`` (a stand-in for a day-ahead weather
forecast that gets the day's energy right and not its shape). The days used are those of the
chosen months and day type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dispatch.uncertainty import forecast_errors
from flexibility.common import FloatArray
from scenarios.dispatch_config import BUILTIN_SETS, BUILTIN_YEAR
from scenarios.errors import InputError
from scenarios.profiles import read_table

COLUMNS = ("load_p", "pv_p", "wind_p")
STEPS_PER_DAY = 96


@dataclass(frozen=True)
class YearErrors:
    """Forecasts and errors of the selected days (normalised units, ``(D, 96)``).

    Attributes:
        days: Dates of the selected days (ISO text; ``date#set`` when the data has sets).
        forecast: Per column, the forecast of each selected day.
        error: Per column, realised minus forecast.
        date_rank: Rank of each day's date among the kept dates ``(D,)`` (the same date has
            the same rank in every set).
    """

    days: tuple[str, ...]
    forecast: dict[str, FloatArray]
    error: dict[str, FloatArray]
    date_rank: np.ndarray

    def date_parity(self, parity: int) -> np.ndarray:
        """Mask of the days whose date has an even (0) or odd (1) rank among the kept dates:
        a split in which no date is on both sides, whatever the set."""
        return self.date_rank % 2 == parity


def read_year(source: str, base_dir: str | Path = ".") -> pd.DataFrame:
    """The year's profiles.

    Columns ``time`` (``YYYY-MM-DD HH:MM``), ``load_p``, ``pv_p``, ``wind_p``, optionally
    ``set``; whole days of 96 steps (per set).

    Raises:
        InputError: Missing file, columns or a length that is not whole days.
    """
    field = "dispatch.uncertainty_source"
    name = ("simbench_2016_sets.csv.gz" if source == BUILTIN_SETS
            else "simbench_2016_year.csv.gz")
    frame, path = read_table(source, base_dir, (source if source in (BUILTIN_YEAR, BUILTIN_SETS)
                                                else BUILTIN_YEAR, name),
                             field, ("time", *COLUMNS), " at 15 minutes")
    sizes = frame.groupby("set").size().to_numpy() if "set" in frame else np.array([len(frame)])
    if np.any(sizes % STEPS_PER_DAY) or np.any(sizes < 7 * STEPS_PER_DAY):
        raise InputError(f"{field}: {path} has {len(frame)} rows, not whole days of 96 "
                         "15-minute steps (at least 7 days) in every set")
    return frame


def year_errors(frame: pd.DataFrame, months: tuple[int, ...], weekend: bool,
                window_days: int, method: str = "day-type-mean") -> YearErrors:
    """Forecasts and errors of the days of ``months`` and the day type (module docstring).

    With a ``set`` column every set is a year of its own (forecasts within the set) and the
    days are stacked set by set.

    Args:
        frame: The year (:func:`read_year`).
        months: Months of the days kept (1..12).
        weekend: Keep weekend days (else Monday-Friday).
        window_days: Half-width of the seasonal window of the day-type mean.
        method: ``day-type-mean`` or ``energy-scaled``.
    """
    if "set" not in frame:
        return _one_year(frame, months, weekend, window_days, method, "")
    parts = [_one_year(f, months, weekend, window_days, method, f"#{k}")
             for k, f in frame.groupby("set", sort=True)]
    dates = sorted({d[:10] for p in parts for d in p.days})
    rank = {d: i for i, d in enumerate(dates)}
    return YearErrors(tuple(d for p in parts for d in p.days),
                      {c: np.concatenate([p.forecast[c] for p in parts]) for c in COLUMNS},
                      {c: np.concatenate([p.error[c] for p in parts]) for c in COLUMNS},
                      np.array([rank[d[:10]] for p in parts for d in p.days], dtype=int))


def _one_year(frame: pd.DataFrame, months: tuple[int, ...], weekend: bool, window_days: int,
              method: str, label: str) -> YearErrors:
    """:func:`year_errors` of one year (days labelled ``date + label``)."""
    dates = pd.to_datetime(frame["time"].iloc[::STEPS_PER_DAY].str.slice(0, 10))
    first = int(dates.iloc[0].dayofweek)
    keep = dates.dt.month.isin(months).to_numpy() & ((dates.dt.dayofweek >= 5).to_numpy()
                                                    == weekend)
    if not keep.any():
        raise InputError(f"dispatch.uncertainty_months: no {'weekend' if weekend else 'week'}"
                         f"day of months {list(months)} in the uncertainty data")
    forecast, error = {}, {}
    for col in COLUMNS:
        x = frame[col].to_numpy(float)
        err = forecast_errors(x, STEPS_PER_DAY, first, col, window_days)
        real = x.reshape(-1, STEPS_PER_DAY)
        fc = real - err
        if method == "energy-scaled":
            total = fc.sum(axis=1, keepdims=True)
            fc = fc * np.divide(real.sum(axis=1, keepdims=True), total,
                                out=np.ones_like(total), where=total > 1e-12)
        error[col] = (real - fc)[keep]
        forecast[col] = fc[keep]
    days = tuple(d.strftime("%Y-%m-%d") + label for d in dates[keep])
    return YearErrors(days, forecast, error, np.arange(len(days)))


def slots(start_min: int, dt_min: int, n_intervals: int) -> np.ndarray:
    """The 15-minute slot of the day at each interval start."""
    return ((start_min + dt_min * np.arange(n_intervals)) % 1440) // 15
