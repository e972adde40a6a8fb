"""Day-ahead dispatch at scale: SimBench ``1-MV-urban--0-sw`` (139 buses), 20
stations, 4,400 and 10,000 EVs.

Run: python -m pytest -m benchmark --benchmark-enable tests/benchmarks/test_dispatch_scale.py -s
or   python -m tests.benchmarks.test_dispatch_scale   (prints the table of the README)

The paper (Li et al.) reports under 21 s for OBA at 4,400 EVs on IEEE 123, growing modestly to
10,000. The instance: the feeder's nominal loads times the paper case's summer-weekday shape
(peak 40 % of nominal), 20 stations at spread buses, each an EV aggregator whose box is the
packaging's inner box of a fleet drawn from the behaviour model (one day, the paper case's EV
parameters), net-load and EV error moments scaled from the paper case's fitted ones
(standard deviation 8 % of the background, 2 % of the EV range), two generators of 80 % of the
peak near the head. Measured in the same run: ``bonferroni`` over directions (the LP without
the risk columns) and ``oba`` over rows (the textbook union bound) on 4,400 EVs.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = pytest.mark.benchmark
pytest.importorskip("simbench")

N_STATIONS = 20
T = 96


def scale_instance(n_ev: int, seed: int = 0):
    """The instance and its LinDistFlow model (module docstring)."""
    import pandas as pd

    from dispatch.da_rows import DaInstance
    from environment.cli.runs import load_behaviour
    from flexibility.packaging import station_inner_box
    from grid.feeder import load_feeder
    from grid.lindistflow import LinDistFlow, NetworkLimits
    from scenarios.config import load_scenario
    from scenarios.fleetgen import draw_sessions, fleet_from_sessions

    sc = load_scenario(None)
    behaviour = load_behaviour(sc, None)
    fe = load_feeder("1-MV-urban--0-sw", line_margin=1.5)
    rng = np.random.default_rng(seed)
    shapes = pd.read_csv("scenarios/data/simbench_summer_weekday.csv")
    x = shapes.load_p.to_numpy()
    shape = 0.25 + 0.15 * (x - x.min()) / np.ptp(x)  # 25-40 % of the nominal loads
    p_bg = shape[:, None] * fe.load_p_kw[None, :]
    q_bg = shape[:, None] * fe.load_q_kvar[None, :]
    loaded = np.flatnonzero(fe.load_p_kw > 0)
    pos = np.sort(rng.choice(loaded, N_STATIONS, replace=False))
    lo, hi = np.zeros((T, N_STATIONS)), np.zeros((T, N_STATIONS))
    per = np.full(N_STATIONS, n_ev // N_STATIONS)
    per[: n_ev - per.sum()] += 1
    for j, (n, r) in enumerate(zip(per, rng.spawn(N_STATIONS), strict=True)):
        draw = draw_sessions(behaviour, sc.horizon, int(n), 1, sc.behaviour.v2g_share, r)
        box = station_inner_box(fleet_from_sessions(draw, sc.ev, sc.horizon), T)
        lo[:, j], hi[:, j] = box.lo_kw[0], np.maximum(box.hi_kw[0], box.lo_kw[0])
    total = p_bg.sum(axis=1)
    sd_net = 0.08 * total
    sd_ev = 0.02 * (hi - lo).sum(axis=1) + 1.0
    cov = np.zeros((T, 2, 2))
    cov[:, 0, 0], cov[:, 1, 1] = sd_net ** 2, sd_ev ** 2
    peak = float(total.max())
    inst = DaInstance(
        dt_h=0.25, p_bg_kw=p_bg, q_bg_kvar=q_bg,
        price_per_kwh=np.where((np.arange(T) >= 68) & (np.arange(T) < 84), 1.1, 0.6),
        gen_pos=np.array([1, 2]), gen_max_kw=np.array([0.8 * peak, 0.8 * peak]),
        gen_cost_per_kwh=np.array([0.55, 0.65]), gen_reserve_cost_per_kw=np.array([0.02, 0.02]),
        ev_pos=pos, ev_p_min_kw=lo, ev_p_max_kw=hi,
        ev_e_min_kwh=np.cumsum(lo, 0) * 0.25 - 1e-6, ev_e_max_kwh=np.cumsum(hi, 0) * 0.25 + 1e-6,
        ev_ramp_kw=np.full(N_STATIONS, 1e6), ev_reserve_cost_per_kw=np.full(N_STATIONS, 0.01),
        w_net=fe.load_p_kw / fe.load_p_kw.sum(), w_ev=(hi - lo).mean(0) / (hi - lo).mean(0).sum(),
        mu=np.zeros((T, 2)), cov=cov, limits=NetworkLimits(0.93, 1.07, 2.0 * peak))
    return inst, LinDistFlow(fe)


def timed(inst, ldf, method: str, union: str = "directions") -> tuple[float, object]:
    from dispatch.da_model import solve_da

    t0 = time.perf_counter()
    sol = solve_da(inst, ldf, method, 0.05, union=union)
    return time.perf_counter() - t0, sol


@pytest.mark.parametrize("n_ev", [4400, 10_000])
def test_dispatch_scale(benchmark, n_ev):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        inst, ldf = scale_instance(n_ev)
        sol = benchmark.pedantic(lambda: timed(inst, ldf, "oba")[1], rounds=1, iterations=1)
        bonf_s, bonf = timed(inst, ldf, "bonferroni")
        oba_s, _ = timed(inst, ldf, "oba")
    print(f"\n{n_ev} EVs: oba {oba_s:.1f} s (cost {sol.cost:,.0f}), bonferroni {bonf_s:.1f} s "
          f"(feasible {bonf.feasible}); ratio {oba_s / bonf_s:.1f}")
    assert sol.feasible


def main() -> None:
    """Print the README table: solve times at 4,400 and 10,000 EVs."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        for n_ev in (4400, 10_000):
            inst, ldf = scale_instance(n_ev)
            rows = [(m, u, *timed(inst, ldf, m, u)) for m, u in
                    (("oba", "directions"), ("bonferroni", "directions"),
                     ("ro", "directions"))]
            for m, u, s, sol in rows:
                print(f"{n_ev:>6} EVs  {m:>10} ({u}): {s:6.1f} s  feasible {sol.feasible}  "
                      f"cost {sol.cost:,.0f}")


if __name__ == "__main__":
    main()
