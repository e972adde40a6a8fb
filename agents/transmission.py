"""Transmission agent (TSO): DA commitment, RT boundary, calls.

It holds the day-ahead commitment, receives the real-time boundary and calls on it.

Call policies (aggregate net power of interval ``k``, charging positive; ``[P_down, P_up]`` is
the RT boundary published for ``k``):

* ``none`` — no call: the fleet idles as far as the boundary allows, ``clip(0, P_down, P_up)``;
* ``follow-da`` — the day-ahead schedule: the midpoint of the DA boundary of interval ``k``
  (it may lie outside the RT boundary: that is what DA-vs-RT validation measures);
* ``random-within`` — uniform in ``[P_down, P_up]`` (the box boundary implies the energy and
  ramp limits, so they hold);
* ``max-up`` / ``max-down`` — ``P_up`` / ``P_down``;
* ``regulation`` — ``mid + s_k * half_width`` with a signal ``s_k in [-1, 1]``: a sine of
  period ``regulation_period_min`` plus AR(1) noise, clipped;
* ``edge-da`` — an edge of the day-ahead boundary of interval ``k``: ``P_up`` or ``P_down``
  with probability 1/2 each (the promise the TSO bought day-ahead, called at its extremes);
* ``dispatch:oba`` / ``:bonferroni`` / ``:so`` / ``:ro`` — the DSO's day-ahead dispatch with
  affine recourse (``agents.dispatch_plan``): the sum of the station calls; without a
  feasible dispatch the fleet idles as with ``none``;
* ``edge-prev`` — the same on the boundary published at tick ``k - 1`` for interval ``k``
  (:meth:`TransmissionAgent.receive`; at ``k = 0`` the DA boundary, the last one published
  before the horizon);
* ``reserve-edge`` — the day-ahead reserve product (``flexibility.reserve``) called at its
  edges: the baseline the stations declared with this tick's boundary plus the largest
  admissible activation up or down, one direction held for ``1 + min(11, floor(4 |z|))``
  intervals (``z`` standard normal) so that the reserve's energy rows bind on the TSO's account
  of the activated energy; it never leaves the reserve set. The stations re-declare their
  baseline every tick from the fleet's energy then, so the rebound of an earlier activation
  lands in later baselines: the account bounds the activations the TSO calls, not the physical
  deviation from a no-activation day (recorded apart, ``activated_kwh``);
* ``reserve-random`` — the declared baseline plus an activation uniform in the admissible
  range of the reserve set.

Every policy draws the same two numbers per tick, so the stream layout does not depend on it.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from agents.dispatch_plan import CallPlan
from flexibility.packaging import Boundary
from flexibility.reserve import ReserveProduct

RULES = ("none", "follow-da", "random-within", "max-up", "max-down", "regulation", "edge-da",
         "edge-prev", "reserve-edge", "reserve-random")
"""The TSO's own call rules; every other policy is a day planner's (the TSO follows its plan)."""
RESERVE_RULES = ("reserve-edge", "reserve-random")
"""The rules that call on the day-ahead reserve product."""
MAX_HOLD_INTERVALS = 12
"""Longest span ``reserve-edge`` holds one direction."""


class TransmissionAgent(mesa.Agent):
    """The transmission system operator.

    Args:
        model: The co-simulation model.
        da_boundary: Day-ahead boundary of all stations.
        policy: Call policy.
        rng: Its own random stream.
        regulation_period_min: Period of the regulation signal.
        plan: The day's plan under a planning policy (``None``: none feasible).
        planned: The policy is a day planner's (the calls follow ``plan``; without a feasible
            plan the fleet idles as with ``none``), not one of ``RULES``.
        reserve: The day-ahead reserve product (needed by the ``reserve-*`` rules).
    """

    def __init__(self, model: mesa.Model, da_boundary: Boundary, policy: str,
                 rng: np.random.Generator, regulation_period_min: float = 240.0,
                 plan: CallPlan | None = None, planned: bool = False,
                 reserve: ReserveProduct | None = None) -> None:
        super().__init__(model)
        self.da = da_boundary
        self.policy = policy
        self.rng_calls = rng
        self.period = regulation_period_min
        self._noise = 0.0
        self.prev: Boundary | None = None
        self.plan = plan
        self.planned = planned
        self.reserve = reserve
        self.activated_kwh = 0.0
        self._hold = 0
        self._up = True
        if not planned and policy not in RULES:
            raise ValueError(f"call policy {policy!r} is not a TSO rule ({', '.join(RULES)}) "
                             "and no day planner was given")
        if policy in RESERVE_RULES and reserve is None:
            raise ValueError(f"call policy {policy!r} needs the day-ahead reserve product")

    def receive(self, boundary: Boundary) -> None:
        """Keep the boundary published this tick (over the remaining horizon) for the next."""
        self.prev = boundary

    def edges(self, k: int, layer: str) -> tuple[float, float]:
        """``(P_down, P_up)`` of interval ``k`` in the ``da`` or ``prev`` boundary."""
        b = self.da if layer == "da" or self.prev is None else self.prev
        i = k - b.t0
        if not 0 <= i < len(b.p_up_kw):
            raise IndexError(f"interval {k} is not in the {layer} boundary")
        return float(b.p_down_kw[i]), float(b.p_up_kw[i])

    def reserve_rows(self, k: int, baseline_kw: float) -> tuple[float, float]:
        """The reserve's power rows of interval ``k`` around the declared baseline (absolute)."""
        if self.reserve is None:
            return math.nan, math.nan
        lo, hi = self.reserve.power_rows(k)
        return baseline_kw + lo, baseline_kw + hi

    def _activation(self, k: int, u: float, e: float) -> float:
        """The reserve activation of interval ``k`` (module docstring), kept in the account."""
        reserve = self.reserve
        if reserve is None:
            raise ValueError(f"call policy {self.policy!r} needs the day-ahead reserve product")
        lo, hi = reserve.admissible(k, self.activated_kwh)
        if self.policy == "reserve-random":
            d = lo + u * (hi - lo)
        else:
            if self._hold <= 0:
                self._up = u < 0.5
                self._hold = 1 + min(MAX_HOLD_INTERVALS - 1, math.floor(4.0 * abs(e)))
            self._hold -= 1
            d = hi if self._up else lo
        self.activated_kwh += d * reserve.reserve.dt_h
        return d

    def call(self, k: int, p_down_kw: float, p_up_kw: float, dt_min: float,
             baseline_kw: float = math.nan) -> float:
        """The aggregate power requested for interval ``k``.

        Args:
            k: Interval.
            p_down_kw: Lower edge of the boundary published for ``k``.
            p_up_kw: Upper edge.
            dt_min: Interval length.
            baseline_kw: The stations' declared baseline of ``k`` (``reserve-*`` rules).
        """
        lo, hi = p_down_kw, max(p_up_kw, p_down_kw)
        u = self.rng_calls.random()  # drawn every tick: policies share one stream layout
        e = self.rng_calls.standard_normal()
        if self.policy in RESERVE_RULES and not self.planned:
            return baseline_kw + self._activation(k, u, e)
        if self.planned:
            if self.plan is not None:
                return float(self.plan.station_calls_kw(k).sum())
            return min(max(0.0, lo), hi)
        if self.policy == "none":
            return min(max(0.0, lo), hi)
        if self.policy == "follow-da":
            return 0.5 * (self.da.p_up_kw[k] + self.da.p_down_kw[k])
        if self.policy == "random-within":
            return lo + u * (hi - lo)
        if self.policy == "max-up":
            return hi
        if self.policy == "max-down":
            return lo
        if self.policy in ("edge-da", "edge-prev"):
            down, up = self.edges(k, self.policy.removeprefix("edge-"))
            return up if u < 0.5 else down
        if self.policy == "regulation":
            self._noise = 0.8 * self._noise + 0.2 * e
            s = 0.7 * math.sin(2 * math.pi * k * dt_min / self.period) + 0.3 * self._noise
            s = min(max(s, -1.0), 1.0)
            return 0.5 * (lo + hi) + s * 0.5 * (hi - lo)
        raise ValueError(f"unknown call policy {self.policy!r}")
