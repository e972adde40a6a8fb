"""The FOR method against exhaustive enumeration of coupons on a tiny network.

Network (built by hand, the way ``traffic.scenario.build_network`` builds station links):
three origins 11, 12, 13 send 60 veh/h each for 30 min to destination 2 through station A
(node 3) or station B (node 4); 50 % of the vehicles are charging users, 30 % V2G users. Each
station has a charging and a V2G link (access 1 min, 10 min service, 50 ports: never a queue)
and a dummy link back to the road; the roads have ample capacity. Every user therefore pays
its free-flow generalized cost and the equilibrium is all-or-nothing per group: origin 11 is
3 min faster via A, 12 is 7 min faster via B, 13 is 11 min faster via A. A user switches
station when the coupon difference beats that time (0.5 CNY/min): charging (10 kWh) at 0.15,
0.35, 0.55 CNY/kWh, V2G (6.7 kWh) at 0.225, 0.525, 0.825 CNY/kWh - never on a grid level, so
no knife edge. The routes reach the stations at different times, so the net loads at
``t* = 20 min`` (averaged over 10 min) span a 2-D set, not just the line ``P_A + P_B = const``.

Because the equilibrium is unique and reached exactly (cold start, relative gap 0), ``P(psi)``
is an exact function and the oracle needs no equilibrium tolerance.

* Method under test: ``setup``'s steps by hand (no-coupon equilibrium, one-sided differences
  with step 0.5 CNY/kWh), ``boundary_point`` with a stand-in evaluator (no grid), the run's
  pooling ``best_points`` and the report's ``regions`` (``convex_region`` with ``FLAT_TOL``).
* Oracle: every coupon vector with each coordinate in ``LEVELS`` (6^4 = 1296 equilibria);
  those within budget are the enumerated outcomes.
"""

from __future__ import annotations

import dataclasses
import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from environment.experiments.flex_region import (
    WARM_STEP_OFFSET,
    Outcome,
    RegionSetup,
    boundary_point,
    warm_shares,
)
from environment.experiments.flex_region_run import RegionRun, best_points, point_doc, pooled
from environment.experiments.region_tables import FLAT_TOL, region_points_mw, regions
from flexibility.region import Region, directions
from traffic.assignment import Demand, DepartureChoice, dynamic_ue
from traffic.network import Link, RoadNetwork
from traffic.prices import Coupons, Prices, station_net_load_kw, subsidy_spent

STATIONS = ("A", "B")
NODE = {"A": 3, "B": 4}
DEST = 2
ROADS = ((11, 3, 8.0), (11, 4, 11.0), (12, 3, 18.0), (12, 4, 11.0), (13, 3, 9.0),
         (13, 4, 20.0), (3, DEST, 5.0), (4, DEST, 5.0))  # (from, to, free-flow min)
RATE_VEH_H, DURATION_MIN, INTERVAL_MIN = 60.0, 30.0, 10.0
SERVICE_MIN, PORTS = 10.0, 50
T_STAR_MIN, BAND_MIN, N_BANDS = 20.0, 30.0, 1
TARGET_GAP, MAX_ITER = 0.01, 60
FD_STEP = 0.5  # CNY/kWh, the experiment's default fd_step_per_kwh
LEVELS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)  # CNY/kWh per coordinate
BUDGETS = (100.0, 250.0)  # CNY
EXACT_KW = 1e-6  # exact equilibria: outcomes agree to rounding
N_PSI = len(STATIONS) * 2 * N_BANDS


def tiny_network() -> tuple[RoadNetwork, Demand]:
    """The network and demand of the module docstring."""
    links = [Link(i + 1, u, v, t, 3000.0) for i, (u, v, t) in enumerate(ROADS)]
    for j, name in enumerate(STATIONS):
        x, n = 1000 + j, len(links)
        links.append(Link(n + 1, NODE[name], x, 1.0, 0.0, kind="charge", ports=PORTS,
                          service_min=SERVICE_MIN, station=name, bus=1))
        links.append(Link(n + 2, NODE[name], x, 1.0, 0.0, kind="v2g", ports=PORTS,
                          service_min=SERVICE_MIN, station=name, bus=1))
        links.append(Link(n + 3, x, NODE[name], 0.0, 0.0, kind="dummy", station=name))
    od = {(o, DEST): RATE_VEH_H for o in (11, 12, 13)}
    return (RoadNetwork("tiny-two-stations", tuple(links), od),
            Demand(od, DURATION_MIN, INTERVAL_MIN, (), 0.5, 0.3, 1))


