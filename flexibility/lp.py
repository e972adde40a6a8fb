"""One small builder of HiGHS linear programs (column-wise sparse matrix, no solver output).

    min (or max)  cost · x   subject to   row_lo <= A x <= row_hi,   col_lo <= x <= col_hi,
                                          x_i integer where ``integrality[i]``.

Every LP/MILP of the package is assembled here: :class:`LinearProgram` holds the data and
loads it into a ``highspy.Highs`` instance (a fresh silent one from :meth:`LinearProgram.highs`,
or an existing one from :meth:`LinearProgram.load_into` when a caller re-solves many models with
one instance), and :func:`solve` runs HiGHS and returns status, primal solution, row duals and
objective value. Infinite bounds may be given as ``±numpy.inf`` (``highspy.kHighsInf``).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np
import scipy.sparse as sp

from flexibility.common import FloatArray

OptionValue = bool | int | float | str
Sense = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class LinearProgram:
    """A linear (or mixed-integer linear) program in HiGHS form.

    Attributes:
        cost: Objective coefficients ``(n_col,)``.
        col_lo: Column lower bounds ``(n_col,)``.
        col_hi: Column upper bounds ``(n_col,)``.
        a: Constraint matrix ``(n_row, n_col)``, any scipy sparse format (or dense array).
        row_lo: Row lower bounds ``(n_row,)``.
        row_hi: Row upper bounds ``(n_row,)``.
        integrality: Optional ``(n_col,)`` flags, true for integer columns. ``None`` leaves
            HiGHS' integrality vector empty (a pure LP).
        sense: ``"minimize"`` (default) or ``"maximize"``.
    """

    cost: FloatArray
    col_lo: FloatArray
    col_hi: FloatArray
    a: sp.spmatrix | sp.sparray | np.ndarray
    row_lo: FloatArray
    row_hi: FloatArray
    integrality: np.ndarray | None = None
    sense: Sense = "minimize"

    def highs_lp(self) -> highspy.HighsLp:
        """The program as a ``highspy.HighsLp`` (column-wise matrix)."""
        a = sp.csc_matrix(self.a)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = np.asarray(self.cost, dtype=np.float64)
        lp.col_lower_ = np.asarray(self.col_lo, dtype=np.float64)
        lp.col_upper_ = np.asarray(self.col_hi, dtype=np.float64)
        lp.row_lower_ = np.asarray(self.row_lo, dtype=np.float64)
        lp.row_upper_ = np.asarray(self.row_hi, dtype=np.float64)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        if self.sense == "maximize":
            lp.sense_ = highspy.ObjSense.kMaximize
        if self.integrality is not None:
            lp.integrality_ = [highspy.HighsVarType.kInteger if i else
                               highspy.HighsVarType.kContinuous for i in self.integrality]
        return lp

    def load_into(self, h: highspy.Highs) -> highspy.Highs:
        """Replace the model held by ``h`` with this program (options are kept); returns ``h``.

        Raises:
            RuntimeError: If HiGHS rejects the model.
        """
        if h.passModel(self.highs_lp()) == highspy.HighsStatus.kError:
            raise RuntimeError("HiGHS rejected the model")
        return h

    def highs(self, options: Mapping[str, OptionValue] | None = None) -> highspy.Highs:
        """A silent ``highspy.Highs`` instance holding this program, ready to :func:`solve`.

        Args:
            options: HiGHS options, set in the given order.
        """
        return self.load_into(highs_solver(options))


def highs_solver(options: Mapping[str, OptionValue] | None = None) -> highspy.Highs:
    """A ``highspy.Highs`` instance without output and with the given options (no model).

    HiGHS prints a banner to file descriptor 1 when a process builds its first solver object;
    that one is built with the descriptor pointed at /dev/null (worker processes of a
    Monte Carlo run too, whose console is the command's). HiGHS's thread pool is one per
    process, sized by its first run: a later model asking for another ``threads`` is not
    solved (status "Not Set"), so no option here sets it.

    Raises:
        ValueError: ``options`` sets ``threads``.
    """
    if options and "threads" in options:
        raise ValueError("HiGHS's threads are one pool per process: do not set them per model")
    _quiet_first_instance()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for name, value in (options or {}).items():
        h.setOptionValue(name, value)
    return h


@functools.cache
def _quiet_first_instance() -> None:
    """Build this process's first ``highspy.Highs`` with file descriptor 1 on /dev/null (once
    per process: the cache remembers the call)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@dataclass(frozen=True)
