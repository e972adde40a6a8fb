"""Typed summary of ``montecarlo`` / ``compare-da-rt``: replicates and sweeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from environment.summaries.base import to_json


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
