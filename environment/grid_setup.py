"""Scenario → grid model: load the feeder, map stations, spread profiles, build the security set."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from flexibility.common import FloatArray
from grid.ac import AcSolver
from grid.background import Background, spread
from grid.clipping import Policy
from grid.feeder import FeederError, load_feeder
from grid.layers import GridModel
from grid.lindistflow import LinDistFlow, NetworkLimits, SecuritySet, station_positions
from grid.sparse_ac import ac_solver
from scenarios.config import Scenario
from scenarios.errors import InputError
from scenarios.profiles import feeder_totals, read_shapes


def build_grid_model(scenario: Scenario, policy: Policy | None = None) -> GridModel:
    """Load the feeder, map stations, spread profiles and build the security set.

    Raises:
        FeederError: Unknown feeder or station bus, missing bus, meshed feeder.
    """
    g, hz = scenario.grid, scenario.horizon
    feeder = load_feeder(g.feeder, scenario.base_dir, g.line_margin)
    buses, station_bus = [], []
    for st in scenario.stations:
        if st.bus is None:
            raise FeederError(f"stations.{st.name}.bus: missing; give the feeder bus of the "
                              f"station ({g.bus_numbering} numbering)")
        buses.append(feeder.resolve_bus(st.bus, g.bus_numbering,
                                        f"stations.{st.name}.bus: station bus"))
        station_bus.append(int(st.bus))
    positions = station_positions(feeder, buses)
    p = g.profiles
    load, pv = feeder_totals(read_shapes(p.source, scenario.base_dir), hz.start_min, hz.dt_min,
                             hz.n_intervals, p.load_min_kw, p.load_peak_kw, p.pv_peak_kw)
    pv_pos = [feeder.position(feeder.resolve_bus(b, g.bus_numbering,
                                                  "grid.profiles.pv_buses: PV bus"))
              for b in p.pv_buses]
    background = spread(load, pv, feeder.load_p_kw, feeder.load_q_kvar, pv_pos or None)
    limits = NetworkLimits(g.v_min_pu, g.v_max_pu, g.substation_kw, g.thermal_polygon_sides)
    ldf = LinDistFlow(feeder)
    solver = ac_solver(feeder)
    return GridModel(feeder=feeder, ldf=ldf, solver=solver, limits=limits,
                     stations=tuple(s.name for s in scenario.stations),
                     station_bus=tuple(station_bus),
                     pp_bus=tuple(buses), positions=positions, background=background,
                     sec=_security_set(ldf, solver, positions, background, limits),
                     policy=policy or g.policy)


def _security_set(ldf: LinDistFlow, solver: AcSolver, positions: np.ndarray, background: Background,
                  limits: NetworkLimits) -> SecuritySet:
    """The LinDistFlow security set of every interval, with the background's AC losses."""
    base = solver.solve(background.p_net_kw, background.q_load_kvar)
    loss = np.where(base.converged, base.p_slack_kw - background.p_net_kw.sum(1), 0.0)
    return ldf.security_set(positions, background.p_net_kw, background.q_load_kvar, limits, loss)


def with_background(gm: GridModel, p_kw: FloatArray, q_kvar: FloatArray) -> GridModel:
    """``gm`` with another non-EV consumption per interval and position ``(T, n)`` each (a
    planned day's: load less the planned generation; reactive load less the planned reactive
    support) and its security set rebuilt on it."""
    p = np.asarray(p_kw, dtype=float)
    bg = Background(p_load_kw=p, q_load_kvar=np.asarray(q_kvar, dtype=float),
                    p_pv_kw=np.zeros_like(p))
    return replace(gm, background=bg,
                   sec=_security_set(gm.ldf, gm.solver, gm.positions, bg, gm.limits))


def bus_positions(scenario: Scenario, gm: GridModel, buses: list[int],
                  field: str) -> np.ndarray:
    """Feeder positions of scenario buses (``grid.bus_numbering``).

    Raises:
        InputError: A bus not on the feeder, naming ``field``.
    """
    fe, numbering = gm.feeder, scenario.grid.bus_numbering
    out = []
    for b in buses:
        try:
            out.append(fe.position(fe.resolve_bus(b, numbering, field)))
        except FeederError as exc:  # names the bus and numbering
            raise InputError(f"{field}: {exc}") from None
    return np.asarray(out, dtype=int)
