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

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from flexibility.fleet import FloatArray
from scenarios.errors import InputError

BUILTIN_PROFILES = "builtin:simbench_summer_weekday"


@dataclass(frozen=True)
class Background:
    """Background consumption per interval and bus position (consumption positive).

    Attributes:
        p_load_kw: Active load ``(T, n_bus)``.
        q_load_kvar: Reactive load ``(T, n_bus)``.
        p_pv_kw: PV generation ``(T, n_bus)`` (non-negative; enters as negative consumption).
    """

    p_load_kw: FloatArray
    q_load_kvar: FloatArray
    p_pv_kw: FloatArray

    @property
    def p_net_kw(self) -> FloatArray:
        """Net active consumption ``P_load - P_pv``."""
        return self.p_load_kw - self.p_pv_kw


def read_shapes(source: str, base_dir: str | Path = ".") -> pd.DataFrame:
    """Profile shapes with columns ``time`` (HH:MM), ``load_p`` and ``pv_p``.

    Raises:
        InputError: Missing file or columns.
    """
    if source == BUILTIN_PROFILES:
        path = Path(str(resources.files("scenarios") / "data" / "simbench_summer_weekday.csv"))
    else:
        path = Path(source) if Path(source).is_absolute() else Path(base_dir) / source
    if not path.is_file():
        raise InputError(f"grid.profiles.source: {path} does not exist; use "
                         f"'{BUILTIN_PROFILES}' or a CSV with columns time, load_p, pv_p")
    frame = pd.read_csv(path)
    missing = {"time", "load_p", "pv_p"} - set(frame.columns)
    if missing:
        raise InputError(f"grid.profiles.source: {path} lacks columns {sorted(missing)}")
    return frame


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


def spread(load_kw: FloatArray, pv_kw: FloatArray, nominal_p_kw: FloatArray,
           nominal_q_kvar: FloatArray, pv_positions: list[int] | None) -> Background:
    """Spread feeder totals over bus positions (see module docstring)."""
    w = nominal_p_kw / nominal_p_kw.sum()
    ratio = np.divide(nominal_q_kvar, nominal_p_kw, out=np.zeros_like(nominal_p_kw),
                      where=nominal_p_kw > 0)
    p = load_kw[:, None] * w[None, :]
    if pv_positions:
        wpv = np.zeros_like(w)
        np.add.at(wpv, pv_positions, 1.0 / len(pv_positions))  # repeated buses count twice
    else:
        wpv = w
    return Background(p_load_kw=p, q_load_kvar=p * ratio[None, :],
                      p_pv_kw=pv_kw[:, None] * wpv[None, :])
