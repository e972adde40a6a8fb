"""Typed summary of ``assess``: the three-layer assessment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from environment.summaries.base import to_json


@dataclass(frozen=True)
class LayerMetrics:
    """Peak charging, peak discharging and area of a layer's envelope (``max_t P_ch,max``,
    ``max_t P_dis,max``, ``sum_t (P_ch,max + P_dis,max) dt``)."""

    peak_ch_kw: float
    peak_dis_kw: float
    area_kwh: float


@dataclass(frozen=True)
class AlphaRow:
    """One row of the α sensitivity (paper Table 4): the station layer at confidence α."""

    alpha: float
    peak_ch_kw: float
    peak_dis_kw: float
    area_kwh: float


@dataclass(frozen=True)
class AssessSummary:
    """``assess``: the three-layer assessment of a scenario's day.

    Attributes:
        scenario: Scenario name; ``seed`` the run's seed.
        alpha: The case's confidence level; ``n_scenarios`` its sampled behaviour days,
            ``da_statistic`` how the station layer is formed, ``aggregation`` its kept days.
        n_ev: EVs of the scenario.
        policy: The DSO's allocation policy (``None``: station layer only).
        rt_times: Real-time assessment instants.
        layers: Station, distribution and transmission metrics of the day-ahead case.
        stations: Per station: its metrics and feeder bus.
        alpha_sensitivity: The station layer at each α of the sensitivity (under
            ``alpha_definition``).
        alpha_sensitivity_per_interval: The same under the paper's per-interval definition
            (each bound an α quantile of its interval; no joint guarantee), whatever
            ``alpha_definition`` is: the diagnostic of the total.
        behaviour: The behaviour model's data and fit (Spearman gaps).
        unreachable_requirements_capped: Requirements no vehicle could reach, capped.
        n_sessions_sampled: Sessions sampled over all days.
        coverage: Per layer and α, the whole-day and per-interval coverage on fresh days;
            ``coverage_days`` the fresh days drawn (half test, half validation).
        grid: The distribution and transmission entries (``grid_tables.grid_summary``:
            reductions, clipping, BTE, AC validation, AC, transmission, P–Q, packaging,
            grid feasibility), ``None`` for the station layer only.
        exclusivity_benchmark: The relaxation-vs-MILP rows, when run.
        runtime_s: Wall time.
        alpha_definition: The station layer's α definition (``whole-day`` or
            ``per-interval``, ``assessment.alpha_definition``).
    """

    command: ClassVar[str] = "assess"
    scenario: str
    seed: int
    alpha: float
    n_ev: int
    n_scenarios: int
    da_statistic: str
    aggregation: str
    policy: str | None
    rt_times: tuple[str, ...]
    layers: Mapping[str, LayerMetrics]
    stations: Mapping[str, Mapping[str, Any]]
    alpha_sensitivity: tuple[AlphaRow, ...]
    alpha_sensitivity_per_interval: tuple[AlphaRow, ...]
    behaviour: Mapping[str, Any]
    unreachable_requirements_capped: int
    n_sessions_sampled: int
    coverage: Mapping[str, Mapping[str, Mapping[str, float]]]
    coverage_days: int
    grid: Mapping[str, Any] | None
    exclusivity_benchmark: tuple[Mapping[str, Any], ...] | None
    runtime_s: float
    alpha_definition: str = "whole-day"

    @property
    def packaging_efficiency(self) -> float | None:
        """The transmission package's share of the exact deliverable area."""
        if self.grid is None or not self.grid.get("packaging"):
            return None
        return float(self.grid["packaging"]["efficiency"])

    def as_json(self) -> dict[str, Any]:
        """The file's entries (as before the schema)."""
        out: dict[str, Any] = {
            "scenario": self.scenario, "seed": self.seed, "alpha": self.alpha,
            "n_ev": self.n_ev, "n_scenarios": self.n_scenarios,
            "da_statistic": self.da_statistic,
            "layers": {k: to_json(v) for k, v in self.layers.items()},
            "stations": to_json(self.stations), "policy": self.policy,
            "alpha_sensitivity": to_json(self.alpha_sensitivity),
            "alpha_sensitivity_per_interval": to_json(self.alpha_sensitivity_per_interval),
            "behaviour": to_json(self.behaviour),
            "unreachable_requirements_capped": self.unreachable_requirements_capped,
            "n_sessions_sampled": self.n_sessions_sampled, "rt_times": list(self.rt_times),
            "aggregation": self.aggregation, "alpha_definition": self.alpha_definition,
            "coverage": {**to_json(self.coverage), "days": self.coverage_days}}
        if self.grid is not None:
            out.update({k: to_json(v) for k, v in self.grid.items()})
        if self.exclusivity_benchmark is not None:
            out["exclusivity_benchmark"] = to_json(self.exclusivity_benchmark)
        out["runtime_s"] = round(self.runtime_s, 3)
        return out
