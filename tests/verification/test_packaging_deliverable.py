"""Packaged transmission boundaries are deliverable: a disaggregation LP (HiGHS) finds per-EV
set-points for random trajectories inside B that meet every vehicle constraint, departure
requirement and the network's LinDistFlow limits. The LP knows nothing of the inner boxes."""

import numpy as np
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from flexibility.aggregation import station_envelope
from flexibility.cases import ALL
from flexibility.packaging import station_inner_box
from grid.layers import layers_for
from tests.grid_fixtures import small_grid_model
from tests.strategies import fleets

T = 8


def disaggregation_lp(fleet, station_of, p_total, sec):
    """Feasibility LP over per-EV charge/discharge; returns the scipy result."""
    a, d = fleet.arrival_idx, fleet.departure_idx
    n = a.size
    t_lo, t_hi = min(0, int(a.min())), max(T, int(d.max()))
    L = t_hi - t_lo
    nv = 2 * n * L  # c[n, k], dis[n, k]
    ci = lambda v, k: v * L + k  # noqa: E731
    di = lambda v, k: n * L + v * L + k  # noqa: E731
    bounds = [(0.0, 0.0)] * nv
    dt, ec, ed = fleet.dt_h, fleet.eta_ch, fleet.eta_dis
    lo_e, hi_e = fleet.lower_energy_kwh(), fleet.upper_energy_kwh()
    q = fleet.reachable_requirement_kwh()
    rows, rhs = [], []
    for v in range(n):
        for t in range(a[v], d[v]):
            k = t - t_lo
            bounds[ci(v, k)] = (0.0, float(fleet.p_ch_max_kw[v]))
            bounds[di(v, k)] = (0.0, float(fleet.p_dis_max_kw[v]))
        for end in range(a[v] + 1, d[v] + 1):  # energy at the start of interval `end`
            gain = {}
            for t in range(a[v], end):
                gain[ci(v, t - t_lo)] = ec * dt
                gain[di(v, t - t_lo)] = -dt / ed
            rows.append(gain)
            rhs.append(hi_e[v] - fleet.e_init_kwh[v])  # e <= hi
            rows.append({j: -g for j, g in gain.items()})
            floor = max(lo_e[v], q[v]) if end == d[v] else lo_e[v]
            rhs.append(fleet.e_init_kwh[v] - floor)  # e >= floor
    for t in range(T):
        k = t - t_lo
        for r in range(sec.a_p.shape[0]):
            coef = {}
            for v in range(n):
                w = sec.a_p[r, station_of[v]]
                if w != 0.0 and a[v] <= t < d[v]:
                    coef[ci(v, k)] = w
                    coef[di(v, k)] = -w
            if coef:
                rows.append(coef)
                rhs.append(sec.b[t, r])
    a_ub = _matrix(rows, nv)
    eq = [{**{ci(v, t - t_lo): 1.0 for v in range(n)},
           **{di(v, t - t_lo): -1.0 for v in range(n)}} for t in range(T)]
    return linprog(np.zeros(nv), A_ub=a_ub, b_ub=np.asarray(rhs), A_eq=_matrix(eq, nv),
                   b_eq=p_total, bounds=bounds, method="highs")


def _matrix(rows, ncol):
    r, c, v = [], [], []
    for i, row in enumerate(rows):
        for j, x in row.items():
            r.append(i)
            c.append(j)
            v.append(x)
    return sp.csr_matrix((v, (r, c)), shape=(len(rows), ncol))


@settings(max_examples=40, deadline=None)
@given(fleet=fleets(max_vehicles=6, horizon=T), seed=st.integers(0, 2**32 - 1),
       mode=st.sampled_from(["random", "extreme"]))
def test_trajectories_inside_B_are_deliverable(fleet, seed, mode):
    rng = np.random.default_rng(seed)
    n = fleet.arrival_idx.size
    station_of = np.arange(n) % 2
    scale = rng.uniform(0.2, 0.6, T)
    gm = small_grid_model(scale, 3715 * scale.max() + rng.uniform(0, 25), (18, 33))
    fleets_j = {f"S{j}": fleet.take(station_of == j) for j in range(2)}
    envs = {s: station_envelope(f, T) for s, f in fleets_j.items()}
    boxes = {s: station_inner_box(f, T) for s, f in fleets_j.items()}
    layers = layers_for(gm, envs, boxes, fleet.eta_ch, fleet.eta_dis)
    assume(layers.empty_intervals.size == 0)
    assume(not layers.dist_boxes.ldf.background_infeasible.any())
    b = layers.transmission[ALL]
    theta = rng.random(T) if mode == "random" else (rng.random(T) < 0.5).astype(float)
    p = b.p_down_kw + theta * (b.p_up_kw - b.p_down_kw)
    res = disaggregation_lp(fleet, station_of, p, gm.sec)
    assert res.status == 0, res.message
    # B lies inside the distribution-layer allocation (except where it had to use its own)
    dist = layers.distribution[ALL]
    inside = np.ones(T, dtype=bool)
    inside[layers.own_allocation_intervals] = False
    assert np.all(b.p_up_kw[inside] <= dist.p_max_kw[inside] + 1e-7)
    assert np.all(b.p_down_kw[inside] >= dist.p_min_kw[inside] - 1e-7)
    # and always inside the station layer
    assert np.all(b.p_up_kw <= sum(e.p_max_kw for e in envs.values()) + 1e-7)


@settings(max_examples=60, deadline=None)
@given(fleet=fleets(max_vehicles=5, horizon=10))
def test_station_inner_box_lies_inside_the_station_envelope(fleet):
    box = station_inner_box(fleet, 10)
    env = station_envelope(fleet, 10)
    assert np.all(box.hi_kw <= env.p_max_kw + 1e-7)
    assert np.all(box.lo_kw >= env.p_min_kw - 1e-7)
