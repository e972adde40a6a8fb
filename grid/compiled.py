"""The compiled (numba) kernel of the AC fixed point on a forest (``grid.sparse_ac``).

``grid.sparse_ac`` documents the iteration and ``grid.tree_solve`` the elimination; this
module runs them for one operating point at a time with its vectors in cache, instead of one
NumPy call per tree level over every column of a batch. Per point, until the largest update is
below the tolerance (or is not finite, or ``max_iter`` is reached):

    y_k = conj(s_k / v_k) + c_k                          (right-hand side)
    y_p <- y_p - sum_{k child of p} l_k y_k              (leaves to roots, sibling groups)
    x_r = y_r / d_r at the roots,  x_k = (y_k - a_kp x_p) / d_k   (roots to leaves)
    step = max_k |x_k - v_k|^2,  v <- x

**Same operations.** Each group's sum is taken in child order and subtracted once, the root
and back substitutions multiply by the stored ``1 / d`` as the level code did, and the complex
quotient is NumPy's (Smith's method with one reciprocal). NumPy may evaluate complex products
with fused multiply-adds (its SIMD loops), so the two agree to rounding (~1e-16 relative per
operation), not bitwise; the converged voltages agree far inside the iteration's tolerance.
"""

from __future__ import annotations

import numpy as np

from flexibility.compiled import kernel


@kernel
def _quotient(ar, ai, br, bi):  # pragma: no cover
    """``(ar + i ai) / (br + i bi)`` as NumPy divides complex numbers (Smith's method)."""
    abr, abi = abs(br), abs(bi)
    if abr >= abi:
        if abr == 0.0 and abi == 0.0:
            return ar / abr, ai / abr
        rat = bi / br
        scl = 1.0 / (br + bi * rat)
        return (ar + ai * rat) * scl, (ai - ar * rat) * scl
    rat = br / bi
    scl = 1.0 / (bi + br * rat)
    return (ar * rat + ai) * scl, (ai * rat - ar) * scl


@kernel
def forest_fixed_point(s_l, v, const, l_coef, a_kp, inv_d, parent, groups, n_roots, tol2,
                       max_iter, ok, iters):  # pragma: no cover
    """The fixed point ``Y_LL v = conj(S / v) + c`` of every column, in place on ``v``.

    Args:
        s_l: Injections ``(B, m)`` (p.u.), rows of the forest order.
        v: Start voltages ``(B, m)``, overwritten with the last iterate.
        const: ``c = -Y_L0 V_0`` ``(m,)``.
        l_coef: Forward multipliers ``a_pk / d_k`` ``(m,)``.
        a_kp: Back-substitution coefficients ``(m,)``.
        inv_d: ``1 / d`` of the eliminated diagonal ``(m,)``.
        parent: Parent of every node (``-1`` at roots) ``(m,)``.
        groups: Sibling groups ``(G, 3)``: first child, end, parent, deepest level first.
        n_roots: Number of roots (the first rows of the order).
        tol2: Squared tolerance on the largest update.
        max_iter: Iteration cap.
        ok: Filled with the converged columns ``(B,)``.
        iters: Filled with the iterations taken per column ``(B,)``.
    """
    m = v.shape[1]
    y = np.empty(m, dtype=np.complex128)
    for j in range(v.shape[0]):
        vj, sj = v[j], s_l[j]
        ok[j] = False
        iters[j] = 0
        for it in range(max_iter):
            for k in range(m):
                qr, qi = _quotient(sj[k].real, sj[k].imag, vj[k].real, vj[k].imag)
                y[k] = complex(qr, -qi) + const[k]
            for g in range(groups.shape[0]):
                lo, hi, p = groups[g, 0], groups[g, 1], groups[g, 2]
                acc = l_coef[lo] * y[lo]
                for c in range(lo + 1, hi):
                    acc += l_coef[c] * y[c]
                y[p] -= acc
            for k in range(n_roots):
                y[k] *= inv_d[k]
            for k in range(n_roots, m):
                y[k] -= a_kp[k] * y[parent[k]]
                y[k] *= inv_d[k]
            step2 = 0.0
            nan = False
            for k in range(m):
                d = y[k] - vj[k]
                s = d.real ** 2 + d.imag ** 2
                if s > step2:
                    step2 = s
                elif s != s:  # NaN propagates as NumPy's max does
                    nan = True
                vj[k] = y[k]
            if nan:
                step2 = np.nan
            iters[j] = it + 1
            if step2 < tol2:
                ok[j] = True
                break
            if not np.isfinite(step2):
                break
