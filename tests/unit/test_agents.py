"""Agent-level tests: EV queueing, station energy and dispatch, TSO call policies."""

import ast
import math
from pathlib import Path

import mesa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.context import (
    EARTH_RADIUS_KM,
    QueuePolicy,
    SimContext,
    StationDirectory,
    road_km,
)
from agents.ev import EVAgent
from agents.session import EVSpec, SessionOutcome
from agents.station import StationAgent
from agents.transmission import TransmissionAgent
from flexibility.packaging import package

SPEC = EVSpec(capacity_kwh=60, e_min_kwh=12, e_max_kwh=54, e_req_kwh=36, p_ch_max_kw=7,
              p_dis_max_kw=7, eta_ch=0.95, eta_dis=0.9)


def _station(ctx: SimContext, chargers: int = 1) -> tuple[mesa.Model, StationAgent]:
    m = mesa.Model()
    return m, StationAgent(m, ctx, "S", chargers=chargers, pool=None, alpha=0.9)


def test_ev_and_station_do_not_import_each_other():
    root = Path(__file__).resolve().parents[2] / "agents"
    for mod, other in (("ev", "agents.station"), ("station", "agents.ev")):
        tree = ast.parse((root / f"{mod}.py").read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert other not in names


def test_station_integrates_energy_with_the_right_efficiency():
    ctx = SimContext.create(15.0, 8)
    _, station = _station(ctx)
    station.plug(7, SPEC, 30.0, 0.0, 60.0)
    rows = np.array([0])
    station.plugged.apply(rows, np.array([4.0]), 0.25)
    assert station.outcome(7).e_kwh == pytest.approx(30.0 + 0.95 * 1.0)
    station.plugged.apply(rows, np.array([-2.0]), 0.25)
    out = station.unplug(7)
    assert out.e_kwh == pytest.approx(30.0 + 0.95 - 0.5 / 0.9)
    assert out.charged_kwh == pytest.approx(1.0) and out.discharged_kwh == pytest.approx(0.5)
    assert out.controlled_ticks == 2 and len(station.plugged) == 0
    with pytest.raises(KeyError):
        station.outcome(7)


@pytest.mark.parametrize("rule", ["wait", "leave"])
def test_full_station_makes_an_ev_wait_or_leave(rule):
    ctx = SimContext.create(15.0, 96, queue_rule=rule)
    m, station = _station(ctx)
    first = EVAgent(m, ctx, station, SPEC, 10.0, 100.0, 30.0)
    second = EVAgent(m, ctx, station, SPEC, 20.0, 200.0, 30.0)
    late = EVAgent(m, ctx, station, SPEC, 30.0, 90.0, 30.0)  # gives up before a charger frees
    for ev in (first, second, late):
        ctx.env.process(ev.session())
    ctx.env.run()
    assert first.plug_in_min == 10.0 and first.state == "departed"
    if rule == "wait":
        assert second.plug_in_min == 100.0 and second.state == "departed"
    else:
        assert second.plug_in_min is None and second.state == "left_unserved"
        assert second.left_min == 20.0
    assert late.plug_in_min is None and late.state == "left_unserved"
    assert late.final_outcome() == SessionOutcome(e_kwh=30.0)
    assert len(station.plugged) == 0


def _one_port_day(policy: QueuePolicy, arrivals, stations=(("S", 0.0),)):
    """Stations of one port each on a meridian (name, km north of the equator) and EVs
    ``(arrival, departure)`` at the first one; returns the stations and the EVs after the run."""
    deg = {name: (0.0, km / (math.pi * EARTH_RADIUS_KM / 180.0)) for name, km in stations}
    ctx = SimContext.create(1.0, 600, queue=policy,
                            stations=StationDirectory(deg, policy.reroute_detour_factor))
    m = mesa.Model()
    st = {name: StationAgent(m, ctx, name, chargers=1, pool=None, alpha=0.9)
          for name, _ in stations}
    ctx.stations.register(st.values())
    home = st[stations[0][0]]
    evs = [EVAgent(m, ctx, home, SPEC, a, d, 30.0) for a, d in arrivals]
    for ev in evs:
        ctx.env.process(ev.session())
    ctx.env.run()
    return st, evs


def test_one_port_queue_is_first_come_first_served():
    """1 port, 3 arrivals: the first plugs in, the second gets the port when it frees, the
    third balks when its patience runs out."""
    _, (a, b, c) = _one_port_day(QueuePolicy("patience", patience_min=60.0),
                                 [(0.0, 30.0), (5.0, 200.0), (10.0, 200.0)])
    assert (a.access, a.plug_in_min, a.state) == ("direct", 0.0, "departed")
    assert (b.access, b.plug_in_min, b.state) == ("queued", 30.0, "departed")
    assert (c.access, c.plug_in_min, c.state, c.left_min) == ("balked", None, "left_unserved",
                                                              70.0)


def test_one_port_balks_after_patience_or_leaves_at_departure():
    _, (a, b, c) = _one_port_day(QueuePolicy("patience", patience_min=20.0),
                                 [(0.0, 300.0), (5.0, 300.0), (10.0, 20.0)])
    assert a.access == "direct"
    assert (b.access, b.left_min) == ("balked", 25.0)  # 5 + 20 min of patience
    assert (c.access, c.left_min) == ("left_at_departure", 20.0)  # departure before patience
    assert b.final_outcome() == SessionOutcome(e_kwh=30.0)


def test_one_port_reroutes_to_the_nearest_free_station():
    """After its patience the second EV drives to the free station 3 km north (3.9 road km at
    a detour factor of 1.3, 7.8 min at 30 km/h, 0.2 kWh/km); the third follows it there, finds
    it taken on arrival, queues its patience again and balks (no third station)."""
    policy = QueuePolicy("reroute", patience_min=10.0, reroute_max_km=5.0,
                         reroute_speed_kmh=30.0, reroute_detour_factor=1.3,
                         reroute_kwh_per_km=0.2)
    st, (a, b, c) = _one_port_day(policy, [(0.0, 300.0), (5.0, 300.0), (10.0, 300.0)],
                                  stations=(("S", 0.0), ("T", 3.0), ("U", 9.0)))
    assert (a.access, a.station.name) == ("direct", "S")
    assert (b.access, b.station.name, b.home_station) == ("rerouted", "T", "S")
    assert b.reroute_km == pytest.approx(3.9)
    assert b.plug_in_min == pytest.approx(15.0 + 7.8)
    assert b.e_arrival_kwh == pytest.approx(30.0 - 0.78)
    assert b.state == "departed" and st["T"].plugged.session_id.size == 0
    assert (c.access, c.station.name, c.state) == ("balked", "T", "left_unserved")
    assert c.left_min == pytest.approx(20.0 + 7.8 + 10.0)  # U is 7.8 road km away: too far
    assert c.reroute_km == pytest.approx(3.9)


def test_road_distance_is_haversine_times_detour():
    km = road_km(np.array([0.0, 0.0, 90.0]), np.array([0.0, 1.0, 0.0]), 1.3)
    assert km[0, 1] == pytest.approx(1.3 * math.pi * EARTH_RADIUS_KM / 180.0)
    assert km[0, 2] == pytest.approx(1.3 * math.pi * EARTH_RADIUS_KM / 2.0)
    np.testing.assert_allclose(km, km.T)


def test_controllable_intervals_follow_the_grid():
    ctx = SimContext.create(15.0, 8)
    m, station = _station(ctx, chargers=2)
    ev = EVAgent(m, ctx, station, SPEC, 7.0, 52.0, 30.0)  # plugged 7 min, leaves 52 min
    ctx.env.process(ev.session())
    ctx.env.run(until=8)
    assert [k for k in range(5) if ev.unique_id in station.controllable(k)] == [1, 2]


def test_station_plans_with_the_declared_departure():
    ctx = SimContext.create(15.0, 8)
    m, station = _station(ctx, chargers=2)
    ev = EVAgent(m, ctx, station, SPEC, 0.0, 30.0, 30.0, declared_departure_min=90.0)
    assert ev.left_early and ev.departure_idx() == 6
    ctx.env.process(ev.session())
    ctx.env.run(until=1)
    assert [k for k in range(8) if ev.unique_id in station.controllable(k)] == list(range(6))
    ctx.env.run(until=31)
    assert ev.state == "departed" and ev.left_min == 30.0 and len(station.plugged) == 0


_EV = st.tuples(st.integers(0, 7), st.integers(1, 15),  # arrival interval, dwell (intervals)
                st.floats(20, 54), st.booleans(), st.floats(5, 56))  # e_req, V2G, e0 (kWh)
_CALL = st.tuples(st.sampled_from(["below", "above", "inside"]), st.floats(0, 1))


@settings(max_examples=40, deadline=None)
@given(vehicles=st.lists(_EV, min_size=1, max_size=5),
       calls=st.lists(_CALL, min_size=30, max_size=30))
def test_station_dispatch_never_breaks_a_reachable_requirement(vehicles, calls):
    """Any station set-points (even adversarial extremes) keep every reachable requirement."""
    ctx = SimContext.create(15.0, 30)
    m, station = _station(ctx, chargers=10)
    evs = []
    for a_k, dwell_k, e_req, v2g, e0 in vehicles:
        arr = float(a_k * 15)
        dep = arr + float(dwell_k * 15)
        spec = EVSpec(60, 12, 54, e_req, 7.0, 7.0 if v2g else 0.0, 0.95, 0.95)
        evs.append(EVAgent(m, ctx, station, spec, arr, dep, e0))
    for ev in evs:
        ctx.env.process(ev.session())
    trace = {ev.unique_id: [ev.e_arrival_kwh] for ev in evs}
    for k in range(30):
        ctx.env.run(until=k * 15 + 1e-6)
        ids, lo, hi = station.ev_boxes(k)
        side, u = calls[k]
        target = {"below": lo.sum() - 5, "above": hi.sum() + 5,
                  "inside": lo.sum() - 1 + u * (hi.sum() - lo.sum() + 2)}[side]
        _, dispatched, _ = station.dispatch(k, float(target))
        assert dispatched.tolist() == ids.tolist()
        for i in dispatched:
            trace[int(i)].append(station.outcome(int(i)).e_kwh)
    ctx.env.run()
    for ev in evs:
        s, e = ev.spec, ev.final_outcome().e_kwh
        dwell = math.floor(ev.departure_min / 15 + 1e-9) - math.ceil(ev.plug_in_min / 15 - 1e-9)
        reachable = min(s.e_req_kwh, max(s.e_max_kwh, ev.e_arrival_kwh),
                        ev.e_arrival_kwh + s.eta_ch * s.p_ch_max_kw * 0.25 * max(dwell, 0))
        reachable = max(reachable, min(s.e_min_kwh, ev.e_arrival_kwh))
        assert e >= reachable - 1e-6
        lo_e = min(s.e_min_kwh, ev.e_arrival_kwh) - 1e-6
        hi_e = max(s.e_max_kwh, ev.e_arrival_kwh) + 1e-6
        assert all(lo_e <= x <= hi_e for x in trace[ev.unique_id])


def test_call_policies():
    m = mesa.Model()
    da = package(np.array([-10.0, -20.0]), np.array([30.0, 50.0]), 0.25)
    calls = {}
    for policy in ("none", "follow-da", "random-within", "max-up", "max-down", "regulation"):
        tso = TransmissionAgent(m, da, policy, np.random.default_rng(1))
        calls[policy] = [tso.call(k, -5.0, 40.0, 15.0) for k in range(2)]
    assert calls["none"] == [0.0, 0.0]
    assert calls["follow-da"] == [10.0, 15.0]
    assert calls["max-up"] == [40.0, 40.0] and calls["max-down"] == [-5.0, -5.0]
    for policy in ("random-within", "regulation"):
        assert all(-5.0 <= c <= 40.0 for c in calls[policy])
    with pytest.raises(ValueError, match="is not a TSO rule"):
        TransmissionAgent(m, da, "bogus", np.random.default_rng(1)).call(0, 0, 1, 15)


def test_edge_policies_call_on_earlier_boundaries():
    m = mesa.Model()
    da = package(np.array([-10.0, -20.0, -5.0]), np.array([30.0, 50.0, 40.0]), 0.25)
    prev = package(np.array([-1.0, -2.0]), np.array([3.0, 4.0]), 0.25, t0=1)
    for policy, layer in (("edge-da", "da"), ("edge-prev", "prev")):
        tso = TransmissionAgent(m, da, policy, np.random.default_rng(3))
        first = tso.call(0, -5.0, 5.0, 15.0)  # before any publication: prev is the DA
        assert first in (-10.0, 30.0)
        tso.receive(prev)
        calls = [tso.call(k, -5.0, 5.0, 15.0) for k in (1, 2) for _ in range(20)]
        down_up = {k: tso.edges(k, layer) for k in (1, 2)}
        want = {k: set(down_up[k]) for k in (1, 2)}
        assert set(calls[:20]) == want[1] and set(calls[20:]) == want[2]  # both edges occur
        assert tso.edges(1, "prev") == (-1.0, 3.0) and tso.edges(1, "da") == (-20.0, 50.0)
    with pytest.raises(IndexError):
        tso.edges(0, "prev")  # interval 0 is not in a boundary published at tick 0
