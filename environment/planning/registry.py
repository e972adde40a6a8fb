"""The call policies by name, and the day planner behind each planning policy.

The names are the scenario's ``simulation.policy`` values (``scenarios.sections.CallPolicy``,
the one list): the CLI's choices and the scenario validation read them from there, the
co-simulator gets its planner from :func:`planner_for`. Policies without a planner are the
TSO's own call rules (``agents.transmission``).
"""

from __future__ import annotations

from typing import get_args

from environment.day_plan import DayPlanner
from environment.planning.chance import ChancePlanner
from environment.planning.zonal import ZonalPlanner
from scenarios.sections import CallPolicy

POLICIES: tuple[str, ...] = get_args(CallPolicy)
"""Every call policy, in the scenario file's order."""

PLANNERS: dict[str, DayPlanner] = {
    "dispatch:oba": ChancePlanner("oba"),
    "dispatch:bonferroni": ChancePlanner("bonferroni"),
    "dispatch:so": ChancePlanner("so"),
    "dispatch:ro": ChancePlanner("ro"),
    "dispatch:zonal": ZonalPlanner(),
}
"""The day planner of every planning policy."""


def planner_for(policy: str) -> DayPlanner | None:
    """The day planner of ``policy`` (``None``: a call rule of the TSO's own).

    Raises:
        ValueError: ``policy`` is not a call policy.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown call policy {policy!r}; use one of {', '.join(POLICIES)}")
    return PLANNERS.get(policy)
