"""The assessment's typed summary (``environment.summaries.AssessSummary``).

Built from the station layer's result, the behaviour model and the distribution and
transmission entries of ``environment.assessment.grid_tables.grid_summary``: per-station
entries merge the station metrics with their feeder buses, coverage merges the station layer's
with the grid layers'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from environment.assessment.station import StationLayerResult
from environment.summaries import AlphaRow, AssessSummary, LayerMetrics
from flexibility.metrics import EnvelopeMetrics, envelope_metrics
from scenarios.behaviour import BehaviourModel
from scenarios.config import Scenario

GRID_OWN = ("layers", "coverage", "stations")
"""Entries of the grid summary merged into the summary's own fields."""


def _layer(m: EnvelopeMetrics | Mapping[str, float]) -> LayerMetrics:
    d = m.as_dict() if isinstance(m, EnvelopeMetrics) else m
    return LayerMetrics(float(d["peak_ch_kw"]), float(d["peak_dis_kw"]), float(d["area_kwh"]))


def assess_summary(scenario: Scenario, seed: int, model: BehaviourModel,
                   result: StationLayerResult, grid: Mapping[str, Any] | None,
                   exclusivity: list[dict] | None, runtime_s: float) -> AssessSummary:
    """The summary of one ``assess`` run (module docstring)."""
    cfg = scenario.assessment
    layers = {"station": _layer(result.metrics)}
    stations: dict[str, dict[str, Any]] = {n: envelope_metrics(env).as_dict()
                                           for n, env in result.da.stations.items()}
    coverage: dict[str, dict[str, dict[str, float]]] = {
        "station": {f"{a:.2f}": c.as_dict() for a, c in result.coverage.items()}}
    if grid is not None:
        layers |= {k: _layer(v) for k, v in grid["layers"].items() if k != "station"}
        coverage |= dict(grid["coverage"])
        stations = {n: {**grid["stations"][n], **stations[n]} for n in stations}
    behaviour = {
        "source": model.source,
        "spearman_gap_max": max(r.gap for r in result.spearman if r.fitted),
        "spearman": [{"pair": list(r.pair), "empirical": r.empirical, "generated": r.generated,
                      "gap": r.gap, "fitted": r.fitted} for r in result.spearman],
        **{k: v for k, v in model.meta.items() if k != "spearman_empirical"}}
    return AssessSummary(
        scenario=scenario.name, seed=seed, alpha=cfg.alpha,
        n_ev=sum(s.n_ev for s in scenario.stations), n_scenarios=cfg.n_scenarios,
        da_statistic=cfg.da_statistic, aggregation=cfg.aggregation,
        policy=None if grid is None else grid["policy"], rt_times=tuple(result.rt),
        layers=layers, stations=stations,
        alpha_sensitivity=tuple(AlphaRow(a, m.peak_ch_kw, m.peak_dis_kw, m.area_kwh)
                                for a, m in result.alpha_sensitivity),
        alpha_sensitivity_per_interval=tuple(
            AlphaRow(a, m.peak_ch_kw, m.peak_dis_kw, m.area_kwh)
            for a, m in result.alpha_sensitivity_per_interval),
        behaviour=behaviour, unreachable_requirements_capped=result.unreachable_capped,
        n_sessions_sampled=result.n_sessions, coverage=coverage,
        coverage_days=cfg.coverage_days,
        grid=None if grid is None else {k: v for k, v in grid.items()
                                        if k not in GRID_OWN and k != "policy"},
        exclusivity_benchmark=None if exclusivity is None else tuple(exclusivity),
        runtime_s=runtime_s, alpha_definition=cfg.alpha_definition)
