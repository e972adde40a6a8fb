"""The zonal two-layer day planner (``--policy dispatch:zonal``; bilevel zonal dispatch paper).

Before the horizon, on the forecast pools of the stations (the same days the day-ahead
envelopes are built on):

1. station aggregates (the stations' packaged day-ahead boundaries as their sets, the pools'
   uncoordinated charging as their users' demand), partition and distribution layer
   (``environment.planning.zonal_setup``);
2. aggregation layer on the expected fleet: trading prices, rounds of the areas' answers
   (price response and tracking with their own diesel) and the distribution layer's targets
   until they agree (``environment.planning.zonal_interaction.iterate_targets``), each area's
   EV trajectory split over its stations (``split_to_stations``);
3. correction round of the distribution layer around those station powers (``redispatch``).

The agents then execute the result tick by tick (``agents.zonal_plan``); the realised
vehicles follow their stations' calls as far as the network and their departures allow,
the AC check runs at the realised point and the ``dispatch`` table records the plan's
deviation from it (``eta_kw``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from agents.dispatch_plan import DispatchStep
from agents.zonal_plan import ZonalExecution
from environment.day_plan import PlanningInputs
from environment.grid_setup import bus_positions
from environment.planning.zonal_areas import (
    AreaSets,
    redispatch,
    split_to_stations,
    trading_prices,
)
from environment.planning.zonal_interaction import iterate_targets
from environment.planning.zonal_setup import (
    ZonalSetup,
    plan_zonal,
    renewable_availability,
    station_aggregates,
)
from environment.records import DispatchRows
from flexibility.fleet import Fleet
from flexibility.packaging import Boundary
from grid.ac import AcResult
from grid.layers import GridModel
from scenarios.config import Scenario


@dataclass(frozen=True)
class ZonalDay:
    """The planned day.

    Attributes:
        setup: Partition and distribution-layer plan.
        plan: What the agents execute (``None``: no feasible plan).
        gen_names: Diesel names.
        gen_cost_per_kwh: Their costs.
        planned_cost: Cost of the corrected plan (purchase, diesel, curtailment, carbon).
        solve_s: Wall time of steps 1-3.
        message: Why there is no plan (empty when there is one).
    """

    setup: ZonalSetup
    plan: ZonalExecution | None
    gen_names: tuple[str, ...]
    gen_cost_per_kwh: np.ndarray
    planned_cost: float
    solve_s: float
    message: str
    method: str = "zonal"
    epsilon: float = float("nan")

    def rows(self, k: int, done: DispatchStep, ac: AcResult, label: str) -> DispatchRows:
        """The ``dispatch`` rows of tick ``k`` (:func:`zonal_rows`)."""
        return zonal_rows(k, self, done, ac, label)

    def metrics(self, frame: pd.DataFrame, dt_h: float) -> dict[str, float]:
        """The day's metrics (:func:`zonal_metrics`)."""
        return zonal_metrics(self, frame, dt_h)

    def planned_background(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The plan's non-EV consumption (base load less its renewables and diesel; reactive
        load less its capacitors and inverters), ``None`` without a plan."""
        return None if self.plan is None else (self.plan.bg_p_kw, self.plan.bg_q_kvar)

    def headline(self, metrics: dict[str, float], ticks: int) -> str:
        """Planned and realised cost, AC-violated ticks, the fleet's deviation from the plan."""
        return (f"dispatch (dispatch:zonal): planned cost {metrics['dispatch_cost_da']:,.0f}, "
                f"realised (purchase + diesel) {metrics['dispatch_cost_realised']:,.0f}; "
                f"{metrics['dispatch_violation_ticks']:.0f} of {ticks} ticks AC-violated; the "
                f"realised fleet deviated {metrics['dispatch_deviation_kwh']:,.0f} kWh from the "
                f"plan's station powers")


def plan_zonal_day(scenario: Scenario, gm: GridModel, pools: list[Fleet],
                   boundary: dict[str, Boundary]) -> ZonalDay:
    """Steps 1-3 of the module docstring; the stations' sets are their packaged day-ahead
    boundaries (``P_down <= p <= P_up``, the energy the box implies), so every call is
    deliverable; the pools give the partition's indicators and the users' uncoordinated
    demand."""
    t0 = time.perf_counter()
    sc, hz = scenario, scenario.horizon
    t_n, dt = hz.n_intervals, hz.dt_h
    gens = sc.dispatch.generators
    names = tuple(g.name for g in gens)
    costs = np.array([g.cost_per_kwh for g in gens])
    agg = station_aggregates(tuple(s.name for s in sc.stations), pools, t_n, dt)
    lo = np.stack([boundary[s.name].p_down_kw[:t_n] for s in sc.stations], axis=1)
    hi = np.maximum(np.stack([boundary[s.name].p_up_kw[:t_n] for s in sc.stations], axis=1),
                    lo)
    agg = replace(agg, lo_kw=lo, hi_kw=hi, y_lo_kwh=np.cumsum(lo, axis=0) * dt,
                  y_hi_kwh=np.cumsum(hi, axis=0) * dt)
    setup = plan_zonal(sc, gm, agg)
    fail = "zonal dispatch: the distribution layer is infeasible (voltage, line, substation or " \
           "EV energy rows); relax grid.v_min_pu, grid.line_margin or grid.substation_kw"
    if not setup.plan.feasible:
        return ZonalDay(setup, None, names, costs, float("nan"), time.perf_counter() - t0, fail)
    to_area = np.eye(len(setup.parts))[setup.station_area]  # (J, D)
    sets = AreaSets(agg.lo_kw @ to_area, agg.hi_kw @ to_area, agg.y_lo_kwh @ to_area,
                    agg.y_hi_kwh @ to_area, agg.asap_kw @ to_area)
    z = sc.dispatch.zonal
    tracks = iterate_targets(setup, gm, sets, trading_prices(setup, gm.ldf), costs, z.targets,
                             z.target_tol_kw, z.target_rounds).tracks
    area_ev = np.stack([tr.ev_kw if tr.feasible else sets.asap_kw[:, d]
                        for d, tr in enumerate(tracks)], axis=1)
    st_sets = (agg.lo_kw, agg.hi_kw, agg.y_lo_kwh, agg.y_hi_kwh)
    station_kw = split_to_stations(setup, st_sets, area_ev)
    fix = redispatch(setup, st_sets, station_kw, gm)
    if not fix.feasible:
        return ZonalDay(setup, None, names, costs, float("nan"), time.perf_counter() - t0,
                        fail.replace("distribution layer", "correction round"))
    bg_p = fix.p_bus_kw - fix.ev_kw @ setup.station_incidence
    plan = ZonalExecution(fix.ev_kw, bg_p, fix.q_bus_kvar, fix.dg_kw)
    return ZonalDay(setup, plan, names, costs, fix.cost, time.perf_counter() - t0, "")


