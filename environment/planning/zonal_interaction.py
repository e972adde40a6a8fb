"""Interaction between the distribution layer and the aggregation areas (bilevel zonal
dispatch paper, section 2.4, eqs. 6-10).

* **Two plans** of the distribution layer under the same rows: the economic one ``x^D``
  (eq. 1, ``setup.plan``) and the loss-minimising one ``x^DI`` (eq. 6: the losses on the lines
  between areas, ``dispatch.zonal_dn`` with ``objective = "losses"``; the capacitor steps
  held at the economic plan's, so it is an LP).
* **Targets** (eqs. 9-10): per area and interval the larger of the two plans' area sums,

      P^Z_d,t = max{sum_{i in d} P^D_i,t, sum_{i in d} P^DI_i,t},   Q^Z likewise;

  with ``targets = "economic"`` the economic plan's sums alone.
* **Rounds** until the targets agree: the areas answer their targets (price-responsive users,
  their generators and trade, ``zonal_areas.track_areas``); the distribution layer re-plans
  both plans with each area's EV power anchored at its answer (moved only where a network
  limit needs it, ``zonal_areas.OVERRIDE_PENALTY_PER_KWH``) and the targets are taken again.
  The round ``k`` moves the targets by ``m_k = max_t,d |P^Z,k_t,d - P^Z,k-1_t,d|``; the rounds
  stop at ``m_k <= tol`` (converged: one more round would move them by at most ``tol``) or
  after ``target_rounds``.
* **Ratios** of each area's regulation demand to its EVs' capability per interval (section
  3.2): the demand is the target minus the area's other net load minus its uncoordinated
  charging, the capability the room of its EV set on that side of the uncoordinated charging.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dispatch.zonal_agg import AreaTracking
from dispatch.zonal_dn import ZonalPlan, solve_zonal_network
from environment.planning.zonal_areas import (
    OVERRIDE_PENALTY_PER_KWH,
    AreaSets,
    area_targets,
    track_areas,
)
from environment.planning.zonal_setup import ZonalSetup, solve_with_ac
from flexibility.common import FloatArray
from grid.layers import GridModel


@dataclass(frozen=True)
class Targets:
    """The areas' targets of one round, arrays ``(T, D)``.

    Attributes:
        p_kw: Active targets ``P^Z`` (eq. 9); ``q_kvar`` reactive ``Q^Z`` (eq. 10).
        economic_p_kw: The economic plan's area sums; ``losses_p_kw`` the loss-minimising
            plan's (equal to the economic ones with ``targets = "economic"``).
        losses_plan: The loss-minimising plan (``None`` with ``targets = "economic"``).
        tie_loss_kwh: Eq. 6's losses of the economic and of the loss-minimising plan (kWh
            over the day, LinDistFlow drops).
    """

    p_kw: FloatArray
    q_kvar: FloatArray
    economic_p_kw: FloatArray
    losses_p_kw: FloatArray
    losses_plan: ZonalPlan | None
    tie_loss_kwh: tuple[float, float]


def tie_losses_kwh(setup: ZonalSetup, gm: GridModel, plan: ZonalPlan) -> float:
    """Eq. 6 at a plan: ``dt sum_t sum_l S_base G_l u_t,l^2`` over the lines between areas,
    ``u = (r F^P + x F^Q) / S_base`` the LinDistFlow drop along the line."""
    fe, net = gm.feeder, setup.net
    lines = np.asarray(net.tie_lines, dtype=int)
    if lines.size == 0:
        return 0.0
    fp = gm.ldf.branch_flows(plan.p_bus_kw)[:, lines]
    fq = gm.ldf.branch_flows(plan.q_bus_kvar)[:, lines]
    r, x = fe.r_pu[lines], fe.x_pu[lines]
    u = (r * fp + x * fq) / fe.s_base_kva
    g = fe.s_base_kva * r / (r * r + x * x)
    return float((g * u * u).sum() * net.dt_h)


def take_targets(setup: ZonalSetup, gm: GridModel, mode: str) -> Targets:
    """The targets of the module docstring from ``setup``'s economic plan and, with
    ``mode = "max_with_losses"``, the loss-minimising plan on the same instance."""
    p_d, q_d = area_targets(setup)
    loss_d = tie_losses_kwh(setup, gm, setup.plan)
    if mode == "economic":
        return Targets(p_d, q_d, p_d, p_d, None, (loss_d, loss_d))
    di = solve_zonal_network(replace(setup.net, objective="losses", cap_fixed=setup.plan.cap),
                             gm.ldf)
    if not di.feasible:
        return Targets(p_d, q_d, p_d, p_d, None, (loss_d, float("nan")))
    onehot = np.eye(len(setup.parts))[setup.net.area_of_bus]
    p_di, q_di = di.p_bus_kw @ onehot, di.q_bus_kvar @ onehot
    return Targets(np.maximum(p_d, p_di), np.maximum(q_d, q_di), p_d, p_di, di,
                   (loss_d, tie_losses_kwh(setup, gm, di)))


def anchored_setup(setup: ZonalSetup, gm: GridModel, sets: AreaSets, area_ev_kw: FloatArray
                   ) -> ZonalSetup:
    """The distribution layer re-planned with each area's EV set ``sets`` and its EV power
    anchored at the areas' answer ``area_ev_kw`` ``(T, D)`` (no response rows: the answer is
    the users' response already), AC-tightened like the first plan."""
    net = replace(setup.net, ev_lo_kw=sets.lo_kw, ev_hi_kw=np.maximum(sets.hi_kw, sets.lo_kw),
                  ev_y_lo_kwh=sets.y_lo_kwh - 1e-6,
                  ev_y_hi_kwh=np.maximum(sets.y_hi_kwh, sets.y_lo_kwh) + 1e-6,
                  ev_period=None, ev_energy_target_kwh=None, ev_anchor_kw=area_ev_kw,
                  anchor_penalty_per_kwh=OVERRIDE_PENALTY_PER_KWH)
    net, plan, ac = solve_with_ac(net, gm, setup.limits.v_min_pu,
                                  setup.limits.substation_kw)
    if not plan.feasible:
        return setup
    return replace(setup, net=net, plan=plan, ac=ac if ac is not None else setup.ac)


