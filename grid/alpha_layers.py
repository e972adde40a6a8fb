"""Distribution and transmission layers of one assessment case (paper §3.3–3.4).

For one case (DA or RT at τ) of the station layer:

1. **Distribution.** The station α rows (power) are clipped by LinDistFlow and AC-corrected
   (``grid.layers.network_boxes``): jointly feasible station boxes. Their energy
   rows are the station rows' band tightened with the clipped power (lossless battery, so the
   band stays a reachable band). Where the band crosses, the network cannot carry what the
   vehicles must charge (an infeasible interval): the band collapses to its midpoint there and
   the interval is reported.
2. **Transmission.** Every scenario's deliverable inner battery inside the network boxes
   (energy-share policy, ``flexibility.inner``); the kept scenarios' largest common battery
   (one LP over their share-policy rows, ``flexibility.common_battery``), or their row-wise
   intersection where that is larger, around the mean kept reference; and the boundary
   ``B = (P_up, P_down, E_min, E_max, R_up, R_down)`` of that battery. Station rows split
   ``B`` by the stations' mean share of the deviation energy (an indicative split: the
   policy's actual split follows each day's shares).
3. **Coverage** on fresh sampled days for every α: distribution rows against the fresh days'
   exact projections (necessary), the transmission battery against the fresh days' own
   share policy (sufficient: the day's deliverability rows hold for the common battery; the
   intersection lies inside the day's deliverable battery).
"""

from __future__ import annotations

from dataclasses import replace
from functools import reduce

import numpy as np

from flexibility.aggregation import Envelope
from flexibility.alpha_sets import (
    SCALE_TOL,
    CaseSets,
    Coverage,
    calibrate_keep,
    calibrate_scale,
    calibration_target,
    inner_coverage,
    n_kept,
    outer_coverage,
    per_interval_rows,
    policy_coverage,
    relative_total,
    split_days,
    station_rows,
    total_deviation,
)
from flexibility.battery import Battery
from flexibility.cases import Case
from flexibility.common_battery import ShareRows, common_battery, deliverable_scale
from flexibility.discard import discard_order, intersect, keep_mask
from flexibility.inner import InnerSet, ScenarioBatteries, alpha_package, fleet_batteries
from flexibility.packaging import Boundary, battery_boundary
from flexibility.stations import PerStation
from grid.layers import GridModel, LayerSet, PackageInfo, network_boxes


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
                       ) -> PerStation[Boundary]:
    """Boundary of the total and the indicative station split (module docstring)."""
    kept = inner.kept
    total = inner.alpha_set.tightened()
    out: dict[str, Boundary] = {}
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
    return PerStation(out, battery_boundary(total))


def area_kwh(lo_kw: np.ndarray, hi_kw: np.ndarray, dt_h: float) -> float:
    """``sum_t (hi - lo) dt`` (the envelope area as charge plus discharge capability)."""
    return float(np.sum(np.maximum(hi_kw, 0.0) + np.maximum(-lo_kw, 0.0)) * dt_h)


def clip_boundary(b: Boundary, env: Envelope) -> Boundary:
    """The boundary's battery intersected row by row with an envelope's rows, re-packaged."""
    return battery_boundary(Battery(np.maximum(b.p_down_kw, env.p_min_kw),
                                    np.minimum(b.p_up_kw, env.p_max_kw),
                                    np.maximum(b.e_min_kwh, env.e_min_kwh),
                                    np.minimum(b.e_max_kwh, env.e_max_kwh), b.dt_h, b.t0))


