"""Day metrics of a dispatched day (``dispatch:*`` policies), from the ``dispatch`` table.

* ``dispatch_feasible`` — the day-ahead model found a dispatch (1) or not (0: the fleet idled
  and the day counts as violated);
* ``dispatch_cost_da`` / ``dispatch_reserve_cost`` — its objective and reserve part;
* ``dispatch_cost_realised`` — ``sum_t dt (price_t P_slack,t + sum_g cost_g g_t)`` at the
  realised operating points (AC slack, losses included) plus the reserve cost;
* ``dispatch_violation_ticks`` — ticks with an AC violation or a reserve shortfall (a joint
  violation of the tick's chance constraint); ``dispatch_reserve_short_ticks`` the latter alone;
* ``dispatch_joint_ok`` — 1 when no tick was violated (the replicate-day reliability);
* ``dispatch_interval_violation_rate`` — violated ticks over ticks (the per-interval promise);
* ``dispatch_solve_s`` — wall time of the day-ahead solve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from environment.dispatch_setup import DayDispatch
from environment.zonal_day import ZonalDay, zonal_metrics


def dispatch_metrics(day: DayDispatch, frame: pd.DataFrame, dt_h: float) -> dict[str, float]:
    """The metrics of the module docstring."""
    t_n = day.case.inst.shape[0]
    out = {"dispatch_feasible": float(day.sol.feasible), "dispatch_solve_s": day.solve_s}
    if not day.sol.feasible or frame.empty:
        nan = float("nan")
        out.update(dispatch_cost_da=nan, dispatch_reserve_cost=nan, dispatch_cost_realised=nan,
                   dispatch_violation_ticks=float(t_n), dispatch_reserve_short_ticks=nan,
                   dispatch_joint_ok=0.0, dispatch_interval_violation_rate=1.0)
        return out
    cost_g = dict(zip(day.case.gen_names, [g for g in day.case.inst.gen_cost_per_kwh],
                      strict=True))
    per_tick = frame.groupby("t").first()
    gen_cost = float((frame["g_kw"] * frame["generator"].map(cost_g).fillna(0.0)).sum()) * dt_h
    energy = float((per_tick["price_per_kwh"] * per_tick["p_slack_kw"]).sum()) * dt_h
    bad = (per_tick["ac_violation"] != "") | (per_tick["reserve_short_kw"] > 0)
    out.update(dispatch_cost_da=day.sol.cost, dispatch_reserve_cost=day.sol.reserve_cost,
               dispatch_cost_realised=energy + gen_cost + day.sol.reserve_cost,
               dispatch_violation_ticks=float(bad.sum()),
               dispatch_reserve_short_ticks=float((per_tick["reserve_short_kw"] > 0).sum()),
               dispatch_joint_ok=float(not bad.any()),
               dispatch_interval_violation_rate=float(np.mean(bad)) if len(bad) else 1.0)
    return out


def day_dispatch_metrics(day: DayDispatch | ZonalDay, frame: pd.DataFrame,
                         dt_h: float) -> dict[str, float]:
    """The metrics of either kind of dispatched day (``dispatch:zonal``: ``zonal_metrics``)."""
    if isinstance(day, ZonalDay):
        return zonal_metrics(day, frame, dt_h)
    return dispatch_metrics(day, frame, dt_h)
