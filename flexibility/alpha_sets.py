"""α sets of sampled fleets around their reference operating points (paper §3.1.2, §3.2).

A case (the day ahead, or real time at τ) is ``M`` sampled fleets of all stations. Each scenario
``m`` has an exact flexibility set ``Q_m`` and a feasible reference trajectory ``R^m`` (the
energy-share policy's reference, ``flexibility.inner``). Sets are described **relative to the
reference**: ``Q_m - R^m`` always contains 0, so intersections over scenarios are never empty and
every energy band satisfies ``E_min <= E_max``.

* **Station layer** (outer description of the α set): per interval, the exact projections
  ``[P_min^m - R^m, P_max^m - R^m]`` (closed form of ``flexibility.vehicle``) and the cumulative
  energy band ``[Y^-_m - Y^R_m, Y^+_m - Y^R_m]`` of the surrogate, intersected over the kept
  scenarios, then placed at the mean kept reference ``R_hat``.
* **Kept scenarios** ``K``: ``ceil(alpha M)`` scenarios, discarded greedily (the one whose removal
  widens the intersection most first), either jointly for all stations (``"total"``, the α set
  of the total) or per station (``"stations"``, the sum of the station α sets).
* **Definitions** (``AlphaDefinition``): the above is the ``"whole-day"`` α set (one set of
  days on which the whole set holds). ``"per-interval"`` is the paper's own α envelope
  (:func:`per_interval_rows`): every bound of every interval is, alone, the α quantile of the
  scenarios' exact projections, widened where needed to contain the reference the rows are
  placed at.

Energies in these envelopes are cumulative net grid energy since the first interval, after each
interval (kWh); ``ds_kwh`` is 0 (arrivals and departures are inside the vehicle sets).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from flexibility.aggregation import Envelope, station_envelope
from flexibility.battery import Battery, compact_fleet
from flexibility.common_battery import ShareRows, deliverable_scale
from flexibility.discard import deviations, discard_greedy, keep_mask
from flexibility.fleet import Fleet, FloatArray
from flexibility.inner import scenario_sums
from flexibility.stations import PerStation

Aggregation = Literal["total", "stations"]
AlphaDefinition = Literal["whole-day", "per-interval"]


@dataclass(frozen=True)
class CaseSets:
    """All stations' sampled fleets of one case and their per-scenario sets.

    Attributes:
        names: Station names (column order ``j``).
        fleet: All vehicles ``(M, N)`` (compacted: connected vehicles first).
        station: Station index per vehicle ``(M, N)``.
        exact: Per-scenario, per-station exact projections (batteries ``(M, J, T)``): power rows
            from the lossy closed form, energy rows the surrogate's reachable band.
        ref_kw: Per-scenario, per-station reference power ``(M, J, T)`` (no network).
        n_intervals: ``T``.
        t0: First interval.
        dt_h: Interval length.
    """

    names: tuple[str, ...]
    fleet: Fleet
    station: np.ndarray
    exact: Battery
    ref_kw: FloatArray
    n_intervals: int
    t0: int
    dt_h: float

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios ``M``."""
        return int(self.ref_kw.shape[0])


def join_fleets(fleets: list[Fleet]) -> tuple[Fleet, np.ndarray]:
    """Concatenate station fleets ``(M, N_j)`` along the vehicle axis, with station indices."""
    names = ("arrival_idx", "departure_idx", "e_init_kwh", "e_min_kwh", "e_max_kwh",
             "e_req_kwh", "p_ch_max_kw", "p_dis_max_kw")
    first = fleets[0]
    arrays = {n: np.concatenate([np.broadcast_to(getattr(f, n), f.shape) for f in fleets],
                                axis=-1) for n in names}
    station = np.concatenate([np.full(f.shape[-1], j) for j, f in enumerate(fleets)])
    m = arrays["arrival_idx"].shape[0]
    return (Fleet(**arrays, eta_ch=first.eta_ch, eta_dis=first.eta_dis, dt_h=first.dt_h),
            np.broadcast_to(station, (m, station.size)))