def case_layers(gm: GridModel, case: Case, keep_fraction: float,
                fresh: CaseSets | None = None, alphas: tuple[float, ...] = (),
                alpha: float | None = None, scale: float = 1.0,
                package: str = "common", ray: bool = True) -> LayerSet:
    """Distribution and transmission layers of one case (module docstring).

    All three layers of the case are placed at one reference ``R_hat``: the mean, over the
    scenarios kept for the transmission set, of the network-feasible references. The station
    rows are therefore re-centred here (``PackageInfo.station``); with every layer containing
    ``R_hat`` the layers nest (transmission inside distribution inside station) and no energy
    band is empty.

    Args:
        gm: The grid model.
        case: The station-layer case.
        keep_fraction: Share of the scenarios kept for the transmission set when it is not
            calibrated (real-time cases: :func:`realtime_layers`).
        fresh: Fresh days: with them the kept count is calibrated for ``alpha`` (validation
            days) and coverage is measured for every ``alphas`` (test days).
        alphas: Confidence levels whose coverage is measured.
        alpha: The case's confidence level.
        scale: Shrink factor of the transmission set when it is not calibrated.
        package: ``"common"``: the kept scenarios' largest common battery where it is larger
            than their intersection (``flexibility.inner.alpha_package``); ``"intersection"``:
            the intersection alone.
        ray: Also search the AC boundary along the charging direction (a diagnostic of
            ``assess``; ``grid.layers.network_boxes``).
    """
    cs = case.sets
    names = cs.names
    # the network admits station powers whichever day comes: clip the hull of the scenarios'
    # exact projections to jointly feasible boxes (LinDistFlow, AC-corrected)
    hull_lo, hull_hi = cs.exact.p_lo_kw.min(axis=0).T, cs.exact.p_hi_kw.max(axis=0).T
    dist = network_boxes(gm, cs.t0, hull_lo, hull_hi, ray)
    common = package == "common"
    sb = fleet_batteries(cs.fleet, cs.station, len(names), cs.n_intervals, cs.t0, dist.lo_kw,
                         dist.hi_kw, rows=common)
    cs_net = replace(cs, ref_kw=sb.station_ref_kw)  # network-feasible references
    m = cs.n_scenarios
    order = discard_order(sb.deviation, 1, sb.misfit)
    coverage: dict[str, dict[float, Coverage]] = {}
    n_keep = max(1, round(keep_fraction * m))
    chosen, method = None, package
    if fresh is not None and alpha is not None:
        n_keep, scale, chosen, coverage = _calibrate(cs_net, fresh, dist.lo_kw, dist.hi_kw, sb,
                                                     order, alphas or (alpha,), alpha, case)
        method = package if chosen is not None else "intersection"
    inner = alpha_package(sb, n_keep, order, scale, chosen, method)
    ref_hat = sb.station_ref_kw[inner.kept].mean(axis=0)  # (J, T)
    station = station_rows(cs_net, case.n_kept, case.aggregation, case.statistic,
                           ref_hat, case.scale, case.definition).envelopes
    per: dict[str, Envelope] = {}
    crossed = np.zeros(cs.n_intervals, dtype=bool)
    for j, s in enumerate(names):
        lo = np.maximum(station[s].p_min_kw, dist.lo_kw[:, j])
        hi = np.minimum(station[s].p_max_kw, dist.hi_kw[:, j])
        crossed |= lo > hi + 1e-9
        per[s], c = distribution_rows(station[s], np.minimum(lo, hi), hi)
        crossed |= c
    total, c = distribution_rows(station.total, reduce(np.add, [per[s].p_min_kw for s in names]),
                                 reduce(np.add, [per[s].p_max_kw for s in names]))
    distribution = PerStation(per, total)
    crossed |= c
    split = station_boundaries(inner, sb, names)
    transmission = PerStation({n: clip_boundary(split[n], per[n]) for n in names},
                              clip_boundary(split.total, total))
    b_all = transmission.total
    exact_area = area_kwh(total.p_min_kw, total.p_max_kw, total.dt_h)
    efficiency = (area_kwh(b_all.p_down_kw, b_all.p_up_kw, b_all.dt_h) / exact_area
                  if exact_area > 0 else 1.0)
    unshed = sb.unsheddable_kw[inner.kept].max(axis=0)
    infeasible = np.flatnonzero(crossed | (unshed > 1e-6)) + cs.t0
    return LayerSet(distribution=distribution, transmission=transmission, dist_boxes=dist,
                    empty_intervals=infeasible, own_allocation_intervals=np.zeros(0, int),
                    package=PackageInfo(inner=inner, efficiency=float(efficiency),
                                        infeasible_intervals=infeasible,
                                        unsheddable_kw=unshed, coverage=coverage,
                                        station=station))


