"""The transmission package of the paper case is deliverable (issue: proof by extreme points).

For kept behaviour days ``m`` of a reduced paper case (30 sampled days, the real feeder and its
AC-corrected network boxes), every extreme trajectory ``R^m + delta`` of the α deviation
battery — 1,000 random LP directions plus both extremes of every interval — is split to the EVs
by that day's share policy, and the split is checked against the raw session table (arrival
and dwell minutes, initial SOC, V2G flag, EV parameters), interval indices and energies derived
here, not through ``Fleet``. A few trajectories are also checked by an LP (scipy's HiGHS) over
per-EV charge/discharge powers built from the same raw table: the LP must find a split on its
own.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack

from environment.grid_setup import build_grid_model
from flexibility.battery import vehicle_batteries
from flexibility.cases import make_case
from flexibility.share_policy import share_policy
from grid.alpha_layers import case_layers
from scenarios.fleetgen import draw_sessions, fleet_from_sessions
from tests.batteries import battery_vertices

M = 30


@pytest.fixture(scope="module")
def case(paper_scenario, shipped_model):
    sc = paper_scenario
    hz = sc.horizon
    rng = np.random.default_rng(2026)
    draws = [draw_sessions(shipped_model, hz, s.n_ev, M, sc.behaviour.v2g_share, r)
             for s, r in zip(sc.stations, rng.spawn(len(sc.stations)), strict=True)]
    fleets = [fleet_from_sessions(d, sc.ev, hz) for d in draws]
    names = tuple(s.name for s in sc.stations)
    c = make_case(names, fleets, hz.n_intervals, 0, 0.9, "total")
    gm = build_grid_model(sc)
    layers = case_layers(gm, c, 0.9)
    return sc, draws, fleets, layers


def raw_vehicles(sc, draws, m):
    """Per-EV arrays of day ``m`` from the raw session table (station order)."""
    dt_min = sc.horizon.dt_min
    cap = sc.ev.capacity_kwh
    arr = np.concatenate([d.arrival_min[m] for d in draws])
    dep = arr + np.concatenate([d.dwell_min[m] for d in draws])
    a = np.ceil(arr / dt_min - 1e-9).astype(int)
    d = np.maximum(np.floor(dep / dt_min + 1e-9).astype(int), a)
    v2g = np.concatenate([d_.v2g[m] for d_ in draws])
    station = np.concatenate([np.full(d_.arrival_min.shape[1], j) for j, d_ in enumerate(draws)])
    e0 = np.concatenate([d_.soc_init[m] for d_ in draws]) * cap
    return dict(a=a, d=d, e0=e0, lo=np.minimum(sc.ev.soc_min * cap, e0),
                hi=np.maximum(sc.ev.soc_max * cap, e0), req=sc.ev.soc_departure_min * cap,
                pc=np.full(a.size, sc.ev.p_ch_max_kw), pd=np.where(v2g, sc.ev.p_dis_max_kw, 0.0),
                station=station)


def check_raw(sc, raw, x, net_lo, net_hi, tol=1e-6):
    """Violations of EV trajectories ``x (V, N, T)`` against the raw sessions and the boxes."""
    T, dt = sc.horizon.n_intervals, sc.horizon.dt_h
    eta_c, eta_d = sc.ev.eta_ch, sc.ev.eta_dis
    t = np.arange(T)
    a, d = raw["a"][:, None], raw["d"][:, None]
    inside = (t >= np.maximum(a, 0)) & (t < d)
    bad = []
    if (np.abs(np.where(inside, 0.0, x)) > tol).any():
        bad.append("power outside a connection window")
    if (x > raw["pc"][:, None] + tol).any() or (x < -raw["pd"][:, None] - tol).any():
        bad.append("power limit")
    e_start = np.minimum(raw["hi"], raw["e0"] + eta_c * raw["pc"] * dt * np.maximum(-raw["a"], 0))
    gain = np.where(x >= 0, eta_c * x, x / eta_d) * dt
    e = e_start[:, None] + np.cumsum(gain, axis=-1)
    if ((e < raw["lo"][:, None] - tol) & inside).any() or ((e > raw["hi"][:, None] + tol)
                                                            & inside).any():
        bad.append("energy limit")
    reach = raw["e0"] + eta_c * raw["pc"] * dt * (raw["d"] - raw["a"])
    q = np.maximum(raw["lo"], np.minimum(raw["req"], reach))
    last = np.clip(raw["d"] - 1, 0, T - 1)
    e_dep = np.take_along_axis(e, np.broadcast_to(last[:, None], (*e.shape[:-1], 1)),
                               axis=-1)[..., 0]
    left = np.maximum(raw["d"] - T, 0)
    live = raw["d"] > np.maximum(raw["a"], 0)
    if ((e_dep + eta_c * raw["pc"] * dt * left < q - tol) & live).any():
        bad.append("departure requirement")
    for j in range(net_lo.shape[1]):
        pj = x[..., raw["station"] == j, :].sum(axis=-2)
        if (pj > net_hi[:, j] + tol).any() or (pj < net_lo[:, j] - tol).any():
            bad.append(f"network box of station {j}")
    return bad


def lp_split_exists(sc, raw, total_kw, net_lo, net_hi):
    """An LP over per-EV charge/discharge powers from the raw table reaches ``total_kw``."""
    T, dt = sc.horizon.n_intervals, sc.horizon.dt_h
    eta_c, eta_d = sc.ev.eta_ch, sc.ev.eta_dis
    N = raw["a"].size
    nv = 2 * N * T
    col = lambda n, t, k: (n * T + t) * 2 + k  # noqa: E731  k=0 charge, 1 discharge
    bounds = []
    for n in range(N):
        for t in range(T):
            on = max(raw["a"][n], 0) <= t < raw["d"][n]
            bounds += [(0.0, raw["pc"][n] if on else 0.0), (0.0, raw["pd"][n] if on else 0.0)]
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0

    def add(entries, lb, ub):
        nonlocal r
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        lo.append(lb)
        hi.append(ub)
        r += 1

    for t in range(T):  # the total, and each station inside its network box
        add([(col(n, t, 0), 1.0) for n in range(N)] + [(col(n, t, 1), -1.0) for n in range(N)],
            total_kw[t], total_kw[t])
        for j in range(net_lo.shape[1]):
            members = np.flatnonzero(raw["station"] == j)
            add([(col(n, t, 0), 1.0) for n in members] + [(col(n, t, 1), -1.0) for n in members],
                net_lo[t, j], net_hi[t, j])
    for n in range(N):
        a, d = raw["a"][n], raw["d"][n]
        if d <= max(a, 0):
            continue
        e_start = min(raw["hi"][n], raw["e0"][n] + eta_c * raw["pc"][n] * dt * max(-a, 0))
        reach = raw["e0"][n] + eta_c * raw["pc"][n] * dt * (d - a)
        q = max(raw["lo"][n], min(raw["req"], reach))
        for t in range(max(a, 0), min(d, T)):
            ent = [(col(n, s, 0), eta_c * dt) for s in range(max(a, 0), t + 1)]
            ent += [(col(n, s, 1), -dt / eta_d) for s in range(max(a, 0), t + 1)]
            lb = raw["lo"][n] - e_start
            if t == min(d, T) - 1:  # requirement (reachable with the rest of the dwell)
                lb = max(lb, q - e_start - eta_c * raw["pc"][n] * dt * max(d - T, 0))
            add(ent, lb, raw["hi"][n] - e_start)
    a_mat = coo_matrix((vals, (rows, cols)), shape=(r, nv)).tocsr()
    lo, hi = np.array(lo), np.array(hi)
    res = linprog(np.zeros(nv), A_ub=vstack([a_mat, -a_mat]).tocsr(),
                  b_ub=np.concatenate([hi, -lo]) + 1e-7, bounds=bounds, method="highs")
    return res.status == 0


def test_extreme_trajectories_disaggregate_on_kept_days(case):
    sc, draws, fleets, layers = case
    pk = layers.package
    inner = pk.inner
    dev = inner.deviation.tightened()
    assert not dev.empty_mask()
    assert (dev.y_lo_kwh <= dev.y_hi_kwh + 1e-9).all()
    net_lo, net_hi = layers.dist_boxes.lo_kw, layers.dist_boxes.hi_kw
    delta = battery_vertices(dev, np.random.default_rng(5), 1000)
    assert len(delta) >= 1000 + 2 * sc.horizon.n_intervals
    from flexibility.alpha_sets import join_fleets

    joined, station = join_fleets(fleets)
    kept = np.flatnonzero(inner.kept)[:2]
    for m in kept:
        raw = raw_vehicles(sc, draws, m)
        row = joined.row(m)
        vb = vehicle_batteries(row, sc.horizon.n_intervals)
        pol, misfit, _ = share_policy(vb, station[m], len(draws), net_lo, net_hi,
                                      *inner.params[:2])
        assert not misfit.any()
        x = pol.split(delta)  # (V, N, T)
        np.testing.assert_allclose(x.sum(axis=-2), delta + inner.ref_kw[m], atol=1e-6)
        assert check_raw(sc, raw, x, net_lo, net_hi) == []


def test_lp_over_raw_sessions_finds_a_split(case):
    sc, draws, _fleets, layers = case
    inner = layers.package.inner
    dev = inner.deviation.tightened()
    net_lo, net_hi = layers.dist_boxes.lo_kw, layers.dist_boxes.hi_kw
    m = int(np.flatnonzero(inner.kept)[0])
    raw = raw_vehicles(sc, draws, m)
    for delta in battery_vertices(dev, np.random.default_rng(9), 2)[:2]:
        assert lp_split_exists(sc, raw, inner.ref_kw[m] + delta, net_lo, net_hi)
    # and the check can fail: a total beyond the fleet's power is not deliverable
    too_much = inner.ref_kw[m] + dev.p_hi_kw + 50.0
    assert not lp_split_exists(sc, raw, too_much, net_lo, net_hi)
