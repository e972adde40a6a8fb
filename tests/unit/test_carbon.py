"""Ladder carbon cost: pieces and closed form against a per-tonne integration and
an LP epigraph solved by HiGHS."""

import highspy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.carbon import ladder_cost, ladder_pieces


def _integrate(e: float, c=200.0, step=50.0, g=0.25) -> float:
    """Independent: sum the marginal price tonne slice by tonne slice (0.01 t)."""
    h = 0.01
    n = round(abs(e) / h)
    x = (np.arange(n) + 0.5) * h
    k = np.floor(x / step)
    price = c * (1 + g * k) if e >= 0 else c / (1 + g * k)
    return float(np.sign(e) * (price * h).sum())


@settings(max_examples=40, deadline=None)
@given(st.floats(-400.0, 400.0, allow_nan=False))
def test_closed_form_and_pieces_equal_the_integral(e):
    a, b = ladder_pieces()
    assert float(ladder_cost(e)) == pytest.approx(_integrate(e), abs=0.02 * 450)
    assert float(np.max(a + b * e)) == pytest.approx(float(ladder_cost(e)),
                                                                    rel=1e-9, abs=1e-6)


def test_lp_epigraph_recovers_the_cost():
    """min z s.t. z >= a_k + b_k E with E fixed: HiGHS returns C(E)."""
    a, b = ladder_pieces()
    for e in (-73.0, 0.0, 12.5, 180.0):
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.addVar(-highspy.kHighsInf, highspy.kHighsInf)
        h.changeColCost(0, 1.0)
        for ak, bk in zip(a, b, strict=True):
            h.addRow(ak + bk * e, highspy.kHighsInf, 1, np.array([0], dtype=np.int32),
                     np.array([1.0]))
        h.run()
        assert h.getInfo().objective_function_value == pytest.approx(
            float(ladder_cost(e)))
