"""What the kernel needs of a day planner: the seam between the co-simulator and the planners.

A **day planner** (implementations in ``environment.planning``, chosen by policy name from its
registry) plans the day before the horizon from what the grid agent committed day-ahead; the
co-simulator then executes the plan tick by tick. The kernel knows planners only through these
protocols, so it imports none of them (they are injected into ``CoSimModel``):

* :class:`DayPlanner` — ``plan_day(inputs) -> PlannedDay`` and the background the grid agent
  forecasts with before the day is planned (the planner's devices at their expected output);
* :class:`PlannedDay` — the day as planned: the :class:`agents.dispatch_plan.CallPlan` the TSO
  follows (``None``: no feasible plan, then ``message`` says why), the ``dispatch`` rows of a
  tick, the day's metrics from those rows, and the background the plan schedules (the grid
  agent clips the real-time envelopes on it);
* :class:`PlanningInputs` — what a planner may use: the scenario, the feeder model, the
  stations' committed day-ahead boundaries, their forecast pools and reference charging, and
  the run's own random stream for planning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from agents.dispatch_plan import CallPlan, DispatchStep
from environment.records import DispatchRows
from flexibility.common import FloatArray
from flexibility.fleet import Fleet
from flexibility.packaging import Boundary
from grid.ac import AcResult
from grid.layers import GridModel
from scenarios.config import Scenario


@dataclass(frozen=True)
class PlanningInputs:
    """What a day planner may use.

    Attributes:
        scenario: The scenario.
        grid: The feeder model (LinDistFlow rows, AC solver, forecast background).
        boundary: The stations' committed day-ahead boundaries, by station name.
        pools: The stations' forecast pools (sampled fleets), in station order.
        ev_ref_kw: The pools' reference charging per sampled day ``(M, J, T)``.
        rng: The run's planning stream (``RunStreams.dispatch``).
    """

    scenario: Scenario
    grid: GridModel
    boundary: dict[str, Boundary]
    pools: list[Fleet]
    ev_ref_kw: FloatArray
    rng: np.random.Generator


class PlannedDay(Protocol):
    """A day as planned (module docstring)."""

    @property
    def plan(self) -> CallPlan | None:
        """What the agents execute (``None``: no feasible plan)."""

    @property
    def message(self) -> str:
        """Why there is no plan (empty when there is one)."""

    @property
    def method(self) -> str:
        """The planner's variant (``oba``, ``zonal``, ...)."""

    @property
    def epsilon(self) -> float:
        """Joint risk per interval of a chance-constrained plan (NaN otherwise)."""

    def rows(self, k: int, done: DispatchStep, ac: AcResult, label: str) -> DispatchRows:
        """The ``dispatch`` rows of tick ``k``."""

    def metrics(self, frame: pd.DataFrame, dt_h: float) -> dict[str, float]:
        """The day's ``dispatch_*`` metrics from its ``dispatch`` table."""

    def headline(self, metrics: dict[str, float], ticks: int) -> str:
        """One console line on how the plan went."""

    def planned_background(self) -> tuple[FloatArray, FloatArray] | None:
        """The non-EV consumption per interval and bus position the plan schedules, active
        and reactive ``(T, n)`` each (its generators, renewables and reactive devices in);
        ``None``: the grid agent keeps its forecast background."""


class DayPlanner(Protocol):
    """Plans a day before the horizon (module docstring)."""

    def forecast_background(self, scenario: Scenario, grid: GridModel
                            ) -> tuple[FloatArray, FloatArray] | None:
        """The non-EV consumption the grid agent forecasts before the day is planned, with
        the planner's devices at their expected output (``(T, n)`` each); ``None``: the
        feeder's background as it is."""

    def plan_day(self, inputs: PlanningInputs) -> PlannedDay:
        """The day as planned from ``inputs``."""
