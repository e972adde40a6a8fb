"""Deliverable inner batteries of a fleet and their α intersection (paper §3.1.2, §3.4).

The energy-share policy (``flexibility.share_policy``) gives every vehicle ``n`` a reference
``Y^r_n`` and a share ``phi_n(t)`` of the aggregate's energy deviation ``D_t``.

**Deviation battery.** ``delta_t in [-Dn_t, Up_t]``, ``D_t in [-EL_t, EU_t]``. Every vehicle stays
feasible for every deviation in it when, for each ``n, t`` (``Δphi^± = max(±Δphi, 0)``)

    phi_n(t) EU_t <= Y^max_n(t) - Y^r_n(t),              phi_n(t) EL_t <= Y^r_n(t) - Y^min_n(t),
    phi_n(t) Up_t + (Δphi^+ EU_{t-1} + Δphi^- EL_{t-1}) / dt <= p_hi,n,t - r_n,t,
    phi_n(t) Dn_t + (Δphi^+ EL_{t-1} + Δphi^- EU_{t-1}) / dt <= r_n,t - p_lo,n,t,

and the same power rows hold for every station ``j`` with ``Phi_j = sum_{n in j} phi_n`` against
its network box ``[lo_j, hi_j]`` (jointly feasible boxes from the distribution layer). The rows
are solved in closed form: the energy bounds take a share ``kappa`` of their cap and leave a share
``rho`` of every power room for the transfers ``Δphi D``; the power bounds take the rest. A small
grid of ``(kappa, rho)`` is searched for the largest area. The scenario's inner battery is
``B_m = R + {delta}``: box ``[R - Dn, R + Up]``, cumulative energy ``[Y^R - EL, Y^R + EU]``.
Every trajectory in ``B_m`` is deliverable in scenario ``m`` by construction (the policy is the
proof; ``split`` computes it).

**α intersection (scenario discarding).** The α set is a set of aggregate trajectories each
feasible in at least a share α of the scenarios. Intersecting the inner batteries of a kept set
``K`` of ``ceil(alpha M)`` scenarios gives a battery (box and band intersect row by row) inside
every ``B_m``, ``m in K``: a whole-day guarantee on those scenarios. The discarded scenarios are
chosen greedily, one at a time, as the one whose removal widens the intersection most.

**Largest common battery.** The intersection keeps every kept scenario's own halvings of
``kappa`` and symmetric band; :func:`alpha_package` replaces it, where larger, by the largest
battery the same policy delivers in every kept scenario (one LP over their rows with asymmetric
bands, ``flexibility.common_battery``; the rows come from the same compiled chain).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from flexibility.battery import Battery, VehicleBatteries, vehicle_params
from flexibility.common_battery import ShareRows, common_battery, row_buffers, rows_of
from flexibility.compiled import deviation_all, scenario_chain
from flexibility.discard import deviations, discard_order, intersect, keep_mask, shifted_by
from flexibility.fleet import Fleet, FloatArray
from flexibility.share_policy import THETA_GRID, SharePolicy, share_policy, station_sum

FLEET_ARRAYS = ("arrival_idx", "departure_idx", "e_init_kwh", "e_min_kwh", "e_max_kwh",
                "e_req_kwh", "p_ch_max_kw", "p_dis_max_kw")

# (tau_h, gamma, kappa): measured on the paper case over tau in {0.25..4} h, gamma in
# {0.5, 1, 2}, kappa in {0.25, 0.5, 1}: the largest α set (see docs/method-notes.md)
DEFAULT_PARAMS = (0.5, 1.0, 0.25)


@dataclass(frozen=True)
class InnerSet:
    """Inner batteries of every scenario and their α intersection around a reference.

    Attributes:
        scenarios: Inner battery ``B_m`` of each scenario, absolute (arrays ``(M, T)``).
        ref_kw: Reference aggregate power ``R^m`` of each scenario ``(M, T)``.
        kept: Scenarios kept for the α set (boolean ``(M,)``).
        deviation: Tightened intersection of the kept deviation sets ``B_m - R^m`` (arrays
            ``(T,)``); it always contains 0.
        alpha_set: ``R_hat + deviation`` with ``R_hat`` the mean reference of the kept scenarios.
        network_misfit: Scenarios whose reference could not be placed inside the network boxes
            (the network cannot serve what those vehicles must charge).
        unsheddable_kw: Per scenario and interval, the must-serve load outside the network
            boxes, kW ``(M, T)``.
        params: Chosen ``(tau_h, gamma, kappa)``.
        scale: Shrink factor of the deviation battery (1: none).
        method: ``"intersection"`` (the kept batteries intersected row by row) or
            ``"common"`` (their largest common battery, ``flexibility.common_battery``).
    """

    scenarios: Battery
    ref_kw: FloatArray
    kept: np.ndarray
    deviation: Battery
    alpha_set: Battery
    network_misfit: np.ndarray
    unsheddable_kw: FloatArray
    params: tuple[float, float, float]
    scale: float = 1.0
    method: str = "intersection"


def deviation_battery(vb: VehicleBatteries, pol: SharePolicy, kappa: float,
                      net_lo: FloatArray | None = None, net_hi: FloatArray | None = None
                      ) -> Battery:
    """Inner battery ``B = R + {delta}`` of each scenario in closed form (module docstring).

    With the deviation state ``s_t = D_t / Omega_t`` bounded by ``|s_t| <= k_t`` (``k = kappa``,
    halved where an interval's rows cannot hold the transfers), each row ``i`` (vehicle or
    station, share ``w_i``, rooms ``u_i, l_i``) bounds the state's step:

        Δs_t <= (u_i dt - |Δw_i| k_{t-1}) / w_i,     -Δs_t <= (l_i dt - |Δw_i| k_{t-1}) / w_i,

    and ``delta_t dt = Omega_t Δs_t + ΔOmega_t s_{t-1}`` gives the power box
    ``Up_t = (sigma+_t Omega_t - |ΔOmega_t| k_{t-1}) / dt`` (likewise ``Dn_t``); the energy band
    is ``|D_t| <= k_t Omega_t``. Where no vehicle holds a share (``Omega_t = 0``) the deviation
    must return: ``D_t = 0`` and ``|delta_t| <= k_{t-1} Omega_{t-1} / dt``.

    Returns:
        Absolute bounds (arrays ``(..., T)``), not yet tightened.
    """
    stations = None
    if net_lo is not None and net_hi is not None:
        stations = (station_sum(pol.omega_kwh, pol.station, pol.n_stations),
                    station_sum(pol.reference_kw(), pol.station, pol.n_stations))
    return _deviation(vb, pol, kappa, net_lo, net_hi, stations)[0]


def _deviation(vb: VehicleBatteries, pol: SharePolicy, kappa: float,
               net_lo: FloatArray | None, net_hi: FloatArray | None,
               stations: tuple[FloatArray, FloatArray] | None,
               rows: bool = False) -> tuple[Battery, ShareRows | None]:
    """:func:`deviation_battery` given the station shares and references ``(W_j, R_j)``, and
    with ``rows`` the scenarios' deliverability rows (``flexibility.common_battery``)."""
    dt, shape = pol.dt_h, pol.y_ref_kwh.shape
    n_veh, n_t = shape[-2:]
    if net_lo is None or net_hi is None or stations is None:
        stations, net_lo, net_hi = (np.zeros((*shape[:-2], 0, n_t)),) * 2, np.zeros((n_t, 0)), \
            np.zeros((n_t, 0))
    batt = vb.battery
    veh = [np.ascontiguousarray(np.broadcast_to(x, shape), dtype=np.float64)
           .reshape(-1, n_veh, n_t) for x in (batt.p_lo_kw, batt.p_hi_kw, pol.reference_kw(),
                                              pol.y_ref_kwh, pol.omega_kwh)]
    n_b = veh[0].shape[0]
    w_j, r_j = (np.ascontiguousarray(x, dtype=np.float64).reshape(n_b, x.shape[-2], n_t)
                for x in stations)
    out = np.empty((n_b, 4, n_t))
    buffers = row_buffers(n_b, n_t if rows else 0)
    deviation_all(*veh, w_j, r_j, np.ascontiguousarray(np.asarray(net_lo, dtype=np.float64).T),
                   np.ascontiguousarray(np.asarray(net_hi, dtype=np.float64).T), float(kappa),
                   dt, out, buffers)
    out = out.reshape(*shape[:-2], 4, n_t)
    return (Battery(p_lo_kw=out[..., 0, :], p_hi_kw=out[..., 1, :], y_lo_kwh=out[..., 2, :],
                    y_hi_kwh=out[..., 3, :], dt_h=dt, t0=batt.t0),
            rows_of(buffers, dt) if rows else None)


