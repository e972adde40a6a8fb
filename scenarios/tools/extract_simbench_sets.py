"""Regenerate ``scenarios/data/simbench_2016_sets.csv.gz`` from the SimBench dataset.

Six sets of the year 2016 at 15 minutes, each a household load, a PV and a wind profile of
SimBench in its normalised units, with distinct codes in every set (column ``set``):

==  ========  =====  ====
0   H0-H      PV5    WP4   (the profiles of ``simbench_2016_year.csv.gz``)
1   H0-A      PV1    WP1
2   H0-B      PV2    WP2
3   H0-C      PV3    WP3
4   H0-G      PV4    WP5
5   H0-L      PV6    WP6
==  ========  =====  ====

The dispatch study draws its forecast-error days from every set (``scenarios.year_profiles``):
a set is one more draw of each date's errors from another household group, PV site and wind
site. Run with SimBench installed (``pip install simbench``)::

    python -m scenarios.tools.extract_simbench_sets

SimBench (Meinecke et al., Energies 13(12) 3290, 2020) is licensed under ODbL 1.0.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scenarios.tools.extract_simbench_profiles import write_from_simbench

SETS = (("H0-H", "PV5", "WP4"), ("H0-A", "PV1", "WP1"), ("H0-B", "PV2", "WP2"),
        ("H0-C", "PV3", "WP3"), ("H0-G", "PV4", "WP5"), ("H0-L", "PV6", "WP6"))
OUT = Path(__file__).resolve().parents[1] / "data" / "simbench_2016_sets.csv.gz"


def extract(dataset_dir: Path) -> pd.DataFrame:
    """The sets' 15-minute series stacked set by set (``time`` as ISO text)."""
    loads = [f"{s[0]}_pload" for s in SETS]
    load = pd.read_csv(dataset_dir / "LoadProfile.csv", sep=";", usecols=["time", *loads])
    res = pd.read_csv(dataset_dir / "RESProfile.csv", sep=";",
                      usecols=["time", *{c for s in SETS for c in s[1:]}])
    if not load["time"].equals(res["time"]):
        raise ValueError("LoadProfile.csv and RESProfile.csv rows differ in time")
    # by row: the autumn DST hour repeats its time stamps, a merge on time would not
    when = pd.to_datetime(load["time"], format="%d.%m.%Y %H:%M").dt.strftime("%Y-%m-%d %H:%M")
    parts = [pd.DataFrame({"time": when, "set": k, "load_p": load[f"{h}_pload"],
                           "pv_p": res[pv], "wind_p": res[wp]})
             for k, (h, pv, wp) in enumerate(SETS)]
    return pd.concat(parts, ignore_index=True)


def main() -> int:
    """Write the shipped file from the installed SimBench package."""
    return write_from_simbench(extract, OUT, compression="gzip")


if __name__ == "__main__":
    raise SystemExit(main())
