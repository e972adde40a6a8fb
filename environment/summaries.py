"""The typed ``summary.json`` of every command: one frozen dataclass per command, one writer.

A command fills its summary with attributes; the console lines, the figures and the
reproduction pages read attributes, never dict keys. :func:`write_summary` writes any of them
with the schema version and the verdict (``environment.verdict``) first:

    {"schema_version": SCHEMA_VERSION, "command": ..., "verdict": ..., "exit_code": ...,
     "failed_checks": [...], "checks": [...], <the summary's own entries>}

Each summary's :meth:`as_json` gives its own entries (nested dataclasses become objects, tuples
and arrays lists, non-finite floats ``null``). Shapes here are plain data: the producers (the
commands, the studies) build them from their results.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from environment import outputs
from environment.day_metrics import DayMetrics
from environment.verdict import Verdict

SCHEMA_VERSION = 2
"""Version of the ``summary.json`` layout (2: typed summaries, the verdict first)."""


class CommandSummary(Protocol):
    """What :func:`write_summary` needs of a summary."""

    command: ClassVar[str]

    def as_json(self) -> dict[str, Any]:
        """The summary's own entries."""


def to_json(value: Any) -> Any:
    """``value`` as JSON data: dataclasses as objects, tuples and arrays as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_json(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return to_json(value.item())
    return value


def summary_document(summary: CommandSummary, verdict: Verdict) -> dict[str, Any]:
    """The whole ``summary.json``: schema version, command, verdict, the summary's entries."""
    own = summary.as_json()
    head = {"schema_version": SCHEMA_VERSION,
            "command": own.get("command", summary.command), **verdict.as_dict()}
    doc = {**head, **own}
    doc.update(head)  # first in the file, and these values win
    return doc


def write_summary(path: Path, summary: CommandSummary, verdict: Verdict) -> None:
    """Write ``summary.json`` atomically (:func:`summary_document`)."""
    outputs.write_json(path, summary_document(summary, verdict))


