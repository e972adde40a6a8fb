"""Station-layer assessment: day-ahead and real-time envelopes for every station (paper §3.1–3.2).

Build → compute → report, with no I/O here (see ``environment.outputs``):

* **Day-ahead** (§3.2.1): the M sampled behaviour days give M scenario envelopes
  ``Theta^(m)`` per station; the DA envelope is their α inner envelope (``da_statistic =
  "quantile"``, the probabilistic Minkowski sum) or their expectation (``"mean"``).
* **Real-time at τ** (§3.2.2): one realised day is drawn (the "observed" fleet). At τ, vehicles
  plugged in are known exactly — their energy at τ under immediate charging and their departure
  time — and the number still to arrive that day is known; their sessions are sampled from the
  copula conditioned on arriving after τ. The envelope over the remaining horizon is the known
  part plus the α inner envelope of the sampled part.
* ``ALL`` is the sum of the station envelopes (what the distribution layer receives).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.aggregation import (
    Envelope,
    mean_envelope,
    probabilistic_envelope,
    station_envelope,
)
from flexibility.fleet import Fleet
from flexibility.metrics import EnvelopeMetrics, envelope_metrics
from flexibility.packaging import InnerBox, add_boxes, inner_quantile, station_inner_box
from scenarios.behaviour import BehaviourModel, SpearmanRow, spearman_table
from scenarios.config import Scenario
from scenarios.fleetgen import (
    DAY_MIN,
    SessionDraw,
    draw_sessions,
    draw_sessions_after,
    fleet_from_sessions,
    observe_at,
    session_day,
)

ALL = "ALL"


@dataclass(frozen=True)
class StationLayerResult:
    """Everything the station layer produces.

    Attributes:
        da: Day-ahead envelope per station name and ``ALL`` (arrays of shape ``(T,)``).
        rt: Real-time envelopes per observation label (``"rt@HH:MM"``), per station and ``ALL``,
            over the remaining horizon.
        scenario_envelopes: Per-station scenario envelopes (arrays ``(M, T)``).
        alpha_sensitivity: ``(alpha, metrics of ALL)`` per requested confidence level.
        spearman: Empirical vs generated rank correlations (paper Table 1 form).
        da_inner: DA inner (deliverable) box per station (see ``flexibility.packaging``).
        rt_inner: RT inner boxes per observation label and station.
        unreachable_capped: Sessions whose departure requirement was capped to reachable.
        n_sessions: Sessions sampled over all scenarios and stations (with carry-over).
    """

    da: dict[str, Envelope]
    rt: dict[str, dict[str, Envelope]]
    scenario_envelopes: dict[str, Envelope]
    alpha_sensitivity: list[tuple[float, EnvelopeMetrics]]
    spearman: list[SpearmanRow]
    unreachable_capped: int
    n_sessions: int
    da_inner: dict[str, InnerBox]
    rt_inner: dict[str, dict[str, InnerBox]]

    @property
    def metrics(self) -> EnvelopeMetrics:
        """Headline metrics of the DA envelope of ``ALL``."""
        return envelope_metrics(self.da[ALL])


def sum_envelopes(envs: list[Envelope]) -> Envelope:
    """Minkowski sum of envelopes on one interval grid (stations -> ``ALL``)."""
    total = envs[0]
    for env in envs[1:]:
        total = total + env
    return total


def inner_or_mean(env: Envelope, alpha: float, statistic: str) -> Envelope:
    """DA reduction over the scenario axis (axis 0)."""
    return mean_envelope(env) if statistic == "mean" else probabilistic_envelope(env, alpha)


def da_envelopes(fleets: dict[str, Fleet], n_intervals: int, alpha: float,
                 statistic: str) -> tuple[dict[str, Envelope], dict[str, Envelope]]:
    """Scenario envelopes and the DA envelope of every station (plus ``ALL``)."""
    scen = {name: station_envelope(f, n_intervals) for name, f in fleets.items()}
    da = {name: inner_or_mean(env, alpha, statistic) for name, env in scen.items()}
    da[ALL] = sum_envelopes(list(da.values()))
    return scen, da


def da_inner_boxes(fleets: dict[str, Fleet], n_intervals: int, alpha: float,
                   statistic: str) -> dict[str, InnerBox]:
    """DA inner box of every station: α inner quantile (or mean) of the scenario boxes."""
    out = {}
    for name, fleet in fleets.items():
        box = station_inner_box(fleet, n_intervals)
        out[name] = (InnerBox(box.lo_kw.mean(0), box.hi_kw.mean(0), box.dt_h)
                     if statistic == "mean" else inner_quantile(box, alpha))
    return out


def rt_envelope(model: BehaviourModel, scenario: Scenario, observed: SessionDraw,
                t_obs: int, n_scenarios: int, alpha: float,
                rng: np.random.Generator) -> tuple[Envelope, InnerBox]:
    """Real-time envelope and inner box of one station at ``t_obs`` (remaining horizon)."""
    hz, ev = scenario.horizon, scenario.ev
    T = hz.n_intervals
    fleet = fleet_from_sessions(observed, ev, hz)
    d = fleet.departure_idx[0]
    after_min = t_obs * hz.dt_min
    known = (observed.arrival_min[0] <= after_min) & (d > t_obs)
    future = observed.arrival_min[0] > after_min
    remaining = T - t_obs
    known_fleet = observe_at(fleet.row(0).take(known), t_obs) if known.any() else None
    known_env = (station_envelope(known_fleet, remaining, t0=t_obs)
                 if known_fleet is not None else None)
    days = session_day(observed)[0][future]
    n_future = {int(day): int(np.sum(days == day)) for day in np.unique(days)}
    draw = draw_sessions_after(model, hz, n_future, after_min, n_scenarios,
                               scenario.behaviour.v2g_share, rng)
    future_fleet = fleet_from_sessions(draw, ev, hz)
    fut = station_envelope(future_fleet, remaining, t0=t_obs)
    env = probabilistic_envelope(fut, alpha)
    box = inner_quantile(station_inner_box(future_fleet, remaining, t0=t_obs), alpha)
    if known_fleet is None:
        return env, box
    return env + known_env, add_boxes(box, station_inner_box(known_fleet, remaining, t0=t_obs))


def assess_station_layer(scenario: Scenario, model: BehaviourModel,
                         rng: np.random.Generator) -> StationLayerResult:
    """Run the whole station-layer assessment of a scenario.

    Random streams are spawned from ``rng`` in a fixed order (scenarios per station, the
    realised day, the RT conditional samples, the Table 1 regeneration), so the result depends
    only on the seed.
    """
    a_cfg, hz = scenario.assessment, scenario.horizon
    T, M = hz.n_intervals, a_cfg.n_scenarios
    streams = rng.spawn(4)
    draws = {s.name: draw_sessions(model, hz, s.n_ev, M, scenario.behaviour.v2g_share, r)
             for s, r in zip(scenario.stations, streams[0].spawn(len(scenario.stations)),
                             strict=True)}
    fleets = {name: fleet_from_sessions(d, scenario.ev, hz) for name, d in draws.items()}
    unreachable = int(sum(np.sum(f.unreachable_mask()) for f in fleets.values()))
    n_sessions = int(sum(f.arrival_idx.size for f in fleets.values()))
    scen, da = da_envelopes(fleets, T, a_cfg.alpha, a_cfg.da_statistic)

    sens = []
    for alpha in a_cfg.alpha_sensitivity:
        total = sum_envelopes([probabilistic_envelope(env, alpha) for env in scen.values()])
        sens.append((alpha, envelope_metrics(total)))

    observed = {s.name: draw_sessions(model, hz, s.n_ev, 1, scenario.behaviour.v2g_share, r)
                for s, r in zip(scenario.stations, streams[1].spawn(len(scenario.stations)),
                                strict=True)}
    rt: dict[str, dict[str, Envelope]] = {}
    rt_inner: dict[str, dict[str, InnerBox]] = {}
    rt_rngs = streams[2].spawn(len(a_cfg.rt_times))
    for hhmm, r in zip(a_cfg.rt_times, rt_rngs, strict=True):
        minutes = (int(hhmm[:2]) * 60 + int(hhmm[3:]) - hz.start_min) % DAY_MIN
        t_obs = int(minutes // hz.dt_min)
        if t_obs >= T:
            continue
        both = {name: rt_envelope(model, scenario, observed[name], t_obs, M, a_cfg.alpha, rs)
                for name, rs in zip(observed, r.spawn(len(observed)), strict=True)}
        per = {name: pair[0] for name, pair in both.items()}
        per[ALL] = sum_envelopes(list(per.values()))
        rt[f"rt@{hhmm}"] = per
        rt_inner[f"rt@{hhmm}"] = {name: pair[1] for name, pair in both.items()}

    regenerated = model.sample(streams[3], (M, scenario.stations[0].n_ev or 1))
    return StationLayerResult(da=da, rt=rt, scenario_envelopes=scen, alpha_sensitivity=sens,
                              spearman=spearman_table(model, regenerated),
                              unreachable_capped=unreachable, n_sessions=n_sessions,
                              da_inner=da_inner_boxes(fleets, T, a_cfg.alpha, a_cfg.da_statistic),
                              rt_inner=rt_inner)
