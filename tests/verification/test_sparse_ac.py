"""SparseAc against pandapower's Newton–Raphson on every SimBench MV and MV/LV feeder.

The reference is ``pp.runpp`` on a private copy of the network with one load per bus (the
same operating point written into pandapower's tables); the model under test solves the
batch with its own fixed-point iteration and computes branch loadings from its own current
scales. The forest solver is checked against SciPy's sparse LU on random forests.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from grid.feeder import load_feeder, run_ac
from grid.sparse_ac import SparseAc
from grid.tree_solve import ForestSolver, NotAForest

simbench = pytest.importorskip("simbench")
MV_CODES = sorted(c for c in simbench.collect_all_simbench_codes()
                  if c.startswith("1-MV") and c.endswith("-0-sw"))


def _pandapower_point(fe, p_kw: np.ndarray, q_kvar: np.ndarray):
    """Voltages (position order), line/trafo loadings and slack power from ``pp.runpp``."""
    net = copy.deepcopy(fe.net)
    net.load = net.load.iloc[0:0]
    net.sgen = net.sgen.iloc[0:0]
    keep = np.abs(p_kw) + np.abs(q_kvar) > 0
    pp.create_loads(net, fe.bus_index[keep], p_mw=p_kw[keep] / 1e3, q_mvar=q_kvar[keep] / 1e3)
    run_ac(net)
    vm = net.res_bus.vm_pu.loc[fe.bus_index].to_numpy()
    loading = np.array([max(net[f"res_{e}"].loading_percent.at[i] for e, i in members)
                        for members in fe.members])
    return vm, loading, float(net.res_ext_grid.p_mw.sum()) * 1e3


@pytest.mark.parametrize("code", MV_CODES)
def test_sparse_ac_matches_pandapower(code):
    fe = load_feeder(code)
    rng = np.random.default_rng(7)
    scale = np.stack([np.ones(fe.n_bus), rng.uniform(0.0, 2.0, fe.n_bus)])
    p, q = scale * fe.load_p_kw, scale * fe.load_q_kvar
    p[1, rng.integers(1, fe.n_bus, 5)] -= 300.0  # some feed-in (PV) as negative consumption
    res = SparseAc(fe).solve(p, q)
    assert res.converged.all()
    for k in range(2):
        vm, loading, p_slack = _pandapower_point(fe, p[k], q[k])
        np.testing.assert_allclose(res.vm_pu[k], vm, rtol=0, atol=1e-6)
        np.testing.assert_allclose(res.loading_pct[k], loading, rtol=0, atol=1e-4)
        assert res.p_slack_kw[k] == pytest.approx(p_slack, abs=1e-3)


def test_parallel_transformers_merge_into_one_branch():
    fe = load_feeder("1-MV-semiurb--0-sw")
    twins = [m for m in fe.members if len(m) > 1]
    assert twins and all(e == "trafo" for m in twins for e, _ in m)
    k = fe.members.index(twins[0])
    assert fe.rating_kva[k] == pytest.approx(
        sum(fe.net.trafo.sn_mva.at[i] for _, i in twins[0]) * 1e3)


def test_sparse_ac_flags_divergence():
    fe = load_feeder("1-MV-rural--0-sw")
    res = SparseAc(fe, max_iter=30).solve(200 * fe.load_p_kw[None], 200 * fe.load_q_kvar[None])
    assert not res.converged[0] and np.isnan(res.vm_pu[0]).all()


def _random_forest(rng, m: int, n_roots: int) -> sp.csr_matrix:
    parent = np.array([-1] + [int(rng.integers(0, k)) for k in range(1, m)])
    parent[rng.choice(np.arange(1, m), n_roots - 1, replace=False)] = -1
    child = np.flatnonzero(parent >= 0)
    vals = rng.normal(size=(2, child.size)) + 1j * rng.normal(size=(2, child.size))
    off = sp.csr_matrix((np.concatenate(vals), (np.concatenate([child, parent[child]]),
                                                np.concatenate([parent[child], child]))),
                        shape=(m, m))
    a = off + sp.diags(8.0 + rng.normal(size=m) + 1j * rng.normal(size=m))
    perm = rng.permutation(m)
    return sp.csr_matrix(a[perm][:, perm])


@pytest.mark.parametrize("seed", range(4))
def test_forest_solver_matches_sparse_lu(seed):
    rng = np.random.default_rng(seed)
    a = _random_forest(rng, 300, 1 + seed)
    b = rng.normal(size=(300, 3)) + 1j * rng.normal(size=(300, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = spsolve(sp.csc_matrix(a), b)
    np.testing.assert_allclose(ForestSolver(a).solve(b), want, rtol=0, atol=1e-10)


def test_forest_solver_rejects_a_cycle():
    a = _random_forest(np.random.default_rng(0), 50, 1).tolil()
    a[3, 40] = a[40, 3] = 1.0
    a[3, 41] = a[41, 3] = 1.0
    a[40, 41] = a[41, 40] = 1.0
    with pytest.raises(NotAForest):
        ForestSolver(a.tocsr())


def test_warm_start_does_not_change_the_solution():
    """A batch gives the same voltages whatever the solver solved before (to 1e-9 p.u.)."""
    fe = load_feeder("1-MV-rural--0-sw")
    p, q = fe.load_p_kw[None] * [[0.2], [1.6]], fe.load_q_kvar[None] * [[0.2], [1.6]]
    fresh = SparseAc(fe).solve(p[1:], q[1:])
    used = SparseAc(fe)
    used.solve(p[:1], q[:1])  # warm start from a light-load point
    warm = used.solve(p[1:], q[1:])
    np.testing.assert_allclose(warm.vm_pu, fresh.vm_pu, rtol=0, atol=1e-9)
    np.testing.assert_allclose(warm.loading_pct, fresh.loading_pct, rtol=0, atol=1e-6)


@pytest.mark.parametrize("scale", [0.3, 1.5, 200.0])
def test_compiled_iteration_matches_level_sweeps(scale, monkeypatch):
    """The compiled fixed point (one point at a time) and the level sweeps over the batch give
    the same voltages to rounding, the same convergence flags, and flag divergence alike."""
    import grid.sparse_ac

    monkeypatch.setattr(grid.sparse_ac, "DENSE_MAX_BUS", 0)  # the forest path on a small feeder
    fe = load_feeder("1-MV-rural--0-sw")
    ac = SparseAc(fe, max_iter=30)
    assert ac._forest is not None
    rng = np.random.default_rng(3)
    b = 5
    p = scale * fe.load_p_kw[None] * rng.uniform(0.5, 1.5, (b, fe.n_bus))
    q = scale * fe.load_q_kvar[None] * rng.uniform(0.5, 1.5, (b, fe.n_bus))
    s_inj = np.zeros((ac.n_int, b), dtype=complex)
    s_inj[ac.pos_int] = -((p + 1j * q) / ac.s_base_kva).T
    s_l = s_inj[ac.rest]
    const = -ac.y_l0[:, None] * ac.v0
    ac._v_start = ac._solve(const.copy())
    v_lev, ok_lev = ac._iterate_levels(s_l, b, const)
    v_cmp, ok_cmp = ac._iterate_forest(np.ascontiguousarray(s_l.T), b, const[:, 0])
    np.testing.assert_array_equal(ok_cmp, ok_lev)
    assert ok_lev.all() == (scale < 10)
    np.testing.assert_allclose(v_cmp[:, ok_lev], v_lev[:, ok_lev], rtol=0, atol=1e-13)
