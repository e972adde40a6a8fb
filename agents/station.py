"""Charging-station agent: chargers, its plugged-in fleet, rolling RT envelope, set-point split.

**The plugged-in fleet** is a structure of arrays (:class:`PluggedFleet`), one row per session
in plug-in order: energy now, first whole interval, declared departure interval, battery
parameters and the energy account. EVs notify the station by session id
(:meth:`StationAgent.plug`, :meth:`StationAgent.unplug`, see ``agents.session``); the station
integrates the set-points itself, so EV and station never call into each other's state.

**RT fleet at tick k**: the EVs plugged in are known exactly — energy now, declared
departure interval — and stand beside each sampled day of later arrivals from the station's
:class:`agents.pool.FuturePool` (:meth:`StationAgent.rt_fleet`); the grid agent packages the α
battery of these scenario fleets as the assessment does. The vehicle-box package instead reads
an exact envelope of the known EVs plus one α quantile over the pool's days
(:meth:`StationAgent.rt_update`).

**Set-point split.** The station gives each controllable EV ``p_n = l_n + theta (u_n - l_n)``
with one ``theta`` for the station. Under the α package ``[l_n, u_n]`` is the EV's exact range
of the interval (its surrogate battery over the remaining horizon, projected on ``k``); under
the vehicle-box package it is the EV's constant deliverable box (``flexibility.packaging``).
Either way every departure requirement that is reachable at plug-in stays reachable, so no
requirement is ever broken by dispatch; a station set-point outside ``[sum l, sum u]`` is
clipped to it (the difference is the undelivered part of a call). A session is controllable at
``k`` when it is plugged in for the whole interval (``a <= k < d``, ``a = ceil(t_plug / dt)``,
``d = floor(t_dep / dt)`` of the declared departure). Energy follows ``e += eta_ch p dt`` when
charging and ``e += p dt / eta_dis`` when discharging.
"""

from __future__ import annotations

from typing import Literal

import mesa
import numpy as np
import simpy

from agents.context import SimContext
from agents.pool import FuturePool
from agents.session import EVSpec, SessionOutcome
from flexibility.aggregation import Envelope, station_envelope
from flexibility.battery import projection_kw, vehicle_batteries
from flexibility.common import FloatArray, IntArray
from flexibility.fleet import Fleet
from flexibility.inner import FLEET_ARRAYS
from flexibility.packaging import (
    InnerBox,
    disaggregate,
    station_inner_box,
    vehicle_boxes,
)

__all__ = ["FuturePool", "PluggedFleet", "SplitRule", "StationAgent"]

SplitRule = Literal["vehicle-box", "one-step"]

_SPEC_FIELDS = ("e_min_kwh", "e_max_kwh", "e_req_kwh", "p_ch_max_kw", "p_dis_max_kw", "eta_ch",
                "eta_dis")


_INT_FIELDS = ("session_id", "first_idx", "departure_idx", "controlled_ticks")
_FLOAT_FIELDS = ("e_kwh", *_SPEC_FIELDS, "charged_kwh", "discharged_kwh")


def _column(buffer: str, row: int) -> property:
    """A field of :class:`PluggedFleet`: row ``row`` of a buffer, over the rows in use (a
    writable view)."""
    def get(self: PluggedFleet) -> np.ndarray:
        return getattr(self, buffer)[row, :self._n]
    return property(get)