def scenario_sums(fleet: Fleet, station: np.ndarray, n_stations: int, n_intervals: int,
                  t0: int = 0, net_lo: FloatArray | None = None,
                  net_hi: FloatArray | None = None,
                  params: tuple[float, float, float] = DEFAULT_PARAMS,
                  deviation: bool = True, chunk: int | None = None,
                  rows: bool = False
                  ) -> tuple[FloatArray, FloatArray, np.ndarray, np.ndarray, ShareRows | None]:
    """The per-scenario chain of :func:`scenario_batteries` on a fleet ``(M, N)``, compiled.

    No per-vehicle array of the whole fleet is formed: each scenario's vehicles go through
    ``vehicle_batteries``, ``share_policy`` and :func:`deviation_battery` (the same compiled
    kernels) in scratch arrays ``(N, T)`` that stay in cache, and only station and scenario
    rows are kept.

    Returns:
        ``(sums (M, 5, J, T), battery (M, 4, T), misfit (M, J), feasible (M,), rows)``:
        station sums of ``r``, ``omega`` (0 without ``deviation``), ``Y^-``, ``Y^+`` and the
        load above the network box; the inner battery rows ``(p_lo, p_hi, y_lo, y_hi)``
        (zeros without ``deviation``); stations whose reference cannot fit the box; scenarios
        whose vehicle sets are all non-empty; with ``rows`` (and ``deviation``) the scenarios'
        deliverability rows (``flexibility.common_battery``), else ``None``.
    """
    m, n_t = fleet.shape[0], n_intervals
    par = np.ascontiguousarray(np.moveaxis(vehicle_params(fleet), 0, -2))  # (M, 9, N)
    st = np.ascontiguousarray(np.broadcast_to(station, fleet.shape), dtype=np.int64)
    nl, nh = ((np.zeros((0, n_t)),) * 2 if net_lo is None or net_hi is None else
              (np.ascontiguousarray(np.asarray(x, dtype=np.float64).T) for x in (net_lo, net_hi)))
    sums = np.zeros((m, 5, n_stations, n_t))
    out = np.zeros((m, 4, n_t))
    misfit = np.zeros((m, n_stations), dtype=np.bool_)
    feasible = np.ones(m, dtype=np.bool_)
    consts = (fleet.eta_ch, fleet.eta_dis, fleet.dt_h, float(t0), *map(float, params))
    want = rows and deviation
    buffers = row_buffers(m, n_t if want else 0)
    step = m if chunk is None else max(int(chunk), 1)
    for s in range(0, m, max(step, 1)):
        b = slice(s, s + step)
        scenario_chain(par[b], st[b], consts, nl, nh, THETA_GRID, deviation, sums[b],
                       out[b], misfit[b], feasible[b], tuple(x[b] for x in buffers))
    return sums, out, misfit, feasible, rows_of(buffers, fleet.dt_h) if want else None


