"""Day-ahead grid-infeasible intervals are load the expected vehicles cannot shed, by an LP.

The day-ahead commitment (``GridAgent.commit_day_ahead``) flags an interval ``t`` when on some
kept sampled day the vehicles' unavoidable draw ``max(L_m,j,t, 0)`` (per station: the sum of
each vehicle's least power in ``t`` over its whole-day schedules) is not AC-feasible on the
committed background. The α package's own flag (its ``P_down`` above the network) is kept beside
it as a report (``package_infeasible``).

The oracle (``tests.verification.session_lp.least_draw``: one LP over the raw session rows of a
sampled day, from arrival to departure) gives each vehicle's least draw; nothing of the product's
sets is used by it. The AC check of that point uses the feeder's power flow.

* zonal case on public daytime sessions (``tests.verification.zonal_public``;
  ``dispatch:zonal``, 20 sampled days): the package is flagged on the evening
  (24 intervals, 17:30–23:15, up to 600 kW of packaged must-serve) while on every kept day every
  station's vehicles could idle. Breaking it on purpose: counting the package's flag as the
  commitment's grid infeasibility (``infeasible=pub.infeasible`` in ``commit_day_ahead``, as
  before) fails ``test_flagged_intervals_hold_load_the_vehicles_cannot_shed``.
* ``nd_coupled`` (one sampled day): the vehicles must charge more than the feeder carries; the
  flagged intervals are exactly those where the LP's least draw is not AC-feasible, and the
  product's must-charge equals the LP's.
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.grid_operator import GridAgent, package_of
from environment.cli.runs import load_behaviour
from environment.model import CoSimModel
from environment.planning.registry import planner_for
from scenarios.config import Scenario, load_scenario
from tests.verification.session_lp import Sessions, least_draw
from tests.verification.zonal_public import zonal_public_case

TOL_KW = 1e-4


class _Committed(Exception):
    """Raised by the spy once the day-ahead commitment is made (the ticks are not needed)."""


def _commitment(sc: Scenario, policy: str | None, monkeypatch: pytest.MonkeyPatch):
    """The grid agent, the day-ahead case and the commitment of a ``simulate`` set-up."""
    got = {}
    original = GridAgent.commit_day_ahead

    def spy(self, case, keep, fresh, alpha):
        got.update(agent=self, case=case, da=original(self, case, keep, fresh, alpha))
        raise _Committed

    monkeypatch.setattr(GridAgent, "commit_day_ahead", spy)
    sc = sc.with_overrides(simulation={"n_scenarios": 20, "policy": policy})
    with pytest.raises(_Committed):
        CoSimModel(sc, load_behaviour(sc, None), sc.seed, progress=False,
                   planner=planner_for(sc.simulation.policy))
    monkeypatch.undo()
    return got["agent"], got["case"], got["da"]


@pytest.fixture(scope="module")
def zonal():
    with pytest.MonkeyPatch.context() as mp:
        return _commitment(zonal_public_case({}), "dispatch:zonal", mp)


@pytest.fixture(scope="module")
def nd_coupled():
    with pytest.MonkeyPatch.context() as mp:
        return _commitment(load_scenario("nd_coupled"), None, mp)


def _kept_days(da) -> np.ndarray:
    return np.flatnonzero(package_of(da.layers).inner.kept)


def _station_least_draw(case, day: int, t: int) -> np.ndarray:
    """Per station, the LP's least draw of the day's vehicles in interval ``t`` ``(J,)``."""
    f, st = case.sets.fleet, np.broadcast_to(case.sets.station, case.sets.fleet.shape)[day]
    row = lambda x: np.broadcast_to(np.asarray(x, float), f.shape)[day]  # noqa: E731
    s = Sessions(arrival_idx=row(f.arrival_idx), departure_idx=row(f.departure_idx),
                 e_init_kwh=row(f.e_init_kwh), e_min_kwh=row(f.e_min_kwh),
                 e_max_kwh=row(f.e_max_kwh), e_req_kwh=row(f.e_req_kwh),
                 p_ch_kw=row(f.p_ch_max_kw), p_dis_kw=row(f.p_dis_max_kw))
    per = least_draw(s, t, f.eta_ch, f.eta_dis, f.dt_h)
    return np.bincount(st, weights=per, minlength=len(case.sets.names))


def _ac_feasible(agent, t: int, station_kw: np.ndarray) -> bool:
    g = agent.grid
    p, q = g.bg(t, 1)
    p = p.copy()
    p[0, g.positions] += station_kw
    return bool(agent.solver.solve(p, q.copy()).margin(g.limits)[0] <= 0)


def test_flagged_intervals_hold_load_the_vehicles_cannot_shed(zonal):
    agent, case, da = zonal
    assert da.package_infeasible.sum() >= 20  # the package's evening flags stay recorded
    kept = _kept_days(da)
    idle_everywhere = []
    for t in np.flatnonzero(da.infeasible)[::3]:
        if not any((x := np.maximum(_station_least_draw(case, m, int(t)), 0.0)).sum() > TOL_KW
                   and not _ac_feasible(agent, int(t), x) for m in kept):
            idle_everywhere.append(int(t))
    assert idle_everywhere == [], ("day-ahead grid-infeasible intervals at which the kept "
                                   f"days' least draw is AC-feasible: {idle_everywhere}")


def test_the_evening_package_flags_are_not_physics(zonal):
    """At the first flagged evening interval the package asks a large must-serve, yet on every
    kept day every station's vehicles could draw nothing (or less)."""
    _, case, da = zonal
    t = int(np.flatnonzero(da.package_infeasible).min()) + 2
    names = case.sets.names
    p_down = sum(np.maximum(da.layers.transmission[n].p_down_kw[t], 0.0) for n in names)
    assert p_down > 100.0
    for m in _kept_days(da)[::4]:
        assert (_station_least_draw(case, m, t) <= TOL_KW).all()
    assert not da.infeasible[t]


def test_must_charge_and_flags_agree_with_the_lp(nd_coupled):
    agent, case, da = nd_coupled
    (m,) = _kept_days(da)  # one sampled day
    flagged = np.flatnonzero(da.infeasible)
    assert flagged.size > 0
    for t in range(case.sets.n_intervals):
        x = np.maximum(_station_least_draw(case, int(m), t), 0.0)
        np.testing.assert_allclose(da.must_charge_kw[t], x, atol=1e-6, rtol=1e-6)
        assert bool(da.infeasible[t]) == (x.sum() > TOL_KW and not _ac_feasible(agent, t, x)), t
