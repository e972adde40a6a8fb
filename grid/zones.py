"""Zonal partitioning of a radial feeder into aggregation areas.

The bilevel zonal dispatch paper, section 2.5, eqs. 12-21.

**Electrical distance** (eq. 12). For reactive-power source buses ``k`` (DER inverters, the
diesel generator) the LinDistFlow sensitivity of the squared voltage at bus ``n`` to reactive
injection at ``k`` is ``X_nk`` (``grid.lindistflow.LinDistFlow.sensitivity``); the attenuation
``a_nk = X_nk / X_kk`` lies in ``[0, 1]`` and ``d_nk = -ln a_nk`` (Lagonotte's distance, capped at
``-ln 1e-6``). Two buses are electrically close when the sources see them alike:

    s_ij = sqrt( sum_k (d_ik - d_jk)^2 ).

**Coupling** (eq. 13): the feeder graph (its branches) weighted by closeness
``w_ij = 1 / (s_ij + s_0)`` with ``s_0`` the median branch distance (so no weight is infinite),
and its weighted modularity ``Q = 1/(2m) sum_ij (w_ij - k_i k_j / 2m) delta(c_i, c_j)``,
computed by networkx.

**EV dispatchable potential** (eqs. 14-18), per area ``d``: the chargeable energy
``E^C_d = sum_i min(P_i (T^D_i - T^A_i) eta, E_i (1 - SOC^A_i) / eta)`` and the demand
``E^n_d = sum_i (SOC^D_i - SOC^A_i) E_i / eta`` of its vehicles (summed per bus by the caller);
user side ``u_d = (E^C_d - E^n_d) / E^C_d`` (the free share, larger is better); network side
``f_e,d = |P^p_d - g| / g`` with ``P^p_d`` the area's base load during the vehicles' dwell
normalised by the feeder's (so the areas' values average 1/N_d ... per bus: the caller gives
the per-bus base-load energy during dwell) and ``g`` the desired regulation ratio;
``f_2 = w_a (1 - mean_d u_d) + w_e mean_d f_e,d``.

**Power balance** (eqs. 19-20): ``P_eq,d = |sum_t (P^a_d(t) - P^an_d(t))| / T`` (adjustable
minus required regulation power of the area) and ``f_3 = sum_d (P_eq,d - mean)^2 / mean^2``
(scaled by the squared mean so it is unit-free).

**Comprehensive indicator** (eq. 21), minimised:

    F = (gamma_1 (1 - Q) + gamma_2 tau_2 f_2 + gamma_3 tau_3 f_3) f_c,

``f_c = 1 + penalty * (areas whose bus count is outside [min_buses, max_buses])``. The paper
writes ``min(gamma_1 f + ...)`` with ``f`` the modularity, which is to be maximised; we
minimise its complement ``1 - Q`` (our reading).

**Search**: Louvain partitions (networkx, several resolutions and seeds) and greedy
modularity as seeds; from the best seed, single-bus moves to a neighbouring area that keep
every area connected and lower ``F``, until none does. The result is never worse than its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.spatial.distance import cdist

from grid.feeder import FloatArray
from grid.lindistflow import LinDistFlow

Partition = tuple[frozenset[int], ...]


def electrical_distance(ldf: LinDistFlow, sources: np.ndarray) -> FloatArray:
    """``s_ij`` between every pair of bus positions ``(n, n)`` (module docstring)."""
    _, x = ldf.sensitivity(np.asarray(sources, dtype=int))  # (n, K)
    diag = x[np.asarray(sources, dtype=int), np.arange(len(sources))]
    a = np.clip(x / np.where(diag > 0, diag, 1.0)[None, :], 1e-6, 1.0)
    d = -np.log(a)
    return cdist(d, d)


def closeness_graph(ldf: LinDistFlow, s: FloatArray) -> nx.Graph:
    """The feeder's branches weighted by ``1 / (s_ij + s_0)`` (module docstring)."""
    fe = ldf.feeder
    child = np.arange(1, fe.n_bus)
    parent = fe.parent[1:]
    dist = s[child, parent]
    s0 = float(np.median(dist[dist > 0])) if np.any(dist > 0) else 1.0
    g = nx.Graph()
    g.add_nodes_from(range(fe.n_bus))
    for c, p, dd in zip(child, parent, dist, strict=True):
        g.add_edge(int(p), int(c), weight=1.0 / (dd + s0))
    return g


@dataclass(frozen=True)
class AreaData:
    """Per-bus inputs of the EV and balance indicators.

    Attributes:
        ev_chargeable_kwh: ``E^C`` of the vehicles at each bus ``(n,)``.
        ev_demand_kwh: ``E^n`` of the vehicles at each bus ``(n,)``.
        base_load_dwell_kwh: Base-load energy of each bus during its vehicles' dwell ``(n,)``.
        adjustable_kw: ``P^a(t)`` per interval and bus ``(T, n)``.
        required_kw: ``P^an(t)`` per interval and bus ``(T, n)``.
    """

    ev_chargeable_kwh: FloatArray
    ev_demand_kwh: FloatArray
    base_load_dwell_kwh: FloatArray
    adjustable_kw: FloatArray
    required_kw: FloatArray


