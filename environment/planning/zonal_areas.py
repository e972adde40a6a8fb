"""Aggregation layer of the zonal dispatch (bilevel zonal dispatch paper, sections 2.4 and
2.6-2.8), shared by the study and the co-simulated day.

Given the distribution layer's plan (``environment.planning.zonal_setup``):

* **targets** — area ``d``'s active and reactive targets are the sums of its buses' planned
  consumption, ``P^Z_d,t = sum_{i in d} P_i,t`` and ``Q^Z_d,t = sum_{i in d} Q_i,t`` (eqs.
  9-10; the economic plan is the only plan, so the ``max`` with the loss-minimising plan of
  eq. 6 is not taken);
* **trading prices** (eq. 11 at equality) — area ``d`` buys from its neighbours at
  ``omega^Z_d,t = omega^g_t (P^B + G_a (V_a,t - V_0,t)^2) / P^B``: ``a`` the area's bus nearest
  the substation, ``Z_a = R_a + j X_a`` the impedance of the feeder path from the substation to
  it, ``G_a = R_a / |Z_a|^2``, the voltages from the AC check of the plan, and ``P^B`` the
  power that the same voltage drop drives through the path, ``|V_a - V_0| V_a / |Z_a|`` (the
  paper leaves the volume open). The premium is then the path's loss factor
  ``(R_a / |Z_a|) |V_a - V_0| / V_a``; the area holding the substation trades at ``omega^g``;
* **areas** — each area tracks its target with price-responsive users and its own generators
  (``dispatch.zonal_agg.track_area``), its EV set the sum of its vehicles' sets (power bounds
  summed, cumulative energy between the summed as-late-as-possible and as-soon-as-possible
  trajectories), the base energy per period its uncoordinated charging;
* **vehicles** — the area's EV trajectory is dispatched to its vehicles by user type
  (``dispatch.ev_types``, ``dispatch.zonal_vehicles``), inside every vehicle's set;
* **correction** — the distribution layer re-dispatches its own devices around the vehicles'
  powers per station and, where a network limit needs it, moves a station away from them at
  a penalty (:func:`redispatch`); the stations' vehicles then track the corrected powers
  (:func:`reschedule`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dispatch.ev_types import ORDER, classify
from dispatch.zonal_agg import AreaTracking, track_area
from dispatch.zonal_dn import ZonalPlan
from dispatch.zonal_vehicles import VehicleSchedule, schedule_vehicles
from environment.planning.zonal_setup import ZonalSetup, solve_with_ac
from flexibility.battery import vehicle_batteries
from flexibility.common import FloatArray, IntArray
from flexibility.fleet import Fleet
from flexibility.gpolymatroid import BatterySet
from flexibility.gpolymatroid_lp import track
from grid.layers import GridModel
from grid.lindistflow import LinDistFlow

TRACK_PENALTY_PER_KWH = 1.0
"""Reward/penalty price ``omega_cg`` of an area's deviation from its target (eq. 22; the paper
does not state it; above every purchase price, so an area follows its target where it can)."""


def area_targets(setup: ZonalSetup) -> tuple[FloatArray, FloatArray]:
    """``P^Z`` and ``Q^Z`` per interval and area ``(T, D)`` (eqs. 9-10)."""
    onehot = np.eye(len(setup.parts))[setup.net.area_of_bus]  # (n, D)
    return setup.plan.p_bus_kw @ onehot, setup.plan.q_bus_kvar @ onehot


def trading_prices(setup: ZonalSetup, ldf: LinDistFlow) -> FloatArray:
    """``omega^Z`` per interval and area ``(T, D)`` (eq. 11, module docstring); the path
    impedance ``Z_a`` is the diagonal of LinDistFlow's sensitivities times the power base."""
    fe = ldf.feeder
    parent = np.asarray(fe.parent)
    out = np.repeat(setup.price[:, None], len(setup.parts), axis=1)
    vm = setup.ac.vm_pu
    for d, part in enumerate(setup.parts):
        a = min(b for b in part if parent[b] not in part)  # entry bus (the first, if several)
        if a == 0:
            continue
        r, x = (float(m[a, 0]) * fe.s_base_kva for m in ldf.sensitivity(np.array([a])))
        dv = np.abs(vm[:, a] - vm[:, 0])
        loss_pu = (r / (r * r + x * x)) * dv ** 2  # G_a (V_a - V_0)^2
        volume_pu = dv * vm[:, a] / np.hypot(r, x)
        out[:, d] *= 1.0 + np.divide(loss_pu, volume_pu, out=np.zeros_like(dv),
                                     where=volume_pu > 0)
    return out


