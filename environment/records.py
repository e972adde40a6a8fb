"""The tables of a co-simulated horizon: one declared schema each, and how a tick fills them.

* ``ticks`` (:class:`TickRows`) — per tick one row per station and one total row
  (``station = TOTAL_LABEL``): published, packaged, station and distribution layers of the
  interval, the call and what was delivered, the grid checks and the AC operating point;
* ``network`` (:class:`NetworkRows`) — per tick one row per bus;
* ``setpoints`` (:class:`SetpointRows`) — per tick one row per dispatched EV;
* ``dispatch`` (:class:`DispatchRows`) — per tick one row per generator (``dispatch:*``);
* ``evs`` (:class:`EVRow`, :func:`ev_frame`) — per EV its session after the run.

Columns are the dataclass fields, in order; the recorder (``environment.recorder``) accepts
only these schemas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np
import pandas as pd

from agents.ev import EVAgent
from agents.grid_operator import MustCharge, Publication
from environment.validation import inside
from flexibility.aggregation import Envelope
from flexibility.fleet import Fleet
from flexibility.stations import TOTAL_LABEL
from grid.ac import AcResult
from grid.layers import GridModel

DELIVERY_TOL = 0.01  # a call counts as delivered within 1 % (plus 1 W)
DELIVERY_ABS_KW = 1e-3
REACHABLE_TOL_KWH = 1e-6

Column = Sequence | float | int | bool | str


@dataclass(frozen=True)
class TickRows:
    """Rows of ``ticks`` for one tick (sequences: stations then total; scalars: every row).

    Attributes:
        t: Interval.
        time_min: Interval start (minutes from horizon start).
        station: Station name or ``TOTAL_LABEL``.
        p_up_kw: Published boundary, upper edge.
        p_down_kw: Published boundary, lower edge.
        packaged_p_up_kw: Packaged transmission layer before the grid checks, upper edge.
        packaged_p_down_kw: The same, lower edge.
        station_p_max_kw: Station-layer RT envelope, maximum power.
        station_p_min_kw: Station-layer RT envelope, minimum power.
        dist_p_max_kw: Distribution layer, maximum power.
        dist_p_min_kw: Distribution layer, minimum power.
        da_p_up_kw: Day-ahead boundary of the interval, upper edge (total row only).
        da_p_down_kw: The same, lower edge.
        prev_p_up_kw: Boundary published at ``k - 1``, upper edge (total row only).
        prev_p_down_kw: The same, lower edge.
        baseline_kw: The stations' declared baseline of the interval (total row only).
        reserve_p_up_kw: Declared baseline plus the day-ahead reserve's upper power row (total
            row only; the reserve-call layer).
        reserve_p_down_kw: The same with the lower power row.
        schedule_kw: The absolute day-ahead schedule ``R_hat`` of the interval (total row).
        activated_kwh: The TSO's account of the reserve energy activated up to and including the
            interval (total row; 0 under other rules).
        call_kw: The TSO's call (station rows: its share).
        delivered_kw: Power delivered.
        q_kvar: Reactive power (unity power factor).
        delivered_ok: Delivered within ``DELIVERY_TOL``.
        inside_da: The call lies inside the DA boundary (total row only).
        inside_prev: The call lies inside the previous boundary (total row only).
        inside_rt: The call lies inside the published boundary (total row only).
        inside_reserve: The call lies inside the reserve rows around the declared baseline
            (total row only).
        schedule_inside_rt: The absolute day-ahead schedule lies inside the published boundary
            (total row only): the schedule would have been deliverable.
        package_efficiency: Area of the packaged transmission set over the remaining horizon /
            area of the distribution layer's (the exact deliverable set inside the network),
            total row only (NaN for the vehicle-box package).
        grid_infeasible: Grid-infeasible: the plugged-in EVs' must-charge is not AC-feasible
            (``agents.grid_operator.MustCharge``; the physical check).
        must_charge_kw: Must-charge: the plugged-in EVs' exact one-step lower bound of the
            interval, positive part, per station (what they cannot shed now).
        unsheddable_kw: Must-charge the network cannot carry.
        package_infeasible: The DSO flagged the packaged interval (its lower bound above the
            distribution layer, no box fitting the network, a crossed box, or its must-serve
            not AC-feasible; ``agents.grid_operator``).
        must_serve_kw: The package's must-serve load ``max(P_down, 0)``.
        package_unsheddable_kw: The package's must-serve load the network cannot carry.
        connected: Sessions controllable in the interval.
        queue: EVs waiting for a charger.
        min_vm_pu: Lowest bus voltage at the operating point.
        max_vm_pu: Highest bus voltage.
        max_loading_pct: Highest branch loading.
        p_slack_kw: Substation import.
        ac_converged: The AC power flow converged.
        ac_violation: Violated limits (``grid.ac.violation_labels``).
    """

    TABLE: ClassVar[str] = "ticks"
    t: int
    time_min: float
    station: Sequence[str]
    p_up_kw: Sequence[float]
    p_down_kw: Sequence[float]
    packaged_p_up_kw: Sequence[float]
    packaged_p_down_kw: Sequence[float]
    station_p_max_kw: Sequence[float]
    station_p_min_kw: Sequence[float]
    dist_p_max_kw: Sequence[float]
    dist_p_min_kw: Sequence[float]
    da_p_up_kw: Sequence[float]
    da_p_down_kw: Sequence[float]
    prev_p_up_kw: Sequence[float]
    prev_p_down_kw: Sequence[float]
    baseline_kw: Sequence[float]
    reserve_p_up_kw: Sequence[float]
    reserve_p_down_kw: Sequence[float]
    schedule_kw: Sequence[float]
    activated_kwh: Sequence[float]
    call_kw: Sequence[float]
    delivered_kw: Sequence[float]
    q_kvar: float
    delivered_ok: Sequence[bool]
    inside_da: Sequence[bool]
    inside_prev: Sequence[bool]
    inside_rt: Sequence[bool]
    inside_reserve: Sequence[bool]
    schedule_inside_rt: Sequence[bool]
    package_efficiency: Sequence[float]
    grid_infeasible: bool
    must_charge_kw: Sequence[float]
    unsheddable_kw: Sequence[float]
    package_infeasible: bool
    must_serve_kw: Sequence[float]
    package_unsheddable_kw: Sequence[float]
    connected: Sequence[int]
    queue: Sequence[int]
    min_vm_pu: float
    max_vm_pu: float
    max_loading_pct: float
    p_slack_kw: float
    ac_converged: bool
    ac_violation: str


@dataclass(frozen=True)
class NetworkRows:
    """Rows of ``network`` for one tick (one per bus, feeder order)."""

    TABLE: ClassVar[str] = "network"
    t: int
    bus: Sequence[int]
    p_background_kw: Sequence[float]
    q_background_kvar: Sequence[float]
    p_station_kw: Sequence[float]
    vm_pu: Sequence[float]


@dataclass(frozen=True)
class SetpointRows:
    """Rows of ``setpoints`` for one station and tick (one per dispatched EV)."""

    TABLE: ClassVar[str] = "setpoints"
    t: int
    station: str
    ev: Sequence[int]
    p_kw: Sequence[float]


@dataclass(frozen=True)
class DispatchRows:
    """Rows of ``dispatch`` for one tick (``dispatch:*`` policies; ``agents.dispatch_plan``):
    one per generator, with the tick's net-load error, EV error, call and reserve shortfall
    repeated (a day without generators gets one row with ``generator = ""``)."""

    TABLE: ClassVar[str] = "dispatch"
    t: int
    generator: Sequence[str]
    g_schedule_kw: Sequence[float]
    g_kw: Sequence[float]
    delta_kw: float
    eta_kw: float
    call_kw: float
    reserve_short_kw: float
    p_slack_kw: float
    price_per_kwh: float
    ac_violation: str


SCHEMAS = (TickRows, NetworkRows, SetpointRows, DispatchRows)


@dataclass(frozen=True)
class TickOutcome:
    """What one tick decided (the inputs of its rows).

    Attributes:
        k: Interval.
        names: Station names in grid order.
        envs: Station-layer RT envelopes per station.
        pub: The DSO's publication.
        must: The plugged-in EVs' must-charge checked against the network.
        edges: ``(P_down, P_up)`` of the interval per layer (``da``, ``prev``, ``rt``,
            ``reserve``).
        baseline_kw: The stations' declared baseline of the interval.
        schedule_kw: The absolute day-ahead schedule of the interval.
        activated_kwh: The TSO's reserve account after the call.
        call: The TSO's call.
        share: Its split to stations.
        delivered: Power delivered per station.
        ac: AC operating point.
        label: Its violation label.
        connected: Controllable sessions per station.
        queue: Waiting EVs per station.
    """

    k: int
    names: list[str]
    envs: dict[str, Envelope]
    pub: Publication
    must: MustCharge
    edges: dict[str, tuple[float, float]]
    baseline_kw: float
    schedule_kw: float
    activated_kwh: float
    call: float
    share: np.ndarray
    delivered: np.ndarray
    ac: AcResult
    label: str
    connected: list[int]
    queue: list[int]


def _delivered(delivered: float, call: float) -> bool:
    return bool(abs(delivered - call) <= DELIVERY_TOL * abs(call) + DELIVERY_ABS_KW)


def tick_rows(o: TickOutcome, dt_min: float) -> TickRows:
    """The ``ticks`` rows of one tick."""
    names, envs, edges = o.names, o.envs, o.edges
    layers = o.pub.layers
    b, packaged, dist = o.pub.transmission, layers.transmission, layers.distribution
    vm = o.ac.vm_pu[0]
    total = float(o.delivered.sum())
    n_st = len(names)
    nan = [np.nan] * n_st
    pkg_unshed = o.pub.unsheddable_kw[0]
    must, unshed = o.must.must_charge_kw, o.must.unsheddable_kw
    in_layer = {layer: bool(inside(np.array(o.call), *map(np.array, edges[layer])))
                for layer in edges}
    return TickRows(
        t=o.k, time_min=o.k * dt_min, station=[*names, TOTAL_LABEL],
        p_up_kw=[float(x.p_up_kw[0]) for _, x in b.labelled()],
        p_down_kw=[float(x.p_down_kw[0]) for _, x in b.labelled()],
        packaged_p_up_kw=[float(x.p_up_kw[0]) for _, x in packaged.labelled()],
        packaged_p_down_kw=[float(x.p_down_kw[0]) for _, x in packaged.labelled()],
        station_p_max_kw=[float(envs[n].p_max_kw[0]) for n in names]
        + [float(sum(envs[n].p_max_kw[0] for n in names))],
        station_p_min_kw=[float(envs[n].p_min_kw[0]) for n in names]
        + [float(sum(envs[n].p_min_kw[0] for n in names))],
        dist_p_max_kw=[float(x.p_max_kw[0]) for _, x in dist.labelled()],
        dist_p_min_kw=[float(x.p_min_kw[0]) for _, x in dist.labelled()],
        da_p_up_kw=[*nan, edges["da"][1]], da_p_down_kw=[*nan, edges["da"][0]],
        prev_p_up_kw=[*nan, edges["prev"][1]], prev_p_down_kw=[*nan, edges["prev"][0]],
        baseline_kw=[*nan, o.baseline_kw], reserve_p_up_kw=[*nan, edges["reserve"][1]],
        reserve_p_down_kw=[*nan, edges["reserve"][0]], schedule_kw=[*nan, o.schedule_kw],
        activated_kwh=[*nan, o.activated_kwh],
        call_kw=[*o.share.tolist(), o.call], delivered_kw=[*o.delivered.tolist(), total],
        q_kvar=0.0,
        delivered_ok=[*(_delivered(d, s) for d, s in zip(o.delivered, o.share, strict=True)),
                      _delivered(total, o.call)],
        inside_da=[False] * n_st + [in_layer["da"]],
        inside_prev=[False] * n_st + [in_layer["prev"]],
        inside_rt=[False] * n_st + [in_layer["rt"]],
        inside_reserve=[False] * n_st + [in_layer["reserve"]],
        schedule_inside_rt=[False] * n_st + [bool(inside(np.array(o.schedule_kw),
                                                          *map(np.array, edges["rt"])))],
        package_efficiency=[*nan, np.nan if layers.package is None
                            else float(layers.package.efficiency)],
        grid_infeasible=o.must.infeasible,
        must_charge_kw=[*must.tolist(), float(must.sum())],
        unsheddable_kw=[*unshed.tolist(), float(unshed.sum())],
        package_infeasible=bool(o.pub.infeasible[0]),
        must_serve_kw=[*o.pub.must_serve_kw[0].tolist(), float(o.pub.must_serve_kw[0].sum())],
        package_unsheddable_kw=[*pkg_unshed.tolist(), float(pkg_unshed.sum())],
        connected=[*o.connected, sum(o.connected)], queue=[*o.queue, sum(o.queue)],
        min_vm_pu=float(np.nanmin(vm)) if np.isfinite(vm).any() else np.nan,
        max_vm_pu=float(np.nanmax(vm)) if np.isfinite(vm).any() else np.nan,
        max_loading_pct=float(np.nanmax(o.ac.loading_pct)),
        p_slack_kw=float(o.ac.p_slack_kw[0]), ac_converged=bool(o.ac.converged[0]),
        ac_violation=o.label)


def network_rows(k: int, grid: GridModel, delivered: np.ndarray, ac: AcResult) -> NetworkRows:
    """The ``network`` rows of one tick (station powers injected at their buses)."""
    p_bg, q_bg = grid.bg(k, 1)
    inj = np.zeros(grid.feeder.n_bus)
    inj[grid.positions] = delivered
    return NetworkRows(t=k, bus=grid.feeder.bus_index.tolist(), p_background_kw=p_bg[0].tolist(),
                       q_background_kvar=q_bg[0].tolist(), p_station_kw=inj.tolist(),
                       vm_pu=ac.vm_pu[0].tolist())


@dataclass(frozen=True)
class EVRow:
    """One row of ``evs``: an EV's session after the run.

    Attributes:
        ev: Session (agent) id.
        station: Its station.
        planned_arrival_min: Arrival (or trip start) drawn by the behaviour or traffic model.
        arrival_min: Arrival at the station (``None``: still travelling at the end).
        plug_in_min: Plug-in (``None``: never plugged in).
        departure_min: Actual departure.
        left_min: When it left (``None``: still there at the end).
        state: ``departed``, ``left_unserved``, ``plugged_at_end``, ``queued`` or
            ``travelling``.
        declared_departure_min: Departure declared at plug-in.
        left_early: It left before the declared departure.
        wait_min: Time from arrival to plug-in (queues and reroute drives included).
        e_arrival_kwh: Energy at arrival at the charger (after the driving of a reroute).
        e_departure_kwh: Energy at departure (or at the end of the horizon).
        soc_departure: The same as a share of capacity.
        e_req_kwh: Departure requirement.
        charged_kwh: Energy drawn from the grid.
        discharged_kwh: Energy fed to the grid.
        shortfall_kwh: Energy missing against the requirement (NaN unless it left).
        requirement_reachable: Plugged in at the end: the requirement is still reachable by
            its declared departure (``flexibility.fleet.Fleet.unreachable_mask``); else ``None``.
        v2g: It offers V2G.
        controlled_ticks: Intervals it was dispatched.
        home_station: The station it set out for (``station``: where it charged or last
            queued, another one after a reroute).
        access: How it got a charger or did not (``agents.ev``): ``direct``, ``queued``,
            ``rerouted``, ``balked``, ``left_at_departure`` or ``pending``.
        reroute_km: Road km driven to other stations.
    """

    ev: int
    station: str
    planned_arrival_min: float
    arrival_min: float | None
    plug_in_min: float | None
    departure_min: float
    left_min: float | None
    state: str
    declared_departure_min: float
    left_early: bool
    wait_min: float
    e_arrival_kwh: float
    e_departure_kwh: float
    soc_departure: float
    e_req_kwh: float
    charged_kwh: float
    discharged_kwh: float
    shortfall_kwh: float
    requirement_reachable: bool | None
    v2g: bool
    controlled_ticks: int
    home_station: str
    access: str
    reroute_km: float


def reachable_after_horizon(ev: EVAgent, e_kwh: float, n_intervals: int, dt_h: float) -> bool:
    """Whether an EV plugged in at the end can still reach its departure requirement.

    Charging flat out over the intervals left until its declared departure, by the fleet's
    rule (``flexibility.fleet.Fleet.unreachable_mask``, tolerance ``REACHABLE_TOL_KWH``).
    """
    s = ev.spec
    left = max(0, ev.departure_idx() - n_intervals)
    one = Fleet(arrival_idx=np.zeros(1, dtype=np.int64), departure_idx=np.array([left]),
                e_init_kwh=np.array([e_kwh]), e_min_kwh=np.array([s.e_min_kwh]),
                e_max_kwh=np.array([s.e_max_kwh]), e_req_kwh=np.array([s.e_req_kwh]),
                p_ch_max_kw=np.array([s.p_ch_max_kw]), p_dis_max_kw=np.array([s.p_dis_max_kw]),
                eta_ch=s.eta_ch, eta_dis=s.eta_dis, dt_h=dt_h)
    return not bool(one.unreachable_mask(REACHABLE_TOL_KWH)[0])


def ev_row(ev: EVAgent, n_intervals: int, dt_h: float) -> EVRow:
    """The ``evs`` row of one EV (after the run)."""
    s = ev.spec
    out = ev.final_outcome()
    state = "plugged_at_end" if ev.state == "plugged" else ev.state
    waited = (ev.plug_in_min is not None and ev.arrival_min is not None
              and ev.planned_arrival_min >= 0)
    return EVRow(
        ev=ev.unique_id, station=ev.station.name, planned_arrival_min=ev.planned_arrival_min,
        arrival_min=ev.arrival_min, plug_in_min=ev.plug_in_min, departure_min=ev.departure_min,
        left_min=ev.left_min, state=state, declared_departure_min=ev.declared_departure_min,
        left_early=ev.left_early,
        wait_min=(ev.plug_in_min - ev.arrival_min)  # type: ignore[operator]
        if waited else 0.0,
        e_arrival_kwh=ev.e_arrival_kwh, e_departure_kwh=out.e_kwh,
        soc_departure=out.e_kwh / s.capacity_kwh, e_req_kwh=s.e_req_kwh,
        charged_kwh=out.charged_kwh, discharged_kwh=out.discharged_kwh,
        shortfall_kwh=max(0.0, s.e_req_kwh - out.e_kwh)
        if state in ("departed", "left_unserved") else float("nan"),
        requirement_reachable=reachable_after_horizon(ev, out.e_kwh, n_intervals, dt_h)
        if state == "plugged_at_end" else None,
        v2g=s.p_dis_max_kw > 0, controlled_ticks=out.controlled_ticks,
        home_station=ev.home_station, access=ev.access, reroute_km=ev.reroute_km)


def ev_frame(evs: Sequence[EVAgent], n_intervals: int, dt_h: float) -> pd.DataFrame:
    """Per-EV outcomes (after the run), one :class:`EVRow` each in creation order."""
    names = [f.name for f in fields(EVRow)]
    rows = [ev_row(ev, n_intervals, dt_h) for ev in evs]
    if not rows:
        return pd.DataFrame(columns=names)
    return pd.DataFrame([{n: getattr(r, n) for n in names} for r in rows])
