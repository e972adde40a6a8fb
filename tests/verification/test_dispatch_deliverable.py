"""The dispatch's EV schedule is deliverable: every trajectory the dispatch can ask
of an aggregator — its schedule moved anywhere inside its procured reserves — is split to the
vehicles with the packaging's common ``theta`` and each vehicle's energy is re-simulated here
(``tests.oracles.energy_gain``), never through the code under test."""

import numpy as np

from dispatch.da_model import solve_da
from dispatch.da_rows import DaInstance
from flexibility.fleet import Fleet
from flexibility.packaging import station_inner_box, vehicle_boxes
from grid.feeder import load_feeder
from grid.lindistflow import LinDistFlow, NetworkLimits
from tests.oracles import energy_gain

T = 16


def _fleet(rng, n=30):
    a = rng.integers(0, 8, n)
    d = a + rng.integers(4, 10, n)
    cap = 60.0
    e0 = rng.uniform(0.2, 0.6, n) * cap
    v2g = rng.random(n) < 0.5
    return Fleet(arrival_idx=a, departure_idx=d, e_init_kwh=e0, e_min_kwh=np.full(n, 0.2 * cap),
                 e_max_kwh=np.full(n, 0.9 * cap),
                 e_req_kwh=np.minimum(e0 + rng.uniform(0, 12, n), 0.9 * cap),
                 p_ch_max_kw=np.full(n, 7.0), p_dis_max_kw=np.where(v2g, 7.0, 0.0))


def test_every_reserve_trajectory_splits_to_feasible_vehicles():
    rng = np.random.default_rng(11)
    fleet = _fleet(rng)
    box = station_inner_box(fleet, T)
    fe = load_feeder("case33bw")
    ldf = LinDistFlow(fe)
    shape = np.linspace(0.5, 0.7, T)[:, None]
    lo, hi = box.lo_kw[:, None], box.hi_kw[:, None]
    inst = DaInstance(
        dt_h=0.25, p_bg_kw=shape * fe.load_p_kw, q_bg_kvar=shape * fe.load_q_kvar,
        price_per_kwh=np.linspace(0.4, 1.2, T), gen_pos=np.array([2]),
        gen_max_kw=np.array([600.0]), gen_cost_per_kwh=np.array([0.8]),
        gen_reserve_cost_per_kw=np.array([0.05]), ev_pos=np.array([5]), ev_p_min_kw=lo,
        ev_p_max_kw=hi, ev_e_min_kwh=np.cumsum(lo, 0) * 0.25 - 1e-6,
        ev_e_max_kwh=np.cumsum(hi, 0) * 0.25 + 1e-6, ev_ramp_kw=np.array([1e4]),
        ev_reserve_cost_per_kw=np.array([0.0]), w_net=fe.load_p_kw / fe.load_p_kw.sum(),
        w_ev=np.ones(1), mu=np.zeros((T, 2)), cov=np.array([np.diag([30.0 ** 2, 5.0 ** 2])] * T),
        limits=NetworkLimits(0.9, 1.1, 6000.0))
    sol = solve_da(inst, ldf, "oba", 0.05)
    assert sol.feasible
    p, up, dn = sol.p_ev_kw[:, 0], sol.r_up_kw[:, 1], sol.r_dn_kw[:, 1]
    assert up.max() > 0 or dn.max() > 0  # the fleet does hold reserve
    l_n, u_n = vehicle_boxes(fleet)
    e_lo = np.minimum(fleet.e_min_kwh, fleet.e_init_kwh)
    e_hi = np.maximum(fleet.e_max_kwh, fleet.e_init_kwh)
    dwell = fleet.departure_idx - fleet.arrival_idx
    need = np.maximum(np.minimum(fleet.e_req_kwh, fleet.e_init_kwh
                                 + 0.95 * 7.0 * 0.25 * dwell), e_lo)
    for trial in range(50):
        s = rng.uniform(-1.0, 1.0, T) if trial > 1 else np.full(T, (-1.0, 1.0)[trial])
        target = p + np.where(s < 0, s * up, s * dn)  # anywhere inside the reserves
        width = box.hi_kw - box.lo_kw
        theta = np.divide(target - box.lo_kw, width, out=np.zeros(T), where=width > 1e-12)
        assert np.all((theta > -1e-9) & (theta < 1 + 1e-9))
        e = fleet.e_init_kwh.copy()
        for t in range(T):
            on = (fleet.arrival_idx <= t) & (t < fleet.departure_idx)
            pn = np.where(on, l_n + theta[t] * (u_n - l_n), 0.0)
            e = e + energy_gain(pn, 0.95, 0.95, 0.25)
            conn = (fleet.arrival_idx <= t) & (t + 1 <= fleet.departure_idx)
            assert np.all(e[conn] >= e_lo[conn] - 1e-6) and np.all(e[conn] <= e_hi[conn] + 1e-6)
            leaving = fleet.departure_idx == t + 1
            assert np.all(e[leaving] >= need[leaving] - 1e-6)
