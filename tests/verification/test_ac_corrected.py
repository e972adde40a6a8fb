"""The paper case's AC-corrected corners and P-Q vertices re-checked with pandapower itself."""

import copy

import numpy as np
import pandapower as pp
import pytest

from environment.assessment.grid import assess_grid_layers
from environment.assessment.station import assess_station_layer
from environment.grid_setup import build_grid_model
from grid.clipping import clip_optimal
from grid.feeder import run_ac


@pytest.fixture(scope="module")
def paper_layers(paper_scenario, shipped_model):
    scen = paper_scenario.with_overrides(n_scenarios=50, rt_times=["12:00"])
    st = assess_station_layer(scen, shipped_model, np.random.default_rng(1))
    gm = build_grid_model(scen)
    return scen, st, gm, assess_grid_layers(scen, st, gm)


def _pandapower_net(gm):
    net = copy.deepcopy(gm.feeder.net)
    net.load.drop(net.load.index, inplace=True)
    idx = [pp.create_load(net, int(b), 0.0, 0.0) for b in gm.feeder.bus_index]
    return net, idx


def _check(net, idx, gm, p_kw, q_kvar):
    net.load.loc[idx, "p_mw"] = p_kw / 1e3
    net.load.loc[idx, "q_mvar"] = q_kvar / 1e3
    run_ac(net)
    lim = gm.limits
    vm = net.res_bus.vm_pu
    ok_v = vm.min() >= lim.v_min_pu - 1e-9 and vm.max() <= lim.v_max_pu + 1e-9
    ok_l = net.res_line.loading_percent[net.line.in_service].max() <= 100.0 + 1e-6
    ok_s = abs(net.res_ext_grid.p_mw.sum() * 1e3) <= lim.substation_kw * (1 + 1e-9)
    return ok_v and ok_l and ok_s


def test_corrected_corners_are_ac_feasible_at_every_interval(paper_layers):
    _, _, gm, gr = paper_layers
    net, idx = _pandapower_net(gm)
    boxes = gr.da.dist_boxes
    bg_p, bg_q = gm.bg(0, boxes.hi_kw.shape[0])
    corrected = 0
    for t in range(boxes.hi_kw.shape[0]):
        for corner in (boxes.hi_kw[t], boxes.lo_kw[t]):
            p = bg_p[t].copy()
            p[gm.positions] += corner
            assert _check(net, idx, gm, p, bg_q[t]), f"interval {t} violates AC limits"
        corrected += boxes.ac_ch.lam[t] < 1.0
    assert corrected > 0  # the case exercises the correction (LinDistFlow is not exact)


def test_pq_vertices_after_correction_are_ac_feasible(paper_layers):
    _, _, gm, gr = paper_layers
    pq = gr.pq
    assert (~pq.ac_feasible).any()  # some LinDistFlow vertices do violate AC
    net, idx = _pandapower_net(gm)
    bg_p, bg_q = gm.bg(0, pq.p_kw.shape[0])
    rng = np.random.default_rng(0)
    worst = np.argsort((~pq.ac_feasible).sum(1))[-2:]  # the most corrected intervals
    for t in [*worst, int(rng.integers(pq.p_kw.shape[0]))]:
        for k in range(pq.theta.size):
            p = bg_p[t].copy()
            q = bg_q[t].copy()
            p[gm.positions] += pq.p_station_ac_kw[t, k]
            q[gm.positions] += pq.q_station_ac_kvar[t, k]
            assert _check(net, idx, gm, p, q), f"vertex {k} of interval {t} violates AC"


def test_pq_projection_contains_the_optimal_clipping(paper_layers):
    """max P_tot over the P-Q set (Q free) >= the optimal P-only allocation (Q = 0)."""
    _, _, gm, gr = paper_layers
    names = list(gm.stations)
    rows = gr.da.package.station  # the station rows the network layers were built on
    lo = np.stack([rows[s].p_min_kw for s in names], axis=1)
    hi = np.stack([rows[s].p_max_kw for s in names], axis=1)
    opt = clip_optimal(gm.sec, lo, hi)
    k0 = int(np.argmin(np.abs(gr.pq.theta)))
    k180 = int(np.argmin(np.abs(gr.pq.theta - np.pi)))
    assert np.all(gr.pq.p_kw[:, k0] >= opt.hi_kw.sum(1) - 1e-4)
    assert np.all(gr.pq.p_kw[:, k180] <= opt.lo_kw.sum(1) + 1e-4)
    assert np.all(gr.da.distribution.total.p_max_kw <= gr.pq.p_kw[:, k0] + 1e-4)
