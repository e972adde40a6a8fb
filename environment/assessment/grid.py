"""Distribution and transmission layers of a scenario (paper §3.3–3.4, §4.4–4.5).

:func:`assess_grid_layers` runs ``grid.alpha_layers.case_layers`` (clip, AC-correct and package
the α sets, ``grid.layers``) for the DA case and every RT observation of the station layer,
calibrating the DA transmission battery on the fresh days, and traces the DA P–Q sets
(``grid.pq``). The grid model comes from ``environment.grid_setup.build_grid_model``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from environment.assessment.station import StationLayerResult
from grid.alpha_layers import case_layers, realtime_layers
from grid.feeder import FloatArray
from grid.layers import GridModel, LayerSet
from grid.pq import PQResult, pq_projection
from scenarios.config import Scenario


@dataclass(frozen=True)
class GridLayerResult:
    """Distribution and transmission layers of a scenario.

    Attributes:
        model: The grid model used.
        da: DA layers.
        rt: RT layers per observation label.
        pq: DA P–Q projection.
        s_max_kva: Converter limits used by the P–Q sets ``(T, J)``.
    """

    model: GridModel
    da: LayerSet
    rt: dict[str, LayerSet]
    pq: PQResult
    s_max_kva: FloatArray


def assess_grid_layers(scenario: Scenario, station: StationLayerResult,
                       gm: GridModel) -> GridLayerResult:
    """Distribution and transmission layers for the DA case and every RT observation."""
    a_cfg = scenario.assessment
    frac = station.keep_fraction[a_cfg.alpha]
    da = case_layers(gm, station.da_case, frac, station.fresh, tuple(a_cfg.alpha_sensitivity),
                     a_cfg.alpha)
    rt = {kind: realtime_layers(gm, case, a_cfg.alpha) for kind, case in station.rt_cases.items()}
    names = list(gm.stations)
    rows = da.package.station if da.package is not None else station.da
    lo = np.stack([rows[s].p_min_kw for s in names], axis=1)
    hi = np.stack([rows[s].p_max_kw for s in names], axis=1)
    s_max = scenario.grid.converter_kva_per_kw * np.maximum(hi, -lo)
    bg_p, bg_q = gm.bg(0, lo.shape[0])
    pq = pq_projection(gm.sec, lo, hi, s_max, scenario.grid.pq_directions, gm.solver, bg_p,
                       bg_q, gm.positions, gm.limits)
    return GridLayerResult(model=gm, da=da, rt=rt, pq=pq, s_max_kva=s_max)
