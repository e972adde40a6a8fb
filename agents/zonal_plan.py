"""The zonal two-layer dispatch in the co-simulated day (``dispatch:zonal``).

Before the horizon the DSO has planned the day (``environment.planning.zonal``): each station's
power ``s_j,t`` (the areas' EV trajectories after their users' price response, split over the
stations and corrected for the network), the plan's renewables, diesel and capacitor steps.
Each tick ``k`` station ``j`` is called for ``s_j,k``; inside its published real-time box the
call is its set-point, beyond it the kernel delivers what the station's network box and its
vehicles can still carry now, and shares what a station cannot carry over the others' room
(the kernel's delivery rule, ``flexibility.packaging.follow_calls``), so the vehicles'
departure requirements and energy limits hold whatever the plan asks; the rest of the feeder
follows the plan: nodal background = base load minus renewables and diesel, reactive
background = base reactive load minus the capacitors.
What the stations deliver beyond their calls (``eta``, the plan's deviation from the realised
behaviour) lands on the substation; no reserve is procured, so there is no reserve shortfall.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.dispatch_plan import DispatchStep
from flexibility.common import FloatArray


@dataclass(frozen=True)
class ZonalExecution:
    """The planned day the agents follow.

    Attributes:
        station_kw: Planned power per tick and station ``(T, J)``.
        bg_p_kw: Planned non-EV nodal consumption ``(T, n)`` (generators, renewables in).
        bg_q_kvar: Planned reactive consumption ``(T, n)`` (capacitors in).
        gen_kw: Planned diesel output ``(T, G)``.
        day: Label of the fleet the plan was made for.
    """

    station_kw: FloatArray
    bg_p_kw: FloatArray
    bg_q_kvar: FloatArray
    gen_kw: FloatArray
    day: str = "expected fleet"

    def station_calls_kw(self, k: int) -> FloatArray:
        """``s_j,k`` per station."""
        return self.station_kw[k]

    def realise(self, k: int, delivered_kw: FloatArray) -> DispatchStep:
        """The plan's devices in tick ``k`` and the stations' deviation from their calls."""
        calls = self.station_kw[k]
        return DispatchStep(0.0, float(calls.sum()), float(np.sum(delivered_kw) - calls.sum()),
                            self.gen_kw[k].copy(), 0.0, self.bg_p_kw[k].copy(),
                            self.bg_q_kvar[k].copy())