def _whole_day_rows(s_dev: Battery, s_order: np.ndarray, val_days: Battery,
                    target: float) -> Battery:
    """Whole-day station rows (relative) calibrated on the validation days: the fewest kept
    scenarios, then the largest shrink, whose coverage reaches ``target``."""
    m = s_dev.p_hi_kw.shape[0]
    ks = calibrate_keep(s_order, m, target, lambda kp: outer_coverage(
        val_days, intersect(s_dev, kp)).whole_day)
    s_rows = intersect(s_dev, keep_mask(m, s_order, ks))

    def rows_cover(f: float, r: Battery = s_rows) -> float:
        return outer_coverage(val_days, r.scaled(f)).whole_day

    return s_rows.scaled(calibrate_scale(target, rows_cover))


def realtime_layers(gm: GridModel, case: Case, alpha: float,
                    package: str = "common", ray: bool = True) -> LayerSet:
    """The real-time package of a case: what ``assess`` reports at τ and the co-simulator
    publishes every tick.

    ``ceil(alpha M)`` of the case's ``M`` sampled days are kept and packaged (their common
    battery, or intersection: ``package`` of :func:`case_layers`), with no shrink: the
    day-ahead calibration measures whole fresh days, where every vehicle is uncertain, while
    in real time the plugged-in vehicles are known and only later arrivals are sampled.
    ``ray``: also the AC boundary along the charging direction (:func:`case_layers`).
    """
    m = case.sets.n_scenarios
    return case_layers(gm, case, n_kept(alpha, m) / m, package=package, ray=ray)


def _calibrate(cs: CaseSets, fresh: CaseSets, net_lo: np.ndarray, net_hi: np.ndarray,
               sb: ScenarioBatteries, order: np.ndarray, alphas: tuple[float, ...],
               alpha: float, case: Case
               ) -> tuple[int, float, tuple[Battery, float] | None,
                          dict[str, dict[float, Coverage]]]:
    """Kept count, shrink and common battery for ``alpha``; test coverage of the three layers
    for every α.

    Every set is relative to the network-feasible references, the fresh days' too. The
    transmission set keeps the fewest scenarios whose intersection reaches the calibration
    target on the validation days (even fresh days whose own deliverable battery contains it),
    shrunk until it does. With the scenarios' rows (``sb.rows``) the kept scenarios' common
    battery is shrunk until its validation coverage (days whose own share policy delivers it,
    :func:`~flexibility.alpha_sets.policy_coverage`) reaches the target, and replaces the
    intersection where its area is larger. The station rows keep the fewest scenarios
    likewise with the days' exact projections (per-interval rows of ``case.definition``:
    rank ``ceil(αM)``, not calibrated, around the transmission set's mean reference);
    distribution rows are the station rows clipped to the network boxes. Coverage is measured
    on the odd days.

    Returns:
        ``(kept, shrink of the intersection, (common battery, its shrink) or None,
        coverage)``.
    """
    names = fresh.names
    m = sb.ref_kw.shape[0]
    fsb = fleet_batteries(fresh.fleet, fresh.station, len(names), fresh.n_intervals, fresh.t0,
                          net_lo, net_hi, rows=sb.rows is not None)
    f_inner = fsb.deviation
    f_exact = total_deviation(replace(fresh, ref_kw=fsb.station_ref_kw))
    val, test = split_days(fresh.n_scenarios)
    dev = sb.deviation
    s_dev = total_deviation(cs)
    s_order = discard_order(s_dev)
    out: dict[str, dict[float, Coverage]] = {"station": {}, "distribution": {},
                                             "transmission": {}}
    keeps: dict[float, tuple[int, float, tuple[Battery, float] | None]] = {}
    lps: dict[int, Battery | None] = {}
    for a in sorted({alpha, *alphas}):
        target = calibration_target(a, len(val))
        k = calibrate_keep(order, m, target, lambda kp: inner_coverage(
            f_inner.take(val), f_exact.take(val), intersect(dev, kp)).whole_day)
        kept = keep_mask(m, order, k)
        joint = intersect(dev, kept)

        def joint_cover(f: float, j: Battery = joint) -> float:
            return inner_coverage(f_inner.take(val), f_exact.take(val), j.scaled(f)).whole_day

        s = calibrate_scale(target, joint_cover)
        out["transmission"][a] = inner_coverage(f_inner.take(test), f_exact.take(test),
                                                joint.scaled(s))
        chosen = None
        if sb.rows is not None and fsb.rows is not None:
            if k not in lps:
                lps[k] = common_battery(sb.rows.take(kept), sb.batteries.t0, sb.params[2])
            chosen = _shrunk_common(lps[k], fsb.rows.take(val), target,
                                    float(joint.scaled(s).area_kwh()))
            if chosen is not None:
                out["transmission"][a] = policy_coverage(fsb.rows.take(test),
                                                         f_exact.take(test), chosen[0])
        keeps[a] = (k, s, chosen)
        out["station"][a], out["distribution"][a] = _outer_layers(
            cs, sb, kept, a, case, s_dev, s_order, f_exact, val, test, target, net_lo, net_hi)
    return (*keeps[alpha], out)


