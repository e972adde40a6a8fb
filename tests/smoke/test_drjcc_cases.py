"""The IEEE 123-node feeder loads and flows; the DRJCC scale scenarios parse and map onto it.

The dispatch runs themselves (one to two minutes each) are measured by
``tests/benchmarks/test_dispatch_ieee123.py`` and ``run_sim.py dispatch --scenario <name>``.
"""

import numpy as np
import pytest

from grid.feeder import load_feeder
from grid.sparse_ac import ac_solver
from scenarios.config import load_scenario

DRJCC = {"drjcc_33_3000": ("case33bw", 3000, 10), "drjcc_123_4400": ("ieee123", 4400, 20),
         "drjcc_123_10000": ("ieee123", 10_000, 20)}


@pytest.fixture(scope="module")
def ieee123():
    return load_feeder("ieee123")


def test_ieee123_loads_radial_and_flows(ieee123):
    fe = ieee123
    assert fe.n_bus == 119 and fe.lines_only
    assert int(fe.bus_index[0]) == 150 and fe.position(114) > 0
    assert fe.load_p_kw.sum() == pytest.approx(3490.0)
    assert fe.load_q_kvar.sum() == pytest.approx(1920.0 - 750.0)  # spot loads less capacitors
    res = ac_solver(fe).solve(fe.load_p_kw[None], fe.load_q_kvar[None])
    assert res.converged.all()
    assert res.vm_pu[0].min() == pytest.approx(0.9527, abs=1e-4)
    assert int(fe.bus_index[np.argmin(res.vm_pu[0])]) == 114
    # every line is rated at its design-load current (line_margin 1): fully loaded where loaded
    loaded = res.loading_pct[0][fe.rating_kva > 1.0]
    np.testing.assert_allclose(loaded, 100.0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(DRJCC))
def test_drjcc_scenarios_parse_and_map_onto_their_feeder(name, ieee123):
    feeder, n_ev, n_stations = DRJCC[name]
    sc = load_scenario(name)
    assert sc.name == name and sc.grid.feeder == feeder
    assert sum(s.n_ev for s in sc.stations) == n_ev and len(sc.stations) == n_stations
    assert sc.dispatch.method == "oba" and len(sc.dispatch.generators) == 3
    if feeder != "ieee123":
        return
    fe = ieee123
    buses = [s.bus for s in sc.stations] + [g.bus for g in sc.dispatch.generators]
    pos = [fe.position(fe.resolve_bus(b, sc.grid.bus_numbering)) for b in buses]
    # no device behind one of the nil-rated dead-end lines (buses without any design load)
    assert (fe.rating_kva[np.asarray(pos) - 1] > 1.0).all()
