"""The feeder check of a region point with dispatchable generation (spatiotemporal paper §1.2).

The paper's distribution model is an optimal power flow: the utility grid (substation), the
distributed generators (DG) and the PV inverters each have a capacity limit, and a station
operating point is feasible when some dispatch of them keeps every voltage, current and
substation limit. Here, for station net loads ``u`` (kW, charging positive) at ``t*``:

1. **LinDistFlow dispatch** (HiGHS): with ``g`` the DG outputs at their buses (unity power
   factor), the security rows of ``t*`` for the stations and DG buses together
   (``grid.lindistflow``: voltage, thermal polygon, substation headroom ``|P_sub| <= S_sub``)

       A^P_s u - A^P_g g <= b - m,    0 <= g <= g_max,

   minimising ``sum g`` (DG only where the utility grid cannot serve); ``m`` is a margin that
   absorbs LinDistFlow's missing losses: ``k * VOLTAGE_MARGIN`` on the voltage rows and
   ``k * POWER_MARGIN_KW`` on the substation and thermal rows at attempt ``k = 1, 2, ...``;
2. **AC check** at that dispatch (background load and PV of ``t*``, the stations, ``-g``):
   voltages, branch loadings and the substation's active power within limits.

A point is grid-feasible when step 1 has a solution and step 2 holds for it, at most
``RETRIES + 1`` attempts. PV is the scenario's ``grid.profiles`` (``pv_peak_kw`` on
``pv_buses``: the inverters' rating, scaled by the PV profile at ``t*``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from environment.grid_setup import build_grid_model
from flexibility.lp import LinearProgram, solve
from grid.layers import GridModel
from grid.lindistflow import VOLTAGE, station_positions
from scenarios.config import Scenario

VOLTAGE_MARGIN = 0.004  # squared-voltage margin per attempt (p.u.^2)
POWER_MARGIN_KW = 40.0  # substation and thermal margin per attempt (kW)
RETRIES = 3


@dataclass(frozen=True)
class GridCheck:
    """The feeder check of one operating point.

    Attributes:
        feasible: A dispatch exists and the AC power flow at it holds every limit.
        vm_min_pu: Lowest AC voltage at the dispatch tried last.
        dg_kw: DG output per DG bus at that dispatch (empty without DG).
        p_sub_kw: Substation active power (AC).
    """

    feasible: bool
    vm_min_pu: float
    dg_kw: np.ndarray
    p_sub_kw: float


class RegionGrid:
    """Grid check of station net loads at one interval (module docstring).

    Args:
        scenario: The coupled scenario (``[grid]`` with optional ``dg``).
        k_grid: Interval of the scenario horizon that holds ``t*``.
        grid: A grid model of the scenario (built if not given).
    """

    def __init__(self, scenario: Scenario, k_grid: int, grid: GridModel | None = None) -> None:
        self.g = grid or build_grid_model(scenario)
        self.k = int(k_grid)
        g, fe = self.g, self.g.feeder
        dg = scenario.grid.dg
        self.dg_max = np.array([d.p_max_kw for d in dg], dtype=float)
        dg_pp = [fe.resolve_bus(d.bus, scenario.grid.bus_numbering, "grid.dg.bus: DG bus")
                 for d in dg]
        self.dg_pos = station_positions(fe, dg_pp)
        n_st = len(g.stations)
        positions = np.concatenate([g.positions, self.dg_pos]).astype(np.int64)
        bg_p, bg_q = g.bg(self.k, 1)
        base = g.solver.solve(bg_p, bg_q)
        loss = np.where(base.converged, base.p_slack_kw - bg_p.sum(1), 0.0)
        sec = g.ldf.security_set(positions, bg_p, bg_q, g.limits, loss)
        self.a_st = sec.a_p[:, :n_st]
        self.a_dg = sec.a_p[:, n_st:]
        self.b = sec.b[0]
        self.volt = sec.kind == VOLTAGE

    def dispatch(self, u_kw: np.ndarray, margin: float) -> np.ndarray | None:
        """Least total DG output that keeps the LinDistFlow rows tightened by ``margin``
        steps (``None``: no dispatch does)."""
        rhs = self.b - self.a_st @ u_kw - margin * np.where(self.volt, VOLTAGE_MARGIN,
                                                             POWER_MARGIN_KW)
        n = self.dg_max.size
        if n == 0:
            return np.zeros(0) if np.all(rhs >= -1e-6) else None
        lp = LinearProgram(cost=np.ones(n), col_lo=np.zeros(n), col_hi=self.dg_max,
                           a=-self.a_dg, row_lo=np.full(rhs.size, -np.inf), row_hi=rhs + 1e-6)
        sol = solve(lp.highs())
        return np.clip(sol.x, 0.0, self.dg_max) if sol.optimal else None

    def check(self, u_kw: np.ndarray) -> GridCheck:
        """LinDistFlow dispatch, then AC at it (module docstring)."""
        g = self.g
        u = np.asarray(u_kw, dtype=float)
        bg_p, bg_q = g.bg(self.k, 1)
        last = GridCheck(False, float("nan"), np.zeros(self.dg_max.size), float("nan"))
        for attempt in range(RETRIES + 1):
            gen = self.dispatch(u, attempt + 1.0)
            if gen is None:
                return last
            p = bg_p.copy()
            p[0, g.positions] += u
            np.add.at(p[0], self.dg_pos, -gen)
            res = g.solver.solve(p, bg_q)
            ok = bool(res.violation(g.limits)[0] < 0)
            last = GridCheck(ok, float(np.nanmin(res.vm_pu[0])), gen,
                             float(res.p_slack_kw[0]))
            if ok:
                return last
        return last
