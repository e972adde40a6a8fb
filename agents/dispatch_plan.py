"""The DSO's day-ahead dispatch in the co-simulated day: the ``dispatch:*`` call policies.

Before the horizon the operator solves the day-ahead model (``dispatch.da_model``) once. Each
tick ``k`` the realised net-load error ``delta_k`` (from a data day, not from the fitted
mixture) is known, and the affine recourse sets the calls (consumption positive):

* station ``j`` is called for ``p_j,k - alpha_j delta_k`` (its day-ahead schedule minus its
  share of the error); beyond the station's published real-time box the kernel delivers
  what its network box and its vehicles can still carry now, and shares what a station
  cannot carry over the other stations' room (``flexibility.packaging.follow_calls``);
* the realised EV demand error is what the stations deliver beyond the call,
  ``eta_k = sum_j delivered_j - sum_j call_j`` (behaviour: no-shows, early departures, the
  real-time box);
* generator ``g`` follows ``g_k + alpha_g delta_k + (alpha_g / alpha_G) eta_k``
  (``alpha_G = sum_g alpha_g``): the generators take their share of ``delta`` and all of the
  EVs' shortfall, so the substation import keeps its schedule; output is clipped to
  ``[0, g_max]`` and any rest lands on the substation.

**Reserve adequacy** is violated when a device's response leaves its procured reserve:
generator ``-r^dn_g <= response_g <= r^up_g``; station ``-r^up_j <= -alpha_j delta_k <=
r^dn_j`` (the recourse asked of it; a drop in consumption uses up-reserve — what the fleet
then fails to deliver is the EV error ``eta``, which the generators take). The shortfall (kW
beyond the reserve, summed over devices) is recorded; the AC check at the realised point
records the network limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dispatch.da_model import RESERVE_TOL_KW, DaSolution
from dispatch.da_rows import DaInstance
from flexibility.common import FloatArray


@dataclass(frozen=True)
class DispatchStep:
    """What the dispatch did in one tick.

    Attributes:
        delta_kw: Realised net-load error.
        call_kw: Sum of the station calls as planned (before the kernel's delivery limits).
        eta_kw: Delivered minus called (EV demand error).
        gen_kw: Generator outputs ``(G,)``.
        reserve_short_kw: Response beyond the procured reserves, summed over devices.
        bg_p_kw: Realised non-EV consumption per bus ``(n,)`` (generators included).
        bg_q_kvar: Realised reactive consumption per bus ``(n,)`` (``None``: the forecast
            background's, no reactive devices dispatched).
    """

    delta_kw: float
    call_kw: float
    eta_kw: float
    gen_kw: FloatArray
    reserve_short_kw: float
    bg_p_kw: FloatArray
    bg_q_kvar: FloatArray | None = None


class CallPlan(Protocol):
    """What the transmission agent and the kernel need of a day-ahead plan."""

    @property
    def day(self) -> str:
        """Label of the realised data day (or of the fleet planned on)."""
        ...

    def station_calls_kw(self, k: int) -> FloatArray:
        """The call of every station in tick ``k``."""
        ...

    def realise(self, k: int, delivered_kw: FloatArray) -> DispatchStep:
        """The plan's devices after the stations delivered ``delivered_kw``."""
        ...


@dataclass(frozen=True)
class DispatchPlan:
    """A solved day-ahead dispatch and the realised net-load errors of the day.

    Attributes:
        inst: The day-ahead instance.
        sol: Its solution (feasible).
        delta_kw: Realised net-load error per interval ``(T,)`` (kW).
        day: Date of the data day realised.
    """

    inst: DaInstance
    sol: DaSolution
    delta_kw: FloatArray
    day: str

    def station_calls_kw(self, k: int) -> FloatArray:
        """``p_j,k - alpha_j delta_k`` per station."""
        g_n = len(self.inst.gen_pos)
        return self.sol.p_ev_kw[k] - self.inst.alpha[k, g_n:] * self.delta_kw[k]

    def realise(self, k: int, delivered_kw: FloatArray) -> DispatchStep:
        """Generator response, reserve shortfall and realised background of tick ``k``."""
        inst, sol = self.inst, self.sol
        g_n = len(inst.gen_pos)
        a_g = inst.alpha[k, :g_n]
        calls = self.station_calls_kw(k)
        delta = float(self.delta_kw[k])
        eta = float(np.sum(delivered_kw) - calls.sum())
        share = a_g / a_g.sum() if a_g.sum() > 0 else np.zeros(g_n)
        response = a_g * delta + share * eta
        gen = np.clip(sol.g_kw[k] + response, 0.0, inst.gen_max_kw)
        ev_resp = calls - sol.p_ev_kw[k]  # the recourse asked of each aggregator
        up, dn = sol.r_up_kw[k], sol.r_dn_kw[k]
        short = (np.maximum(response - up[:g_n], 0.0) + np.maximum(-response - dn[:g_n], 0.0)
                 ).sum() + (np.maximum(-ev_resp - up[g_n:], 0.0)
                            + np.maximum(ev_resp - dn[g_n:], 0.0)).sum()
        bg = inst.p_bg_kw[k] + delta * inst.w_net
        np.add.at(bg, inst.gen_pos, -gen)
        return DispatchStep(delta, float(calls.sum()), eta, gen,
                            float(short) if short > RESERVE_TOL_KW else 0.0, bg)


def make_plan(inst: DaInstance, sol: DaSolution, delta_kw: FloatArray,
              day: str) -> DispatchPlan | None:
    """The plan of a solved instance, or ``None`` when the solve found no dispatch."""
    if not sol.feasible:
        return None
    return DispatchPlan(inst, sol, np.asarray(delta_kw, dtype=float), day)
