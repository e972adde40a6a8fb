"""Dispatch of an area's EV target to its vehicles, by user type.

The bilevel zonal dispatch paper, section 2.8, Fig. 4.

Every vehicle is a generalized battery on the grid side (``flexibility.battery``: power
``u_min <= x_t <= u_max``, cumulative energy ``y_min <= dt sum_{s<=t} x_s <= y_max``, the lower
bound holding its departure requirement). The groups of :data:`dispatch.ev_types.ORDER` but the
last are scheduled in turn; each tracks what the groups before it left of the target,

    x^(g) = argmin_{x in the group's sets} sum_t |sum_{n in g} x_nt - R^(g)_t|,
    R^(g+1) = R^(g) - sum_{n in g} x^(g)_n,     R^(1) = target,

one sparse LP per group (``flexibility.gpolymatroid_lp.track``). The last group then tracks
what is left jointly with the earlier groups, which are anchored at their set-points and move
at ``MOVE_PRICE`` per kW and interval:

    x = argmin_{x_n in S_n} sum_t |sum_n x_nt - target_t|
                            + MOVE_PRICE sum_{n not last} |x_n - x^(g)_n|.

Each group's LP is degenerate (many L1 optima over the day), so an earlier group can pick a
trajectory the last one cannot complement although the whole fleet could; the joint pass lets
it move where that lowers the deviation, so the deviation is the least any schedule of the
whole fleet can reach (that of one group of all types) up to ``MOVE_PRICE`` times the moves
that needs, and the earlier groups keep their set-points wherever moving them does not help.
(``group_kw`` is each group's sum after the joint pass.) The vehicles' sets are hard
constraints, so every set-point is inside its vehicle's set and every departure requirement is
met whatever the target; what the fleet cannot follow is the deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dispatch.ev_types import ORDER
from flexibility.common import FloatArray, IntArray, ModelInputError
from flexibility.gpolymatroid import BatterySet
from flexibility.gpolymatroid_lp import track

MOVE_PRICE = 1e-4
"""Price of moving an earlier group's vehicle away from its set-point in the joint pass, per kW
and interval (the deviation costs 1): small, so the earlier groups move only where the
fleet's deviation falls."""


@dataclass(frozen=True)
class VehicleSchedule:
    """The vehicles' set-points.

    Attributes:
        p_kw: Grid-side power per vehicle and interval ``(N, T)`` (charging positive).
        group_kw: Sum per scheduling group ``(len(order), T)``.
        deviation_kw: ``sum_n p_n - target`` per interval ``(T,)``.
    """

    p_kw: FloatArray
    group_kw: FloatArray
    deviation_kw: FloatArray


def schedule_vehicles(batt: BatterySet, types: IntArray, target_kw: FloatArray,
                      order: tuple[tuple[int, ...], ...] = ORDER) -> VehicleSchedule:
    """Track ``target_kw`` with the vehicles, group by group (module docstring).

    Args:
        batt: The vehicles' sets ``(N, T)``.
        types: User type per vehicle ``(N,)``.
        target_kw: The area's EV target ``(T,)``.
        order: Groups of types in scheduling order; every type present must be in one.

    Raises:
        ModelInputError: A vehicle's set is empty, its type is in no group, or ``order`` is
            empty.
    """
    if not order:
        raise ModelInputError("the scheduling order has no group")
    ty = np.asarray(types, dtype=int)
    listed = np.isin(ty, [t for g in order for t in g])
    if not listed.all():
        raise ModelInputError(f"user types {sorted(set(ty[~listed].tolist()))} are in no "
                              "scheduling group")
    target = np.asarray(target_kw, dtype=float)
    residual = target.copy()
    p = np.full((batt.n_devices, batt.n_intervals), np.nan)
    for group in order[:-1]:
        m = np.isin(ty, group)
        if not m.any():
            continue
        res = track(batt.subset(m), residual)
        if res is None:
            raise ModelInputError(f"a vehicle set of type group {group} is empty")
        p[m] = res[0]
        residual = residual - res[0].sum(axis=0)
    # the last group jointly with the earlier ones, anchored at their set-points (NaN: free)
    res = track(batt, target, anchor_kw=p, move_price=MOVE_PRICE)
    if res is None:
        raise ModelInputError(f"a vehicle set of type group {order[-1]} is empty")
    p, dev = res
    groups = np.stack([p[np.isin(ty, group)].sum(axis=0) for group in order])
    return VehicleSchedule(p, groups, dev)
