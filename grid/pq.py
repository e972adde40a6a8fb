"""Joint P–Q feasible sets of the stations projected on the aggregate plane (paper §3.3.2, §4.5).

Per interval the stations are independent ``(P_j, Q_j)`` injections (consumption positive) with

    P_min,j <= P_j <= P_max,j,
    P_j^2 + Q_j^2 <= S_j^2   (inscribed 16-gon with vertices on the axes),
    A^P P + A^Q Q <= b_t      (LinDistFlow security set),

and the projection onto ``(P_tot, Q_tot) = (sum_j P_j, sum_j Q_j)`` is traced by support LPs along
rotating directions ``(cos th, sin th)``: ``max cos(th) P_tot + sin(th) Q_tot``. Each optimum is
a vertex of the projected polygon; its station set-points are AC-checked with the radial sweep
and, where AC is violated, pulled back by bisection towards the interval's reference point
``(u0, 0)``. The binding family at each vertex is read from the active rows (priority substation,
voltage, thermal, converter, station box); the dominant binding of an interval is the most
frequent one over its vertices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from flexibility.lp import LinearProgram, highs_solver, solve
from grid.ac import AcSolver, bisect_segments
from grid.clipping import reference_point
from grid.feeder import FloatArray
from grid.lindistflow import NetworkLimits, SecuritySet

PQ_BINDING = ("substation", "voltage", "thermal", "converter", "station", "infeasible")
CONVERTER_SIDES = 16


@dataclass(frozen=True)
class PQResult:
    """Projected P–Q sets, one polygon per interval.

    Attributes:
        theta: Directions ``(K,)`` in radians.
        p_kw: Vertex ``P_tot`` per interval and direction ``(T, K)`` (LinDistFlow).
        q_kvar: Vertex ``Q_tot`` ``(T, K)``.
        p_ac_kw: AC-corrected vertex ``P_tot`` ``(T, K)``.
        q_ac_kvar: AC-corrected vertex ``Q_tot`` ``(T, K)``.
        ac_feasible: Whether the LinDistFlow vertex is AC-feasible ``(T, K)``.
        binding: Binding family index per vertex into ``PQ_BINDING`` ``(T, K)``.
        vm_min_pu: Minimum AC voltage over the AC-corrected vertices ``(T,)``.
        loading_max_pct: Maximum AC line loading over the AC-corrected vertices ``(T,)``.
        p_station_ac_kw: AC-corrected station set-points of every vertex ``(T, K, J)``.
        q_station_ac_kvar: Reactive set-points ``(T, K, J)``.
    """

    theta: FloatArray
    p_kw: FloatArray
    q_kvar: FloatArray
    p_ac_kw: FloatArray
    q_ac_kvar: FloatArray
    ac_feasible: np.ndarray
    binding: np.ndarray
    vm_min_pu: FloatArray
    loading_max_pct: FloatArray
    p_station_ac_kw: FloatArray
    q_station_ac_kvar: FloatArray

    def ranges(self) -> tuple[FloatArray, FloatArray]:
        """AC-corrected ``(P_min, P_max)`` and ``(Q_min, Q_max)`` per interval, ``(T, 2)`` each."""
        p = np.stack([self.p_ac_kw.min(1), self.p_ac_kw.max(1)], axis=1)
        q = np.stack([self.q_ac_kvar.min(1), self.q_ac_kvar.max(1)], axis=1)
        return p, q

    def dominant(self) -> list[str]:
        """Most frequent binding family per interval."""
        out = []
        for row in self.binding:
            counts = np.bincount(row, minlength=len(PQ_BINDING))
            out.append(PQ_BINDING[int(np.argmax(counts))])
        return out


def _converter_rows(n_station: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Inscribed polygon rows ``cos(phi) P_j + sin(phi) Q_j <= S_j cos(pi/K)``.

    Edge normals at ``phi_k = (2k + 1) pi / K`` put vertices at ``(+-S, 0)`` and ``(0, +-S)``:
    pure active (or reactive) operation keeps the full rating.
    """
    phi = (2 * np.arange(CONVERTER_SIDES) + 1) * np.pi / CONVERTER_SIDES
    eye = np.eye(n_station)
    a_p = (np.cos(phi)[:, None, None] * eye[None]).reshape(-1, n_station)
    a_q = (np.sin(phi)[:, None, None] * eye[None]).reshape(-1, n_station)
    scale = np.tile(np.eye(n_station), (CONVERTER_SIDES, 1)) * np.cos(np.pi / CONVERTER_SIDES)
    return a_p, a_q, scale


