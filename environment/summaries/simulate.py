"""Typed summary of ``simulate``: one co-simulated day."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from environment.day_metrics import DayMetrics
from environment.summaries.base import to_json

if TYPE_CHECKING:
    from agents.grid_operator import DayAheadCommitment


@dataclass(frozen=True)
class FeederInfo:
    """The feeder of a run."""

    name: str
    buses: int
    stations: int


@dataclass(frozen=True)
class DayAheadInfo:
    """The day-ahead commitment's grid feasibility and its reserve product's size.

    Attributes:
        infeasible_intervals: Grid-infeasible intervals of the commitment: on some kept day the
            expected vehicles' unavoidable draw is not AC-feasible (``agents.grid_operator``).
        unsheddable_kwh: That draw's energy the network cannot carry (largest day per interval).
        reserve_p_up_mean_kw: Mean upper power row ``P^+`` of the reserve set over the day.
        reserve_p_down_mean_kw: Mean lower power row ``-P^-`` (a positive number).
        reserve_e_up_max_kwh: Largest upward energy row ``Y^+``.
        reserve_e_down_max_kwh: Largest downward energy row ``-Y^-``.
        package_infeasible_intervals: Intervals the α package's lower bound lies above the
            network (the package check; a report).
        package_unsheddable_kwh: The package's must-serve energy the network cannot carry.
    """

    infeasible_intervals: int
    unsheddable_kwh: float
    reserve_p_up_mean_kw: float = 0.0
    reserve_p_down_mean_kw: float = 0.0
    reserve_e_up_max_kwh: float = 0.0
    reserve_e_down_max_kwh: float = 0.0
    package_infeasible_intervals: int = 0
    package_unsheddable_kwh: float = 0.0

    @classmethod
    def of(cls, da: DayAheadCommitment, dt_h: float) -> DayAheadInfo:
        """The commitment's grid feasibility and its reserve product's size."""
        d = da.reserve.reserve
        return cls(int(da.infeasible.sum()), float(da.unsheddable_kw.sum() * dt_h),
                   reserve_p_up_mean_kw=float(d.p_hi_kw.mean()),
                   reserve_p_down_mean_kw=float(-d.p_lo_kw.mean()),
                   reserve_e_up_max_kwh=float(d.y_hi_kwh.max()),
                   reserve_e_down_max_kwh=float(-d.y_lo_kwh.min()),
                   package_infeasible_intervals=(0 if da.package_infeasible is None
                                                 else int(da.package_infeasible.sum())),
                   package_unsheddable_kwh=(0.0 if da.package_unsheddable_kw is None else
                                            float(da.package_unsheddable_kw.sum() * dt_h)))


@dataclass(frozen=True)
class SimulateSummary:
    """``simulate``: one co-simulated day.

    Attributes:
        scenario: Scenario name.
        seed: The run's seed.
        policy: Call policy.
        day: The day's metrics (flattened into the file).
        n_scenarios_rt: Sampled days per station in the forecast pool.
        alpha: Confidence level of the day-ahead product and the per-tick package.
        package: What the DSO publishes every tick (``alpha-battery`` or ``vehicle-box``).
        package_days: Pool days behind each tick's α package (at most the pool's).
        queue_rule: What an EV does when every charger is taken.
        patience_min: Longest queue wait at one station (``patience``, ``reroute``; ``None``
            under ``wait`` and ``leave``).
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
    alpha: float
    package: str
    package_days: int
    queue_rule: str
    feeder: FeederInfo
    day_ahead: DayAheadInfo
    dispatch: Mapping[str, float | str | None] | None
    runtime_s: float
    setup_s: float
    ticks_s: float
    patience_min: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The file's entries: the day's metrics at the top level (as before the schema)."""
        out: dict[str, Any] = {"scenario": self.scenario, "seed": self.seed,
                               "policy": self.policy, **self.day.as_dict(),
                               "n_scenarios_rt": self.n_scenarios_rt, "alpha": self.alpha,
                               "package": self.package, "package_days": self.package_days,
                               "queue_rule": self.queue_rule,
                               "patience_min": self.patience_min, "feeder": to_json(self.feeder),
                               "n_ev": self.day.evs.total}
        if self.dispatch is not None:
            out["dispatch"] = to_json(self.dispatch)
        out.update(runtime_s=round(self.runtime_s, 3), setup_s=round(self.setup_s, 3),
                   ticks_s=round(self.ticks_s, 3), day_ahead=to_json(self.day_ahead))
        return out
