"""Real-time envelopes: known vehicles exact, future arrivals conditional."""

import numpy as np

from environment.assessment.station import rt_fleet
from flexibility.aggregation import station_envelope
from flexibility.cases import make_case
from scenarios.fleetgen import draw_sessions, fleet_from_sessions, observe_at


def test_observe_at_uses_immediate_charging():
    from flexibility.fleet import Fleet
    f = Fleet([2], [20], [20.0], 12.0, 54.0, 36.0, 7.0, 7.0, eta_ch=0.95, dt_h=0.25)
    o = observe_at(f, 6)
    assert o.arrival_idx[0] == 6
    assert o.e_init_kwh[0] == 20.0 + 4 * 0.95 * 7.0 * 0.25


def test_rt_envelope_at_end_of_day_is_only_known_vehicles(paper_scenario, shipped_model):
    """Late in the day nobody is still to come: every RT scenario is the known fleet, and the
    RT station rows equal the known fleet's exact projections (power) and reachable band."""
    rng = np.random.default_rng(3)
    hz = paper_scenario.horizon
    observed = draw_sessions(shipped_model, hz, 50, 1, 0.5, rng)
    t_obs = 95
    arrived = observed.arrival_min[0] <= t_obs * hz.dt_min
    observed = observed.select(arrived)
    fleet_rt = rt_fleet(shipped_model, paper_scenario, observed, t_obs, 20, rng)
    case = make_case(("CS",), [fleet_rt], hz.n_intervals - t_obs, t_obs, 0.9, "total")
    env = case.rows.envelopes["CS"]
    fleet = fleet_from_sessions(observed, paper_scenario.ev, hz).row(0)
    known = (fleet.departure_idx > t_obs)
    ref = station_envelope(observe_at(fleet.take(known), t_obs), 1, t0=t_obs)
    np.testing.assert_allclose(env.p_max_kw, ref.p_max_kw)
    np.testing.assert_allclose(env.p_min_kw, ref.p_min_kw)
    assert env.t0 == t_obs and env.n_intervals == 1
    assert (env.e_min_kwh <= env.e_max_kwh).all()
