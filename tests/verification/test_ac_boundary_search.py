"""The AC boundary search along segments checked with pandapower's Newton-Raphson.

``bisect_segments`` promises, per segment, a feasible ``lam`` with an infeasible point at most
``tol`` beyond it. pandapower (not the sweep the search ran on) judges both ends, on segments
that cross the voltage, thermal and substation limits.
"""

import copy
from dataclasses import replace

import numpy as np
import pandapower as pp
import pytest

from environment.grid_setup import build_grid_model
from grid.ac import bisect_segments
from grid.feeder import run_ac
from grid.lindistflow import SUBSTATION, THERMAL, VOLTAGE

TOL = 1e-3


@pytest.fixture(scope="module")
def grid(paper_scenario):
    return build_grid_model(paper_scenario)


def _feasible(net, idx, lim, p_kw, q_kvar):
    net.load.loc[idx, "p_mw"] = p_kw / 1e3
    net.load.loc[idx, "q_mvar"] = q_kvar / 1e3
    run_ac(net)
    vm = net.res_bus.vm_pu
    return bool(vm.min() >= lim.v_min_pu - 1e-9 and vm.max() <= lim.v_max_pu + 1e-9
                and net.res_line.loading_percent.max() <= 100.0 + 1e-6
                and abs(net.res_ext_grid.p_mw.sum() * 1e3) <= lim.substation_kw * (1 + 1e-9))


# each limit set makes a different family bind first on these segments
LIMITS = {THERMAL: {}, SUBSTATION: {"substation_kw": 900.0}, VOLTAGE: {"v_min_pu": 0.985}}


@pytest.mark.parametrize("family", sorted(LIMITS))
def test_boundary_is_feasible_and_tight_in_pandapower(grid, family):
    gm = grid
    lim = replace(gm.limits, **LIMITS[family])
    rng = np.random.default_rng(family)
    n_seg, n_st = 8, len(gm.positions)
    t = rng.integers(0, 96, n_seg)
    bg_p, bg_q = gm.bg(0, 96)
    bg_p, bg_q = 0.3 * bg_p[t], 0.3 * bg_q[t]
    start = rng.uniform(0.0, 20.0, (n_seg, n_st))
    end = rng.uniform(0.0, 1.0, (n_seg, n_st)) * rng.uniform(200.0, 3000.0, (n_seg, 1))
    end[0] = -3.0 * end[0]  # one reverse-flow segment
    bis = bisect_segments(gm.solver, bg_p, bg_q, gm.positions, start, end, lim, tol=TOL)
    net = copy.deepcopy(gm.feeder.net)
    net.load.drop(net.load.index, inplace=True)
    idx = [pp.create_load(net, int(b), 0.0, 0.0) for b in gm.feeder.bus_index]

    def point(i, lam):
        p = bg_p[i].copy()
        p[gm.positions] += start[i] + lam * (end[i] - start[i])
        return p

    found = 0
    for i in range(n_seg):
        lam = bis.lam[i]
        if not bis.start_feasible[i]:
            assert lam == 0.0 and not _feasible(net, idx, lim, point(i, 0.0), bg_q[i])
            continue
        assert _feasible(net, idx, lim, point(i, lam), bg_q[i]), f"segment {i}: lam infeasible"
        if lam < 1.0:
            found += 1
            assert not _feasible(net, idx, lim, point(i, min(lam + TOL, 1.0)), bg_q[i]), \
                f"segment {i}: not tight"
    assert found >= 4
    assert family in bis.binding[bis.lam < 1.0]
