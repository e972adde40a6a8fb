"""One small builder of HiGHS linear programs (column-wise sparse matrix, no solver output).

min  cost · x   subject to   row_lo <= A x <= row_hi,   col_lo <= x <= col_hi.
"""

from __future__ import annotations

import highspy
import numpy as np
import scipy.sparse as sp


def highs_model(cost: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray, a: sp.spmatrix,
                row_lo: np.ndarray, row_hi: np.ndarray, threads: int | None = None
                ) -> highspy.Highs:
    """A ``highspy.Highs`` instance holding the LP above, ready to ``run()``."""
    a = sp.csc_matrix(a)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(col_lo, dtype=np.float64)
    lp.col_upper_ = np.asarray(col_hi, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_hi, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if threads is not None:
        h.setOptionValue("threads", threads)
    h.passModel(lp)
    return h
