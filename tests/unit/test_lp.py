"""The one HiGHS builder (``flexibility.lp``) on tiny hand-solved programs."""

import numpy as np
import pytest
import scipy.sparse as sp

from flexibility.lp import LinearProgram, highs_solver, solve

# x0 + x1 <= 4,  x0 - x1 >= -1,  0 <= x0 <= 3,  0 <= x1 <= 2.5
A = sp.csc_matrix(np.array([[1.0, 1.0], [1.0, -1.0]]))
ROW_LO, ROW_HI = np.array([-np.inf, -1.0]), np.array([4.0, np.inf])
COL_LO, COL_HI = np.zeros(2), np.array([3.0, 2.5])


def program(cost, **kw):
    return LinearProgram(np.asarray(cost, dtype=float), COL_LO, COL_HI, A, ROW_LO, ROW_HI, **kw)


def test_minimise_and_maximise():
    lo = solve(program([1.0, -2.0]).highs())
    assert lo.optimal and lo.objective == pytest.approx(-3.5)  # x = (1.5, 2.5)
    np.testing.assert_allclose(lo.x, [1.5, 2.5], atol=1e-9)
    assert lo.row_dual.shape == (2,)
    hi = solve(program([1.0, 1.0], sense="maximize").highs())
    assert hi.optimal and hi.objective == pytest.approx(4.0)


def test_integrality_rounds_the_optimum():
    relaxed = solve(program([0.0, -1.0]).highs())
    assert relaxed.objective == pytest.approx(-2.5)
    milp = solve(program([0.0, -1.0], integrality=np.array([0, 1])).highs())
    assert milp.optimal and milp.objective == pytest.approx(-2.0)


def test_infeasible_is_reported():
    lp = LinearProgram(np.zeros(1), np.zeros(1), np.ones(1), sp.csc_matrix(np.ones((1, 1))),
                       np.array([2.0]), np.array([3.0]))
    res = solve(lp.highs())
    assert res.infeasible and not res.optimal


def test_one_instance_reloaded_keeps_options():
    h = highs_solver(options={"presolve": "off"})
    first = solve(program([1.0, -2.0]).load_into(h))
    second = solve(program([-1.0, 0.0]).load_into(h))
    assert first.objective == pytest.approx(-3.5) and second.objective == pytest.approx(-3.0)
    assert h.getOptions().presolve == "off"


def test_threads_are_not_set_per_model():
    """HiGHS sizes one thread pool per process at its first run; a later model asking for
    another ``threads`` is left unsolved ("Not Set"), so the helper refuses the option."""
    with pytest.raises(ValueError, match="one pool per process"):
        highs_solver(options={"threads": 1})

