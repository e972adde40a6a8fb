"""A feeder from ``load_feeder`` travels (pickled) without its pandapower network and
rebuilds the same network on first use; worker processes that only run the fast models
never import pandapower."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd

from grid.feeder import Feeder, load_feeder


def _arrays_equal(a: Feeder, b: Feeder) -> None:
    for f in dataclasses.fields(Feeder):
        if f.name == "net":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


def test_pickled_feeder_leaves_the_network_behind_and_rebuilds_it():
    fe = load_feeder("case33bw", line_margin=2.0)
    blob = pickle.dumps(fe)
    assert len(blob) < len(pickle.dumps(fe.net)) / 4  # the network did not travel
    back = pickle.loads(blob)
    assert "net" not in back.__dict__
    _arrays_equal(fe, back)
    assert back.resolve_bus(18, "one_based") == fe.resolve_bus(18, "one_based")
    assert "net" not in back.__dict__  # bus numbers resolve without the network
    net = back.net  # rebuilt from load_feeder's arguments, the derived ratings included
    pd.testing.assert_frame_equal(net.line, fe.net.line)
    pd.testing.assert_frame_equal(net.bus, fe.net.bus)
    assert back.net is net  # once
    # a feeder that arrived without its network travels on (a worker re-sends it)
    _arrays_equal(fe, pickle.loads(pickle.dumps(pickle.loads(blob))))


def test_a_feeder_with_a_replaced_network_keeps_it_when_pickled():
    fe = load_feeder("case33bw")
    other = copy.deepcopy(fe.net)
    other.line.loc[0, "max_i_ka"] = 0.123
    mine = dataclasses.replace(fe, net=other)
    back = pickle.loads(pickle.dumps(mine))
    assert back.net.line.loc[0, "max_i_ka"] == 0.123


def test_a_worker_checks_region_points_without_importing_pandapower_or_pandas(tmp_path):
    from environment.grid_setup import build_grid_model
    from scenarios.config import load_scenario

    scenario = load_scenario("nd_coupled")
    path = tmp_path / "grid.pkl"
    path.write_bytes(pickle.dumps((scenario, build_grid_model(scenario))))
    code = textwrap.dedent(f"""
        import pickle, sys
        from environment.experiments.flex_region import Evaluator, check_request, n_bands_of
        scenario, grid = pickle.loads(open({str(path)!r}, "rb").read())
        ev = Evaluator(scenario, "dynamic", check_request(scenario, "dynamic", "18:00", 60.0),
                       60.0, n_bands_of(scenario.traffic, 60.0), grid=grid)
        ok, vmin = ev.grid_check(ev.to_grid * 0.0 + 100.0)
        assert 0.8 < vmin < 1.1, vmin
        import environment.experiments.flex_region_run  # the tasks' module
        print(sorted(m for m in ("pandapower", "pandas") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_only_the_stateless_radial_sweep_travels_to_the_workers():
    from environment.experiments.flex_region import shared_grid
    from environment.grid_setup import build_grid_model
    from scenarios.config import load_scenario

    radial = build_grid_model(load_scenario("nd_coupled"))
    assert shared_grid(radial) is radial
    # SparseAc keeps a warm start between solves (a shared copy would answer by history)
    assert shared_grid(build_grid_model(load_scenario("ux37"))) is None
