"""A year of 15-minute profiles (load, PV, wind) and their day-ahead forecast errors.

The built-in year (``builtin:simbench_2016_year``, ``scenarios/data/simbench_2016_year.csv.gz``)
holds the SimBench profiles H0-H (load), PV5 and WP4 (wind) of 2016 in normalised units. The
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
from scenarios.dispatch_config import BUILTIN_YEAR
from scenarios.errors import InputError
from scenarios.profiles import read_table

COLUMNS = ("load_p", "pv_p", "wind_p")
STEPS_PER_DAY = 96


@dataclass(frozen=True)
class YearErrors:
    """Forecasts and errors of the selected days (normalised units, ``(D, 96)``).

    Attributes:
        days: Dates of the selected days (ISO text).
        forecast: Per column, the forecast of each selected day.
        error: Per column, realised minus forecast.
    """

    days: tuple[str, ...]
    forecast: dict[str, FloatArray]
    error: dict[str, FloatArray]


def read_year(source: str, base_dir: str | Path = ".") -> pd.DataFrame:
    """The year's profiles.

    Columns ``time`` (``YYYY-MM-DD HH:MM``), ``load_p``, ``pv_p``, ``wind_p``; whole days of
    96 steps.

    Raises:
        InputError: Missing file, columns or a length that is not whole days.
    """
    field = "dispatch.uncertainty_source"
    frame, path = read_table(source, base_dir, (BUILTIN_YEAR, "simbench_2016_year.csv.gz"),
                             field, ("time", *COLUMNS), " at 15 minutes")
    if len(frame) % STEPS_PER_DAY or len(frame) < 7 * STEPS_PER_DAY:
        raise InputError(f"{field}: {path} has {len(frame)} rows, not whole days of 96 "
                         "15-minute steps (at least 7 days)")
    return frame


def year_errors(frame: pd.DataFrame, months: tuple[int, ...], weekend: bool,
                window_days: int, method: str = "day-type-mean") -> YearErrors:
    """Forecasts and errors of the days of ``months`` and the day type (module docstring).

    Args:
        frame: The year (:func:`read_year`).
        months: Months of the days kept (1..12).
        weekend: Keep weekend days (else Monday-Friday).
        window_days: Half-width of the seasonal window of the day-type mean.
        method: ``day-type-mean`` or ``energy-scaled``.
    """
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
    days = tuple(d.strftime("%Y-%m-%d") for d in dates[keep])
    return YearErrors(days, forecast, error)


def slots(start_min: int, dt_min: int, n_intervals: int) -> np.ndarray:
    """The 15-minute slot of the day at each interval start."""
    return ((start_min + dt_min * np.arange(n_intervals)) % 1440) // 15
