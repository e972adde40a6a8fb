"""Real-time envelopes: known vehicles exact, future arrivals conditional.

The reference for the known vehicles is built from the observed session table by the oracle
(``tests.oracles``): interval windows from the minutes, energy at the observation under
immediate full-power charging from plug-in (capped at the ceiling), then the per-vehicle LP.
"""

import numpy as np
import pytest

from environment.assessment.station import rt_fleet
from flexibility.cases import make_case
from flexibility.fleet import Fleet
from scenarios.fleetgen import SessionDraw, draw_sessions, observe_at
from tests.oracles import limits_of, projections, raw_from_scenario_draw


def select_sessions(draw: SessionDraw, mask: np.ndarray) -> SessionDraw:
    """Sessions of ``draw`` where ``mask`` (over the last axis) holds."""
    return SessionDraw(*(x[..., mask] for x in
                         (draw.arrival_min, draw.dwell_min, draw.soc_init, draw.v2g)))


def test_observe_at_uses_immediate_charging():
    eta, dt_h, p_kw = 0.9, 0.5, 7.0  # synthetic case, its own constants
    f = Fleet([2], [20], [20.0], 12.0, 54.0, 36.0, p_kw, p_kw, eta_ch=eta, eta_dis=eta,
              dt_h=dt_h)
    o = observe_at(f, 6)
    assert o.arrival_idx[0] == 6
    assert o.e_init_kwh[0] == pytest.approx(20.0 + 4 * eta * p_kw * dt_h)
    # and never above the ceiling
    assert observe_at(f, 19).e_init_kwh[0] == pytest.approx(54.0)


def test_rt_envelope_at_end_of_day_is_only_known_vehicles(paper_scenario, shipped_model):
    """Late in the day nobody is still to come: every RT scenario is the known fleet, and the
    RT station rows equal the oracle's projections of the known vehicles."""
    rng = np.random.default_rng(3)
    sc = paper_scenario
    hz = sc.horizon
    observed = draw_sessions(shipped_model, hz, 50, 1, 0.5, rng)
    t_obs = hz.n_intervals - 1
    arrived = observed.arrival_min[0] <= t_obs * hz.dt_min
    observed = select_sessions(observed, arrived)
    fleet_rt = rt_fleet(shipped_model, sc, observed, t_obs, 20, rng)
    case = make_case(("CS",), [fleet_rt], hz.n_intervals - t_obs, t_obs, 0.9, "total")
    env = case.rows.envelopes["CS"]

    raw = raw_from_scenario_draw(sc, observed, 0)
    known = np.flatnonzero(raw.d > t_obs)
    assert known.size > 0
    raw = raw.take(known)
    # state at t_obs: charged at full power since plug-in, capped at the ceiling
    e_now = np.array([min(limits_of(raw, n)[1],
                          raw.e0[n] + raw.eta_c * raw.pc[n] * raw.dt * (t_obs - raw.a[n]))
                      for n in range(raw.n)])
    now = raw.replace(a=np.full(raw.n, t_obs), e0=e_now)
    ref = projections(now, 1, t0=t_obs, energy=False)
    np.testing.assert_allclose(env.p_max_kw, ref.p_max_kw.sum(0), atol=1e-6)
    np.testing.assert_allclose(env.p_min_kw, ref.p_min_kw.sum(0), atol=1e-6)
    assert env.t0 == t_obs and env.n_intervals == 1
    assert (env.e_min_kwh <= env.e_max_kwh).all()
