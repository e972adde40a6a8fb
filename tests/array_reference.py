"""The array (NumPy) formulation of the α package chain, as it was before it was compiled.

``flexibility.compiled`` runs the same equations one vehicle at a time; these functions are the
whole-array code it replaced, kept verbatim (renamed ``*_numpy``) as the reference
``tests/unit/test_compiled_chain.py`` compares it with. Results agree to about 1e-13 (station sums
were a matrix product, now a sum in vehicle order).
"""

from __future__ import annotations

import numpy as np

from flexibility.aggregation import Envelope
from flexibility.battery import Battery, VehicleBatteries, cumulative_to_power
from flexibility.common import BoolArray
from flexibility.fleet import Fleet, FloatArray
from flexibility.inner import DEFAULT_PARAMS, ScenarioBatteries
from flexibility.share_policy import SharePolicy
from flexibility.vehicle import VehicleParams


def tighten_numpy(p_lo: FloatArray, p_hi: FloatArray, y_lo: FloatArray, y_hi: FloatArray,
            dt_h: float) -> tuple[FloatArray, FloatArray]:
    """Tightened cumulative-energy bounds of batteries ``(..., T)`` (module docstring)."""
    # time first, so that each step works on contiguous memory
    y_lo = np.ascontiguousarray(np.moveaxis(np.asarray(y_lo, dtype=np.float64), -1, 0)).copy()
    y_hi = np.ascontiguousarray(np.moveaxis(np.asarray(y_hi, dtype=np.float64), -1, 0)).copy()
    lo_e = np.ascontiguousarray(np.moveaxis(np.broadcast_to(p_lo, (*y_lo.shape[1:], len(y_lo)))
                                            * dt_h, -1, 0))
    hi_e = np.ascontiguousarray(np.moveaxis(np.broadcast_to(p_hi, (*y_lo.shape[1:], len(y_lo)))
                                            * dt_h, -1, 0))
    T = y_lo.shape[0]
    np.maximum(y_lo[0:1], lo_e[0:1], out=y_lo[0:1])
    np.minimum(y_hi[0:1], hi_e[0:1], out=y_hi[0:1])
    for t in range(1, T):
        np.maximum(y_lo[t:t + 1], y_lo[t - 1:t - 1 + 1] + lo_e[t:t + 1], out=y_lo[t:t + 1])
        np.minimum(y_hi[t:t + 1], y_hi[t - 1:t - 1 + 1] + hi_e[t:t + 1], out=y_hi[t:t + 1])
    for t in range(T - 2, -1, -1):
        np.maximum(y_lo[t:t + 1], y_lo[t + 1:t + 1 + 1] - hi_e[t + 1:t + 1 + 1], out=y_lo[t:t + 1])
        np.minimum(y_hi[t:t + 1], y_hi[t + 1:t + 1 + 1] - lo_e[t + 1:t + 1 + 1], out=y_hi[t:t + 1])
    # the first interval starts from y_{-1} = 0
    np.maximum(y_lo[0:1], lo_e[0:1], out=y_lo[0:1])
    np.minimum(y_hi[0:1], hi_e[0:1], out=y_hi[0:1])
    return np.moveaxis(y_lo, 0, -1), np.moveaxis(y_hi, 0, -1)


