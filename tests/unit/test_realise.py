"""The validation's cheapest scaling (``flex_region.realise``) against the known threshold of a
monotone toy response: the trisection brackets it to ``3^-rounds`` whatever evaluates it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from environment.experiments.flex_region import Outcome, realise

PSI = np.array([2.0, 0.0, 1.0])
SLOPE_KW = 1000.0  # station 0 draws c * SLOPE_KW at coupons c * PSI


def _outcome(c: float, unsafe: tuple[float, float] = (0.0, 0.0)) -> Outcome:
    """Station 0 draws ``c SLOPE_KW``; the feeder fails for ``unsafe[0] < c < unsafe[1]``."""
    return Outcome(c * PSI, np.array([c * SLOPE_KW, 5.0]), 0.0, 100.0 * c,
                   not unsafe[0] < c < unsafe[1], 1.0)


def _evaluator(calls: list[int], unsafe: tuple[float, float] = (0.0, 0.0)):
    def evaluate(psis: list[np.ndarray]) -> list[Outcome]:
        calls.append(len(psis))
        # solved in reverse order, as a cluster might finish them; answered in the given order
        done = {i: _outcome(float(x[0] / PSI[0]), unsafe)
                for i, x in reversed(list(enumerate(psis)))}
        return [done[i] for i in range(len(psis))]

    return evaluate


@settings(max_examples=60, deadline=None)
@given(st.floats(0.001, 0.999), st.integers(1, 6))
def test_cheapest_scaling_is_bracketed_from_above(c_true, rounds):
    calls: list[int] = []
    s = SimpleNamespace(grid_mode="report")
    out = realise(s, _outcome(1.0), 0, c_true * SLOPE_KW, _evaluator(calls), rounds=rounds)
    c = out.psi[0] / PSI[0]
    assert out.p_kw[0] >= c_true * SLOPE_KW  # the requirement holds at the answer
    assert c - c_true <= 3.0 ** -rounds + 1e-12  # and the answer is within the bracket
    assert calls == [2] * rounds  # two independent equilibria per round


def test_psi_that_falls_short_realises_nothing():
    calls: list[int] = []
    s = SimpleNamespace(grid_mode="report")
    assert realise(s, _outcome(1.0), 0, 1.5 * SLOPE_KW, _evaluator(calls)) is None
    assert calls == []


@pytest.mark.parametrize(("grid_mode", "c_expected"), [("enforce", 0.6), ("report", 0.2)])
def test_enforced_grid_rejects_infeasible_scalings(grid_mode, c_expected):
    """The feeder fails for ``0.2 < c < 0.6``: enforced, the cheapest scaling that also holds
    the grid is 0.6; reported only, 0.2 serves the station."""
    s = SimpleNamespace(grid_mode=grid_mode)
    out = realise(s, _outcome(1.0), 0, 0.2 * SLOPE_KW, _evaluator([], unsafe=(0.2, 0.6)))
    c = out.psi[0] / PSI[0]
    assert c_expected <= c <= c_expected + 3.0 ** -5 + 1e-12
