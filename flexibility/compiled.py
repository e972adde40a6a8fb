"""The compiled (numba) kernels of the α package chain, in one module.

Every per-vehicle loop of the chain lives here: the vehicle surrogate and its tightening
(``flexibility.battery``), the exact per-interval projections summed per station
(``flexibility.aggregation``), the energy-share policy (``flexibility.share_policy``), the
deliverable deviation battery (``flexibility.inner``), the whole per-scenario chain in cache-sized
scratch arrays, and the greedy discard loop (``flexibility.discard``). Those modules document the
mathematics and call these kernels; the kernels work one vehicle (one row ``(T,)``) at a time
over the intervals it is connected in (its *window*), with constant rows outside it.

**Same numbers.** The kernels apply the same floating-point operations in the same order as the
array formulation they replace, with NumPy's ``maximum``/``minimum`` (:func:`fmax`,
:func:`fmin`: a NaN propagates) and NumPy's error model (``x / 0`` is ``inf``, not an error).
Sums over vehicles are taken in vehicle order (the array code summed station shares by a
matrix product, whose order BLAS chooses): results agree to about 1e-13.

**One module.** numba caches compiled kernels on disk, keyed by the source file of each kernel;
a kernel compiled into another (a call from one kernel to another) is not recompiled when the
callee's file changes. Keeping every kernel, and every kernel they call, in this file makes any
edit here invalidate all of them together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit


def kernel(func: Callable[..., Any]) -> Any:
    """Compile ``func`` with numba (nopython, releasing the GIL), cached on disk, with NumPy's
    error model.

    NumPy's model makes ``x / 0`` give ``inf`` or ``nan`` as the array code it replaces did,
    instead of raising, and lets loops with divisions vectorise. Releasing the GIL lets this
    process's other threads (dask's, while it solves tasks itself) run during a kernel.
    """
    return njit(cache=True, nogil=True, error_model="numpy")(func)


@kernel
def fmax(a: float, b: float) -> float:
    """``np.maximum(a, b)`` of two floats: the larger, or NaN if either is NaN."""
    return a if (a >= b or a != a) else b


@kernel
def fmin(a: float, b: float) -> float:
    """``np.minimum(a, b)`` of two floats: the smaller, or NaN if either is NaN."""
    return a if (a <= b or a != a) else b



# ------------------------------------------------ vehicle surrogate (flexibility.battery)


@kernel
def tighten_rows(p_lo, p_hi, dt_h, y_lo, y_hi):  # pragma: no cover
    """The passes of ``battery.tighten`` in place on ``(R, T)`` rows (one battery a row):
    ``y_t <- max(y_t, y_{t-1} + p_lo_t dt)`` forward, then backward, ``y_{-1} = 0`` (the
    chains kept in registers)."""
    n_t = y_lo.shape[1]
    if n_t == 0:
        return
    for i in range(y_lo.shape[0]):
        lo_v = fmax(y_lo[i, 0], p_lo[i, 0] * dt_h)
        hi_v = fmin(y_hi[i, 0], p_hi[i, 0] * dt_h)
        y_lo[i, 0], y_hi[i, 0] = lo_v, hi_v
        for t in range(1, n_t):
            lo_v = fmax(y_lo[i, t], lo_v + p_lo[i, t] * dt_h)
            hi_v = fmin(y_hi[i, t], hi_v + p_hi[i, t] * dt_h)
            y_lo[i, t], y_hi[i, t] = lo_v, hi_v
        for t in range(n_t - 2, -1, -1):
            lo_v = fmax(y_lo[i, t], lo_v - p_hi[i, t + 1] * dt_h)
            hi_v = fmin(y_hi[i, t], hi_v - p_lo[i, t + 1] * dt_h)
            y_lo[i, t], y_hi[i, t] = lo_v, hi_v
        # the first interval starts from y_{-1} = 0
        y_lo[i, 0] = fmax(y_lo[i, 0], p_lo[i, 0] * dt_h)
        y_hi[i, 0] = fmin(y_hi[i, 0], p_hi[i, 0] * dt_h)


@kernel
def vehicle_rows(params, eta_c, eta_d, dt, t0, out, active, feasible,
                 window):  # pragma: no cover
    """Compiled kernel of ``battery.vehicle_batteries`` (one vehicle a row).

    Args:
        params: ``(9, R)`` rows of ``battery.VEHICLE_PARAMS``.
        eta_c: Charging efficiency.
        eta_d: Discharging efficiency.
        dt: Interval length, h.
        t0: First interval.
        out: ``(6, R, T)`` filled with ``p_lo, p_hi, y_lo, y_hi, y_alap, y_asap``.
        active: ``(R, T)`` filled with the active intervals.
        feasible: ``(R,)`` filled with the vehicles whose surrogate is non-empty.
        window: ``(R, 2)`` filled with the connected intervals ``[j_a, j_d)``: outside them
            the powers are 0, no interval is active and the bands are constant on each side.
    """
    n_t = out.shape[2]
    for i in range(params.shape[1]):
        v = params[:, i]
        rows = (out[0, i], out[1, i], out[2, i], out[3, i], out[4, i], out[5, i])
        ja, jd = surrogate_row(v, True, eta_c, eta_d, dt, t0, *rows)
        ok = tighten_row(ja, jd, dt, *rows)
        if not ok:  # the chord is empty: charge-only, exact and never empty
            ja, jd = surrogate_row(v, False, eta_c, eta_d, dt, t0, *rows)
            ok = tighten_row(ja, jd, dt, *rows)
        feasible[i] = ok
        window[i, 0], window[i, 1] = ja, jd
        # active: connected and not in the last interval (unless leaving after the window)
        end = jd if v[1] > t0 + n_t else max(jd - 1, ja)
        active[i, :] = False
        active[i, ja:end] = True


@kernel
def surrogate_row(v, v2g, eta_c, eta_d, dt, t0, p_lo, p_hi, y_lo, y_hi, y_alap,
                  y_asap):  # pragma: no cover
    """Raw rows ``(p_lo, p_hi, y_lo, y_hi)`` of one vehicle's surrogate (``flexibility.battery``).

    ``v`` holds ``(a, d, e_init, lo, hi, e_req, P_ch, P_dis, r_c)``; without ``v2g`` the
    vehicle is charge-only (``P_dis = 0``: the chord is the charging branch). On the
    connected intervals ``[j_a, j_d)``: ``y_lo = max(floor_t, req_t)``, ``y_hi = top``; 0
    before, interval ``d - 1``'s values after.

    Returns:
        The connected intervals ``(j_a, j_d)`` (``j_a = j_d``: none).
    """
    n_t = p_lo.size
    a_raw, d, e_init, pc = v[0], v[1], v[2], v[6]
    pd = v[7] if v2g else 0.0
    lo, hi, rc = v[3], v[4], v[8]
    e0 = fmin(hi, e_init + rc * fmax(t0 - a_raw, 0.0))
    a = fmax(a_raw, float(t0))
    dwell = fmax(d - a, 0.0)
    # reachable requirement from the state at t0: q = max(lo, min(e_req, e0 + r_c K))
    q = fmax(fmin(v[5], e0 + rc * dwell), lo)
    span = pc + pd if pc + pd > 0 else 1.0
    c1 = (eta_c * pc + pd / eta_d) / span if pd > 0 else eta_c
    c0 = (eta_c - c1) * pc
    req0 = (q - e0 - c0 * dwell * dt) / c1
    top = (hi - e0) / eta_c
    ja = min(int(a) - t0, n_t)
    jd = min(max(int(d) - t0, ja), n_t)
    p_lo[:] = 0.0
    p_hi[:] = 0.0
    y_lo[:ja] = 0.0
    y_hi[:ja] = 0.0
    for j in range(ja, jd):
        t = float(t0 + j)
        p_hi[j], p_lo[j] = pc, -pd
        floor = (lo - e0 - c0 * (t - a + 1.0) * dt) / c1
        y_lo[j] = fmax(floor, req0 - pc * dt * (d - 1.0 - t))
        y_hi[j] = top
    # after departure the energy stays where it was: the bounds of the last interval
    y_lo[jd:] = y_lo[jd - 1] if jd > ja else 0.0
    y_hi[jd:] = y_hi[jd - 1] if jd > ja else 0.0
    return ja, jd


@kernel
def tighten_row(ja, jd, dt, p_lo, p_hi, y_lo, y_hi, y_alap, y_asap):  # pragma: no cover
    """``battery.tighten`` of one vehicle's rows into ``(y_alap, y_asap)``; feasibility.

    The passes run over the connected intervals ``[j_a, j_d)`` only: before them the powers
    are 0 and the raw band is 0, so the forward pass keeps 0 and the backward pass leaves
    ``max(0, y_lo_{j_a} - p_hi dt)`` and ``min(0, y_hi_{j_a} - p_lo dt)``; after them the
    band is held at interval ``j_d - 1``'s raw values, which the forward pass keeps at its
    values of ``j_d - 1``.

    Returns:
        Whether the band is non-empty (``y_alap <= y_asap + 1e-6`` throughout).
    """
    if jd == ja:  # never connected: every row is 0
        y_alap[:] = 0.0
        y_asap[:] = 0.0
        return True
    lo_v, hi_v = 0.0, 0.0
    for j in range(ja, jd):
        lo_v = fmax(y_lo[j], p_lo[j] * dt if j == 0 else lo_v + p_lo[j] * dt)
        hi_v = fmin(y_hi[j], p_hi[j] * dt if j == 0 else hi_v + p_hi[j] * dt)
        y_alap[j], y_asap[j] = lo_v, hi_v
    y_alap[jd:] = lo_v
    y_asap[jd:] = hi_v
    for j in range(jd - 2, ja - 1, -1):  # the chain in registers: lo_v, hi_v hold j + 1
        lo_v = fmax(y_alap[j], lo_v - p_hi[j + 1] * dt)
        hi_v = fmin(y_asap[j], hi_v - p_lo[j + 1] * dt)
        y_alap[j], y_asap[j] = lo_v, hi_v
    if ja > 0:
        y_alap[:ja] = fmax(0.0, y_alap[ja] - p_hi[ja] * dt)
        y_asap[:ja] = fmin(0.0, y_asap[ja] - p_lo[ja] * dt)
    else:  # the first interval starts from y_{-1} = 0
        y_alap[0] = fmax(y_alap[0], p_lo[0] * dt)
        y_asap[0] = fmin(y_asap[0], p_hi[0] * dt)
    ok = not y_alap[0] > y_asap[0] + 1e-6
    for j in range(ja, jd):
        ok &= not y_alap[j] > y_asap[j] + 1e-6
    return ok


# --------------------------------- exact projections per station (flexibility.aggregation)


@kernel
def envelope_pairs(params, group, n_veh, n_groups, consts, t0, n_t, exclusive,
                   totals):  # pragma: no cover
    """The closed forms of :mod:`flexibility.vehicle` on connected pairs, summed per bin.

    Per vehicle (``params (11, R)``: the rows of ``battery.VEHICLE_PARAMS``, then ``q`` and
    ``r_d`` of ``flexibility.vehicle.VehicleParams``) and connected
    interval ``t``: ``f_lo = max(A - r_d t, lo)`` with ``A = e0 + r_d a``; ``f_hi = min(r_c t +
    B, hi)`` with ``B = e0 - r_c a``; the requirement line ``q - r_c (d - t) = r_c t + C``
    with ``C = q - r_c d``; then ``p_max = min(P_ch, a1 - f_lo / (dt eta_ch), a2 - eta_dis
    f_lo / dt)`` (exclusive: ``min(P_ch, (hi - f_lo) / (dt eta_ch))``) and ``p_min =
    max(-P_dis, delta_lo / (dt eta_ch) if delta_lo > 0 else eta_dis delta_lo / dt)``,
    ``delta_lo = max(r_c t + C + r_c, lo) - f_hi``. ``totals (6, bins)`` receives ``p_max,
    p_min, e_lo = max(f_lo, r_c t + C), e_hi = f_hi`` in bin ``(row, group, t - t0)``, and the
    drift terms: ``e0`` at ``a - 1`` and ``q`` at ``d - 1`` of vehicles with a dwell; all
    added in vehicle order.
    """
    dt, eta_c, eta_d = consts
    k = 1.0 / eta_d - eta_c
    inv_c, slope_c, slope_d = 1.0 / (dt * eta_c), -1.0 / (dt * eta_c), -eta_d / dt
    for n in range(params.shape[1]):
        a, d, e0, lo, hi = params[0, n], params[1, n], params[2, n], params[3, n], params[4, n]
        pc, pd, rc, q, rd = params[6, n], params[7, n], params[8, n], params[9, n], params[10, n]
        base = ((n // n_veh) * n_groups + group[n]) * n_t - t0
        if d > a:  # drift: energy entering at a - 1, the requirement leaving at d - 1
            if t0 <= a - 1 < t0 + n_t:
                totals[4, base + int(a) - 1] += e0
            if t0 <= d - 1 < t0 + n_t:
                totals[5, base + int(d) - 1] += q
        big_a, big_b, big_c = e0 + rd * a, e0 - rc * a, q - rc * d
        a1, a2, top = (hi / dt + k * pd) / eta_c, eta_d * (hi / dt + k * pc), hi / (dt * eta_c)
        for t in range(int(min(max(a, t0), t0 + n_t)), int(min(max(d, t0), t0 + n_t))):
            rc_t = rc * float(t)
            f_lo = fmax(big_a - rd * float(t), lo)
            f_hi = fmin(rc_t + big_b, hi)
            req = rc_t + big_c
            if exclusive:
                p_max = fmin(f_lo * slope_c + top, pc)
            else:
                p_max = fmin(fmin(f_lo * slope_c + a1, pc), f_lo * slope_d + a2)
            delta_lo = fmax(req + rc, lo) - f_hi
            p_min = delta_lo * inv_c if delta_lo > 0 else delta_lo * (eta_d / dt)
            totals[0, base + t] += p_max
            totals[1, base + t] += fmax(p_min, -pd)
            totals[2, base + t] += fmax(f_lo, req)
            totals[3, base + t] += f_hi


# ---------------------------------------- energy-share policy (flexibility.share_policy)


@kernel
def station_add(x, station, out):  # pragma: no cover
    """``out[j] += x[n]`` over the vehicles ``n`` of station ``j``, in vehicle order (one
    scenario: ``x (N, T)``, ``out (J, T)``)."""
    for n in range(x.shape[0]):
        row = out[station[n]]
        for t in range(x.shape[1]):
            row[t] += x[n, t]


@kernel
def station_sums(x, station, out):  # pragma: no cover
    """:func:`station_add` of every scenario (``x (B, N, T)``, ``out (B, J, T)``)."""
    for b in range(x.shape[0]):
        station_add(x[b], station[b], out[b])


@kernel
def row_windows(p_lo, p_hi, y_alap, y_asap, active, window):  # pragma: no cover
    """The smallest ``[j_a, j_d)`` per vehicle (``(R, T)`` rows) outside which the powers are
    0, no interval is active and both bands are constant on each side (``window (R, 2)``;
    what ``vehicle_rows`` returns for the vehicles it builds)."""
    n_t = p_lo.shape[1]
    for i in range(p_lo.shape[0]):
        ja, jd = n_t, 0
        for j in range(n_t):
            busy = (p_lo[i, j] != 0.0) | (p_hi[i, j] != 0.0) | active[i, j]
            if busy or (j > 0 and (y_alap[i, j] != y_alap[i, j - 1]
                                   or y_asap[i, j] != y_asap[i, j - 1])):
                ja = min(ja, j)
                jd = j + 1
        window[i, 0], window[i, 1] = min(ja, jd), jd


@kernel
def anchor_rates(p_lo, p_hi, y_alap, y_asap, active, window, dt, rates):  # pragma: no cover
    """Constant-rate reference powers ``(r^-, r*, r^+)`` of every vehicle (``rates (3, R)``).

    A vehicle connected for ``K`` intervals of the window ends it between its as-late- and
    as-soon-as-possible energies ``Y^-_end <= Y_end <= Y^+_end``. The lower band is convex and
    the upper band concave (maxima and minima of lines from ``y_{a-1} = 0``), so the straight
    line from 0 to any ``Y_end`` in the band stays inside the band at every interval: the
    constant rate ``r = Y_end / (K dt)`` is a feasible reference. ``r^-`` and ``r^+`` end at the
    band's edges; ``r*`` is the rate closest to the middle of the power range (the most
    symmetric room for deviations). Each rate holds on the vehicle's connected intervals
    (``p_hi > p_lo`` or active, all inside ``window``) and is 0 elsewhere. Rows ``(R, T)``.
    """
    n_t = p_lo.shape[1]
    for i in range(p_lo.shape[0]):
        ja, jd = window[i, 0], window[i, 1]
        count, last, mid = 0, n_t - 1, -np.inf
        for j in range(ja, jd):
            if (p_hi[i, j] > p_lo[i, j]) | active[i, j]:
                count += 1
                last = j
                mid = fmax(mid, 0.5 * (p_hi[i, j] + p_lo[i, j]))
        if count < n_t:  # some interval is not connected: its rate is 0
            mid = fmax(mid, 0.0)
        denom = count * dt if count > 0 else 1.0
        r_lo, r_hi = y_alap[i, last] / denom, y_asap[i, last] / denom
        rates[0, i], rates[2, i] = r_lo, r_hi
        rates[1, i] = fmin(fmax(mid, r_lo), fmax(r_lo, r_hi))


@kernel
def station_anchors(p_lo, p_hi, active, window, rates, station, prof):  # pragma: no cover
    """Station powers ``prof (3, J, T)`` of the anchors of one scenario's vehicles (rows
    ``(N, T)``; ``rates (3, N)``), added in vehicle order."""
    for n in range(p_lo.shape[0]):
        j_st = station[n]
        for j in range(window[n, 0], window[n, 1]):
            if (p_hi[n, j] > p_lo[n, j]) | active[n, j]:
                for x in range(3):
                    prof[x, j_st, j] += rates[x, n]


@kernel
def blend_one(lo, mid, hi, theta):  # pragma: no cover
    """Piecewise-linear reference rate between the anchors ``(r^-, r*, r^+)``:
    ``r^- + 2 theta (r* - r^-)`` for ``theta <= 0.5``, ``r* + (2 theta - 1)(r^+ - r*)`` above."""
    a = min(max(2.0 * theta, 0.0), 1.0)
    b = min(max(2.0 * theta - 1.0, 0.0), 1.0)
    return lo + a * (mid - lo) if theta <= 0.5 else mid + b * (hi - mid)


@kernel
def fit_theta_columns(prof, grid, net_lo, net_hi, theta, misfit, excess):  # pragma: no cover
    """Station ``theta`` of one scenario keeping the blended station reference in the box.

    The violation ``v_j(g) = max_t (max(R_jt(g) - hi_jt, 0) + max(lo_jt - R_jt(g), 0))`` of
    the blend ``R(g)`` of the station anchors ``prof (3, J, T)`` on the grid; ``theta_j`` is the
    grid value closest to 0.5 with ``v_j <= 1e-6`` (the first on ties), else the first one of
    least violation (``misfit_j``). The value closest to 0.5 is tried first: when it fits, no
    other can win.

    ``excess (J, T)`` is the load of the blend at ``theta_j`` above the box,
    ``e_jt = max(R_jt(theta_j) - hi_jt, 0)``: the must-serve load the network cannot carry
    (``unsheddable_kw`` downstream). A blend below ``lo_jt`` is not load and is not counted:
    no vehicle is ever forced to discharge (``Fleet.upper_energy_kwh``), so every station can
    draw ``lo_jt <= clip(0, P_min, P_max)`` (``grid.clipping.reference_point``) whatever the
    compromise ``theta_j`` of a misfit puts its reference at.
    """
    n_t = prof.shape[2]
    centre = int(np.argmin(np.abs(grid - 0.5)))
    for j in range(prof.shape[1]):
        best_fit, best_viol, dist, least = -1, 0, np.inf, np.inf
        if _violation(prof, j, grid[centre], net_lo, net_hi) <= 1e-6:
            best_fit = centre
        else:
            for g in range(grid.size):
                worst = _violation(prof, j, grid[g], net_lo, net_hi)
                if worst <= 1e-6 and abs(grid[g] - 0.5) < dist:
                    best_fit, dist = g, abs(grid[g] - 0.5)
                if worst < least:
                    best_viol, least = g, worst
        misfit[j] = best_fit < 0
        theta[j] = grid[best_viol] if best_fit < 0 else grid[best_fit]
        for t in range(n_t):
            ref = blend_one(prof[0, j, t], prof[1, j, t], prof[2, j, t], theta[j])
            excess[j, t] = fmax(ref - net_hi[j, t], 0.0)


@kernel
def _violation(prof, j, theta, net_lo, net_hi):  # pragma: no cover
    """``max_t (max(R_jt - hi_jt, 0) + max(lo_jt - R_jt, 0))`` for the blend at ``theta``."""
    worst = -np.inf
    for t in range(prof.shape[2]):
        ref = blend_one(prof[0, j, t], prof[1, j, t], prof[2, j, t], theta)
        worst = fmax(worst, fmax(ref - net_hi[j, t], 0.0) + fmax(net_lo[j, t] - ref, 0.0))
    return worst


@kernel
def fit_theta_all(p_lo, p_hi, active, window, rates, station, grid, net_lo, net_hi, theta, misfit,
             excess):  # pragma: no cover
    """Station anchors and :func:`fit_theta_columns` of every scenario (rows ``(B, N, T)``)."""
    prof = np.empty((3, net_lo.shape[0], p_lo.shape[2]))
    for b in range(p_lo.shape[0]):
        prof[:] = 0.0
        station_anchors(p_lo[b], p_hi[b], active[b], window[b], rates[:, b], station[b], prof)
        fit_theta_columns(prof, grid, net_lo, net_hi, theta[b], misfit[b], excess[b])


@kernel
def policy_rows(p_lo, p_hi, y_alap, y_asap, active, window, rates, theta, tau_h, gamma, dt,
                y_ref, omega, ref, shares=True):  # pragma: no cover
    """References, reference powers and rate-limited shares of vehicles (rows ``(R, T)``).

    Per vehicle: ``r = blend(theta)`` on its connected intervals, ``Y^r = clip(dt cumsum r,
    Y^-, Y^+)``, ``r = diff(Y^r) / dt``, ``room = max(min(p_hi - r, r - p_lo), 0)`` and the
    target ``max(min(min(Y^+ - Y^r, Y^r - Y^-), tau room), 0)`` on active intervals, then the
    rate limit ``|omega_t - omega_{t-1}| <= gamma room_t dt`` (forward rises, backward falls;
    skipped without ``shares``: ``omega = 0``). Outside ``window`` nothing is connected or
    active and the bands are constant on each side: ``Y^r`` is constant there, ``r = 0``
    after its first interval and ``omega = 0``.
    """
    n_t = p_lo.shape[1]
    for i in range(p_lo.shape[0]):
        ja, jd = window[i, 0], window[i, 1]
        rate = blend_one(rates[0, i], rates[1, i], rates[2, i], theta[i])
        omega[i, :] = 0.0
        ref[i, :] = 0.0
        cum, prev, w_prev = 0.0, 0.0, 0.0
        if ja > 0:  # before the window: cum = 0
            prev = fmin(fmax(cum * dt, y_alap[i, 0]), y_asap[i, 0])
            y_ref[i, :ja] = prev
            ref[i, 0] = (prev - 0.0) / dt
        for j in range(ja, jd):
            if (p_hi[i, j] > p_lo[i, j]) | active[i, j]:
                cum += rate
            y = fmin(fmax(cum * dt, y_alap[i, j]), y_asap[i, j])
            r = (y - prev) / dt
            y_ref[i, j], ref[i, j], prev = y, r, y
            if shares:
                w_prev = _share_step(p_lo[i, j], p_hi[i, j], y_alap[i, j], y_asap[i, j],
                                     active[i, j], y, r, w_prev, j, tau_h, gamma, dt)
                omega[i, j] = w_prev
        if jd < n_t:  # after the window: cum and the band stay
            y = fmin(fmax(cum * dt, y_alap[i, jd]), y_asap[i, jd])
            ref[i, jd] = (y - prev) / dt
            y_ref[i, jd:] = y
        if shares:
            _shares_backward(p_lo[i], p_hi[i], active[i], ref[i], ja, jd, gamma, dt, omega[i])


@kernel
def _share_step(p_lo, p_hi, y_alap, y_asap, active, y, r, w_prev, j, tau_h, gamma,
                dt):  # pragma: no cover
    """Forward rate-limited share at one interval: ``min(target, omega_{t-1} + gamma room
    dt)`` on active intervals (``min(target, gamma room dt)`` at ``t = 0``), else 0."""
    if not active:
        return 0.0
    room = fmax(fmin(p_hi - r, r - p_lo), 0.0)
    half = fmin(y_asap - y, y - y_alap)
    w = fmax(fmin(half, tau_h * room), 0.0)
    step = gamma * room * dt
    return fmin(w, w_prev + step) if j > 0 else fmin(w, step)


@kernel
def _shares_backward(p_lo, p_hi, active, ref, ja, jd, gamma, dt, omega):  # pragma: no cover
    """Backward pass of the rate limit, ``omega_{t-1} <= omega_t + gamma room_t dt``, over the
    window (one vehicle's rows)."""
    start = min(jd, p_lo.size - 1)
    w = omega[start] if start >= 0 else 0.0
    for j in range(start, max(ja, 0), -1):  # the chain in a register: w holds omega_j
        step = 0.0
        if active[j]:
            r = ref[j]
            step = gamma * fmax(fmin(p_hi[j] - r, r - p_lo[j]), 0.0) * dt
        w = fmin(omega[j - 1], w + step)
        omega[j - 1] = w


# ----------------------------------------------- deviation battery (flexibility.inner)


@kernel
def deviation_rows(p_lo, p_hi, ref, y_ref, w_n, window, w_j, r_j, net_lo, net_hi, kappa, dt,
                   rooms, out):  # pragma: no cover
    """Compiled kernel of ``inner.deviation_battery`` for one scenario.

    ``k = kappa`` where ``Omega > 0``; up to 8 times, where interval ``t`` fails halve
    ``k_{t-1}`` (after the 8th, set it to 0 and close the failing boxes); then
    ``out (4, T) = (R - Dn, R + Up, Y^R - k Omega, Y^R + k Omega)``. Vehicle rows ``(N, T)``
    whose ``window`` ``[j_a, j_d)`` holds every non-zero share (:func:`deviation_windows`:
    the reference power is 0 outside it but at ``t = 0`` and ``j_d``, the reference energy
    constant before and from ``j_d`` on); stations ``(J, T)`` (``J = 0``: no network rows);
    ``rooms`` is scratch ``(3, >= N + J, T)`` for ``u = max(p_hi - r, 0)``,
    ``l = max(r - p_lo, 0)`` and ``|Δw|``.
    """
    n_veh, n_t = y_ref.shape
    omega, k, up, dn, r_tot, y_r = np.zeros((6, n_t))
    sig = np.empty((3, n_t))
    bad = np.zeros(n_t, dtype=np.bool_)
    for i in range(n_veh):  # sums over vehicles in vehicle order; the zeros are skipped
        _add_vehicle(ref[i], y_ref[i], w_n[i], window[i, 0], window[i, 1], omega, r_tot, y_r)
    for i in range(n_veh + w_j.shape[0]):
        veh = i < n_veh
        w = w_n[i] if veh else w_j[i - n_veh]
        start, stop = (window[i, 0], min(window[i, 1] + 1, n_t)) if veh else (0, n_t)
        for t in range(start, stop):
            hi = p_hi[i, t] - ref[i, t] if veh else net_hi[i - n_veh, t] - r_j[i - n_veh, t]
            lo = ref[i, t] - p_lo[i, t] if veh else r_j[i - n_veh, t] - net_lo[i - n_veh, t]
            rooms[0, i, t], rooms[1, i, t] = fmax(hi, 0.0), fmax(lo, 0.0)
            rooms[2, i, t] = abs(w[t] - (w[t - 1] if t > 0 else 0.0))
    for t in range(n_t):
        k[t] = kappa if omega[t] > 1e-12 else 0.0
    held = False
    todo = np.arange(n_t)
    for _ in range(8):
        _state_bounds(w_n, window, w_j, rooms, k, omega, dt, sig, up, dn, bad, todo)
        if not bad.any():
            held = True
            break
        # the transfers at t do not fit: hold less deviation energy at t - 1 (only the
        # failing intervals see a changed k_{t-1})
        for t in range(n_t - 1):
            if bad[t + 1]:
                k[t] *= 0.5
        todo = np.flatnonzero(bad)
    for t in range(n_t):
        if not held and t + 1 < n_t and bad[t + 1]:
            k[t] = 0.0
        if not held and bad[t]:
            up[t], dn[t] = 0.0, 0.0
        band = k[t] * omega[t]
        out[0, t] = r_tot[t] - (fmax(dn[t], 0.0) if np.isfinite(dn[t]) else 0.0)
        out[1, t] = r_tot[t] + (fmax(up[t], 0.0) if np.isfinite(up[t]) else 0.0)
        out[2, t] = y_r[t] - band
        out[3, t] = y_r[t] + band


@kernel
def _state_bounds(w_n, window, w_j, rooms, k, omega, dt, sig, up, dn, bad,
                  todo):  # pragma: no cover
    """Power box ``(Up, Dn)`` for the state bounds ``k`` and the intervals that fail.

    ``sigma+_t = min_i max(u_i dt - |Δw_i| k_{t-1}, 0) / w_i`` over rows with ``w_i > 0``
    (``sigma-`` with ``l_i``), rows ``i``: the vehicles on their windows, then the stations;
    an interval fails where a row's room cannot hold its transfer or the box is negative.
    Interval ``t`` depends on ``k`` through ``k_{t-1}`` only: just the intervals ``todo``
    (indices) are computed, the others keep their values.
    """
    n_veh, n_t = w_n.shape
    every = todo.size == n_t
    for t in todo:
        sig[0, t], sig[1, t], sig[2, t] = np.inf, np.inf, 0.0  # sigma+, sigma-, short
    for i in range(n_veh + w_j.shape[0]):
        row = w_n[i] if i < n_veh else w_j[i - n_veh]
        start = window[i, 0] if i < n_veh else 0
        stop = min(window[i, 1] + 1, n_t) if i < n_veh else n_t
        if every:
            for t in range(start, stop):
                _row_bound(sig, rooms, row, i, t, k, dt)
        else:
            for t in todo:
                if start <= t < stop:
                    _row_bound(sig, rooms, row, i, t, k, dt)
    for t in todo:
        k_prev = k[t - 1] if t > 0 else 0.0
        if omega[t] > 1e-12:
            d_omega = abs(omega[t] - (omega[t - 1] if t > 0 else 0.0))
            up[t] = (sig[0, t] * omega[t] - d_omega * k_prev) / dt
            dn[t] = (sig[1, t] * omega[t] - d_omega * k_prev) / dt
        else:  # the deviation returns where no share is held
            up[t] = k_prev * (omega[t - 1] if t > 0 else 0.0) / dt
            dn[t] = up[t]
        bad[t] = (sig[2, t] > 0.0) | (up[t] < -1e-9) | (dn[t] < -1e-9)


@kernel
def _row_bound(sig, rooms, row, i, t, k, dt):  # pragma: no cover
    """Row ``i``'s part of ``sigma+_t``, ``sigma-_t`` and the shortfall flag at interval ``t``
    (the ratios of rows without a share do not count; selected, not branched on)."""
    d_w = rooms[2, i, t] * (k[t - 1] if t > 0 else 0.0)
    num_u = rooms[0, i, t] * dt - d_w
    num_l = rooms[1, i, t] * dt - d_w
    if (num_u < -1e-9) | (num_l < -1e-9):
        sig[2, t] = 1.0
    share = row[t] > 1e-12
    up_i = fmax(num_u, 0.0) / row[t]
    dn_i = fmax(num_l, 0.0) / row[t]
    sig[0, t] = fmin(sig[0, t], up_i) if share else sig[0, t]
    sig[1, t] = fmin(sig[1, t], dn_i) if share else sig[1, t]


@kernel
def _add_vehicle(ref, y_ref, w, ja, jd, omega, r_tot, y_r):  # pragma: no cover
    """Add one vehicle's share, reference power and reference energy to the scenario's sums:
    ``w`` on ``[j_a, j_d)``, ``r`` at ``t = 0`` and on ``[j_a, j_d]``, ``Y^r`` everywhere
    (constant before ``j_a`` and from ``j_d`` on)."""
    n_t = y_ref.size
    for t in range(ja, jd):
        omega[t] += w[t]
    if ja > 0:
        r_tot[0] += ref[0]
    for t in range(ja, min(jd + 1, n_t)):
        r_tot[t] += ref[t]
    before = y_ref[0]
    for t in range(0, ja):
        y_r[t] += before
    for t in range(ja, jd):
        y_r[t] += y_ref[t]
    if jd < n_t:
        after = y_ref[jd]
        for t in range(jd, n_t):
            y_r[t] += after


@kernel
def share_rows(p_lo, p_hi, ref, w_n, window, w_j, r_j, net_lo, net_hi, dt, big, pts, n_pts,
               power_coef, energy_coef, n_rows, limits):  # pragma: no cover
    """Deliverability rows of one scenario's share policy, reduced to their hull vertices.

    Row ``i`` (a vehicle on ``[j_a, min(j_d + 1, T))``, or a station; share ``w_i``, rooms
    ``u_i = max(hi_i - r_i, 0)``, ``l_i = max(r_i - lo_i, 0)``) moves by ``phi_i delta_t dt +
    c_i s_{t-1}`` with ``phi = w / Omega``, ``c = Δw - phi ΔOmega`` and ``s_{t-1} = D_{t-1} /
    Omega_{t-1}`` (``flexibility.common_battery``; shares up to 1e-12 kWh count as 0, as in
    :func:`deviation_rows`). Over ``delta_t <= Up_t``,
    ``-Em_{t-1} <= D_{t-1} <= Ep_{t-1}`` it stays in its box when (normalised by the room)

        (phi dt / (u dt)) Up_t + (c^+ / (Omega_{t-1} u dt)) Ep_{t-1}
                               + (c^- / (Omega_{t-1} u dt)) Em_{t-1} <= 1,

    and likewise ``Dn_t`` with ``l`` and ``Ep``/``Em`` swapped. A row has ``c^+`` or ``c^-``
    (never both), so it is a point ``(alpha, beta)`` of one of four kinds ``q``: up-rise
    ``(Up_t, Ep_{t-1})``, up-fall ``(Up_t, Em_{t-1})``, down-rise ``(Dn_t, Em_{t-1})``,
    down-fall ``(Dn_t, Ep_{t-1})``. For non-negative variables only the vertices of the
    up-right hull of a kind's points bind (:func:`upper_right_hull`): they are written to
    ``power_coef``/``energy_coef (T, 4, K)`` with their number ``n_rows (T, 4)``. A
    coefficient above ``big`` (a room below ``1 / big``) closes its variable instead:
    ``limits (4, T)`` holds the upper bounds of ``(Up, Dn, Ep, Em)`` (``inf`` or 0 for the
    powers; ``Omega_t`` or 0 for the bands: ``|s_t| <= 1`` keeps every vehicle's energy in its
    band, and where ``Omega_t = 0`` the deviation is back to 0). ``pts (T, 4, >= N + J, 2)``
    and ``n_pts (T, 4)`` are scratch.
    """
    n_veh, n_t = w_n.shape
    omega = np.zeros(n_t)
    for i in range(n_veh):
        for t in range(window[i, 0], window[i, 1]):
            omega[t] += w_n[i, t]
    inv = np.zeros(n_t + 1)  # inv[t + 1] = 1 / Omega_t (0 where no share is held); inv[0]: t = -1
    n_pts[:] = 0
    for t in range(n_t):
        held = omega[t] > 1e-12
        inv[t + 1] = 1.0 / omega[t] if held else 0.0
        limits[0, t], limits[1, t] = np.inf, np.inf
        limits[2, t] = omega[t] if held else 0.0
        limits[3, t] = limits[2, t]
    for i in range(n_veh + w_j.shape[0]):
        veh = i < n_veh
        w = w_n[i] if veh else w_j[i - n_veh]
        start, stop = (window[i, 0], min(window[i, 1] + 1, n_t)) if veh else (0, n_t)
        for t in range(start, stop):
            # shares of at most 1e-12 kWh are rounding (a vehicle charging at full power gets
            # one): they move nothing, and their rooms are rounding too
            w_now = w[t] if w[t] > 1e-12 else 0.0
            w_prev = w[t - 1] if t > 0 and w[t - 1] > 1e-12 else 0.0
            if w_now == 0.0 and w_prev == 0.0:
                continue
            phi = w_now * inv[t + 1]
            c = (w_now - w_prev) - phi * (omega[t] - (omega[t - 1] if t > 0 else 0.0))
            hi = p_hi[i, t] - ref[i, t] if veh else net_hi[i - n_veh, t] - r_j[i - n_veh, t]
            lo = ref[i, t] - p_lo[i, t] if veh else r_j[i - n_veh, t] - net_lo[i - n_veh, t]
            _add_row(phi * dt, abs(c) * inv[t], c >= 0.0, t, fmax(hi, 0.0) * dt,
                     fmax(lo, 0.0) * dt, big, pts, n_pts, limits)
    for t in range(n_t):
        for q in range(4):
            n_rows[t, q] = upper_right_hull(pts[t, q], n_pts[t, q], power_coef[t, q],
                                            energy_coef[t, q])


@kernel
def _add_row(a, b, rise, t, room_up, room_dn, big, pts, n_pts, limits):  # pragma: no cover
    """Row ``a X_t + b E_{t-1} <= room`` (``a = phi dt``, ``b = |c| / Omega_{t-1}``) of one
    share at ``t`` as normalised points of its two kinds (up, down) in ``pts``, or closed
    variables in ``limits`` (:func:`share_rows`)."""
    if a == 0.0 and b == 0.0:
        return
    for k in range(2):  # up: (Up_t, Ep_{t-1}) rising, (Up_t, Em_{t-1}) falling; down: mirror
        room = room_up if k == 0 else room_dn
        q = 2 * k + (0 if rise else 1)
        col_e = 2 if rise == (k == 0) else 3  # Ep_{t-1} for up-rise and down-fall
        alpha = a / room if room > 0.0 else (np.inf if a > 0.0 else 0.0)
        beta = b / room if room > 0.0 else (np.inf if b > 0.0 else 0.0)
        if alpha > big:  # the power closes: the row then asks beta E <= 1 alone
            limits[k, t], alpha = 0.0, 0.0
        if beta > big:
            limits[col_e, t - 1], beta = 0.0, 0.0
        if alpha > 0.0 or beta > 0.0:
            n = n_pts[t, q]
            pts[t, q, n, 0], pts[t, q, n, 1] = alpha, beta
            n_pts[t, q] = n + 1


@kernel
def upper_right_hull(pts, n, x_out, y_out):  # pragma: no cover
    """Vertices of the up-right hull of points ``pts[:n] (x, y) >= 0`` into ``x_out, y_out``.

    ``x U + y E <= 1`` for every point and ``U, E >= 0`` holds iff it holds for the vertices
    from the point of largest ``x`` (ties: largest ``y``) counter-clockwise to the point of
    largest ``y`` (ties: largest ``x``): the maximum of ``x U + y E`` over the points in any
    direction ``(U, E) >= 0`` is attained there. Gift wrapping (few vertices); collinear
    points are skipped. Past ``K - 1`` vertices the rest of the chain is replaced by one
    point dominating it (``(x, y_max)`` at the current vertex), which only tightens the rows.

    Returns:
        The number of vertices written.
    """
    if n == 0:
        return 0
    ia, ib = 0, 0
    for r in range(1, n):
        x, y = pts[r, 0], pts[r, 1]
        if x > pts[ia, 0] or (x == pts[ia, 0] and y > pts[ia, 1]):
            ia = r
        if y > pts[ib, 1] or (y == pts[ib, 1] and x > pts[ib, 0]):
            ib = r
    p, count, k_max = ia, 0, x_out.size
    while True:
        px, py = pts[p, 0], pts[p, 1]
        if p == ib or count == k_max - 1:
            x_out[count], y_out[count] = px, pts[ib, 1]
            return count + 1
        x_out[count], y_out[count] = px, py
        count += 1
        q = -1
        for r in range(n):
            ry = pts[r, 1]
            if ry <= py:
                continue
            if q < 0:
                q = r
                continue
            turn = (pts[q, 0] - px) * (ry - py) - (pts[q, 1] - py) * (pts[r, 0] - px)
            if turn < 0.0 or (turn == 0.0 and ry > pts[q, 1]):
                q = r
        if q < 0:  # no point above: p is the top (cannot happen before ib)
            return count
        p = q


@kernel
def deviation_windows(ref, y_ref, w, window):  # pragma: no cover
    """The smallest window per vehicle (rows ``(N, T)``) meeting :func:`deviation_rows`'
    contract: ``[j_a, j_d)`` holds every ``w != 0``; outside ``[j_a, j_d]`` and ``t = 0`` no
    ``r != 0`` and no change of ``Y^r``."""
    n_veh, n_t = y_ref.shape
    for n in range(n_veh):
        ja, jd = n_t, 0
        for t in range(n_t):
            if w[n, t] != 0.0:
                ja, jd = min(ja, t), t + 1
            if t > 0 and (ref[n, t] != 0.0 or y_ref[n, t] != y_ref[n, t - 1]):
                ja, jd = min(ja, t), max(jd, t)
        window[n, 0], window[n, 1] = min(ja, jd), jd


@kernel
def deviation_all(p_lo, p_hi, ref, y_ref, w_n, w_j, r_j, net_lo, net_hi, kappa, dt,
                  out, rows):  # pragma: no cover
    """:func:`deviation_rows` of every scenario (vehicle rows ``(B, N, T)``, ``out (B, 4, T)``)
    on the windows of :func:`deviation_windows`, and with ``rows`` (:func:`row_buffers`,
    ``T > 0``) the scenarios' :func:`share_rows`."""
    n_b, n_veh, n_t = y_ref.shape
    rooms = np.empty((3, n_veh + w_j.shape[1], n_t))
    window = np.zeros((n_veh, 2), dtype=np.int64)
    pts, n_pts = row_scratch(rows, n_veh + w_j.shape[1])
    for b in range(n_b):
        deviation_windows(ref[b], y_ref[b], w_n[b], window)
        deviation_rows(p_lo[b], p_hi[b], ref[b], y_ref[b], w_n[b], window, w_j[b], r_j[b],
                       net_lo, net_hi, kappa, dt, rooms, out[b])
        if rows[0].shape[1] > 0:
            share_rows(p_lo[b], p_hi[b], ref[b], w_n[b], window, w_j[b], r_j[b], net_lo,
                       net_hi, dt, ROW_BIG, pts, n_pts, rows[0][b], rows[1][b], rows[2][b],
                       rows[3][b])


@kernel
def row_scratch(rows, n_rows):  # pragma: no cover
    """Scratch points ``(T, 4, n_rows, 2)`` and counts ``(T, 4)`` of :func:`share_rows` for
    the buffers ``rows`` (empty when ``T = 0``: no rows wanted)."""
    n_t = rows[0].shape[1]
    return np.empty((n_t, 4, n_rows, 2)), np.zeros((n_t, 4), dtype=np.int64)


ROW_BIG = 1e6
"""Largest normalised coefficient of :func:`share_rows` (per kW or kWh): a room below
``1e-6`` kW (kWh) per unit of deviation closes its variable instead."""


@kernel
def scenario_chain(params, station, consts, net_lo, net_hi, grid, deviation, sums, out,
                     misfit, feasible, rows):  # pragma: no cover
    """The whole per-scenario chain, one scenario at a time in cache-sized scratch arrays.

    Per scenario ``m``: vehicle batteries (``vehicle_rows``), anchors, station ``theta`` in
    the network box (``J`` rows of ``net_lo``; none: ``theta = 0.5``), the share policy,
    station sums ``sums[m] (5, J, T)`` of the reference power ``r``, the shares ``omega``
    (0 without ``deviation``), ``Y^-``, ``Y^+`` and the station load above the box, and with
    ``deviation`` the inner battery ``out[m] (4, T)`` (:func:`deviation_rows`) and, with
    ``rows`` of ``T > 0`` (:func:`share_rows`: ``(power_coef (M, T, 4, K), energy_coef,
    n_rows (M, T, 4), limits (M, 4, T))``), the scenario's deliverability rows.
    ``consts = (eta_ch, eta_dis, dt, t0, tau, gamma, kappa)``; ``params (M, 9, N)``,
    ``station (M, N)``.
    """
    eta_c, eta_d, dt, t0, tau, gamma, kappa = consts
    n_veh, n_t, n_j = params.shape[2], out.shape[2], net_lo.shape[0]
    vb = np.empty((6, n_veh, n_t))
    active = np.empty((n_veh, n_t), dtype=np.bool_)
    ok = np.empty(n_veh, dtype=np.bool_)
    window = np.empty((n_veh, 2), dtype=np.int64)
    rates = np.empty((3, n_veh))
    prof = np.empty((3, n_j, n_t))
    theta = np.full(sums.shape[2], 0.5)
    th_n = np.empty(n_veh)
    pol = np.empty((3, n_veh, n_t))  # y_ref, omega, r
    rooms = np.empty((3, n_veh + n_j, n_t))
    pts, n_pts = row_scratch(rows, n_veh + n_j)
    for m in range(params.shape[0]):
        vehicle_rows(params[m], eta_c, eta_d, dt, int(t0), vb, active, ok, window)
        feasible[m] = ok.all()
        anchor_rates(vb[0], vb[1], vb[4], vb[5], active, window, dt, rates)
        if n_j:
            prof[:] = 0.0
            station_anchors(vb[0], vb[1], active, window, rates, station[m], prof)
            fit_theta_columns(prof, grid, net_lo, net_hi, theta, misfit[m], sums[m, 4])
        for n in range(n_veh):
            th_n[n] = theta[station[m, n]]
        policy_rows(vb[0], vb[1], vb[4], vb[5], active, window, rates, th_n, tau, gamma, dt,
                    pol[0], pol[1], pol[2], deviation)
        station_add(pol[2], station[m], sums[m, 0])
        station_add(pol[1], station[m], sums[m, 1])
        station_add(vb[4], station[m], sums[m, 2])
        station_add(vb[5], station[m], sums[m, 3])
        if deviation:
            deviation_rows(vb[0], vb[1], pol[2], pol[0], pol[1], window, sums[m, 1, :n_j],
                           sums[m, 0, :n_j], net_lo, net_hi, kappa, dt, rooms, out[m])
        if deviation and rows[0].shape[1] > 0:
            share_rows(vb[0], vb[1], pol[2], pol[1], window, sums[m, 1, :n_j],
                       sums[m, 0, :n_j], net_lo, net_hi, dt, ROW_BIG, pts, n_pts, rows[0][m],
                       rows[1][m], rows[2][m], rows[3][m])


# --------------------------------------------------- greedy discard (flexibility.discard)


@kernel
def _advance(srt, keep, p, c):  # pragma: no cover
    """Move pointer ``p`` of column ``c`` forward to the next kept scenario (or past the end)."""
    m = srt.shape[0]
    while p < m and not keep[srt[p, c]]:
        p += 1
    return p


@kernel
def greedy_drops(srt, vals, keep, n_min, dropped):  # pragma: no cover
    """The greedy loop of ``discard.discard_order`` on the sorted columns, compiled.

    Per column ``c`` pointers ``p1, p2`` at its smallest and second-smallest kept entries; the
    gain of dropping scenario ``s`` is ``sum_c [first_c = s] (vals[p2_c] - vals[p1_c])``
    (summed in column order); the largest gain (first on ties) is dropped until ``n_min``
    remain. Writes the drops to ``dropped`` and returns their number.
    """
    m, n_c = srt.shape
    p1 = np.empty(n_c, dtype=np.int64)
    p2 = np.empty(n_c, dtype=np.int64)
    for c in range(n_c):
        p1[c] = _advance(srt, keep, 0, c)
        p2[c] = _advance(srt, keep, p1[c] + 1, c)
    gain = np.empty(m)
    n_kept, n_drop = keep.sum(), 0
    while n_kept > n_min:
        gain[:] = 0.0
        for c in range(n_c):
            gain[srt[p1[c], c]] += vals[min(p2[c], m - 1), c] - vals[p1[c], c]
        drop, best = -1, -np.inf
        for s in range(m):
            g = gain[s] if keep[s] else -np.inf
            if drop < 0 or g > best:
                drop, best = s, g
        keep[drop] = False
        dropped[n_drop] = drop
        n_drop += 1
        n_kept -= 1
        for c in range(n_c):
            if srt[p1[c], c] == drop:
                p1[c] = p2[c]
            p1[c] = _advance(srt, keep, p1[c], c)
            p2[c] = _advance(srt, keep, max(p2[c], p1[c] + 1), c)
    return n_drop