def vehicle_batteries_numpy(fleet: Fleet, n_intervals: int, t0: int = 0) -> VehicleBatteries:
    """Surrogate battery of every vehicle on intervals ``t0 .. t0 + T - 1``.

    Vehicles plugged in before ``t0`` are seen at ``t0`` with the energy reached by immediate
    charging (the uncontrolled baseline, as in ``scenarios.fleetgen.observe_at``). A V2G vehicle
    whose chord surrogate is empty (a floor so close to the ceiling that the idle loss of the
    chord cannot be made up) falls back to charging only, which is exact and never empty.
    """
    rows = _surrogate_rows(fleet, n_intervals, t0, v2g=True)
    y_alap, y_asap = tighten_numpy(*rows, fleet.dt_h)
    feasible = ~np.any(y_alap > y_asap + 1e-6, axis=-1)
    if not feasible.all():
        alt = _surrogate_rows(fleet, n_intervals, t0, v2g=False)
        alt_lo, alt_hi = tighten_numpy(*alt, fleet.dt_h)
        use = ~feasible[..., None]
        rows = (np.where(use, alt[0], rows[0]), np.where(use, alt[1], rows[1]),
                np.where(use, alt[2], rows[2]), np.where(use, alt[3], rows[3]))
        y_alap, y_asap = np.where(use, alt_lo, y_alap), np.where(use, alt_hi, y_asap)
        feasible = ~np.any(y_alap > y_asap + 1e-6, axis=-1)
    p_lo, p_hi, y_lo, y_hi = rows
    shape = fleet.shape
    d = np.broadcast_to(np.asarray(fleet.departure_idx, dtype=np.float64), shape)[..., None]
    a = np.broadcast_to(np.asarray(fleet.arrival_idx, dtype=np.float64), shape)[..., None]
    t = np.arange(t0, t0 + n_intervals, dtype=np.float64)
    connected = (t >= a) & (t < d)
    active = connected & ((t < d - 1.0) | (d > t0 + n_intervals))
    return VehicleBatteries(battery=Battery(p_lo, p_hi, y_lo, y_hi, fleet.dt_h, t0),
                            y_asap_kwh=y_asap, y_alap_kwh=y_alap, active=active,
                            feasible=feasible)


