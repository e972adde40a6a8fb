"""Regenerate ``scenarios/data/home_charging_nhts.csv``: residential evening-to-morning sessions.

The zonal dispatch paper generates its 3,000 EVs "based on the scheme in Xu et al. (2012)",
whose numbers it does not give; that scheme belongs to the family of home-charging models
fitted to the 2009 US National Household Travel Survey (NHTS) that the Chinese EV-load
literature uses (e.g. Luo, Hu, Song et al., "Study on plug-in electric vehicles charging load
calculating", Automation of Electric Power Systems 35(14), 2011). Each vehicle plugs in when
it comes home and leaves the next morning:

* arrival (end of the last trip) ``~ N(17.47 h, 3.41 h)``, taken modulo 24 h;
* departure the next morning ``~ N(8.92 h, 3.24 h)``, redrawn until the dwell is 1–24 h;
* daily distance ``d ~ LogNormal(mu=3.20, sigma=0.88)`` km (the literature quotes the fit in
  km; the NHTS itself reports miles, so this is the lower of the two readings);
* energy to replace ``e = KWH_PER_KM * d``, at most what the charger gives in the dwell.

The four distribution parameters are the commonly quoted NHTS-2009 fit; ``KWH_PER_KM``, the
7 kW charger and the sample size are our choices. The file is drawn once with a fixed seed and
shipped, so every run fits the behaviour model (``scenarios.behaviour``) to the same table::

    python -m scenarios.tools.make_home_sessions
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ARRIVAL_MEAN_H, ARRIVAL_SD_H = 17.47, 3.41
DEPARTURE_MEAN_H, DEPARTURE_SD_H = 8.92, 3.24
DISTANCE_MU, DISTANCE_SIGMA = 3.20, 0.88
KWH_PER_KM = 0.15
CHARGER_KW = 7.0
N_SESSIONS = 5000
SEED = 20120101
OUT = Path(__file__).resolve().parents[1] / "data" / "home_charging_nhts.csv"


def draw(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` sessions as the sessions CSV columns (``start_local``, ``end_local``,
    ``energy_kwh``, ``charger_kw``), dated over one year so that no date is special."""
    arrival_h = np.mod(rng.normal(ARRIVAL_MEAN_H, ARRIVAL_SD_H, n), 24.0)
    dwell_h = np.full(n, np.nan)
    todo = np.arange(n)
    while todo.size:  # departure the next morning, dwell 1-24 h
        dep_h = rng.normal(DEPARTURE_MEAN_H, DEPARTURE_SD_H, todo.size)
        dwell = np.mod(dep_h - arrival_h[todo], 24.0)
        ok = (dwell >= 1.0) & (dep_h > 0.0) & (dep_h < 24.0)
        dwell_h[todo[ok]] = dwell[ok]
        todo = todo[~ok]
    distance_km = rng.lognormal(DISTANCE_MU, DISTANCE_SIGMA, n)
    arrival_min, dwell_min = np.round(arrival_h * 60.0), np.round(dwell_h * 60.0)
    energy_kwh = np.minimum(KWH_PER_KM * distance_km, CHARGER_KW * dwell_min / 60.0)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 365, unit="D")
    start = day + pd.to_timedelta(arrival_min, unit="min")
    end = start + pd.to_timedelta(dwell_min, unit="min")
    return pd.DataFrame({"start_local": start.strftime("%Y-%m-%d %H:%M"),
                         "end_local": end.strftime("%Y-%m-%d %H:%M"),
                         "energy_kwh": np.maximum(np.floor(energy_kwh * 100.0) / 100.0, 0.01),
                         "charger_kw": CHARGER_KW})


def main() -> None:
    """Write the shipped table."""
    draw(N_SESSIONS, np.random.default_rng(SEED)).to_csv(OUT, index=False)
    print(f"wrote {OUT} ({N_SESSIONS} sessions)")


if __name__ == "__main__":
    main()