def case_sets(names: tuple[str, ...], fleets: list[Fleet], n_intervals: int,
              t0: int = 0, chunk: int | None = None) -> CaseSets:
    """Per-scenario sets of a case from its station fleets (each ``(M, N_j)``).

    The per-vehicle surrogate and the reference (energy-share policy without network) run
    compiled one scenario at a time (``flexibility.inner.scenario_sums``); only the
    per-station results ``(M, J, T)`` are kept. ``chunk`` splits the scenarios between
    kernel calls (the result does not depend on it).
    """
    joined, station = join_fleets(fleets)
    fleet, st = compact_fleet(joined, station, n_intervals, t0)
    sums, _, _, _, _ = scenario_sums(fleet, st, len(names), n_intervals, t0, deviation=False,
                                     chunk=chunk)
    ref = np.ascontiguousarray(sums[:, 0])
    env = [station_envelope(f, n_intervals, t0) for f in fleets]
    p_hi = np.stack([np.broadcast_to(e.p_max_kw, ref[:, 0].shape) for e in env], axis=1)
    p_lo = np.stack([np.broadcast_to(e.p_min_kw, ref[:, 0].shape) for e in env], axis=1)
    exact = Battery(p_lo_kw=p_lo, p_hi_kw=p_hi, y_lo_kwh=np.ascontiguousarray(sums[:, 2]),
                    y_hi_kwh=np.ascontiguousarray(sums[:, 3]), dt_h=fleet.dt_h, t0=t0)
    return CaseSets(names=names, fleet=fleet, station=st, exact=exact, ref_kw=ref,
                    n_intervals=n_intervals, t0=t0, dt_h=fleet.dt_h)


def n_kept(alpha: float, m: int) -> int:
    """``ceil(alpha M)`` scenarios, at least one."""
    return max(1, min(m, math.ceil(alpha * m - 1e-9)))


def _total(b: Battery) -> Battery:
    """Sum over the station axis (``-2``)."""
    return Battery(b.p_lo_kw.sum(-2), b.p_hi_kw.sum(-2), b.y_lo_kwh.sum(-2), b.y_hi_kwh.sum(-2),
                   b.dt_h, b.t0)


def _intersect_rows(dev: Battery, kept: np.ndarray) -> Battery:
    """Row-wise intersection over kept scenarios (axis 0), without tightening."""
    return Battery(dev.p_lo_kw[kept].max(axis=0), dev.p_hi_kw[kept].min(axis=0),
                   dev.y_lo_kwh[kept].max(axis=0), dev.y_hi_kwh[kept].min(axis=0), dev.dt_h,
                   dev.t0)


def _as_envelope(b: Battery) -> Envelope:
    """A battery (arrays ``(..., T)``) as an envelope table row set (``ds = 0``)."""
    return Envelope(p_max_kw=b.p_hi_kw, p_min_kw=b.p_lo_kw, e_min_kwh=b.y_lo_kwh,
                    e_max_kwh=b.y_hi_kwh, ds_kwh=np.zeros_like(b.p_hi_kw), dt_h=b.dt_h, t0=b.t0)


@dataclass(frozen=True)
class StationRows:
    """Station-layer α rows of one case.

    Attributes:
        envelopes: Per station and their total: the α rows placed at the mean kept reference.
        kept: Kept scenarios ``(M,)`` for ``"total"``, ``(J, M)`` for ``"stations"`` (all
            scenarios for per-interval rows: every one enters the quantiles).
        ref_hat_kw: Mean kept reference per station ``(J, T)``.
        n_keep: The quantile's rank ``k`` of per-interval rows (``None``: whole-day rows,
            whose kept set says how many scenarios they keep).
    """

    envelopes: PerStation[Envelope]
    kept: np.ndarray
    ref_hat_kw: FloatArray
    n_keep: int | None = None


def total_deviation(cs: CaseSets) -> Battery:
    """Per-scenario exact rows of the total relative to the reference ``(M, T)``."""
    return _total(deviations(cs.exact, cs.ref_kw))


