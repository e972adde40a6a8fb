"""Batched AC power flow on pandapower's own admittance model, in O(n) per iteration.

pandapower builds the bus admittance matrix ``Y`` of a network from its element tables
(lines as pi-models with charging, transformers with tap ratio, phase shift, series impedance
and magnetising branch, shunts, open-switch auxiliary buses). We take that ``Y`` (and the branch
matrices ``Y_f``, ``Y_t``) from one pandapower run at zero load and solve batches of constant-
power operating points with the implicit Z-bus (current-injection fixed-point) iteration

    V_L^{(m+1)} = Y_LL^{-1} ( conj(S_L / V_L^{(m)}) - Y_L0 V_0 ),

where ``L`` are all buses but the slack ``0`` and ``S_L`` the injections (minus consumption) in
per unit. ``Y_LL`` is factorised once (SuperLU); on a radial feeder its factors have no fill-in,
so each iteration costs O(n) per operating point, and all points of a batch are solved as one
multi-column right-hand side; on a forest (every SimBench feeder) the whole iteration runs
compiled instead, one operating point at a time with its vectors in cache
(``grid.compiled.forest_fixed_point``, the same operations, equal to rounding), and branch
results are computed ``RESULT_CHUNK`` points at a time, so a batch's memory is a few vectors
per point. Each batch starts from the mean converged voltages of the previous batch (the
no-load voltages for the first): the checks of a grid tick are close to one another, and a warm
start halves the iterations. The fixed point does not depend on the start; only the last
~1e-11 p.u. do, so a run stays deterministic for a given call sequence. It is the
backward/forward sweep written with the exact
admittance model: for a lines-only feeder without charging the two are the same iteration.

Branch results follow pandapower's definitions (``results_branch``): the current at each end is
``i_ka = |I_pu| S_base / (sqrt(3) U_base)``; a line's loading is ``max(i_from, i_to)`` over
``max_i_ka * df * parallel``; a transformer's (``trafo_loading = "current"``) is
``max(i_hv U_hv, i_lv U_lv) sqrt(3) / sn_mva / parallel / df``. A tree branch made of parallel
elements reports its most loaded element.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from grid.ac import AcResult, AcSolver, PandapowerAc, RadialSweep
from grid.compiled import forest_fixed_point
from grid.feeder import Feeder, FeederError, FloatArray, run_ac
from grid.tree_solve import ForestSolver, NotAForest

if TYPE_CHECKING:
    import pandapower as pp

DENSE_MAX_BUS = 300  # below this, Z = Y_LL^-1 is stored dense
RESULT_CHUNK = 32  # operating points whose branch results are computed together
UNSUPPORTED = ("gen", "ward", "xward", "dcline", "impedance", "trafo3w", "storage")


class SparseAc:
    """Batched fixed-point AC power flow on pandapower's ``Y`` (see the module docstring).

    Args:
        feeder: A radial feeder (transformers, shunts, line charging allowed; no voltage-
            controlled generators, wards or impedance elements).
        tol_pu: Convergence tolerance on the largest voltage update of a point.
        max_iter: Iteration cap (points not converged are flagged).

    Raises:
        FeederError: The network holds elements this model does not represent.
    """

    def __init__(self, feeder: Feeder, tol_pu: float = 1e-10, max_iter: int = 100) -> None:
        self.feeder = feeder
        self.tol = tol_pu
        self.max_iter = max_iter
        self._forest: ForestSolver | None = None
        net = copy.deepcopy(feeder.net)
        present = unsupported_elements(net)
        if present:
            raise FeederError(f"{feeder.name}: SparseAc cannot model {', '.join(present)}; use "
                              "grid.ac.PandapowerAc")
        for table in ("load", "sgen", "storage", "asymmetric_load", "asymmetric_sgen"):
            if table in net and len(net[table]):
                net[table] = net[table].iloc[0:0]
        run_ac(net)  # zero load: pandapower builds Y with its own element models
        ppci = net._ppc["internal"]
        if len(ppci["ref"]) != 1:
            raise FeederError(f"{feeder.name}: one slack bus expected, found {len(ppci['ref'])}")
        self.s_base_kva = float(ppci["baseMVA"]) * 1e3
        y = sp.csr_matrix(ppci["Ybus"])
        n = y.shape[0]
        self.slack = int(ppci["ref"][0])
        self.rest = np.setdiff1d(np.arange(n), [self.slack])
        self._solve = self._factorise(y[self.rest][:, self.rest])
        self.y_l0 = y[self.rest][:, [self.slack]].toarray().ravel()
        self.y_0 = y[[self.slack]]
        self.v0 = complex(ppci["V"][self.slack])
        self.n_int = n
        bus_lookup = net._pd2ppc_lookups["bus"]
        self.pos_int = np.asarray(bus_lookup[feeder.bus_index], dtype=np.int64)
        if np.unique(self.pos_int).size != self.pos_int.size:
            raise FeederError(f"{feeder.name}: two feeder buses share one pandapower bus")
        row_of = np.full(n, -1, dtype=np.int64)
        row_of[self.rest] = np.arange(self.rest.size)
        self._rest_row = row_of[self.pos_int]  # row in `rest` of every feeder position
        self._in_rest = np.flatnonzero(self._rest_row >= 0)  # positions other than the slack
        self._v_start: np.ndarray | None = None
        self._branch_setup(net, ppci)

    def _factorise(self, y_ll: sp.csr_matrix) -> Callable[[np.ndarray], np.ndarray]:
        """The solve of ``Y_LL X = B``: dense inverse (small), forest sweeps, or sparse LU.

        The forest solver works in its own level order, so :attr:`rest` is re-ordered to it.
        """
        if y_ll.shape[0] <= DENSE_MAX_BUS:  # one dense product beats level sweeps
            return np.linalg.inv(y_ll.toarray()).__matmul__
        try:
            forest = ForestSolver(y_ll)
        except NotAForest:  # e.g. an unusual pandapower auxiliary structure: general LU
            return splu(sp.csc_matrix(y_ll), permc_spec="MMD_AT_PLUS_A").solve
        self.rest = self.rest[forest.order]
        self._forest = forest
        return forest.solve_ordered

    def _branch_setup(self, net: pp.pandapowerNet, ppci: dict) -> None:
        """Rows of ``Y_f``, ``Y_t`` and the current-to-loading scales of every tree branch.

        Element by element (one pass per element table, in array form):
        ``amp = S_base / (sqrt(3) U_base)`` at each end; a line's scale is
        ``100 amp / (max_i_ka df parallel)``, a transformer's
        ``amp U_n sqrt(3) / (sn_mva parallel df / 100)`` with its rated voltage at that end.
        """
        fe = self.feeder
        lookups = net._pd2ppc_lookups["branch"]
        base_kv = np.real(ppci["bus"][:, 9])  # BASE_KV column
        br = ppci["branch"]
        in_service = np.asarray(ppci["branch_is"], dtype=bool)  # over the rows of ppc
        internal_row = np.cumsum(in_service) - 1
        flat = [(k, elem, idx) for k, members in enumerate(fe.members) for elem, idx in members]
        owner = np.array([k for k, _, _ in flat], dtype=np.int64)
        rows = np.zeros(len(flat), dtype=np.int64)
        sf = np.zeros(len(flat))
        st = np.zeros(len(flat))
        for elem in ("line", "trafo"):
            at = np.array([i for i, (_, e, _) in enumerate(flat) if e == elem], dtype=np.int64)
            if not at.size:
                continue
            table = net[elem]
            idx = np.array([flat[i][2] for i in at])
            ppc_row = lookups[elem][0] + table.index.get_indexer(idx)
            if not in_service[ppc_row].all():
                bad = idx[~in_service[ppc_row]][0]
                raise FeederError(f"{fe.name}: {elem} {bad} is out of service in pandapower")
            row = internal_row[ppc_row]
            f = np.real(br[row, 0]).astype(np.int64)
            t = np.real(br[row, 1]).astype(np.int64)
            amp_f = self.s_base_kva / 1e3 / (np.sqrt(3.0) * base_kv[f])
            amp_t = self.s_base_kva / 1e3 / (np.sqrt(3.0) * base_kv[t])
            el = table.loc[idx]
            if elem == "line":
                i_max = (el.max_i_ka.to_numpy(float) * el.df.to_numpy(float)
                         * el.parallel.to_numpy(float))
                sf[at], st[at] = 100.0 * amp_f / i_max, 100.0 * amp_t / i_max
            else:
                denom = (el.sn_mva.to_numpy(float) * el.parallel.to_numpy(float)
                         * el.df.to_numpy(float) / 100.0)
                sf[at] = amp_f * el.vn_hv_kv.to_numpy(float) * np.sqrt(3.0) / denom
                st[at] = amp_t * el.vn_lv_kv.to_numpy(float) * np.sqrt(3.0) / denom
            rows[at] = row
        self.y_f = sp.csr_matrix(ppci["Yf"])[rows]
        self.y_t = sp.csr_matrix(ppci["Yt"])[rows]
        self.scale_f = sf
        self.scale_t = st
        self.owner = owner
        # the most loaded element per branch: elements grouped by branch, one reduceat
        self._by_owner = np.argsort(owner, kind="stable")
        self._owner_starts = np.flatnonzero(np.r_[True, np.diff(owner[self._by_owner]) != 0])
        self._owners = owner[self._by_owner][self._owner_starts]

    def solve(self, p_kw: FloatArray, q_kvar: FloatArray) -> AcResult:
        """Solve consumptions ``(B, n_bus)`` (position order, kW / kvar, consumption positive).

        Returns:
            Voltage magnitudes (position order), branch loadings (tree-branch order), the
            active power drawn from the external grid and convergence flags.
        """
        fe = self.feeder
        p = np.atleast_2d(np.asarray(p_kw, dtype=float))
        q = np.atleast_2d(np.asarray(q_kvar, dtype=float))
        b = p.shape[0]
        s_cons = (p + 1j * q) / self.s_base_kva  # (B, n_bus) consumption, p.u.
        s_l = np.zeros((b, self.rest.size), dtype=complex)  # injections, one row per point
        s_l[:, self._rest_row[self._in_rest]] = -s_cons[:, self._in_rest]
        v_l, ok = self._iterate(s_l, b)
        del s_l
        vm = np.empty((b, fe.n_bus))
        loading = np.zeros((b, fe.n_bus - 1))
        p_slack = np.empty(b)
        for lo in range(0, b, RESULT_CHUNK):  # branch results a few points at a time (memory)
            cols = slice(lo, min(b, lo + RESULT_CHUNK))
            vm[cols], loading[cols], p_slack[cols] = self._results(v_l[:, cols], s_cons[cols])
        ok &= np.isfinite(vm).all(axis=1)
        vm[~ok] = np.nan
        return AcResult(vm_pu=vm, loading_pct=loading, p_slack_kw=p_slack, converged=ok)

    def _results(self, v_l: np.ndarray, s_cons: np.ndarray
                 ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Voltage magnitudes ``(C, n_bus)``, branch loadings ``(C, n_bus - 1)`` and slack power
        ``(C,)`` of ``C`` solved points (``v_l``: ``(m, C)`` in :attr:`rest` order)."""
        c = v_l.shape[1]
        v = np.empty((self.n_int, c), dtype=complex)
        v[self.slack] = self.v0
        v[self.rest] = v_l
        i_f = np.abs(self.y_f @ v)
        i_t = np.abs(self.y_t @ v)
        elem_loading = np.maximum(i_f * self.scale_f[:, None], i_t * self.scale_t[:, None])
        loading = np.zeros((self.feeder.n_bus - 1, c))
        loading[self._owners] = np.maximum(np.maximum.reduceat(
            elem_loading[self._by_owner], self._owner_starts, axis=0), 0.0)
        i_0 = np.asarray(self.y_0 @ v).ravel()  # network current out of the slack bus
        s_ext = self.v0 * np.conj(i_0) + s_cons[:, 0]
        return np.abs(v[self.pos_int]).T, loading.T, s_ext.real * self.s_base_kva

    def _iterate(self, s_l: np.ndarray, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Fixed-point iterations of the injections ``s_l`` ``(B, m)`` (rows of :attr:`rest`).

        Returns:
            The voltages ``(m, B)`` and the converged points ``(B,)``.
        """
        const = -self.y_l0[:, None] * self.v0
        if self._v_start is None:
            self._v_start = self._solve(const.copy())  # no-load voltages
        if self._forest is not None:
            v, ok = self._iterate_forest(s_l, b, const[:, 0])
        else:
            v, ok = self._iterate_levels(s_l.T, b, const)
        if ok.any():  # warm start of the next batch: the mean converged operating point
            self._v_start = v[:, ok].mean(axis=1, keepdims=True)
        return v, ok

    def _iterate_forest(self, s_l: np.ndarray, b: int, const: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
        """The iteration of :meth:`_iterate_levels` compiled, one point at a time
        (``grid.compiled.forest_fixed_point``)."""
        f = self._forest
        assert f is not None and self._v_start is not None
        v = np.repeat(self._v_start.T, b, axis=0)  # (B, m): one contiguous row per point
        ok = np.zeros(b, dtype=bool)
        iters = np.zeros(b, dtype=np.int64)
        with np.errstate(all="ignore"):
            forest_fixed_point(np.ascontiguousarray(s_l), v, const, f.l_coef[:, 0],
                               f.a_kp[:, 0], f.inv_d[:, 0], f.parent, f.groups, f.n_roots,
                               self.tol ** 2, self.max_iter, ok, iters)
        return v.T, ok

    def _iterate_levels(self, s_l: np.ndarray, b: int, const: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Fixed-point iterations over every column at once, level sweeps of ``self._solve``."""
        assert self._v_start is not None
        v = np.repeat(self._v_start, b, axis=1)
        ok = np.zeros(b, dtype=bool)
        active = np.arange(b)
        tol2 = self.tol ** 2
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(self.max_iter):
                full = active.size == b
                va = v if full else v[:, active]
                rhs = np.conj((s_l if full else s_l[:, active]) / va)
                rhs += const
                v_new = self._solve(rhs)
                diff = v_new - va
                step2 = (diff.real ** 2 + diff.imag ** 2).max(axis=0)
                if full:
                    v = v_new
                else:
                    v[:, active] = v_new
                done = step2 < tol2
                ok[active[done]] = True
                active = active[~done & np.isfinite(step2)]
                if not active.size:
                    break
        return v, ok


def ac_solver(feeder: Feeder) -> AcSolver:
    """The fastest model that reproduces pandapower: the dense radial sweep on small lines-only
    feeders, :class:`SparseAc` otherwise, pandapower itself for elements neither represents."""
    if feeder.lines_only and feeder.n_bus <= DENSE_MAX_BUS:
        return RadialSweep(feeder)
    if unsupported_elements(feeder.net):
        return PandapowerAc(feeder)
    return SparseAc(feeder)


def unsupported_elements(net: pp.pandapowerNet) -> list[str]:
    """In-service element tables :class:`SparseAc` does not represent (``UNSUPPORTED``)."""
    return [e for e in UNSUPPORTED if len(net[e][net[e].in_service])]
