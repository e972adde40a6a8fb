"""Charging-session tables: reading, documented cleaning, initial-SOC derivation.

Accepted CSV columns (one row per charging session):

==================  ==========================================================================
column              meaning
==================  ==========================================================================
``arrival``         plug-in timestamp (alias ``start_local``), any pandas-parsable format
``departure``       plug-out timestamp (alias ``end_local``)
``energy_kwh``      energy delivered in the session (kWh, grid side)
``charger_kw``      optional rated power of the charge point (kW)
``charger_model``   optional model name; used for the rated power when ``charger_kw`` is absent
``soc_init``        optional state of charge at plug-in, 0–1 (used instead of the derivation)
==================  ==========================================================================

Cleaning (:func:`clean_sessions`), in this order, each step counted in the report:
AC charge points only (rated power ≤ ``max_charger_kw``, 22 kW by default); energy > 0;
dwell > 0; energy not above what the charger can deliver in the dwell
(``energy_kwh <= charger_kw * (dwell_h + 1/60)``, one minute of timestamp rounding allowed);
dwell ≤ ``max_dwell_h`` (multi-day parking is not a daily behaviour). Sessions that cross midnight
are kept: the model uses arrival time of day and dwell, never a wrapped clock time.

Initial SOC (:func:`derive_initial_soc`): the data records delivered energy, not SOC. With
method ``"target_minus_delivered"`` a session is assumed to end at ``target_soc`` (drivers top up
to a habitual level), so ``soc_init = target_soc - eta_ch * energy_kwh / capacity_kwh``, clipped
to ``[floor_soc, target_soc]``. Method ``"column"`` uses the ``soc_init`` column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scenarios.errors import InputError

#: Rated power (kW) of the charger models in the Perth & Kinross data. Triple rapid units are
#: 50 kW DC (CHAdeMO/CCS) with a 43 kW AC outlet: all above the AC parking-charger limit.
CHARGER_MODEL_KW: dict[str, float] = {
    "APT Triple Rapid Charger": 50.0,
    "Siemens Triple Rapid Charger": 50.0,
    "APT 22kW Dual Outlet": 22.0,
    "Siemens Semi-Rapid": 22.0,
    "APT 7kW Dual Outlet": 7.0,
    "Siemens 7 kW Dual Outlet": 7.0,
}

_ALIASES = {"start_local": "arrival", "end_local": "departure"}


@dataclass(frozen=True)
class SessionTable:
    """Cleaned sessions as arrays (one entry per session).

    Attributes:
        arrival_min: Arrival time of day in minutes after midnight, in [0, 1440).
        dwell_min: Connection duration in minutes (> 0, may cross midnight).
        energy_kwh: Delivered energy.
        charger_kw: Rated charger power.
        soc_init: State of charge at plug-in if the file provides it, else ``None``.
        report: Counts of rows read and removed per cleaning rule.
    """

    arrival_min: np.ndarray
    dwell_min: np.ndarray
    energy_kwh: np.ndarray
    charger_kw: np.ndarray
    soc_init: np.ndarray | None
    report: dict[str, int]

    def __len__(self) -> int:
        return int(self.arrival_min.size)


def read_sessions(path: str | Path, default_charger_kw: float | None = None) -> pd.DataFrame:
    """Read a sessions CSV into a frame with the canonical column names.

    Raises:
        InputError: Missing file, empty file, missing columns or unparsable timestamps.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"sessions: {path} is a folder; give a file (a sessions CSV)")
    if not path.is_file():
        raise InputError(f"sessions: file {path} does not exist; pass an existing CSV")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputError(f"sessions: {path} is empty; it needs a header and rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"sessions: {path} is not a readable CSV ({exc})") from None
    df = df.rename(columns={k: v for k, v in _ALIASES.items() if v not in df.columns})
    missing = [c for c in ("arrival", "departure", "energy_kwh") if c not in df.columns]
    if missing:
        raise InputError(
            f"sessions: {path} lacks column(s) {', '.join(missing)}; required columns are "
            "arrival, departure, energy_kwh (optional charger_kw, charger_model, soc_init)")
    if df.empty:
        raise InputError(f"sessions: {path} has a header but no rows; add sessions")
    for col in ("arrival", "departure"):
        parsed = pd.to_datetime(df[col], errors="coerce")
        bad = parsed.isna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy())) + 2  # 1-based, after the header line
            raise InputError(f"sessions: column {col}, row {row}: cannot parse timestamp "
                             f"{df[col].iloc[row - 2]!r}; use e.g. 2017-08-31 22:12:00")
        df[col] = parsed
    energy = pd.to_numeric(df["energy_kwh"], errors="coerce")
    if energy.isna().any():
        row = int(np.argmax(energy.isna().to_numpy())) + 2
        raise InputError(f"sessions: column energy_kwh, row {row}: not a number; "
                         "give the delivered energy in kWh")
    df["energy_kwh"] = energy
    if "charger_kw" not in df.columns:
        if "charger_model" in df.columns:
            df["charger_kw"] = df["charger_model"].map(CHARGER_MODEL_KW)
            unknown = df["charger_kw"].isna()
            if unknown.any():
                if default_charger_kw is None:
                    name = df.loc[unknown, "charger_model"].iloc[0]
                    raise InputError(f"sessions: charger_model {name!r} has no known rating; "
                                     "add a charger_kw column")
                df["charger_kw"] = df["charger_kw"].fillna(float(default_charger_kw))
        elif default_charger_kw is not None:
            df["charger_kw"] = float(default_charger_kw)
        else:
            raise InputError("sessions: no charger_kw or charger_model column; add charger_kw "
                             "(rated kW per session)")
    if "soc_init" in df.columns:
        soc = pd.to_numeric(df["soc_init"], errors="coerce")
        bad = soc.isna() | (soc < 0) | (soc > 1)
        if bad.any():
            row = int(np.argmax(bad.to_numpy())) + 2
            raise InputError(f"sessions: column soc_init, row {row}: must be a number in "
                             "[0, 1]; give SOC as a fraction")
        df["soc_init"] = soc
    return df