@dataclass(frozen=True)
class AreaFleet:
    """The realised vehicles of one area.

    Attributes:
        batt: Their sets ``(N, T)`` (grid side).
        types: User type per vehicle ``(N,)``.
        station: Station index per vehicle ``(N,)``.
        y_alap_kwh: Every vehicle's as-late-as-possible cumulative energy ``(N, T)``.
        y_asap_kwh: Its as-soon-as-possible one ``(N, T)`` (uncoordinated charging).
    """

    batt: BatterySet
    types: IntArray
    station: IntArray
    y_alap_kwh: FloatArray
    y_asap_kwh: FloatArray

    @property
    def asap_kw(self) -> FloatArray:
        """The area's uncoordinated charging ``(T,)``."""
        return np.diff(np.r_[0.0, self.y_asap_kwh.sum(axis=0)]) / self.batt.dt_h


def area_fleets(setup: ZonalSetup, fleets: list[Fleet], n_intervals: int) -> list[AreaFleet]:
    """Group one realised day's vehicles (fleets of shape ``(N_j,)`` per station) by area."""
    parts: list[list[tuple[int, Fleet]]] = [[] for _ in setup.parts]
    for j, fl in enumerate(fleets):
        parts[int(setup.station_area[j])].append((j, fl))
    out = []
    for members in parts:
        bs, ty, st, lo, hi = [], [], [], [], []
        for j, fl in members:
            vb = vehicle_batteries(fl, n_intervals)
            b = vb.battery
            bs.append((b.p_lo_kw, b.p_hi_kw, b.y_lo_kwh, b.y_hi_kwh))
            need = np.maximum(fl.e_req_kwh - fl.e_init_kwh, 0.0) / fl.eta_ch
            ty.append(classify(fl.arrival_idx, fl.departure_idx, need,
                               np.broadcast_to(fl.p_ch_max_kw, fl.shape), setup.period,
                               fl.dt_h))
            st.append(np.full(fl.shape[-1], j))
            lo.append(vb.y_alap_kwh)
            hi.append(vb.y_asap_kwh)
        if not members:
            z = np.zeros((0, n_intervals))
            out.append(AreaFleet(BatterySet(z, z, z, z, setup.net.dt_h), np.zeros(0, int),
                                 np.zeros(0, int), z, z))
            continue
        cat = [np.concatenate([b[k] for b in bs]) for k in range(4)]
        out.append(AreaFleet(BatterySet(cat[0], cat[1], cat[2], cat[3], setup.net.dt_h),
                             np.concatenate(ty), np.concatenate(st), np.concatenate(lo),
                             np.concatenate(hi)))
    return out


@dataclass(frozen=True)
class AreaSets:
    """Each area's EV set and uncoordinated charging, arrays ``(T, D)``.

    Attributes:
        lo_kw, hi_kw: Power bounds.
        y_lo_kwh, y_hi_kwh: Cumulative energy bounds.
        asap_kw: Uncoordinated charging (the users' demand at the base prices).
    """

    lo_kw: FloatArray
    hi_kw: FloatArray
    y_lo_kwh: FloatArray
    y_hi_kwh: FloatArray
    asap_kw: FloatArray

    @staticmethod
    def of_fleets(fleets: list[AreaFleet]) -> AreaSets:
        """The sums over each area's realised vehicles."""
        return AreaSets(*(np.stack(c, axis=1) for c in zip(
            *[(af.batt.u_min_kw.sum(axis=0), af.batt.u_max_kw.sum(axis=0),
               af.y_alap_kwh.sum(axis=0), af.y_asap_kwh.sum(axis=0), af.asap_kw)
              for af in fleets], strict=True)))


