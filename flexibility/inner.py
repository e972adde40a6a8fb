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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.battery import (
    Battery,
    VehicleBatteries,
    cumulative_to_power,
    vehicle_batteries,
)
from flexibility.discard import deviations, discard_order, intersect, keep_mask, shifted_by
from flexibility.fleet import Fleet, FloatArray
from flexibility.share_policy import SharePolicy, share_policy, station_sum

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
        scale: Shrink factor of the intersection (1: none).
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


def _shifted(x: FloatArray) -> FloatArray:
    """``x_{t-1}`` with ``x_{-1} = 0`` along the last axis."""
    return np.concatenate([np.zeros_like(x[..., :1]), x[..., :-1]], axis=-1)


def _min_ratio(num: FloatArray, den: FloatArray, axis: int) -> FloatArray:
    """``min over axis of num / den`` over entries with ``den > 0`` (``inf`` if none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(den > 1e-12, num / den, np.inf)
    return q.min(axis=axis)


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
    dt = pol.dt_h
    batt = vb.battery
    y_ref, w_n = pol.y_ref_kwh, pol.omega_kwh
    r = cumulative_to_power(y_ref, dt)
    rows = [(w_n, np.maximum(batt.p_hi_kw - r, 0.0), np.maximum(r - batt.p_lo_kw, 0.0))]
    if net_lo is not None and net_hi is not None:
        w_j = station_sum(w_n, pol.station, pol.n_stations)
        r_j = station_sum(r, pol.station, pol.n_stations)
        nl, nh = np.asarray(net_lo).T, np.asarray(net_hi).T
        rows.append((w_j, np.maximum(nh - r_j, 0.0), np.maximum(r_j - nl, 0.0)))
    omega = w_n.sum(axis=-2)
    d_omega = np.abs(omega - _shifted(omega))
    k = np.full(omega.shape, float(kappa))
    k = np.where(omega > 1e-12, k, 0.0)
    for _ in range(8):
        k_prev = _shifted(k)
        sig_up = np.full(omega.shape, np.inf)
        sig_dn = np.full(omega.shape, np.inf)
        short = np.zeros(omega.shape, dtype=bool)
        for w, u_room, l_room in rows:
            dw = np.abs(w - _shifted(w)) * k_prev[..., None, :]
            num_u = u_room * dt - dw
            num_l = l_room * dt - dw
            short |= ((num_u < -1e-9) | (num_l < -1e-9)).any(axis=-2)
            sig_up = np.minimum(sig_up, _min_ratio(np.maximum(num_u, 0.0), w, -2))
            sig_dn = np.minimum(sig_dn, _min_ratio(np.maximum(num_l, 0.0), w, -2))
        on = omega > 1e-12
        back = k_prev * _shifted(omega) / dt  # the deviation returns where no share is held
        with np.errstate(invalid="ignore"):
            up = np.where(on, (sig_up * omega - d_omega * k_prev) / dt, back)
            dn = np.where(on, (sig_dn * omega - d_omega * k_prev) / dt, back)
        bad = short | (up < -1e-9) | (dn < -1e-9)
        if not bad.any():
            break
        # the transfers at t do not fit: hold less deviation energy at t - 1
        shrink = np.concatenate([bad[..., 1:], np.zeros_like(bad[..., :1])], axis=-1)
        k = np.where(shrink, k * 0.5, k)
    else:
        shrink = np.concatenate([bad[..., 1:], np.zeros_like(bad[..., :1])], axis=-1)
        k = np.where(shrink, 0.0, k)
        k_prev = _shifted(k)
        up = np.where(bad, 0.0, up)
        dn = np.where(bad, 0.0, dn)
    up = np.where(np.isfinite(up), np.maximum(up, 0.0), 0.0)
    dn = np.where(np.isfinite(dn), np.maximum(dn, 0.0), 0.0)
    band = k * omega
    r_tot, y_r = r.sum(axis=-2), y_ref.sum(axis=-2)
    return Battery(p_lo_kw=r_tot - dn, p_hi_kw=r_tot + up, y_lo_kwh=y_r - band,
                   y_hi_kwh=y_r + band, dt_h=dt, t0=batt.t0)


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
    """

    batteries: Battery
    ref_kw: FloatArray
    misfit: np.ndarray
    unsheddable_kw: FloatArray
    params: tuple[float, float, float]
    station_ref_kw: FloatArray
    station_share: FloatArray

    @property
    def deviation(self) -> Battery:
        """``B_m - R^m`` (contains 0 wherever ``B_m`` is not empty)."""
        return deviations(self.batteries, self.ref_kw)


