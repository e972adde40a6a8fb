"""Intervals of replicate metrics: the t-interval of a mean, Wilson for shares of days.

* :func:`ci95` — mean, standard deviation and the 95 % t-interval of the mean;
* :func:`metric_ci` — the interval a metric gets in summaries and on the console: shares of
  days (0/1 per replicate, ``BINARY_METRICS``) the Wilson score interval; per-day rates in
  ``[0, 1]`` (``SHARE_METRICS``) the t-interval clipped to ``[0, 1]``; the rest the t-interval,
  its lower end at 0 for metrics that are never negative.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from environment.verdict import wilson_interval


def ci95(x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, standard deviation and the 95 % t-interval of the mean (NaN entries dropped)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = x.size
    mean = float(x.mean()) if n else float("nan")
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.975, n - 1) * std / np.sqrt(n)) if n > 1 else float("inf")
    return mean, std, mean - half, mean + half


BINARY_METRICS = frozenset({"valid", "dispatch_joint_ok", "dispatch_feasible",
                            "reserve_day_held"})
SHARE_METRICS = BINARY_METRICS | {"deliverability_rate", "hold_rate_reserve", "hold_rate_da",
                                  "hold_rate_prev", "hold_rate_rt", "schedule_hold_rate",
                                  "dispatch_interval_violation_rate", "clipping_rate_ch"}


def metric_ci(name: str, x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, standard deviation and 95 % interval of a replicate metric (module docstring).

    Args:
        name: Metric name: ``BINARY_METRICS`` (0/1 per day) get the Wilson interval, the other
            ``SHARE_METRICS`` the t-interval clipped to ``[0, 1]``, the rest the t-interval.
        x: Its value per replicate (NaN entries dropped).
    """
    mean, std, low, high = ci95(x)
    if name in BINARY_METRICS:
        v = np.asarray(x, dtype=float)
        v = v[~np.isnan(v)]
        low, high = wilson_interval(round(v.sum()), int(v.size))
    elif name in SHARE_METRICS:
        low, high = max(0.0, low), min(1.0, high)
    else:
        v = np.asarray(x, dtype=float)
        v = v[~np.isnan(v)]
        if v.size and (v >= 0.0).all():  # a mean of non-negative values is not negative
            low = max(0.0, low)
    return mean, std, low, high


def sweep_table(results, metrics: list[str]):
    """One row per sweep point: its parameters, replicates and each metric's mean and 95 %
    interval (:func:`metric_ci`: Wilson for shares of days, clipped t for rates).

    Args:
        results: ``(parameters, run)`` per point; ``run.metrics`` a frame of replicate metrics
            (``environment.experiments.montecarlo.MCRun``).
        metrics: Metric names; a point without one leaves it out.

    Returns:
        A ``pandas.DataFrame`` with ``<metric>_mean``, ``_ci_low`` and ``_ci_high``.
    """
    import pandas as pd

    rows = []
    for params, run in results:
        row = {**params, "replicates": len(run.metrics)}
        for m in metrics:
            if m in run.metrics:
                mean, _std, low, high = metric_ci(m, run.metrics[m].to_numpy(dtype=float))
                row[f"{m}_mean"], row[f"{m}_ci_low"], row[f"{m}_ci_high"] = mean, low, high
        rows.append(row)
    return pd.DataFrame(rows)
