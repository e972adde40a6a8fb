"""Dispatch of an area's EV target to its vehicles, by user type.

The bilevel zonal dispatch paper, section 2.8, Fig. 4.

Every vehicle is a generalized battery on the grid side (``flexibility.battery``: power
``u_min <= x_t <= u_max``, cumulative energy ``y_min <= dt sum_{s<=t} x_s <= y_max``, the lower
bound holding its departure requirement). The groups of :data:`dispatch.ev_types.ORDER` are
scheduled in turn; each tracks what the groups before it left of the target,

    x^(g) = argmin_{x in the group's sets} sum_t |sum_{n in g} x_nt - R^(g)_t|,
    R^(g+1) = R^(g) - sum_{n in g} x^(g)_n,     R^(1) = target,

one sparse LP per group (``flexibility.gpolymatroid_lp.track``). Each group's LP is degenerate
(many L1 optima over the day), so a group can leave a residual the later groups cannot follow
although the whole fleet could. A joint repair pass follows: every vehicle moves by ``d_n``
inside its set shifted by its set-point, ``x_n + d_n in S_n``,

    d = argmin sum_t |sum_n d_nt - R^(last)_t|,

so the deviation is the least any schedule of the whole fleet can reach (that of one group of
all types). The type order sets the schedule the repair starts from; the repair minimises
only the deviation, so it may move a vehicle of any type (``group_kw`` is each group's sum
after it). The vehicles' sets are hard
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

REPAIR_TOL_KW = 1e-6
"""A deviation above this after the groups starts the joint repair pass."""


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
        ModelInputError: A vehicle's set is empty or its type is in no group.
    """
    ty = np.asarray(types, dtype=int)
    listed = np.isin(ty, [t for g in order for t in g])
    if not listed.all():
        raise ModelInputError(f"user types {sorted(set(ty[~listed].tolist()))} are in no "
                              "scheduling group")
    residual = np.asarray(target_kw, dtype=float).copy()
    p = np.zeros((batt.n_devices, batt.n_intervals))
    groups = np.zeros((len(order), batt.n_intervals))
    for k, group in enumerate(order):
        m = np.isin(ty, group)
        if not m.any():
            continue
        sub = BatterySet(batt.u_min_kw[m], batt.u_max_kw[m], batt.y_min_kwh[m],
                         batt.y_max_kwh[m], batt.dt_h)
        res = track(sub, residual)
        if res is None:
            raise ModelInputError(f"a vehicle set of type group {group} is empty")
        p[m] = res[0]
        groups[k] = res[0].sum(axis=0)
        residual = residual - groups[k]
    if np.abs(residual).max(initial=0.0) > REPAIR_TOL_KW:
        # what the groups in turn left unfollowed: every vehicle may still move within its own
        # set around its set-point (the set shifted by it), jointly
        shifted = np.cumsum(p, axis=1) * batt.dt_h
        free = BatterySet(batt.u_min_kw - p, batt.u_max_kw - p, batt.y_min_kwh - shifted,
                          batt.y_max_kwh - shifted, batt.dt_h)
        res = track(free, residual)  # d = 0 is in every shifted set; None only if an idle
        if res is not None:  # bound breaks by rounding: the groups' schedule (valid) is kept
            p = p + res[0]
            for k, group in enumerate(order):
                groups[k] += res[0][np.isin(ty, group)].sum(axis=0)
            residual = residual - res[0].sum(axis=0)
    return VehicleSchedule(p, groups, -residual)
