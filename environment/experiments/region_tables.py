"""Tables and summary of a FOR run: points, hull facets, regions per budget, and the
validating tier dispatch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from environment.experiments.flex_region import SERVICES, Outcome, realise
from environment.experiments.flex_region_run import RegionRun, best_points, pooled
from environment.summaries import (
    BudgetRegion,
    RegionModelSummary,
    ResponseRegion,
    TierValidation,
)
from flexibility.region import Region, budget_image_points, convex_region


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


def region_summary(r: Region, run: RegionRun, budget: float) -> BudgetRegion:
    """Per budget: points, vertices, volume, dimension, ranges, runtime."""
    docs = run.points[budget]
    best = [o for o, _ in best_points(run)[budget]]
    n_dir = max(len(docs), 1)
    return BudgetRegion(
        points=len(r.points_mw), directions=len(docs),
        vertices=tuple(tuple(v) for v in r.vertices_mw.round(6).tolist()),
        n_vertices=len(r.vertices_mw), dimension=int(r.dimension),
        volume_mw3=float(r.volume_mw3), measure=float(r.measure), measure_unit=r.measure_unit,
        thickness_mw=thickness_mw(r),
        range_mw={st: (float(lo), float(hi))
                  for st, (lo, hi) in zip(run.setup.stations, r.ranges_mw, strict=True)},
        points_with_coupons=int(sum(np.any(o.psi > 0) for o in best)),
        max_subsidy_spent=float(max((o.spent for o in best), default=0.0)),
        max_gap=max((float(o.gap) for o in best if np.isfinite(o.gap)), default=None),
        equilibria=int(sum(d["evaluations"] for d in docs)),
        equilibria_per_direction=sum(d["evaluations"] for d in docs) / n_dir,
        runtime_s=float(sum(d["runtime_s"] for d in docs)),
        runtime_per_direction_s=float(sum(d["runtime_s"] for d in docs)) / n_dir)


def model_summary(run: RegionRun, regs: dict[float, Region], budgets: list[float]
                  ) -> RegionModelSummary:
    """One traffic model's regions per budget, with the bounds that explain their size."""
    s = run.setup
    rate = s.spend_rate[s.spend_rate > 0]
    return RegionModelSummary(
        stations=tuple(s.stations), directions=len(run.directions), band_min=s.band_min,
        coupon_coordinates=int(s.jac.shape[1]),
        base_mw=tuple((s.base.p_kw / 1e3).tolist()), setup_s=round(run.setup_s, 2),
        resumed_points=run.resumed,
        budgets={f"{b:g}": region_summary(regs[b], run, b) for b in budgets},
        ports_range_mw=ports_range_mw(run),
        spend_rate_cny=(float(rate.min()), float(rate.max())) if rate.size else (0.0, 0.0),
        response={f"{b:g}": response_region(run, b) for b in budgets})


def ports_range_mw(run: RegionRun) -> dict[str, tuple[float, float]]:
    """Per station ``[-n_v2g p_v2g, n_ch p_ch]`` (MW): its ports at their rated power."""
    cfg = run.setup.scenario.traffic
    if cfg is None:
        return {}
    return {st.name: (-st.v2g_ports * cfg.v2g_power_kw / 1e3,
                      st.charge_ports * cfg.charge_power_kw / 1e3)
            for st in cfg.stations if st.name in run.setup.stations}


def response_region(run: RegionRun, budget: float) -> ResponseRegion:
    """The region the set-up's linear response predicts for ``budget``.

    ``conv{P_0 + J psi : v . psi <= F_max, 0 <= psi <= psi_max}`` (MW), from the vertices of
    the budgeted coupon box (``flexibility.region.budget_image_points``). Coordinates whose
    realised spend is negative are treated as free (``v = 0``).
    """
    s = run.setup
    pts = budget_image_points(s.jac / 1e3, np.maximum(s.spend_rate, 0.0), s.psi_max, budget)
    r = convex_region(s.base.p_kw / 1e3 + pts, FLAT_TOL)
    return ResponseRegion(
        volume_mw3=float(r.volume_mw3), dimension=int(r.dimension), measure=float(r.measure),
        measure_unit=r.measure_unit,
        range_mw={st: (float(lo), float(hi))
                  for st, (lo, hi) in zip(s.stations, r.ranges_mw, strict=True)})


def inside(region: Region, p: np.ndarray) -> bool:
    """Membership with the tolerance the region was built with: a flat region's H-form is a
    slab ``FLAT_TOL * max(1, max |P|)`` thick around its plane."""
    flat = region.dimension < len(p)
    tol = FLAT_TOL * max(1.0, float(np.abs(region.points_mw).max())) if flat else 1e-6
    return bool(region.contains(p[None], tol)[0])


def tier_validation(run: RegionRun, regs: dict[float, Region], tiers: list[float],
                    station: str, reserve_mw: float,
                    evaluate: Callable[[list[np.ndarray]], list[Outcome]] | None = None
                    ) -> TierValidation:
    """The paper's §2.2 check: cheapest sufficient tier, its point, the realised subsidy.

    ``evaluate`` solves the realisation's equilibria (:func:`flex_region.realise`; e.g. on
    the run's workers, ``flex_region_run.solver``); by default one after the other here.
    """
    from dispatch.tiers import choose_tier

    s = run.setup
    m = s.stations.index(station)
    p_req = float(s.base.p_kw[m] / 1e3 + reserve_mw)
    cfg = s.scenario.traffic
    interval_h = (cfg.interval_min if cfg else 10.0) / 60.0
    price = cfg.charge_price_per_kwh if cfg else 1.0
    cost = np.full(len(s.stations), price * interval_h * 1e3)  # CNY per MW over the interval
    choice = choose_tier(tiers, [(regs[t].a, regs[t].b) for t in tiers], cost, m, p_req)
    ports = ports_range_mw(run).get(station)
    ports_mw = None if ports is None else ports[1]
    head = TierValidation(
        station=station, reserve_mw=reserve_mw, requirement_mw=p_req,
        station_charging_capacity_mw=ports_mw,
        max_reachable_mw={f"{t:g}": regs[t].support(np.eye(len(s.stations))[m]) for t in tiers},
        tier_feasible={f"{t:g}": ok for t, ok in
                       zip(tiers, choice.feasible_per_tier, strict=True)},
        chosen_tier=None if choice.tier < 0 else tiers[choice.tier])
    if choice.tier < 0:
        return head
    tier = tiers[choice.tier]
    p = choice.p
    best = max((o for o, _ in best_points(run)[tier]), key=lambda o: o.p_kw[m])
    real = realise(s, best, m, p_req * 1e3, evaluate)
    return replace(head, operating_point_mw=tuple(p.tolist()),
                   inside_chosen_tier=inside(regs[tier], p),
                   outside_cheaper_tiers={f"{t:g}": not inside(regs[t], p)
                                          for t in tiers if t < tier},
                   actual_subsidy_spent=None if real is None else real.spent,
                   realised_point_mw=None if real is None else tuple((real.p_kw / 1e3).tolist()))
