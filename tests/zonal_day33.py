"""The 33-bus test day of the zonal distribution layer: the paper's Table 1 PV and
wind at their buses, a sinusoidal load shape, three areas of 11 buses, one diesel, two
capacitor banks, a day of 24 hourly intervals."""

import numpy as np

from dispatch.zonal_dn import ZonalNetwork
from grid.feeder import Feeder, load_feeder
from grid.lindistflow import LinDistFlow

T = 24
PV = [(2, 550), (4, 200), (6, 300), (7, 200), (11, 200), (13, 200), (15, 100), (18, 100),
      (23, 650), (26, 350), (29, 400), (31, 250), (32, 100)]  # the paper's Table 1


def day33() -> tuple[ZonalNetwork, LinDistFlow, Feeder]:
    """The day's instance, its LinDistFlow model and the feeder."""
    fe = load_feeder("case33bw")
    ldf = LinDistFlow(fe)
    pos = [fe.position(b - 1) for b in range(1, 34)]
    shape = 0.45 + 0.3 * np.sin(np.linspace(0, 2 * np.pi, T) - 1.5) ** 2
    sun = np.clip(np.sin(np.linspace(-np.pi / 2, 3 * np.pi / 2, T)), 0, None)
    avail = np.c_[sun[:, None] * np.array([k for _, k in PV]), np.full((T, 1), 120.0)]
    area = np.repeat(np.arange(3), 11)
    share = np.stack([(area == d) / 11.0 for d in range(3)])
    need = np.linspace(0, 400, T + 1)[1:, None] * np.ones(3)
    net = ZonalNetwork(
        dt_h=1.0, load_p_kw=shape[:, None] * fe.load_p_kw,
        load_q_kvar=shape[:, None] * fe.load_q_kvar,
        price_per_kwh=np.where((np.arange(T) >= 8) & (np.arange(T) < 22), 1.0, 0.4),
        res_bus=np.array([pos[b - 1] for b, _ in PV] + [pos[32]]), res_avail_kw=avail,
        dg_bus=np.array([pos[2]]), dg_max_kw=np.array([200.0]),
        dg_cost_per_kwh=np.array([0.8]), dg_kg_per_kwh=np.array([0.8]),
        cap_bus=np.array([pos[17], pos[32]]), cap_step_kvar=np.array([50.0, 50.0]),
        cap_steps=np.array([6, 6]), area_share=share, ev_lo_kw=np.zeros((T, 3)),
        ev_hi_kw=np.full((T, 3), 150.0), ev_y_lo_kwh=need, ev_y_hi_kwh=need + 1500.0,
        area_of_bus=area, v_min_pu=0.94, v_max_pu=1.05)
    return net, ldf, fe
