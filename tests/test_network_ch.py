"""Contraction hierarchy (network/ch.py): all-node times equal networkx Dijkstra, paths read off them."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geodispatch.errors import InputError
from geodispatch.network import RoadNetwork
from geodispatch.network.ch import ContractionHierarchy, descend_path
from tests.strategies import road_graphs


def _digraph(net: RoadNetwork, reverse: bool) -> nx.DiGraph:
    """The network as a networkx DiGraph keeping the fastest of parallel edges (node = index)."""
    g = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))
    for u, v, t in zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_time_s.tolist(), strict=True):
        a, b = (v, u) if reverse else (u, v)
        if a != b and (not g.has_edge(a, b) or g[a][b]["w"] > t):
            g.add_edge(a, b, w=t)
    return g


def _reference(net: RoadNetwork, seeds: list[int], offsets: list[float], reverse: bool) -> np.ndarray:
    """networkx times from a virtual source joined to the seeds with their offsets."""
    g = _digraph(net, reverse)
    for s, off in zip(seeds, offsets, strict=True):
        if not g.has_edge("src", s) or g["src"][s]["w"] > off:
            g.add_edge("src", s, w=off)
    dist = nx.single_source_dijkstra_path_length(g, "src", weight="w")
    return np.asarray([dist.get(x, np.inf) for x in range(net.n_nodes)])


@settings(max_examples=80, deadline=None)
@given(net=road_graphs(max_nodes=30, max_edges=120, ties=True), data=st.data(), reverse=st.booleans())
def test_hierarchy_times_equal_networkx_on_random_graphs(net: RoadNetwork, data: st.DataObject, reverse: bool) -> None:
    ch = ContractionHierarchy.build(net)
    assert sorted(ch.rank.tolist()) == list(range(net.n_nodes))
    seeds = data.draw(st.lists(st.integers(0, net.n_nodes - 1), min_size=1, max_size=3))
    offsets = data.draw(st.lists(st.floats(0.0, 50.0), min_size=len(seeds), max_size=len(seeds)))
    ours = ch.times(seeds, offsets, reverse=reverse)
    ref = _reference(net, seeds, offsets, reverse)
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(ref))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)
    if reverse:  # a path read off the times leads to a seed and costs exactly the time
        for start in np.flatnonzero(np.isfinite(ours)).tolist():
            path = descend_path(net.csr, ours, np.asarray(seeds), np.asarray(offsets), start)
            assert path is not None and path[0] == start and path[-1] in seeds
            cost = sum(net.csr[a, b] for a, b in itertools.pairwise(path))
            cost += min(o for s, o in zip(seeds, offsets, strict=True) if s == path[-1])
            assert cost == pytest.approx(ours[start], abs=1e-6)


@pytest.fixture(scope="module")
def regency() -> RoadNetwork:
    from geodispatch.synthetic import synthetic_regency

    return synthetic_regency(n_nodes=3000).network


def test_hierarchy_equals_networkx_on_the_synthetic_regency_with_one_way_roads_and_sea_links(
    regency: RoadNetwork,
) -> None:
    net = regency
    assert (net.twin_edge < 0).sum() > 0, "the test needs one-way edges"
    assert np.isin(net.edge_highway, ["sea_link", "ferry"]).any(), "the test needs sea links"
    ch = ContractionHierarchy.build(net)
    assert ch.n_shortcuts > 0 and ch.build_s > 0
    rng = np.random.default_rng(7)
    for reverse in (False, True):
        g = _digraph(net, reverse)
        for s in rng.choice(net.n_nodes, size=6, replace=False).tolist():
            ref = nx.single_source_dijkstra_path_length(g, s, weight="w")
            expected = np.asarray([ref.get(x, np.inf) for x in range(net.n_nodes)])
            ours = ch.times([s], [0.0], reverse=reverse)
            np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(expected))
            np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)
    # random pairs through a sea link: a crossing's far end is reached through the boat
    sea = np.flatnonzero(np.isin(net.edge_highway, ["sea_link", "ferry"]))
    a, b = int(net.edge_u[sea[0]]), int(net.edge_v[sea[0]])
    g = _digraph(net, False)
    assert ch.times([a], [0.0])[b] == pytest.approx(nx.shortest_path_length(g, a, b, weight="w"), abs=1e-6)


def test_hierarchy_belongs_to_its_network(regency: RoadNetwork) -> None:
    tiny = RoadNetwork.from_arrays([1, 2], [120.0, 120.001], [-5.5, -5.5], [0], [1], [100.0], [10.0])
    ch = ContractionHierarchy.build(tiny)
    np.testing.assert_allclose(ch.times([0], [0.0]), [0.0, 10.0])
    np.testing.assert_allclose(ch.times([0], [0.0], reverse=True), [0.0, np.inf])
    with pytest.raises(InputError, match="another RoadNetwork"):
        ch.check(regency)
    with pytest.raises(InputError, match="seed node"):
        ch.times([5], [0.0])
