"""Typed summary of ``dispatch --method zonal``: the two-layer zonal dispatch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from environment.summaries.base import to_json


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
    """The aggregation layer on a realised day (``aggregation_layer`` in the file).

    ``trading_price_premium_max_pct``: the largest inter-area trading price over the purchase
    price of its interval, in percent, over the intervals with a positive purchase price
    (``None`` when none has one, e.g. a tariff of capacity charges only).
    ``ev_energy_kwh``: the realised vehicles' net energy (charging less V2G) after both layers;
    ``uncoordinated_ev_energy_kwh``: what the same vehicles charge uncoordinated.
    """

    realised_vehicles: int
    user_types_1_to_4: tuple[int, ...]
    areas_feasible: int
    price_change_by_area_peak_flat_valley: tuple[tuple[float, ...], ...]
    area_tracking_deviation_kwh: float
    vehicle_deviation_kwh: float
    diesel_kwh: float
    bought_from_neighbours_kwh: float
    trading_price_premium_max_pct: float | None
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
    targets: str = "economic"
    target_rounds: int = 0
    target_moves_kw: tuple[float, ...] = ()
    targets_converged: bool = False
    target_tol_kw: float = 0.0
    tie_loss_kwh_economic_plan: float = 0.0
    tie_loss_kwh_loss_plan: float = 0.0
    demand_over_capability_max_by_area: tuple[float, ...] = ()
    costs: CostParts | None = None
    uncoordinated_ev_energy_kwh: float | None = None


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
    response_in_layer: bool = False
    response_override_kwh: float = 0.0
    cost_basis: str = "AC purchase (losses included) for before, after and two layers"

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
            "carbon_traded_t": self.carbon_traded_t, "ac": ac, "runtime_s": self.runtime_s,
            "response_in_layer": self.response_in_layer,
            "response_override_kwh": self.response_override_kwh, "cost_basis": self.cost_basis}
        if self.aggregation_layer is not None:
            out["aggregation_layer"] = to_json(self.aggregation_layer)
        out["valid"] = self.valid
        return out