def _shrunk_common(lp: Battery | None, val_rows: ShareRows, target: float,
                   rival_kwh: float) -> tuple[Battery, float] | None:
    """The common battery shrunk (largest factor) until its validation coverage reaches
    ``target``, with the factor; ``None`` without a battery or if its area is not above
    ``rival_kwh`` (the calibrated intersection's)."""
    if lp is None:
        return None
    day_scale = deliverable_scale(val_rows, lp)
    f = calibrate_scale(target, lambda x: float(np.mean(day_scale >= x - SCALE_TOL)))
    b = lp.scaled(f).tightened()
    return (b, f) if b.area_kwh() > rival_kwh else None


def _outer_layers(cs: CaseSets, sb: ScenarioBatteries, kept: np.ndarray, a: float, case: Case,
                  s_dev: Battery, s_order: np.ndarray, f_exact: Battery, val: np.ndarray,
                  test: np.ndarray, target: float, net_lo: np.ndarray, net_hi: np.ndarray
                  ) -> tuple[Coverage, Coverage]:
    """Test coverage of the station and distribution rows at ``a`` (:func:`_calibrate`)."""
    m = sb.ref_kw.shape[0]
    ref_j = sb.station_ref_kw[kept].mean(axis=0)  # (J, T)
    if case.definition == "per-interval":
        s_rows = relative_total(per_interval_rows(cs, n_kept(a, m), case.aggregation, ref_j))
    else:
        s_rows = _whole_day_rows(s_dev, s_order, f_exact.take(val), target)
    ref = ref_j.sum(axis=0)
    # the network boxes are absolute: relative to the reference they move by -R_hat
    lo = np.maximum(s_rows.p_lo_kw, net_lo.sum(1) - ref)
    hi = np.minimum(s_rows.p_hi_kw, net_hi.sum(1) - ref)
    d_rows = Battery(np.minimum(lo, hi), hi, s_rows.y_lo_kwh, s_rows.y_hi_kwh, s_rows.dt_h,
                     s_rows.t0)
    return outer_coverage(f_exact.take(test), s_rows), outer_coverage(f_exact.take(test), d_rows)
