"""The sweep table's intervals: a share of days gets the Wilson interval (computed here from
its formula), a per-day rate the t-interval clipped to [0, 1], never an impossible bound."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from environment.experiments.intervals import sweep_table


@dataclass(frozen=True)
class _Run:
    metrics: pd.DataFrame


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_shares_of_days_get_wilson_and_rates_stay_in_the_unit_interval():
    ok = np.array([1.0] * 27 + [0.0] * 3)
    rate = np.array([0.0] * 29 + [0.04])
    table = sweep_table([({"policy": "p"}, _Run(pd.DataFrame(
        {"dispatch_joint_ok": ok, "dispatch_interval_violation_rate": rate})))],
        ["dispatch_joint_ok", "dispatch_interval_violation_rate", "absent"])
    row = table.iloc[0]
    low, high = _wilson(27, 30)
    assert row.dispatch_joint_ok_ci_low == pytest.approx(low, abs=1e-9)
    assert row.dispatch_joint_ok_ci_high == pytest.approx(high, abs=1e-9) and high < 1.0
    assert row.dispatch_interval_violation_rate_ci_low == 0.0  # the t-interval is below 0
    assert "absent_mean" not in table and row.replicates == 30
