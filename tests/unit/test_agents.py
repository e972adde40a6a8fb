"""Agent-level tests: EV physics and queueing, station dispatch, TSO call policies."""

import math

import mesa
import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.ev import EVAgent, EVSpec
from agents.station import StationAgent
from agents.transmission import TransmissionAgent
from flexibility.packaging import package
from traffic.interface import ScheduledArrival

SPEC = EVSpec(capacity_kwh=60, e_min_kwh=12, e_max_kwh=54, e_req_kwh=36, p_ch_max_kw=7,
              p_dis_max_kw=7, eta_ch=0.95, eta_dis=0.9)


class Bare(mesa.Model):
    """The smallest model agents need: a simpy clock and the settings they read."""

    def __init__(self, queue_rule="wait", dt_min=15.0):
        super().__init__(rng=np.random.default_rng(0))
        self.env = simpy.Environment()
        self.travel = ScheduledArrival()
        self.queue_rule = queue_rule
        self.dt_min = dt_min


def test_ev_energy_integration_uses_the_right_efficiency():
    m = Bare()
    ev = EVAgent(m, None, SPEC, 0.0, 60.0, 30.0)
    ev.apply(4.0, 0.25)
    assert ev.e_kwh == pytest.approx(30.0 + 0.95 * 1.0)
    ev.apply(-2.0, 0.25)
    assert ev.e_kwh == pytest.approx(30.0 + 0.95 - 0.5 / 0.9)
    assert ev.charged_kwh == pytest.approx(1.0) and ev.discharged_kwh == pytest.approx(0.5)


@pytest.mark.parametrize("rule", ["wait", "leave"])
def test_full_station_makes_an_ev_wait_or_leave(rule):
    m = Bare(queue_rule=rule)
    station = StationAgent(m, "S", chargers=1, pool=None, alpha=0.9)
    first = EVAgent(m, station, SPEC, 10.0, 100.0, 30.0)
    second = EVAgent(m, station, SPEC, 20.0, 200.0, 30.0)
    late = EVAgent(m, station, SPEC, 30.0, 90.0, 30.0)  # gives up before a charger frees
    for ev in (first, second, late):
        m.env.process(ev.session(m.env))
    m.env.run()
    assert first.plug_in_min == 10.0 and first.state == "departed"
    if rule == "wait":
        assert second.plug_in_min == 100.0 and second.state == "departed"
    else:
        assert second.plug_in_min is None and second.state == "left_unserved"
        assert second.left_min == 20.0
    assert late.plug_in_min is None and late.state == "left_unserved"
    assert station.connected == []


def test_controllable_intervals_follow_the_grid():
    m = Bare()
    station = StationAgent(m, "S", chargers=2, pool=None, alpha=0.9)
    ev = EVAgent(m, station, SPEC, 7.0, 52.0, 30.0)  # plugged 7 min, leaves 52 min
    m.env.process(ev.session(m.env))
    m.env.run(until=8)
    assert [k for k in range(5) if ev.controllable_at(k)] == [1, 2]  # [15, 45) only


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_station_dispatch_never_breaks_a_reachable_requirement(seed):
    """Any station set-points (even adversarial extremes) keep every reachable requirement."""
    rng = np.random.default_rng(seed)
    m = Bare()
    station = StationAgent(m, "S", chargers=10, pool=None, alpha=0.9)
    station.pool = type("P", (), {"dt_h": 0.25})()
    evs = []
    for _ in range(rng.integers(1, 6)):
        arr = float(rng.integers(0, 8) * 15)
        dep = arr + float(rng.integers(1, 16) * 15)
        spec = EVSpec(60, 12, 54, float(rng.uniform(20, 54)), 7.0,
                      7.0 if rng.random() < 0.5 else 0.0, 0.95, 0.95)
        e0 = float(rng.uniform(5, 56))
        evs.append(EVAgent(m, station, spec, arr, dep, e0))
    for ev in evs:
        m.env.process(ev.session(m.env))
    trace = {id(ev): [ev.e_kwh] for ev in evs}
    for k in range(30):
        m.env.run(until=k * 15 + 1e-6)
        _, lo, hi = station.ev_boxes(k)
        target = rng.choice([lo.sum() - 5, hi.sum() + 5, rng.uniform(lo.sum() - 1,
                                                                    hi.sum() + 1 + 1e-9)])
        station.dispatch(k, float(target), 0.25)
        for ev in station.controllable(k):
            trace[id(ev)].append(ev.e_kwh)
    m.env.run()
    for ev in evs:
        s = ev.spec
        dwell = math.floor(ev.departure_min / 15 + 1e-9) - math.ceil(ev.plug_in_min / 15 - 1e-9)
        reachable = min(s.e_req_kwh, max(s.e_max_kwh, ev.e_arrival_kwh),
                        ev.e_arrival_kwh + s.eta_ch * s.p_ch_max_kw * 0.25 * max(dwell, 0))
        reachable = max(reachable, min(s.e_min_kwh, ev.e_arrival_kwh))
        assert ev.e_kwh >= reachable - 1e-6
        lo_e = min(s.e_min_kwh, ev.e_arrival_kwh) - 1e-6
        hi_e = max(s.e_max_kwh, ev.e_arrival_kwh) + 1e-6
        assert all(lo_e <= e <= hi_e for e in trace[id(ev)])


def test_call_policies():
    m = Bare()
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
    with pytest.raises(ValueError, match="unknown call policy"):
        TransmissionAgent(m, da, "bogus", np.random.default_rng(1)).call(0, 0, 1, 15)


def test_edge_policies_call_on_earlier_boundaries():
    m = Bare()
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
