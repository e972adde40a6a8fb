"""Charging-station agent: chargers, connected EVs, rolling RT envelope, set-point split.

**RT envelope at tick k** (the station-layer math of ``flexibility``): the EVs plugged in are
known exactly — energy now, departure interval — and give an exact envelope over ``[k, T)``;
later arrivals come from a pool of M sampled days. The pool's envelopes are pre-aggregated per
arrival interval ``g`` and summed from the back, ``R[m, g] = sum_{g' >= g} E[m, g']``, so the
future part at tick ``k`` is ``R[:, k + 1]`` and its α inner envelope one quantile over ``m``.
The same holds for the deliverable inner boxes (``flexibility.packaging``).

**Set-point split.** The station gives each controllable EV ``p_n = l_n + theta (u_n - l_n)``
with one ``theta`` for the station, ``[l_n, u_n]`` the EV's deliverable box recomputed from its
current energy and remaining dwell. Any sequence of such set-points keeps every departure
requirement that is reachable at plug-in (see ``flexibility.packaging``), so no requirement is
ever broken by dispatch; a station set-point outside ``[sum l, sum u]`` is clipped to it (the
difference is the undelivered part of a call).
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np
import simpy

from agents.ev import EVAgent
from flexibility.aggregation import Envelope, probabilistic_envelope, station_envelope
from flexibility.fleet import Fleet, FloatArray
from flexibility.packaging import (
    InnerBox,
    disaggregate,
    inner_quantile,
    station_inner_box,
    vehicle_boxes,
)


@dataclass(frozen=True)
class FuturePool:
    """Suffix sums over arrival intervals of a pool of sampled days (float32, ``(M, T+2, T)``).

    Attributes:
        env: Envelope arrays ``R[m, g, t]`` (``g = T + 1`` is empty).
        box_lo_kw: Inner-box lower bounds, same layout.
        box_hi_kw: Inner-box upper bounds.
        dt_h: Interval length.
    """

    env: Envelope
    box_lo_kw: np.ndarray
    box_hi_kw: np.ndarray
    dt_h: float

    @classmethod
    def build(cls, fleet: Fleet, n_intervals: int) -> FuturePool:
        """Aggregate a pool fleet ``(M, N)`` per arrival interval and sum from the back."""
        T = n_intervals
        group = np.clip(fleet.arrival_idx, 0, T)
        env = station_envelope(fleet, T, group=group, n_groups=T + 1)
        box = station_inner_box(fleet, T, group=group, n_groups=T + 1)

        def suffix(x: np.ndarray) -> np.ndarray:
            out = np.zeros((x.shape[0], T + 2, T), dtype=np.float32)
            rev = np.ascontiguousarray(x[:, ::-1], dtype=np.float32)
            np.cumsum(rev, axis=1, out=rev)
            out[:, :T + 1] = rev[:, ::-1]
            return out

        return cls(env=env.map_arrays(suffix), box_lo_kw=suffix(box.lo_kw),
                   box_hi_kw=suffix(box.hi_kw), dt_h=fleet.dt_h)

    def future(self, k: int) -> tuple[Envelope, InnerBox]:
        """Scenario envelopes and boxes over ``[k, T)`` of the vehicles arriving after tick k."""
        env = self.env.map_arrays(lambda x: x[:, k + 1, k:].astype(np.float64))
        env = Envelope(env.p_max_kw, env.p_min_kw, env.e_min_kwh, env.e_max_kwh, env.ds_kwh,
                       env.dt_h, t0=k)
        box = InnerBox(self.box_lo_kw[:, k + 1, k:].astype(np.float64),
                       self.box_hi_kw[:, k + 1, k:].astype(np.float64), self.dt_h, t0=k)
        return env, box

    def day_ahead(self) -> tuple[Envelope, InnerBox]:
        """Scenario envelopes and boxes of the whole day (every arrival)."""
        env = self.env.map_arrays(lambda x: x[:, 0].astype(np.float64))
        box = InnerBox(self.box_lo_kw[:, 0].astype(np.float64),
                       self.box_hi_kw[:, 0].astype(np.float64), self.dt_h)
        return env, box


class StationAgent(mesa.Agent):
    """A charging station.

    Args:
        model: The co-simulation model.
        name: Station name.
        chargers: Number of charge points (simpy ``Resource`` capacity).
        pool: Future-arrival pool.
        alpha: Confidence level of the inner envelopes.
    """

    def __init__(self, model: mesa.Model, name: str, chargers: int, pool: FuturePool,
                 alpha: float) -> None:
        super().__init__(model)
        self.name = name
        self.chargers = simpy.Resource(model.env, capacity=chargers)
        self.connected: list[EVAgent] = []
        self.pool = pool
        self.alpha = alpha

    # -- EV events -------------------------------------------------------------------------
    def plug(self, ev: EVAgent) -> None:
        """An EV got a charger."""
        self.connected.append(ev)

    def unplug(self, ev: EVAgent) -> None:
        """An EV left."""
        self.connected.remove(ev)

    @property
    def queue_length(self) -> int:
        """EVs waiting for a charger."""
        return len(self.chargers.queue)

    # -- envelopes -------------------------------------------------------------------------
    def controllable(self, k: int) -> list[EVAgent]:
        """EVs plugged in for the whole interval ``k`` (in plug-in order)."""
        return [ev for ev in self.connected if ev.controllable_at(k)]

    def known_fleet(self, k: int) -> Fleet | None:
        """The plugged-in EVs as a fleet starting at interval ``k`` (``None`` if empty)."""
        evs = [ev for ev in self.connected if ev.departure_idx() > k]
        if not evs:
            return None
        s = [ev.spec for ev in evs]
        arr = lambda f: np.array([getattr(x, f) for x in s])  # noqa: E731
        first = s[0]
        return Fleet(arrival_idx=np.full(len(evs), k, dtype=np.int64),
                     departure_idx=np.array([ev.departure_idx() for ev in evs], dtype=np.int64),
                     e_init_kwh=np.array([ev.e_kwh for ev in evs]), e_min_kwh=arr("e_min_kwh"),
                     e_max_kwh=arr("e_max_kwh"), e_req_kwh=arr("e_req_kwh"),
                     p_ch_max_kw=arr("p_ch_max_kw"), p_dis_max_kw=arr("p_dis_max_kw"),
                     eta_ch=first.eta_ch, eta_dis=first.eta_dis, dt_h=self.pool.dt_h)

    def rt_update(self, k: int, n_intervals: int) -> tuple[Envelope, InnerBox]:
        """RT envelope and deliverable box over ``[k, T)`` (known EVs + α-quantile of arrivals)."""
        fut_env, fut_box = self.pool.future(k)
        env = probabilistic_envelope(fut_env, self.alpha)
        box = inner_quantile(fut_box, self.alpha)
        fleet = self.known_fleet(k)
        if fleet is not None:
            rest = n_intervals - k
            env = env + station_envelope(fleet, rest, t0=k)
            kb = station_inner_box(fleet, rest, t0=k)
            box = InnerBox(box.lo_kw + kb.lo_kw, box.hi_kw + kb.hi_kw, box.dt_h, t0=k)
        return env, box

    # -- dispatch --------------------------------------------------------------------------
    def ev_boxes(self, k: int) -> tuple[list[EVAgent], FloatArray, FloatArray]:
        """Controllable EVs at ``k`` and their deliverable boxes ``[l, u]`` (kW)."""
        evs = self.controllable(k)
        fleet = self.known_fleet(k)
        if not evs or fleet is None:
            return [], np.zeros(0), np.zeros(0)
        lo, hi = vehicle_boxes(fleet)
        plugged = [ev for ev in self.connected if ev.departure_idx() > k]
        index = {id(ev): i for i, ev in enumerate(plugged)}
        rows = np.array([index[id(ev)] for ev in evs])
        return evs, lo[rows], hi[rows]

    def dispatch(self, k: int, p_kw: float, dt_h: float
                 ) -> tuple[float, list[EVAgent], FloatArray]:
        """Split a station set-point among its EVs and apply it for interval ``k``.

        Returns:
            The delivered station power, the EVs dispatched and their set-points.
        """
        evs, lo, hi = self.ev_boxes(k)
        if not evs:
            return 0.0, [], np.zeros(0)
        p = disaggregate(np.array([p_kw]), lo[None], hi[None])[0]
        for ev, pn in zip(evs, p, strict=True):
            ev.apply(float(pn), dt_h)
        return float(p.sum()), evs, p
