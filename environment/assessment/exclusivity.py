"""Paper §4.2: is the convex relaxation (simultaneous charging and discharging allowed) tight?

For each fleet size ``nEV`` one station's behaviour days are sampled; for every day the
per-interval extremes of the aggregate power are solved twice with HiGHS over the full
trajectory set — once as the relaxed LP, once as the MILP with one binary per vehicle and
interval forbidding simultaneous charging and discharging — and both are reduced to the α inner
envelope over the days. Reported per size: area APD, peak differences and the MILP/LP runtime
ratio (paper Tables 2–3, Figures 6–7).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from flexibility.aggregation import Envelope, probabilistic_envelope
from flexibility.metrics import absolute_percentage_deviation, envelope_metrics
from flexibility.reference import TrajectoryModel
from scenarios.behaviour import BehaviourModel
from scenarios.config import Scenario
from scenarios.fleetgen import draw_sessions, fleet_from_sessions

SIZES = (8, 12, 16, 20, 24)


@dataclass(frozen=True)
class ExclusivityResult:
    """Benchmark outcome: a table row per size plus the envelopes of the representative size."""

    rows: list[dict]
    relaxed: Envelope
    milp: Envelope
    n_ev_shown: int


def _solve_days(fleets, n_intervals: int, exclusive: bool) -> tuple[Envelope, float]:
    """Per-day extremes over the trajectory set; returns the (M, T) envelope and runtime."""
    start = time.perf_counter()
    p_max = np.zeros((len(fleets), n_intervals))
    p_min = np.zeros((len(fleets), n_intervals))
    for m, fleet in enumerate(fleets):
        for t in range(n_intervals):
            # vehicles not connected at t do not enter the objective and their constraints are
            # separable: the model of interval t holds only the vehicles connected at t
            here = (fleet.arrival_idx <= t) & (fleet.departure_idx > t)
            if not here.any():
                continue
            model = TrajectoryModel(fleet.take(here), exclusive=exclusive)
            p_max[m, t] = model.extreme_net_power(t, maximise=True)
            p_min[m, t] = model.extreme_net_power(t, maximise=False)
    zeros = np.zeros_like(p_max)
    env = Envelope(p_max, p_min, zeros, zeros, zeros, dt_h=fleets[0].dt_h)
    return env, time.perf_counter() - start


def exclusivity_benchmark(scenario: Scenario, model: BehaviourModel, rng: np.random.Generator,
                          n_days: int, sizes: tuple[int, ...] = SIZES,
                          show: int = 16) -> ExclusivityResult:
    """Run the relaxed-vs-MILP comparison on one station for each fleet size."""
    T = scenario.horizon.n_intervals
    alpha = scenario.assessment.alpha
    rows = []
    shown: tuple[Envelope, Envelope] | None = None
    for n_ev, r in tqdm(list(zip(sizes, rng.spawn(len(sizes)), strict=True)),
                        desc="exclusivity benchmark", unit="size", leave=False):
        draw = draw_sessions(model, scenario.horizon, n_ev, n_days,
                             scenario.behaviour.v2g_share, r)
        fleet = fleet_from_sessions(draw, scenario.ev, scenario.horizon)
        days = [fleet.row(m) for m in range(n_days)]
        lp_env, lp_s = _solve_days(days, T, exclusive=False)
        mip_env, mip_s = _solve_days(days, T, exclusive=True)
        relaxed = probabilistic_envelope(lp_env, alpha)
        milp = probabilistic_envelope(mip_env, alpha)
        mr, mm = envelope_metrics(relaxed), envelope_metrics(milp)
        rows.append({"n_ev": n_ev, "days": n_days,
                     "area_relaxed_kwh": mr.area_kwh, "area_milp_kwh": mm.area_kwh,
                     "apd_area_pct": absolute_percentage_deviation(mr.area_kwh, mm.area_kwh),
                     "peak_ch_diff_kw": mr.peak_ch_kw - mm.peak_ch_kw,
                     "peak_dis_diff_kw": mr.peak_dis_kw - mm.peak_dis_kw,
                     "runtime_relaxed_s": lp_s, "runtime_milp_s": mip_s,
                     "runtime_ratio": mip_s / lp_s if lp_s > 0 else float("nan")})
        if n_ev == show or shown is None:
            shown = (relaxed, milp)
    assert shown is not None
    return ExclusivityResult(rows=rows, relaxed=shown[0], milp=shown[1],
                             n_ev_shown=show if show in sizes else sizes[0])
