"""Scalar helpers shared by the compiled (numba) kernels of the flexibility library.

The kernels replace chains of NumPy array operations by one loop per vehicle or battery row;
to give the same numbers they use the same floating-point operations in the same order, and
these helpers reproduce NumPy's ``maximum``/``minimum`` (a NaN operand propagates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import njit


def kernel(func: Callable[..., Any]) -> Any:
    """Compile ``func`` with numba (nopython), cached on disk, with NumPy's error model.

    NumPy's model makes ``x / 0`` give ``inf`` or ``nan`` as the array code it replaces did,
    instead of raising, and lets loops with divisions vectorise.
    """
    return njit(cache=True, error_model="numpy")(func)


@kernel
def fmax(a: float, b: float) -> float:
    """``np.maximum(a, b)`` of two floats: the larger, or NaN if either is NaN."""
    return a if (a >= b or a != a) else b


@kernel
def fmin(a: float, b: float) -> float:
    """``np.minimum(a, b)`` of two floats: the smaller, or NaN if either is NaN."""
    return a if (a <= b or a != a) else b
