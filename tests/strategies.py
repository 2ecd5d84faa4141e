"""Hypothesis strategies shared by the tests (one definition of a random road network)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from geodispatch.network import RoadNetwork


@st.composite
def road_graphs(draw: st.DrawFn, max_nodes: int = 12, max_edges: int = 40, ties: bool = False) -> RoadNetwork:
    """Random directed road networks: parallel and one-way edges, self-loops, disconnected parts.

    Parameters
    ----------
    max_nodes, max_edges : int
        Upper bounds of the node count (at least 2) and the edge count (at least 1).
    ties : bool
        Also draw the times 0, 1, 2.5 and 7 s often, so equal path lengths (ties) are common.

    Nodes lie on a line of longitude 119.9-120.0 at latitude -5.5; edges are 1 m long and take
    0-500 s.
    """
    n = draw(st.integers(2, max_nodes))
    m = draw(st.integers(1, max_edges))
    u = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    v = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    times = st.floats(0.0, 500.0, allow_nan=False)
    if ties:
        times = st.sampled_from([0.0, 1.0, 2.5, 7.0]) | times
    t = draw(st.lists(times, min_size=m, max_size=m))
    lon = np.linspace(119.9, 120.0, n)
    return RoadNetwork.from_arrays(np.arange(n) + 100, lon, np.full(n, -5.5), u, v, np.ones(m), t)
