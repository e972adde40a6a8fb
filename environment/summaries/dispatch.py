"""Typed summary of ``dispatch``: the chance-constrained variants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from environment.summaries.base import to_json


@dataclass(frozen=True)
class UncertaintySummary:
    """The forecast errors behind a chance-constrained dispatch."""

    data_days: int
    ev_days: int
    net_components_per_interval: tuple[int, ...]
    ev_components_per_interval: tuple[int, ...]
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
            days, at the AC operating points with the reserves;
            ``mean_interval_violation`` its mean over intervals.
        days_without_violation: Share of replay days without any violation.
        mean_risk_per_interval_by_family: Risk allocated per interval, by constraint family.
        message: Why it is infeasible (empty when feasible).
        worst_interval_violation_ci: 95 % Wilson interval of the worst interval's violation
            rate over the replay days.
        days_without_violation_ci: 95 % Wilson interval of the share of days without any
            violation.
        worst_interval_violation_lindistflow: The worst interval's rate on the model's own
            LinDistFlow rows (the other measures are AC).
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
    worst_interval_violation_ci: tuple[float, float] | None = None
    days_without_violation_ci: tuple[float, float] | None = None
    worst_interval_violation_lindistflow: float | None = None


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
    replay_dates: int = 0

    def as_json(self) -> dict[str, Any]:
        """The file's entries (as before the schema)."""
        return {"scenario": self.scenario, "seed": self.seed, "method": self.method,
                "epsilon": self.epsilon, "feasible": self.feasible,
                "uncertainty": to_json(self.uncertainty),
                "devices": {"generators": list(self.generators),
                            "aggregators": list(self.aggregators)},
                "replay_days": self.replay_days, "replay_dates": self.replay_dates,
                "variants": to_json(self.variants),
                "runtime_s": self.runtime_s}
