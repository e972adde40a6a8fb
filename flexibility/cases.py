"""Assessment cases of the station layer: per-scenario sets, kept scenarios and α rows.

A *case* is the day ahead or real time at τ: the sampled fleets of every station, their
per-scenario exact sets around each day's reference (``flexibility.alpha_sets``) and the α rows
of the kept scenarios, per station and in total (``flexibility.stations.PerStation``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.aggregation import Envelope
from flexibility.alpha_sets import (
    Aggregation,
    AlphaDefinition,
    CaseSets,
    Coverage,
    StationRows,
    calibrate_keep,
    calibrate_scale,
    calibration_target,
    case_sets,
    n_kept,
    outer_coverage,
    per_interval_rows,
    relative_total,
    split_days,
    station_rows,
    total_deviation,
)
from flexibility.battery import Battery
from flexibility.discard import discard_order, intersect, keep_mask
from flexibility.fleet import Fleet


@dataclass(frozen=True)
class Case:
    """One case (the day ahead, or real time at τ) of the station layer.

    Attributes:
        sets: The sampled fleets of all stations and their per-scenario sets.
        rows: The α rows (envelopes per station and total) and the kept scenarios.
        aggregation: ``"total"`` or ``"stations"`` (see ``flexibility.alpha_sets``).
        statistic: ``"quantile"`` (the α set) or ``"mean"``.
        scale: Shrink factor of the rows towards the reference (calibration).
        definition: ``"whole-day"`` or ``"per-interval"`` α rows (``flexibility.alpha_sets``).
    """

    sets: CaseSets
    rows: StationRows
    aggregation: Aggregation = "total"
    statistic: str = "quantile"
    scale: float = 1.0
    definition: AlphaDefinition = "whole-day"

    @property
    def n_kept(self) -> int:
        """Scenarios kept for the station rows (per station with ``"stations"``); the
        quantile's rank ``k`` for per-interval rows."""
        if self.rows.n_keep is not None:
            return self.rows.n_keep
        kept = np.asarray(self.rows.kept)
        return int(kept.reshape(-1, kept.shape[-1])[0].sum())


def sum_envelopes(envs: list[Envelope]) -> Envelope:
    """Minkowski sum of envelopes on one interval grid (stations -> total)."""
    total = envs[0]
    for env in envs[1:]:
        total = total + env
    return total


def make_case(names: tuple[str, ...], fleets: list[Fleet], n_intervals: int, t0: int,
              keep_fraction: float, aggregation: Aggregation, statistic: str = "quantile",
              scale: float = 1.0, definition: AlphaDefinition = "whole-day") -> Case:
    """Per-scenario sets and α rows of one case keeping a share of its scenarios
    (per-interval rows: of rank ``k = round(keep_fraction M)``)."""
    cs = case_sets(names, fleets, n_intervals, t0)
    n_keep = max(1, round(keep_fraction * cs.n_scenarios))
    return Case(sets=cs, rows=station_rows(cs, n_keep, aggregation, statistic, scale=scale,
                                           definition=definition),
                aggregation=aggregation, statistic=statistic, scale=scale,
                definition=definition)


def calibrated_rows(cs: CaseSets, fresh: CaseSets | None, alphas: list[float],
                    definition: AlphaDefinition = "whole-day",
                    aggregation: Aggregation = "total"
                    ) -> tuple[dict[float, tuple[int, float]], dict[float, Coverage]]:
    """Kept-scenario count and shrink factor per α, and the test coverage.

    The fewest kept scenarios whose intersection reaches the calibration target on the
    validation days; where even all ``M`` fall short, the intersection of all is shrunk
    towards the reference until it does. Without fresh days: ``ceil(alpha M)`` and no shrink.
    Per-interval rows are not calibrated (:func:`per_interval_coverage`).
    """
    m = cs.n_scenarios
    if fresh is None:
        return {a: (n_kept(a, m), 1.0) for a in alphas}, {}
    if definition == "per-interval":
        return per_interval_coverage(cs, fresh, alphas, aggregation)
    dev = total_deviation(cs)
    order = discard_order(dev)
    days = total_deviation(fresh)
    val, test = split_days(fresh.n_scenarios)
    val_days, test_days = days.take(val), days.take(test)
    keeps, cover = {}, {}
    for a in alphas:
        target = calibration_target(a, len(val))
        k = calibrate_keep(order, m, target,
                           lambda kp: outer_coverage(val_days, intersect(dev, kp)).whole_day)
        rows = intersect(dev, keep_mask(m, order, k))

        def scaled_cover(f: float, r: Battery = rows) -> float:
            return outer_coverage(val_days, r.scaled(f)).whole_day

        s = calibrate_scale(target, scaled_cover)
        keeps[a] = (k, s)
        cover[a] = outer_coverage(test_days, rows.scaled(s))
    return keeps, cover




def per_interval_coverage(cs: CaseSets, fresh: CaseSets, alphas: list[float],
                          aggregation: Aggregation = "total"
                          ) -> tuple[dict[float, tuple[int, float]], dict[float, Coverage]]:
    """Rank and coverage of the per-interval α rows (nothing calibrated: the α quantile is
    the definition).

    Per α the rank is ``k = ceil(alpha M)`` with no shrink; the coverage on the test days is
    measured as for the whole-day rows, on the rows relative to their reference
    (``flexibility.alpha_sets.relative_total``): a day covers them when, around its own
    reference, its exact projections contain them in every interval.
    """
    m = cs.n_scenarios
    test_days = total_deviation(fresh).take(split_days(fresh.n_scenarios)[1])
    keeps = {a: (n_kept(a, m), 1.0) for a in alphas}
    cover = {a: outer_coverage(test_days,
                               relative_total(per_interval_rows(cs, k, aggregation)))
             for a, (k, _) in keeps.items()}
    return keeps, cover
