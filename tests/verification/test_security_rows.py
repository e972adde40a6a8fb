"""The reduced LinDistFlow security set equals the full one, built here bus by bus.

The oracle writes every row of paper §3.3.1 directly from the tree's paths (plain Python
loops, no helper of :mod:`grid.lindistflow`): one voltage row per bus and side, one thermal
row per branch and polygon side. The model keeps one row per group of identical rows; the
largest row violation at any station operating point must be the same.
"""

from __future__ import annotations

import numpy as np
import pytest

from grid.feeder import load_feeder
from grid.lindistflow import THERMAL, VOLTAGE, LinDistFlow, NetworkLimits


def _path(fe, k: int) -> set[int]:
    """Branches (indexed by the position they feed, minus one) from the substation to ``k``."""
    out = set()
    while k > 0:
        out.add(k - 1)
        k = int(fe.parent[k])
    return out


def _full_rows(fe, positions, p_kw, q_kvar, limits):
    n = fe.n_bus
    paths = [_path(fe, k) for k in range(n)]
    flow_p = np.array([[sum(p[k] for k in range(n) if b in paths[k]) for b in range(n - 1)]
                       for p in p_kw])
    flow_q = np.array([[sum(q[k] for k in range(n) if b in paths[k]) for b in range(n - 1)]
                       for q in q_kvar])
    drop = flow_p * fe.r_pu + flow_q * fe.x_pu
    w = np.array([[fe.v_slack_pu ** 2 - 2 * sum(d[b] for b in paths[k]) / fe.s_base_kva
                   for k in range(n)] for d in drop])
    rows_a, rows_q, rows_b = [], [], []
    for k in range(1, n):
        r = [sum(fe.r_pu[b] for b in paths[k] & paths[s]) / fe.s_base_kva for s in positions]
        x = [sum(fe.x_pu[b] for b in paths[k] & paths[s]) / fe.s_base_kva for s in positions]
        rows_a += [2 * np.array(r), -2 * np.array(r)]
        rows_q += [2 * np.array(x), -2 * np.array(x)]
        rows_b += [w[:, k] - limits.v_min_pu ** 2, limits.v_max_pu ** 2 - w[:, k]]
    m = limits.polygon_sides
    for side in range(m):
        th = (2 * side + 1) * np.pi / m
        for b in range(n - 1):
            below = np.array([b in paths[s] for s in positions], dtype=float)
            rows_a.append(np.cos(th) * below)
            rows_q.append(np.sin(th) * below)
            cap = fe.rating_kva[b] * limits.v_min_pu * np.cos(np.pi / m)
            rows_b.append(cap - np.cos(th) * flow_p[:, b] - np.sin(th) * flow_q[:, b])
    return np.array(rows_a), np.array(rows_q), np.array(rows_b).T


@pytest.mark.parametrize("code,seed", [("case33bw", 0), ("case33bw", 1), ("case33bw", 2)])
def test_reduced_rows_define_the_same_set(code, seed):
    fe = load_feeder(code)
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(np.arange(1, fe.n_bus), 1 + seed * 2, replace=False))
    t = 3
    p = fe.load_p_kw * rng.uniform(0.3, 2.5, (t, fe.n_bus))
    q = fe.load_q_kvar * rng.uniform(0.3, 2.5, (t, fe.n_bus))
    limits = NetworkLimits(v_min_pu=0.93, polygon_sides=8)
    sec = LinDistFlow(fe).security_set(positions, p, q, limits)
    a, aq, b = _full_rows(fe, positions, p, q, limits)
    n_volt = 2 * (fe.n_bus - 1)
    u = rng.normal(0, 800, (300, positions.size))
    v = rng.normal(0, 300, (300, positions.size))
    for family, full in ((VOLTAGE, slice(0, n_volt)), (THERMAL, slice(n_volt, None))):
        keep = sec.kind == family
        assert keep.sum() < a[full].shape[0]
        want = ((u @ a[full].T + v @ aq[full].T)[:, None, :] - b[None][..., full]).max(-1)
        got = ((u @ sec.a_p[keep].T + v @ sec.a_q[keep].T)[:, None, :]
               - sec.b[None][..., keep]).max(axis=-1)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
