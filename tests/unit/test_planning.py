"""The planning registry: one list of policies, a planner for every planning policy, the
kernel refusing a planning policy without its planner."""

import numpy as np
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


def test_the_zonal_planners_backgrounds_reach_the_grid_agent(tmp_path):
    """Under ``dispatch:zonal`` the grid agent commits day-ahead on the feeder with the case's
    plants at their expected output (base load less every plant's available output, less the
    must-run diesel at full output; reactive load as it is) and clips in real time on the
    background the plan schedules."""
    from importlib import resources

    from environment.cli.runs import load_behaviour
    from environment.grid_setup import build_grid_model
    from environment.model import CoSimModel
    from environment.planning.zonal import expected_background
    from scenarios.config import load_scenario

    text = (resources.files("scenarios") / "zonal_case.toml").read_text()
    path = tmp_path / "zonal_light.toml"
    path.write_text(text.replace("n_ev = 300", "n_ev = 40"))
    sc = load_scenario(path)
    gm = build_grid_model(sc)
    p, q = expected_background(sc, gm)
    base = gm.background.p_net_kw
    assert (q == gm.background.q_load_kvar).all()
    removed = base - p
    gen_pos = {gm.feeder.position(gm.feeder.resolve_bus(b, "one_based", "bus"))
               for b in [r.bus for r in sc.dispatch.zonal.renewables]
               + [g.bus for g in sc.dispatch.generators]}
    others = [i for i in range(base.shape[1]) if i not in gen_pos]
    assert (removed[:, others] == 0).all() and (removed >= -1e-12).all()
    dg = sc.dispatch.generators[0]
    dg_pos = gm.feeder.position(gm.feeder.resolve_bus(dg.bus, "one_based", "bus"))
    assert (removed[:, dg_pos] >= dg.p_max_kw - 1e-9).all()  # must-run, at full output
    cap = sum(r.p_max_kw for r in sc.dispatch.zonal.renewables)
    assert removed.sum(axis=1).max() <= cap + dg.p_max_kw + 1e-6

    model = CoSimModel(sc, load_behaviour(sc, None), 1, policy="dispatch:zonal",
                       planner=planner_for("dispatch:zonal"))
    assert model.dispatch is not None and model.dispatch.plan is not None
    planned_p, planned_q = model.dispatch.planned_background()
    np.testing.assert_array_equal(model.grid_agent.grid.background.p_net_kw, planned_p)
    np.testing.assert_array_equal(model.grid_agent.grid.background.q_load_kvar, planned_q)
    model.release()