def prices_for(psi: np.ndarray) -> Prices:
    return dataclasses.replace(Prices(), coupons=Coupons.from_vector(
        np.asarray(psi, dtype=float), STATIONS, N_BANDS, BAND_MIN))


class TinyEvaluator:
    """Stand-in for ``flex_region.Evaluator``: equilibrium, net loads at ``t*`` and spend, no
    grid (every point grid-feasible). Cold start, so each call gives the exact equilibrium."""

    def __init__(self) -> None:
        self.net, self.demand = tiny_network()
        self.calls = 0

    def __call__(self, psi: np.ndarray) -> tuple[Outcome, list[np.ndarray]]:
        self.calls += 1
        psi = np.asarray(psi, dtype=float)
        prices = prices_for(psi)
        res = dynamic_ue(self.net, self.demand, "queue", prices, TARGET_GAP, MAX_ITER)
        load = station_net_load_kw(self.net, res.loading, prices, T_STAR_MIN, INTERVAL_MIN)
        p = np.array([load[s] for s in STATIONS])
        spent = float(sum(subsidy_spent(self.net, res.loading, prices).values()))
        return Outcome(psi, p, float(res.relative_gap), spent, True, 1.0), res.shares


@pytest.fixture(scope="module")
def method():
    """The FOR method on the tiny network: set-up by finite differences, every direction and
    budget by ``boundary_point`` (refine 1, the default), pooled and hulled as reported."""
    ev = TinyEvaluator()
    base, shares = ev(np.zeros(N_PSI))
    jac, rate = np.zeros((len(STATIONS), N_PSI)), np.zeros(N_PSI)
    for i in range(N_PSI):
        out, _ = ev(np.eye(N_PSI)[i] * FD_STEP)
        jac[:, i] = (out.p_kw - base.p_kw) / FD_STEP
        rate[i] = out.spent / FD_STEP
    prices = Prices()
    psi_max = np.array([[prices.charge_price_per_kwh] * N_BANDS,
                        [prices.v2g_price_per_kwh] * N_BANDS] * len(STATIONS)).ravel()
    scenario = SimpleNamespace(traffic=SimpleNamespace(target_gap=TARGET_GAP))
    s = RegionSetup(scenario, "dynamic", T_STAR_MIN, BAND_MIN, N_BANDS, STATIONS, psi_max, base,
                    jac, rate, shares, "enforce")
    dirs = directions(2, 45.0)
    points = {b: [point_doc(boundary_point(s, a, b, refine=1, evaluator=ev), k)
                  for k, a in enumerate(dirs)] for b in BUDGETS}
    run = RegionRun(s, dirs, points, 0.0, 0)
    return SimpleNamespace(run=run, regions=regions(run), best=best_points(run), dirs=dirs,
                           calls=ev.calls)


@pytest.fixture(scope="module")
def enumerated():
    """Every coupon vector of the grid and its equilibrium outcome."""
    ev = TinyEvaluator()
    outs = [ev(np.array(psi))[0] for psi in itertools.product(LEVELS, repeat=N_PSI)]
    return SimpleNamespace(outcomes=outs, p_kw=np.array([o.p_kw for o in outs]),
                           spent=np.array([o.spent for o in outs]),
                           gap=np.array([o.gap for o in outs]))


def within(enumerated, budget: float) -> np.ndarray:
    return enumerated.spent <= budget * (1 + 1e-9)