def _finite_or_none(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


# -- simulate -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeederInfo:
    """The feeder of a run."""

    name: str
    buses: int
    stations: int


@dataclass(frozen=True)
class DayAheadInfo:
    """The day-ahead commitment's grid feasibility."""

    infeasible_intervals: int
    unsheddable_kwh: float


@dataclass(frozen=True)
class SimulateSummary:
    """``simulate``: one co-simulated day.

    Attributes:
        scenario: Scenario name.
        seed: The run's seed.
        policy: Call policy.
        day: The day's metrics (flattened into the file).
        n_scenarios_rt: Sampled future days per station for the RT envelopes.
        queue_rule: What an EV does when every charger is taken.
        feeder: The feeder.
        day_ahead: The day-ahead commitment's grid feasibility.
        dispatch: The planned day's metrics (``dispatch:*`` policies), with its data day and
            risk level.
        runtime_s: Wall time of the run; ``setup_s`` before the first tick, ``ticks_s`` of
            the ticks.
    """

    command: ClassVar[str] = "simulate"
    scenario: str
    seed: int
    policy: str
    day: DayMetrics
    n_scenarios_rt: int
    queue_rule: str
    feeder: FeederInfo
    day_ahead: DayAheadInfo
    dispatch: Mapping[str, float | str | None] | None
    runtime_s: float
    setup_s: float
    ticks_s: float

    def as_json(self) -> dict[str, Any]:
        """The file's entries: the day's metrics at the top level (as before the schema)."""
        out: dict[str, Any] = {"scenario": self.scenario, "seed": self.seed,
                               "policy": self.policy, **self.day.as_dict(),
                               "n_scenarios_rt": self.n_scenarios_rt,
                               "queue_rule": self.queue_rule, "feeder": to_json(self.feeder),
                               "n_ev": self.day.evs.total}
        if self.dispatch is not None:
            out["dispatch"] = to_json(self.dispatch)
        out.update(runtime_s=round(self.runtime_s, 3), setup_s=round(self.setup_s, 3),
                   ticks_s=round(self.ticks_s, 3), day_ahead=to_json(self.day_ahead))
        return out


# -- traffic ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrafficSummary:
    """``traffic``: a static or dynamic user equilibrium.

    Attributes:
        scenario: Scenario (or built-in network) name.
        network: The road network.
        assignment: ``static`` or ``dynamic``.
        relative_gap: The equilibrium's last relative gap; ``target_gap`` its target.
        iterations: Iterations run; ``gaps`` the gap after each.
        total_travel_time_veh_min: Static: total travel time (veh·min per hour); dynamic:
            of the loading (veh·min).
        od_costs: Equilibrium cost per OD pair: static, minutes; dynamic, per user class the
            generalized cost (CNY, mean over departure intervals).
        vehicles: Dynamic: vehicles loaded; ``simulated_vehicles`` the simulated units
            (platoons count once).
        link_model: Dynamic: the link model.
        runtime_s: Wall time.
    """

    command: ClassVar[str] = "traffic"
    scenario: str
    network: str
    assignment: str
    relative_gap: float
    target_gap: float
    iterations: int
    gaps: tuple[float, ...]
    runtime_s: float
    total_travel_time_veh_min: float
    od_costs: Mapping[str, Any]
    vehicles: int | None = None
    simulated_vehicles: int | None = None
    link_model: str | None = None

    @property
    def converged(self) -> bool:
        """The gap reached its target."""
        return self.relative_gap <= self.target_gap * (1 + 1e-9)

    def as_json(self) -> dict[str, Any]:
        """The file's entries (as before the schema)."""
        out: dict[str, Any] = {"scenario": self.scenario, "network": self.network,
                               "assignment": self.assignment}
        if self.assignment == "static":
            out.update(relative_gap=self.relative_gap, iterations=self.iterations,
                       target_gap=self.target_gap,
                       total_travel_time_veh_min=self.total_travel_time_veh_min,
                       od_costs=to_json(self.od_costs), od_costs_unit="minutes",
                       gaps=list(self.gaps))
        else:
            out.update(relative_gap=self.relative_gap, iterations=self.iterations,
                       gaps=list(self.gaps), vehicles=self.vehicles,
                       simulated_vehicles=self.simulated_vehicles,
                       total_travel_time_veh_min=self.total_travel_time_veh_min,
                       od_costs=to_json(self.od_costs),
                       od_costs_unit="CNY (generalized cost, mean over departure intervals)",
                       link_model=self.link_model, target_gap=self.target_gap)
        out["runtime_s"] = round(self.runtime_s, 3)
        return out


# -- dispatch (chance-constrained) ---------------------------------------------------------------

@dataclass(frozen=True)
class UncertaintySummary:
    """The forecast errors behind a chance-constrained dispatch."""

    data_days: int
    ev_days: int
    net_components_per_hour: tuple[int, ...]
    ev_components_per_hour: tuple[int, ...]
    net_sd_kw_max: float
    ev_sd_kw_max: float


@dataclass(frozen=True)
class VariantSummary:
    """One dispatch variant solved and replayed.

    Attributes:
        feasible: A dispatch was found.
        cost: Day-ahead cost; ``reserve_cost`` its reserve part (``None``: infeasible).
        solve_s: Wall time of the solve.
        worst_interval_violation: Largest per-interval joint violation rate on the replay
            days; ``mean_interval_violation`` its mean over intervals.
        days_without_violation: Share of replay days without any violation.
        mean_risk_per_interval_by_family: Risk allocated per interval, by constraint family.
        message: Why it is infeasible (empty when feasible).
    """

    feasible: bool
    cost: float | None
    reserve_cost: float | None
    solve_s: float
    worst_interval_violation: float | None
    mean_interval_violation: float | None
    days_without_violation: float | None
    mean_risk_per_interval_by_family: Mapping[str, float | None]
    message: str


@dataclass(frozen=True)
class DispatchSummary:
    """``dispatch --method oba|bonferroni|so|ro|all``."""

    command: ClassVar[str] = "dispatch"
    scenario: str
    seed: int
    method: str
    epsilon: float
    feasible: bool
    uncertainty: UncertaintySummary
    generators: tuple[str, ...]
    aggregators: tuple[str, ...]
    replay_days: int
    variants: Mapping[str, VariantSummary]
    runtime_s: float

    def as_json(self) -> dict[str, Any]:
        """The file's entries (as before the schema)."""
        return {"scenario": self.scenario, "seed": self.seed, "method": self.method,
                "epsilon": self.epsilon, "feasible": self.feasible,
                "uncertainty": to_json(self.uncertainty),
                "devices": {"generators": list(self.generators),
                            "aggregators": list(self.aggregators)},
                "replay_days": self.replay_days, "variants": to_json(self.variants),
                "runtime_s": self.runtime_s}


# -- dispatch --method zonal ---------------------------------------------------------------------

@dataclass(frozen=True)
class CostParts:
    """Table 2 of the zonal paper: the day's cost parts."""

    purchase: float
    diesel: float
    curtailment: float
    carbon: float
    total: float
    peak_kw: float | None = None


@dataclass(frozen=True)
class PartitionScores:
    """The partition's indicators."""

    modularity: float
    f2_ev_potential: float
    f3_power_balance: float
    f_c: float
    comprehensive: float
    comprehensive_of_seed: float


@dataclass(frozen=True)
class ZonalAc:
    """AC voltages before and after, the limits, and the intervals violating them."""

    v_min_before_pu: float
    v_min_after_pu: float
    v_min_limit_pu: float
    v_min_used_by_the_layer_pu: float
    intervals_violating_plan: int
    intervals_violating_two_layers: int | None


@dataclass(frozen=True)
class AggregationLayerSummary:
    """The aggregation layer on a realised day (``aggregation_layer`` in the file)."""

    realised_vehicles: int
    user_types_1_to_4: tuple[int, ...]
    areas_feasible: int
    price_change_by_area_peak_flat_valley: tuple[tuple[float, ...], ...]
    area_tracking_deviation_kwh: float
    vehicle_deviation_kwh: float
    diesel_kwh: float
    bought_from_neighbours_kwh: float
    trading_price_premium_max_pct: float
    ev_energy_kwh: float
    vehicles_outside_their_sets: int
    peak_kw: float
    peak_shaving_pct_vs_before: float
    ac_v_min_pu: float
    ac_max_loading_pct: float
    correction_round_feasible: bool
    override_kwh: float
    cost_after_correction: float | None
    seconds: float


@dataclass(frozen=True)
class ZonalSummary:
    """``dispatch --method zonal``: partition, distribution layer, aggregation layer."""

    command: ClassVar[str] = "dispatch-zonal"
    scenario: str
    seed: int
    areas: tuple[tuple[int, ...], ...]
    partition: PartitionScores
    before: CostParts
    after: CostParts
    peak_shaving_pct: float
    ev_energy_before_kwh: float
    ev_energy_after_kwh: float
    required_share: float
    carbon_traded_t: float
    ac: ZonalAc
    aggregation_layer: AggregationLayerSummary | None
    runtime_s: float
    valid: bool = field(default=True)

    def as_json(self) -> dict[str, Any]:
        """The file's entries (as before the schema)."""
        ac = to_json(self.ac)
        if self.ac.intervals_violating_two_layers is None:
            del ac["intervals_violating_two_layers"]
        before = to_json(self.before)
        out: dict[str, Any] = {
            "scenario": self.scenario, "seed": self.seed, "method": "zonal",
            "areas": {f"area {k + 1}": list(b) for k, b in enumerate(self.areas)},
            "partition": to_json(self.partition),
            "table2": {"before": before, "after": to_json(self.after)},
            "peak_shaving_pct": self.peak_shaving_pct,
            "ev_energy_kwh": {"before": self.ev_energy_before_kwh,
                              "after": self.ev_energy_after_kwh,
                              "required_share": self.required_share},
            "carbon_traded_t": self.carbon_traded_t, "ac": ac, "runtime_s": self.runtime_s}
        if self.aggregation_layer is not None:
            out["aggregation_layer"] = to_json(self.aggregation_layer)
        out["valid"] = self.valid
        return out


# -- montecarlo / compare-da-rt -----------------------------------------------------------------

@dataclass(frozen=True)
class MetricSummary:
    """Mean, standard deviation and 95 % interval of a replicate metric."""

    mean: float
    std: float
    ci95: tuple[float, float]


@dataclass(frozen=True)
class MonteCarloSummary:
    """``montecarlo`` / ``compare-da-rt``: one sweep point's replicates.

    Attributes:
        scenario: Scenario name; ``seed`` its seed.
        run_command: ``montecarlo`` or ``compare-da-rt``.
        sweep_point: The swept parameters of this point (empty: no sweep).
        policy: Call policy of the replicates.
        replicates_requested: Requested; ``replicates_done`` used; ``replicates_resumed``
            finished before this run.
        workers: Dask workers.
        runtime_s: Wall time so far.
        stopped_early: ``--ci-target`` stopped the run; ``interrupted`` Ctrl-C did.
        metrics: Every replicate metric's mean and interval
            (``environment.experiments.intervals.metric_ci``).
        invalid_day_share: Share of physically invalid days; ``invalid_days`` their count.
        peak_rss_mb_max: Largest peak memory of a replicate.
        da_vs_rt: ``compare-da-rt``: the day-ahead boundary against the real-time ones.
    """

    command: ClassVar[str] = "montecarlo"
    scenario: str
    seed: int
    run_command: str
    sweep_point: Mapping[str, str]
    policy: str
    replicates_requested: int
    replicates_done: int
    replicates_resumed: int
    workers: int
    runtime_s: float
    stopped_early: bool
    interrupted: bool
    metrics: Mapping[str, MetricSummary]
    invalid_day_share: float | None = None
    invalid_days: int | None = None
    peak_rss_mb_max: float | None = None
    da_vs_rt: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The file's entries (as before the schema)."""
        out: dict[str, Any] = {
            "scenario": self.scenario, "seed": self.seed, "command": self.run_command,
            "sweep_point": dict(self.sweep_point), "policy": self.policy,
            "replicates_requested": self.replicates_requested,
            "replicates_done": self.replicates_done,
            "replicates_resumed": self.replicates_resumed, "workers": self.workers,
            "runtime_s": round(self.runtime_s, 3), "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
            "metrics": {k: {"mean": m.mean, "std": m.std, "ci95": list(m.ci95)}
                        for k, m in self.metrics.items()}}
        for name in ("invalid_day_share", "invalid_days", "peak_rss_mb_max"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.da_vs_rt is not None:
            out["da_vs_rt"] = to_json(self.da_vs_rt)
        return out


@dataclass(frozen=True)
class SweepPointSummary:
    """One sweep point of a Monte Carlo sweep."""

    sweep_point: Mapping[str, str]
    replicates_done: int
    invalid_days: int


@dataclass(frozen=True)
class SweepSummary:
    """``sweep_summary.json`` of a Monte Carlo sweep: its points and the joint verdict."""

    command: ClassVar[str] = "montecarlo-sweep"
    scenario: str
    run_command: str
    points: tuple[SweepPointSummary, ...]

    def as_json(self) -> dict[str, Any]:
        """The file's entries."""
        return {"scenario": self.scenario, "run_command": self.run_command,
                "points": to_json(self.points)}


# -- assess -------------------------------------------------------------------------------------

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
        alpha_sensitivity: The station layer at each α of the sensitivity.
        alpha_sensitivity_per_interval: The same under the paper's per-interval definition
            (each bound an α quantile of its interval; no joint guarantee).
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
            "aggregation": self.aggregation,
            "coverage": {**to_json(self.coverage), "days": self.coverage_days}}
        if self.grid is not None:
            out.update({k: to_json(v) for k, v in self.grid.items()})
        if self.exclusivity_benchmark is not None:
            out["exclusivity_benchmark"] = to_json(self.exclusivity_benchmark)
        out["runtime_s"] = round(self.runtime_s, 3)
        return out


# -- flexibility-region -------------------------------------------------------------------------

@dataclass(frozen=True)
class BudgetRegion:
    """The flexible operation region of one coupon budget (``region_tables.region_summary``)."""

    points: int
    directions: int
    vertices: tuple[tuple[float, ...], ...]
    n_vertices: int
    dimension: int
    volume_mw3: float
    measure: float
    measure_unit: str
    thickness_mw: float
    range_mw: Mapping[str, tuple[float, float]]
    points_with_coupons: int
    max_subsidy_spent: float
    max_gap: float | None
    equilibria: int
    equilibria_per_direction: float
    runtime_s: float
    runtime_per_direction_s: float


@dataclass(frozen=True)
class RegionModelSummary:
    """One traffic model's regions (``dynamic`` or ``static``)."""

    stations: tuple[str, ...]
    directions: int
    coupon_coordinates: int
    base_mw: tuple[float, ...]
    setup_s: float
    resumed_points: int
    budgets: Mapping[str, BudgetRegion]


@dataclass(frozen=True)
class TierValidation:
    """The validating tier dispatch (the region paper's §2.2 check).

    Attributes:
        station: The station asked for a reserve of ``reserve_mw``; ``requirement_mw`` its
            base load plus the reserve; ``station_charging_capacity_mw`` its ports' limit.
        max_reachable_mw: Per tier, the station's largest load in that tier's region.
        tier_feasible: Per tier, whether its region reaches the requirement.
        chosen_tier: The cheapest sufficient tier (``None``: none suffices).
        operating_point_mw: The dispatched point; ``inside_chosen_tier`` and
            ``outside_cheaper_tiers`` where it lies.
        actual_subsidy_spent: The coupons the realised equilibrium spent;
            ``realised_point_mw`` its station loads.
    """

    station: str
    reserve_mw: float
    requirement_mw: float
    station_charging_capacity_mw: float | None
    max_reachable_mw: Mapping[str, float]
    tier_feasible: Mapping[str, bool]
    chosen_tier: float | None
    operating_point_mw: tuple[float, ...] | None = None
    inside_chosen_tier: bool | None = None
    outside_cheaper_tiers: Mapping[str, bool] | None = None
    actual_subsidy_spent: float | None = None
    realised_point_mw: tuple[float, ...] | None = None


@dataclass(frozen=True)
class RegionGridCheck:
    """Region points checked against the feeder (``--grid``)."""

    mode: str
    infeasible_points: Mapping[str, int]
    points: Mapping[str, int]

    @property
    def valid(self) -> bool:
        """No point violates the feeder."""
        return not any(self.infeasible_points.values())


@dataclass(frozen=True)
class RegionSummary:
    """``flexibility-region``: regions per traffic model and budget, the tier validation."""

    command: ClassVar[str] = "flexibility-region"
    scenario: str
    time: str
    budgets: tuple[float, ...]
    step_deg: float
    band_min: float
    models: Mapping[str, RegionModelSummary]
    validation: TierValidation | None
    grid: RegionGridCheck
    runtime_s: float

    def as_json(self) -> dict[str, Any]:
        """The file's entries (as before the schema)."""
        out: dict[str, Any] = {"scenario": self.scenario, "time": self.time,
                               "budgets": list(self.budgets), "step_deg": self.step_deg,
                               "band_min": self.band_min, "models": to_json(self.models)}
        if self.validation is not None:
            val = to_json(self.validation)
            if self.validation.chosen_tier is None:
                val = {k: v for k, v in val.items()
                       if k in ("station", "reserve_mw", "requirement_mw",
                                "station_charging_capacity_mw", "max_reachable_mw",
                                "tier_feasible", "chosen_tier")}
            out["validation"] = val
        out["grid"] = {**to_json(self.grid), "valid": self.grid.valid}
        out["runtime_s"] = round(self.runtime_s, 2)
        return out


# -- reproduce ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PaperRunNote:
    """A run of a reproduction (command line, verdict, exit code)."""

    command: str
    verdict: str
    exit_code: int


@dataclass(frozen=True)
class PaperResult:
    """One paper's reproduction in numbers: rows within 20 %, off with a named cause, and off
    with none (a missed target)."""

    paper: str
    rows: int
    within: int
    named: int
    unexplained: int
    runs: tuple[PaperRunNote, ...]


@dataclass(frozen=True)
class ReproduceSummary:
    """``reproduce``: the papers reproduced, the commit, the runtime."""

    command: ClassVar[str] = "reproduce"
    paper: str
    quick: bool
    commit: str
    papers: tuple[PaperResult, ...]
    runtime_s: float

    @classmethod
    def of(cls, paper: str, quick: bool, commit: str, pages: Any, runtime_s: float
           ) -> ReproduceSummary:
        """From the pages written (``environment.experiments.reproduce.rows.PaperPage``)."""
        return cls(paper, quick, commit, tuple(
            PaperResult(p.paper, len(p.rows), sum(not r.off for r in p.rows),
                        sum(r.off and r.cause is not None for r in p.rows), len(p.unexplained),
                        tuple(PaperRunNote(n.command, n.verdict, n.exit_code) for n in p.runs))
            for p in pages), runtime_s)

    def as_json(self) -> dict[str, Any]:
        """The file's entries."""
        return {"paper": self.paper, "quick": self.quick, "commit": self.commit,
                "papers": to_json(self.papers), "runtime_s": round(self.runtime_s, 1)}
