"""``run_sim.py dispatch``: the DSO's day-ahead dispatch of a scenario's day.

The instance is the one the co-simulator's ``dispatch:*`` policies solve for the same seed
(``environment.planning.chance``: the day-ahead commitment of the simulated day's forecast
pools, the scenario's ``[dispatch]`` devices, the data's forecast errors). Each requested
variant is solved on it, and replayed out of sample by an AC power flow
(:func:`ac_violations`; the LinDistFlow rows the model holds, ``dispatch.da_model.violations``,
are reported beside it): every held-out data day of net-load errors once (the data, not the
fitted mixture; at most ``n_replay`` of them), each paired with a held-out sampled EV
day drawn with the injected generator. Reported per variant: cost, reserve cost, solve time, the
risk allocated to each constraint family, the largest per-interval joint violation rate (the
promise: ``<= eps``) and the share of replay days without any violation, each with its Wilson
interval over the distinct replay days.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from dispatch.da_model import RESERVE_TOL_KW, DaSolution, violations
from dispatch.da_rows import DaInstance
from environment.planning.chance import (
    ChancePlanner,
    DayDispatch,
    explain_infeasible,
    solve_case,
)
from environment.summaries import DispatchSummary, UncertaintySummary, VariantSummary
from environment.verdict import wilson_interval
from flexibility.common import BoolArray, FloatArray
from grid.ac import violation_labels
from grid.layers import GridModel
from scenarios.behaviour import BehaviourModel
from scenarios.config import Scenario


@dataclass(frozen=True)
class VariantResult:
    """One variant solved and replayed.

    Attributes:
        sol: The solution.
        solve_s: Wall time of the solve.
        interval_rate: Joint violation rate per interval over the replay days at the AC
            operating points ``(T,)`` (NaN when infeasible).
        day_ok: Share of replay days with no violation in any interval.
        interval_count: Replay days with a violation at each interval ``(T,)`` (0 when
            infeasible).
        days_ok: Replay days with no violation in any interval.
        ldf_interval_rate: The same rate on the model's own LinDistFlow rows ``(T,)``.
        message: Why it is infeasible ("" otherwise).
    """

    sol: DaSolution
    solve_s: float
    interval_rate: FloatArray
    day_ok: float
    message: str
    interval_count: np.ndarray | None = None
    days_ok: int = 0
    ldf_interval_rate: FloatArray | None = None


@dataclass(frozen=True)
class DispatchStudy:
    """The day's dispatch problem and its variants.

    Attributes:
        day: The instance, its data and the main variant's plan (as the co-simulator has it).
        variants: Result per method, the main one first.
        replay_errors: The replay days' errors ``(N, T, 2)``.
    """

    day: DayDispatch
    variants: dict[str, VariantResult]
    replay_errors: FloatArray


def replay_errors(day: DayDispatch, n: int | None, rng: np.random.Generator) -> FloatArray:
    """``(delta, eta)`` errors of the replay: each held-out data day once (the first ``n`` if
    given), each with a held-out sampled EV day drawn by ``rng``."""
    c = day.case
    net = c.test_net_days_kw[:n]
    ev = c.test_ev_days_kw[rng.integers(0, len(c.test_ev_days_kw), len(net))]
    return np.stack([net, ev], axis=-1)


def realised_consumption(inst: DaInstance, sol: DaSolution, errors: FloatArray) -> FloatArray:
    """Active consumption per bus at the realised points ``(N, T, n)`` (kW).

    With ``s = delta + eta``, the affine recourse of the model: bus ``b`` consumes
    ``P_bg,b + w_net,b delta``; aggregator ``j`` ``p_j + w_ev,j eta - alpha_j s``; generator
    ``k`` produces ``g_k + alpha_k s``.
    """
    g_n = inst.shape[1]
    delta, eta = errors[..., 0], errors[..., 1]  # (N, T)
    s = delta + eta
    p = inst.p_bg_kw[None] + delta[..., None] * inst.w_net  # (N, T, n)
    ev = sol.p_ev_kw[None] + eta[..., None] * inst.w_ev - inst.alpha[None, :, g_n:] * s[..., None]
    gen = sol.g_kw[None] + inst.alpha[None, :, :g_n] * s[..., None]
    for j, pos in enumerate(inst.ev_pos):
        p[..., pos] += ev[..., j]
    for k, pos in enumerate(inst.gen_pos):
        p[..., pos] -= gen[..., k]
    return p


def ac_violations(inst: DaInstance, gm: GridModel, sol: DaSolution,
                  errors: FloatArray) -> BoolArray:
    """Joint violation per replay day and interval ``(N, T)`` (bool) at the realised AC
    operating points (:func:`realised_consumption`).

    A point is violated when the AC power flow breaks a voltage, line, transformer or
    substation limit or does not converge (``grid.ac.violation_labels``), or a
    device's response leaves its reserve (``alpha_d s > r^up_d`` or ``-alpha_d s > r^dn_d``).
    """
    t_n = inst.shape[0]
    n_days = errors.shape[0]
    s = errors[..., 0] + errors[..., 1]
    p = realised_consumption(inst, sol, errors)
    q = np.broadcast_to(inst.q_bg_kvar[None], p.shape)
    ac = gm.solver.solve(p.reshape(-1, p.shape[-1]), np.ascontiguousarray(q).reshape(
        -1, p.shape[-1]))
    labels = violation_labels(ac, gm.limits, tuple(e for e, _ in gm.feeder.branch))
    bad = (np.array([lab != "" for lab in labels])).reshape(n_days, t_n)
    resp = inst.alpha[None] * s[..., None]  # (N, T, G + J): raise output / lower consumption
    short = ((resp > sol.r_up_kw[None] + RESERVE_TOL_KW)
             | (-resp > sol.r_dn_kw[None] + RESERVE_TOL_KW)).any(axis=-1)
    return bad | short


def run_dispatch_study(scenario: Scenario, behaviour: BehaviourModel, seed: int,
                       methods: list[str], n_replay: int | None = None) -> DispatchStudy:
    """Build the day's instance (as ``simulate --policy dispatch:<methods[0]>``), solve every
    method and replay it (module docstring)."""
    from environment.model import CoSimModel

    planner = ChancePlanner(methods[0])  # the day's instance as the co-simulator plans it
    model = CoSimModel(scenario, behaviour, seed, policy=f"dispatch:{methods[0]}",
                       planner=planner)
    day = model.dispatch
    gm = model.grid_agent.grid
    ldf = gm.ldf
    model.release()
    assert isinstance(day, DayDispatch)
    rng = np.random.default_rng([seed, 15])
    errors = replay_errors(day, n_replay, rng)
    d = scenario.dispatch
    out: dict[str, VariantResult] = {}
    for m in methods:
        method, _, union = m.partition("-")  # e.g. oba-rows: oba over the other union
        if m == day.method:
            sol, solve_s = day.sol, day.solve_s
        else:
            t0 = time.perf_counter()
            sol = solve_case(day.case, ldf, method, d.epsilon, union or None)
            solve_s = time.perf_counter() - t0
        if sol.feasible:
            bad = ac_violations(day.case.inst, gm, sol, errors)
            ok = ~bad.any(axis=1)
            ldf_bad = violations(day.case.inst, ldf, sol, errors)
            out[m] = VariantResult(sol, solve_s, bad.mean(axis=0), float(ok.mean()), "",
                                   bad.sum(axis=0), int(ok.sum()), ldf_bad.mean(axis=0))
        else:
            nan = np.full(day.case.inst.shape[0], np.nan)
            out[m] = VariantResult(sol, solve_s, nan, float("nan"),
                                   day.message if m == day.method
                                   else explain_infeasible(
                                       replace(day.case, union=union or day.case.union), ldf,
                                       method, d.epsilon))
    return DispatchStudy(day, out, errors)


def variant_summaries(study: DispatchStudy, methods: list[str]) -> dict[str, VariantSummary]:
    """Each variant's typed summary: cost, risk by family, out-of-sample reliability."""
    from dispatch.da_rows import FAMILIES

    t_n = study.day.case.inst.shape[0]
    n = int(study.replay_errors.shape[0])
    out = {}
    for m in methods:
        v = study.variants[m]
        ok = v.sol.feasible
        worst = int(v.interval_count.max()) if ok and v.interval_count is not None else 0
        fam = {f: (float(np.nansum(v.sol.eps_family[:, i])) / t_n
                   if not np.all(np.isnan(v.sol.eps_family[:, i])) else None)
               for i, f in enumerate(FAMILIES)}
        out[m] = VariantSummary(
            feasible=ok, cost=v.sol.cost if ok else None,
            reserve_cost=v.sol.reserve_cost if ok else None, solve_s=v.solve_s,
            worst_interval_violation=float(np.nanmax(v.interval_rate)) if ok else None,
            mean_interval_violation=float(np.nanmean(v.interval_rate)) if ok else None,
            days_without_violation=v.day_ok if ok else None,
            mean_risk_per_interval_by_family=fam, message=v.message,
            worst_interval_violation_ci=wilson_interval(worst, n) if ok else None,
            worst_interval_violation_lindistflow=(
                float(np.nanmax(v.ldf_interval_rate)) if ok and v.ldf_interval_rate is not None
                else None),
            days_without_violation_ci=wilson_interval(v.days_ok, n) if ok else None)
    return out


def dispatch_summary(study: DispatchStudy, scenario: str, seed: int, methods: list[str],
                     runtime_s: float) -> DispatchSummary:
    """The study's ``summary.json`` as a typed summary (``environment.summaries``)."""
    day = study.day
    inst, case = day.case.inst, day.case
    return DispatchSummary(
        scenario=scenario, seed=seed, method=methods[0], epsilon=day.epsilon,
        feasible=study.variants[methods[0]].sol.feasible,
        uncertainty=UncertaintySummary(
            data_days=len(case.days), ev_days=len(case.ev_days_kw),
            net_components_per_interval=tuple(len(m.weights) for m in case.net_moments.mixtures),
            ev_components_per_interval=tuple(len(m.weights) for m in case.ev_moments.mixtures),
            net_sd_kw_max=float(np.sqrt(inst.cov[:, 0, 0]).max()),
            ev_sd_kw_max=float(np.sqrt(inst.cov[:, 1, 1]).max())),
        generators=tuple(case.gen_names), aggregators=tuple(case.station_names),
        replay_days=int(study.replay_errors.shape[0]),
        replay_dates=len({d[:10] for d in case.test_days[:study.replay_errors.shape[0]]}),
        variants=variant_summaries(study, methods), runtime_s=runtime_s)
