"""PageRank against networkx (exact eigenvector and its power iteration at a tight tolerance)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_numpy, _pagerank_python

from scoring.pagerank import pagerank

TOL = 1e-6


def _arrays(g: nx.DiGraph) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    nodes = list(g.nodes())
    ix = {v: i for i, v in enumerate(nodes)}
    edges = list(g.edges(data="weight", default=1.0))
    return (len(nodes), np.array([ix[u] for u, _, _ in edges], dtype=np.int64),
            np.array([ix[v] for _, v, _ in edges], dtype=np.int64), np.array([w for _, _, w in edges], dtype=float))


def _references(g: nx.DiGraph) -> list[dict]:
    # networkx.pagerank (scipy, a test-only dependency) plus its two other implementations.
    return [nx.pagerank(g, alpha=0.85, weight="weight", tol=1e-13, max_iter=1000),
            _pagerank_numpy(g, alpha=0.85, weight="weight"),
            _pagerank_python(g, alpha=0.85, weight="weight", tol=1e-13, max_iter=1000)]


def _assert_matches(g: nx.DiGraph) -> None:
    n, src, dst, w = _arrays(g)
    got = pagerank(n, src, dst, w)
    assert got.sum() == pytest.approx(1.0, abs=1e-12)
    for ref in _references(g):
        expected = np.array([ref[v] for v in g.nodes()])
        assert np.abs(got - expected).max() < TOL


def test_pagerank_matches_networkx_on_karate_club() -> None:
    und = nx.karate_club_graph()
    g = nx.DiGraph()
    g.add_nodes_from(und.nodes())
    for u, v, wt in und.edges(data="weight"):
        g.add_edge(u, v, weight=float(wt))
        g.add_edge(v, u, weight=float(wt))
    _assert_matches(g)


@st.composite
def _digraphs(draw: st.DrawFn) -> nx.DiGraph:
    n = draw(st.integers(1, 25))
    g = nx.DiGraph()
    g.add_nodes_from(range(n))  # isolated nodes are dangling nodes
    for _ in range(draw(st.integers(0, 3 * n))):
        u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        g.add_edge(u, v, weight=draw(st.floats(0.01, 10.0)))
    return g


@settings(max_examples=150, deadline=None)
@given(_digraphs())
def test_pagerank_matches_networkx_on_random_weighted_digraphs(g: nx.DiGraph) -> None:
    _assert_matches(g)


def test_pagerank_matches_networkx_on_seeded_graph_with_many_dangling_nodes() -> None:
    rng = np.random.default_rng(7)
    g = nx.DiGraph()
    g.add_nodes_from(range(300))
    for u, v, w in zip(rng.integers(0, 150, 1200), rng.integers(0, 300, 1200), rng.pareto(1.5, 1200) + 0.1,
                       strict=True):
        g.add_edge(int(u), int(v), weight=float(w))  # nodes 150..299 have no out-edges
    _assert_matches(g)


def test_pagerank_sums_parallel_edges_like_a_multigraph() -> None:
    got = pagerank(3, np.array([0, 0, 0, 1]), np.array([1, 1, 2, 2]), np.array([1.0, 2.0, 1.0, 1.0]))
    g = nx.DiGraph()
    g.add_weighted_edges_from([(0, 1, 3.0), (0, 2, 1.0), (1, 2, 1.0)])
    ref = _pagerank_numpy(g, alpha=0.85, weight="weight")
    assert np.abs(got - np.array([ref[i] for i in range(3)])).max() < TOL


def test_pagerank_zero_weight_node_is_dangling() -> None:
    got = pagerank(2, np.array([0]), np.array([1]), np.array([0.0]))
    assert got == pytest.approx([0.5, 0.5])


def test_pagerank_empty_graph() -> None:
    assert pagerank(0, np.array([]), np.array([]), np.array([])).shape == (0,)
    assert pagerank(4, np.array([]), np.array([]), np.array([])) == pytest.approx([0.25] * 4)


def test_pagerank_rejects_negative_weights() -> None:
    with pytest.raises(ValueError):
        pagerank(2, np.array([0]), np.array([1]), np.array([-1.0]))


def test_pagerank_full_out_passes_share_of_rank_in_proportion_to_out_weight() -> None:
    src, dst = np.array([0]), np.array([1])
    tiny = pagerank(2, src, dst, np.array([1e-9]), full_out=10.0)
    assert tiny == pytest.approx([0.5, 0.5], abs=1e-8)  # a stray response moves (almost) nothing
    full = pagerank(2, src, dst, np.array([10.0]), full_out=10.0)
    assert full == pytest.approx(pagerank(2, src, dst, np.array([10.0])))
    half = pagerank(2, src, dst, np.array([5.0]), full_out=10.0)
    assert tiny[1] < half[1] < full[1]