@dataclass(frozen=True)
class Rounds:
    """The rounds between the layers.

    Attributes:
        setup: The distribution layer's last plan (anchored at the areas' last answer).
        targets: The last targets.
        tracks: The areas' answers of the last round (to the targets before the last, within
            the last move of these; the last plan carries them).
        moves_kw: ``m_k`` of every round (module docstring).
        converged: The last move is within the tolerance.
        tol_kw: The tolerance.
    """

    setup: ZonalSetup
    targets: Targets
    tracks: list[AreaTracking]
    moves_kw: tuple[float, ...]
    converged: bool
    tol_kw: float

    @property
    def rounds(self) -> int:
        """Rounds run."""
        return len(self.moves_kw)


def answer(setup: ZonalSetup, sets: AreaSets, targets: Targets, omega_z: FloatArray,
           dg_cost_per_kwh: FloatArray) -> tuple[list[AreaTracking], FloatArray]:
    """The areas' answers to ``targets`` and their EV powers ``(T, D)`` (an area without an
    optimum keeps its uncoordinated charging)."""
    tracks = track_areas(setup, sets, omega_z, dg_cost_per_kwh, targets.p_kw)
    ev = np.stack([tr.ev_kw if tr.feasible else sets.asap_kw[:, d]
                   for d, tr in enumerate(tracks)], axis=1)
    return tracks, ev


def one_round(setup: ZonalSetup, gm: GridModel, sets: AreaSets, targets: Targets,
              omega_z: FloatArray, dg_cost_per_kwh: FloatArray, mode: str
              ) -> tuple[ZonalSetup, Targets, list[AreaTracking]]:
    """One round: the areas answer ``targets``, the distribution layer re-plans anchored at
    the answer, the targets are taken again. Returns the new plan, targets and the answers."""
    tracks, ev = answer(setup, sets, targets, omega_z, dg_cost_per_kwh)
    new_setup = anchored_setup(setup, gm, sets, ev)
    return new_setup, take_targets(new_setup, gm, mode), tracks


def iterate_targets(setup: ZonalSetup, gm: GridModel, sets: AreaSets, omega_z: FloatArray,
                    dg_cost_per_kwh: FloatArray, mode: str, tol_kw: float, max_rounds: int
                    ) -> Rounds:
    """Rounds of :func:`one_round` from the first plan's targets until they move by at most
    ``tol_kw`` (module docstring)."""
    targets = take_targets(setup, gm, mode)
    moves: list[float] = []
    tracks: list[AreaTracking] = []
    for _ in range(max_rounds):
        new_setup, new_targets, tracks = one_round(setup, gm, sets, targets, omega_z,
                                                   dg_cost_per_kwh, mode)
        moves.append(float(np.abs(new_targets.p_kw - targets.p_kw).max()))
        setup, targets = new_setup, new_targets
        if moves[-1] <= tol_kw:
            break
    return Rounds(setup, targets, tracks, tuple(moves), bool(moves and moves[-1] <= tol_kw),
                  tol_kw)


def capability_ratios(setup: ZonalSetup, sets: AreaSets, target_kw: FloatArray) -> FloatArray:
    """Each area's regulation demand over its EVs' capability per interval ``(T, D)``
    (module docstring; 0 where there is no demand, ``inf`` where there is demand and no
    room)."""
    other = area_targets(setup)[0] - setup.plan.ev_kw  # base load - renewables - diesel
    need = target_kw - other - sets.asap_kw
    room = np.where(need >= 0, sets.hi_kw - sets.asap_kw, sets.asap_kw - sets.lo_kw)
    return np.divide(np.abs(need), room, out=np.where(np.abs(need) > 1e-9, np.inf, 0.0),
                     where=room > 1e-9)
