"""Recorded outputs against quantities recomputed here from other recorded columns.

Each check derives its expected value through a different path than the code that wrote it, so
it can fail when the writer is wrong (the smoke tests' "sums of the same array" cannot):

* the EVs' departure energy is re-integrated from the per-interval set-point table with the
  efficiency rule (``eta_ch`` when charging, ``1 / eta_dis`` when discharging) and the interval
  length, both read from the scenario, and every step is checked against the vehicle's limits;
* the feeder's per-bus station injections are rebuilt from the set-point table (grouped by the
  EVs' station) and the scenario's station buses (paper numbering: pandapower bus = k - 1);
* the bottleneck truncation (``bte``) of ``assess`` is recomputed from the written envelope
  table (station minus distribution layer of the DA total) and split by the binding family of
  the written AC-validation rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from environment.cli.main import main
from scenarios.config import load_scenario

TOL_KWH = 1e-6


@pytest.fixture(scope="module")
def sc():
    return load_scenario()


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    out = tmp_path_factory.mktemp("day_independent")
    assert main(["simulate", "--quiet", "--no-plots", "--scenarios", "20", "--seed", "4",
                 "--out", str(out)]) == 0
    tables = {t: pd.read_parquet(out / f"{t}.parquet")
              for t in ("evs", "setpoints", "network", "ticks")}
    return json.loads((out / "summary.json").read_text()), tables


@pytest.fixture(scope="module")
def assessed(tmp_path_factory):
    out = tmp_path_factory.mktemp("assess_independent")
    assert main(["assess", "--scenarios", "20", "--seed", "7", "--no-plots", "--out",
                 str(out)]) == 0
    return (json.loads((out / "summary.json").read_text()),
            pd.read_parquet(out / "envelopes.parquet"))


def reintegrate(evs: pd.DataFrame, sp: pd.DataFrame, eta_c: float, eta_d: float, dt_h: float):
    """Energy after every recorded set-point and at the end, per EV, from the set-point table."""
    gain = np.where(sp.p_kw >= 0.0, eta_c * sp.p_kw, sp.p_kw / eta_d) * dt_h
    steps = sp.assign(gain=gain).sort_values(["ev", "t"])
    e0 = evs.set_index("ev").e_arrival_kwh
    steps["e_after"] = steps.ev.map(e0) + steps.groupby("ev").gain.cumsum()
    final = e0 + steps.groupby("ev").gain.sum().reindex(e0.index, fill_value=0.0)
    return steps, final


def test_simulated_day_against_independent_recomputation(sc, day):
    """One test per simulated day (the day is the expensive part; xdist would run a module
    fixture once per worker)."""
    check_departure_energy(sc, day)
    check_wrong_efficiency_is_detected(sc, day)
    check_vehicle_limits(sc, day)
    check_network_injections(sc, day)


def check_departure_energy(sc, day):
    _, t = day
    evs, sp = t["evs"], t["setpoints"]
    assert len(sp) > 0 and (sp.p_kw.abs() > 1e-3).any()
    _, final = reintegrate(evs, sp, sc.ev.eta_ch, sc.ev.eta_dis, sc.horizon.dt_h)
    recorded = evs.set_index("ev").e_departure_kwh
    np.testing.assert_allclose(final.loc[recorded.index], recorded, atol=TOL_KWH)


def check_wrong_efficiency_is_detected(sc, day):
    """The check above can fail: with the efficiencies swapped for 1 it does."""
    _, t = day
    evs, sp = t["evs"], t["setpoints"]
    _, final = reintegrate(evs, sp, 1.0, 1.0, sc.horizon.dt_h)
    recorded = evs.set_index("ev").e_departure_kwh
    assert np.abs(final.loc[recorded.index] - recorded).max() > 1e-3


def check_vehicle_limits(sc, day):
    """Powers within the charger (and V2G only for V2G vehicles), energy within the effective
    floor/ceiling ``[min(e_min, e0), max(e_max, e0)]`` after every interval."""
    _, t = day
    evs, sp = t["evs"], t["setpoints"]
    ev = sc.ev
    steps, _ = reintegrate(evs, sp, ev.eta_ch, ev.eta_dis, sc.horizon.dt_h)
    info = evs.set_index("ev")
    v2g = steps.ev.map(info.v2g).astype(bool)
    assert (steps.p_kw <= ev.p_ch_max_kw + 1e-9).all()
    assert (steps.p_kw >= np.where(v2g, -ev.p_dis_max_kw, 0.0) - 1e-9).all()
    e0 = steps.ev.map(info.e_arrival_kwh)
    lo = np.minimum(ev.soc_min * ev.capacity_kwh, e0)
    hi = np.maximum(ev.soc_max * ev.capacity_kwh, e0)
    assert (steps.e_after >= lo - TOL_KWH).all() and (steps.e_after <= hi + TOL_KWH).all()
    # the recorded requirement is the scenario's departure SOC, and the shortfall follows it
    np.testing.assert_allclose(evs.e_req_kwh, ev.soc_departure_min * ev.capacity_kwh)
    gone = evs[evs.state.isin(["departed", "left_unserved"])]
    np.testing.assert_allclose(gone.shortfall_kwh,
                               np.maximum(0.0, gone.e_req_kwh - gone.e_departure_kwh), atol=1e-9)


def _station_pp_bus(sc) -> dict[str, int]:
    if sc.grid.bus_numbering == "one_based":
        return {s.name: int(s.bus) - 1 for s in sc.stations}
    return {s.name: int(s.bus) for s in sc.stations}


def check_network_injections(sc, day):
    _, t = day
    sp, net, ticks = t["setpoints"], t["network"], t["ticks"]
    per_station = sp.groupby(["t", "station"]).p_kw.sum()
    bus_of = _station_pp_bus(sc)
    expected = pd.Series(0.0, index=pd.MultiIndex.from_frame(net[["t", "bus"]]))
    for (k, name), p in per_station.items():
        expected.loc[(k, bus_of[name])] += p
    got = net.set_index(["t", "bus"]).p_station_kw
    np.testing.assert_allclose(got.loc[expected.index], expected, atol=1e-9)
    # and each station's delivered power is what its EVs were set to
    rows = ticks[ticks.station.isin(list(bus_of))].set_index(["t", "station"]).delivered_kw
    np.testing.assert_allclose(rows, per_station.reindex(rows.index, fill_value=0.0), atol=1e-9)


def test_bte_recomputed_from_the_envelope_table(sc, assessed):
    summary, env = assessed
    dt_h = sc.horizon.dt_h

    def da_total(layer):
        rows = env[(env.layer == layer) & (env.kind == "da") & (env.station == "ALL")]
        return rows.set_index("t").sort_index()

    st, di = da_total("station"), da_total("distribution")
    for side, col in (("charge", "p_ch_max_kw"), ("discharge", "p_dis_max_kw")):
        cut = np.maximum(st[col] - di[col], 0.0)
        bte = summary["bte"][side]
        assert bte["truncated_kwh"] == pytest.approx(float(cut.sum() * dt_h), abs=1e-9)
        assert bte["bottleneck_intervals"] == int((cut > 1e-9).sum())
        assert bte["peak_kw"] == pytest.approx(float(cut.max()), abs=1e-9)
    # the charging side split by the binding family of the written AC-validation rows
    cut = np.maximum(st.p_ch_max_kw - di.p_ch_max_kw, 0.0)
    assert cut.sum() > 0, "the default case is network-limited somewhere"
    family = {r["time"]: r["binding"].replace(" (AC)", "") for r in summary["ac_validation"]}
    clipped = cut > 1e-9
    assert set(st.time[clipped]) <= set(family)
    split = (cut[clipped] * dt_h).groupby(st.time[clipped].map(family).to_numpy()).sum()
    assert set(summary["bte"]["charge"]["by_binding_kwh"]) == set(split.index)
    for key, kwh in split.items():
        assert summary["bte"]["charge"]["by_binding_kwh"][key] == pytest.approx(kwh, abs=1e-9)
