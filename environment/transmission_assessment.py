"""Distribution and transmission layers of one assessment case (paper §3.3–3.4).

For one case (DA or RT at τ) of the station layer:

1. **Distribution.** The station α rows (power) are clipped by LinDistFlow and AC-corrected
   (``environment.grid_assessment.network_boxes``): jointly feasible station boxes. Their energy
   rows are the station rows' band tightened with the clipped power (lossless battery, so the
   band stays a reachable band). Where the band crosses, the network cannot carry what the
   vehicles must charge (an infeasible interval): the band collapses to its midpoint there and
   the interval is reported.
2. **Transmission.** Every scenario's deliverable inner battery inside the network boxes
   (energy-share policy, ``flexibility.inner``), the α intersection around the mean kept
   reference, and the boundary ``B = (P_up, P_down, E_min, E_max, R_up, R_down)`` of that
   battery. Station rows split ``B`` by the stations' mean share of the deviation energy (an
   indicative split: the policy's actual split follows each day's shares).
3. **Coverage** on fresh sampled days for every α: distribution rows against the fresh days'
   exact projections (necessary), the transmission battery against the fresh days' own
   deliverable batteries (sufficient).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from environment.grid_assessment import GridModel, LayerSet, network_boxes
from environment.station_assessment import ALL, Case
from flexibility.aggregation import Envelope
from flexibility.alpha_sets import (
    CaseSets,
    Coverage,
    calibrate_keep,
    calibration_target,
    inner_coverage,
    outer_coverage,
    split_days,
    station_rows,
    total_deviation,
)
from flexibility.battery import Battery
from flexibility.inner import (
    InnerSet,
    ScenarioBatteries,
    alpha_intersection,
    discard_order,
    fleet_batteries,
    intersect,
    keep_mask,
)
from flexibility.packaging import Boundary, battery_boundary


@dataclass(frozen=True)
class PackageInfo:
    """How the transmission boundary of a case was built and how good it is.

    Attributes:
        inner: The α inner set (per-scenario batteries, kept scenarios, deviation battery).
        efficiency: Transmission area / area of the exact deliverable set (the distribution
            rows: the α set of the sampled fleets inside the network boxes).
        infeasible_intervals: Intervals where the network cannot carry the must-serve load.
        unsheddable_kw: Load above the network's bound that no control can shed, per interval
            (largest over kept scenarios).
        coverage: Out-of-sample coverage per layer and α (empty when not measured).
    """

    inner: InnerSet
    efficiency: float
    infeasible_intervals: np.ndarray
    unsheddable_kw: np.ndarray
    coverage: dict[str, dict[float, Coverage]]


def _envelope(b: Battery) -> Envelope:
    return Envelope(p_max_kw=b.p_hi_kw, p_min_kw=b.p_lo_kw, e_min_kwh=b.y_lo_kwh,
                    e_max_kwh=b.y_hi_kwh, ds_kwh=np.zeros_like(b.p_hi_kw), dt_h=b.dt_h,
                    t0=b.t0)


def distribution_rows(env: Envelope, lo_kw: np.ndarray, hi_kw: np.ndarray
                      ) -> tuple[Envelope, np.ndarray]:
    """Station rows with clipped power and the energy band that power still reaches.

    Returns:
        ``(envelope, crossed)`` — ``crossed`` marks intervals whose band was empty (collapsed
        to its midpoint).
    """
    b = Battery(lo_kw, hi_kw, env.e_min_kwh, env.e_max_kwh, env.dt_h, env.t0).tightened()
    crossed = b.y_lo_kwh > b.y_hi_kwh + 1e-7
    mid = 0.5 * (b.y_lo_kwh + b.y_hi_kwh)
    y_lo = np.where(crossed, mid, b.y_lo_kwh)
    y_hi = np.where(crossed, mid, b.y_hi_kwh)
    return (Envelope(p_max_kw=hi_kw, p_min_kw=lo_kw, e_min_kwh=y_lo, e_max_kwh=y_hi,
                     ds_kwh=np.zeros_like(hi_kw), dt_h=env.dt_h, t0=env.t0), crossed)


def station_boundaries(inner: InnerSet, sb: ScenarioBatteries, names: tuple[str, ...]
                       ) -> dict[str, Boundary]:
    """Boundary of ``ALL`` and the indicative station split (module docstring)."""
    kept = inner.kept
    total = inner.alpha_set.tightened()
    out = {ALL: battery_boundary(total)}
    dev = inner.deviation.tightened()
    share = sb.station_share[kept].mean(axis=0)  # (J, T)
    none = share.sum(axis=0) <= 1e-12
    share = np.where(none, 1.0 / len(names), share)
    ref = sb.station_ref_kw[kept].mean(axis=0)
    dt = total.dt_h
    for j, name in enumerate(names):
        y_ref = np.cumsum(ref[j]) * dt
        b = Battery(ref[j] + share[j] * dev.p_lo_kw, ref[j] + share[j] * dev.p_hi_kw,
                    y_ref + share[j] * dev.y_lo_kwh, y_ref + share[j] * dev.y_hi_kwh, dt,
                    total.t0)
        out[name] = battery_boundary(b)
    return out


def area_kwh(lo_kw: np.ndarray, hi_kw: np.ndarray, dt_h: float) -> float:
    """``sum_t (hi - lo) dt`` (the envelope area as charge plus discharge capability)."""
    return float(np.sum(np.maximum(hi_kw, 0.0) + np.maximum(-lo_kw, 0.0)) * dt_h)


def case_layers(gm: GridModel, case: Case, keep_fraction: float,
                fresh: CaseSets | None = None, alphas: tuple[float, ...] = (),
                alpha: float | None = None) -> LayerSet:
    """Distribution and transmission layers of one case (module docstring).

    Args:
        gm: The grid model.
        case: The station-layer case.
        keep_fraction: Share of the scenarios kept for the transmission set when it is not
            calibrated (RT cases reuse the DA calibration).
        fresh: Fresh days: with them the kept count is calibrated for ``alpha`` (validation
            days) and coverage is measured for every ``alphas`` (test days).
        alphas: Confidence levels whose coverage is measured.
        alpha: The case's confidence level.
    """
    cs = case.sets
    names = cs.names
    envs = case.rows.envelopes
    # the network admits station powers regardless of which day comes: clip the hull of the
    # scenarios' exact projections, then intersect the α rows with those jointly feasible boxes
    hull_lo, hull_hi = cs.exact.p_lo_kw.min(axis=0).T, cs.exact.p_hi_kw.max(axis=0).T
    dist = network_boxes(gm, cs.t0, hull_lo, hull_hi)
    distribution: dict[str, Envelope] = {}
    crossed = np.zeros(cs.n_intervals, dtype=bool)
    for j, s in enumerate(names):
        lo = np.maximum(envs[s].p_min_kw, dist.lo_kw[:, j])
        hi = np.minimum(envs[s].p_max_kw, dist.hi_kw[:, j])
        crossed |= lo > hi + 1e-9
        distribution[s], c = distribution_rows(envs[s], np.minimum(lo, hi), hi)
        crossed |= c
    total, c = distribution_rows(
        envs[ALL], sum(distribution[s].p_min_kw for s in names),
        sum(distribution[s].p_max_kw for s in names))
    distribution[ALL] = total
    crossed |= c
    sb = fleet_batteries(cs.fleet, cs.station, len(names), cs.n_intervals, cs.t0, dist.lo_kw,
                         dist.hi_kw)
    m = cs.n_scenarios
    order = discard_order(sb.deviation, 1, sb.misfit)
    coverage: dict[str, dict[float, Coverage]] = {}
    n_keep = max(1, round(keep_fraction * m))
    if fresh is not None and alpha is not None:
        n_keep, coverage = _calibrate(case, fresh, dist.lo_kw, dist.hi_kw, sb, order,
                                      alphas or (alpha,), alpha)
    inner = alpha_intersection(sb, n_keep, order)
    transmission = station_boundaries(inner, sb, names)
    b_all = transmission[ALL]
    exact_area = area_kwh(total.p_min_kw, total.p_max_kw, total.dt_h)
    efficiency = (area_kwh(b_all.p_down_kw, b_all.p_up_kw, b_all.dt_h) / exact_area
                  if exact_area > 0 else 1.0)
    kept = inner.kept
    unshed = sb.unsheddable_kw[kept].max(axis=0)
    infeasible = np.flatnonzero(crossed | (unshed > 1e-6)) + cs.t0
    return LayerSet(distribution=distribution, transmission=transmission, dist_boxes=dist,
                    empty_intervals=infeasible, own_allocation_intervals=np.zeros(0, int),
                    package=PackageInfo(inner=inner, efficiency=float(efficiency),
                                        infeasible_intervals=infeasible,
                                        unsheddable_kw=unshed, coverage=coverage))


def _calibrate(case: Case, fresh: CaseSets, net_lo: np.ndarray, net_hi: np.ndarray,
               sb: ScenarioBatteries, order: np.ndarray, alphas: tuple[float, ...],
               alpha: float) -> tuple[int, dict[str, dict[float, Coverage]]]:
    """Kept count for ``alpha`` and test coverage of both network layers for every α.

    The transmission set keeps the fewest scenarios whose validation coverage (fresh even days
    whose own deliverable battery contains it) reaches α; coverage is then measured on the odd
    days. Distribution rows are measured with the station layer's calibrated rows clipped to
    the same network boxes.
    """
    names = fresh.names
    m = sb.ref_kw.shape[0]
    fsb = fleet_batteries(fresh.fleet, fresh.station, len(names), fresh.n_intervals, fresh.t0,
                          net_lo, net_hi)
    f_inner = fsb.deviation
    f_exact = total_deviation(fresh)
    val, test = split_days(fresh.n_scenarios)
    dev = sb.deviation
    cs = case.sets
    s_dev = total_deviation(cs)
    s_order = discard_order(s_dev)
    out: dict[str, dict[float, Coverage]] = {"distribution": {}, "transmission": {}}
    keeps: dict[float, int] = {}
    for a in sorted({alpha, *alphas}):
        k = calibrate_keep(order, m, calibration_target(a, len(val)), lambda kp: inner_coverage(
            f_inner.take(val), f_exact.take(val), intersect(dev, kp)).whole_day)
        keeps[a] = k
        out["transmission"][a] = inner_coverage(f_inner.take(test), f_exact.take(test),
                                                intersect(dev, keep_mask(m, order, k)))
        ks = calibrate_keep(s_order, m, calibration_target(a, len(val)), lambda kp: outer_coverage(
            f_exact.take(val), intersect(s_dev, kp)).whole_day)
        rows = station_rows(cs, ks)
        env = rows.envelopes[ALL]
        ref = rows.ref_hat_kw.sum(axis=0)
        lo = np.maximum(env.p_min_kw, net_lo.sum(1))
        hi = np.minimum(env.p_max_kw, net_hi.sum(1))
        dist_env, _ = distribution_rows(env, np.minimum(lo, hi), hi)
        y = np.cumsum(ref) * env.dt_h
        out["distribution"][a] = outer_coverage(f_exact.take(test), Battery(
            dist_env.p_min_kw - ref, dist_env.p_max_kw - ref, dist_env.e_min_kwh - y,
            dist_env.e_max_kwh - y, env.dt_h, env.t0))
    return keeps[alpha], out
