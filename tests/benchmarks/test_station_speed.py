"""Station-layer speed on the paper case vs the per-interval LP baseline (same run).

Run: python -m pytest -m benchmark --benchmark-enable tests/benchmarks -s
The target: DA + RT envelopes for 200 EVs x 500 scenarios x 96 intervals in <= 0.5 s
on one core and >= 100x faster than solving the per-interval LPs of the same fleet.
"""

import time

import numpy as np
import pytest

from flexibility.aggregation import probabilistic_envelope, station_envelope
from flexibility.reference import TrajectoryModel
from scenarios.fleetgen import (
    draw_sessions,
    draw_sessions_after,
    fleet_from_sessions,
    observe_at,
    session_day,
)

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def paper_inputs(paper_scenario, shipped_model):
    """Sampled fleets (DA) and the RT inputs at the four observation times, built once."""
    sc = paper_scenario
    hz, M, alpha = sc.horizon, sc.assessment.n_scenarios, sc.assessment.alpha
    rng = np.random.default_rng(sc.seed)
    da = [fleet_from_sessions(draw_sessions(shipped_model, hz, s.n_ev, M, 0.5, rng), sc.ev, hz)
          for s in sc.stations]
    rt = []
    for hhmm in sc.assessment.rt_times:
        t_obs = (int(hhmm[:2]) * 60 + int(hhmm[3:])) // hz.dt_min
        for s in sc.stations:
            obs = draw_sessions(shipped_model, hz, s.n_ev, 1, 0.5, rng)
            f = fleet_from_sessions(obs, sc.ev, hz).row(0)
            known = (obs.arrival_min[0] <= t_obs * hz.dt_min) & (f.departure_idx > t_obs)
            future = obs.arrival_min[0] > t_obs * hz.dt_min
            days = session_day(obs)[0][future]
            n_future = {int(d): int(np.sum(days == d)) for d in np.unique(days)}
            fut = draw_sessions_after(shipped_model, hz, n_future, t_obs * hz.dt_min, M, 0.5,
                                      rng)
            rt.append((t_obs, observe_at(f.take(known), t_obs),
                       fleet_from_sessions(fut, sc.ev, hz)))
    return da, rt, hz.n_intervals, alpha


def all_envelopes(da, rt, T, alpha):
    out = [probabilistic_envelope(station_envelope(f, T), alpha) for f in da]
    for t_obs, known, future in rt:
        rest = T - t_obs
        env = probabilistic_envelope(station_envelope(future, rest, t0=t_obs), alpha)
        out.append(env + station_envelope(known, rest, t0=t_obs))
    return out


def lp_seconds_per_scenario_station(fleet, T, n_sample=2):
    """Per-interval LP (max and min for each t) on a few scenarios of one station."""
    start = time.perf_counter()
    for m in range(n_sample):
        TrajectoryModel(fleet.row(m)).interval_extremes(T)
    return (time.perf_counter() - start) / n_sample


def test_station_layer_speed(benchmark, paper_inputs):
    da, rt, T, alpha = paper_inputs
    benchmark.pedantic(all_envelopes, args=(da, rt, T, alpha), rounds=5, iterations=1,
                       warmup_rounds=1)
    closed_s = benchmark.stats.stats.median
    per = lp_seconds_per_scenario_station(da[0], T)
    n_problems = sum(f.shape[0] for f in da)  # DA only: 4 stations x M scenarios
    lp_s = per * n_problems
    ratio = lp_s / closed_s
    benchmark.extra_info.update({"closed_form_da_rt_s": closed_s,
                                 "lp_da_only_extrapolated_s": lp_s,
                                 "lp_s_per_station_scenario": per, "speedup": ratio})
    print(f"\nclosed form DA+RT: {closed_s:.3f} s; per-interval LP (DA only, "
          f"{per:.3f} s x {n_problems} station-scenarios): {lp_s:.0f} s; ratio {ratio:.0f}x")
    assert np.isfinite(ratio)
