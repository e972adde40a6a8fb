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
* Envelopes are the α rows of ``flexibility.alpha_sets``: the kept scenarios' exact
  projections around their references, intersected, at the mean kept reference; energies are
  cumulative net grid energy after each interval, per station and in total. With
  ``assessment.alpha_definition = "per-interval"`` they are the paper's per-interval α
  quantiles of the scenarios' exact projections instead (``per_interval_rows``), not
  calibrated, for the DA case, the α sensitivity and the RT cases alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.aggregation import Envelope
from flexibility.alpha_sets import (
    CaseSets,
    Coverage,
    case_sets,
    n_kept,
    per_interval_envelope,
    station_rows,
)
from flexibility.cases import Case, calibrated_rows, make_case
from flexibility.fleet import Fleet
from flexibility.metrics import EnvelopeMetrics, envelope_metrics
from flexibility.stations import PerStation
from scenarios.behaviour import BehaviourModel, SpearmanRow, spearman_table
from scenarios.config import Scenario
from scenarios.fleetgen import (
    SessionDraw,
    draw_sessions,
    draw_sessions_after,
    fleet_from_sessions,
    observe_at,
    session_day,
)


@dataclass(frozen=True)
class StationLayerResult:
    """Everything the station layer produces.

    Attributes:
        da: Day-ahead α envelope per station and in total (arrays of shape ``(T,)``).
        rt: Real-time α envelopes per observation label (``"rt@HH:MM"``), per station and
            in total, over the remaining horizon.
        da_case: The DA case (fleets, per-scenario sets, kept scenarios).
        rt_cases: The RT cases per observation label.
        fresh: Fresh DA days (another random stream) for out-of-sample coverage, or ``None``:
            even days calibrate the number of kept scenarios, odd days measure coverage.
        keep_fraction: Kept share of the scenarios per confidence level (calibrated on the
            validation days, else ``ceil(alpha M) / M``).
        alpha_sensitivity: ``(alpha, metrics of the total)`` per requested confidence level,
            under the scenario's α definition (``assessment.alpha_definition``).
        alpha_sensitivity_per_interval: The paper's per-interval α envelope of the total
            (``flexibility.alpha_sets.per_interval_envelope``) whatever the definition: a
            diagnostic that isolates the definition's effect.
        alpha_envelopes: Total α envelope per requested confidence level.
        coverage: Station-layer coverage on the fresh days per confidence level.
        spearman: Empirical vs generated rank correlations (paper Table 1 form).
        unreachable_capped: Sessions whose departure requirement was capped to reachable.
        n_sessions: Sessions sampled over all scenarios and stations (with carry-over).
    """

    da: PerStation[Envelope]
    rt: dict[str, PerStation[Envelope]]
    da_case: Case
    rt_cases: dict[str, Case]
    fresh: CaseSets | None
    keep_fraction: dict[float, float]
    alpha_sensitivity: list[tuple[float, EnvelopeMetrics]]
    alpha_sensitivity_per_interval: list[tuple[float, EnvelopeMetrics]]
    alpha_envelopes: dict[float, Envelope]
    coverage: dict[float, Coverage]
    spearman: list[SpearmanRow]
    unreachable_capped: int
    n_sessions: int

    @property
    def metrics(self) -> EnvelopeMetrics:
        """Headline metrics of the total DA envelope."""
        return envelope_metrics(self.da.total)


def rt_fleet(model: BehaviourModel, scenario: Scenario, observed: SessionDraw, t_obs: int,
             n_scenarios: int, rng: np.random.Generator) -> Fleet:
    """One station's RT fleets ``(M, N)`` at ``t_obs``.

    The plugged-in EVs are known exactly (the same in every scenario); next to them stand ``M``
    conditional samples of the EVs still to arrive.
    """
    hz, ev = scenario.horizon, scenario.ev
    fleet = fleet_from_sessions(observed, ev, hz)
    d = fleet.departure_idx[0]
    after_min = t_obs * hz.dt_min
    known = (observed.arrival_min[0] <= after_min) & (d > t_obs)
    future = observed.arrival_min[0] > after_min
    days = session_day(observed)[0][future]
    n_future = {int(day): int(np.sum(days == day)) for day in np.unique(days)}
    draw = draw_sessions_after(model, hz, n_future, after_min, n_scenarios,
                               scenario.behaviour.v2g_share, rng)
    fut = fleet_from_sessions(draw, ev, hz)
    m = fut.shape[0]
    if not known.any():
        return fut
    kf = observe_at(fleet.row(0).take(known), t_obs)
    names = ("arrival_idx", "departure_idx", "e_init_kwh", "e_min_kwh", "e_max_kwh",
             "e_req_kwh", "p_ch_max_kw", "p_dis_max_kw")
    arrays = {n: np.concatenate([np.broadcast_to(getattr(kf, n), (m, kf.shape[-1])),
                                 np.broadcast_to(getattr(fut, n), fut.shape)], axis=-1)
              for n in names}
    return Fleet(**arrays, eta_ch=fut.eta_ch, eta_dis=fut.eta_dis, dt_h=fut.dt_h)


