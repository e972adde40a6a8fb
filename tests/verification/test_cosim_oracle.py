"""The co-simulator's published package against an independent per-vehicle LP.

At a sample of ticks the vehicles plugged in are rebuilt from the recorded ``evs`` and
``setpoints`` tables (energy now re-integrated here) and ``tests.verification.session_lp``
decides, per station and in total, whether the published boundary's two edges of that
interval and what was delivered (a call beyond the boundary is served up to the fleet's and the
network's limits) can be drawn with every departure requirement still reachable (as it was at
plug-in). The package must never publish an edge the fleet
cannot deliver. Mutation: a package builder that misreads one vehicle's energy (the fullest
plugged-in vehicle read as empty, in the builder only, so its window to the requirement is
wrong) publishes a must-charge the night fleet cannot draw, and the oracle rejects it. (The
package is a deep inner set of the exact one — at midday a small fraction of the interval range
the plugged-in vehicles could move alone — so a misread that only widens the builder's view of
one vehicle stays inside the exact set and is not an error the oracle can see.)
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.station import StationAgent
from environment.model import CoSimModel
from flexibility.fleet import Fleet
from scenarios.config import load_scenario
from tests.verification.session_lp import deliverable, plugged_at

TICKS = range(2, 96, 6)


def _scenario():
    return load_scenario().with_overrides(simulation={"n_scenarios": 40, "package_days": 20})


def _run(behaviour):
    sc = _scenario()
    model = CoSimModel(sc, behaviour, 11)
    model.run()
    tables = (model.recorder.frame("ticks"), model.ev_frame(), model.recorder.frame("setpoints"))
    model.release()
    return sc, tables


def _rejected_edges(sc, tables) -> list[tuple[int, str, str, float]]:
    ticks, evs, sp = tables
    ev = sc.ev
    params = {"e_min_kwh": ev.soc_min * ev.capacity_kwh,
              "e_max_kwh": ev.soc_max * ev.capacity_kwh,
              "p_ch_kw": ev.p_ch_max_kw, "p_dis_kw": ev.p_dis_max_kw}
    rows = ticks.set_index(["t", "station"])
    dt_min = sc.horizon.dt_min
    bad = []
    for k in TICKS:
        for station in [*(s.name for s in sc.stations), "ALL"]:
            v = plugged_at(evs, sp, k, dt_min, ev.eta_ch, ev.eta_dis, params,
                           None if station == "ALL" else station)
            for edge in ("p_down_kw", "p_up_kw", "delivered_kw"):
                target = float(rows.loc[(k, station), edge])
                if v.e_kwh.size == 0:
                    ok = abs(target) <= 1e-6
                else:
                    ok = deliverable(v, k, target, ev.eta_ch, ev.eta_dis, dt_min / 60.0)
                if not ok:
                    bad.append((k, station, edge, target))
    return bad


@pytest.fixture(scope="module")
def honest(shipped_model):
    return _run(shipped_model)


def test_published_edges_are_deliverable_by_the_plugged_in_vehicles(honest):
    sc, tables = honest
    assert _rejected_edges(sc, tables) == []


def test_the_oracle_flags_a_builder_that_misreads_one_vehicle(shipped_model, monkeypatch):
    honest_rt_fleet = StationAgent.rt_fleet

    def misread(self, k: int, n_days: int) -> Fleet:
        f = honest_rt_fleet(self, k, n_days)
        rows = self.plugged.known(k)
        if not rows.size:
            return f
        room = self.plugged.e_max_kwh[rows] - self.plugged.e_kwh[rows]
        j = int(np.argmin(room))  # the known vehicles come first in the scenario fleets
        e0 = np.array(np.broadcast_to(f.e_init_kwh, f.shape), dtype=float)
        e0[:, j] = 0.0  # the fullest vehicle read as empty: it "must" charge its requirement
        return Fleet(f.arrival_idx, f.departure_idx, e0, f.e_min_kwh, f.e_max_kwh, f.e_req_kwh,
                     f.p_ch_max_kw, f.p_dis_max_kw, f.eta_ch, f.eta_dis, f.dt_h)

    monkeypatch.setattr(StationAgent, "rt_fleet", misread)
    sc, tables = _run(shipped_model)
    assert _rejected_edges(sc, tables), "the oracle must reject an optimistic package"
