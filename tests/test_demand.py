"""Per-person travel times (geodispatch.demand) against networkx on a graph with the points in it.

The reference cuts every road that holds a source or a point into pieces at those spots (both
directions of a two-way road pass through the same spot nodes) and runs networkx Dijkstra: an
independent model of "the time to the snapped spot", not the formulas under test.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import networkx as nx
import numpy as np
import pytest

from geodispatch.demand import point_times, source_point_times, take_snap
from geodispatch.network.snap import SnapResult


@pytest.fixture(scope="module")
def regency():  # type: ignore[no-untyped-def]
    from geodispatch.synthetic import synthetic_regency

    return synthetic_regency(n_nodes=800)


def _split_graph(net, snaps: list[tuple[str, SnapResult]]) -> nx.DiGraph:  # type: ignore[no-untyped-def]
    """networkx graph of the roads with one node per snapped spot, named ``(label, i)``."""
    on_edge: dict[int, list[tuple[float, object]]] = defaultdict(list)
    for label, snap in snaps:
        for i in np.flatnonzero(snap.ok):
            e, f = int(snap.edge[i]), float(snap.fraction[i])
            on_edge[e].append((f, (label, int(i))))
            twin = int(net.twin_edge[e])
            if twin >= 0:
                on_edge[twin].append((1.0 - f, (label, int(i))))
    graph = nx.DiGraph()
    for e in range(net.n_edges):
        u, v, t = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_time_s[e])
        spots = sorted(on_edge.get(e, []), key=lambda item: item[0])
        chain = [(0.0, u), *spots, (1.0, v)]
        for (f0, a), (f1, b) in pairwise(chain):
            w = (f1 - f0) * t
            if not graph.has_edge(a, b) or graph[a][b]["w"] > w:
                graph.add_edge(a, b, w=w)
        for f, spot in spots:  # a spot exactly on an end node is that node
            if f == 0.0:
                graph.add_edge(spot, u, w=0.0)
            if f == 1.0:
                graph.add_edge(spot, v, w=0.0)
    return graph


def _reference(net, sources: SnapResult, points: SnapResult) -> np.ndarray:  # type: ignore[no-untyped-def]
    graph = _split_graph(net, [("s", sources), ("p", points)])
    out = np.full((len(sources.edge), len(points.edge)), np.inf)
    for i in np.flatnonzero(sources.ok):
        dist = nx.single_source_dijkstra_path_length(graph, ("s", int(i)), weight="w")
        for j in np.flatnonzero(points.ok):
            out[i, j] = dist.get(("p", int(j)), np.inf)
    return out


def test_source_point_times_equal_networkx_on_split_roads(regency) -> None:  # type: ignore[no-untyped-def]
    net = regency.network
    rng = np.random.default_rng(5)
    pop = regency.population.sample(300, random_state=1)
    points = net.snap(pop["lon"].to_numpy(), pop["lat"].to_numpy(), strict=False)
    # sources: three road nodes (as grid candidates) and three spots part-way along roads, one of
    # them on the same road as a point (the direct drive along it, no end node)
    nodes = rng.choice(net.n_nodes, 3, replace=False)
    mid = pop.iloc[:3]
    lon = np.r_[net.lon[nodes], mid["lon"].to_numpy() + 1e-5]
    lat = np.r_[net.lat[nodes], mid["lat"].to_numpy()]
    sources = net.snap(lon, lat)
    ref = _reference(net, sources, points)
    dense = source_point_times(net, sources, points, None)
    np.testing.assert_allclose(dense, ref, rtol=1e-9, atol=1e-6)
    bound = 400.0
    stored = source_point_times(net, sources, points, bound)
    within = np.where(ref <= bound, ref, np.inf)
    got = np.full(ref.shape, np.inf)
    for i in range(ref.shape[0]):  # explicit zeros (a point at the source) are stored entries too
        row = stored.getrow(i)
        got[i, row.indices] = row.data
    np.testing.assert_allclose(got, within, rtol=1e-9, atol=1e-6)
    assert (ref < bound).any() and (ref > bound).any()  # the bound cuts something


def test_multi_source_point_times_is_the_row_minimum(regency) -> None:  # type: ignore[no-untyped-def]
    """What coverage computes from one multi-source search equals the minimum over sources."""
    from geodispatch.network.traveltime import point_travel_times

    net = regency.network
    pop = regency.population
    points = net.snap(pop["lon"].to_numpy(), pop["lat"].to_numpy(), strict=False)
    stations = [s for s in regency.stations if s.type in ("psc", "puskesmas")]
    sources = net.snap([s.lon for s in stations], [s.lat for s in stations])
    _, node_t = point_travel_times(net, sources, min_only=True)
    multi = point_times(net, np.asarray(node_t), points, sources)
    per_source = source_point_times(net, sources, points, None)
    np.testing.assert_allclose(multi, np.min(per_source, axis=0), rtol=0, atol=1e-9)
    one = take_snap(sources, np.array([1]))
    assert len(one.edge) == 1 and one.edge[0] == sources.edge[1]
