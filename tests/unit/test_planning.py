"""The planning registry: one list of policies, a planner for every planning policy, the
kernel refusing a planning policy without its planner."""

import pytest

from agents.transmission import RULES
from environment.cli.main import POLICIES as CLI_POLICIES
from environment.planning.chance import ChancePlanner
from environment.planning.registry import PLANNERS, POLICIES, planner_for
from environment.planning.zonal import ZonalPlanner


def test_one_list_of_policies():
    assert tuple(CLI_POLICIES) == POLICIES
    assert set(RULES) | set(PLANNERS) == set(POLICIES)
    assert not set(RULES) & set(PLANNERS)


def test_planner_for():
    assert planner_for("random-within") is None
    assert planner_for("dispatch:oba") == ChancePlanner("oba")
    assert isinstance(planner_for("dispatch:zonal"), ZonalPlanner)
    with pytest.raises(ValueError, match="unknown call policy"):
        planner_for("dispatch:cheap")


def test_kernel_refuses_a_planning_policy_without_its_planner(paper_scenario, shipped_model):
    from environment.model import CoSimModel

    with pytest.raises(ValueError, match="needs a day planner"):
        CoSimModel(paper_scenario, shipped_model, 1, policy="dispatch:oba")


def test_the_scenarios_rule_lists_match_the_tso():
    """The commands read the rule names from the scenario schema, the TSO has its own."""
    from agents.transmission import RESERVE_RULES, RULES
    from scenarios.sections import RESERVE_POLICIES, TSO_RULES

    assert set(TSO_RULES) == set(RULES) and set(RESERVE_POLICIES) == set(RESERVE_RULES)
