"""Forecast errors of the shipped SimBench year and their scaling to the feeder."""

import numpy as np
import pandas as pd
import pytest

from dispatch.uncertainty import MixtureInputError, forecast_errors, pooled_moments
from scenarios.config import load_scenario
from scenarios.errors import InputError
from scenarios.year_profiles import BUILTIN_YEAR, read_year, year_errors


@pytest.fixture(scope="module")
def year():
    return read_year(BUILTIN_YEAR)


def test_builtin_year_is_2016_at_15_minutes(year):
    assert len(year) == 366 * 96
    assert year["time"].iloc[0] == "2016-01-01 00:00"
    assert year["time"].iloc[-1] == "2016-12-31 23:45"


def test_energy_scaled_errors_sum_to_zero_per_day(year):
    """The energy-scaled forecast has the day's energy: errors sum to zero over each day
    with any output; the day-type mean does not."""
    e = year_errors(year, (6, 7, 8), False, 14, "energy-scaled")
    assert len(e.days) == 66  # June-August 2016 weekdays
    for col in ("load_p", "pv_p"):
        np.testing.assert_allclose(e.error[col].sum(axis=1), 0.0, atol=1e-9)
    raw = year_errors(year, (6, 7, 8), False, 14, "day-type-mean")
    assert np.abs(raw.error["pv_p"].sum(axis=1)).max() > 1.0


def test_seasonal_window_leaves_the_day_out():
    """Independent: a series with one spike day; with a window the spike day's forecast is
    the mean of the other same-type days, so its error is the whole spike."""
    days = np.ones((28, 96))
    days[10] += 5.0
    err = forecast_errors(days.ravel(), 96, 0, "x", window_days=7)
    assert err[10, 0] == pytest.approx(5.0)
    assert err[11, 0] == pytest.approx(-5.0 / 10)  # day 10 is one of 10 weekday neighbours


def test_net_load_errors_follow_the_scenario_scaling(year):
    """Net-load error = load error x load scale - PV error x PV scale, recomputed here from
    the shipped shapes and the paper case's totals."""
    from environment.planning.chance import net_load_errors

    sc = load_scenario(None).with_overrides(dispatch={
        "uncertainty_source": BUILTIN_YEAR, "uncertainty_months": [6, 7, 8]})
    net, wind, days, fit = net_load_errors(sc)
    shapes = pd.read_csv("scenarios/data/simbench_summer_weekday.csv")
    p = sc.grid.profiles
    ls = (p.load_peak_kw - p.load_min_kw) / np.ptp(shapes.load_p.to_numpy())
    ps = p.pv_peak_kw / shapes.pv_p.max()
    e = year_errors(year, (6, 7, 8), False, 14, "energy-scaled")
    np.testing.assert_allclose(net, ls * e.error["load_p"] - ps * e.error["pv_p"])
    assert np.all(wind == 0.0) and len(days) == 66
    assert fit.sum() == 33 and fit[0::2].all()  # one year: the alternate split


def test_sets_give_300_held_out_days_and_no_date_on_both_sides():
    """The default data: six SimBench sets, May-September weekdays, split by date."""
    from environment.planning.chance import net_load_errors

    raw = pd.read_csv("scenarios/data/simbench_2016_sets.csv.gz")
    assert sorted(raw["set"].unique()) == list(range(6))
    assert (raw.groupby("set").size() == 366 * 96).all()
    _, _, days, fit = net_load_errors(load_scenario(None))
    dates = np.array([d[:10] for d in days])
    assert (~fit).sum() >= 300 and fit.sum() >= 300
    assert not set(dates[fit]) & set(dates[~fit])
    assert len(set(days)) == len(days)  # every (date, set) once


def test_sets_are_processed_as_separate_years():
    """Each set's errors equal those of that set read alone (forecasts never mix sets)."""
    raw = pd.read_csv("scenarios/data/simbench_2016_sets.csv.gz")
    both = year_errors(raw[raw["set"].isin([1, 4])], (7,), False, 14, "energy-scaled")
    for k in (1, 4):
        alone = year_errors(raw[raw["set"] == k].drop(columns="set").reset_index(drop=True),
                            (7,), False, 14, "energy-scaled")
        mine = np.array([d.endswith(f"#{k}") for d in both.days])
        np.testing.assert_array_equal(both.error["wind_p"][mine], alone.error["wind_p"])


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="uncertainty_source"):
        read_year(str(tmp_path / "missing.csv"))
    with pytest.raises(MixtureInputError, match="too few"):
        pooled_moments(np.random.default_rng(0).normal(size=(2, 8)), pool=4)
