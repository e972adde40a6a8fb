"""AC power flow checks: a vectorised radial sweep verified against pandapower.

pandapower (Newton–Raphson) is the reference model. Calling ``pp.runpp`` once per operating
point costs tens of milliseconds, so batches of operating points (intervals x corners x
bisection steps) are solved together by the backward/forward sweep (current summation) on the
radial structure of :class:`~grid.feeder.Feeder`:

    I_k = conj(S_k / V_k)               (load currents, S consumption-positive, p.u.)
    J_b = sum_k D[b, k] I_k             (branch currents, backward sweep)
    V_k = V_0 - sum_b D[b, k] z_b J_b   (forward sweep)

iterated to ``max |dV| < tol``. For small feeders made of lines without shunt admittance this is
the same model pandapower solves (tests assert agreement to 1e-6 p.u.); feeders with
transformers, shunts or line charging use :class:`grid.sparse_ac.SparseAc` (pandapower's own
admittance matrix, O(n) per iteration); :func:`grid.sparse_ac.ac_solver` picks the model.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from flexibility.common import BoolArray
from grid.feeder import Feeder, FloatArray, run_ac
from grid.lindistflow import SUBSTATION, THERMAL, VOLTAGE, NetworkLimits


@dataclass(frozen=True)
class AcResult:
    """AC operating points of a batch.

    Attributes:
        vm_pu: Voltage magnitude ``(B, n_bus)`` in position order.
        loading_pct: Branch current over rating ``(B, n_bus - 1)`` in percent.
        p_slack_kw: Active power drawn from the external grid ``(B,)``.
        converged: Whether the solution converged ``(B,)``.
    """

    vm_pu: FloatArray
    loading_pct: FloatArray
    p_slack_kw: FloatArray
    converged: np.ndarray

    def violation(self, limits: NetworkLimits, tol: float = 1e-9) -> np.ndarray:
        """First violated limit family per point (``-1``: AC-feasible).

        Non-convergence counts as a voltage violation.
        """
        out = np.full(self.p_slack_kw.shape, -1)
        therm, volt, sub = (m > 0 for m in self._margins(limits, tol))
        out[therm] = THERMAL
        out[volt] = VOLTAGE
        out[sub] = SUBSTATION
        return out

    def margin(self, limits: NetworkLimits, tol: float = 1e-9) -> FloatArray:
        """Largest normalised limit exceedance per point; AC-feasible exactly where ``<= 0``.

        ``max(v_min - vm_min, vm_max - v_max, (loading_max - 100) / 100,
        (|P_slack| - S_sub) / S_sub)`` with the tolerances of :meth:`violation`; ``+inf`` where
        the point did not converge. Continuous in the operating point, so a root of it along a
        segment is the AC feasibility boundary (:func:`bisect_segments`).
        """
        return self.margins(limits, tol).max(axis=-1)

    def margins(self, limits: NetworkLimits, tol: float = 1e-9) -> FloatArray:
        """Normalised exceedance per limit family ``(B, 3)``: thermal, voltage, substation."""
        return np.stack(self._margins(limits, tol), axis=-1)

    def _margins(self, limits: NetworkLimits, tol: float) -> tuple[FloatArray, ...]:
        with np.errstate(invalid="ignore"):
            loading = np.nan_to_num(self.loading_pct, nan=np.inf).max(axis=-1, initial=0.0)
            therm = (loading - 100.0 - 1e-7) / 100.0
            volt = np.maximum(limits.v_min_pu - tol - self.vm_pu.min(axis=-1),
                              self.vm_pu.max(axis=-1) - limits.v_max_pu - tol)
            volt = np.where(self.converged, np.nan_to_num(volt, nan=np.inf), np.inf)
            s_kw = limits.substation_kw
            sub = np.nan_to_num((np.abs(self.p_slack_kw) - s_kw * (1 + 1e-9)) / s_kw,
                                nan=np.inf)
        return therm, volt, sub


class AcSolver(Protocol):
    """What the grid layers need from an AC power-flow model (:func:`ac_solver` builds one).

    Implemented by :class:`RadialSweep` (vectorised, lines-only feeders) and
    :class:`PandapowerAc` (the Newton–Raphson reference).
    """

    def solve(self, p_kw: FloatArray, q_kvar: FloatArray) -> AcResult:
        """Solve a batch of operating points.

        Args:
            p_kw: Active consumption ``(B, n_bus)`` in position order (kW, consumption positive).
            q_kvar: Reactive consumption ``(B, n_bus)`` (kvar).

        Returns:
            Voltages, branch loadings, slack power and convergence flags of the batch.
        """
        ...


class RadialSweep:
    """Backward/forward sweep for a batch of operating points on one radial feeder.

    Args:
        feeder: A feeder with ``lines_only`` (else use :class:`PandapowerAc`).
        tol_pu: Convergence tolerance on the voltage update.
        max_iter: Iteration cap (points not converged are flagged).
    """

    def __init__(self, feeder: Feeder, tol_pu: float = 1e-10, max_iter: int = 100) -> None:
        if not feeder.lines_only:
            raise ValueError("RadialSweep needs a lines-only feeder without shunts")
        self.feeder = feeder
        self.d = feeder.downstream().toarray()
        self.z = feeder.r_pu + 1j * feeder.x_pu
        self.tol = tol_pu
        self.max_iter = max_iter

    def solve(self, p_kw: FloatArray, q_kvar: FloatArray) -> AcResult:
        """Solve consumptions ``(B, n_bus)`` (position order, kW / kvar)."""
        fe = self.feeder
        s = (np.asarray(p_kw) + 1j * np.asarray(q_kvar)) / fe.s_base_kva
        v0 = fe.v_slack_pu
        v = np.full(s.shape, v0, dtype=complex)
        dz = self.d * self.z[:, None]  # (n-1, n): z_b on the rows of D
        done = np.zeros(s.shape[0], dtype=bool)
        with np.errstate(all="ignore"):
            v, done = self._iterate(s, v, v0, dz)
            i_load = np.conj(s / v)
        j_br = i_load @ self.d.T
        i_ka = np.abs(j_br) * fe.i_base_ka
        loading = 100.0 * i_ka / fe.i_max_ka
        p_slack = (v0 * np.conj(i_load.sum(axis=-1))).real * fe.s_base_kva
        ok = done & np.isfinite(v).all(axis=-1)
        return AcResult(vm_pu=np.where(ok[:, None], np.abs(v), np.nan), loading_pct=loading,
                        p_slack_kw=p_slack, converged=ok)

    def _iterate(self, s, v, v0, dz):
        """Sweep iterations until every point moved less than ``tol``."""
        done = np.zeros(s.shape[0], dtype=bool)
        for _ in range(self.max_iter):
            i_load = np.conj(s / v)
            j_br = i_load @ self.d.T
            v_new = v0 - j_br @ dz
            step = np.abs(v_new - v).max(axis=-1)
            v = v_new
            done = step < self.tol
            if done.all():
                break
        return v, done


class PandapowerAc:
    """The reference: one ``pandapower.runpp`` per operating point on a private copy.

    Args:
        feeder: Any radial feeder (transformers, shunts and generators included).
    """

    def __init__(self, feeder: Feeder) -> None:
        import pandapower as pp

        self.feeder = feeder
        self.net = copy.deepcopy(feeder.net)
        net = self.net
        net.load.drop(net.load.index, inplace=True)
        net.sgen.drop(net.sgen.index, inplace=True)
        self.loads = np.array([pp.create_load(net, int(bus), p_mw=0.0, q_mvar=0.0)
                               for bus in feeder.bus_index])

    def solve(self, p_kw: FloatArray, q_kvar: FloatArray) -> AcResult:
        """Solve each row of ``(B, n_bus)`` consumptions with ``pp.runpp``."""
        from pandapower.powerflow import LoadflowNotConverged

        fe, net = self.feeder, self.net
        b = p_kw.shape[0]
        vm = np.full((b, fe.n_bus), np.nan)
        loading = np.full((b, fe.n_bus - 1), np.nan)
        p_slack = np.full(b, np.nan)
        ok = np.zeros(b, dtype=bool)
        for i in range(b):
            net.load.loc[self.loads, "p_mw"] = p_kw[i] / 1e3
            net.load.loc[self.loads, "q_mvar"] = q_kvar[i] / 1e3
            try:
                run_ac(net)
            except (LoadflowNotConverged, np.linalg.LinAlgError):
                continue
            res = net.res_bus.vm_pu.loc[fe.bus_index].to_numpy()
            vm[i] = res
            loading[i] = [_branch_loading(net, el, idx) for el, idx in fe.branch]
            p_slack[i] = float(net.res_ext_grid.p_mw.sum()) * 1e3
            ok[i] = True
        return AcResult(vm_pu=vm, loading_pct=loading, p_slack_kw=p_slack, converged=ok)


def _branch_loading(net, element: str, idx: int) -> float:
    if element == "line":
        return float(net.res_line.loading_percent.at[idx])
    return float(net.res_trafo.loading_percent.at[idx])


@dataclass(frozen=True)
class Bisection:
    """Largest AC-feasible step along segments ``start + lam (end - start)``, ``lam in [0, 1]``.

    Attributes:
        lam: Largest feasible ``lam`` found (``0`` if even the start is infeasible).
        start_feasible: Whether the segment start is AC-feasible.
        binding: Limit family violated just beyond ``lam`` (``-1`` if ``lam = 1``).
        vm_min_pu: Minimum voltage at ``lam``.
        loading_max_pct: Maximum branch loading at ``lam``.
        end_converged: Whether AC converged at the segment end (``lam = 1``).
    """

    lam: FloatArray
    start_feasible: np.ndarray
    binding: np.ndarray
    vm_min_pu: FloatArray
    loading_max_pct: FloatArray
    end_converged: np.ndarray


def _strictly_inside(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Finite entries strictly between ``lo`` and ``hi``."""
    return np.isfinite(x) & (x > lo) & (x < hi)


