"""Run folders: atomic writes of ``summary.json`` and Parquet tables (the output contract).

``envelopes.parquet`` has one row per (layer, kind, station, t) with the columns
``layer, kind, station, t, time, p_ch_max_kw, p_dis_max_kw, e_min_kwh, e_max_kwh`` (the public
contract) followed by ``p_max_kw, p_min_kw, ds_kwh`` (signed net-power bounds, charging positive,
and the arrival/departure energy drift) and ``ramp_up_kw, ramp_down_kw`` (transmission layer).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from flexibility.aggregation import Envelope
from flexibility.stations import PerStation
from scenarios.timeaxis import TimeAxis

if TYPE_CHECKING:  # pandas is imported where a frame is built: workers write JSON only
    import pandas as pd

ENVELOPE_COLUMNS = ["layer", "kind", "station", "t", "time", "p_ch_max_kw", "p_dis_max_kw",
                    "e_min_kwh", "e_max_kwh", "p_max_kw", "p_min_kw", "ds_kwh"]
RAMP_COLUMNS = ["ramp_up_kw", "ramp_down_kw"]  # transmission layer only (NaN elsewhere)


def current_umask() -> int:
    """The process umask (read without changing it for longer than the call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``.

    The file gets ``0666 & ~umask`` (temporary files are created ``0600``), so colleagues
    sharing the folder can read it as they can read the figures.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def json_safe(value: object) -> object:
    """``value`` as JSON data: dataclasses and mappings as objects, tuples and arrays as lists,
    NumPy scalars as Python numbers and NaN/inf as ``None`` (JSON has no non-finite numbers:
    a file never carries one)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def number(value: float | None) -> float:
    """A number read back from JSON: ``null`` (how a non-finite value is written) as NaN."""
    return float("nan") if value is None else float(value)


def write_json(path: Path, doc: dict) -> None:
    """Atomically write a JSON document (NumPy scalars converted, NaN/inf as ``null``)."""
    def write(tmp: str) -> None:
        Path(tmp).write_text(json.dumps(json_safe(doc), indent=2, allow_nan=False) + "\n")

    _atomic(path, write)


def write_text(path: Path, text: str) -> None:
    """Atomically write a UTF-8 text file."""
    _atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Atomically write a Parquet table."""
    _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def envelope_frame(layer: str, kind: str, envelopes: PerStation[Envelope],
                   axis: TimeAxis) -> pd.DataFrame:
    """Rows of the envelope table for one layer and kind, every station and the total."""
    import pandas as pd

    frames = []
    for station, env in envelopes.labelled():
        t = np.arange(env.t0, env.t0 + env.n_intervals)
        frames.append(pd.DataFrame({
            "layer": layer, "kind": kind, "station": station, "t": t,
            "time": axis.clock(t),
            "p_ch_max_kw": env.p_ch_max_kw, "p_dis_max_kw": env.p_dis_max_kw,
            "e_min_kwh": env.e_min_kwh, "e_max_kwh": env.e_max_kwh,
            "p_max_kw": env.p_max_kw, "p_min_kw": env.p_min_kw, "ds_kwh": env.ds_kwh,
        }))
    return pd.concat(frames, ignore_index=True)[ENVELOPE_COLUMNS]


def concat_frames(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack envelope frames with stable dtypes."""
    import pandas as pd

    out = pd.concat(list(frames), ignore_index=True).reindex(
        columns=[*ENVELOPE_COLUMNS, *RAMP_COLUMNS])
    return out.astype({"layer": "string", "kind": "string", "station": "string",
                       "t": "int32", "time": "string"})