def station_rows(cs: CaseSets, n_keep: int, aggregation: Aggregation = "total",
                 statistic: str = "quantile", ref_hat_kw: FloatArray | None = None,
                 scale: float = 1.0, definition: AlphaDefinition = "whole-day"
                 ) -> StationRows:
    """Station-layer α rows keeping ``n_keep`` scenarios (module docstring).

    ``statistic = "mean"`` averages the rows of all scenarios instead. The rows are placed at
    ``ref_hat_kw`` (per station ``(J, T)``) when given, else at the mean kept reference, and
    shrunk by ``scale`` towards it (see :func:`calibrate_scale`). With ``definition =
    "per-interval"`` (and the quantile statistic) the rows are :func:`per_interval_rows` of
    rank ``k = n_keep`` instead; nothing is shrunk there (``scale`` must be 1).
    """
    if definition == "per-interval" and statistic == "quantile":
        if scale != 1.0:
            raise ValueError(f"per-interval α rows are not shrunk (scale {scale} given)")
        return per_interval_rows(cs, n_keep, aggregation, ref_hat_kw)
    dev = deviations(cs.exact, cs.ref_kw)  # (M, J, T)
    J = len(cs.names)
    M = cs.n_scenarios
    if statistic == "mean":
        kept = np.ones(M, dtype=bool)
        rows = Battery(dev.p_lo_kw.mean(0), dev.p_hi_kw.mean(0), dev.y_lo_kwh.mean(0),
                       dev.y_hi_kwh.mean(0), dev.dt_h, dev.t0)
        ref_hat = cs.ref_kw.mean(0)
    elif aggregation == "total":
        kept = discard_greedy(_total(dev), n_keep)
        rows = _intersect_rows(dev, kept)
        ref_hat = cs.ref_kw[kept].mean(0)
    else:
        kept = np.stack([discard_greedy(dev.take((slice(None), j)), n_keep) for j in range(J)])
        parts = [_intersect_rows(dev.take((slice(None), j)), kept[j]) for j in range(J)]
        rows = Battery(p_lo_kw=np.stack([p.p_lo_kw for p in parts]),
                       p_hi_kw=np.stack([p.p_hi_kw for p in parts]),
                       y_lo_kwh=np.stack([p.y_lo_kwh for p in parts]),
                       y_hi_kwh=np.stack([p.y_hi_kwh for p in parts]), dt_h=dev.dt_h, t0=dev.t0)
        ref_hat = np.stack([cs.ref_kw[kept[j], j].mean(0) for j in range(J)])
    if ref_hat_kw is not None:
        ref_hat = np.asarray(ref_hat_kw)
    rows = rows.scaled(scale)
    y_hat = np.cumsum(ref_hat, axis=-1) * cs.dt_h
    placed = Battery(rows.p_lo_kw + ref_hat, rows.p_hi_kw + ref_hat, rows.y_lo_kwh + y_hat,
                     rows.y_hi_kwh + y_hat, cs.dt_h, cs.t0)
    envs = PerStation({name: _as_envelope(placed.take(j)) for j, name in enumerate(cs.names)},
                      _as_envelope(_total(placed)))
    return StationRows(envelopes=envs, kept=kept, ref_hat_kw=ref_hat)