@dataclass(frozen=True)
class ScenarioBatteries:
    """Deliverable inner batteries of every scenario (before any α intersection).

    Attributes:
        batteries: ``B_m``, absolute (arrays ``(M, T)``).
        ref_kw: Reference aggregate power ``R^m`` ``(M, T)``.
        misfit: Scenarios whose ``B_m`` is empty (reference outside the network boxes, or a
            vehicle set empty) ``(M,)``.
        unsheddable_kw: Must-serve load outside the network boxes per scenario ``(M, T)``.
        params: ``(tau_h, gamma, kappa)`` of the policy.
        station_ref_kw: Reference power per station ``(M, J, T)``.
        station_share: Each station's share ``W_j / Omega`` of the deviation energy
            ``(M, J, T)`` (0 where no vehicle holds a share).
        rows: The scenarios' deliverability rows (``flexibility.common_battery``; ``None``:
            not built).
    """

    batteries: Battery
    ref_kw: FloatArray
    misfit: np.ndarray
    unsheddable_kw: FloatArray
    params: tuple[float, float, float]
    station_ref_kw: FloatArray
    station_share: FloatArray
    rows: ShareRows | None = None

    @property
    def deviation(self) -> Battery:
        """``B_m - R^m`` (contains 0 wherever ``B_m`` is not empty)."""
        return deviations(self.batteries, self.ref_kw)


