"""A validation that can fail: realised users deviate; calls on earlier boundaries are checked.

**Deviations of the realised day** (:class:`Deviations`, applied to the realised EVs only,
never to the forecast pools the envelopes are built from):

* **no-shows** — a forecast session of the horizon's days does not happen, with probability
  ``no_show_prob``. *From the data*: on weekdays the Perth & Kinross AC session count of a day
  falls short of its 28-day running mean by ``E[max(0, 1 - N_d / mean_28d)] = 0.086`` on
  average (:func:`no_show_from_sessions`), i.e. 8.6 % of the sessions a forecast of the
  average day expects do not materialise. Sessions carried over from the previous day (already
  plugged in at the start) always show.
* **early departures** — with probability ``early_departure_prob`` the user leaves after a
  fraction ``f ~ U(early_fraction_min, 1)`` of the dwell they declared at plug-in (snapped down
  to the interval grid, at least one whole interval after the first controllable one); the
  station plans with the declared departure until the EV is gone (``agents.ev.EVAgent``
  carries both: ``declared_departure_min`` and the actual ``departure_min``). *Assumption*: the data
  record actual departures only, never the intended ones, so neither the share (10 %) nor the
  spread of the cut (half the dwell at most) can be taken from them.
* **arrival-SOC errors** — the SOC at arrival is the forecast model's draw plus
  ``N(0, soc_error_std)``, clipped to ``[soc_floor, 1]``. *Assumption*: the data hold delivered
  energy, not SOC (the behaviour model derives SOC from a habitual target, see
  ``scenarios.sessions``), so the error cannot be measured; 0.05 (3 kWh on 60 kWh) is our
  choice. The station sees the true energy at plug-in.

The parameters are defaults here (``DEFAULT_DEVIATIONS``); ``Deviations.none()`` switches them
off. The scenario's ``[simulation]`` section does not carry them yet (``scenarios.config`` is
not wired for them).

**Layers a call is checked against** (:func:`layer_validation`): ``reserve`` (the day-ahead
reserve product's power rows around the baseline the stations declared with the tick's boundary,
``flexibility.reserve``), ``da`` (the absolute day-ahead boundary), ``prev`` (the boundary
published at tick ``k - 1`` for interval ``k``; at ``k = 0`` the DA boundary, the last one
published before the horizon) and ``rt`` (the boundary published at tick ``k``). Per layer: the
**hold rate** is the share of calls inside that layer's boundary for interval ``k`` that were
delivered within 1 % (``environment.records.DELIVERY_TOL``), and the **undelivered energy**
``sum |call - delivered| dt`` over those calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scenarios.fleetgen import SessionDraw

LAYERS = ("reserve", "da", "prev", "rt")
INSIDE_TOL_KW = 1e-6
POWER_TOL_KW = 1e-3  # differences below 1 W are numerical noise, not undelivered power


@dataclass(frozen=True)
class Deviations:
    """How the realised day deviates from the forecast (see module docstring).

    Attributes:
        no_show_prob: Probability that a forecast session of the horizon does not happen.
        early_departure_prob: Probability that a user leaves before the declared departure.
        early_fraction_min: Least fraction of the declared dwell an early leaver stays.
        soc_error_std: Standard deviation of the arrival-SOC error (fraction of capacity).
        soc_floor: Lowest SOC after the error.
    """

    no_show_prob: float = 0.086
    early_departure_prob: float = 0.10
    early_fraction_min: float = 0.5
    soc_error_std: float = 0.05
    soc_floor: float = 0.05

    def __post_init__(self) -> None:
        for name in ("no_show_prob", "early_departure_prob", "early_fraction_min",
                     "soc_floor"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.soc_error_std < 0:
            raise ValueError(f"soc_error_std must be >= 0, got {self.soc_error_std}")

    @classmethod
    def none(cls) -> Deviations:
        """The realised day as forecast (no deviations)."""
        return cls(0.0, 0.0, 1.0, 0.0)


DEFAULT_DEVIATIONS = Deviations()


@dataclass(frozen=True)
class RealisedSessions:
    """The realised sessions of one station (one day draw ``(1, N)`` after deviations).

    Attributes:
        draw: Sessions that happen, with their realised arrival SOC and declared dwell.
        actual_departure_min: When each user really leaves (minutes from horizon start).
        kept: Index of each realised session in the forecast draw.
    """

    draw: SessionDraw
    actual_departure_min: np.ndarray
    kept: np.ndarray


def apply_deviations(day: SessionDraw, dev: Deviations, dt_min: float,
                     rng: np.random.Generator) -> RealisedSessions:
    """Apply no-shows, early departures and SOC errors to a realised day ``(1, N)``.

    The draws are taken for every session in a fixed order (no-show, early flag, fraction,
    SOC error), so the stream layout does not depend on the outcomes.
    """
    n = day.arrival_min.shape[-1]
    u_show, u_early, u_frac = rng.random(n), rng.random(n), rng.random(n)
    e_soc = rng.standard_normal(n)
    arr, dwell = day.arrival_min[0], day.dwell_min[0]
    shows = (arr < 0) | (u_show >= dev.no_show_prob)
    frac = np.where(u_early < dev.early_departure_prob,
                    dev.early_fraction_min + u_frac * (1.0 - dev.early_fraction_min), 1.0)
    declared = arr + dwell
    early = np.floor((arr + frac * dwell) / dt_min + 1e-9) * dt_min
    first = (np.ceil(np.maximum(arr, 0.0) / dt_min - 1e-9) + 1.0) * dt_min
    actual = np.where(frac < 1.0, np.minimum(declared, np.maximum(early, first)), declared)
    soc = day.soc_init[0]
    if dev.soc_error_std > 0:
        soc = np.clip(soc + dev.soc_error_std * e_soc, dev.soc_floor, 1.0)
    draw = SessionDraw(arrival_min=arr[shows][None], dwell_min=dwell[shows][None],
                       soc_init=soc[shows][None], v2g=day.v2g[0][shows][None])
    return RealisedSessions(draw=draw, actual_departure_min=actual[shows],
                            kept=np.flatnonzero(shows))


def no_show_from_sessions(arrival: pd.Series, window_days: int = 28) -> float:
    """Mean relative weekday deficit of daily session counts below their running mean.

    Args:
        arrival: Arrival timestamps of the (cleaned) sessions.
        window_days: Window of the centred running mean (removes the seasonal trend).
    """
    date = pd.to_datetime(arrival).dt.normalize()
    days = pd.date_range(date.min(), date.max())
    count = date.value_counts().reindex(days, fill_value=0).sort_index()
    mean = count.rolling(window_days, center=True, min_periods=7).mean()
    rel = (count / mean)[count.index.dayofweek < 5]
    return float(np.maximum(0.0, 1.0 - rel).mean())


def beyond_tol(diff_kw: np.ndarray) -> np.ndarray:
    """``|diff|`` where it exceeds ``POWER_TOL_KW``, else 0 (kW)."""
    gap = np.abs(np.asarray(diff_kw, dtype=float))
    return np.where(gap > POWER_TOL_KW, gap, 0.0)


def inside(call_kw: np.ndarray, lo_kw: np.ndarray, hi_kw: np.ndarray) -> np.ndarray:
    """Whether each call lies inside ``[lo, hi]`` (NaN bounds: outside)."""
    with np.errstate(invalid="ignore"):
        return (call_kw >= lo_kw - INSIDE_TOL_KW) & (call_kw <= hi_kw + INSIDE_TOL_KW)


def layer_validation(all_ticks: pd.DataFrame, dt_h: float) -> dict[str, dict[str, float | None]]:
    """Hold rate and undelivered energy per layer from the total (``station = ALL``) tick rows.

    Returns:
        ``{"hold_rate": {layer: rate or None}, "undelivered_kwh": {layer: kWh},
        "calls_inside": {layer: count}, "schedule": {"inside_rt_share": share}}`` — the
        last is the share of ticks whose absolute day-ahead schedule ``R_hat`` lay inside the
        published boundary (the schedule's own hold rate; ``None`` without the column).
    """
    a = all_ticks
    gap_kw = np.abs(a.call_kw.to_numpy() - a.delivered_kw.to_numpy())
    gap = beyond_tol(gap_kw) * dt_h
    ok = a.delivered_ok.to_numpy(bool)
    out: dict[str, dict] = {"hold_rate": {}, "undelivered_kwh": {}, "calls_inside": {}}
    for layer in LAYERS:
        col = f"inside_{layer}"
        m = a[col].to_numpy(bool) if col in a else np.zeros(len(a), dtype=bool)
        out["hold_rate"][layer] = float(ok[m].mean()) if m.any() else None
        out["undelivered_kwh"][layer] = float(gap[m].sum())
        out["calls_inside"][layer] = int(m.sum())
    sched = a.schedule_inside_rt.to_numpy(bool) if "schedule_inside_rt" in a else None
    out["schedule"] = {"inside_rt_share": float(sched.mean()) if sched is not None and sched.size
                       else None}
    return out