def _quantile_rows(b: Battery, k: int) -> Battery:
    r"""Per-interval rank-``k`` rows over the scenarios (axis 0) of exact projections.

    With ``x_{(1)} <= ... <= x_{(M)}`` the scenarios' values of one row in one interval:
    ``P_max = p_{hi,(M-k+1)}`` (the ``k``-th largest), ``P_min = p_{lo,(k)}`` (the ``k``-th
    smallest), likewise ``E_max`` from ``y_hi`` and ``E_min`` from ``y_lo``, so that

    .. math:: \#\{m : p^m_{hi,t} \ge P_{max,t}\} \ge k, \quad
              \#\{m : p^m_{lo,t} \le P_{min,t}\} \ge k \quad \forall t .

    Where the energy band crosses, both bounds take its midpoint; where the power band crosses
    (``P_min > P_max``), both take ``P_max``.
    """
    m = b.p_hi_kw.shape[0]

    def kth_largest(x: FloatArray) -> FloatArray:
        return np.sort(x, axis=0)[m - k]

    def kth_smallest(x: FloatArray) -> FloatArray:
        return np.sort(x, axis=0)[k - 1]

    p_hi, p_lo = kth_largest(b.p_hi_kw), kth_smallest(b.p_lo_kw)
    p_lo = np.minimum(p_lo, p_hi)
    y_hi, y_lo = kth_largest(b.y_hi_kwh), kth_smallest(b.y_lo_kwh)
    mid = 0.5 * (y_lo + y_hi)
    crossed = y_lo > y_hi
    return Battery(p_lo, p_hi, np.where(crossed, mid, y_lo), np.where(crossed, mid, y_hi),
                   b.dt_h, b.t0)


def per_interval_envelope(cs: CaseSets, alpha: float) -> Envelope:
    r"""The paper's per-interval α envelope of the stations' total (for comparison only).

    Per interval ``t``, over the ``M`` scenarios' exact projections of the total, with
    ``k = ceil(α M)``: ``P_max,t`` is the ``k``-th largest ``p_hi^m_t``, ``P_min,t`` the
    ``k``-th smallest ``p_lo^m_t``, ``E_max,t`` the ``k``-th largest ``y_hi^m_t`` and
    ``E_min,t`` the ``k``-th smallest ``y_lo^m_t``, so that each bound, alone, holds on at
    least a share α of the scenarios in its interval:

    .. math:: \#\{m : p^m_{hi,t} \ge P_{max,t}\} \ge \alpha M \quad \forall t .

    Nothing holds jointly over the intervals or the bounds (the whole-day set of
    :func:`station_rows` is what does). Where the energy band crosses, both bounds take its
    midpoint; where the power band crosses (``P_min > P_max``), both take ``P_max``.
    """
    total = _total(cs.exact)  # (M, T)
    m = total.p_hi_kw.shape[0]
    k = min(m, max(1, math.ceil(alpha * m - 1e-12)))
    return _as_envelope(_quantile_rows(total, k))


def _containing(b: Battery, ref_kw: FloatArray) -> Battery:
    r"""Rows widened just enough to contain a reference trajectory.

    .. math:: P_{min} \leftarrow \min(P_{min}, R), \quad P_{max} \leftarrow \max(P_{max}, R),
              \quad E_{min} \leftarrow \min(E_{min}, Y^R), \quad
              E_{max} \leftarrow \max(E_{max}, Y^R), \qquad Y^R_t = \sum_{s \le t} R_s \Delta t .
    """
    y_ref = np.cumsum(ref_kw, axis=-1) * b.dt_h
    return Battery(np.minimum(b.p_lo_kw, ref_kw), np.maximum(b.p_hi_kw, ref_kw),
                   np.minimum(b.y_lo_kwh, y_ref), np.maximum(b.y_hi_kwh, y_ref), b.dt_h, b.t0)