def track_areas(setup: ZonalSetup, sets: AreaSets, omega_z: FloatArray,
                dg_cost_per_kwh: FloatArray, target_kw: FloatArray | None = None
                ) -> list[AreaTracking]:
    """Each area's answer to its target (module docstring, "areas"); ``target_kw`` ``(T, D)``
    (default: the economic plan's area sums, eq. 9 with one plan)."""
    net, plan = setup.net, setup.plan
    per = setup.period
    p_z = area_targets(setup)[0] if target_kw is None else np.asarray(target_kw)
    dg_area = net.area_of_bus[net.dg_bus]
    out = []
    for d in range(p_z.shape[1]):
        mine = dg_area == d
        other = p_z[:, d] - plan.ev_kw[:, d] + plan.dg_kw[:, mine].sum(axis=1)
        base = np.array([sets.asap_kw[per == j, d].sum() * net.dt_h for j in range(3)])
        out.append(track_area(p_z[:, d], other, base, per, sets.lo_kw[:, d], sets.hi_kw[:, d],
                              sets.y_lo_kwh[:, d] - 1e-6, sets.y_hi_kwh[:, d] + 1e-6,
                              net.dt_h, TRACK_PENALTY_PER_KWH, dg_max_kw=net.dg_max_kw[mine],
                              dg_cost_per_kwh=np.asarray(dg_cost_per_kwh)[mine],
                              trade_price_per_kwh=omega_z[:, d],
                              ramp_per_kw=net.ev_ramp_per_kw))
    return out


def schedule_areas(fleets: list[AreaFleet], tracks: list[AreaTracking]
                   ) -> list[VehicleSchedule]:
    """The vehicles' set-points per area (module docstring, "vehicles")."""
    return [schedule_vehicles(af.batt, af.types, tr.ev_kw if tr.feasible else af.asap_kw)
            for af, tr in zip(fleets, tracks, strict=True)]


def two_layer_injections(setup: ZonalSetup, station_kw: FloatArray, tracks: list[AreaTracking]
                         ) -> tuple[FloatArray, FloatArray]:
    """Nodal consumption ``(T, n)`` after both layers: base load, the plan's renewables and
    reactive set-up, the areas' generator outputs and the vehicles' powers per station."""
    net, plan = setup.net, setup.plan
    p = net.load_p_kw.copy()
    np.add.at(p.T, net.res_bus, -plan.res_kw.T)
    dg_area = net.area_of_bus[net.dg_bus]
    for d, tr in enumerate(tracks):
        mine = np.flatnonzero(dg_area == d)
        if tr.feasible and mine.size:
            np.add.at(p.T, net.dg_bus[mine], -tr.dg_kw.T)
        elif mine.size:
            np.add.at(p.T, net.dg_bus[mine], -plan.dg_kw[:, mine].T)
    return p + station_kw @ setup.station_incidence, plan.q_bus_kvar.copy()


OVERRIDE_PENALTY_PER_KWH = 10.0
"""Price of moving a station away from the power its users' response gave it in the correction
round: above every energy price, so the distribution layer overrides the users only where a
network limit needs it."""


