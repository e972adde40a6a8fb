"""Band coupons: vector layout, generalized cost, realised subsidy and station net load."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from environment.reporting.traffic import stations_frame
from scenarios.config import load_scenario
from traffic.assignment import dynamic_ue
from traffic.prices import Coupons, Prices, money, station_net_load_kw, subsidy_spent
from traffic.scenario import (
    build_demand,
    build_network,
    build_prices,
    scenario_ue,
)
from traffic.static_stations import static_station_loads

STATIONS = ("CS1", "CS2", "CS3")


@given(st.integers(1, 4), st.lists(st.floats(0, 3), min_size=24, max_size=24))
@settings(max_examples=40, deadline=None)
def test_vector_round_trip(n_bands, vals):
    psi = np.array(vals[: 3 * 2 * n_bands])
    c = Coupons.from_vector(psi, STATIONS, n_bands, 30.0)
    np.testing.assert_array_equal(c.to_vector(STATIONS, n_bands), psi)
    # layout [station][charge, v2g][band]
    assert c.v2g_per_kwh["CS2"][n_bands - 1] == psi[(1 * 2 + 1) * n_bands + n_bands - 1]


def test_band_lookup_and_bad_input():
    c = Coupons(30.0, {"CS1": (1.0, 2.0)}, {})
    assert [c.value("charge", "CS1", t) for t in (0.0, 29.9, 30.0, 200.0, -5.0)] == \
        [1.0, 1.0, 2.0, 2.0, 1.0]
    assert c.value("v2g", "CS1", 10.0) == 0.0 and c.value("charge", "CSX", 10.0) == 0.0
    with pytest.raises(ValueError, match="band_min"):
        Coupons(0.0)
    with pytest.raises(ValueError, match=">= 0"):
        Coupons(30.0, {"CS1": (-1.0,)})
    with pytest.raises(ValueError, match="shape"):
        Coupons.from_vector(np.zeros(5), STATIONS, 1, 30.0)


@pytest.fixture(scope="module")
def case():
    sc = load_scenario("nd_coupled")
    cfg = sc.traffic
    net = build_network(cfg, sc.base_dir)
    demand = build_demand(cfg, net)
    base = dynamic_ue(net, demand, cfg.link_model, build_prices(cfg), cfg.target_gap,
                      cfg.max_iterations)
    return cfg, net, demand, base


def test_money_takes_the_band_of_the_departure(case):
    _, net, _, _ = case
    link = next(i for i, ln in enumerate(net.links) if ln.kind == "charge")
    path = (link,)
    e_kwh = 60.0 * net.links[link].service_min / 60.0
    st_name = net.links[link].station
    p = Prices(coupons=Coupons(60.0, {st_name: (0.5, 1.5)}, {}))
    assert money(net, path, "charging", Prices()) == pytest.approx(2.0 * e_kwh)
    assert money(net, path, "charging", p, 10.0) == pytest.approx((2.0 - 0.5) * e_kwh)
    assert money(net, path, "charging", p, 70.0) == pytest.approx((2.0 - 1.5) * e_kwh)
    assert money(net, path, "regular", p, 70.0) == 0.0


def test_subsidy_spent_counts_sessions_by_hand(case):
    """Spend = sum over realised sessions of coupon(band of departure) x energy, counted here
    from the trips directly (not from the loading's traversals)."""
    cfg, net, demand, base = case
    psi = np.zeros(12)
    psi[0], psi[3], psi[4 * 2 + 1] = 0.4, 0.7, 0.2  # CS1 charge b0, CS1 v2g b1, CS3 charge b1
    prices = dataclasses.replace(build_prices(cfg),
                                 coupons=Coupons.from_vector(psi, STATIONS, 2, 60.0))
    res = dynamic_ue(net, demand, cfg.link_model, prices, cfg.target_gap, cfg.max_iterations,
                     initial_shares=base.shares, step_offset=8.0)
    expected = 0.0
    table = psi.reshape(3, 2, 2)
    for tr in res.loading.trips:
        for a in tr.path:
            ln = net.links[a]
            if ln.kind in ("charge", "v2g"):
                j, i = STATIONS.index(ln.station), 0 if ln.kind == "charge" else 1
                band = min(int(tr.depart_min // 60.0), 1)
                power = cfg.charge_power_kw if ln.kind == "charge" else cfg.v2g_power_kw
                expected += table[j, i, band] * power * ln.service_min / 60.0
    got = sum(subsidy_spent(net, res.loading, prices).values())
    assert expected > 0 and got == pytest.approx(expected, rel=1e-12)


def test_net_load_matches_the_station_table(case):
    """The vectorised net load equals the reporting table's per-interval in-service power."""
    cfg, net, demand, base = case
    prices = build_prices(cfg)
    frame = stations_frame(net, base.loading, demand.interval_min, 12, 0.0, prices)
    for k in (3, 6, 9):
        load = station_net_load_kw(net, base.loading, prices, k * demand.interval_min,
                                   demand.interval_min)
        ref = frame[frame.interval == k].groupby("station").p_kw.sum()
        for name in STATIONS:
            assert load[name] == pytest.approx(ref[name], abs=1e-9)


def test_a_coupon_draws_charging_users(case):
    cfg, net, demand, base = case
    psi = np.zeros(12)
    psi[4] = psi[5] = 1.5  # CS2 charging, both bands
    prices = dataclasses.replace(build_prices(cfg),
                                 coupons=Coupons.from_vector(psi, STATIONS, 2, 60.0))
    res = dynamic_ue(net, demand, cfg.link_model, prices, cfg.target_gap, cfg.max_iterations,
                     initial_shares=base.shares, step_offset=8.0)

    def sessions(ld, name):
        links = [i for i, ln in enumerate(net.links) if ln.kind == "charge" and ln.station == name]
        return int(np.isin(ld.link, links).sum())

    assert sessions(res.loading, "CS2") > sessions(base.loading, "CS2")


def test_warm_start_and_band_checks(case):
    cfg, net, demand, base = case
    with pytest.raises(ValueError, match="initial_shares"):
        dynamic_ue(net, demand, cfg.link_model, build_prices(cfg), max_iter=1,
                   initial_shares=base.shares[:-1])
    bad = dataclasses.replace(build_prices(cfg), coupons=Coupons(15.0, {"CS1": (1.0,)}))
    with pytest.raises(ValueError, match="multiple"):
        dynamic_ue(net, demand, cfg.link_model, bad, max_iter=1)


def test_spend_recounted_with_departure_choice_and_soft_capacity(case):
    """The scenario's own model (soft capacity, departure-time choice): the spend recounted
    from the trips, each at the band of its shifted departure, equals ``subsidy_spent``; some
    station users did shift their departure. (The region search accepts a point only at the
    scenario's gap; the spend is the loading's whatever the gap.)"""
    cfg, net, demand, _ = case
    psi = np.zeros(12)
    psi[1], psi[2 * 2 + 2] = 0.6, 0.4  # CS1 charge band 1, CS2 v2g band 0
    prices = dataclasses.replace(build_prices(cfg),
                                 coupons=Coupons.from_vector(psi, STATIONS, 2, 60.0))
    res = scenario_ue(cfg, net, demand, prices)
    table = psi.reshape(3, 2, 2)
    expected, shifted = 0.0, 0
    desired = {}
    for g in res.groups:
        for t in g.depart_min:
            desired.setdefault((g.od, g.user), set()).add(round(float(t), 9))
    for tr in res.loading.trips:
        if tr.user != "regular" and round(tr.depart_min, 9) not in desired[(tr.od, tr.user)]:
            shifted += 1
        for a in tr.path:
            ln = net.links[a]
            if ln.kind in ("charge", "v2g"):
                j, i = STATIONS.index(ln.station), 0 if ln.kind == "charge" else 1
                band = min(int(tr.depart_min // 60.0), 1)
                power = cfg.charge_power_kw if ln.kind == "charge" else cfg.v2g_power_kw
                expected += table[j, i, band] * power * ln.service_min / 60.0
    got = sum(subsidy_spent(net, res.loading, prices).values())
    assert expected > 0 and got == pytest.approx(expected, rel=1e-12)
    assert shifted > 0


def test_static_spend_and_load_recounted_from_sessions(case):
    """Static model, soft capacity: per interval the spend is sum(sessions x incentive x
    energy) and each station's load is power x sessions x t_s / interval (occupancy); the
    total net load does not depend on the coupons (the 2-D static region)."""
    cfg, net, demand, _ = case
    psi = np.zeros(12)
    psi[0], psi[4 * 2 + 1], psi[2 * 2 + 2] = 0.5, 0.8, 0.3
    prices = dataclasses.replace(build_prices(cfg),
                                 coupons=Coupons.from_vector(psi, STATIONS, 2, 60.0))
    sta = static_station_loads(net, demand, prices, 30.0, capacity="soft")
    free = static_station_loads(net, demand, build_prices(cfg), 30.0, capacity="soft")
    table = psi.reshape(3, 2, 2)
    service = {ln.station: ln.service_min for ln in net.links if ln.kind == "charge"}
    power = np.array([cfg.charge_power_kw, -cfg.v2g_power_kw])
    for k, start in enumerate(sta.start_min):
        band = min(int(start // 60.0), 1)
        spend, load = 0.0, np.zeros(3)
        for j, name in enumerate(sta.stations):
            n = sta.sessions[j]
            for i in range(2):
                energy = abs(power[i]) * service[name] / 60.0
                spend += n[i, k] * table[STATIONS.index(name), i, band] * energy
                load[j] += power[i] * n[i, k] * service[name] / 30.0
        assert sta.subsidy[k] == pytest.approx(spend, rel=1e-9)
        np.testing.assert_allclose(sta.p_kw[:, k], load, rtol=1e-9, atol=1e-6)
        assert sta.p_kw[:, k].sum() == pytest.approx(free.p_kw[:, k].sum(), rel=1e-9)
    assert sta.subsidy.sum() > 0