def per_interval_rows(cs: CaseSets, n_keep: int, aggregation: Aggregation = "total",
                      ref_hat_kw: FloatArray | None = None) -> StationRows:
    r"""Station-layer rows under the paper's per-interval α definition.

    Per station ``j`` and interval ``t``, rank ``k = n_keep`` (``ceil(α M)``) over the ``M``
    scenarios' exact projections (:func:`per_interval_envelope`'s rule)::

        P_max,jt = k-th largest p^m_hi,jt      P_min,jt = k-th smallest p^m_lo,jt
        E_max,jt = k-th largest y^m_hi,jt      E_min,jt = k-th smallest y^m_lo,jt

    so each bound alone holds on at least ``k`` scenarios of its interval. The total is the
    same rule applied to the stations' total (``"total"``: the α envelope of the total, as the
    diagnostic) or the sum of the station rows (``"stations"``). The rows are then widened to
    contain the reference ``R_hat`` they are placed at (``ref_hat_kw``, else the mean
    reference of all scenarios; the total's is ``sum_j R_hat_j``), so the grid layers built
    around ``R_hat`` nest inside them and no band is empty:

    .. math:: P_{min,t} \le \hat R_t \le P_{max,t}, \quad
              E_{min,t} \le \sum_{s \le t} \hat R_s \Delta t \le E_{max,t} .
    """
    ref_hat = cs.ref_kw.mean(0) if ref_hat_kw is None else np.asarray(ref_hat_kw)  # (J, T)
    stations = _containing(_quantile_rows(cs.exact, n_keep), ref_hat)  # (J, T)
    if aggregation == "total":
        total = _containing(_quantile_rows(_total(cs.exact), n_keep), ref_hat.sum(axis=0))
    else:
        total = _total(stations)
    envs = PerStation({name: _as_envelope(stations.take(j)) for j, name in enumerate(cs.names)},
                      _as_envelope(total))
    return StationRows(envelopes=envs, kept=np.ones(cs.n_scenarios, dtype=bool),
                       ref_hat_kw=ref_hat, n_keep=n_keep)


def relative_total(rows: StationRows) -> Battery:
    r"""The rows' total relative to their reference (for coverage), ``(T,)``.

    .. math:: (P_{min} - \hat R,\; P_{max} - \hat R,\; E_{min} - Y^{\hat R},\;
              E_{max} - Y^{\hat R}), \quad \hat R = \sum_j \hat R_j .
    """
    env = rows.envelopes.total
    ref = np.asarray(rows.ref_hat_kw).sum(axis=0)
    y_ref = np.cumsum(ref) * env.dt_h
    return Battery(env.p_min_kw - ref, env.p_max_kw - ref, env.e_min_kwh - y_ref,
                   env.e_max_kwh - y_ref, env.dt_h, env.t0)


def calibrate_keep(order: np.ndarray, m: int, target: float,
                   coverage_of: Callable[[np.ndarray], float]) -> int:
    """Fewest kept scenarios whose α set still has validation coverage ``>= target``.

    ``coverage_of(keep_mask)`` returns the whole-day coverage on validation days; it falls as
    scenarios are discarded (the set grows). Bisection over the number kept, from all ``M``
    (the smallest set) down; if even all ``M`` fall short, all are kept.
    """
    lo, hi = 1, m  # invariant: hi is acceptable (or m)
    if coverage_of(keep_mask(m, order, m)) < target:
        return m
    while lo < hi:
        mid = (lo + hi) // 2
        if coverage_of(keep_mask(m, order, mid)) >= target:
            hi = mid
        else:
            lo = mid + 1
    return hi


@dataclass(frozen=True)
class Coverage:
    """Out-of-sample coverage of one layer's α set on fresh sampled days.

    Attributes:
        whole_day: Share of fresh days on which the whole set is covered.
        per_interval_min: Smallest, over intervals, share of fresh days covering that
            interval's power range.
        per_interval: That share per interval.
    """

    whole_day: float
    per_interval_min: float
    per_interval: FloatArray

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON output."""
        return {"whole_day": self.whole_day, "per_interval_min": self.per_interval_min}


def _covers_rows(outer: Battery, inner: Battery, tol: float = 1e-6
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Whether ``inner``'s rows lie inside each scenario of ``outer`` (``(M, T)``).

    Returns:
        ``(power rows inside per interval (M, T), all rows inside over the day (M,))``.
    """
    p_ok = (inner.p_lo_kw >= outer.p_lo_kw - tol) & (inner.p_hi_kw <= outer.p_hi_kw + tol)
    y_ok = (inner.y_lo_kwh >= outer.y_lo_kwh - tol) & (inner.y_hi_kwh <= outer.y_hi_kwh + tol)
    return p_ok, np.all(p_ok & y_ok, axis=-1)


