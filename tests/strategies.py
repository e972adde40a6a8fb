"""Hypothesis strategies: random small fleets with edge cases (zero dwell, tight requirements,
sessions crossing the horizon, vehicles without V2G, initial SOC outside the bounds)."""

import numpy as np
from hypothesis import strategies as st

from flexibility.fleet import Fleet


@st.composite
def fleets(draw, max_vehicles=4, horizon=12):
    n = draw(st.integers(1, max_vehicles))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cap = rng.uniform(20, 80, n)
    a = rng.integers(-3, horizon, n)
    dwell = rng.integers(0, horizon + 4, n)
    dwell[rng.random(n) < 0.15] = 0  # zero dwell
    soc_min = rng.uniform(0.0, 0.4, n)
    soc_max = rng.uniform(0.6, 1.0, n)
    e0 = rng.uniform(0.0, 1.0, n) * cap  # may lie outside [soc_min, soc_max]
    pc = rng.uniform(0.0, 22.0, n)
    pd = np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0.0, 22.0, n))
    dt_h = float(draw(st.sampled_from([0.25, 0.5, 1.0])))
    eta_ch = float(draw(st.floats(0.8, 1.0)))
    eta_dis = float(draw(st.floats(0.8, 1.0)))
    # requirement: often exactly the reachable maximum (tight), sometimes unreachable
    reach = e0 + eta_ch * pc * dt_h * dwell
    tight = np.minimum(reach, soc_max * cap)
    req = np.where(rng.random(n) < 0.4, tight, rng.uniform(soc_min, soc_max) * cap)
    return Fleet(arrival_idx=a, departure_idx=a + dwell, e_init_kwh=e0, e_min_kwh=soc_min * cap,
                 e_max_kwh=soc_max * cap, e_req_kwh=req, p_ch_max_kw=pc, p_dis_max_kw=pd,
                 eta_ch=eta_ch, eta_dis=eta_dis, dt_h=dt_h)
