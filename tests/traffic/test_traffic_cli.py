"""run_sim.py traffic: static and dynamic outputs, the coupled scenario, bad input."""

import json

import pandas as pd
import pytest

from environment.cli.main import main
from traffic.network import NetworkError
from traffic.scenario import build_network


def test_static_outputs(tmp_path):
    assert main(["traffic", "--assignment", "static", "--out", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["assignment"] == "static" and s["relative_gap"] <= 1e-8
    assert set(s["od_costs"]) == {"1-2", "1-3", "4-2", "4-3"}
    links = pd.read_parquet(tmp_path / "links.parquet")
    assert len(links) == 19 and {"from_node", "to_node", "flow_veh_h",
                                 "travel_time_min"} <= set(links.columns)


def test_coupled_dynamic_outputs(tmp_path):
    assert main(["traffic", "--scenario", "nd_coupled", "--out", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["relative_gap"] <= 0.01 and s["iterations"] >= 1
    assert {"relative_gap", "iterations", "total_travel_time_veh_min", "od_costs",
            "runtime_s"} <= set(s)
    links = pd.read_parquet(tmp_path / "links.parquet")
    assert {"from_node", "to_node", "inflow", "outflow", "travel_time_min",
            "queue"} <= set(links.columns)
    st = pd.read_parquet(tmp_path / "stations.parquet")
    assert set(st.station) == {"CS1", "CS2", "CS3"}
    # 30 % of the vehicles use a station, up to one vehicle of rounding per demand group
    groups = 4 * 12 * 3
    assert abs(st.arrivals.sum() - 0.3 * s["vehicles"]) <= groups
    assert {"queue", "mean_wait_min"} <= set(st.columns)
    for png in ("gap_convergence.png", "link_queues.png", "station_queues.png",
                "dta_vs_sta_station_loads.png"):
        assert (tmp_path / png).stat().st_size > 10_000


def test_coupled_simulation_rides_the_traffic_model(tmp_path):
    # the coupled case overloads its 2 MW substation in the evening: the run says so (exit 3)
    assert main(["simulate", "--scenario", "nd_coupled", "--quiet", "--no-plots",
                 "--out", str(tmp_path)]) == 3
    evs = pd.read_parquet(tmp_path / "evs.parquet")
    traffic_evs = len(evs)
    assert traffic_evs > 500  # 30 % of about 4,000 vehicles
    # the station sees EVs when the traffic model delivers them, not at their trip start
    assert (evs.arrival_min > evs.planned_arrival_min).mean() > 0.99
    assert set(evs.station) == {"CS1", "CS2", "CS3"}


@pytest.mark.parametrize("args,needle", [
    (["traffic", "--network", "sioux"], "--network"),
    (["traffic", "--scenario", "paper_case"], "no [traffic] section"),
    (["traffic", "--target-gap", "0"], "--target-gap"),
])
def test_bad_traffic_input(args, needle, capsys):
    assert main(args) == 2
    assert needle in capsys.readouterr().err


def test_bad_station_and_demand_are_named(paper_scenario):
    from scenarios.config import load_scenario

    cfg = load_scenario("nd_coupled").traffic
    bad = cfg.model_copy(update={"stations": [cfg.stations[0].model_copy(update={"bus": None})]})
    with pytest.raises(NetworkError, match="no feeder bus"):
        build_network(bad)
    bad = cfg.model_copy(update={"stations": [cfg.stations[0].model_copy(update={"node": 99})]})
    with pytest.raises(NetworkError, match="node 99 is not in the network"):
        build_network(bad)
    from environment.traffic_coupling import traffic_sessions
    from scenarios.errors import InputError

    scen = load_scenario("nd_coupled")
    late = scen.model_copy(update={"traffic": cfg.model_copy(update={"start": "22:00"})})
    with pytest.raises(InputError, match="outside the horizon"):
        traffic_sessions(late)
