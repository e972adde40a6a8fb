"""Zonal partitioning (eqs. 12-21): modularity against the paper's formula, the
search never worse than its seed, areas connected and covering the feeder."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid.feeder import load_feeder
from grid.lindistflow import LinDistFlow
from grid.zones import (
    AreaData,
    Weights,
    closeness_graph,
    electrical_distance,
    improve,
    indicators,
    partition,
)

TABLE1_BUSES = (2, 4, 6, 7, 11, 13, 15, 18, 23, 26, 29, 31, 32, 33, 3)  # paper Table 1


@pytest.fixture(scope="module")
def feeder_graph():
    fe = load_feeder("case33bw")
    ldf = LinDistFlow(fe)
    src = np.array([fe.position(b - 1) for b in TABLE1_BUSES])
    s = electrical_distance(ldf, src)
    return fe, s, closeness_graph(ldf, s)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    return AreaData(rng.uniform(50, 150, n), rng.uniform(20, 80, n), rng.uniform(0, 100, n),
                    np.abs(rng.normal(50, 10, (24, n))), np.abs(rng.normal(30, 10, (24, n))))


def test_modularity_matches_the_paper_formula():
    """Eq. 13 evaluated by hand on a weighted graph equals networkx's modularity."""
    g = nx.Graph()
    g.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 1.0), (2, 3, 3.0), (3, 4, 0.5),
                               (1, 4, 1.5), (0, 2, 0.7)])
    parts = ({0, 1, 2}, {3, 4})
    a = nx.to_numpy_array(g, nodelist=range(5), weight="weight")
    k = a.sum(axis=1)
    two_m = a.sum()
    same = np.array([[any(i in p and j in p for p in parts) for j in range(5)]
                     for i in range(5)])
    by_hand = ((a - np.outer(k, k) / two_m) * same).sum() / two_m
    assert nx.community.modularity(g, parts, weight="weight") == pytest.approx(by_hand)


def test_electrical_distance_is_a_distance(feeder_graph):
    fe, s, _ = feeder_graph
    assert np.allclose(s, s.T) and np.allclose(np.diag(s), 0.0) and np.all(s >= 0)
    # along the main feeder, buses further from bus 6 are further from it
    path = [fe.position(b - 1) for b in (6, 7, 8, 9, 10)]
    assert np.all(np.diff(s[path[0], path]) > 0)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_search_never_worse_than_its_seed_and_areas_are_connected(feeder_graph, seed):
    fe, _, g = feeder_graph
    data = _data(fe.n_bus, seed)
    w = Weights()
    seed_part = tuple(frozenset(c) for c in nx.community.louvain_communities(
        g, weight="weight", seed=seed % 7))
    parts, score = improve(g, seed_part, data, w)
    assert score.total <= indicators(g, seed_part, data, w).total + 1e-12
    assert sorted(v for p in parts for v in p) == list(range(fe.n_bus))
    assert all(nx.is_connected(g.subgraph(p)) for p in parts)


def test_partition_reports_its_seed(feeder_graph):
    fe, _, g = feeder_graph
    parts, score, seed = partition(g, _data(fe.n_bus, 1), Weights())
    assert score.total <= seed.total
    assert 2 <= len(parts) <= fe.n_bus