def assess_station_layer(scenario: Scenario, model: BehaviourModel,
                         rng: np.random.Generator) -> StationLayerResult:
    """Run the whole station-layer assessment of a scenario.

    Random streams are spawned from ``rng`` in a fixed order (scenarios per station, the
    realised day, the RT conditional samples, the Table 1 regeneration, the fresh coverage
    days), so the result depends only on the seed.
    """
    a_cfg, hz = scenario.assessment, scenario.horizon
    T, M = hz.n_intervals, a_cfg.n_scenarios
    names = tuple(s.name for s in scenario.stations)
    streams = rng.spawn(5)
    v2g = scenario.behaviour.v2g_share

    def sample_fleets(r: np.random.Generator, m: int) -> list[Fleet]:
        return [fleet_from_sessions(draw_sessions(model, hz, s.n_ev, m, v2g, rs), scenario.ev,
                                    hz)
                for s, rs in zip(scenario.stations, r.spawn(len(scenario.stations)),
                                 strict=True)]

    fleets = sample_fleets(streams[0], M)
    unreachable = int(sum(np.sum(f.unreachable_mask()) for f in fleets))
    n_sessions = int(sum(f.arrival_idx.size for f in fleets))
    da_sets = case_sets(names, fleets, T, 0)
    fresh = (case_sets(names, sample_fleets(streams[4], a_cfg.coverage_days), T, 0)
             if a_cfg.coverage_days > 1 else None)
    alphas = sorted({a_cfg.alpha, *a_cfg.alpha_sensitivity})
    definition = a_cfg.alpha_definition
    keeps, coverage = calibrated_rows(da_sets, fresh, alphas, definition, a_cfg.aggregation)
    k_da, s_da = keeps[a_cfg.alpha]
    da_case = Case(da_sets, station_rows(da_sets, k_da, a_cfg.aggregation, a_cfg.da_statistic,
                                         scale=s_da, definition=definition),
                   a_cfg.aggregation, a_cfg.da_statistic, s_da, definition)
    sens, sens_env = [], {}
    for alpha in a_cfg.alpha_sensitivity:
        rows = station_rows(da_sets, keeps[alpha][0], a_cfg.aggregation,
                            scale=keeps[alpha][1], definition=definition)
        sens_env[alpha] = rows.envelopes.total
        sens.append((alpha, envelope_metrics(sens_env[alpha])))
    per_interval = [(a, envelope_metrics(per_interval_envelope(da_sets, a)))
                    for a in a_cfg.alpha_sensitivity]

    observed = {s.name: draw_sessions(model, hz, s.n_ev, 1, v2g, r)
                for s, r in zip(scenario.stations, streams[1].spawn(len(scenario.stations)),
                                strict=True)}
    rt: dict[str, PerStation[Envelope]] = {}
    rt_cases: dict[str, Case] = {}
    rt_rngs = streams[2].spawn(len(a_cfg.rt_times))
    for hhmm, r in zip(a_cfg.rt_times, rt_rngs, strict=True):
        t_obs = hz.axis.interval_at(hhmm)
        if t_obs >= T:
            continue
        station_fleets = [rt_fleet(model, scenario, observed[name], t_obs, M, rs)
                          for name, rs in zip(names, r.spawn(len(names)), strict=True)]
        label = f"rt@{hhmm}"
        # the real-time rule (grid.alpha_layers.realtime_layers): ceil(alpha M) days, no shrink
        rt_cases[label] = make_case(names, station_fleets, T - t_obs, t_obs,
                                    n_kept(a_cfg.alpha, M) / M, a_cfg.aggregation,
                                    definition=definition)
        rt[label] = rt_cases[label].rows.envelopes

    regenerated = model.sample(streams[3], (M, scenario.stations[0].n_ev or 1))
    return StationLayerResult(da=da_case.rows.envelopes, rt=rt, da_case=da_case,
                              rt_cases=rt_cases, fresh=fresh,
                              keep_fraction={a: k / M for a, (k, _) in keeps.items()},
                              alpha_sensitivity=sens,
                              alpha_sensitivity_per_interval=per_interval,
                              alpha_envelopes=sens_env, coverage=coverage,
                              spearman=spearman_table(model, regenerated),
                              unreachable_capped=unreachable, n_sessions=n_sessions)

