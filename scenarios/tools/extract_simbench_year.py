"""Regenerate ``scenarios/data/simbench_2016_year.csv.gz`` from the SimBench dataset.

The shipped file holds the whole year 2016 at 15 minutes (35,136 rows) of three SimBench
profiles in SimBench's normalised units: the household load ``H0-H`` (column ``load_p``, the
profile whose summer-weekday mean shapes the default scenario's background load), the PV
profile ``PV5`` (``pv_p``) and the wind profile ``WP4`` (``wind_p``). The dispatch model's
forecast errors are computed from it at run time (``environment.planning.chance``). Run with
SimBench installed (``pip install simbench``)::

    python -m scenarios.tools.extract_simbench_year

SimBench (Meinecke et al., Energies 13(12) 3290, 2020) is licensed under ODbL 1.0.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scenarios.tools.extract_simbench_profiles import write_from_simbench

COLUMNS = {"H0-H_pload": "load_p", "PV5": "pv_p", "WP4": "wind_p"}
OUT = Path(__file__).resolve().parents[1] / "data" / "simbench_2016_year.csv.gz"


def extract(dataset_dir: Path) -> pd.DataFrame:
    """The year's 15-minute series of the three profiles (``time`` as ISO text)."""
    load = pd.read_csv(dataset_dir / "LoadProfile.csv", sep=";", usecols=["time", "H0-H_pload"])
    res = pd.read_csv(dataset_dir / "RESProfile.csv", sep=";", usecols=["time", "PV5", "WP4"])
    if not load["time"].equals(res["time"]):
        raise ValueError("LoadProfile.csv and RESProfile.csv rows differ in time")
    # joined by row: the autumn DST hour repeats its time stamps, a merge on time would not
    frame = pd.concat([load, res.drop(columns="time")], axis=1).rename(columns=COLUMNS)
    when = pd.to_datetime(frame["time"], format="%d.%m.%Y %H:%M")
    frame["time"] = when.dt.strftime("%Y-%m-%d %H:%M")
    return frame[["time", *COLUMNS.values()]]


def main() -> int:
    """Write the shipped file from the installed SimBench package."""
    return write_from_simbench(extract, OUT, compression="gzip")


if __name__ == "__main__":
    raise SystemExit(main())
