"""Typed summary of ``traffic``: a user equilibrium."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from environment.summaries.base import to_json


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