def clean_sessions(df: pd.DataFrame, max_charger_kw: float = 22.0,
                   max_dwell_h: float = 48.0) -> SessionTable:
    """Apply the documented cleaning rules (module docstring) and return arrays."""
    report = {"rows_read": len(df)}
    dwell_h = (df["departure"] - df["arrival"]).dt.total_seconds() / 3600.0
    rules = (
        ("dropped_not_ac", df["charger_kw"] > max_charger_kw),
        ("dropped_zero_energy", df["energy_kwh"] <= 0),
        ("dropped_nonpositive_dwell", dwell_h <= 0),
        ("dropped_energy_exceeds_charger",
         df["energy_kwh"] > df["charger_kw"] * (dwell_h + 1.0 / 60.0)),
        ("dropped_dwell_above_max", dwell_h > max_dwell_h),
    )
    keep = pd.Series(True, index=df.index)
    for name, bad in rules:
        report[name] = int((keep & bad).sum())
        keep &= ~bad
    kept = df[keep]
    report["rows_kept"] = len(kept)
    if kept.empty:
        raise InputError("sessions: no session survives cleaning (AC <= "
                         f"{max_charger_kw} kW, energy > 0, dwell in (0, {max_dwell_h}] h, "
                         "energy deliverable); check units and charger ratings")
    arr = kept["arrival"]
    arrival_min = (arr.dt.hour * 60 + arr.dt.minute + arr.dt.second / 60.0).to_numpy(float)
    return SessionTable(
        arrival_min=arrival_min,
        dwell_min=(dwell_h[keep] * 60.0).to_numpy(float),
        energy_kwh=kept["energy_kwh"].to_numpy(float),
        charger_kw=kept["charger_kw"].to_numpy(float),
        soc_init=kept["soc_init"].to_numpy(float) if "soc_init" in kept.columns else None,
        report=report,
    )


#: What each cleaning rule of :func:`clean_sessions` drops (report key -> console wording).
DROP_REASONS: dict[str, str] = {
    "dropped_not_ac": "not AC (charger above max_charger_kw)",
    "dropped_zero_energy": "no energy delivered",
    "dropped_nonpositive_dwell": "departure not after arrival",
    "dropped_energy_exceeds_charger": "more energy than the charger can deliver in the dwell",
    "dropped_dwell_above_max": "dwell above max_dwell_h",
}


def cleaning_summary(report: dict[str, int]) -> str:
    """One console line of a cleaning report (``SessionTable.report``), counts by reason.

    E.g. ``sessions: kept 3,286 of 13,639 (dropped: 10,011 not AC (charger above
    max_charger_kw), 271 no energy delivered, ...)``; reasons that dropped nothing are left out.
    """
    parts = [f"{n:,} {DROP_REASONS.get(key, key.removeprefix('dropped_').replace('_', ' '))}"
             for key, n in report.items() if key.startswith("dropped_") and n]
    dropped = f" (dropped: {', '.join(parts)})" if parts else ""
    return (f"sessions: kept {report.get('rows_kept', 0):,} of "
            f"{report.get('rows_read', 0):,}{dropped}")


def load_sessions(path: str | Path, max_charger_kw: float = 22.0, max_dwell_h: float = 48.0,
                  default_charger_kw: float | None = None) -> SessionTable:
    """Read and clean a sessions CSV (see module docstring)."""
    return clean_sessions(read_sessions(path, default_charger_kw), max_charger_kw, max_dwell_h)


def derive_initial_soc(sessions: SessionTable, method: str, capacity_kwh: float,
                       target_soc: float = 0.9, floor_soc: float = 0.05,
                       eta_ch: float = 0.95) -> tuple[np.ndarray, int]:
    """Initial SOC per session and the number of sessions clipped to the floor.

    ``soc_init = clip(target_soc - eta_ch * energy_kwh / capacity_kwh, floor_soc, target_soc)``
    for ``"target_minus_delivered"``; the file's ``soc_init`` for ``"column"``.

    Raises:
        InputError: ``"column"`` without a ``soc_init`` column, or an unknown method.
    """
    if method == "column":
        if sessions.soc_init is None:
            raise InputError("behaviour.initial_soc.method: 'column' needs a soc_init column in "
                             "the sessions CSV; use 'target_minus_delivered' instead")
        return sessions.soc_init.copy(), 0
    if method != "target_minus_delivered":
        raise InputError(f"behaviour.initial_soc.method: unknown {method!r}; use "
                         "'target_minus_delivered' or 'column'")
    raw = target_soc - eta_ch * sessions.energy_kwh / capacity_kwh
    return np.clip(raw, floor_soc, target_soc), int(np.sum(raw < floor_soc))
