"""Travel-time engine benchmark: geodispatch (scipy csgraph on CSR) vs a networkx loop.

For the real Balikpapan network and synthetic regencies of ~10k, ~100k and ~1M nodes, prints:
build time, reload time of the saved arrays, array memory, and the time to compute 15-minute
travel times from 50 stations with ours (``sparse_travel_times``: only reached nodes stored;
``RoadNetwork.travel_times``: the dense (50, n) array, whose allocation alone is O(n) per
station) vs ``networkx.single_source_dijkstra_path_length``
(cutoff=900 s) on ``to_networkx()`` of the same network, in the same run, with the ratio and a
check that both give identical times (to 1e-6 s).

networkx gets a time budget per network (``--nx-budget``, default 300 s): when 50 searches
would exceed it, it runs as many stations as fit and the table says the figure is
extrapolated from that many.

Run: ``.venv/bin/python benchmarks/bench_traveltime.py [--sizes 10000,100000,1000000]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, print_table, timed

from geodispatch.network import RoadNetwork
from geodispatch.network.traveltime import sparse_travel_times
from geodispatch.scenario import load_network

LIMIT_S = 900.0
N_STATIONS = 50


def array_mb(net: RoadNetwork) -> float:
    """Memory of the network arrays and its CSR matrices, MB."""
    total = sum(getattr(net, name).nbytes for name in RoadNetwork._ARRAYS)
    for csr in (net.csr, net.csr_reverse):
        total += csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes
    return total / 1e6


def networkx_times(net: RoadNetwork, sources: np.ndarray, budget_s: float) -> tuple[list[dict[int, float]], float, int]:
    """networkx searches within a time budget; returns results, seconds per source, count run."""
    import networkx as nx

    graph = net.to_networkx()
    out = []
    start = time.perf_counter()
    for s in sources:
        node = int(net.node_ids[s])
        out.append(nx.single_source_dijkstra_path_length(graph, node, cutoff=LIMIT_S, weight="travel_time"))
        if time.perf_counter() - start > budget_s:
            break
    elapsed = time.perf_counter() - start
    return out, elapsed / len(out), len(out)


def bench(label: str, build: Callable[[], RoadNetwork], budget_s: float) -> list[str]:
    net, build_s = timed(build)
    with tempfile.TemporaryDirectory() as tmp:
        path = net.save(Path(tmp) / "net.npz")
        again, reload_s = timed(lambda: RoadNetwork.load(path))
        _ = again.csr  # include CSR construction in the reload figure
        reload_s += timed(lambda: again.csr_reverse)[1]
    rng = np.random.default_rng(0)
    main = np.flatnonzero(net.component_labels == 0)
    sources = rng.choice(main, N_STATIONS, replace=False)
    _ = net.csr  # built once per network, like in every consumer
    _ = sparse_travel_times(net, sources[:1], LIMIT_S)  # JIT compile and workspace, once per process
    ours, ours_s = timed(lambda: net.travel_times(sources, limit=LIMIT_S))
    table, sparse_s = timed(lambda: sparse_travel_times(net, sources, LIMIT_S))
    dense = np.full(ours.shape, np.inf)
    dense[np.repeat(np.arange(len(sources)), np.diff(table.indptr)), table.indices] = table.data
    ref, per_source_s, count = networkx_times(net, sources, budget_s)
    nx_s = per_source_s * N_STATIONS
    index = {int(k): i for i, k in enumerate(net.node_ids)}
    pairs = list(zip(ours, ref, strict=False))
    same_sets = all(set(np.flatnonzero(np.isfinite(row)).tolist()) == {index[k] for k in r} for row, r in pairs)
    max_err = max(max((abs(row[index[k]] - v) for k, v in r.items()), default=0.0) for row, r in pairs)
    identical = same_sets and max_err < 1e-6 and np.array_equal(dense, ours)
    note = "" if count == N_STATIONS else f" (extrapolated from {count})"
    return [
        label,
        f"{net.n_nodes:,}",
        f"{net.n_edges:,}",
        f"{build_s:.2f}",
        f"{reload_s:.3f}",
        f"{array_mb(net):.1f}",
        f"{sparse_s:.4f}",
        f"{ours_s:.3f}",
        f"{nx_s:.2f}{note}",
        f"{nx_s / sparse_s:.1f}x",
        f"{nx_s / ours_s:.1f}x",
        "yes" if identical else f"NO (max err {max_err:.2e})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="synthetic sizes (nodes), comma-separated")
    parser.add_argument("--nx-budget", type=float, default=300.0, help="seconds networkx may spend per network")
    args = parser.parse_args()
    rows = []
    graphml = SHARED_DATA / "roads" / "balikpapan_kota_drive.graphml"
    if graphml.exists():
        import osmnx as ox

        _, parse_s = timed(lambda: ox.load_graphml(graphml))
        rows.append(bench("Balikpapan Kota (real OSM)", lambda: load_network(graphml), args.nx_budget))
        print(f"osmnx load_graphml alone on Balikpapan: {parse_s:.3f} s (compare with the reload column)")
    else:
        print(f"skipping Balikpapan: {graphml} not found")
    for size in (int(s) for s in args.sizes.split(",") if s):
        from geodispatch.synthetic import synthetic_regency

        def build(size: int = size) -> RoadNetwork:
            return synthetic_regency(n_nodes=size).network

        rows.append(bench(f"synthetic ~{size:,}", build, args.nx_budget))
    print_table(
        f"15-minute travel times from {N_STATIONS} stations: geodispatch vs networkx (same graph, same run)",
        [
            "network", "nodes", "edges", "build s", "reload s", "arrays MB",
            "ours sparse s", "ours dense s", "networkx s", "ratio sparse", "ratio dense", "identical",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
