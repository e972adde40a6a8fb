"""LinDistFlow and the radial sweep against pandapower's Newton–Raphson (the reference)."""

import copy
import itertools

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from grid.ac import RadialSweep
from grid.feeder import ieee123_net, load_feeder, rate_lines_at_design_load, run_ac
from grid.lindistflow import LinDistFlow
from tests.grid_fixtures import case33bw

# Measured LinDistFlow voltage-magnitude error vs AC on case33bw (losses neglected):
# 0.0023 p.u. at 0.5x, 0.0084 p.u. at 1.0x, 0.019 p.u. at 1.5x base load.
LDF_TOL = {0.5: 0.003, 1.0: 0.010, 1.5: 0.022}


def _reference_net(scale):
    net = pn.case33bw()
    rate_lines_at_design_load(net)
    net.load["scaling"] = scale
    run_ac(net)
    return net


@pytest.mark.parametrize("scale", [0.5, 1.0, 1.5])
def test_lindistflow_voltages_vs_pandapower(scale):
    fe = case33bw()
    net = _reference_net(scale)
    ldf = LinDistFlow(fe)
    v = np.sqrt(ldf.voltage_sq(scale * fe.load_p_kw[None], scale * fe.load_q_kvar[None]))[0]
    ac = net.res_bus.vm_pu.loc[fe.bus_index].to_numpy()
    err = np.abs(v - ac).max()
    assert err <= LDF_TOL[scale]
    assert err > 1e-4  # LinDistFlow is an approximation: an exact match would mean a mix-up
    # without losses LinDistFlow overestimates every voltage of a load-only feeder
    assert np.all(v >= ac - 1e-12)


def test_path_resistance_matches_graph_paths():
    """R = D^T diag(r) D equals the resistance shared by the root paths of two buses."""
    fe = case33bw()
    g = nx.Graph()
    for k in range(1, fe.n_bus):
        g.add_edge(int(fe.parent[k]), k, r=fe.r_pu[k - 1])
    paths = {k: set(itertools.pairwise(p))
             for k, p in nx.single_source_shortest_path(g, 0).items()}
    paths = {k: {tuple(sorted(e)) for e in v} for k, v in paths.items()}
    ldf = LinDistFlow(fe)
    cols = np.array([5, 17, 24, 32])
    r, _ = ldf.sensitivity(cols)
    for i in range(fe.n_bus):
        for jj, k in enumerate(cols):
            shared = paths[i] & paths[int(k)]
            ref = sum(g.edges[e]["r"] for e in shared) / fe.s_base_kva
            assert r[i, jj] == pytest.approx(ref, abs=1e-15)


def _case33bw_rated():
    net = pn.case33bw()
    rate_lines_at_design_load(net)
    return net


def _ieee123_rated():
    net = ieee123_net()
    rate_lines_at_design_load(net)
    return net


@pytest.mark.parametrize("name,reference", [("case33bw", _case33bw_rated),
                                            ("ieee123", _ieee123_rated)])
def test_radial_sweep_matches_runpp_to_1e6(name, reference):
    fe = case33bw() if name == "case33bw" else load_feeder(name)
    sweep = RadialSweep(fe)
    rng = np.random.default_rng(7)
    points = []
    for _ in range(6):
        scale = rng.uniform(0.2, 1.6)
        p = scale * fe.load_p_kw + rng.uniform(-150, 150, fe.n_bus) * (rng.random(fe.n_bus) < 0.3)
        q = scale * fe.load_q_kvar + rng.uniform(-50, 50, fe.n_bus) * (rng.random(fe.n_bus) < 0.2)
        p[0] = q[0] = 0.0
        points.append((p, q))
    res = sweep.solve(np.array([p for p, _ in points]), np.array([q for _, q in points]))
    assert res.converged.all()
    base = reference()
    for i, (p, q) in enumerate(points):
        net = copy.deepcopy(base)
        net.load.drop(net.load.index, inplace=True)
        pp.create_loads(net, fe.bus_index, p_mw=p / 1e3, q_mvar=q / 1e3)
        run_ac(net)
        vm = net.res_bus.vm_pu.loc[fe.bus_index].to_numpy()
        assert np.abs(res.vm_pu[i] - vm).max() < 1e-6
        assert res.p_slack_kw[i] == pytest.approx(net.res_ext_grid.p_mw.sum() * 1e3, abs=1e-3)
        line_idx = [idx for _, idx in fe.branch]
        np.testing.assert_allclose(res.loading_pct[i],
                                   net.res_line.loading_percent.loc[line_idx], atol=1e-4)


def test_radial_sweep_flags_divergence():
    fe = case33bw()
    res = RadialSweep(fe, max_iter=50).solve(60 * fe.load_p_kw[None], 60 * fe.load_q_kvar[None])
    assert not res.converged[0]


@pytest.mark.parametrize("scale,tol", [(1.0, 0.001), (3.0, 0.005)])
def test_simbench_feeder_with_transformer_loads_through_the_same_interface(scale, tol):
    """A SimBench LV grid (MV/LV transformer + lines): LinDistFlow vs pandapower AC."""
    pytest.importorskip("simbench")
    from grid.ac import PandapowerAc
    from grid.feeder import load_feeder

    fe = load_feeder("1-LV-rural1--0-sw")
    assert not fe.lines_only and fe.branch[0][0] == "trafo"
    p, q = scale * fe.load_p_kw[None], scale * fe.load_q_kvar[None]
    ac = PandapowerAc(fe).solve(p, q)
    assert ac.converged.all()
    v = np.sqrt(LinDistFlow(fe).voltage_sq(p, q))
    err = np.abs(v - ac.vm_pu).max()
    assert 1e-6 < err <= tol