def scenario_batteries(vb: VehicleBatteries, station: np.ndarray, n_stations: int,
                       net_lo: FloatArray | None = None, net_hi: FloatArray | None = None,
                       params: tuple[float, float, float] = DEFAULT_PARAMS
                       ) -> ScenarioBatteries:
    """Inner battery of every scenario by the energy-share policy (module docstring)."""
    tau, gamma, kappa = params
    pol, misfit_j, excess = share_policy(vb, station, n_stations, net_lo, net_hi, tau, gamma)
    misfit = np.any(misfit_j, axis=-1) | ~np.all(vb.feasible, axis=-1)
    scen = deviation_battery(vb, pol, kappa, net_lo, net_hi)
    r_j = station_sum(cumulative_to_power(pol.y_ref_kwh, pol.dt_h), pol.station, n_stations)
    w_j = station_sum(pol.omega_kwh, pol.station, n_stations)
    omega = w_j.sum(axis=-2, keepdims=True)
    share = np.divide(w_j, omega, out=np.zeros_like(w_j), where=omega > 1e-12)
    return ScenarioBatteries(batteries=scen, ref_kw=r_j.sum(axis=-2), misfit=misfit,
                             unsheddable_kw=excess.sum(axis=-2), params=params,
                             station_ref_kw=r_j, station_share=share)


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


def _concat_batteries(parts: list[Battery]) -> Battery:
    first = parts[0]
    return Battery(p_lo_kw=np.concatenate([p.p_lo_kw for p in parts]),
                   p_hi_kw=np.concatenate([p.p_hi_kw for p in parts]),
                   y_lo_kwh=np.concatenate([p.y_lo_kwh for p in parts]),
                   y_hi_kwh=np.concatenate([p.y_hi_kwh for p in parts]),
                   dt_h=first.dt_h, t0=first.t0)


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
                    chunk: int = 1) -> ScenarioBatteries:
    """:func:`scenario_batteries` of a fleet ``(M, N)``, a few scenarios at a time.

    The per-vehicle arrays ``(chunk, N, T)`` stay small enough to be reused by the allocator
    instead of allocating ``(M, N, T)`` arrays; the result is identical. One scenario at a time
    is fastest: at 10,000 vehicles the arrays are 7.7 MB, below glibc's mmap threshold, so they
    are not mapped and page-faulted afresh on every operation (``city`` set-up 69 s -> 48 s,
    most of the difference kernel time).
    """
    parts = []
    for rows, sub in scenario_chunks(fleet, chunk):
        vb = vehicle_batteries(sub, n_intervals, t0)
        parts.append(scenario_batteries(vb, np.broadcast_to(station, fleet.shape)[rows],
                                        n_stations, net_lo, net_hi, params))
    return ScenarioBatteries(
        batteries=_concat_batteries([p.batteries for p in parts]),
        ref_kw=np.concatenate([p.ref_kw for p in parts]),
        misfit=np.concatenate([p.misfit for p in parts]),
        unsheddable_kw=np.concatenate([p.unsheddable_kw for p in parts]), params=params,
        station_ref_kw=np.concatenate([p.station_ref_kw for p in parts]),
        station_share=np.concatenate([p.station_share for p in parts]))