def scenario_batteries(vb: VehicleBatteries, station: np.ndarray, n_stations: int,
                       net_lo: FloatArray | None = None, net_hi: FloatArray | None = None,
                       params: tuple[float, float, float] = DEFAULT_PARAMS,
                       rows: bool = True) -> ScenarioBatteries:
    """Inner battery of every scenario by the energy-share policy (module docstring), with
    ``rows`` also the scenarios' deliverability rows (``flexibility.common_battery``)."""
    tau, gamma, kappa = params
    pol, misfit_j, excess = share_policy(vb, station, n_stations, net_lo, net_hi, tau, gamma)
    misfit = np.any(misfit_j, axis=-1) | ~np.all(vb.feasible, axis=-1)
    r_j = station_sum(pol.reference_kw(), pol.station, n_stations)
    w_j = station_sum(pol.omega_kwh, pol.station, n_stations)
    scen, share_rows = _deviation(vb, pol, kappa, net_lo, net_hi, (w_j, r_j), rows)
    omega = w_j.sum(axis=-2, keepdims=True)
    share = np.divide(w_j, omega, out=np.zeros_like(w_j), where=omega > 1e-12)
    return ScenarioBatteries(batteries=scen, ref_kw=r_j.sum(axis=-2), misfit=misfit,
                             unsheddable_kw=excess.sum(axis=-2), params=params,
                             station_ref_kw=r_j, station_share=share, rows=share_rows)


def alpha_intersection(sb: ScenarioBatteries, n_keep: int,
                       order: np.ndarray | None = None, scale: float = 1.0) -> InnerSet:
    """Keep ``n_keep`` scenarios (greedy discard order) and intersect their deviation batteries.

    Args:
        sb: The scenarios' inner batteries.
        n_keep: Scenarios to keep (``ceil(alpha M)`` for the in-sample α definition).
        order: A precomputed :func:`discard_order` of ``sb.deviation`` (computed if ``None``).
        scale: Shrink factor in [0, 1] of the intersection towards 0 (still inside every kept
            scenario's set, which contains 0): used when even all scenarios kept leave too
            little coverage on other days.
    """
    m = sb.ref_kw.shape[0]
    dev = sb.deviation
    if order is None:
        order = discard_order(dev, n_keep, sb.misfit)
    kept = keep_mask(m, order, n_keep)
    joint = intersect(dev, kept).scaled(scale).tightened()
    r_hat = sb.ref_kw[kept].mean(axis=0)
    return InnerSet(scenarios=sb.batteries, ref_kw=sb.ref_kw, kept=kept, deviation=joint,
                    alpha_set=shifted_by(joint, r_hat), network_misfit=sb.misfit,
                    unsheddable_kw=sb.unsheddable_kw, params=sb.params, scale=scale)


