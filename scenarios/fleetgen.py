"""From behaviour samples to fleets: timing on the interval grid, SOC to energy, V2G willingness.

Discretisation (documented once): a session arriving at minute ``t_arr`` and leaving at
``t_dep`` (minutes from the horizon start) is controllable for the whole intervals it covers,
``a = ceil(t_arr / dt)`` to ``d = floor(t_dep / dt)`` (exclusive); a session covering no whole
interval has zero dwell and no flexibility. Each station receives ``n_ev`` sessions per day;
with ``previous_day_carry_over`` the previous day's sessions still plugged in at the horizon start
are included (their arrivals are negative), so a 24-hour horizon sees the overnight fleet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flexibility.fleet import Fleet
from scenarios.behaviour import BehaviourModel
from scenarios.config import EVParams, Horizon

DAY_MIN = 1440.0


@dataclass(frozen=True)
class SessionDraw:
    """Sampled sessions of one station, arrays of shape ``(M, N)``.

    Attributes:
        arrival_min: Arrival in minutes from the horizon start (negative: before it).
        dwell_min: Connection duration in minutes.
        soc_init: State of charge at plug-in.
        v2g: Willing to discharge.
    """

    arrival_min: np.ndarray
    dwell_min: np.ndarray
    soc_init: np.ndarray
    v2g: np.ndarray


def _to_horizon(sample: np.ndarray, horizon: Horizon, day: int) -> tuple[np.ndarray, ...]:
    """Arrival minute of day -> minutes from horizon start on day ``day`` (0 = first day)."""
    arr = (sample[..., 0] - horizon.start_min) % DAY_MIN + day * DAY_MIN
    return arr, sample[..., 1], sample[..., 2]


def _days(horizon: Horizon) -> range:
    n_days = math.ceil(horizon.n_intervals * horizon.dt_min / DAY_MIN)
    return range(-1 if horizon.previous_day_carry_over else 0, n_days)


def draw_sessions(model: BehaviourModel, horizon: Horizon, n_ev: int, n_scenarios: int,
                  v2g_share: float, rng: np.random.Generator) -> SessionDraw:
    """Sample ``n_scenarios`` days of ``n_ev`` sessions per day (plus carry-over)."""
    parts = []
    for day in _days(horizon):
        sample = model.sample(rng, (n_scenarios, n_ev))
        v2g = rng.random((n_scenarios, n_ev)) < v2g_share
        parts.append((*_to_horizon(sample, horizon, day), v2g))
    return SessionDraw(*(np.concatenate(cols, axis=1) for cols in zip(*parts, strict=True)))


def draw_sessions_after(model: BehaviourModel, horizon: Horizon, n_future: dict[int, int],
                        after_min: float, n_scenarios: int, v2g_share: float,
                        rng: np.random.Generator) -> SessionDraw:
    """Sample the sessions still to come after ``after_min`` (minutes from horizon start).

    Args:
        model: Behaviour model.
        horizon: Study horizon.
        n_future: Number of sessions yet to arrive, per day index.
        after_min: Observation time; arrivals on its day are conditioned to come later.
        n_scenarios: Number of sampled scenarios M.
        v2g_share: Probability that a vehicle offers discharging.
        rng: Random stream.
    """
    parts = []
    obs_day = int(after_min // DAY_MIN)
    for day, count in sorted(n_future.items()):
        if count == 0:
            continue
        if day == obs_day:
            sample = model.sample_arriving_after(rng, (n_scenarios, count),
                                                 after_min - day * DAY_MIN, horizon.start_min)
        else:
            sample = model.sample(rng, (n_scenarios, count))
        v2g = rng.random((n_scenarios, count)) < v2g_share
        parts.append((*_to_horizon(sample, horizon, day), v2g))
    if not parts:
        empty = np.zeros((n_scenarios, 0))
        return SessionDraw(empty, empty, empty, empty.astype(bool))
    return SessionDraw(*(np.concatenate(cols, axis=1) for cols in zip(*parts, strict=True)))


def fleet_from_sessions(draw: SessionDraw, ev: EVParams, horizon: Horizon) -> Fleet:
    """The station fleet of a draw (shape ``(M, N)``)."""
    dt = float(horizon.dt_min)
    cap = ev.capacity_kwh
    a = np.ceil(draw.arrival_min / dt - 1e-9).astype(np.int64)
    d = np.floor((draw.arrival_min + draw.dwell_min) / dt + 1e-9).astype(np.int64)
    return Fleet(
        arrival_idx=a,
        departure_idx=np.maximum(d, a),  # shorter than one whole interval: zero dwell
        e_init_kwh=draw.soc_init * cap,
        e_min_kwh=np.full(draw.soc_init.shape, ev.soc_min * cap),
        e_max_kwh=np.full(draw.soc_init.shape, ev.soc_max * cap),
        e_req_kwh=np.full(draw.soc_init.shape, ev.soc_departure_min * cap),
        p_ch_max_kw=np.full(draw.soc_init.shape, ev.p_ch_max_kw),
        p_dis_max_kw=np.where(draw.v2g, ev.p_dis_max_kw, 0.0),
        eta_ch=ev.eta_ch, eta_dis=ev.eta_dis, dt_h=horizon.dt_h,
    )


def session_day(draw: SessionDraw) -> np.ndarray:
    """Day index (0 = first horizon day, -1 = carry-over) of each session."""
    return np.floor(draw.arrival_min / DAY_MIN).astype(np.int64)


def observe_at(fleet: Fleet, t_obs: int) -> Fleet:
    """The fleet as seen at interval ``t_obs`` under immediate (uncontrolled) charging.

    Vehicles plugged in by ``t_obs`` charge at full power from plug-in until ``hi``, so their
    energy at ``t_obs`` is ``min(hi, e0 + eta_ch P_ch dt (t_obs - a))``; the returned fleet
    starts there (``arrival_idx = t_obs``). Use it for vehicles with ``a <= t_obs < d``.
    """
    since = np.maximum(t_obs - fleet.arrival_idx, 0)
    e_now = np.minimum(fleet.upper_energy_kwh(), fleet.e_init_kwh + fleet.r_ch_kwh * since)
    return Fleet(arrival_idx=np.maximum(fleet.arrival_idx, t_obs),
                 departure_idx=fleet.departure_idx, e_init_kwh=e_now,
                 e_min_kwh=fleet.e_min_kwh, e_max_kwh=fleet.e_max_kwh,
                 e_req_kwh=fleet.e_req_kwh, p_ch_max_kw=fleet.p_ch_max_kw,
                 p_dis_max_kw=fleet.p_dis_max_kw, eta_ch=fleet.eta_ch, eta_dis=fleet.eta_dis,
                 dt_h=fleet.dt_h)


__all__ = ["SessionDraw", "draw_sessions", "draw_sessions_after",
           "fleet_from_sessions", "observe_at", "session_day"]