def _surrogate_rows(fleet: Fleet, n_intervals: int, t0: int, v2g: bool
                    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Raw rows ``(p_lo, p_hi, y_lo, y_hi)`` of the surrogate (module docstring)."""
    shape = fleet.shape
    b = lambda x: np.broadcast_to(np.asarray(x, dtype=np.float64), shape)[..., None]  # noqa: E731
    a_raw = b(fleet.arrival_idx)
    d = b(fleet.departure_idx)
    rc = b(fleet.r_ch_kwh)
    lo, hi = b(fleet.lower_energy_kwh()), b(fleet.upper_energy_kwh())
    since = np.maximum(t0 - a_raw, 0.0)
    e0 = np.minimum(hi, b(fleet.e_init_kwh) + rc * since)
    a = np.maximum(a_raw, t0)
    dwell = np.maximum(d - a, 0.0)
    pc = b(fleet.p_ch_max_kw)
    pd = b(fleet.p_dis_max_kw) if v2g else np.zeros_like(pc)
    eta_c, eta_d, dt = fleet.eta_ch, fleet.eta_dis, fleet.dt_h
    # reachable requirement from the state at t0: q = max(lo, min(e_req, e0 + r_c K))
    q = np.maximum(np.minimum(b(fleet.e_req_kwh), e0 + rc * dwell), lo)
    span = np.where(pc + pd > 0, pc + pd, 1.0)
    c1 = np.where(pd > 0, (eta_c * pc + pd / eta_d) / span, eta_c)
    c0 = (eta_c - c1) * pc
    t = np.arange(t0, t0 + n_intervals, dtype=np.float64)
    connected = (t >= a) & (t < d)
    k = t - a + 1.0
    floor = (lo - e0 - c0 * k * dt) / c1
    req = (q - e0 - c0 * dwell * dt) / c1 - pc * dt * (d - 1.0 - t)
    y_lo = np.where(t < a, 0.0, np.maximum(floor, req))
    y_hi = np.where(t < a, 0.0, np.broadcast_to((hi - e0) / eta_c, connected.shape))
    # after departure the energy stays where it was: the bounds of the last interval
    after = t >= d
    if after.any():
        last = np.clip(d - 1.0 - t0, -1, n_intervals - 1).astype(np.int64)
        idx = np.maximum(last, 0)
        gone = last < 0  # left before the window: nothing to hold
        lo_last = np.where(gone, 0.0, np.take_along_axis(y_lo, idx, axis=-1))
        hi_last = np.where(gone, 0.0, np.take_along_axis(y_hi, idx, axis=-1))
        y_lo = np.where(after, lo_last, y_lo)
        y_hi = np.where(after, hi_last, y_hi)
    p_hi = np.where(connected, pc, 0.0)
    p_lo = np.where(connected, -pd, 0.0)
    return p_lo, p_hi, y_lo, y_hi


def station_sum_numpy(x: FloatArray, station: np.ndarray, n_stations: int) -> FloatArray:
    """Sum ``(..., N, T)`` over vehicles per station -> ``(..., J, T)``."""
    onehot = (station[..., :, None] == np.arange(n_stations)).astype(np.float64)  # (..., N, J)
    return np.matmul(np.swapaxes(onehot, -1, -2), x)  # (..., J, N) @ (..., N, T)


def _reference_rates(vb: VehicleBatteries) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Constant-rate reference powers ``(r^-, r*, r^+)`` of every vehicle (``(..., N, T)``).

    A vehicle connected for ``K`` intervals of the window ends it between its as-late- and
    as-soon-as-possible energies ``Y^-_end <= Y_end <= Y^+_end``. The lower band is convex and
    the upper band concave (maxima and minima of lines from ``y_{a-1} = 0``), so the straight
    line from 0 to any ``Y_end`` in the band stays inside the band at every interval: the
    constant rate ``r = Y_end / (K dt)`` is a feasible reference. ``r^-`` and ``r^+`` end at the
    band's edges; ``r*`` is the rate closest to the middle of the power range (the most
    symmetric room for deviations).
    """
    batt = vb.battery
    dt = batt.dt_h
    conn = (batt.p_hi_kw > batt.p_lo_kw) | vb.active
    k = conn.sum(axis=-1)
    last = np.maximum(batt.n_intervals - 1 - np.argmax(conn[..., ::-1], axis=-1), 0)[..., None]
    denom = np.where(k > 0, k * dt, 1.0)[..., None]
    r_lo = np.take_along_axis(vb.y_alap_kwh, last, axis=-1) / denom
    r_hi = np.take_along_axis(vb.y_asap_kwh, last, axis=-1) / denom
    mid = np.where(conn, 0.5 * (batt.p_hi_kw + batt.p_lo_kw), 0.0).max(axis=-1, keepdims=True)
    r_mid = np.clip(mid, r_lo, np.maximum(r_lo, r_hi))
    return np.where(conn, r_lo, 0.0), np.where(conn, r_mid, 0.0), np.where(conn, r_hi, 0.0)


def _blend(anchors: tuple[FloatArray, FloatArray, FloatArray], theta: FloatArray) -> FloatArray:
    """Piecewise-linear reference: ``r^- -> r*`` for ``theta`` in [0, 0.5], ``r* -> r^+`` above."""
    lo, mid, hi = anchors
    a = np.clip(2.0 * theta, 0.0, 1.0)
    b = np.clip(2.0 * theta - 1.0, 0.0, 1.0)
    return np.where(theta <= 0.5, lo + a * (mid - lo), mid + b * (hi - mid))


def _fit_theta(prof: tuple[FloatArray, FloatArray, FloatArray], net_lo: FloatArray | None,
               net_hi: FloatArray | None) -> tuple[FloatArray, BoolArray, FloatArray]:
    """Station ``theta`` in [0, 1] keeping the blended station reference in the network box.

    Args:
        prof: Station powers of the anchors ``(r^-, r*, r^+)``, each ``(..., J, T)``.
        net_lo: Network box lower bounds ``(J, T)`` (``None``: no network).
        net_hi: Upper bounds.

    Returns:
        ``(theta (..., J), misfit (..., J) bool, excess_kw (..., J, T))`` — ``theta = 0.5``
        (the symmetric reference) when it fits, else the closest value that does; the load
        of the best reference above the box where none fits (below it is not load).
    """
    lead = prof[0].shape[:-1]
    if net_lo is None or net_hi is None:
        return np.full(lead, 0.5), np.zeros(lead, dtype=bool), np.zeros_like(prof[0])
    grid = np.linspace(0.0, 1.0, 21)
    viol = np.stack([(np.maximum(_blend(prof, g) - net_hi, 0.0)
                      + np.maximum(net_lo - _blend(prof, g), 0.0)).max(axis=-1)
                     for g in grid], axis=-1)  # (..., J, G)
    fits = viol <= 1e-6
    dist = np.where(fits, np.abs(grid - 0.5), np.inf)
    pick = np.where(fits.any(axis=-1), np.argmin(dist, axis=-1), np.argmin(viol, axis=-1))
    theta = grid[pick]
    misfit = ~np.any(fits, axis=-1)
    ref = _blend(prof, theta[..., None])
    excess = np.maximum(ref - net_hi, 0.0)
    return theta, misfit, excess


def _rate_limited(target: FloatArray, step: FloatArray) -> FloatArray:
    """Largest ``w <= target`` with ``|w_t - w_{t-1}| <= step_t`` and ``w_{-1} = w_T = 0``.

    A forward pass bounds the rises, a backward pass the falls (arrays ``(..., T)``, time
    last; the passes run time-first on contiguous memory).
    """
    w = np.ascontiguousarray(np.moveaxis(np.maximum(target, 0.0), -1, 0)).copy()
    s = np.ascontiguousarray(np.moveaxis(np.broadcast_to(step, target.shape), -1, 0))
    T = w.shape[0]
    np.minimum(w[0], s[0], out=w[0])
    for t in range(1, T):
        np.minimum(w[t], w[t - 1] + s[t], out=w[t])
    for t in range(T - 1, 0, -1):
        np.minimum(w[t - 1], w[t] + s[t], out=w[t - 1])
    return np.moveaxis(w, 0, -1)


def share_policy_numpy(vb: VehicleBatteries, station: np.ndarray, n_stations: int,
                 net_lo: FloatArray | None = None, net_hi: FloatArray | None = None,
                 tau_h: float = 0.5, gamma: float = 1.0
                 ) -> tuple[SharePolicy, np.ndarray, FloatArray]:
    """References and energy shares ``omega`` of every vehicle (module docstring).

    Args:
        vb: Vehicle batteries ``(..., N, T)``.
        station: Station index per vehicle (broadcast to ``(..., N)``).
        n_stations: Number of stations.
        net_lo: Network lower bounds per station ``(T, J)`` (``None``: no network).
        net_hi: Network upper bounds.
        tau_h: Hours of full deviation power a vehicle's share may hold
            (``omega <= tau p_room``).
        gamma: Rate limit of the shares, ``|omega_t - omega_{t-1}| <= gamma p_room_t dt``.

    Returns:
        ``(policy, misfit (..., J), excess_kw (..., J, T))``.
    """
    dt = vb.battery.dt_h
    batt = vb.battery
    st = np.broadcast_to(station, vb.y_asap_kwh.shape[:-1])
    anchors = _reference_rates(vb)
    nl = None if net_lo is None else np.asarray(net_lo).T  # (J, T)
    nh = None if net_hi is None else np.asarray(net_hi).T
    r_lo, r_mid, r_hi = anchors
    prof = (station_sum_numpy(r_lo, st, n_stations), station_sum_numpy(r_mid, st, n_stations),
            station_sum_numpy(r_hi, st, n_stations))
    theta, misfit, excess = _fit_theta(prof, nl, nh)
    th = np.take_along_axis(theta, st, axis=-1)[..., None]
    r = _blend(anchors, th)
    y_ref = np.clip(np.cumsum(r, axis=-1) * dt, vb.y_alap_kwh, vb.y_asap_kwh)
    r = cumulative_to_power(y_ref, dt)
    batt = vb.battery
    room = np.where(vb.active, np.minimum(batt.p_hi_kw - r, r - batt.p_lo_kw), 0.0)
    room = np.maximum(room, 0.0)
    half_band = np.minimum(vb.y_asap_kwh - y_ref, y_ref - vb.y_alap_kwh)
    target = np.where(vb.active, np.minimum(half_band, tau_h * room), 0.0)
    omega = _rate_limited(target, gamma * room * dt)
    return (SharePolicy(y_ref_kwh=y_ref, omega_kwh=omega, station=st, n_stations=n_stations,
                        dt_h=dt), misfit, excess)


def _shifted(x: FloatArray) -> FloatArray:
    """``x_{t-1}`` with ``x_{-1} = 0`` along the last axis."""
    return np.concatenate([np.zeros_like(x[..., :1]), x[..., :-1]], axis=-1)


def _min_ratio(num: FloatArray, den: FloatArray, axis: int) -> FloatArray:
    """``min over axis of num / den`` over entries with ``den > 0`` (``inf`` if none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(den > 1e-12, num / den, np.inf)
    return q.min(axis=axis)


def deviation_battery_numpy(vb: VehicleBatteries, pol: SharePolicy, kappa: float,
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
        w_j = station_sum_numpy(w_n, pol.station, pol.n_stations)
        r_j = station_sum_numpy(r, pol.station, pol.n_stations)
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


def scenario_batteries_numpy(vb: VehicleBatteries, station: np.ndarray, n_stations: int,
                       net_lo: FloatArray | None = None, net_hi: FloatArray | None = None,
                       params: tuple[float, float, float] = DEFAULT_PARAMS
                       ) -> ScenarioBatteries:
    """Inner battery of every scenario by the energy-share policy (module docstring)."""
    tau, gamma, kappa = params
    pol, misfit_j, excess = share_policy_numpy(vb, station, n_stations, net_lo, net_hi, tau, gamma)
    misfit = np.any(misfit_j, axis=-1) | ~np.all(vb.feasible, axis=-1)
    scen = deviation_battery_numpy(vb, pol, kappa, net_lo, net_hi)
    r_j = station_sum_numpy(cumulative_to_power(pol.y_ref_kwh, pol.dt_h), pol.station, n_stations)
    w_j = station_sum_numpy(pol.omega_kwh, pol.station, n_stations)
    omega = w_j.sum(axis=-2, keepdims=True)
    share = np.divide(w_j, omega, out=np.zeros_like(w_j), where=omega > 1e-12)
    return ScenarioBatteries(batteries=scen, ref_kw=r_j.sum(axis=-2), misfit=misfit,
                             unsheddable_kw=excess.sum(axis=-2), params=params,
                             station_ref_kw=r_j, station_share=share)


def _scatter_add(values: FloatArray, idx: np.ndarray, n_intervals: int) -> FloatArray:
    """Sum ``values[..., n]`` into bins ``idx[..., n]`` along a new last axis of length T.

    Indices outside ``[0, T)`` are dropped.
    """
    lead = values.shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    v = values.reshape(rows, -1)
    i = idx.reshape(rows, -1)
    ok = (i >= 0) & (i < n_intervals)
    flat = (np.arange(rows)[:, None] * n_intervals + i)[ok]
    out = np.bincount(flat, weights=v[ok], minlength=rows * n_intervals)
    return out.astype(np.float64, copy=False).reshape(*lead, n_intervals)  # float with weights


def station_envelope_numpy(fleet: Fleet, n_intervals: int, t0: int = 0,
                     exclusive: bool = False, group: np.ndarray | None = None,
                     n_groups: int = 1) -> Envelope:
    """Minkowski sum over the vehicle axis of the exact per-vehicle bounds.

    Only connected (vehicle, interval) pairs are evaluated: the pairs are laid out flat
    (ragged over vehicles), evaluated with the closed forms of :mod:`flexibility.vehicle` and
    summed per (scenario, interval) with ``bincount``. This is exact and costs O(connected pairs).

    Args:
        fleet: Vehicles of shape ``(..., N)``; the vehicle axis is summed.
        n_intervals: Number of intervals ``T``.
        t0: First interval index.
        exclusive: Use the charge/discharge-exclusive vehicle set (paper §4.2 benchmark).
        group: Optional group index in ``[0, n_groups)`` per vehicle (shape of the fleet):
            the vehicle axis is then summed per group (e.g. per arrival interval).
        n_groups: Number of groups.

    Returns:
        The envelope with arrays of shape ``(..., T)``, or ``(..., n_groups, T)`` with groups.
    """
    shape = fleet.shape
    lead = shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    n_veh = shape[-1] if shape else 1
    params = VehicleParams.of(fleet).map(lambda x: x.reshape(-1))
    first = np.clip(params.a, t0, t0 + n_intervals).astype(np.int64)
    last = np.clip(params.d, t0, t0 + n_intervals).astype(np.int64)
    count = np.maximum(last - first, 0)
    p_max, p_min, e_lo, e_hi, t, veh = _ragged_bounds(params, first, count, exclusive)
    g_all = (np.zeros(shape, dtype=np.int64) if group is None
             else np.broadcast_to(group, shape).astype(np.int64))
    lead_g = (*lead, n_groups) if group is not None else lead
    g_veh = g_all.reshape(-1)
    bins = (veh // n_veh * n_groups + np.take(g_veh, veh)) * n_intervals
    bins += t - t0
    size = rows * n_groups * n_intervals

    def total_of(w: FloatArray) -> FloatArray:
        out = np.bincount(bins, weights=w, minlength=size)  # float64 (weighted)
        return out.astype(np.float64, copy=False).reshape(*lead_g, n_intervals)

    a = params.a.reshape(shape).astype(np.int64)
    d = params.d.reshape(shape).astype(np.int64)
    dwell = d > a
    e0 = params.e0.reshape(shape)
    q = params.q.reshape(shape)
    def drift(v: FloatArray, idx: np.ndarray) -> FloatArray:
        idx = np.where((idx >= 0) & (idx < n_intervals), idx + g_all * n_intervals, -1)
        out = _scatter_add(v, idx, n_groups * n_intervals)
        return out.reshape(*lead_g, n_intervals)

    ds = (drift(np.where(dwell, e0, 0.0), a - 1 - t0)
          - drift(np.where(dwell, q, 0.0), d - 1 - t0))
    return Envelope(p_max_kw=total_of(p_max), p_min_kw=total_of(p_min),
                    e_min_kwh=total_of(e_lo), e_max_kwh=total_of(e_hi), ds_kwh=ds,
                    dt_h=fleet.dt_h, t0=t0)


def _ragged_bounds(v: VehicleParams, first: np.ndarray, count: np.ndarray, exclusive: bool
                   ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray,
                              np.ndarray]:
    """The closed forms of :mod:`flexibility.vehicle` on connected pairs only.

    Same equations, rewritten per vehicle as functions ``c + s t`` of the interval index so
    that few per-vehicle constants are expanded to the pairs:
    ``f_lo = max(lo, A - r_d t)`` with ``A = e0 + r_d a``; ``f_hi = min(hi, B + r_c t)`` with
    ``B = e0 - r_c a``; the requirement line ``q - r_c (d - t) = C + r_c t`` with
    ``C = q - r_c d``; then ``p_max = min(P_ch, a1 - f_lo / (dt eta_ch), a2 - eta_dis f_lo / dt)``
    and ``p_min = max(-P_dis, delta_lo / (dt eta_ch) if delta_lo > 0 else eta_dis delta_lo / dt)``.

    Returns:
        ``(p_max, p_min, e_lo, e_hi, t, vehicle)`` per connected pair, ordered by vehicle.
    """
    total = int(count.sum())
    veh = np.repeat(np.arange(count.size), count)

    def rep(x: np.ndarray) -> np.ndarray | float:
        """Per-vehicle value expanded to the pairs (a scalar when it is the same for all)."""
        x = np.asarray(x)
        if x.size and x.min() == x.max():
            return float(x.flat[0])
        return np.take(x, veh)

    starts = np.cumsum(count) - count
    t = np.arange(total, dtype=np.int64)
    t -= np.take(starts - first, veh)
    tf = t.astype(np.float64)
    dt, eta_c, eta_d = v.dt, v.eta_c, v.eta_d
    rc = rep(v.rc)
    rc_t = np.multiply(rc, tf)
    # f_lo = max(lo, A - r_d t), A = e0 + r_d a  (temporaries reused in place)
    f_lo = np.multiply(rep(v.rd), tf, out=tf)
    np.subtract(rep(v.e0 + v.rd * v.a), f_lo, out=f_lo)
    np.maximum(f_lo, rep(v.lo), out=f_lo)
    f_hi = np.add(rc_t, rep(v.e0 - v.rc * v.a))
    np.minimum(f_hi, rep(v.hi), out=f_hi)
    req = np.add(rc_t, rep(v.q - v.rc * v.d), out=rc_t)  # q - r_c (d - t)
    if exclusive:
        p_max = np.multiply(f_lo, -1.0 / (dt * eta_c))
        np.add(p_max, rep(v.hi / (dt * eta_c)), out=p_max)
        np.minimum(p_max, rep(v.pc), out=p_max)
    else:
        k = 1.0 / eta_d - eta_c
        a1 = (v.hi / dt + k * v.pd) / eta_c
        a2 = eta_d * (v.hi / dt + k * v.pc)
        p_max = np.multiply(f_lo, -1.0 / (dt * eta_c))
        np.add(p_max, rep(a1), out=p_max)
        np.minimum(p_max, rep(v.pc), out=p_max)
        other = np.multiply(f_lo, -eta_d / dt)
        np.add(other, rep(a2), out=other)
        np.minimum(p_max, other, out=p_max)
    delta_lo = np.add(req, rc)
    np.maximum(delta_lo, rep(v.lo), out=delta_lo)
    np.subtract(delta_lo, f_hi, out=delta_lo)
    p_min = np.where(delta_lo > 0, delta_lo * (1.0 / (dt * eta_c)), delta_lo * (eta_d / dt))
    np.maximum(p_min, np.negative(rep(v.pd)), out=p_min)
    e_lo = np.maximum(f_lo, req, out=req)
    return p_max, p_min, e_lo, f_hi, t, veh


def discard_order_numpy(batt: Battery, n_min: int = 1, unusable: np.ndarray | None = None
                  ) -> np.ndarray:
    """Greedy discard order: repeatedly drop the scenario whose removal widens the set most.

    Rows are normalised per interval (power by the median box width, energy by the median band
    width) so that power and energy count alike. Unusable scenarios (empty ``B_m``) go first.
    Discarding stops when ``n_min`` scenarios remain.

    Returns:
        Scenario indices in discard order (length ``M - n_min``); the first ``k`` are the ``k``
        discarded when ``M - k`` are kept.
    """
    m = batt.p_lo_kw.shape[0]
    keep = np.ones(m, dtype=bool)
    order: list[int] = []
    if unusable is not None:
        for i in np.flatnonzero(unusable)[: max(m - n_min, 0)]:
            keep[i] = False
            order.append(int(i))
    width_p = np.maximum(np.median(batt.p_hi_kw - batt.p_lo_kw, axis=0), 1e-3)
    width_y = np.maximum(np.median(batt.y_hi_kwh - batt.y_lo_kwh, axis=0), 1e-3)
    # lower rows enter negated so that every row is an "upper" bound: intersection = min
    rows = np.concatenate([batt.p_hi_kw / width_p, -batt.p_lo_kw / width_p,
                           batt.y_hi_kwh / width_y, -batt.y_lo_kwh / width_y], axis=-1)
    # every column sorted once; p1/p2 point at the smallest and second-smallest kept entries
    srt = np.argsort(rows, axis=0, kind="stable")  # (M, C)
    vals = np.take_along_axis(rows, srt, axis=0)
    cols = np.arange(rows.shape[1])

    def advance(p: np.ndarray) -> np.ndarray:
        """Move each pointer forward to the next kept scenario (or past the end)."""
        while True:
            inside = p < m
            stale = np.zeros_like(inside)
            stale[inside] = ~keep[srt[p[inside], cols[inside]]]
            if not stale.any():
                return p
            p = np.where(stale, p + 1, p)

    p1 = advance(np.zeros(rows.shape[1], dtype=np.int64))
    p2 = advance(p1 + 1)
    while keep.sum() > max(n_min, 1):
        first = srt[p1, cols]
        gain = np.bincount(first, weights=vals[np.minimum(p2, m - 1), cols] - vals[p1, cols],
                           minlength=m)
        gain[~keep] = -np.inf
        drop = int(np.argmax(gain))
        keep[drop] = False
        order.append(drop)
        p1 = advance(np.where(first == drop, p2, p1))
        p2 = advance(np.maximum(p2, p1 + 1))
    return np.asarray(order, dtype=np.int64)