class PluggedFleet:
    """The sessions plugged in at one station, one row each in plug-in order.

    The fields are views of two buffers (integers and floats, one column per session) with
    room to grow: a plug-in writes one column, a departure shifts the later columns by one, so
    the work per session is a few array operations whatever the number plugged in.

    Attributes:
        session_id: Session (EV agent) id.
        first_idx: First whole interval plugged in ``a``.
        departure_idx: Declared departure interval ``d`` (first interval not controllable).
        e_kwh: Battery energy now.
        e_min_kwh: Lower energy bound (V2G floor).
        e_max_kwh: Upper energy bound.
        e_req_kwh: Departure requirement.
        p_ch_max_kw: Charging limit.
        p_dis_max_kw: Discharging limit.
        eta_ch: Charging efficiency.
        eta_dis: Discharging efficiency.
        charged_kwh: Energy drawn from the grid so far.
        discharged_kwh: Energy fed to the grid so far.
        controlled_ticks: Intervals dispatched so far.
    """

    session_id = _column("_int", 0)
    first_idx = _column("_int", 1)
    departure_idx = _column("_int", 2)
    controlled_ticks = _column("_int", 3)
    e_kwh = _column("_float", 0)
    e_min_kwh = _column("_float", 1)
    e_max_kwh = _column("_float", 2)
    e_req_kwh = _column("_float", 3)
    p_ch_max_kw = _column("_float", 4)
    p_dis_max_kw = _column("_float", 5)
    eta_ch = _column("_float", 6)
    eta_dis = _column("_float", 7)
    charged_kwh = _column("_float", 8)
    discharged_kwh = _column("_float", 9)

    def __init__(self, capacity: int = 16) -> None:
        self._int = np.zeros((len(_INT_FIELDS), max(1, capacity)), dtype=np.int64)
        self._float = np.zeros((len(_FLOAT_FIELDS), max(1, capacity)))
        self._n = 0

    @classmethod
    def empty(cls, capacity: int = 16) -> PluggedFleet:
        """No session plugged in (room for ``capacity`` before the buffers grow)."""
        return cls(capacity)

    def __len__(self) -> int:
        return self._n

    def append(self, session_id: int, spec: EVSpec, e_kwh: float, first_idx: int,
               departure_idx: int) -> None:
        """Add a session as the last row."""
        n = self._n
        if n == self._int.shape[1]:  # full: double the room
            self._int = np.concatenate([self._int, np.zeros_like(self._int)], axis=1)
            self._float = np.concatenate([self._float, np.zeros_like(self._float)], axis=1)
        self._int[:, n] = (session_id, first_idx, departure_idx, 0)
        self._float[:, n] = (e_kwh, *(getattr(spec, name) for name in _SPEC_FIELDS), 0.0, 0.0)
        self._n = n + 1

    def row(self, session_id: int) -> int:
        """Row of a plugged-in session.

        Raises:
            KeyError: The session is not plugged in here.
        """
        rows = np.flatnonzero(self.session_id == session_id)
        if rows.size != 1:
            raise KeyError(f"session {session_id} is not plugged in")
        return int(rows[0])

    def outcome(self, row: int) -> SessionOutcome:
        """Energy account of one row."""
        return SessionOutcome(e_kwh=float(self.e_kwh[row]),
                              charged_kwh=float(self.charged_kwh[row]),
                              discharged_kwh=float(self.discharged_kwh[row]),
                              controlled_ticks=int(self.controlled_ticks[row]))

    def remove(self, row: int) -> None:
        """Drop one row (the others keep their order)."""
        n = self._n
        self._int[:, row:n - 1] = self._int[:, row + 1:n]
        self._float[:, row:n - 1] = self._float[:, row + 1:n]
        self._n = n - 1

    def known(self, k: int) -> IntArray:
        """Rows still plugged in (as declared) for interval ``k``, in plug-in order."""
        return np.flatnonzero(self.departure_idx > k)

    def controllable(self, k: int) -> IntArray:
        """Rows plugged in for the whole interval ``k``, in plug-in order."""
        return np.flatnonzero((self.first_idx <= k) & (k < self.departure_idx))

    def fleet(self, rows: IntArray, k: int, dt_h: float, eta_row: int | None = None) -> Fleet:
        """Rows as a fleet starting at interval ``k``.

        Args:
            rows: Rows taken (at least one).
            k: First interval.
            dt_h: Interval length.
            eta_row: Row whose efficiencies the fleet gets (default: the first taken).
        """
        e = int(rows[0]) if eta_row is None else eta_row
        return Fleet(arrival_idx=np.full(rows.size, k, dtype=np.int64),
                     departure_idx=self.departure_idx[rows], e_init_kwh=self.e_kwh[rows],
                     e_min_kwh=self.e_min_kwh[rows], e_max_kwh=self.e_max_kwh[rows],
                     e_req_kwh=self.e_req_kwh[rows], p_ch_max_kw=self.p_ch_max_kw[rows],
                     p_dis_max_kw=self.p_dis_max_kw[rows], eta_ch=float(self.eta_ch[e]),
                     eta_dis=float(self.eta_dis[e]), dt_h=dt_h)

    def apply(self, rows: IntArray, p_kw: FloatArray, dt_h: float) -> None:
        """Integrate one interval at net powers ``p_kw`` (charging positive) on ``rows``."""
        ch = p_kw >= 0.0
        r_ch, r_dis, p_ch, p_dis = rows[ch], rows[~ch], p_kw[ch], p_kw[~ch]
        self.e_kwh[r_ch] += self.eta_ch[r_ch] * p_ch * dt_h
        self.charged_kwh[r_ch] += p_ch * dt_h
        self.e_kwh[r_dis] += p_dis * dt_h / self.eta_dis[r_dis]
        self.discharged_kwh[r_dis] += -p_dis * dt_h
        self.controlled_ticks[rows] += 1


