"""Regenerate ``scenarios/data/simbench_summer_weekday.csv`` from the SimBench dataset.

The shipped file is the mean over the summer weekdays (June–August 2016, Monday–Friday) of the
SimBench household active-power load profile ``H0-H`` and of the PV profile ``PV5``,
per 15-minute slot of the day. Values stay in SimBench's normalised units; the scenario scales
them (``scenarios.profiles``). Run with SimBench installed (``pip install simbench``)::

    python -m scenarios.tools.extract_simbench_profiles

SimBench (Meinecke et al., Energies 13(12) 3290, 2020) is licensed under ODbL 1.0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

LOAD_PROFILE = "H0-H"
PV_PROFILE = "PV5"
MONTHS = (6, 7, 8)
OUT = Path(__file__).resolve().parents[1] / "data" / "simbench_summer_weekday.csv"


def extract(dataset_dir: Path) -> pd.DataFrame:
    """Mean summer-weekday profile per 15-minute slot from SimBench's profile CSVs."""
    load = pd.read_csv(dataset_dir / "LoadProfile.csv", sep=";",
                       usecols=["time", f"{LOAD_PROFILE}_pload"])
    res = pd.read_csv(dataset_dir / "RESProfile.csv", sep=";", usecols=["time", PV_PROFILE])
    frame = load.merge(res, on="time")
    when = pd.to_datetime(frame.pop("time"), format="%d.%m.%Y %H:%M")
    keep = when.dt.month.isin(MONTHS) & (when.dt.dayofweek < 5)
    slot = when.dt.strftime("%H:%M")[keep]
    mean = frame[keep].groupby(slot.values).mean()
    mean.index.name = "time"
    return mean.rename(columns={f"{LOAD_PROFILE}_pload": "load_p",
                                PV_PROFILE: "pv_p"}).reset_index()


def write_from_simbench(extract_fn, out: Path, **csv_kwargs) -> int:
    """Run ``extract_fn`` on the installed SimBench dataset and write ``out``."""
    try:
        import simbench
    except ImportError:
        print("error: SimBench is not installed; pip install simbench", file=sys.stderr)
        return 2
    root = Path(simbench.__file__).parent / "networks" / "1-complete_data-mixed-all-0-sw"
    extract_fn(root).to_csv(out, index=False, float_format="%.6f", **csv_kwargs)
    print(f"wrote {out}")
    return 0


def main() -> int:
    """Write the shipped CSV from the installed SimBench package."""
    return write_from_simbench(extract, OUT)


if __name__ == "__main__":
    raise SystemExit(main())