def _row_reach(a: FloatArray, p_min: FloatArray, p_max: FloatArray, s_max: FloatArray
               ) -> FloatArray:
    """Largest value of every row over the box ``P in [p_min, p_max], |Q| <= S`` ``(T, R)``.

    Rows whose reach stays below their bound can never bind and are left out of the LPs.
    """
    j = p_min.shape[1]
    ap, aq = a[:, :j], a[:, j:]
    return (p_max @ np.maximum(ap, 0).T + p_min @ np.minimum(ap, 0).T + s_max @ np.abs(aq).T)


def pq_projection(sec: SecuritySet, p_min_kw: FloatArray, p_max_kw: FloatArray,
                  s_max_kva: FloatArray, n_directions: int, solver: AcSolver,
                  bg_p_kw: FloatArray, bg_q_kvar: FloatArray, positions: np.ndarray,
                  limits: NetworkLimits) -> PQResult:
    """Trace the aggregate P–Q polygon of every interval (see module docstring).

    Args:
        sec: Security set of the intervals (``b`` of shape ``(T, R)``).
        p_min_kw: Station active lower bounds ``(T, J)``.
        p_max_kw: Station active upper bounds ``(T, J)``.
        s_max_kva: Converter apparent-power limits ``(T, J)``.
        n_directions: Number of rotating directions ``K``.
        solver: AC solver for the vertex checks.
        bg_p_kw: Background active consumption ``(T, n_bus)``.
        bg_q_kvar: Background reactive consumption ``(T, n_bus)``.
        positions: Station positions ``(J,)``.
        limits: Network limits.
    """
    T, J = p_max_kw.shape
    keep = (np.abs(sec.a_p).sum(1) + np.abs(sec.a_q).sum(1)) > 0
    ca_p, ca_q, cscale = _converter_rows(J)
    a = np.vstack([np.hstack([sec.a_p[keep], sec.a_q[keep]]), np.hstack([ca_p, ca_q])])
    kinds = np.concatenate([sec.kind[keep], np.full(ca_p.shape[0], 3)])
    theta = 2 * np.pi * np.arange(n_directions) / n_directions
    p_v = np.zeros((T, n_directions, J))
    q_v = np.zeros((T, n_directions, J))
    binding = np.full((T, n_directions), len(PQ_BINDING) - 1)
    h = highs_solver(options={"presolve": "off"})
    reach = _row_reach(a, p_min_kw, p_max_kw, s_max_kva)
    for t in range(T):
        row_hi_all = np.concatenate([sec.b[t, keep], cscale @ s_max_kva[t]])
        live = reach[t] > row_hi_all - 1e-9  # rows that some point of the box can violate
        live[len(kinds) - ca_p.shape[0]:] = True
        at = a[live]
        row_hi = row_hi_all[live]
        kt = kinds[live]
        LinearProgram(cost=np.zeros(2 * J),
                      col_lo=np.concatenate([p_min_kw[t], -s_max_kva[t]]),
                      col_hi=np.concatenate([p_max_kw[t], s_max_kva[t]]),
                      a=sp.csc_matrix(at), row_lo=np.full(at.shape[0], -np.inf),
                      row_hi=row_hi).load_into(h)
        idx = np.arange(2 * J, dtype=np.int32)
        for k, th in enumerate(theta):
            cost = -np.concatenate([np.full(J, np.cos(th)), np.full(J, np.sin(th))])
            h.changeColsCost(2 * J, idx, cost)
            res = solve(h)
            if not res.optimal:
                continue
            x = res.x
            p_v[t, k], q_v[t, k] = x[:J], x[J:]
            act = at @ x >= row_hi - 1e-6 * np.maximum(1.0, np.abs(row_hi))
            fam = kt[act]
            binding[t, k] = int(fam.min()) if fam.size else 4
    # AC check of every vertex, pulled back towards (u0, 0) where violated
    u0 = reference_point(p_min_kw, p_max_kw)
    start = np.repeat(u0, n_directions, axis=0)
    bis = bisect_segments(solver, np.repeat(bg_p_kw, n_directions, axis=0),
                          np.repeat(bg_q_kvar, n_directions, axis=0), positions, start,
                          p_v.reshape(-1, J), limits, start_kvar=np.zeros_like(start),
                          end_kvar=q_v.reshape(-1, J))
    lam = bis.lam.reshape(T, n_directions, 1)
    p_ac = u0[:, None, :] + lam * (p_v - u0[:, None, :])
    q_ac = lam * q_v
    return PQResult(theta=theta, p_kw=p_v.sum(-1), q_kvar=q_v.sum(-1), p_ac_kw=p_ac.sum(-1),
                    q_ac_kvar=q_ac.sum(-1), ac_feasible=(bis.lam >= 1.0).reshape(T, -1),
                    binding=binding, vm_min_pu=bis.vm_min_pu.reshape(T, -1).min(1),
                    loading_max_pct=bis.loading_max_pct.reshape(T, -1).max(1),
                    p_station_ac_kw=p_ac, q_station_ac_kvar=q_ac)
