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
    CaseSets,
    Coverage,
    StationRows,
    calibrate_keep,
    calibrate_scale,
    calibration_target,
    case_sets,
    n_kept,
    outer_coverage,
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
    """

    sets: CaseSets
    rows: StationRows
    aggregation: Aggregation = "total"
    statistic: str = "quantile"
    scale: float = 1.0

    @property
    def n_kept(self) -> int:
        """Scenarios kept for the station rows (per station with ``"stations"``)."""
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
              scale: float = 1.0) -> Case:
    """Per-scenario sets and α rows of one case keeping a share of its scenarios."""
    cs = case_sets(names, fleets, n_intervals, t0)
    n_keep = max(1, round(keep_fraction * cs.n_scenarios))
    return Case(sets=cs, rows=station_rows(cs, n_keep, aggregation, statistic, scale=scale),
                aggregation=aggregation, statistic=statistic, scale=scale)


def calibrated_rows(cs: CaseSets, fresh: CaseSets | None, alphas: list[float]
                    ) -> tuple[dict[float, tuple[int, float]], dict[float, Coverage]]:
    """Kept-scenario count and shrink factor per α, and the test coverage.

    The fewest kept scenarios whose intersection reaches the calibration target on the
    validation days; where even all ``M`` fall short, the intersection of all is shrunk
    towards the reference until it does. Without fresh days: ``ceil(alpha M)`` and no shrink.
    """
    m = cs.n_scenarios
    if fresh is None:
        return {a: (n_kept(a, m), 1.0) for a in alphas}, {}
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


