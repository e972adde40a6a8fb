"""The shipped residential sessions: regenerated exactly by their tool, shaped as stated, and
read by a scenario through ``builtin:home_charging_nhts``."""

import numpy as np
import pandas as pd
import pytest

from scenarios.config import load_scenario
from scenarios.sessions import clean_sessions, read_sessions
from scenarios.tools import make_home_sessions as mk


def test_the_shipped_table_is_the_tool_output():
    shipped = pd.read_csv(mk.OUT)
    drawn = mk.draw(mk.N_SESSIONS, np.random.default_rng(mk.SEED))
    pd.testing.assert_frame_equal(shipped, drawn, check_dtype=False)


def test_sessions_run_from_evening_to_next_morning():
    d = mk.draw(20_000, np.random.default_rng(7))
    start = pd.to_datetime(d.start_local)
    end = pd.to_datetime(d.end_local)
    dwell_h = (end - start).dt.total_seconds() / 3600.0
    assert dwell_h.between(1.0 - 1 / 60, 24.0 + 1 / 60).all()
    assert (d.energy_kwh <= mk.CHARGER_KW * dwell_h + 1e-9).all()
    assert (d.energy_kwh > 0).all()  # the cleaning drops empty sessions
    # departures the next morning: the end's clock hour is before noon for most sessions
    assert (end.dt.hour < 12).mean() > 0.8
    # the arrival hour's circular mean sits at the stated mean (17.47 h)
    angle = 2 * np.pi * (start.dt.hour + start.dt.minute / 60) / 24
    mean_h = np.angle(np.exp(1j * angle).mean()) * 24 / (2 * np.pi) % 24
    assert mean_h == pytest.approx(mk.ARRIVAL_MEAN_H, abs=0.15)
    # energy: lognormal distance times kWh per km (median exp(mu), short dwells clip a few)
    assert np.median(d.energy_kwh) == pytest.approx(mk.KWH_PER_KM * np.exp(mk.DISTANCE_MU),
                                                    rel=0.05)


def test_a_scenario_reads_the_builtin_and_cleaning_keeps_every_session():
    sc = load_scenario("zonal_case")
    data = sc.model_dump()
    data["base_dir"] = sc.base_dir
    data["behaviour"]["sessions"] = "builtin:home_charging_nhts"
    sc = type(sc).model_validate(data)
    assert sc.sessions_path() == mk.OUT
    table = clean_sessions(read_sessions(sc.sessions_path()), max_charger_kw=22.0,
                           max_dwell_h=48.0)
    assert len(table) == mk.N_SESSIONS