def alpha_package(sb: ScenarioBatteries, n_keep: int, order: np.ndarray | None = None,
                  scale: float = 1.0, common: tuple[Battery, float] | None = None,
                  method: str = "common") -> InnerSet:
    """The α set's deviation battery: the kept scenarios' largest common battery
    (``flexibility.common_battery``, state bound ``|s_t| <= kappa`` of ``sb.params``) where its
    area is larger than the intersection's.

    Both are deliverable in every kept scenario and contain 0, so shrinking either towards 0
    keeps that; the α set is ``R_hat + deviation`` either way. The state bound ``kappa`` (one
    deviation moves no vehicle by more than that share of its room) costs area against
    ``|s_t| <= 1`` (per tick of the paper case's default day 65 % against 70 % of the exact
    area), but the co-simulator re-plans every tick from the vehicles' new states: with
    ``|s_t| <= 1`` a transmission operator calling the lower edge every tick (``max-down``)
    defers so much charging that on 3 of 8 seeds a later tick's sampled days no longer fit
    the network boxes (flagged grid-infeasible), with ``kappa`` on none, as with the
    intersection; on the day-ahead case the bounded battery is even larger after calibration
    (it holds on more validation days, so it is shrunk less).

    Args:
        sb: The scenarios' inner batteries (with ``rows`` for the common battery).
        n_keep: Scenarios to keep (greedy discard order, :func:`alpha_intersection`).
        order: A precomputed discard order (computed if ``None``).
        scale: Shrink factor of the intersection, and of the common battery when it is
            computed here.
        common: The kept scenarios' common battery already shrunk, with its shrink factor
            (a calibration computed it); ``None``: computed here.
        method: ``"common"``, or ``"intersection"`` for the row-wise intersection alone.
    """
    inner = alpha_intersection(sb, n_keep, order, scale)
    if method != "common" or sb.rows is None:
        return inner
    if common is None:
        lp = common_battery(sb.rows.take(inner.kept), sb.batteries.t0, sb.params[2])
        common = None if lp is None else (lp.scaled(scale).tightened(), scale)
    if common is None or float(common[0].area_kwh()) <= float(inner.deviation.area_kwh()):
        return inner
    joint, s = common
    r_hat = sb.ref_kw[inner.kept].mean(axis=0)
    return replace(inner, deviation=joint, alpha_set=shifted_by(joint, r_hat), scale=s,
                   method="common")


def scenario_chunks(fleet: Fleet, chunk: int):
    """Yield ``(rows, sub_fleet)`` for consecutive blocks of ``chunk`` scenarios of ``(M, N)``."""
    m = fleet.shape[0]
    for s in range(0, m, chunk):
        rows = slice(s, min(m, s + chunk))
        yield rows, Fleet(**{n: np.broadcast_to(getattr(fleet, n), fleet.shape)[rows]
                             for n in FLEET_ARRAYS}, eta_ch=fleet.eta_ch,
                          eta_dis=fleet.eta_dis, dt_h=fleet.dt_h)


def fleet_batteries(fleet: Fleet, station: np.ndarray, n_stations: int, n_intervals: int,
                    t0: int = 0, net_lo: FloatArray | None = None,
                    net_hi: FloatArray | None = None,
                    params: tuple[float, float, float] = DEFAULT_PARAMS,
                    chunk: int | None = None, rows: bool = True) -> ScenarioBatteries:
    """:func:`scenario_batteries` of a fleet ``(M, N)``, one scenario at a time.

    The chain runs compiled per scenario (:func:`scenario_sums`) in scratch arrays ``(N, T)``
    reused from one scenario to the next, so no ``(M, N, T)`` array is allocated and nothing
    is page-faulted afresh per operation (the reason the NumPy version went one scenario at a
    time: at 10,000 vehicles its arrays were 7.7 MB, below glibc's mmap threshold). ``chunk``
    only splits the scenarios between calls of the kernel; the result is identical for every
    value. With ``rows`` the scenarios' deliverability rows are kept too
    (``flexibility.common_battery``).
    """
    sums, out, misfit_j, feasible, share_rows = scenario_sums(
        fleet, station, n_stations, n_intervals, t0, net_lo, net_hi, params, True, chunk, rows)
    r_j, w_j = sums[:, 0], sums[:, 1]
    omega = w_j.sum(axis=-2, keepdims=True)
    share = np.divide(w_j, omega, out=np.zeros_like(w_j), where=omega > 1e-12)
    p_lo, p_hi, y_lo, y_hi = (np.ascontiguousarray(out[:, k]) for k in range(4))
    scen = Battery(p_lo, p_hi, y_lo, y_hi, dt_h=fleet.dt_h, t0=t0)
    return ScenarioBatteries(batteries=scen, ref_kw=r_j.sum(axis=-2),
                             misfit=np.any(misfit_j, axis=-1) | ~feasible,
                             unsheddable_kw=sums[:, 4].sum(axis=-2), params=params,
                             station_ref_kw=np.ascontiguousarray(r_j), station_share=share,
                             rows=share_rows)