def bisect_segments(solver: AcSolver, bg_p_kw: FloatArray, bg_q_kvar: FloatArray,
                    positions: np.ndarray, start_kw: FloatArray, end_kw: FloatArray,
                    limits: NetworkLimits, start_kvar: FloatArray | None = None,
                    end_kvar: FloatArray | None = None, tol: float = 1e-4) -> Bisection:
    """AC feasibility boundary on a batch of segments of station consumptions.

    Finds, per segment ``u(lam) = start + lam (end - start)``, a bracket ``lo < hi`` with
    ``u(lo)`` AC-feasible, ``u(hi)`` infeasible and ``hi - lo <= tol`` (the contract of
    bisection), by safeguarded regula falsi on the continuous margin ``g(lam)``
    (:meth:`AcResult.margin`, feasible where ``g <= 0``):

        x = lo - g(lo) (hi - lo) / (g(hi) - g(lo)),   probes x - tol/2 and x + tol/2,

    so that an accurate root estimate closes the bracket in one round; a round that does not
    halve the bracket is followed by a bisection round, so the search is never slower than
    about twice bisection. Segment starts and ends are solved in one batch, each round's two
    probes in one batch.

    Args:
        solver: The AC model, e.g. :class:`RadialSweep` or :class:`PandapowerAc`.
        bg_p_kw: Background consumption per point ``(B, n_bus)``.
        bg_q_kvar: Background reactive consumption ``(B, n_bus)``.
        positions: Station positions ``(J,)``.
        start_kw: Segment start per point and station ``(B, J)``.
        end_kw: Segment end ``(B, J)``.
        limits: Network limits.
        start_kvar: Station reactive consumption at the start (default 0).
        end_kvar: Station reactive consumption at the end (default 0).
        tol: Width of the final bracket on ``lam``.
    """
    zeros = np.zeros_like(start_kw)
    sq = zeros if start_kvar is None else start_kvar
    eq = zeros if end_kvar is None else end_kvar

    def check(lam: FloatArray, rows: np.ndarray, dedupe: bool = False) -> AcResult:
        p = bg_p_kw[rows].copy()
        q = bg_q_kvar[rows].copy()
        p[:, positions] += start_kw[rows] + lam[:, None] * (end_kw[rows] - start_kw[rows])
        q[:, positions] += sq[rows] + lam[:, None] * (eq[rows] - sq[rows])
        return _solve_unique(solver, p, q) if dedupe else solver.solve(p, q)

    b = start_kw.shape[0]
    every = np.arange(b)
    both = check(np.r_[np.ones(b), np.zeros(b)], np.r_[every, every], dedupe=True)
    g_both = both.margins(limits)  # (2B, families)
    viol_both = both.violation(limits)
    g_hi, g_lo = g_both[:b].copy(), g_both[b:].copy()
    end_ok: BoolArray = np.asarray((g_hi <= 0).all(axis=1))
    start_ok: BoolArray = np.asarray((g_lo <= 0).all(axis=1))
    lo = np.where(end_ok, 1.0, 0.0)
    hi = np.ones(b)
    binding = viol_both[:b].copy()
    at_lo = every + np.where(end_ok, 0, b)  # the row of `both` solved at lam = lo
    res_vm = both.vm_pu.min(axis=-1)[at_lo]
    res_load = both.loading_pct.max(axis=-1, initial=0.0)[at_lo]
    p_last = np.stack([np.zeros(b), np.ones(b)], axis=1)  # the latest two probes per row
    g_last = np.stack([g_lo, g_hi], axis=1)  # (B, 2, families)
    bisect_next = np.zeros(b, dtype=bool)
    width_before = np.full(b, np.inf)  # bracket width one round earlier
    active = np.flatnonzero(~end_ok & start_ok)
    while active.size:
        a_lo, a_hi, width = lo[active], hi[active], hi[active] - lo[active]
        mid = 0.5 * (a_lo + a_hi)
        chord = _first_root(a_lo[:, None], g_lo[active], a_hi[:, None], g_hi[active], a_lo)
        pl, gl = p_last[active], g_last[active]
        secant = _first_root(pl[:, :1], gl[:, 0], pl[:, 1:], gl[:, 1], a_lo)
        chord = np.where(_strictly_inside(chord, a_lo, a_hi) & ~bisect_next[active], chord, mid)
        secant = np.where(_strictly_inside(secant, a_lo, a_hi) & ~bisect_next[active], secant,
                          mid)
        agree = np.abs(chord - secant) < tol
        eps = np.minimum(0.5 * tol, 0.25 * width)
        centre = 0.5 * (chord + secant)
        one = np.where(agree, centre - 0.5 * tol, chord)
        two = np.where(agree, centre + 0.5 * tol,
                       np.where(np.abs(secant - chord) < eps, mid, secant))
        probes = np.clip(np.sort(np.stack([one, two], axis=1), axis=1),
                         (a_lo + eps)[:, None], (a_hi - eps)[:, None])
        res = check(probes.ravel(), np.repeat(active, 2))
        g = res.margins(limits).reshape(-1, 2, g_lo.shape[1])
        viol = res.violation(limits).reshape(-1, 2)
        vmin = res.vm_pu.min(axis=-1).reshape(-1, 2)
        lmax = res.loading_pct.max(axis=-1, initial=0.0).reshape(-1, 2)
        feas: BoolArray = np.asarray((g <= 0).all(axis=2))
        for k in (0, 1):  # the larger feasible probe raises lo, the smaller infeasible lowers hi
            up = feas[:, k] & (probes[:, k] > lo[active])
            rows = active[up]
            lo[rows], g_lo[rows] = probes[up, k], g[up, k]
            res_vm[rows], res_load[rows] = vmin[up, k], lmax[up, k]
        for k in (1, 0):
            down = ~feas[:, k] & (probes[:, k] < hi[active])
            rows = active[down]
            hi[rows], g_hi[rows], binding[rows] = probes[down, k], g[down, k], viol[down, k]
        p_last[active], g_last[active] = probes, g
        bisect_next[active] = hi[active] - lo[active] > 0.5 * width_before[active]
        width_before[active] = width
        active = active[hi[active] - lo[active] > tol * (1 + 1e-9)]
    return Bisection(lam=lo, start_feasible=start_ok, binding=binding, vm_min_pu=res_vm,
                     loading_max_pct=res_load, end_converged=both.converged[:b])


