"""The chance-constrained day planner (``dispatch:oba|bonferroni|so|ro``): scenario -> day-ahead
dispatch instance (devices, aggregators, uncertainty), its solve, and the planned day's rows and
metrics.

The DSO's day-ahead problem of ``dispatch.da_model`` on the scenario's feeder:

* **background** — the grid model's forecast non-EV load and PV per bus, minus the wind farm's
  forecast (``dispatch.wind_peak_kw`` times the seasonal day-type mean of the wind profile,
  spread equally over ``wind_buses``);
* **generators** — ``[[dispatch.generators]]`` at their buses;
* **EV aggregators** — one per station, the station's packaged day-ahead boundary
  (``Boundary``: ``P_down <= p <= P_up``, cumulative energy ``E`` between the sums of the box,
  ramp limits); a box package implies its energy and ramp limits, so they never bind;
* **uncertainty**, two sources kept apart:
  ``delta_t`` the net-load error in kW: the load error scaled as the scenario scales the load
  shape (``(P_peak - P_min) / (max x - min x)``), minus the PV error scaled by
  ``P_pv,peak / max y``, minus the wind error times ``wind_peak_kw``, on the data's days of the
  chosen months and day type (``scenarios.year_profiles``); ``eta_t`` the EV demand error in
  kW: each sampled day's reference charging power of the whole fleet minus the mean over the
  sampled days (the behaviour model's days of the day-ahead case). Each source gets a Gaussian
  mixture per hour by BIC (``dispatch.uncertainty.pooled_moments``) and its mean and variance
  per interval; the two are independent (covariance diagonal);
* **split of the errors** — ``w_net`` in proportion to the buses' nominal loads; ``w_ev`` in
  proportion to each station's standard deviation of the reference;
* **out of sample** — the data days and the sampled EV days are split alternately: the even
  ones are fitted (mixtures, the ``ro`` box, the ``so`` training days), the odd ones are held
  out for evaluation (the co-simulated day's realised errors, the replay of ``dispatch``);
* **samples** — ``so`` trains on ``so_samples`` whole days drawn from the fitted days (the
  data, not the fitted mixture), with the injected generator.

Metrics of a dispatched day (:meth:`DayDispatch.metrics`, from the ``dispatch`` table):

* ``dispatch_feasible`` — the day-ahead model found a dispatch (1) or not (0: the fleet idled
  and the day counts as violated);
* ``dispatch_cost_da`` / ``dispatch_reserve_cost`` — its objective and reserve part;
* ``dispatch_cost_realised`` — ``sum_t dt (price_t P_slack,t + sum_g cost_g g_t)`` at the
  realised operating points (AC slack, losses included; an export, ``P_slack < 0``, at the
  export price) plus the reserve cost;
* ``dispatch_violation_ticks`` — ticks with an AC violation or a reserve shortfall (a joint
  violation of the tick's chance constraint); ``dispatch_reserve_short_ticks`` the latter alone;
* ``dispatch_joint_ok`` — 1 when no tick was violated (the replicate-day reliability);
* ``dispatch_interval_violation_rate`` — violated ticks over ticks (the per-interval promise);
* ``dispatch_solve_s`` — wall time of the day-ahead solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from agents.dispatch_plan import DispatchPlan, DispatchStep, make_plan
from dispatch.da_diagnose import infeasible_family
from dispatch.da_model import DaSolution, solve_da
from dispatch.da_rows import DaInstance
from dispatch.uncertainty import IntervalMoments, pooled_moments, source_shapes
from environment.day_plan import PlanningInputs
from environment.grid_setup import bus_positions
from environment.records import DispatchRows
from flexibility.common import FloatArray
from flexibility.packaging import Boundary
from grid.ac import AcResult
from grid.layers import GridModel
from scenarios.config import Scenario
from scenarios.profiles import read_shapes
from scenarios.year_profiles import read_year, slots, year_errors

ADVICE = {  # the fix of each infeasible family, in the scenario's and the CLI's terms
    "devices": "the aggregators' boundaries, energy and ramp limits contradict each other; "
               "check the packaged boundaries",
    "substation": "raise grid.substation_kw or add generation",
    "thermal": "lines cannot carry the schedule with its recourse; raise grid.line_margin or "
               "move generators",
    "voltage": "voltages cannot hold with the recourse; move generators nearer the weak buses "
               "or relax grid.v_min_pu",
    "reserve": "the generators and EV aggregators cannot hold the reserves the risk asks for; "
               "add generator capacity, raise dispatch.epsilon (--epsilon) or use the oba "
               "method (--method oba)",
    "all": "the joint risk budget is too small for all families together; raise "
           "dispatch.epsilon (--epsilon) or use the oba method (--method oba)",
}

E_TOL_KWH = 1e-6  # the box's own energy sums, widened by rounding only


@dataclass(frozen=True)
class DispatchCase:
    """A scenario's day-ahead dispatch problem and the data behind its uncertainty.

    Attributes:
        inst: The instance of ``dispatch.da_model``.
        station_names: Aggregators (stations) in column order.
        gen_names: Generators in column order.
        net_days_kw: Net-load errors of the data days ``(D, T)`` (kW), for replay.
        ev_days_kw: EV demand errors of the sampled days ``(M, T)`` (kW).
        net_moments: Fitted moments of ``delta``.
        ev_moments: Fitted moments of ``eta``.
        train: Error samples ``(N, T, 2)`` for ``so``.
        days: Dates of the data days fitted.
        loss_kw: Feeder losses of the forecast background (AC), per interval.
        test_net_days_kw: Net-load errors of the held-out data days ``(D', T)``.
        test_ev_days_kw: EV demand errors of the held-out sampled days ``(M', T)``.
        test_days: Dates of the held-out data days.
        union: What ``bonferroni`` and ``oba`` split the risk over (``dispatch.union``).
    """

    inst: DaInstance
    station_names: tuple[str, ...]
    gen_names: tuple[str, ...]
    net_days_kw: FloatArray
    ev_days_kw: FloatArray
    net_moments: IntervalMoments
    ev_moments: IntervalMoments
    train: FloatArray
    days: tuple[str, ...]
    loss_kw: FloatArray
    test_net_days_kw: FloatArray
    test_ev_days_kw: FloatArray
    test_days: tuple[str, ...]
    union: str = "directions"


def net_load_errors(scenario: Scenario
                    ) -> tuple[FloatArray, FloatArray, tuple[str, ...], np.ndarray]:
    """Net-load errors ``(D, T)`` (kW), the wind forecast ``(T,)`` (kW), the data days and the
    mask of the days fitted (even date rank; the odd ones are held out, no date on both
    sides)."""
    d, hz, prof = scenario.dispatch, scenario.horizon, scenario.grid.profiles
    year = year_errors(read_year(d.uncertainty_source, scenario.base_dir),
                       tuple(d.uncertainty_months), d.uncertainty_weekend,
                       d.forecast_window_days, d.forecast)
    shapes = read_shapes(prof.source, scenario.base_dir)
    x, y = shapes["load_p"].to_numpy(float), shapes["pv_p"].to_numpy(float)
    load_scale = (prof.load_peak_kw - prof.load_min_kw) / max(float(np.ptp(x)), 1e-12)
    pv_scale = prof.pv_peak_kw / y.max() if y.max() > 0 else 0.0
    s = slots(hz.start_min, hz.dt_min, hz.n_intervals)
    e = {k: v[:, s] for k, v in year.error.items()}
    net = load_scale * e["load_p"] - pv_scale * e["pv_p"] - d.wind_peak_kw * e["wind_p"]
    wind = d.wind_peak_kw * year.forecast["wind_p"][:, s].mean(axis=0)
    return net, wind, year.days, year.date_parity(0)


def build_dispatch_case(scenario: Scenario, gm: GridModel, boundary: dict[str, Boundary],
                        ev_ref_kw: FloatArray, rng: np.random.Generator) -> DispatchCase:
    """The scenario's day-ahead dispatch instance (module docstring).

    Args:
        scenario: The scenario (its ``[dispatch]`` section).
        gm: Its grid model.
        boundary: Packaged day-ahead boundary per station (grid order).
        ev_ref_kw: Reference power of the sampled days per station ``(M, J, T)``.
        rng: Generator for the ``so`` training days.

    Raises:
        InputError: A generator or wind bus not on the feeder, bad uncertainty data.
    """
    d, hz = scenario.dispatch, scenario.horizon
    t_n, dt_h = hz.n_intervals, hz.dt_h
    names = tuple(gm.stations)
    gen_pos = bus_positions(scenario, gm, [g.bus for g in d.generators], "dispatch.generators.bus")
    wind_pos = bus_positions(scenario, gm, d.wind_buses, "dispatch.wind_buses")
    net_all, wind_kw, days_all, fit = net_load_errors(scenario)
    p_bg, q_bg = gm.bg(0, t_n)
    p_bg = p_bg.copy()
    if wind_pos.size:
        np.add.at(p_bg.T, wind_pos, -wind_kw[None, :] / wind_pos.size)
    lo = np.stack([boundary[n].p_down_kw[:t_n] for n in names], axis=1)
    hi = np.maximum(np.stack([boundary[n].p_up_kw[:t_n] for n in names], axis=1), lo)
    ramp = np.stack([np.maximum(boundary[n].ramp_up_kw, boundary[n].ramp_down_kw).max()
                     * np.ones(1) for n in names], axis=1)[0]
    ref = np.asarray(ev_ref_kw, dtype=float)[..., :t_n]
    dev = ref - ref.mean(axis=0, keepdims=True)  # (M, J, T)
    ev_all = dev.sum(axis=1)
    sd_j = dev.std(axis=(0, 2))
    # fit on the even dates, evaluate on the odd ones (out of sample)
    net_days, ev_days = net_all[fit], ev_all[0::2]
    w_ev = sd_j / sd_j.sum() if sd_j.sum() > 0 else np.full(len(names), 1.0 / len(names))
    seed = scenario.seed
    pool = 1  # one mixture per interval: the dispatch's own resolution
    net_m = pooled_moments(net_days, pool, d.max_components, seed, "net-load errors")
    ev_m = pooled_moments(ev_days, pool, d.max_components, seed, "EV demand errors")
    cov = np.zeros((t_n, 2, 2))
    cov[:, 0, 0], cov[:, 1, 1] = net_m.var, ev_m.var
    nom = gm.feeder.load_p_kw
    train = np.stack([net_days[rng.integers(0, len(net_days), d.so_samples)],
                      ev_days[rng.integers(0, len(ev_days), d.so_samples)]], axis=-1)
    minutes = hz.start_min + hz.dt_min * np.arange(t_n)
    base = gm.solver.solve(p_bg, q_bg)
    loss = np.where(base.converged, base.p_slack_kw - p_bg.sum(axis=1), 0.0)
    inst = DaInstance(
        dt_h=dt_h, p_bg_kw=p_bg, q_bg_kvar=q_bg.copy(),
        price_per_kwh=np.array([d.price_at(float(m)) for m in minutes]),
        gen_pos=gen_pos, gen_max_kw=np.array([g.p_max_kw for g in d.generators]),
        gen_cost_per_kwh=np.array([g.cost_per_kwh for g in d.generators]),
        gen_reserve_cost_per_kw=np.array([g.reserve_cost_per_kw for g in d.generators]),
        ev_pos=np.asarray(gm.positions, dtype=int), ev_p_min_kw=lo, ev_p_max_kw=hi,
        ev_e_min_kwh=np.cumsum(lo, axis=0) * dt_h - E_TOL_KWH,
        ev_e_max_kwh=np.cumsum(hi, axis=0) * dt_h + E_TOL_KWH,
        ev_ramp_kw=ramp, ev_reserve_cost_per_kw=np.full(len(names), d.ev_reserve_cost_per_kw),
        w_net=nom / nom.sum(), w_ev=w_ev, mu=np.c_[net_m.mean, ev_m.mean], cov=cov,
        limits=gm.limits, loss_kw=loss, ambiguity=d.ambiguity,
        export_price_per_kwh=(None if d.export_price_per_kwh is None
                              else np.full(t_n, d.export_price_per_kwh)),
        export_cap_kw=d.export_cap_kw,
        shapes=source_shapes(net_m, ev_m, pool))
    return DispatchCase(inst, names, tuple(g.name for g in d.generators), net_days, ev_days,
                        net_m, ev_m, train, tuple(np.asarray(days_all)[fit]), loss,
                        net_all[~fit], ev_all[1::2], tuple(np.asarray(days_all)[~fit]),
                        d.union)


RO_SCALES = np.round(np.arange(1.0, 6.0001, 0.05), 2)
"""Scales of the fitted days' support tried for the ``ro`` box (smallest that covers)."""


def robust_box(case: DispatchCase, eps: float) -> tuple[FloatArray, FloatArray]:
    """The ``ro`` box ``(lo, hi)``, each ``(T, 2)``, sized to the coverage ``1 - eps`` per
    interval (the promise the chance rows make).

    Per source (net load, EV demand) and interval: the fitted days are split by parity; the
    range of the even half (about its mean ``c``) is scaled by the smallest ``f`` in
    :data:`RO_SCALES` for which a share ``>= 1 - eps / 2`` of the odd half lies inside it, and
    the returned box is that scale applied to the range of all fitted days. With both sources
    inside (a union bound over the two) every row of the interval holds.
    """
    lo, hi = [], []
    for days in (case.net_days_kw, case.ev_days_kw):
        f = _cover_scale(days[0::2], days[1::2], 1.0 - eps / 2.0)
        c = days.mean(axis=0)
        lo.append(c + f * (days.min(axis=0) - c))
        hi.append(c + f * (days.max(axis=0) - c))
    return np.stack(lo, axis=1), np.stack(hi, axis=1)


def _cover_scale(fit: FloatArray, check: FloatArray, share: float) -> FloatArray:
    """Per interval, the smallest scale of ``fit``'s range about its mean holding ``share`` of
    the ``check`` days (the largest scale tried where none does) ``(T,)``."""
    c = fit.mean(axis=0)
    f = RO_SCALES[:, None]
    lo = (c + f * (fit.min(axis=0) - c))[:, None, :]  # (F, 1, T)
    hi = (c + f * (fit.max(axis=0) - c))[:, None, :]
    inside = ((check[None] >= lo - 1e-9) & (check[None] <= hi + 1e-9)).mean(axis=1)  # (F, T)
    ok = inside >= share
    first = np.where(ok.any(axis=0), ok.argmax(axis=0), len(RO_SCALES) - 1)
    return RO_SCALES[first]


def solve_case(case: DispatchCase, ldf, method: str, eps: float,
               union: str | None = None) -> DaSolution:
    """One variant on a case: ``so`` on its training days, ``ro`` over :func:`robust_box`;
    ``bonferroni``/``oba`` over the case's union (or ``union``)."""
    return solve_da(case.inst, ldf, method, eps, samples=case.train,
                    box_kw=robust_box(case, eps) if method == "ro" else None,
                    union=union or case.union)


def explain_infeasible(case: DispatchCase, ldf, method: str, eps: float) -> str:
    """The one-line message of an infeasible variant, naming the constraint family."""
    kwargs = {"samples": case.train, "union": case.union,
              "box_kw": robust_box(case, eps) if method == "ro" else None}
    fam = infeasible_family(case.inst, ldf, method, eps, **kwargs)
    return infeasibility_message(method, eps, fam)


@dataclass(frozen=True)
class DayDispatch:
    """The day-ahead dispatch of a co-simulated day.

    Attributes:
        case: The instance and its data.
        sol: The solution (``feasible`` False: no dispatch found).
        plan: The plan the agents follow (``None`` when infeasible).
        method: Variant.
        epsilon: Joint risk per interval.
        solve_s: Wall time of the solve.
        message: Why there is no plan (empty when there is one).
    """

    case: DispatchCase
    sol: DaSolution
    plan: DispatchPlan | None
    method: str
    epsilon: float
    solve_s: float
    message: str

    def rows(self, k: int, done: DispatchStep, ac: AcResult, label: str) -> DispatchRows:
        """The ``dispatch`` rows of tick ``k`` (one per generator)."""
        return dispatch_rows(k, self, done, ac, label)

    def metrics(self, frame: pd.DataFrame, dt_h: float) -> dict[str, float]:
        """The metrics of the module docstring."""
        return dispatch_metrics(self, frame, dt_h)

    def planned_background(self) -> None:
        """``None``: the generators' outputs depend on the realised day, so the grid agent
        keeps its forecast background."""
        return None

    def headline(self, metrics: dict[str, float], ticks: int) -> str:
        """Planned and realised cost, jointly violated ticks, the realised data day."""
        day = self.plan.day if self.plan is not None else None
        return (f"dispatch (dispatch:{self.method}, eps {self.epsilon:g}): day-ahead cost "
                f"{metrics['dispatch_cost_da']:,.0f}, realised "
                f"{metrics['dispatch_cost_realised']:,.0f}; "
                f"{metrics['dispatch_violation_ticks']:.0f} of {ticks} ticks jointly violated "
                f"({metrics['dispatch_reserve_short_ticks']:.0f} reserve shortfalls); data day "
                f"{day}")


def dispatch_rows(k: int, day: DayDispatch, done: DispatchStep, ac: AcResult,
                  label: str) -> DispatchRows:
    """The ``dispatch`` rows of tick ``k``."""
    sol = day.sol
    gens = list(day.case.gen_names) or [""]
    sched = sol.g_kw[k].tolist() if day.case.gen_names else [0.0]
    real = done.gen_kw.tolist() if day.case.gen_names else [0.0]
    return DispatchRows(t=k, generator=gens, g_schedule_kw=sched, g_kw=real,
                        delta_kw=done.delta_kw, eta_kw=done.eta_kw, call_kw=done.call_kw,
                        reserve_short_kw=done.reserve_short_kw,
                        p_slack_kw=float(ac.p_slack_kw[0]),
                        price_per_kwh=float(day.case.inst.price_per_kwh[k]), ac_violation=label)


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
    cost_g = dict(zip(day.case.gen_names, list(day.case.inst.gen_cost_per_kwh), strict=True))
    per_tick = frame.groupby("t").first()
    gen_cost = float((frame["g_kw"] * frame["generator"].map(cost_g).fillna(0.0)).sum()) * dt_h
    inst = day.case.inst
    export = (per_tick["price_per_kwh"].to_numpy() if inst.export_price_per_kwh is None
              else inst.export_price_per_kwh[per_tick.index.to_numpy()])
    slack = per_tick["p_slack_kw"].to_numpy()
    energy = float((np.where(slack >= 0, per_tick["price_per_kwh"].to_numpy(), export)
                    * slack).sum()) * dt_h
    bad = (per_tick["ac_violation"] != "") | (per_tick["reserve_short_kw"] > 0)
    out.update(dispatch_cost_da=day.sol.cost, dispatch_reserve_cost=day.sol.reserve_cost,
               dispatch_cost_realised=energy + gen_cost + day.sol.reserve_cost,
               dispatch_violation_ticks=float(bad.sum()),
               dispatch_reserve_short_ticks=float((per_tick["reserve_short_kw"] > 0).sum()),
               dispatch_joint_ok=float(not bad.any()),
               dispatch_interval_violation_rate=float(np.mean(bad)) if len(bad) else 1.0)
    return out


def plan_day(scenario: Scenario, gm: GridModel, boundary: dict[str, Boundary],
             ev_ref_kw: FloatArray, rng: np.random.Generator, method: str) -> DayDispatch:
    """Build the scenario's instance, solve it with ``method`` and draw the realised data day.

    The ``so`` training days and the realised day come from ``rng`` in that order.
    """
    import time

    d = scenario.dispatch
    case = build_dispatch_case(scenario, gm, boundary, ev_ref_kw, rng)
    day = int(rng.integers(0, len(case.test_days)))
    t0 = time.perf_counter()
    sol = solve_case(case, gm.ldf, method, d.epsilon)
    solve_s = time.perf_counter() - t0
    plan = make_plan(case.inst, sol, case.test_net_days_kw[day], case.test_days[day])
    msg = "" if plan is not None else explain_infeasible(case, gm.ldf, method, d.epsilon)
    return DayDispatch(case, sol, plan, method, d.epsilon, solve_s, msg)


@dataclass(frozen=True)
class ChancePlanner:
    """The chance-constrained day planner of one method (``oba``, ``bonferroni``, ``so``, ``ro``).

    Attributes:
        method: The variant solved.
    """

    method: str

    def forecast_background(self, scenario: Scenario, grid: GridModel) -> None:
        """``None``: the feeder's background as it is (the generators follow the call)."""
        return None

    def plan_day(self, inputs: PlanningInputs) -> DayDispatch:
        """:func:`plan_day` on the committed boundaries and the pools' reference charging."""
        return plan_day(inputs.scenario, inputs.grid, inputs.boundary, inputs.ev_ref_kw,
                        inputs.rng, self.method)


def infeasibility_message(method: str, eps: float, family: str) -> str:
    """One line naming the family and the fix."""
    what = {"devices": "the device rows",
            "all": "the substation, thermal, voltage and reserve chance rows together"}.get(
        family, f"the {family} chance rows")
    return (f"day-ahead dispatch ({method}, epsilon {eps:g}) is infeasible: {what} cannot "
            f"hold; {ADVICE[family]}")
