"""Stepwise (ladder) carbon trading cost (bilevel zonal dispatch paper, section 3.1).

The traded emission ``E = E_actual - E_quota`` (t) is priced in steps of ``L`` t (50): the
``k``-th step above zero (``k = 0, 1, ...``) costs ``c (1 + g k)`` per t (base price
``c = 200``, growth ``g = 25 %``). Below zero the surplus quota is sold; our reading (the paper
states only the buying ladder): the ``k``-th step below zero earns ``c / (1 + g k)`` per t, so
the marginal price rises with ``E`` everywhere. The cost

    C(E) = sum_steps price_step * (tonnes of E inside the step)   (negative when selling)

is then convex and piecewise linear, ``C(E) = max_k (a_k + b_k E)`` over its pieces, and an LP
minimises it through an epigraph variable ``z >= a_k + b_k E`` (:func:`ladder_pieces`).
"""

from __future__ import annotations

import numpy as np

from flexibility.common import FloatArray


def _marginals(c: float, g: float, n_steps: int) -> tuple[FloatArray, FloatArray]:
    """Breakpoints (t) and marginal prices per step, from the lowest selling step up."""
    k = np.arange(n_steps)
    sell = c / (1.0 + g * k[::-1])  # steps -n..-1: rising towards c
    buy = c * (1.0 + g * k)  # steps 0..n-1
    return np.r_[sell, buy], np.r_[-(k[::-1] + 1), k].astype(float)


def ladder_cost(e_t: FloatArray | float, c: float = 200.0, step_t: float = 50.0,
                g: float = 0.25, n_steps: int = 40) -> FloatArray:
    """Direct evaluation of the ladder: the sum over steps of price x tonnes in the step."""
    e = np.asarray(e_t, dtype=float)
    price, start = _marginals(c, g, n_steps)
    lo = start * step_t  # each step covers [lo, lo + L)
    inside = np.clip(e[..., None] - lo, 0.0, step_t)  # tonnes of E above each step start
    below = np.clip(-(e[..., None] - (lo + step_t)), 0.0, step_t)  # tonnes below each end
    pos = (price * inside)[..., n_steps:].sum(axis=-1)
    neg = (price * below)[..., :n_steps].sum(axis=-1)
    return np.where(e >= 0, pos, -neg)


def ladder_pieces(c: float = 200.0, step_t: float = 50.0, g: float = 0.25,
                  n_steps: int = 40) -> tuple[FloatArray, FloatArray]:
    """Affine pieces ``(a_k, b_k)`` of the ladder cost.

    ``C(E) = max_k (a_k + b_k E)`` on ``[-n_steps L, n_steps L]``.
    """
    price, start = _marginals(c, g, n_steps)
    x0 = start * step_t
    c0 = ladder_cost(x0, c, step_t, g, n_steps)
    return c0 - price * x0, price