class LpSolution:
    """Outcome of one HiGHS run.

    Attributes:
        status: HiGHS model status.
        status_text: ``status`` as HiGHS spells it (for error messages).
        x: Primal column values ``(n_col,)`` (empty if HiGHS has none).
        row_dual: Row duals ``(n_row,)`` (empty if HiGHS has none).
        objective: Objective value in the program's own sense.
    """

    status: highspy.HighsModelStatus
    status_text: str
    x: FloatArray
    row_dual: FloatArray
    objective: float

    @property
    def optimal(self) -> bool:
        """Whether HiGHS reports an optimal solution."""
        return self.status == highspy.HighsModelStatus.kOptimal

    @property
    def infeasible(self) -> bool:
        """Whether HiGHS reports the model infeasible (or infeasible or unbounded)."""
        return self.status in (highspy.HighsModelStatus.kInfeasible,
                               highspy.HighsModelStatus.kUnboundedOrInfeasible)


def solve(h: highspy.Highs) -> LpSolution:
    """Run HiGHS on the model held by ``h`` and collect the result."""
    h.run()
    status = h.getModelStatus()
    sol = h.getSolution()
    return LpSolution(status=status, status_text=h.modelStatusToString(status),
                      x=np.asarray(sol.col_value), row_dual=np.asarray(sol.row_dual),
                      objective=float(h.getInfo().objective_function_value))


def abs_step_rows(x_cols: np.ndarray, m_cols: np.ndarray, width: int) -> sp.csr_matrix:
    """Rows ``m_k - (x_k+1 - x_k) >= 0`` and ``m_k + (x_k+1 - x_k) >= 0`` (bounds ``[0, inf)``)
    so that ``m_k >= |x_k+1 - x_k|`` along the first axis of ``x_cols``.

    Args:
        x_cols: Column indices of a series ``(K + 1, ...)`` (trailing axes: parallel series).
        m_cols: Column indices of the step variables ``(K, ...)``.
        width: Number of columns of the program.

    Returns:
        ``(2 K prod(...), width)`` rows, to be bounded below by 0.
    """
    now, nxt, m = x_cols[:-1].ravel(), x_cols[1:].ravel(), np.asarray(m_cols).ravel()
    k = np.arange(m.size)
    blocks = []
    for sign in (1.0, -1.0):
        blocks.append(sp.csr_matrix((np.r_[np.ones(m.size), -sign * np.ones(m.size),
                                           sign * np.ones(m.size)],
                                     (np.tile(k, 3), np.r_[m, nxt, now])),
                                    shape=(m.size, width)))
    return sp.vstack(blocks).tocsr()


def add_rows(h: highspy.Highs, a: sp.spmatrix | sp.sparray, row_lo: FloatArray,
             row_hi: FloatArray) -> None:
    """Append rows ``row_lo <= a x <= row_hi`` to the model held by ``h`` (its basis is kept,
    so the next :func:`solve` starts from the last solution).

    Raises:
        RuntimeError: If HiGHS rejects the rows.
    """
    m = sp.csr_matrix(a)
    status = h.addRows(m.shape[0], np.asarray(row_lo, dtype=np.float64),
                       np.asarray(row_hi, dtype=np.float64), m.nnz,
                       m.indptr[:-1].astype(np.int32), m.indices.astype(np.int32),
                       m.data.astype(np.float64))
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the rows")