def station_sets(fleets: list[AreaFleet], n_stations: int, n_intervals: int
                 ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per station the sums of its vehicles' power bounds and of their ALAP/ASAP cumulative
    energies ``(T, J)`` each (an outer bound of the station's set)."""
    out = [np.zeros((n_intervals, n_stations)) for _ in range(4)]
    for af in fleets:
        b = af.batt
        for k, arr in enumerate((b.u_min_kw, b.u_max_kw, af.y_alap_kwh, af.y_asap_kwh)):
            np.add.at(out[k].T, af.station, arr)
    return out[0], out[1], out[2], out[3]


def redispatch(setup: ZonalSetup, sets: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
               station_kw: FloatArray, gm: GridModel) -> ZonalPlan:
    """The distribution layer's correction round (module docstring): one EV column per station
    (``sets``: power and cumulative energy bounds ``(T, J)`` each, e.g. :func:`station_sets`),
    anchored at the powers ``station_kw`` ``(T, J)`` at ``OVERRIDE_PENALTY_PER_KWH``; purchase,
    diesel, renewables and capacitors re-dispatched under the same network rows.
    ``plan.ev_kw`` is then per station."""
    lo, hi, y_lo, y_hi = sets
    fixed = replace(setup.net, area_share=setup.station_incidence, ev_lo_kw=lo,
                    ev_hi_kw=np.maximum(hi, lo),
                    ev_y_lo_kwh=y_lo - 1e-6, ev_y_hi_kwh=np.maximum(y_hi, y_lo) + 1e-6,
                    ev_period=None, ev_energy_target_kwh=None, ev_anchor_kw=station_kw,
                    anchor_penalty_per_kwh=OVERRIDE_PENALTY_PER_KWH)
    return solve_with_ac(fixed, gm, setup.limits.v_min_pu, setup.limits.substation_kw)[1]


KEEP_TOL_KW = 1e-6
"""A station whose vehicles' powers miss its corrected power by no more than this in every
interval keeps them in the rescheduling (the correction round's LP returns an unmoved station
at its anchor to solver precision)."""


def reschedule(fleets: list[AreaFleet], station_target_kw: FloatArray,
               current: list[VehicleSchedule] | None = None) -> list[VehicleSchedule]:
    """Every station's vehicles track its corrected power, by user type (per area, one
    schedule per station concatenated in the area's vehicle order).

    With ``current`` (the areas' schedules the correction round started from), a station
    whose vehicles' powers already sum to its corrected power within ``KEEP_TOL_KW`` in
    every interval keeps them: they follow the target exactly, and the correction round
    usually moves a few stations only. An area without vehicles gets zero group sums of shape
    ``(len(ORDER), T)``.
    """
    if current is not None and len(current) != len(fleets):
        raise ValueError(f"{len(current)} current schedules for {len(fleets)} areas")
    out = []
    for d, af in enumerate(fleets):
        p = np.zeros_like(af.batt.u_min_kw)
        dev = np.zeros(af.batt.n_intervals)
        groups = np.zeros((len(ORDER), af.batt.n_intervals))
        for j in np.unique(af.station):
            m = af.station == j
            if current is not None:
                kept = current[d].p_kw[m]
                miss = kept.sum(axis=0) - station_target_kw[:, j]
                if np.abs(miss).max(initial=0.0) <= KEEP_TOL_KW:
                    p[m] = kept
                    dev += miss
                    for k, group in enumerate(ORDER):
                        groups[k] += kept[np.isin(af.types[m], group)].sum(axis=0)
                    continue
            sch = schedule_vehicles(af.batt.subset(m), af.types[m], station_target_kw[:, j])
            p[m] = sch.p_kw
            dev += sch.deviation_kw
            groups += sch.group_kw
        out.append(VehicleSchedule(p, groups, dev))
    return out


def split_to_stations(setup: ZonalSetup, sets: tuple[FloatArray, FloatArray, FloatArray,
                                                      FloatArray],
                      area_ev_kw: FloatArray) -> FloatArray:
    """Stations' powers ``(T, J)`` realising each area's EV trajectory ``(T, D)`` as closely as
    their sets allow (every station a generalized battery, ``gpolymatroid_lp.track``)."""
    lo, hi, y_lo, y_hi = sets
    out = np.zeros_like(lo)
    for d in range(area_ev_kw.shape[1]):
        m = np.flatnonzero(setup.station_area == d)
        if m.size == 0:
            continue
        batt = BatterySet(lo[:, m].T, np.maximum(hi, lo)[:, m].T, y_lo[:, m].T,
                          np.maximum(y_hi, y_lo)[:, m].T, setup.net.dt_h)
        res = track(batt, area_ev_kw[:, d])
        if res is not None:
            out[:, m] = res[0].T
    return out
