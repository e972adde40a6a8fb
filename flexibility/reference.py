"""Trajectory-level reference: the station feasible set as an LP/MILP solved with HiGHS.

This is the independent reference for the closed forms in :mod:`flexibility.vehicle` and the
exclusivity benchmark of paper §4.2. For a 1-D fleet it builds, over every interval any vehicle
is connected (sessions may extend beyond the evaluated horizon), the variables
``p_ch[n,t], p_dis[n,t] >= 0`` and ``e[n,t+1]``, the constraints

    e[n,t+1] - e[n,t] - eta_ch dt p_ch[n,t] + dt / eta_dis p_dis[n,t] = 0,   (energy dynamics)
    lo_n <= e[n,t] <= hi_n,   e[n,d_n] >= q_n,                               (SOC and departure)
    p_ch[n,t] <= P_ch_n u[n,t],   p_dis[n,t] <= P_dis_n (1 - u[n,t]),         (exclusive only)

and then maximises / minimises ``sum_n p_ch[n,t] - p_dis[n,t]`` for each interval ``t`` by
changing the objective of one model (build once, solve many).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from flexibility.fleet import Fleet, FloatArray
from flexibility.lp import LinearProgram, highs_solver, solve

_INF = np.inf


@dataclass(frozen=True)
class IntervalExtremes:
    """Per-interval extremes of the aggregate net power found by the solver.

    Attributes:
        p_max_kw: Largest aggregate net power per interval, shape ``(T,)``.
        p_min_kw: Smallest aggregate net power per interval, shape ``(T,)``.
    """

    p_max_kw: FloatArray
    p_min_kw: FloatArray


class TrajectoryModel:
    """One HiGHS model of a 1-D fleet's trajectory set (optionally charge/discharge exclusive)."""

    def __init__(self, fleet: Fleet, exclusive: bool = False, mip_rel_gap: float = 1e-9) -> None:
        """Build the model.

        Args:
            fleet: Vehicles, arrays of shape ``(N,)``.
            exclusive: Add one binary per vehicle and interval forbidding simultaneous
                charging and discharging.
            mip_rel_gap: Relative MIP gap for the exclusive model.
        """
        if len(fleet.shape) != 1:
            raise ValueError("TrajectoryModel takes a 1-D fleet (one scenario)")
        self.fleet = fleet
        self.exclusive = exclusive
        b = lambda x: np.broadcast_to(x, fleet.shape)  # noqa: E731
        a, d = b(fleet.arrival_idx), b(fleet.departure_idx)
        e0 = b(fleet.e_init_kwh)
        lo, hi = b(fleet.lower_energy_kwh()), b(fleet.upper_energy_kwh())
        q = b(fleet.reachable_requirement_kwh())
        pc, pd = b(fleet.p_ch_max_kw), b(fleet.p_dis_max_kw)
        dt, ec, ed = fleet.dt_h, fleet.eta_ch, fleet.eta_dis

        cols_lb: list[float] = []
        cols_ub: list[float] = []
        integrality: list[int] = []
        rows_i: list[int] = []
        rows_j: list[int] = []
        vals: list[float] = []
        row_lb: list[float] = []
        row_ub: list[float] = []
        # net-power columns of interval t: list of (col_ch, col_dis)
        self._by_t: dict[int, list[tuple[int, int]]] = {}

        def new_col(lb: float, ub: float, integer: bool = False) -> int:
            cols_lb.append(lb)
            cols_ub.append(ub)
            integrality.append(1 if integer else 0)
            return len(cols_lb) - 1

        def new_row(entries: list[tuple[int, float]], lb: float, ub: float) -> None:
            r = len(row_lb)
            for j, v in entries:
                rows_i.append(r)
                rows_j.append(j)
                vals.append(v)
            row_lb.append(lb)
            row_ub.append(ub)

        for n in range(fleet.n_vehicles):
            prev_e: int | None = None  # column of e at start of the interval (None: fixed e0)
            for t in range(int(a[n]), int(d[n])):
                ch = new_col(0.0, float(pc[n]))
                dis = new_col(0.0, float(pd[n]))
                last = t == int(d[n]) - 1
                e_lb = max(float(lo[n]), float(q[n])) if last else float(lo[n])
                e_next = new_col(e_lb, float(hi[n]))
                entries = [(e_next, 1.0), (ch, -ec * dt), (dis, dt / ed)]
                if prev_e is None:
                    new_row(entries, float(e0[n]), float(e0[n]))
                else:
                    new_row([*entries, (prev_e, -1.0)], 0.0, 0.0)
                if exclusive:
                    u = new_col(0.0, 1.0, integer=True)
                    new_row([(ch, 1.0), (u, -float(pc[n]))], -_INF, 0.0)
                    new_row([(dis, 1.0), (u, float(pd[n]))], -_INF, float(pd[n]))
                prev_e = e_next
                self._by_t.setdefault(t, []).append((ch, dis))

        n_col = len(cols_lb)
        self.n_col = n_col
        a_mat = sparse.csc_matrix((vals, (rows_i, rows_j)), shape=(len(row_lb), n_col))
        program = LinearProgram(cost=np.zeros(n_col), col_lo=np.array(cols_lb),
                                col_hi=np.array(cols_ub), a=a_mat, row_lo=np.array(row_lb),
                                row_hi=np.array(row_ub),
                                integrality=np.array(integrality) if exclusive else None)
        self._h = highs_solver(options={"mip_rel_gap": mip_rel_gap,
                                        "primal_feasibility_tolerance": 1e-9,
                                        "dual_feasibility_tolerance": 1e-9})
        if n_col:
            program.load_into(self._h)
        self._cost_idx = np.zeros(0, dtype=np.int32)

    def extreme_net_power(self, t: int, maximise: bool) -> float:
        """Largest (or smallest) aggregate net power ``sum_n p_ch - p_dis`` in interval ``t``.

        Raises:
            RuntimeError: If HiGHS does not report an optimal solution.
        """
        pairs = self._by_t.get(t, [])
        if not pairs:
            return 0.0
        idx = np.array([c for pair in pairs for c in pair], dtype=np.int32)
        return self._optimise(idx, np.tile([1.0, -1.0], len(pairs)), maximise, t)

    def _optimise(self, idx: np.ndarray, coef: np.ndarray, maximise: bool, t: int) -> float:
        """Optimise ``coef @ x[idx]`` (all other costs zero) and return the value."""
        if self._cost_idx.size:
            self._h.changeColsCost(self._cost_idx.size, self._cost_idx,
                                   np.zeros(self._cost_idx.size))
        sign = -1.0 if maximise else 1.0  # HiGHS minimises
        self._h.changeColsCost(idx.size, idx, sign * coef)
        self._cost_idx = idx
        res = solve(self._h)
        if not res.optimal:
            raise RuntimeError(f"HiGHS returned {res.status_text} at t={t}")
        value = -res.objective if maximise else res.objective
        return value + 0.0  # + 0.0 turns a -0.0 optimum into 0.0

    def interval_extremes(self, n_intervals: int, t0: int = 0) -> IntervalExtremes:
        """Solve the max and min problem for every interval ``t0 ... t0 + T - 1``."""
        ts = range(t0, t0 + n_intervals)
        return IntervalExtremes(
            p_max_kw=np.array([self.extreme_net_power(t, True) for t in ts]),
            p_min_kw=np.array([self.extreme_net_power(t, False) for t in ts]),
        )