class StationAgent(mesa.Agent):
    """A charging station.

    Args:
        model: The mesa model the agent belongs to (registration only).
        ctx: The simulation context.
        name: Station name.
        chargers: Number of charge points (simpy ``Resource`` capacity).
        pool: Future-arrival pool (``None``: no forecast of later arrivals; dispatch only).
        alpha: Confidence level of the inner envelopes.
    """

    def __init__(self, model: mesa.Model, ctx: SimContext, name: str, chargers: int,
                 pool: FuturePool | None, alpha: float) -> None:
        super().__init__(model)
        self.ctx = ctx
        self._name = name
        self._chargers = simpy.Resource(ctx.env, capacity=chargers)
        self.plugged = PluggedFleet.empty()
        self.pool = pool
        self.alpha = alpha

    @property
    def name(self) -> str:
        """Station name."""
        return self._name

    @property
    def chargers(self) -> simpy.Resource:
        """The charge points."""
        return self._chargers

    # -- session events (agents.session.ChargePoint) -------------------------------------------
    def plug(self, session_id: int, spec: EVSpec, e_kwh: float, plug_in_min: float,
             departure_min: float) -> None:
        """A session got a charger (``departure_min``: declared departure)."""
        self.plugged.append(session_id, spec, e_kwh, self.ctx.first_whole_interval(plug_in_min),
                            self.ctx.departure_interval(departure_min))

    def unplug(self, session_id: int) -> SessionOutcome:
        """A session left; its final energy account."""
        row = self.plugged.row(session_id)
        out = self.plugged.outcome(row)
        self.plugged.remove(row)
        return out

    def outcome(self, session_id: int) -> SessionOutcome:
        """Energy account of a session still plugged in."""
        return self.plugged.outcome(self.plugged.row(session_id))

    @property
    def queue_length(self) -> int:
        """EVs waiting for a charger."""
        return len(self._chargers.queue)

    def controllable(self, k: int) -> IntArray:
        """Ids of the sessions plugged in for the whole interval ``k`` (in plug-in order)."""
        return self.plugged.session_id[self.plugged.controllable(k)]

    # -- envelopes -------------------------------------------------------------------------
    def known_fleet(self, k: int) -> Fleet | None:
        """The plugged-in EVs as a fleet starting at interval ``k`` (``None`` if empty)."""
        rows = self.plugged.known(k)
        return self.plugged.fleet(rows, k, self.ctx.dt_h) if rows.size else None

    def rt_fleet(self, k: int, n_days: int) -> Fleet:
        """Scenario fleets ``(M, N)`` over ``[k, T)``: the plugged-in EVs and later arrivals.

        Raises:
            ValueError: The station has no future-arrival pool.
        """
        if self.pool is None:
            raise ValueError(f"station {self.name}: no future-arrival pool to forecast with")
        fut = self.pool.later_arrivals(k, n_days)
        rows = self.plugged.known(k)
        if not rows.size:
            return fut
        known = self.plugged.fleet(rows, k, self.ctx.dt_h)
        m = fut.shape[0]
        arrays = {n: np.concatenate([np.broadcast_to(getattr(known, n), (m, rows.size)),
                                     np.broadcast_to(getattr(fut, n), fut.shape)], axis=-1)
                  for n in FLEET_ARRAYS}
        return Fleet(**arrays, eta_ch=fut.eta_ch, eta_dis=fut.eta_dis, dt_h=fut.dt_h)

    def rt_update(self, k: int) -> tuple[Envelope, InnerBox]:
        """RT envelope and deliverable box over ``[k, T)`` (known EVs + α-quantile of arrivals).

        Raises:
            ValueError: The station has no future-arrival pool.
        """
        if self.pool is None:
            raise ValueError(f"station {self.name}: no future-arrival pool to forecast with")
        env, box = self.pool.future_alpha(k)
        fleet = self.known_fleet(k)
        if fleet is not None:
            rest = self.ctx.n_intervals - k
            env = env + station_envelope(fleet, rest, t0=k)
            kb = station_inner_box(fleet, rest, t0=k)
            box = InnerBox(box.lo_kw + kb.lo_kw, box.hi_kw + kb.hi_kw, box.dt_h, t0=k)
        return env, box

    # -- dispatch --------------------------------------------------------------------------
    def ev_boxes(self, k: int) -> tuple[IntArray, FloatArray, FloatArray]:
        """Controllable sessions at ``k`` (ids) and their deliverable boxes ``[l, u]`` (kW)."""
        rows, lo, hi = self._boxes(k, "vehicle-box")
        return self.plugged.session_id[rows], lo, hi

    def _boxes(self, k: int, rule: SplitRule) -> tuple[IntArray, FloatArray, FloatArray]:
        rows = self.plugged.controllable(k)
        if not rows.size:
            return rows, np.zeros(0), np.zeros(0)
        # efficiencies of the first known session, as for the envelope (one per fleet)
        fleet = self.plugged.fleet(rows, k, self.ctx.dt_h, int(self.plugged.known(k)[0]))
        if rule == "vehicle-box":
            lo, hi = vehicle_boxes(fleet)
            return rows, lo, hi
        vb = vehicle_batteries(fleet, max(1, self.ctx.n_intervals - k), k)
        b = vb.battery
        lo, hi = projection_kw(b.p_lo_kw[..., :1], b.p_hi_kw[..., :1], vb.y_alap_kwh[..., :1],
                               vb.y_asap_kwh[..., :1], self.ctx.dt_h)
        return rows, lo[:, 0], np.maximum(lo, hi)[:, 0]

    def one_step_range(self, k: int) -> tuple[float, float]:
        """Least and most the controllable EVs can draw together in interval ``k`` (kW) with
        every departure requirement still reachable (sums of their exact ranges)."""
        _, lo, hi = self._boxes(k, "one-step")
        return float(lo.sum()), float(hi.sum())

    def dispatch(self, k: int, p_kw: float, rule: SplitRule = "vehicle-box"
                 ) -> tuple[float, IntArray, FloatArray]:
        """Split a station set-point among its EVs and apply it for interval ``k``.

        Args:
            k: Interval.
            p_kw: The station's set-point.
            rule: ``"vehicle-box"``: one ``theta`` inside the EVs' constant boxes (the
                vehicle-box package's guarantee); ``"one-step"``: one ``theta`` inside each
                EV's exact range of interval ``k`` (its surrogate battery over ``[k, T)``
                projected on ``k``: every departure requirement stays reachable), which holds
                every set-point of the α package.

        Returns:
            The delivered station power, the ids of the sessions dispatched and their
            set-points.
        """
        rows, lo, hi = self._boxes(k, rule)
        if not rows.size:
            return 0.0, np.zeros(0, dtype=np.int64), np.zeros(0)
        p = disaggregate(np.array([p_kw]), lo[None], hi[None])[0]
        self.plugged.apply(rows, p, self.ctx.dt_h)
        return float(p.sum()), self.plugged.session_id[rows], p
