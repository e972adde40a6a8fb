"""The simulation context every agent is built with (instead of reading the mesa model).

The kernel (``environment.model``) builds one :class:`SimContext` per run and hands it to the
EV and station agents at construction; agents read the clock, the interval grid, the travel
model and the queue rule from it and nothing else from the model. A test needs no model
subclass: ``SimContext.create(15.0, 96)`` and a plain ``mesa.Model()`` are enough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import simpy

from traffic.interface import ScheduledArrival, TravelModel

QueueRule = Literal["wait", "leave"]
GRID_TOL = 1e-9  # minutes divided by dt within this of an interval edge count as on it


@dataclass(frozen=True)
class SimContext:
    """Clock, interval grid and rules shared by the agents of one run.

    Attributes:
        env: The simpy clock (minutes from the horizon start).
        dt_min: Interval length in minutes.
        dt_h: Interval length in hours.
        n_intervals: Number of intervals of the horizon.
        travel: Decides when an EV reaches its station (``traffic.interface``).
        queue_rule: ``wait``: an EV waits for a charger until its departure; ``leave``: it
            leaves at once when every charger is busy.
    """

    env: simpy.Environment
    dt_min: float
    dt_h: float
    n_intervals: int
    travel: TravelModel = field(default_factory=ScheduledArrival)
    queue_rule: QueueRule = "wait"

    @classmethod
    def create(cls, dt_min: float, n_intervals: int, travel: TravelModel | None = None,
               queue_rule: QueueRule = "wait") -> SimContext:
        """A context on a fresh simpy clock (``dt_h = dt_min / 60``)."""
        return cls(env=simpy.Environment(), dt_min=float(dt_min), dt_h=dt_min / 60.0,
                   n_intervals=n_intervals, travel=travel or ScheduledArrival(),
                   queue_rule=queue_rule)

    def first_whole_interval(self, minute: float) -> int:
        """First interval starting at or after ``minute`` (``ceil(minute / dt)``)."""
        return math.ceil(minute / self.dt_min - GRID_TOL)

    def departure_interval(self, minute: float) -> int:
        """First interval not wholly before ``minute`` (``floor(minute / dt)``)."""
        return math.floor(minute / self.dt_min + GRID_TOL)
