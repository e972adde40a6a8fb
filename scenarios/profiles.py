"""Background load and PV of the feeder per interval (paper §4.1 case description).

The shapes come from data (``scenarios/data/simbench_summer_weekday.csv``: SimBench household
profile H0-H and PV profile PV5, mean summer weekday, ODbL) and are scaled to the scenario's
feeder totals:

    P_load(t) = P_min + (x(t) - min x) / (max x - min x) * (P_peak - P_min),
    P_pv(t)   = P_pv,peak * y(t) / max y,

then spread over the buses: load in proportion to the feeder's nominal (design) loads with each
bus keeping its nominal power factor; PV in proportion to the nominal loads, or equally over
the listed ``pv_buses``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from flexibility.fleet import FloatArray
from grid.background import Background, spread  # noqa: F401  (re-exported)
from scenarios.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

BUILTIN_PROFILES = "builtin:simbench_summer_weekday"


def read_table(source: str, base_dir: str | Path, builtin: tuple[str, str], field: str,
               columns: tuple[str, ...], hint: str) -> tuple[pd.DataFrame, Path]:
    """A CSV named by a scenario field.

    ``builtin[0]`` is the shipped ``data/builtin[1]``, another ``builtin:<name>`` (the
    field's validator lists them) the shipped ``data/<name>.csv``, a relative path is
    resolved against ``base_dir``.

    Raises:
        InputError: Missing file or columns (naming ``field``).
    """
    if source.startswith("builtin:"):
        name = builtin[1] if source == builtin[0] else f"{source.removeprefix('builtin:')}.csv"
        path = Path(str(resources.files("scenarios") / "data" / name))
    else:
        path = Path(source) if Path(source).is_absolute() else Path(base_dir) / source
    if not path.is_file():
        raise InputError(f"{field}: {path} does not exist; use '{builtin[0]}' or a CSV with "
                         f"columns {', '.join(columns)}{hint}")
    import pandas as pd  # here: the equilibrium workers import this module, not pandas

    frame = pd.read_csv(path)
    missing = set(columns) - set(frame.columns)
    if missing:
        raise InputError(f"{field}: {path} lacks columns {sorted(missing)}")
    return frame, path


def read_shapes(source: str, base_dir: str | Path = ".") -> pd.DataFrame:
    """Profile shapes with columns ``time`` (HH:MM), ``load_p`` and ``pv_p``.

    Raises:
        InputError: Missing file or columns.
    """
    return read_table(source, base_dir, (BUILTIN_PROFILES, "simbench_summer_weekday.csv"),
                      "grid.profiles.source", ("time", "load_p", "pv_p"), "")[0]


def feeder_totals(shapes: pd.DataFrame, start_min: int, dt_min: int, n_intervals: int,
                  load_min_kw: float, load_peak_kw: float, pv_peak_kw: float
                  ) -> tuple[FloatArray, FloatArray]:
    """Feeder load and PV totals per interval (periodic interpolation at interval starts)."""
    minutes = np.array([int(s[:2]) * 60 + int(s[3:]) for s in shapes["time"]], dtype=float)
    x = shapes["load_p"].to_numpy(float)
    y = shapes["pv_p"].to_numpy(float)
    t = (start_min + dt_min * np.arange(n_intervals)) % 1440
    xs = np.interp(t, minutes, x, period=1440)
    ys = np.interp(t, minutes, y, period=1440)
    span = x.max() - x.min()
    load = load_min_kw + (xs - x.min()) / span * (load_peak_kw - load_min_kw) if span > 0 \
        else np.full(n_intervals, load_peak_kw)
    pv = pv_peak_kw * ys / y.max() if y.max() > 0 else np.zeros(n_intervals)
    return load, pv