def dist_to_hull(p: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Euclidean distance of 2-D points to ``conv(vertices)`` (ordered polygon, a segment or a
    point): 0 inside, else the distance to the nearest edge."""
    v = np.asarray(vertices, dtype=float)
    p = np.atleast_2d(p)
    if len(v) == 1:
        return np.linalg.norm(p - v[0], axis=1)
    edges = [(v[i], v[(i + 1) % len(v)]) for i in range(len(v))]
    d = np.full(len(p), np.inf)
    for a, b in edges:
        ab = b - a
        t = np.clip(((p - a) @ ab) / max(ab @ ab, 1e-300), 0.0, 1.0)
        d = np.minimum(d, np.linalg.norm(p - (a + t[:, None] * ab), axis=1))
    if len(v) >= 3:  # inside the (counter-clockwise) polygon: all edge cross products >= 0
        cross = np.stack([(b - a)[0] * (p[:, 1] - a[1]) - (b - a)[1] * (p[:, 0] - a[0])
                          for a, b in edges])
        d[np.all(cross >= -1e-12, axis=0)] = 0.0
    return d


def resolution_mw(region: Region, dirs: np.ndarray) -> float:
    """How far outside ``region`` a point can lie although no probed direction finds a better
    one: the largest distance of a corner of the outer polygon ``{p : a_k p >= min_v a_k v}``
    (the supporting lines of the probed directions; consecutive ones meet at a corner)."""
    v = region.vertices_mw
    m = (v @ dirs.T).min(axis=0)
    corners = [np.linalg.solve(np.vstack([dirs[k], dirs[(k + 1) % len(dirs)]]),
                               [m[k], m[(k + 1) % len(dirs)]]) for k in range(len(dirs))]
    return float(dist_to_hull(np.array(corners), v).max())


def test_oracle_equilibria_are_exact(enumerated):
    """Gap 0 everywhere: the enumerated outcomes are exact, so comparisons use ``EXACT_KW``."""
    assert len(enumerated.outcomes) == len(LEVELS) ** N_PSI
    assert float(enumerated.gap.max()) == 0.0
    for b in BUDGETS:  # every budget leaves several distinct outcomes to compare against
        assert len(np.unique(enumerated.p_kw[within(enumerated, b)], axis=0)) >= 3


def test_method_points_are_within_budget(method):
    for b in BUDGETS:
        for o, _ in method.best[b]:
            assert o.spent <= b * (1 + 1e-9) and o.gap <= TARGET_GAP


def test_support_in_every_direction_matches_enumeration(method, enumerated):
    """(a), sharp form: for each probed direction ``a`` the method's ``min a.P`` is at most the
    best enumerated outcome within budget (the enumeration cannot beat it)."""
    for b in BUDGETS:
        p = enumerated.p_kw[within(enumerated, b)]
        for k, a in enumerate(method.dirs):
            got = float(a @ method.best[b][k][0].p_kw)
            best = float((p @ a).min())
            assert got <= best + EXACT_KW, (b, k, a, got, best)


def test_hull_contains_enumerated_outcomes(method, enumerated):
    """(a) as containment. Tolerance, per budget: the larger of

    * the resolution of the probed directions (``resolution_mw``): a vertex of the true region
      exposed only between two probes can lie outside the hull of the support points by up to
      the distance of the outer polygon's corners - no 8-direction method resolves less; and
    * the reported region's flattening tolerance ``FLAT_TOL * max(1, max|P|)`` (a set thinner
      than that is hulled in its affine hull: points off the line by less than it are in).
    """
    for b in BUDGETS:
        reg = method.regions[b]
        q = enumerated.p_kw[within(enumerated, b)] / 1e3
        tol = max(resolution_mw(reg, method.dirs), FLAT_TOL * max(1.0, np.abs(reg.points_mw).max()))
        d = dist_to_hull(q, reg.vertices_mw)
        assert d.max() <= tol + 1e-12, (b, d.max() * 1e3, tol * 1e3, q[np.argmax(d)] * 1e3)
        assert reg.contains(q, tol).all()


def test_hull_vertices_are_equilibrium_outcomes(method):
    """(b) Every vertex of every region is the equilibrium of its coupon vector: re-solved
    from a fresh network, net load and spend counted trip by trip here."""
    for b in BUDGETS:
        reg = method.regions[b]
        pool = [o for o, _ in pooled(method.run, b)]
        pts = region_points_mw(method.run, b)
        assert len(pts) == len(pool)
        for vtx in reg.vertices_mw:
            i = int(np.flatnonzero(np.all(pts == vtx, axis=1))[0])
            psi = pool[i].psi
            net, demand = tiny_network()
            prices = prices_for(psi)
            res = dynamic_ue(net, demand, "queue", prices, TARGET_GAP, MAX_ITER)
            assert res.relative_gap <= TARGET_GAP
            p = {s: 0.0 for s in STATIONS}
            spent = 0.0
            ld = res.loading
            for tr in ld.trips:
                for a in tr.path:
                    ln = net.links[a]
                    if ln.kind not in ("charge", "v2g"):
                        continue
                    rec = np.flatnonzero((ld.vid == tr.vid) & (ld.link == a))
                    assert rec.size == 1
                    end = float(ld.exit_min[rec[0]])
                    start = end - ln.service_min
                    overlap = max(0.0, min(end, T_STAR_MIN + INTERVAL_MIN) - max(start, T_STAR_MIN))
                    power = prices.charge_power_kw if ln.kind == "charge" else -prices.v2g_power_kw
                    p[ln.station] += power * overlap / INTERVAL_MIN
                    j = STATIONS.index(ln.station)
                    coupon = psi[j * 2 + (0 if ln.kind == "charge" else 1)]
                    spent += coupon * abs(power) * ln.service_min / 60.0
            got = np.array([p[s] for s in STATIONS]) / 1e3
            np.testing.assert_allclose(got, vtx, rtol=0, atol=EXACT_KW / 1e3)
            assert spent <= b * (1 + 1e-9)
            assert spent == pytest.approx(pool[i].spent, rel=1e-12, abs=1e-9)


def test_regions_grow_with_the_budget(method):
    """(c) The larger budget's region contains every point of the smaller one: exactly when
    it is full-dimensional, else up to its flattening tolerance (points off its line by less
    than ``FLAT_TOL * max(1, max|P|)`` count as in)."""
    for small, large in itertools.pairwise(sorted(BUDGETS)):
        pts = region_points_mw(method.run, small)
        reg = method.regions[large]
        tol = EXACT_KW / 1e3 if reg.dimension == reg.n_dim else \
            FLAT_TOL * max(1.0, np.abs(reg.points_mw).max())
        assert reg.contains(pts, tol).all()
        assert dist_to_hull(pts, reg.vertices_mw).max() <= tol


@pytest.mark.parametrize("psi_a", [0.5, 1.0])
def test_warm_started_evaluation_reaches_the_equilibrium(psi_a):
    """``flex_region.Evaluator`` re-solves every coupon vector from ``warm_shares`` (regular
    users from the no-coupon split, station users from their coupon-aware default) with
    ``WARM_STEP_OFFSET``; on this network that start must give the exact (unique) equilibrium.
    Starting the station users from the no-coupon split too stopped at P = (521, 5) kW inside
    the 1 % gap for 0.5 CNY/kWh (exact: (563, -106) kW) and did not converge for 1.0."""
    ev = TinyEvaluator()
    base = dynamic_ue(ev.net, ev.demand, "queue", prices_for(np.zeros(N_PSI)), TARGET_GAP,
                      MAX_ITER)
    psi = np.array([psi_a, 0.0, 0.0, 0.0])
    exact, _ = ev(psi)
    prices = prices_for(psi)
    res = dynamic_ue(ev.net, ev.demand, "queue", prices, TARGET_GAP, MAX_ITER,
                     step_offset=WARM_STEP_OFFSET,
                     initial_shares=warm_shares(base.groups, base.shares))
    load = station_net_load_kw(ev.net, res.loading, prices, T_STAR_MIN, INTERVAL_MIN)
    assert res.relative_gap <= TARGET_GAP
    np.testing.assert_allclose([load[s] for s in STATIONS], exact.p_kw, rtol=0, atol=EXACT_KW)


# --- Departure-time choice and soft station capacity --------------------------------------
#
# The same network with the paper's soft capacity (the waiting term t_s (1 + (h / c)^3) on the
# station links, 50 ports: at most a few vehicles in service, so the term stays below 0.01 min)
# and departure-time choice of the station users: shifts of -10, 0 or +10 min at beta = 18 and
# gamma = 72 CNY/h (3 CNY to leave 10 min early, 12 CNY to leave 10 min late). Coupons are
# charging coupons in two departure bands of 20 min (band 0: [0, 20), band 1: [20, ...)), so a
# coupon in band 1 can pull users of the second interval later (above 1.2 CNY/kWh) and a
# coupon in band 0 users of the third interval earlier (above 0.3 CNY/kWh): the net load at
# t* moves in time as well as between stations. The V2G coordinates are held at 0 (their
# psi_max is 0 in the method and they are not enumerated): 4 coordinates, 6^4 coupon vectors.

SHIFTS = DepartureChoice((-10.0, 0.0, 10.0), 18.0, 72.0)
BAND_DT, N_BANDS_DT = 20.0, 2
N_PSI_DT = len(STATIONS) * 2 * N_BANDS_DT
CHARGE_COORDS = [j * 2 * N_BANDS_DT + b for j in range(len(STATIONS)) for b in range(N_BANDS_DT)]
SOFT_GAP = 1e-3  # the waiting term makes costs load-dependent: exact up to ~0.01 min


def prices_dt(psi: np.ndarray) -> Prices:
    return dataclasses.replace(Prices(), coupons=Coupons.from_vector(
        np.asarray(psi, dtype=float), STATIONS, N_BANDS_DT, BAND_DT))


class DepartureEvaluator(TinyEvaluator):
    """``TinyEvaluator`` with soft capacity and departure-time choice (cold start)."""

    def __call__(self, psi: np.ndarray) -> tuple[Outcome, list[np.ndarray]]:
        self.calls += 1
        psi = np.asarray(psi, dtype=float)
        prices = prices_dt(psi)
        res = dynamic_ue(self.net, self.demand, "queue", prices, SOFT_GAP, MAX_ITER,
                         station_model="bpr", departure=SHIFTS)
        load = station_net_load_kw(self.net, res.loading, prices, T_STAR_MIN, INTERVAL_MIN)
        p = np.array([load[s] for s in STATIONS])
        spent = float(sum(subsidy_spent(self.net, res.loading, prices).values()))
        self.last = res
        return Outcome(psi, p, float(res.relative_gap), spent, True, 1.0), res.shares


def full_psi(charge: tuple[float, ...]) -> np.ndarray:
    psi = np.zeros(N_PSI_DT)
    psi[CHARGE_COORDS] = charge
    return psi


@pytest.fixture(scope="module")
def method_dt():
    """The method (set-up by finite differences, ``boundary_point`` with refine 1) on the
    departure-choice network."""
    ev = DepartureEvaluator()
    base, _ = ev(np.zeros(N_PSI_DT))
    jac, rate = np.zeros((len(STATIONS), N_PSI_DT)), np.zeros(N_PSI_DT)
    for i in CHARGE_COORDS:
        out, _ = ev(np.eye(N_PSI_DT)[i] * FD_STEP)
        jac[:, i] = (out.p_kw - base.p_kw) / FD_STEP
        rate[i] = out.spent / FD_STEP
    psi_max = np.zeros(N_PSI_DT)
    psi_max[CHARGE_COORDS] = Prices().charge_price_per_kwh
    scenario = SimpleNamespace(traffic=SimpleNamespace(target_gap=SOFT_GAP))
    s = RegionSetup(scenario, "dynamic", T_STAR_MIN, BAND_DT, N_BANDS_DT, STATIONS, psi_max,
                    base, jac, rate, None, "enforce", FD_STEP)
    dirs = directions(2, 45.0)
    points = {b: [point_doc(boundary_point(s, a, b, refine=1, evaluator=ev), k)
                  for k, a in enumerate(dirs)] for b in BUDGETS}
    run = RegionRun(s, dirs, points, 0.0, 0)
    return SimpleNamespace(run=run, regions=regions(run), best=best_points(run), dirs=dirs,
                           base=base)


@pytest.fixture(scope="module")
def enumerated_dt():
    """Every charging-coupon vector of the grid, its outcome and its departure shifts."""
    ev = DepartureEvaluator()
    outs, shifted = [], []
    for charge in itertools.product(LEVELS, repeat=len(CHARGE_COORDS)):
        outs.append(ev(full_psi(charge))[0])
        shifted.append(sum(float(s[np.asarray(g.shift_min) != 0.0].sum()) * g.depart_min.size
                           for g, s in zip(ev.last.groups, ev.last.shares, strict=True)
                           if g.shift_min))
    return SimpleNamespace(outcomes=outs, p_kw=np.array([o.p_kw for o in outs]),
                           spent=np.array([o.spent for o in outs]),
                           gap=np.array([o.gap for o in outs]), shifted=np.array(shifted))


def test_departure_oracle_is_converged_and_shifts_departures(enumerated_dt):
    """Every enumerated equilibrium reaches its gap; without coupons nobody shifts, and some
    coupon vectors within the larger budget make users leave earlier or later."""
    assert float(enumerated_dt.gap.max()) <= SOFT_GAP
    assert enumerated_dt.shifted[0] == 0.0  # all-zero coupons come first
    assert enumerated_dt.shifted[within(enumerated_dt, max(BUDGETS))].max() >= 1.0
    for b in BUDGETS:
        ok = within(enumerated_dt, b)
        assert len(np.unique(enumerated_dt.p_kw[ok].round(3), axis=0)) >= 3


def test_departure_points_are_within_budget_and_converged(method_dt):
    for b in BUDGETS:
        for o, _ in method_dt.best[b]:
            assert o.spent <= b * (1 + 1e-9) and o.gap <= SOFT_GAP


def test_departure_support_against_enumeration(method_dt, enumerated_dt):
    """With departure-time choice the response has thresholds (users shift only above 0.3
    and 1.2 CNY/kWh), which one-sided differences of 0.5 CNY/kWh do not see: the band-1
    columns of the response model are zero. Measured: the method matches or beats the
    enumerated grid (its coupons are continuous) in 14 of the 16 (budget, direction) pairs
    and falls short in two at 250 CNY, by 70 and 155 kW (2.6 vehicles in service), where the
    enumeration's best combines a band-1 coupon with band-0 ones. Asserted: at least 6 of 8
    directions per budget within one vehicle's tenth of the interval (6 kW), and no shortfall
    of three vehicles in service (180 kW) or more."""
    tol = 0.1 * Prices().charge_power_kw
    for b in BUDGETS:
        p = enumerated_dt.p_kw[within(enumerated_dt, b)]
        short = np.array([float(a @ method_dt.best[b][k][0].p_kw) - float((p @ a).min())
                          for k, a in enumerate(method_dt.dirs)])
        assert (short <= tol).sum() >= 6, (b, short)
        assert short.max() < 3 * Prices().charge_power_kw, (b, short)


def test_departure_spend_recounted_trip_by_trip(method_dt):
    """Every accepted point's spend, recounted from its trips: the coupon of the band of the
    (shifted) departure times the session's energy."""
    for b in BUDGETS:
        for o, _ in method_dt.best[b]:
            net, demand = tiny_network()
            prices = prices_dt(o.psi)
            res = dynamic_ue(net, demand, "queue", prices, SOFT_GAP, MAX_ITER,
                             station_model="bpr", departure=SHIFTS)
            table = o.psi.reshape(len(STATIONS), 2, N_BANDS_DT)
            spent = 0.0
            for tr in res.loading.trips:
                for a in tr.path:
                    ln = net.links[a]
                    if ln.kind == "charge":
                        band = min(int(tr.depart_min // BAND_DT), N_BANDS_DT - 1)
                        spent += (table[STATIONS.index(ln.station), 0, band]
                                  * Prices().charge_power_kw * ln.service_min / 60.0)
            assert spent == pytest.approx(o.spent, rel=1e-9, abs=1e-9)
            assert spent <= b * (1 + 1e-9)
