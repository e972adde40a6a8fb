"""Shared builders for network tests: the case33bw feeder and a small grid model."""

import numpy as np

from grid.background import Background
from grid.feeder import load_feeder
from grid.layers import GridModel
from grid.lindistflow import LinDistFlow, NetworkLimits, station_positions
from grid.sparse_ac import ac_solver

_FEEDER = {}


def case33bw():
    if "f" not in _FEEDER:
        _FEEDER["f"] = load_feeder("case33bw")
    return _FEEDER["f"]


def small_grid_model(load_scale, substation_kw, paper_buses=(18, 33), v_min_pu=0.95,
                     policy="uniform"):
    """Grid model on case33bw with nominal loads scaled per interval (``load_scale`` (T,))."""
    fe = case33bw()
    scale = np.asarray(load_scale, dtype=float)
    bg = Background(p_load_kw=scale[:, None] * fe.load_p_kw[None],
                    q_load_kvar=scale[:, None] * fe.load_q_kvar[None],
                    p_pv_kw=np.zeros((scale.size, fe.n_bus)))
    limits = NetworkLimits(v_min_pu, 1.05, substation_kw, 12)
    pp_bus = tuple(fe.resolve_bus(b, "one_based") for b in paper_buses)
    positions = station_positions(fe, list(pp_bus))
    ldf = LinDistFlow(fe)
    sec = ldf.security_set(positions, bg.p_net_kw, bg.q_load_kvar, limits)
    return GridModel(feeder=fe, ldf=ldf, solver=ac_solver(fe), limits=limits,
                     stations=tuple(f"S{i}" for i in range(len(pp_bus))),
                     station_bus=tuple(paper_buses), pp_bus=pp_bus, positions=positions,
                     background=bg, sec=sec, policy=policy)
