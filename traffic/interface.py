"""The seam between EV agents and the traffic model.

An EV agent asks its travel model when it reaches its station; the agent does not care how that
time is produced. :class:`ScheduledArrival` returns the arrival time drawn from the behaviour
model; ``environment.traffic_coupling.AssignedArrivals`` returns the arrival the dynamic traffic
equilibrium decides. No agent changes between the two.
"""

from __future__ import annotations

from typing import Protocol


class TravelModel(Protocol):
    """Decides when an EV reaches its station node."""

    def arrival_min(self, ev_id: int, station: str, planned_min: float) -> float:
        """Minute (from the horizon start) at which the EV reaches ``station``.

        Args:
            ev_id: The EV agent's unique id.
            station: Name of the destination station.
            planned_min: The arrival the behaviour model drew (departure from home plus the
                free-flow trip, in the behaviour data's terms).
        """
        ...


class ScheduledArrival:
    """No road network: the EV arrives exactly when the behaviour model says."""

    def arrival_min(self, ev_id: int, station: str, planned_min: float) -> float:
        """The planned arrival, unchanged."""
        return planned_min
