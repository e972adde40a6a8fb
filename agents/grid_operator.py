"""Grid agent (DSO): clipping, AC checks and packaging every tick; AC after dispatch."""

from __future__ import annotations

import mesa
import numpy as np

from environment.grid_assessment import GridModel, LayerSet, layers_for
from flexibility.aggregation import Envelope
from flexibility.packaging import InnerBox
from grid.ac import AcResult


class GridAgent(mesa.Agent):
    """The distribution system operator of one feeder.

    Args:
        model: The co-simulation model.
        grid: The feeder, its limits, background and security set (built once).
        eta_ch: Charging efficiency (energy bounds of the clipped envelopes).
        eta_dis: Discharging efficiency.
    """

    def __init__(self, model: mesa.Model, grid: GridModel, eta_ch: float, eta_dis: float) -> None:
        super().__init__(model)
        self.grid = grid
        self.eta_ch = eta_ch
        self.eta_dis = eta_dis

    def clip_and_package(self, envs: dict[str, Envelope],
                         boxes: dict[str, InnerBox]) -> LayerSet:
        """LinDistFlow clipping, AC correction and packaging over the remaining horizon."""
        return layers_for(self.grid, envs, boxes, self.eta_ch, self.eta_dis)

    def operating_point(self, k: int, station_p_kw: np.ndarray) -> AcResult:
        """AC power flow at the realised station powers of interval ``k`` (unity power factor)."""
        g = self.grid
        p_bg, q_bg = g.bg(k, 1)
        p = p_bg.copy()
        p[0, g.positions] += station_p_kw
        return g.solver.solve(p, q_bg.copy())
