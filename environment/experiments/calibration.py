"""Calibration of the day-ahead product: what a TSO experiences at each confidence level α.

For every α of a ``--calibration`` sweep (Monte Carlo days with the realised EVs deviating from
the forecast) one row per **measure**:

* ``<layer> calls`` (``reserve``, ``da``, ``prev``, ``rt``): calls inside that layer's rows,
  pooled over the days, and the share delivered within 1 %; Wilson score interval over the
  pooled calls (calls of one day are not independent, so read it as a lower bound on the
  uncertainty);
* ``reserve days``: days on which every reserve call was delivered — the α promise is per day;
  Wilson interval over the days;
* ``DA schedule``: share of ticks whose absolute day-ahead schedule ``R_hat`` lay inside the
  boundary published at the tick (mean over days, t-interval clipped to [0, 1]).

The calibration targets (``CALIBRATION_SLACK`` = 0.02) at every α:

* ``reserve_days_calibrated`` — the product's promise: the share of days on which every reserve
  call held is not significantly below ``alpha - CALIBRATION_SLACK`` (the Wilson interval's
  upper end reaches it);
* ``reserve_calls_calibrated`` — the reserve calls' pooled hold rate is at least
  ``alpha - CALIBRATION_SLACK`` (a weaker, per-call reading: a product that misses one call on
  many days still holds most calls).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from environment.experiments.intervals import ci95
from environment.experiments.montecarlo import MCRun
from environment.validation import LAYERS
from environment.verdict import Check, target, wilson_interval

CALIBRATION_SLACK = 0.02
MEASURE_COLUMNS = ("alpha", "measure", "days", "n", "hold_rate", "ci_low", "ci_high")


def _row(params: dict[str, str], measure: str, days: int, n: int, rate: float, low: float,
         high: float) -> dict:
    return {**params, "alpha": float(params["alpha"]), "measure": measure, "days": days,
            "n": n, "hold_rate": rate, "ci_low": low, "ci_high": high}


def calibration_table(results: list[tuple[dict[str, str], MCRun]]) -> pd.DataFrame:
    """One row per (sweep point, measure) with its interval (module docstring)."""
    rows = []
    for params, run in results:
        m = run.metrics
        days = len(m)
        for layer in LAYERS:
            rate = m.get(f"hold_rate_{layer}")
            count = m.get(f"calls_inside_{layer}")
            if rate is None or count is None:
                continue
            c = count.to_numpy(float)
            held = float(np.nansum(rate.to_numpy(float) * c))
            n = int(np.nansum(c))
            low, high = wilson_interval(round(held), n)
            rows.append(_row(params, f"{layer} calls", days, n,
                             held / n if n else float("nan"), low, high))
        if "reserve_day_held" in m:
            d = m["reserve_day_held"].to_numpy(float)
            d = d[np.isfinite(d)]
            low, high = wilson_interval(int(d.sum()), int(d.size))
            rows.append(_row(params, "reserve days", days, int(d.size),
                             float(d.mean()) if d.size else float("nan"), low, high))
        if "schedule_hold_rate" in m:
            mean, _std, low, high = ci95(m["schedule_hold_rate"].to_numpy(float))
            rows.append(_row(params, "DA schedule", days, days, mean, max(0.0, low),
                             min(1.0, high)))
    return pd.DataFrame(rows, columns=[*[c for c in (rows[0] if rows else {})
                                         if c not in MEASURE_COLUMNS], *MEASURE_COLUMNS])


def calibration_checks(table: pd.DataFrame) -> list[Check]:
    """The two calibration targets of a reserve policy (module docstring)."""
    out = []
    days = table[table.measure == "reserve days"]
    if not days.empty:
        miss = days[~(days.ci_high >= days.alpha - CALIBRATION_SLACK - 1e-12)]
        out.append(target("reserve_days_calibrated", miss.empty,
                          "days on which every reserve call held, against α − "
                          f"{CALIBRATION_SLACK:g}: {_detail(days, 'days')}"))
    calls = table[table.measure == "reserve calls"]
    if not calls.empty:
        miss = calls[~(calls.hold_rate >= calls.alpha - CALIBRATION_SLACK - 1e-12)]
        out.append(target("reserve_calls_calibrated", miss.empty,
                          f"reserve calls held, against α − {CALIBRATION_SLACK:g}: "
                          f"{_detail(calls, 'calls')}"))
    return out


def _detail(rows: pd.DataFrame, unit: str) -> str:
    return "; ".join(f"α {r.alpha:g}: {100 * r.hold_rate:.1f} % "
                     f"[{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}] of {r.n} {unit}"
                     for r in rows.itertuples())