def _first_root(x0: FloatArray, g0: FloatArray, x1: FloatArray, g1: FloatArray,
                above: FloatArray) -> FloatArray:
    """Smallest root beyond ``above`` of the lines through ``(x0, g0)`` and ``(x1, g1)``.

    One line per limit family (``g`` of shape ``(R, families)``, ``x`` of shape ``(R, 1)``):
    ``x* = x1 - g1 (x1 - x0) / (g1 - g0)`` for rising lines; the families are scaled
    differently, so each gets its own line and the first limit reached wins (``nan`` if none).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        slope = (g1 - g0) / (x1 - x0)
        root = x1 - g1 / slope
    ok = np.isfinite(root) & (slope > 0) & (root > above[:, None])
    best = np.where(ok, root, np.inf).min(axis=1)
    return np.where(np.isfinite(best), best, np.nan)


def _solve_unique(solver: AcSolver, p_kw: FloatArray, q_kvar: FloatArray) -> AcResult:
    """``solver.solve`` on the distinct rows only (segments often share their start)."""
    seen: dict[bytes, int] = {}
    inv = np.array([seen.setdefault(p.tobytes() + q.tobytes(), len(seen))
                    for p, q in zip(p_kw, q_kvar, strict=True)], dtype=np.int64)
    if len(seen) == p_kw.shape[0]:
        return solver.solve(p_kw, q_kvar)
    first = np.unique(inv, return_index=True)[1]
    res = solver.solve(p_kw[first], q_kvar[first])
    return AcResult(vm_pu=res.vm_pu[inv], loading_pct=res.loading_pct[inv],
                    p_slack_kw=res.p_slack_kw[inv], converged=res.converged[inv])


VIOLATION_TYPES = ("undervoltage", "overvoltage", "line", "transformer", "substation",
                   "nonconvergence")


def violation_labels(ac: AcResult, limits: NetworkLimits, branch_elements: Sequence[str],
                     tol_pu: float = 1e-9, tol_pct: float = 1e-7) -> list[str]:
    """Every violated limit per operating point, ``;``-joined in ``VIOLATION_TYPES`` order.

    Args:
        ac: AC results of a batch (``B`` points).
        limits: Voltage limits and substation headroom.
        branch_elements: pandapower element of every branch in feeder order (``"line"`` or
            ``"trafo"``), as in ``Feeder.branch``.
        tol_pu: Voltage tolerance.
        tol_pct: Loading tolerance (percentage points).

    Returns:
        One label string per point (``""`` when every limit holds).
    """
    vm = np.atleast_2d(ac.vm_pu)
    loading = np.nan_to_num(np.atleast_2d(ac.loading_pct), nan=0.0)
    is_trafo = np.array([e == "trafo" for e in branch_elements], dtype=bool)
    over = loading > 100.0 + tol_pct
    with np.errstate(invalid="ignore"):
        flags = {
            "undervoltage": np.nanmin(np.where(np.isnan(vm), np.inf, vm), axis=1)
            < limits.v_min_pu - tol_pu,
            "overvoltage": np.nanmax(np.where(np.isnan(vm), -np.inf, vm), axis=1)
            > limits.v_max_pu + tol_pu,
            "line": (over & ~is_trafo).any(axis=1),
            "transformer": (over & is_trafo).any(axis=1),
            "substation": np.abs(np.nan_to_num(np.atleast_1d(ac.p_slack_kw)))
            > limits.substation_kw * (1 + 1e-9),
            "nonconvergence": ~np.atleast_1d(ac.converged),
        }
    return [";".join(name for name in VIOLATION_TYPES if flags[name][b])
            for b in range(vm.shape[0])]