@dataclass(frozen=True)
class Weights:
    """Weights of eq. 21 (the paper's alpha = 0.5, beta = 0.9, gamma = 0.4 as gamma_1..3)."""

    gamma_1: float = 0.5
    gamma_2: float = 0.9
    gamma_3: float = 0.4
    tau_2: float = 1.0
    tau_3: float = 1.0
    w_a: float = 0.5
    w_e: float = 0.5
    regulation_ratio: float = 0.2
    min_buses: int = 3
    max_buses: int = 12
    penalty: float = 0.5


@dataclass(frozen=True)
class Indicators:
    """The indicators of one partition."""

    modularity: float
    f2: float
    f3: float
    f_c: float
    total: float


def indicators(g: nx.Graph, parts: Partition, data: AreaData, w: Weights) -> Indicators:
    """``Q``, ``f_2``, ``f_3``, ``f_c`` and ``F`` of a partition (module docstring)."""
    q = float(nx.community.modularity(g, parts, weight="weight"))
    ec, en = data.ev_chargeable_kwh, data.ev_demand_kwh
    base = data.base_load_dwell_kwh
    u, fe, peq = [], [], []
    for part in parts:
        idx = np.fromiter(part, dtype=int)
        c = float(ec[idx].sum())
        u.append((c - float(en[idx].sum())) / c if c > 0 else 0.0)
        share = float(base[idx].sum()) / max(float(base.sum()), 1e-12) * len(parts)
        fe.append(abs(share * w.regulation_ratio - w.regulation_ratio) / w.regulation_ratio)
        peq.append(abs(float((data.adjustable_kw[:, idx] - data.required_kw[:, idx]).sum()))
                   / data.adjustable_kw.shape[0])
    f2 = w.w_a * (1.0 - float(np.mean(u))) + w.w_e * float(np.mean(fe))
    p = np.asarray(peq)
    f3 = float(((p - p.mean()) ** 2).sum() / max(p.mean() ** 2, 1e-12))
    bad = sum(1 for part in parts if not w.min_buses <= len(part) <= w.max_buses)
    f_c = 1.0 + w.penalty * bad
    total = (w.gamma_1 * (1.0 - q) + w.gamma_2 * w.tau_2 * f2 + w.gamma_3 * w.tau_3 * f3) * f_c
    return Indicators(q, f2, f3, f_c, total)


def _seeds(g: nx.Graph, n_seeds: int) -> list[Partition]:
    out: list[Partition] = [tuple(frozenset(c) for c in
                                  nx.community.greedy_modularity_communities(g, weight="weight"))]
    for r in np.linspace(0.5, 2.0, 4):
        for seed in range(n_seeds):
            comms = nx.community.louvain_communities(g, weight="weight", resolution=float(r),
                                                     seed=seed)
            out.append(tuple(frozenset(c) for c in comms))
    return out


def _connected(g: nx.Graph, part: frozenset[int]) -> bool:
    return len(part) > 0 and nx.is_connected(g.subgraph(part))


def improve(g: nx.Graph, parts: Partition, data: AreaData, w: Weights,
            max_rounds: int = 50) -> tuple[Partition, Indicators]:
    """Single-bus moves to a neighbouring area that keep areas connected and lower ``F``."""
    best = list(parts)
    score = indicators(g, tuple(best), data, w)
    for _ in range(max_rounds):
        moved = False
        area_of = {v: k for k, p in enumerate(best) for v in p}
        for v in list(g.nodes):
            a = area_of[v]
            for b in sorted({area_of[u] for u in g.neighbors(v)} - {a}):
                src, dst = best[a] - {v}, best[b] | {v}
                if not src or not _connected(g, src):
                    continue
                trial = list(best)
                trial[a], trial[b] = src, dst
                s = indicators(g, tuple(trial), data, w)
                if s.total < score.total - 1e-12:
                    best, score, moved = trial, s, True
                    area_of = {u: k for k, p in enumerate(best) for u in p}
                    break
        if not moved:
            break
    return tuple(best), score


def partition(g: nx.Graph, data: AreaData, w: Weights,
              n_seeds: int = 4) -> tuple[Partition, Indicators, Indicators]:
    """Best seed, improved by local moves: ``(partition, its indicators, the seed's)``."""
    seeds = _seeds(g, n_seeds)
    scored = [(indicators(g, p, data, w), p) for p in seeds]
    seed_score, seed = min(scored, key=lambda x: x[0].total)
    parts, score = improve(g, seed, data, w)
    return parts, score, seed_score
