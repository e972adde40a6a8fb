"""The zonal case on public daytime sessions, the day the must-charge oracles were built on.

The shipped zonal case charges residential cars overnight; these oracles need its public
variant (the reproduction page's ``public`` run: the Perth & Kinross sessions on a day from
midnight) with 120 chargers a station and the distribution layer planning within the users'
price response, whose evening flags the α package above the network.
"""

from __future__ import annotations

from environment.cli.runs import load_with_settings
from environment.experiments.reproduce.papers import ZONAL_SENSITIVITY
from scenarios.config import Scenario

SETTINGS = (*next(r for r in ZONAL_SENSITIVITY if r.tag == "public").settings, "chargers=120",
            "dispatch.zonal.response_in_layer=true")


def zonal_public_case(simulation: dict) -> Scenario:
    """The zonal case with ``SETTINGS`` and these ``simulation`` fields."""
    return load_with_settings("zonal_case", list(SETTINGS)).with_overrides(
        simulation=simulation)