def zonal_rows(k: int, day: ZonalDay, done: DispatchStep, ac: AcResult,
               label: str) -> DispatchRows:
    """The ``dispatch`` rows of tick ``k`` (one per diesel; schedule = realised: the plan's)."""
    gens = list(day.gen_names) or [""]
    g = done.gen_kw.tolist() if day.gen_names else [0.0]
    return DispatchRows(t=k, generator=gens, g_schedule_kw=g, g_kw=g, delta_kw=done.delta_kw,
                        eta_kw=done.eta_kw, call_kw=done.call_kw, reserve_short_kw=0.0,
                        p_slack_kw=float(ac.p_slack_kw[0]),
                        price_per_kwh=float(day.setup.price[k]), ac_violation=label)


def zonal_metrics(day: ZonalDay, frame: pd.DataFrame, dt_h: float) -> dict[str, float]:
    """``dispatch_feasible``, ``dispatch_solve_s``, ``dispatch_cost_da`` (the corrected plan),
    ``dispatch_cost_realised`` (price x AC slack power plus diesel, no carbon),
    ``dispatch_reserve_cost`` (0: no reserve), ``dispatch_violation_ticks`` (AC),
    ``dispatch_joint_ok``, ``dispatch_interval_violation_rate`` and
    ``dispatch_deviation_kwh`` (``dt sum_t |eta_t|``, the plan against the realised fleet)."""
    t_n = len(day.setup.price)
    out = {"dispatch_feasible": float(day.plan is not None), "dispatch_solve_s": day.solve_s}
    if day.plan is None or frame.empty:
        out.update(dispatch_cost_da=float("nan"), dispatch_cost_realised=float("nan"),
                   dispatch_reserve_cost=0.0, dispatch_violation_ticks=float(t_n),
                   dispatch_joint_ok=0.0, dispatch_interval_violation_rate=1.0,
                   dispatch_deviation_kwh=float("nan"))
        return out
    per_tick = frame.groupby("t").first()
    cost_g = dict(zip(day.gen_names, day.gen_cost_per_kwh.tolist(), strict=True))
    gen = float((frame["g_kw"] * frame["generator"].map(cost_g).fillna(0.0)).sum()) * dt_h
    bad = per_tick["ac_violation"] != ""
    out.update(dispatch_cost_da=day.planned_cost,
               dispatch_cost_realised=float((per_tick["price_per_kwh"]
                                             * per_tick["p_slack_kw"].clip(lower=0.0)).sum())
               * dt_h + gen,
               dispatch_reserve_cost=0.0, dispatch_violation_ticks=float(bad.sum()),
               dispatch_joint_ok=float(not bad.any()),
               dispatch_interval_violation_rate=float(np.mean(bad)) if len(bad) else 1.0,
               dispatch_deviation_kwh=float(per_tick["eta_kw"].abs().sum() * dt_h))
    return out


def expected_background(scenario: Scenario, gm: GridModel) -> tuple[np.ndarray, np.ndarray]:
    """The feeder's non-EV consumption with the zonal case's devices at their expected output,
    before the day is planned: base load less every renewable's available output (nothing
    curtailed) and less the diesels at full output when they must run (else off); reactive
    load as it is (the capacitors and inverters are the plan's)."""
    sc, z = scenario, scenario.dispatch.zonal
    p = gm.background.p_net_kw.copy()
    if z.renewables:
        pos, avail = renewable_availability(sc, gm)
        np.add.at(p.T, pos, -avail.T)
    gens = sc.dispatch.generators
    if gens and z.dg_must_run:
        pos = bus_positions(sc, gm, [g.bus for g in gens], "dispatch.generators")
        np.add.at(p.T, pos, -np.array([g.p_max_kw for g in gens])[:, None])
    return p, gm.background.q_load_kvar.copy()


@dataclass(frozen=True)
class ZonalPlanner:
    """The zonal two-layer day planner (module docstring)."""

    def forecast_background(self, scenario: Scenario, grid: GridModel
                            ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`expected_background`."""
        return expected_background(scenario, grid)

    def plan_day(self, inputs: PlanningInputs) -> ZonalDay:
        """:func:`plan_zonal_day` on the pools and the committed boundaries."""
        return plan_zonal_day(inputs.scenario, inputs.grid, inputs.pools, inputs.boundary)