def outer_coverage(day_rows: Battery, rows: Battery) -> Coverage:
    """Coverage of α rows (deviations, ``(T,)``) by days' exact projections (``(D, T)``).

    A day covers the rows when every interval's power range and cumulative energy band of the
    (tightened) rows lies inside that day's exact projections around its own reference — a
    necessary condition for every trajectory of the rows' set to be deliverable that day.
    """
    p_ok, day_ok = _covers_rows(day_rows, rows.tightened())
    share = p_ok.mean(axis=0)
    return Coverage(float(day_ok.mean()), float(share.min(initial=1.0)), share)


def inner_coverage(day_inner: Battery, day_exact: Battery, deviation: Battery) -> Coverage:
    """Coverage of a deliverable α deviation battery on days (batteries ``(D, T)``).

    Whole day: the α battery (tightened) lies inside the day's own deliverable battery
    ``B_m - R^m`` (``day_inner``) — every trajectory is then deliverable that day by the share
    policy (a sufficient condition). Per interval: the power range lies inside the day's exact
    projection ``day_exact`` (necessary).
    """
    tight = deviation.tightened()
    _, day_ok = _covers_rows(day_inner, tight)
    p_ok, _ = _covers_rows(day_exact, tight)
    share = p_ok.mean(axis=0)
    return Coverage(float(day_ok.mean()), float(share.min(initial=1.0)), share)


def policy_coverage(day_rows: ShareRows, day_exact: Battery, deviation: Battery) -> Coverage:
    """Coverage of a common deviation battery (``flexibility.common_battery``) on days.

    Whole day: the day's own share policy delivers every trajectory of the battery, i.e. the
    day's deliverability rows hold for it (``deliverable_scale >= 1``; a sufficient
    condition, implied by :func:`inner_coverage`'s containment). Per interval: the power range
    lies inside the day's exact projection ``day_exact`` (necessary).
    """
    tight = deviation.tightened()
    day_ok = deliverable_scale(day_rows, tight) >= 1.0 - SCALE_TOL
    p_ok, _ = _covers_rows(day_exact, tight)
    share = p_ok.mean(axis=0)
    return Coverage(float(day_ok.mean()), float(share.min(initial=1.0)), share)


SCALE_TOL = 1e-9
"""Rounding allowed on a deliverable shrink factor (rows scaled onto their bound)."""


def calibrate_scale(target: float, coverage_of: Callable[[float], float],
                    iterations: int = 12) -> float:
    """Largest shrink factor ``s`` in [0, 1] of a deviation set reaching ``target`` coverage.

    Bisection on the validation coverage ``coverage_of(s)``, which rises as the set shrinks
    towards 0 (every day's own set contains 0).
    """
    if coverage_of(1.0) >= target:
        return 1.0
    lo, hi = 0.0, 1.0  # invariant: lo acceptable
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if coverage_of(mid) >= target:
            lo = mid
        else:
            hi = mid
    return lo


def calibration_target(alpha: float, n_validation: int) -> float:
    """Validation coverage to aim for: ``alpha`` plus one binomial standard error.

    With ``n`` validation days the measured coverage scatters by ``sqrt(alpha (1 - alpha) / n)``
    around the true one; aiming one standard error higher keeps the coverage on other days near
    or above ``alpha`` instead of below it half the time.
    """
    if n_validation <= 0:
        return alpha
    return min(1.0, alpha + float(np.sqrt(alpha * (1.0 - alpha) / n_validation)))


def split_days(n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Validation (even) and test (odd) day indices of the fresh days."""
    idx = np.arange(n_days)
    return idx[::2], idx[1::2]


__all__ = [
    "Aggregation",
    "AlphaDefinition",
    "CaseSets",
    "Coverage",
    "StationRows",
    "calibrate_keep",
    "calibration_target",
    "case_sets",
    "inner_coverage",
    "join_fleets",
    "n_kept",
    "outer_coverage",
    "per_interval_envelope",
    "per_interval_rows",
    "relative_total",
    "split_days",
    "station_rows",
    "total_deviation",
]
