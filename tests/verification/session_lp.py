"""An independent deliverability oracle: one LP over the plugged-in vehicles from raw rows.

Nothing of the product is used here (no surrogate, no package, no split rule): only numpy,
scipy's sparse matrices and its HiGHS LP, and the raw per-session parameters a test reads from
the recorded tables.

For the vehicles plugged in at tick ``k`` (energy ``e_n`` now, declared departure interval
``d_n``) the LP has charging and discharging powers ``c_{n,t}, u_{n,t} >= 0`` for
``t = k .. d_n - 1`` and asks whether some schedule

* keeps ``c <= P_ch``, ``u <= P_dis`` (0 without V2G),
* keeps the energy ``e_{n,t+1} = e_{n,t} + (eta_ch c - u / eta_dis) dt`` within
  ``[min(E_min, e_n), max(E_max, e_n)]``,
* ends at ``e_{n,d_n} >= q_n``, the requirement as far as it was reachable **at plug-in** (from
  the arrival energy at full charging power over the declared dwell): a requirement an earlier
  dispatch made unreachable leaves the LP infeasible,
* and draws the aggregate ``sum_n (c_{n,k} - u_{n,k}) = target`` in interval ``k``.

Simultaneous charging and discharging is not excluded (an LP cannot), so the oracle is
optimistic near the top of the energy band only; it never calls a deliverable target
undeliverable.

:func:`least_draw` is the day-ahead counterpart: over the sampled sessions of a whole day (from
arrival with the arrival energy, no set-points), each vehicle's least net draw in one interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog


@dataclass(frozen=True)
class Plugged:
    """Raw rows of the vehicles plugged in at one tick (arrays ``(N,)``)."""

    e_kwh: np.ndarray
    departure_idx: np.ndarray
    e_min_kwh: np.ndarray
    e_max_kwh: np.ndarray
    e_req_kwh: np.ndarray
    p_ch_kw: np.ndarray
    p_dis_kw: np.ndarray
    q_kwh: np.ndarray


def _dynamics(n_steps: np.ndarray, e0_kwh: np.ndarray, eta_ch: float, eta_dis: float,
              dt_h: float) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:
    """Energy rows of vehicles stacked step by step (variables ``[c, u, x]``, ``3 n``).

    ``x_i - x_{i-1} - eta_ch dt c_i + dt / eta_dis u_i = e0`` at a vehicle's first step, ``0``
    after it.

    Returns:
        The vehicle of every step, each vehicle's first step, the rows and their right side.
    """
    n = int(n_steps.sum())
    veh = np.repeat(np.arange(n_steps.size), n_steps)
    first = np.concatenate([[0], np.cumsum(n_steps)[:-1]]).astype(int)
    is_first = np.zeros(n, dtype=bool)
    is_first[first] = True
    i = np.arange(n)
    rows = [i, i, i, i[~is_first]]
    cols = [i, n + i, 2 * n + i, 2 * n + i[~is_first] - 1]
    vals = [np.full(n, -eta_ch * dt_h), np.full(n, dt_h / eta_dis), np.ones(n),
            -np.ones(int((~is_first).sum()))]
    a_dyn = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, 3 * n))
    return veh, first, a_dyn, np.where(is_first, e0_kwh[veh], 0.0)


def deliverable(v: Plugged, k: int, target_kw: float, eta_ch: float, eta_dis: float,
                dt_h: float, tol_kw: float = 1e-6) -> bool:
    """Whether the plugged-in vehicles can draw ``target_kw`` in interval ``k`` (module doc).

    Variables per vehicle and step: ``c``, ``u`` and the energy ``x`` after the step; the
    dynamics are equality rows, the energy band and the requirement are variable bounds.
    """
    n_steps = np.maximum(v.departure_idx - k, 1).astype(int)
    n = int(n_steps.sum())
    veh, first, a_dyn, b_dyn = _dynamics(n_steps, v.e_kwh, eta_ch, eta_dis, dt_h)
    lo_e = np.minimum(v.e_min_kwh, v.e_kwh)
    hi_e = np.maximum(v.e_max_kwh, v.e_kwh)
    q = v.q_kwh
    a_sum = sp.csr_matrix((np.concatenate([np.ones(first.size), -np.ones(first.size)]),
                           (np.zeros(2 * first.size, dtype=int),
                            np.concatenate([first, n + first]))), shape=(1, 3 * n))
    a_eq = sp.vstack([a_dyn, a_sum]).tocsr()
    last = np.zeros(n, dtype=bool)
    last[first + n_steps - 1] = True
    bounds = np.zeros((3 * n, 2))
    bounds[:n, 1] = v.p_ch_kw[veh]
    bounds[n:2 * n, 1] = v.p_dis_kw[veh]
    bounds[2 * n:, 0] = np.where(last, np.maximum(lo_e[veh], q[veh]), lo_e[veh]) - 1e-9
    bounds[2 * n:, 1] = hi_e[veh] + 1e-9
    for shift in (0.0, -tol_kw, tol_kw):
        res = linprog(np.zeros(3 * n), A_eq=a_eq, b_eq=np.concatenate([b_dyn,
                                                                       [target_kw + shift]]),
                      bounds=bounds, method="highs")
        if res.status == 0:
            return True
    return False


def plugged_at(evs, setpoints, k: int, dt_min: float, eta_ch: float, eta_dis: float,
               ev_params: dict[str, float], station: str | None = None) -> Plugged:
    """The vehicles plugged in at tick ``k`` from the ``evs`` and ``setpoints`` tables.

    Energy now is the arrival energy plus the set-points of intervals before ``k``, integrated
    here with the efficiencies; the departure interval is the declared one (what the station
    knows). ``ev_params``: ``e_min_kwh``, ``e_max_kwh``, ``p_ch_kw``, ``p_dis_kw``.
    """
    t_now = k * dt_min
    still = evs.left_min.isna() | (evs.left_min > t_now + 1e-9)  # NaN: plugged in at the end
    e = evs[(evs.plug_in_min <= t_now + 1e-9) & still]
    if station is not None:
        e = e[e.station == station]
    d = np.floor(e.declared_departure_min.to_numpy() / dt_min + 1e-9).astype(int)
    keep = d > k
    e, d = e[keep], d[keep]
    first = np.maximum(np.ceil(e.plug_in_min.to_numpy() / dt_min - 1e-9), 0).astype(int)
    before = setpoints[(setpoints.t < k) & setpoints.ev.isin(e.ev)]
    gain = np.where(before.p_kw >= 0, eta_ch * before.p_kw, before.p_kw / eta_dis) * dt_min / 60
    moved = before.assign(g=gain).groupby("ev").g.sum()
    e_now = e.e_arrival_kwh.to_numpy() + moved.reindex(e.ev).fillna(0.0).to_numpy()
    n = len(e)
    v2g = e.v2g.to_numpy(bool)
    e_arr = e.e_arrival_kwh.to_numpy()
    hi_plug = np.maximum(ev_params["e_max_kwh"], e_arr)
    reach = np.minimum(e_arr + eta_ch * ev_params["p_ch_kw"] * np.maximum(d - first, 0)
                       * dt_min / 60, hi_plug)
    return Plugged(e_kwh=e_now, departure_idx=d, q_kwh=np.minimum(e.e_req_kwh.to_numpy(), reach),
                   e_min_kwh=np.where(v2g, ev_params["e_min_kwh"], 0.0) * np.ones(n),
                   e_max_kwh=np.full(n, ev_params["e_max_kwh"]),
                   e_req_kwh=e.e_req_kwh.to_numpy(),
                   p_ch_kw=np.full(n, ev_params["p_ch_kw"]),
                   p_dis_kw=np.where(v2g, ev_params["p_dis_kw"], 0.0))


@dataclass(frozen=True)
class Sessions:
    """Raw rows of sampled sessions over a whole day (arrays ``(N,)``): arrival and departure
    interval (connected for ``a <= t < d``), energy at arrival, energy limits, requirement and
    power limits (``p_dis_kw`` 0 without V2G)."""

    arrival_idx: np.ndarray
    departure_idx: np.ndarray
    e_init_kwh: np.ndarray
    e_min_kwh: np.ndarray
    e_max_kwh: np.ndarray
    e_req_kwh: np.ndarray
    p_ch_kw: np.ndarray
    p_dis_kw: np.ndarray


def least_draw(s: Sessions, t: int, eta_ch: float, eta_dis: float, dt_h: float) -> np.ndarray:
    """Each vehicle's least net draw ``c_{n,t} - u_{n,t}`` in interval ``t`` over its whole-day
    schedules (kW, ``(N,)``; 0 for a vehicle not connected at ``t``).

    One LP over the vehicles connected at ``t``, from arrival (energy ``e_init``) to departure:
    ``0 <= c <= P_ch``, ``0 <= u <= P_dis``, the energy after every step within
    ``[min(E_min, e_init), max(E_max, e_init)]``, at departure at least the requirement as far
    as it is reachable at full charging power over the dwell, minimising ``sum_n (c_{n,t} -
    u_{n,t})``. The vehicles share no constraint, so at the optimum every vehicle draws its own
    least power and the per-vehicle values are read from the solution.
    """
    a, d = s.arrival_idx.astype(int), s.departure_idx.astype(int)
    on = np.flatnonzero((a <= t) & (t < d))
    out = np.zeros(a.size)
    if on.size == 0:
        return out
    a, d = a[on], d[on]
    e0 = s.e_init_kwh[on]
    lo_e = np.minimum(s.e_min_kwh[on], e0)
    hi_e = np.maximum(s.e_max_kwh[on], e0)
    p_ch, p_dis = s.p_ch_kw[on], s.p_dis_kw[on]
    q = np.maximum(np.minimum(s.e_req_kwh[on], e0 + eta_ch * p_ch * dt_h * (d - a)), lo_e)
    n_steps = d - a
    n = int(n_steps.sum())
    veh, first, a_eq, b_eq = _dynamics(n_steps, e0, eta_ch, eta_dis, dt_h)
    last = np.zeros(n, dtype=bool)
    last[first + n_steps - 1] = True
    bounds = np.zeros((3 * n, 2))
    bounds[:n, 1] = p_ch[veh]
    bounds[n:2 * n, 1] = p_dis[veh]
    bounds[2 * n:, 0] = np.where(last, q[veh], lo_e[veh])
    bounds[2 * n:, 1] = hi_e[veh]
    at_t = first + (t - a)  # the step of interval t per vehicle
    cost = np.zeros(3 * n)
    cost[at_t], cost[n + at_t] = 1.0, -1.0
    res = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"least-draw LP at interval {t}: {res.message}")
    out[on] = res.x[at_t] - res.x[n + at_t]
    return out
