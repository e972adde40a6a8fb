import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from grid.feeder import FeederError, from_pandapower, rate_lines_at_design_load, run_ac
from grid.lindistflow import NetworkLimits
from scenarios.config import load_scenario
from scenarios.errors import InputError
from scenarios.profiles import feeder_totals, read_shapes
from tests.grid_fixtures import case33bw


def test_paper_bus_mapping_weakest_bus_is_paper_18():
    fe = case33bw()
    net = pn.case33bw()
    run_ac(net)
    weakest = int(net.res_bus.vm_pu.idxmin())
    assert fe.resolve_bus(18, "one_based") == weakest
    # the substation is paper bus 1 and cannot host a station
    with pytest.raises(FeederError, match="substation"):
        fe.resolve_bus(1, "one_based")
    assert fe.bus_index[0] == int(net.ext_grid.bus.iloc[0])


def test_unknown_station_bus_is_a_clear_error():
    with pytest.raises(FeederError, match="does not exist"):
        case33bw().resolve_bus(34, "one_based")
    with pytest.raises(FeederError, match="not an in-service bus"):
        case33bw().resolve_bus(99, "index")


def test_meshed_feeder_is_rejected():
    net = pn.case33bw()
    net.line.loc[net.line.index[-1], "in_service"] = True  # close one tie line
    rate_lines_at_design_load(net)
    with pytest.raises(FeederError, match="meshed"):
        from_pandapower(net, "meshed33")


def test_unrated_lines_are_rejected_and_derived_ratings_load_design_case_to_100pct():
    net = pn.case33bw()
    with pytest.raises(FeederError, match="thermal rating"):
        from_pandapower(net, "raw33")
    rate_lines_at_design_load(net)
    run_ac(net)
    on = net.line.in_service
    np.testing.assert_allclose(net.res_line.loading_percent[on], 100.0, rtol=1e-6)


def test_voltage_limits_inverted():
    with pytest.raises(FeederError, match="inverted"):
        NetworkLimits(1.05, 0.95)
    scen = load_scenario()
    with pytest.raises(InputError, match="grid: voltage limits inverted"):
        scen.with_overrides(grid={"v_min_pu": 1.06})


def test_profiles_match_the_paper_description():
    """Shapes are data (SimBench); the scaled totals must land where the paper says."""
    shapes = read_shapes("builtin:simbench_summer_weekday")
    load, pv = feeder_totals(shapes, 0, 15, 96, 1150.0, 1850.0, 600.0)
    hours = np.arange(96) / 4
    assert 19.0 <= hours[np.argmax(load)] <= 21.0
    assert 3.0 <= hours[np.argmin(load)] <= 5.0
    assert load.max() == pytest.approx(1850.0) and load.min() == pytest.approx(1150.0)
    assert 12.0 <= hours[np.argmax(pv)] <= 13.5 and pv.max() == pytest.approx(600.0)
    # SimBench's PV5 still gives 5.2 % of peak at 18:30 and nothing from 19:00
    assert pv[hours >= 18.5].max() <= 0.06 * pv.max()
    assert pv[hours >= 19.0].max() == 0.0
    assert pv[(hours < 4) | (hours > 21)].max() == 0.0


def test_shipped_profiles_reproduce_from_simbench():
    simbench = pytest.importorskip("simbench")
    from pathlib import Path

    from scenarios.tools.extract_simbench_profiles import extract

    root = Path(simbench.__file__).parent / "networks" / "1-complete_data-mixed-all-0-sw"
    fresh = extract(root)
    shipped = read_shapes("builtin:simbench_summer_weekday")
    np.testing.assert_allclose(fresh.load_p, shipped.load_p, atol=1e-6)
    np.testing.assert_allclose(fresh.pv_p, shipped.pv_p, atol=1e-6)


def test_profile_source_missing(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_shapes("nope.csv", tmp_path)
    (tmp_path / "bad.csv").write_text("time,x\n00:00,1\n")
    with pytest.raises(InputError, match="lacks columns"):
        read_shapes("bad.csv", tmp_path)


def test_pandapower_json_feeder_loads_through_the_same_interface(tmp_path):
    from grid.feeder import load_feeder

    net = pn.case33bw()
    rate_lines_at_design_load(net, 1.5)
    pp.to_json(net, str(tmp_path / "f.json"))
    fe = load_feeder("f.json", tmp_path)
    assert fe.n_bus == 33 and fe.lines_only
    np.testing.assert_allclose(fe.i_max_ka, case33bw().i_max_ka * 1.5, rtol=1e-6)
