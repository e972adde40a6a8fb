"""Kernel pieces: declared recorder schemas, travel-model precedence, session outcomes."""

from dataclasses import dataclass, fields
from types import SimpleNamespace
from typing import ClassVar

import mesa
import pytest

from agents.context import SimContext
from agents.ev import EVAgent
from agents.session import EVSpec
from agents.station import StationAgent
from environment.population import resolve_travel
from environment.recorder import Recorder
from environment.records import SCHEMAS, SetpointRows, TickRows, ev_frame
from environment.traffic_coupling import AssignedArrivals
from traffic.interface import ScheduledArrival

SPEC = EVSpec(capacity_kwh=60, e_min_kwh=12, e_max_kwh=54, e_req_kwh=36, p_ch_max_kw=7,
              p_dis_max_kw=0, eta_ch=0.95, eta_dis=0.9)


def test_recorder_accepts_only_declared_schemas():
    rec = Recorder(SCHEMAS)
    rec.add(SetpointRows(t=3, station="S", ev=[1, 2], p_kw=[0.5, 1.5]))
    f = rec.frame("setpoints")
    assert list(f.columns) == [x.name for x in fields(SetpointRows)]
    assert f.t.tolist() == [3, 3] and f.station.tolist() == ["S", "S"]
    assert rec.frame("ticks").empty and set(rec.schemas) == {"ticks", "network", "setpoints",
                                                                 "dispatch"}

    @dataclass(frozen=True)
    class Other:
        TABLE: ClassVar[str] = "setpoints"
        t: int

    with pytest.raises(TypeError, match="declared table schema"):
        rec.add(Other(t=1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lengths"):
        rec.add(SetpointRows(t=3, station="S", ev=[1, 2], p_kw=[0.5]))
    assert TickRows.TABLE == "ticks"


def test_travel_precedence_explicit_then_traffic_then_scheduled():
    plain, traffic = SimpleNamespace(traffic=None), SimpleNamespace(traffic=object())
    mine = ScheduledArrival()
    assert resolve_travel(traffic, mine)[0] is mine  # type: ignore[arg-type]
    travel, arrivals = resolve_travel(traffic, None)  # type: ignore[arg-type]
    assert isinstance(travel, AssignedArrivals)
    arrivals[4] = 12.5  # filled after the model is handed out
    assert travel.arrival_min(4, "S", 0.0) == 12.5 and travel.arrival_min(5, "S", 3.0) == 3.0
    assert isinstance(resolve_travel(plain, None)[0], ScheduledArrival)  # type: ignore[arg-type]


def test_ev_frame_reads_plugged_sessions_from_the_station():
    ctx = SimContext.create(15.0, 4)
    m = mesa.Model()
    station = StationAgent(m, ctx, "S", chargers=2, pool=None, alpha=0.9)
    gone = EVAgent(m, ctx, station, SPEC, 0.0, 30.0, 20.0)
    stays = EVAgent(m, ctx, station, SPEC, 0.0, 120.0, 20.0)  # 2 intervals after the end
    for ev in (gone, stays):
        ctx.env.process(ev.session())
    ctx.env.run(until=1)
    station.dispatch(0, 14.0)  # both at 7 kW for interval 0
    ctx.env.run(until=60 + 1e-6)
    f = ev_frame([gone, stays], ctx.n_intervals, ctx.dt_h).set_index("ev")
    g, s = f.loc[gone.unique_id], f.loc[stays.unique_id]
    assert g.state == "departed" and s.state == "plugged_at_end"
    assert g.e_departure_kwh == pytest.approx(20.0 + 0.95 * 7 * 0.25)
    assert s.charged_kwh == pytest.approx(7 * 0.25) and s.controlled_ticks == 1
    assert g.shortfall_kwh > 0 and g.requirement_reachable is None
    # 21.66 kWh + 2 intervals at 0.95 * 7 * 0.25 cannot reach 36 kWh
    assert s.requirement_reachable is False
