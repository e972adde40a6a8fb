"""Typed summary of ``flexibility-region``: regions, tiers, grid check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from environment.summaries.base import to_json


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
class ResponseRegion:
    """What the run's linear response model predicts for one budget.

    The hull of ``P_0 + J psi`` over every coupon vector with ``v . psi <= F_max`` and
    ``0 <= psi <= psi_max`` (``flexibility.region.budget_image_points``; ``J`` and ``v`` the
    finite-difference response and spend per unit coupon of the set-up).
    """

    volume_mw3: float
    dimension: int
    measure: float
    measure_unit: str
    range_mw: Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class RegionModelSummary:
    """One traffic model's regions (``dynamic`` or ``static``).

    Attributes:
        band_min: Coupon band (minutes of departure time); ``coupon_coordinates`` = stations x
            2 services x bands.
        base_mw: The no-coupon point per station.
        ports_range_mw: Per station, V2G ports at their power discharging to charging ports at
            theirs (under soft capacity occupancy may exceed the ports, at a waiting cost).
        spend_rate_cny: Least and largest realised spend per unit coupon over the coupon
            coordinates that spend (CNY per CNY/kWh).
        response: Per budget, the region the linear response model predicts
            (:class:`ResponseRegion`).
    """

    stations: tuple[str, ...]
    directions: int
    band_min: float
    coupon_coordinates: int
    base_mw: tuple[float, ...]
    setup_s: float
    resumed_points: int
    budgets: Mapping[str, BudgetRegion]
    ports_range_mw: Mapping[str, tuple[float, float]]
    spend_rate_cny: tuple[float, float]
    response: Mapping[str, ResponseRegion]


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
    models: Mapping[str, RegionModelSummary]
    validation: TierValidation | None
    grid: RegionGridCheck
    runtime_s: float
    processes: int = 1

    def as_json(self) -> dict[str, Any]:
        """The file's entries (as before the schema)."""
        out: dict[str, Any] = {"scenario": self.scenario, "time": self.time,
                               "budgets": list(self.budgets), "step_deg": self.step_deg,
                               "models": to_json(self.models)}
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
        out["processes"] = self.processes
        return out
