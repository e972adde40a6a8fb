"""The station layer's two α definitions (``assessment.alpha_definition``).

* per-interval rows are, per interval and bound, the α quantiles of the scenarios' exact
  projections, computed here with ``numpy.quantile`` on a hand-built case;
* over random small fleets they are never empty (``p_min <= p_max``, ``E_min <= E_max``) and
  contain the reference they are placed at, so the grid layers built around it nest;
* the default stays the whole-day set: ``R_hat`` plus the intersection, over the kept
  scenarios, of each scenario's projections around its own reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flexibility.alpha_sets import CaseSets, case_sets, n_kept, station_rows
from flexibility.battery import Battery
from flexibility.fleet import Fleet
from scenarios.sections import Assessment
from tests.session_strategies import raw_vehicle

DT_H = 0.5
NAMES = ("A", "B")
TOL = 1e-9

# hand-built per-scenario exact projections, (M = 5 scenarios, J = 2 stations, T = 3 intervals)
P_HI = np.array([[[10., 12., 4.], [6., 8., 2.]],
                 [[14., 9., 5.], [5., 9., 3.]],
                 [[8., 15., 6.], [7., 4., 1.]],
                 [[11., 10., 3.], [9., 6., 5.]],
                 [[13., 11., 7.], [4., 7., 4.]]])
P_LO = -np.array([[[3., 5., 1.], [2., 0., 1.]],
                  [[6., 2., 2.], [1., 3., 0.]],
                  [[4., 4., 0.], [3., 1., 2.]],
                  [[2., 6., 3.], [4., 2., 1.]],
                  [[5., 3., 1.], [0., 4., 3.]]])
Y_HI = np.cumsum(P_HI, axis=-1) * DT_H
Y_LO = np.cumsum(P_LO, axis=-1) * DT_H
REF = np.zeros_like(P_HI)  # every scenario's reference: idle (inside every band)


def hand_case(ref_kw: np.ndarray = REF) -> CaseSets:
    one = Fleet([0], [1], [10.0], 5.0, 50.0, 20.0, 7.0, 7.0, eta_ch=0.95, eta_dis=0.95,
                dt_h=DT_H)  # not read by the rows
    return CaseSets(names=NAMES, fleet=one, station=np.zeros((5, 1), int),
                    exact=Battery(P_LO, P_HI, Y_LO, Y_HI, DT_H, 0), ref_kw=ref_kw,
                    n_intervals=3, t0=0, dt_h=DT_H)


def upper(x: np.ndarray, alpha: float) -> np.ndarray:
    """The largest value at least a share α of the scenarios reach (axis 0)."""
    return -np.quantile(-x, alpha, axis=0, method="inverted_cdf")


def lower(x: np.ndarray, alpha: float) -> np.ndarray:
    """The smallest value at least a share α of the scenarios go down to (axis 0)."""
    return np.quantile(x, alpha, axis=0, method="inverted_cdf")


@pytest.mark.parametrize("alpha", [0.6, 0.8, 1.0 - 1e-9])
def test_per_interval_rows_are_the_alpha_quantiles(alpha):
    rows = station_rows(hand_case(), n_kept(alpha, 5), definition="per-interval")
    for j, name in enumerate(NAMES):
        env = rows.envelopes[name]
        np.testing.assert_allclose(env.p_max_kw, upper(P_HI[:, j], alpha))
        np.testing.assert_allclose(env.p_min_kw, lower(P_LO[:, j], alpha))
        np.testing.assert_allclose(env.e_max_kwh, upper(Y_HI[:, j], alpha))
        np.testing.assert_allclose(env.e_min_kwh, lower(Y_LO[:, j], alpha))
    total = rows.envelopes.total  # "total": the α quantile of the stations' total
    np.testing.assert_allclose(total.p_max_kw, upper(P_HI.sum(1), alpha))
    np.testing.assert_allclose(total.p_min_kw, lower(P_LO.sum(1), alpha))
    np.testing.assert_allclose(total.e_max_kwh, upper(Y_HI.sum(1), alpha))
    np.testing.assert_allclose(total.e_min_kwh, lower(Y_LO.sum(1), alpha))


def test_per_interval_total_of_stations_is_their_sum():
    rows = station_rows(hand_case(), 4, "stations", definition="per-interval")
    for f in ("p_max_kw", "p_min_kw", "e_min_kwh", "e_max_kwh"):
        np.testing.assert_allclose(getattr(rows.envelopes.total, f),
                                   sum(getattr(rows.envelopes[n], f) for n in NAMES))


def test_per_interval_rows_widen_to_contain_their_reference():
    """Placed at a reference outside the quantile band (as ``grid.alpha_layers.case_layers``
    places them at the network-feasible one), the rows stretch just to reach it."""
    ref_hat = np.array([[20.0, -9.0, 1.0], [0.0, 0.0, 0.0]])  # CS A: above, below, inside
    rows = station_rows(hand_case(), 4, ref_hat_kw=ref_hat, definition="per-interval")
    a = rows.envelopes["A"]
    q_hi, q_lo = upper(P_HI[:, 0], 0.8), lower(P_LO[:, 0], 0.8)
    np.testing.assert_allclose(a.p_max_kw, [20.0, q_hi[1], q_hi[2]])
    np.testing.assert_allclose(a.p_min_kw, [q_lo[0], -9.0, q_lo[2]])
    y_ref = np.cumsum(ref_hat[0]) * DT_H
    np.testing.assert_allclose(a.e_max_kwh, np.maximum(upper(Y_HI[:, 0], 0.8), y_ref))
    np.testing.assert_allclose(a.e_min_kwh, np.minimum(lower(Y_LO[:, 0], 0.8), y_ref))
    np.testing.assert_array_equal(rows.ref_hat_kw, ref_hat)


def test_the_default_is_the_whole_day_set():
    assert Assessment().alpha_definition == "whole-day"
    rng = np.random.default_rng(7)
    ref = rng.uniform(-1.0, 1.0, P_HI.shape)  # references inside every scenario's band
    cs = hand_case(ref)
    rows = station_rows(cs, 4)
    explicit = station_rows(cs, 4, definition="whole-day")
    kept = rows.kept
    assert kept.sum() == 4 and rows.n_keep is None
    # R_hat plus the intersection over kept days of each day's projections minus its reference
    ref_hat = ref[kept].mean(0)
    y_hat = np.cumsum(ref_hat, -1) * DT_H
    y_ref = np.cumsum(ref, -1) * DT_H
    want = {"p_max_kw": (P_HI - ref)[kept].min(0) + ref_hat,
            "p_min_kw": (P_LO - ref)[kept].max(0) + ref_hat,
            "e_max_kwh": (Y_HI - y_ref)[kept].min(0) + y_hat,
            "e_min_kwh": (Y_LO - y_ref)[kept].max(0) + y_hat}
    per_interval = station_rows(cs, 4, definition="per-interval")
    for f, w in want.items():
        for j, name in enumerate(NAMES):
            np.testing.assert_allclose(getattr(rows.envelopes[name], f), w[j])
            np.testing.assert_array_equal(getattr(explicit.envelopes[name], f),
                                          getattr(rows.envelopes[name], f))
        np.testing.assert_allclose(getattr(rows.envelopes.total, f), w.sum(0))
    assert not np.allclose(per_interval.envelopes.total.p_max_kw, rows.envelopes.total.p_max_kw)


@st.composite
def small_case(draw):
    """Sampled days (``M x N`` vehicles per station, two stations) of random sessions."""
    m, n, horizon = draw(st.integers(1, 6)), draw(st.integers(1, 3)), 8
    dt = draw(st.sampled_from([0.25, 0.5, 1.0]))
    eta = draw(st.floats(0.8, 1.0))
    fleets = []
    for _ in NAMES:
        rows = draw(st.lists(raw_vehicle(horizon, dt, eta), min_size=m * n, max_size=m * n))

        def col(k, rows=rows):
            return np.array([r[k] for r in rows]).reshape(m, n)
        fleets.append(Fleet(col("a"), col("d"), col("e0"), col("e_min"), col("e_max"),
                            col("e_req"), col("pc"), col("pd"), eta_ch=eta, eta_dis=eta,
                            dt_h=dt))
    return case_sets(NAMES, fleets, horizon)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cs=small_case(), alpha=st.floats(0.05, 0.999), aggregation=st.sampled_from(
    ["total", "stations"]), at_kept=st.booleans(), data=st.data())
def test_per_interval_rows_are_never_empty_and_contain_the_reference(cs, alpha, aggregation,
                                                                       at_kept, data):
    m = cs.n_scenarios
    ref_hat = None
    if at_kept:  # the grid layers' reference: the mean of some scenarios' references
        some = data.draw(st.lists(st.integers(0, m - 1), min_size=1, max_size=m, unique=True))
        ref_hat = cs.ref_kw[some].mean(0)
    rows = station_rows(cs, n_kept(alpha, m), aggregation, ref_hat_kw=ref_hat,
                        definition="per-interval")
    ref = rows.ref_hat_kw
    for env, r in [*((rows.envelopes[nm], ref[j]) for j, nm in enumerate(NAMES)),
                   (rows.envelopes.total, ref.sum(0))]:
        y = np.cumsum(r) * cs.dt_h
        assert (env.p_min_kw <= env.p_max_kw + TOL).all()
        assert (env.e_min_kwh <= env.e_max_kwh + TOL).all()
        assert (env.p_min_kw <= r + TOL).all() and (r <= env.p_max_kw + TOL).all()
        assert (env.e_min_kwh <= y + TOL).all() and (y <= env.e_max_kwh + TOL).all()
    # where not stretched to the reference, each station's upper power bound alone is
    # reached on a share α of the days
    hi = np.stack([rows.envelopes[nm].p_max_kw for nm in NAMES])
    reached = (cs.exact.p_hi_kw >= hi[None] - TOL).sum(0)
    assert (reached >= alpha * m - 1e-9)[hi > ref + TOL].all()
