"""Tables and summary of a FOR run: points, hull facets, regions per budget."""

from __future__ import annotations

import numpy as np
import pandas as pd

from environment.experiments.flex_region import SERVICES
from environment.experiments.flex_region_run import RegionRun, best_points, pooled
from flexibility.region import Region, convex_region


def region_points_mw(run: RegionRun, budget: float) -> np.ndarray:
    """Every verified equilibrium of the run acceptable within ``budget`` (MW).

    These are the boundary points of the directions and all other in-budget outcomes the
    searches solved. The pool only grows with the budget, so the regions are nested by
    construction.
    """
    return np.vstack([o.p_kw for o, _ in pooled(run, budget)]) / 1e3


FLAT_TOL = 0.01  # rank tolerance: 1 % of max(largest singular value, largest |P| in MW)


def regions(run: RegionRun, tol: float = FLAT_TOL) -> dict[float, Region]:
    """Convex region per budget.

    The equilibria move in whole vehicles in service (40-60 kW each on the paper's case) and
    the static model's MSA leaves residuals of that order, so a direction thinner than ``tol``
    (about 25 kW at 2.5 MW) counts as flat: the static region is then reported as 2-D with its
    area instead of a sliver of volume.
    """
    return {b: convex_region(region_points_mw(run, b), tol) for b in sorted(run.points)}


def psi_names(run: RegionRun) -> list[str]:
    """Column names of the coupon coordinates (``Coupons.from_vector`` order)."""
    s = run.setup
    return [f"psi_{st}_{svc}_band{k}" for st in s.stations for svc in SERVICES
            for k in range(s.n_bands)]


def points_frame(model: str, run: RegionRun) -> pd.DataFrame:
    """One row per budget and direction: direction, coupons, net loads, gap, spend, checks.

    ``found_in_budget`` is the budget whose search solved the equilibrium (``best_points``);
    ``evaluations`` and ``runtime_s`` are this direction's own search.
    """
    names, stations = psi_names(run), run.setup.stations
    best = best_points(run)
    rows = []
    for budget, docs in sorted(run.points.items()):
        for d, (o, src) in zip(docs, best[budget], strict=True):
            row = {"model": model, "budget": budget, "k": d["k"]}
            row.update({f"a_{st}": a for st, a in zip(stations, d["direction"], strict=True)})
            row.update(dict(zip(names, o.psi.tolist(), strict=True)))
            row.update({f"p_{st}_mw": p / 1e3 for st, p in zip(stations, o.p_kw, strict=True)})
            row.update({"gap": o.gap, "subsidy_spent": o.spent,
                        "grid_feasible": o.grid_feasible, "vm_min_pu": o.vm_min_pu,
                        "coupons_used": bool(np.any(o.psi > 0)), "found_in_budget": src,
                        "evaluations": d["evaluations"], "runtime_s": d["runtime_s"]})
            rows.append(row)
    return pd.DataFrame(rows)


def hull_frame(model: str, regs: dict[float, Region], stations: tuple[str, ...]) -> pd.DataFrame:
    """Facets ``a^T p <= b`` (MW) per budget."""
    rows = []
    for budget, r in regs.items():
        for i, (a, b) in enumerate(zip(r.a, r.b, strict=True)):
            rows.append({"model": model, "budget": budget, "facet": i,
                         **{f"a_{st}": float(x) for st, x in zip(stations, a, strict=True)},
                         "b_mw": float(b)})
    return pd.DataFrame(rows)


def thickness_mw(r: Region) -> float:
    """Extent of the vertices along their thinnest principal direction (MW; 0 if flat)."""
    v = r.vertices_mw - r.vertices_mw.mean(axis=0)
    if len(v) < 2:
        return 0.0
    normal = np.linalg.svd(v, full_matrices=True)[2][-1]
    z = v @ normal
    return float(z.max() - z.min())


def region_summary(r: Region, run: RegionRun, budget: float) -> dict:
    """Per budget: points, vertices, volume, dimension, ranges, runtime."""
    docs = run.points[budget]
    best = [o for o, _ in best_points(run)[budget]]
    n_dir = max(len(docs), 1)
    return {"points": len(r.points_mw), "directions": len(docs),
            "vertices": r.vertices_mw.round(6).tolist(),
            "n_vertices": len(r.vertices_mw), "dimension": int(r.dimension),
            "volume_mw3": float(r.volume_mw3), "measure": float(r.measure),
            "measure_unit": r.measure_unit, "thickness_mw": thickness_mw(r),
            "range_mw": {st: [float(lo), float(hi)]
                         for st, (lo, hi) in zip(run.setup.stations, r.ranges_mw, strict=True)},
            "points_with_coupons": int(sum(np.any(o.psi > 0) for o in best)),
            "max_subsidy_spent": float(max((o.spent for o in best), default=0.0)),
            "max_gap": max((float(o.gap) for o in best if np.isfinite(o.gap)), default=None),
            "equilibria": int(sum(d["evaluations"] for d in docs)),
            "equilibria_per_direction": sum(d["evaluations"] for d in docs) / n_dir,
            "runtime_s": float(sum(d["runtime_s"] for d in docs)),
            "runtime_per_direction_s": float(sum(d["runtime_s"] for d in docs)) / n_dir}
