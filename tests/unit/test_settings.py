"""``--set KEY=VALUE``: scenario fields for one run, validated like the file; refused input is
one line naming the field and the fix (exit 2)."""

import re

import pytest

from environment.cli.main import main
from environment.experiments.sweeps import apply_settings
from scenarios.config import load_scenario
from scenarios.errors import InputError


def test_settings_apply_in_turn_and_are_validated():
    sc = load_scenario("zonal_case")
    out = apply_settings(sc, ["dispatch.zonal.demand_charge_per_kw=5", "grid.v_min_pu=0.92",
                              "v2g_share=1.0"])
    assert out.dispatch.zonal.demand_charge_per_kw == 5.0
    assert out.grid.v_min_pu == 0.92 and out.behaviour.v2g_share == 1.0
    assert sc.dispatch.zonal.demand_charge_per_kw != 5.0  # the loaded scenario is unchanged
    assert apply_settings(sc, None) is sc
    with pytest.raises(InputError, match="not KEY=VALUE"):
        apply_settings(sc, ["grid.v_min_pu"])
    with pytest.raises(InputError, match=re.escape("--set: unknown key 'grid.nope'")):
        apply_settings(sc, ["grid.nope=1"])
    with pytest.raises(InputError, match=re.escape("--set grid.v_min_pu=2")):
        apply_settings(sc, ["grid.v_min_pu=2"])  # the schema refuses it


def test_n_ev_and_chargers_set_every_station():
    sc = load_scenario("zonal_case")
    out = apply_settings(sc, ["chargers=120", "n_ev=250"])
    assert [s.chargers for s in out.stations] == [120] * len(sc.stations)
    assert [s.chargers for s in sc.stations] != [120] * len(sc.stations)
    assert [s.n_ev for s in out.stations] == [250] * len(sc.stations)
    with pytest.raises(InputError, match=re.escape("--set chargers=0")):
        apply_settings(sc, ["chargers=0"])  # the schema wants at least one charger


def test_a_refused_setting_exits_2_with_one_line(tmp_path, capsys):
    code = main(["dispatch", "--method", "zonal", "--scenario", "zonal_case", "--quiet",
                 "--set", "dispatch.zonal.nope=3", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "dispatch.zonal.nope" in err[0]
    assert not (tmp_path / "o").exists()
