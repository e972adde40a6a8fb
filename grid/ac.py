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
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandapower as pp
from pandapower.powerflow import LoadflowNotConverged

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
        with np.errstate(invalid="ignore"):
            therm = np.nan_to_num(self.loading_pct, nan=np.inf).max(axis=-1, initial=0.0) \
                > 100.0 + 1e-7
            volt = ((self.vm_pu.min(axis=-1) < limits.v_min_pu - tol)
                    | (self.vm_pu.max(axis=-1) > limits.v_max_pu + tol) | ~self.converged)
        sub = np.abs(self.p_slack_kw) > limits.substation_kw * (1 + 1e-9)
        out[therm] = THERMAL
        out[volt] = VOLTAGE
        out[sub] = SUBSTATION
        return out


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
        self.feeder = feeder
        self.net = copy.deepcopy(feeder.net)
        net = self.net
        net.load.drop(net.load.index, inplace=True)
        net.sgen.drop(net.sgen.index, inplace=True)
        self.loads = np.array([pp.create_load(net, int(bus), p_mw=0.0, q_mvar=0.0)
                               for bus in feeder.bus_index])

    def solve(self, p_kw: FloatArray, q_kvar: FloatArray) -> AcResult:
        """Solve each row of ``(B, n_bus)`` consumptions with ``pp.runpp``."""
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


def bisect_segments(solver: AcSolver, bg_p_kw: FloatArray, bg_q_kvar: FloatArray,
                    positions: np.ndarray, start_kw: FloatArray, end_kw: FloatArray,
                    limits: NetworkLimits, start_kvar: FloatArray | None = None,
                    end_kvar: FloatArray | None = None, tol: float = 1e-4) -> Bisection:
    """AC bisection on a batch of segments of station consumptions.

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
        tol: Bisection tolerance on ``lam``.
    """
    zeros = np.zeros_like(start_kw)
    sq = zeros if start_kvar is None else start_kvar
    eq = zeros if end_kvar is None else end_kvar

    def check(lam: FloatArray, rows: np.ndarray) -> tuple[np.ndarray, AcResult]:
        p = bg_p_kw[rows].copy()
        q = bg_q_kvar[rows].copy()
        p[:, positions] += start_kw[rows] + lam[:, None] * (end_kw[rows] - start_kw[rows])
        q[:, positions] += sq[rows] + lam[:, None] * (eq[rows] - sq[rows])
        res = solver.solve(p, q)
        return res.violation(limits), res

    b = start_kw.shape[0]
    every = np.arange(b)
    viol_end, res_end = check(np.ones(b), every)
    viol_start, _ = check(np.zeros(b), every)
    lo = np.where(viol_end < 0, 1.0, 0.0)
    hi = np.ones(b)
    binding = viol_end.copy()
    active = np.flatnonzero((viol_end >= 0) & (viol_start < 0))
    while active.size and (hi - lo)[active].max() > tol:
        mid = 0.5 * (lo[active] + hi[active])
        viol, _ = check(mid, active)
        ok = viol < 0
        lo[active[ok]] = mid[ok]
        hi[active[~ok]] = mid[~ok]
        binding[active[~ok]] = viol[~ok]
    _, res = check(lo, every)
    return Bisection(lam=lo, start_feasible=viol_start < 0, binding=binding,
                     vm_min_pu=res.vm_pu.min(axis=-1),
                     loading_max_pct=res.loading_pct.max(axis=-1, initial=0.0),
                     end_converged=res_end.converged)
