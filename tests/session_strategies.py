"""Hypothesis strategies that build raw session rows value by value (so failures shrink).

Edge cases on purpose: zero dwell, sessions crossing either end of the horizon, vehicles without
V2G, initial energy outside ``[e_min, e_max]``, requirements exactly at the reachable maximum
(tight) and unreachable ones.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tests.oracles import RawFleet


def _f(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def raw_vehicle(draw, horizon: int, dt: float, eta_c: float) -> dict:
    """One vehicle's session numbers on an interval grid of ``horizon`` intervals."""
    cap = draw(_f(20.0, 80.0))
    a = draw(st.integers(-3, horizon - 1))
    dwell = draw(st.one_of(st.just(0), st.integers(0, horizon + 4)))
    soc_min = draw(_f(0.0, 0.4))
    soc_max = draw(_f(0.6, 1.0))
    soc0 = draw(_f(0.0, 1.0))  # may lie outside [soc_min, soc_max]
    # chargers are off or at least 0.5 kW: HiGHS's presolve declares tight requirements at
    # nano-kW powers infeasible (tolerances), which says nothing about the models compared
    pc = draw(st.one_of(st.just(0.0), _f(0.5, 22.0)))
    pd = draw(st.one_of(st.just(0.0), _f(0.5, 22.0)))
    e0, e_max = soc0 * cap, soc_max * cap
    kind = draw(st.sampled_from(["tight", "free", "unreachable"]))
    if kind == "tight":  # exactly the reachable maximum
        e_req = min(e0 + eta_c * pc * dt * dwell, e_max)
    elif kind == "unreachable":
        e_req = e_max
    else:
        e_req = draw(_f(soc_min, soc_max)) * cap
    return dict(a=a, d=a + dwell, e0=e0, e_min=soc_min * cap, e_max=e_max, e_req=e_req, pc=pc,
                pd=pd)


@st.composite
def raw_fleets(draw, max_vehicles: int = 4, horizon: int = 12, min_vehicles: int = 1,
               eta_c=None, eta_d=None, dt=None) -> RawFleet:
    """A 1-D fleet of raw sessions with common efficiencies and interval length."""
    dt = dt if dt is not None else draw(st.sampled_from([0.25, 0.5, 1.0]))
    eta_c = eta_c if eta_c is not None else draw(_f(0.8, 1.0))
    eta_d = eta_d if eta_d is not None else draw(_f(0.8, 1.0))
    rows = draw(st.lists(raw_vehicle(horizon, dt, eta_c), min_size=min_vehicles,
                         max_size=max_vehicles))
    col = lambda k: np.array([r[k] for r in rows])  # noqa: E731
    return RawFleet(a=col("a"), d=col("d"), e0=col("e0"), e_min=col("e_min"),
                    e_max=col("e_max"), e_req=col("e_req"), pc=col("pc"), pd=col("pd"),
                    eta_c=float(eta_c), eta_d=float(eta_d), dt=float(dt))
