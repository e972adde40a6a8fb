"""EV price response with the paper's 3 x 3 elasticity matrix (eqs. 25-26, 35)."""

import numpy as np
import pytest

from dispatch.price_response import PAPER_ELASTICITY, respond
from flexibility.common import ModelInputError


def test_hand_computed_response():
    """Four intervals: peak, peak, flat, valley; the peak price +20 %, the valley -10 %.
    Peak demand: 1 + (-0.21)(0.2) + 0.07(-0.1) = 0.951; flat: 1 + 0.02(0.2) + 0.06(-0.1)
    = 0.998; valley: 1 + 0.01(0.2) + (-0.11)(-0.1) = 1.013."""
    period = np.array([0, 0, 1, 2])
    out = respond(np.array([10.0, 20.0, 30.0, 40.0]), np.ones(4),
                  np.array([1.2, 1.2, 1.0, 0.9]), period)
    np.testing.assert_allclose(out, [9.51, 19.02, 29.94, 40.52])


def test_own_price_rise_lowers_demand_and_limits_are_enforced():
    period = np.repeat([2, 1, 0, 1], 6)
    base = np.full(24, 5.0)
    up = np.where(period == 0, 1.5, 1.0)
    out = respond(base, np.ones(24), up, period)
    assert np.all(out[period == 0] < 5.0) and np.all(out[period != 0] > 5.0)
    with pytest.raises(ModelInputError, match="more than"):
        respond(base, np.ones(24), up * 1.2, period)
    assert PAPER_ELASTICITY.shape == (3, 3)
