"""The trading price premium counts only intervals with a positive purchase price."""

import numpy as np

from environment.assessment.zonal_summary import trading_premium_pct


def test_premium_over_paid_intervals_only():
    price = np.array([0.0, 0.5])
    omega = np.array([[0.3, 0.6], [0.55, 0.5]])  # (T, areas)
    got = trading_premium_pct(omega, price)
    assert got is not None and abs(got - 10.0) < 1e-9  # 0.55 / 0.5; the unpaid 0.6 is left out
    assert trading_premium_pct(omega, np.zeros(2)) is None  # capacity charges only
