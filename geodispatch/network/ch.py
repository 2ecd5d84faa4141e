"""Contraction hierarchy of a road network: exact all-node times to (or from) one point in one sweep.

A far rural incident has no useful search bound: every unit's ETA needs the times from nodes
all over the regency, and a Dijkstra search costs O(n log n) with random memory access. A
contraction hierarchy (Geisberger et al. 2008) is built once per network: nodes are contracted
one by one (ordered by edge difference + contracted neighbours, with lazy updates), and a
*shortcut* u -> x is added for each pair of neighbours whose fastest path runs through the
contracted node v (no *witness* path avoiding v, found by a bounded Dijkstra, is as fast). Every
shortest path then climbs to higher-ranked nodes and descends again.

A query uses PHAST (Delling et al. 2011): an upward search from the point, then one linear sweep
over all nodes from the highest rank down, each node taking the best of its upward edges. The
sweep is O(n + shortcut edges) with sequential memory access (the arrays are stored in rank
order), so the times from every node to a far incident cost a fraction of a Dijkstra search,
and they are exact: the same times as Dijkstra (tested against networkx and scipy to 1e-6 s).

Paths are read off the times (:func:`descend_path`): from a node, follow the road edge whose time
plus the next node's time equals the node's time.

The hierarchy is built explicitly (:meth:`ContractionHierarchy.build`) and held by its user
(the :class:`geodispatch.assign.eta.EtaEngine` of a network); nothing is cached behind the
network's back.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from geodispatch.errors import InputError
from geodispatch.network._dijkstra import _heap_pop, _heap_push

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork

_SIM_SETTLE = 60
"""Nodes a witness search may settle while a contraction is only simulated (priority)."""
_SETTLE = 400
"""Nodes a witness search may settle during a real contraction (a stopped search adds a shortcut
that may be unneeded, never a wrong one)."""



@njit(cache=True, nogil=True)
def _neighbours(
    v: int, first: Any, nxt: Any, other: Any, w: Any, contracted: Any, mark: Any, nb: Any, nbw: Any
) -> int:  # pragma: no cover - compiled
    """Live neighbours of ``v`` along one adjacency list (the fastest of parallel edges); their count."""
    k = 0
    e = first[v]
    while e >= 0:
        x = other[e]
        if x != v and not contracted[x]:
            if mark[x] < 0:
                mark[x] = k
                nb[k] = x
                nbw[k] = w[e]
                k += 1
            elif w[e] < nbw[mark[x]]:
                nbw[mark[x]] = w[e]
        e = nxt[e]
    for i in range(k):
        mark[nb[i]] = -1
    return k


@njit(cache=True, nogil=True)
def _witness(
    u: int, v: int, maxd: float, settle: int, out_first: Any, out_next: Any, head: Any, w: Any, contracted: Any,
    wdist: Any, touched: Any, heap_t: Any, heap_v: Any, is_tgt: Any, n_tgt: int,
) -> int:  # pragma: no cover - compiled
    """Dijkstra from ``u`` avoiding ``v``, within ``maxd`` s and ``settle`` settled nodes, stopping once
    the ``n_tgt`` marked targets are settled. Leaves times in ``wdist``; returns the touched count."""
    wdist[u] = 0.0
    touched[0] = u
    n_touched = 1
    size = _heap_push(heap_t, heap_v, 0, 0.0, u)
    left = n_tgt
    count = 0
    while size > 0:
        t, x, size = _heap_pop(heap_t, heap_v, size)
        if t > wdist[x]:
            continue
        if is_tgt[x]:
            left -= 1
            if left == 0:
                break
        count += 1
        if count >= settle:
            break
        e = out_first[x]
        while e >= 0:
            y = head[e]
            if y != v and not contracted[y]:
                nt = t + w[e]
                if nt <= maxd and nt < wdist[y]:
                    if wdist[y] == np.inf:
                        touched[n_touched] = y
                        n_touched += 1
                    wdist[y] = nt
                    size = _heap_push(heap_t, heap_v, size, nt, y)
            e = out_next[e]
    return n_touched


@njit(cache=True, nogil=True)
def _process(
    v: int, do_add: bool, settle: int, ne: int, tail: Any, head: Any, w: Any, out_first: Any, out_next: Any,
    in_first: Any, in_next: Any, contracted: Any, mark: Any, in_nb: Any, in_w: Any, out_nb: Any, out_w: Any,
    wdist: Any, touched: Any, heap_t: Any, heap_v: Any, is_tgt: Any,
) -> tuple[int, int, int, int]:  # pragma: no cover - compiled
    """Count (and with ``do_add`` insert) the shortcuts that contracting ``v`` needs.

    Returns (shortcuts, in-neighbours, out-neighbours, new edge count); the edge count is -1
    when the edge arrays are full (the caller retries with more room). The neighbours are left
    in ``in_nb`` / ``out_nb``.
    """
    n_in = _neighbours(v, in_first, in_next, tail, w, contracted, mark, in_nb, in_w)
    n_out = _neighbours(v, out_first, out_next, head, w, contracted, mark, out_nb, out_w)
    shortcuts = 0
    if n_in == 0 or n_out == 0:
        return 0, n_in, n_out, ne
    cap = len(tail)
    full = False
    max_out = 0.0
    for k in range(n_out):
        max_out = max(max_out, out_w[k])
    for i in range(n_in):
        u = in_nb[i]
        n_tgt = 0
        for k in range(n_out):
            if out_nb[k] != u:
                is_tgt[out_nb[k]] = True
                n_tgt += 1
        if n_tgt == 0:
            continue
        nt = _witness(u, v, in_w[i] + max_out, settle, out_first, out_next, head, w, contracted,
                      wdist, touched, heap_t, heap_v, is_tgt, n_tgt)
        for k in range(n_out):
            x = out_nb[k]
            if x == u:
                continue
            is_tgt[x] = False
            via = in_w[i] + out_w[k]
            if wdist[x] <= via:
                continue  # a witness path avoiding v is as fast
            shortcuts += 1
            if not do_add:
                continue
            e = out_first[u]  # lower an existing edge u -> x, else add the shortcut
            while e >= 0 and head[e] != x:
                e = out_next[e]
            if e >= 0:
                w[e] = min(w[e], via)
            elif ne == cap:
                full = True
            else:
                tail[ne] = u
                head[ne] = x
                w[ne] = via
                out_next[ne] = out_first[u]
                out_first[u] = ne
                in_next[ne] = in_first[x]
                in_first[x] = ne
                ne += 1
        for k in range(nt):
            wdist[touched[k]] = np.inf
    return shortcuts, n_in, n_out, (-1 if full else ne)


@njit(cache=True, nogil=True)
def _contract(
    n: int, indptr: Any, indices: Any, data: Any, sim_settle: int, settle: int, cap: int
) -> tuple[Any, Any, Any, Any, int]:  # pragma: no cover - compiled; tested through ContractionHierarchy
    """Contract every node (edge difference + contracted neighbours + level, lazy updates).

    Returns (rank, tail, head, weight, edge count) of the original edges plus shortcuts; the
    edge count is -1 when ``cap`` edges were not enough.
    """
    tail = np.empty(cap, dtype=np.int64)
    head = np.empty(cap, dtype=np.int64)
    w = np.empty(cap, dtype=np.float64)
    out_next = np.empty(cap, dtype=np.int64)
    in_next = np.empty(cap, dtype=np.int64)
    out_first = np.full(n, -1, dtype=np.int64)
    in_first = np.full(n, -1, dtype=np.int64)
    ne = 0
    for u in range(n):
        for j in range(indptr[u], indptr[u + 1]):
            x = indices[j]
            tail[ne] = u
            head[ne] = x
            w[ne] = data[j]
            out_next[ne] = out_first[u]
            out_first[u] = ne
            in_next[ne] = in_first[x]
            in_first[x] = ne
            ne += 1
    contracted = np.zeros(n, dtype=np.bool_)
    deleted = np.zeros(n)
    level = np.zeros(n)
    rank = np.full(n, -1, dtype=np.int64)
    stamp = np.full(n, -1, dtype=np.int64)
    mark = np.full(n, -1, dtype=np.int64)
    in_nb = np.empty(n, dtype=np.int64)
    in_w = np.empty(n)
    out_nb = np.empty(n, dtype=np.int64)
    out_w = np.empty(n)
    nbrs = np.empty(2 * n, dtype=np.int64)
    wdist = np.full(n, np.inf)
    touched = np.empty(n, dtype=np.int64)
    is_tgt = np.zeros(n, dtype=np.bool_)
    wheap_t = np.empty(cap + 1)
    wheap_v = np.empty(cap + 1, dtype=np.int64)
    pri = np.zeros(n)
    pcap = 2 * n + 2 * cap + 16
    pheap_t = np.empty(pcap)
    pheap_v = np.empty(pcap, dtype=np.int64)
    psize = 0
    for v in range(n):
        s, a, b, _ = _process(v, False, sim_settle, ne, tail, head, w, out_first, out_next, in_first, in_next,
                              contracted, mark, in_nb, in_w, out_nb, out_w, wdist, touched, wheap_t, wheap_v, is_tgt)
        pri[v] = 2.0 * (s - a - b)
        psize = _heap_push(pheap_t, pheap_v, psize, pri[v], v)
    order = 0
    while psize > 0:
        p, v, psize = _heap_pop(pheap_t, pheap_v, psize)
        if contracted[v] or p != pri[v]:
            continue  # a stale entry
        s, a, b, _ = _process(v, False, sim_settle, ne, tail, head, w, out_first, out_next, in_first, in_next,
                              contracted, mark, in_nb, in_w, out_nb, out_w, wdist, touched, wheap_t, wheap_v, is_tgt)
        new_p = 2.0 * (s - a - b) + deleted[v] + level[v]
        if psize > 0 and new_p > pheap_t[0]:
            pri[v] = new_p  # lazy update: v got worse than the next candidate, put it back
            psize = _heap_push(pheap_t, pheap_v, psize, new_p, v)
            continue
        s, a, b, ne = _process(v, True, settle, ne, tail, head, w, out_first, out_next, in_first, in_next,
                               contracted, mark, in_nb, in_w, out_nb, out_w, wdist, touched, wheap_t, wheap_v, is_tgt)
        if ne < 0:
            return rank, tail, head, w, -1
        k = 0
        for i in range(a):
            nbrs[k] = in_nb[i]
            k += 1
        for i in range(b):
            nbrs[k] = out_nb[i]
            k += 1
        contracted[v] = True
        rank[v] = order
        for i in range(k):
            x = nbrs[i]
            if stamp[x] == order:
                continue
            stamp[x] = order
            deleted[x] += 1.0
            level[x] = max(level[x], level[v] + 1.0)
            s, a, b, _ = _process(x, False, sim_settle, ne, tail, head, w, out_first, out_next, in_first, in_next,
                                  contracted, mark, in_nb, in_w, out_nb, out_w, wdist, touched, wheap_t, wheap_v,
                                  is_tgt)
            pri[x] = 2.0 * (s - a - b) + deleted[x] + level[x]
            psize = _heap_push(pheap_t, pheap_v, psize, pri[x], x)
        order += 1
    return rank, tail[:ne], head[:ne], w[:ne], ne


@njit(cache=True, nogil=True)
def _phast(
    up_indptr: Any, up_idx: Any, up_w: Any, sw_indptr: Any, sw_idx: Any, sw_w: Any, seeds: Any, offsets: Any,
    dist: Any, heap_t: Any, heap_v: Any,
) -> None:  # pragma: no cover - compiled; tested through ContractionHierarchy
    """Upward search from the seeds, then one sweep from the top rank down (positions in rank order,
    position 0 = highest rank). ``dist`` (all inf on entry) receives the times, by position."""
    size = 0
    for i in range(len(seeds)):
        s = seeds[i]
        if offsets[i] < dist[s]:
            dist[s] = offsets[i]
            size = _heap_push(heap_t, heap_v, size, offsets[i], s)
    while size > 0:
        t, p, size = _heap_pop(heap_t, heap_v, size)
        if t > dist[p]:
            continue
        for j in range(up_indptr[p], up_indptr[p + 1]):
            q = up_idx[j]
            nt = t + up_w[j]
            if nt < dist[q]:
                dist[q] = nt
                size = _heap_push(heap_t, heap_v, size, nt, q)
    for p in range(len(dist)):
        best = dist[p]
        for j in range(sw_indptr[p], sw_indptr[p + 1]):
            c = sw_w[j] + dist[sw_idx[j]]
            if c < best:
                best = c
        dist[p] = best


@njit(cache=True, nogil=True)
def _descend(
    indptr: Any, indices: Any, data: Any, dist: Any, seed_nodes: Any, seed_offsets: Any, start: int, path: Any
) -> int:  # pragma: no cover - compiled; tested through descend_path
    """Follow the edge whose time plus the next node's time matches; writes nodes, returns the count (-1: stuck)."""
    n = len(dist)
    visited = np.zeros(n, dtype=np.bool_)
    x = start
    k = 0
    while k < n:
        path[k] = x
        k += 1
        visited[x] = True
        here = dist[x]
        tol = 1e-9 * max(1.0, here)
        best = np.inf
        for i in range(len(seed_nodes)):
            if seed_nodes[i] == x and seed_offsets[i] < best:
                best = seed_offsets[i]
        if best <= here + tol:
            return k  # leave the network here: the point is reached
        nxt = -1
        best_next = np.inf
        for j in range(indptr[x], indptr[x + 1]):
            y = indices[j]
            if visited[y]:
                continue
            c = data[j] + dist[y]
            if c <= here + tol and (nxt < 0 or dist[y] < best_next):
                nxt = y
                best_next = dist[y]
        if nxt < 0:
            return -1
        x = nxt
    return -1


def descend_path(
    graph: Any, dist: np.ndarray, seed_nodes: np.ndarray, seed_offsets: np.ndarray, start: int
) -> list[int] | None:
    """The nodes of a fastest path from ``start`` to a point, read off exact times to the point.

    Parameters
    ----------
    graph : scipy.sparse.csr_matrix
        The travel-time matrix whose edges the path follows (the forward matrix when ``dist`` holds
        times *to* the point).
    dist : ndarray of float64
        Exact time from every node to the point, seconds (``inf`` when unreachable).
    seed_nodes, seed_offsets : ndarray
        The nodes where the point is entered and the time from each to the point, seconds.
    start : int
        First node of the path.

    Returns
    -------
    list of int or None
        Nodes from ``start`` to the seed node where the path leaves the network; None when no
        matching edge is found (the caller falls back to a search with a tree).
    """
    if not math.isfinite(float(dist[start])):
        return None
    path = np.empty(len(dist), dtype=np.int64)
    k = _descend(graph.indptr, graph.indices, np.asarray(graph.data, dtype=np.float64), dist,
                 np.asarray(seed_nodes, dtype=np.int64), np.asarray(seed_offsets, dtype=np.float64), int(start), path)
    return None if k < 0 else path[:k].tolist()


def _rank_csr(n: int, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """CSR arrays (indptr, indices, weights) of edges given by row/column positions."""
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols[order].astype(np.int64), weights[order].astype(np.float64)


class ContractionHierarchy:
    """A contraction hierarchy of one network, for exact all-node times to or from a point.

    Build it once with :meth:`build` (seconds on 100k nodes, minutes on millions) and hold it
    (:class:`geodispatch.assign.eta.EtaEngine` takes one). Read-only once built: safe to share
    between threads.

    Attributes
    ----------
    network : RoadNetwork
        The network it was built from.
    rank : ndarray of int64
        Contraction order of each node (0 = contracted first).
    n_shortcuts : int
        Shortcut edges added.
    build_s : float
        Wall time of :meth:`build`, seconds.
    """

    def __init__(self, network: RoadNetwork, rank: np.ndarray, tail: np.ndarray, head: np.ndarray,
                 weight: np.ndarray, n_shortcuts: int, build_s: float) -> None:
        n = network.n_nodes
        self.network = network
        self.rank = rank
        self.n_shortcuts = n_shortcuts
        self.build_s = build_s
        self._pos = (n - 1 - rank).astype(np.int64)  # position in rank order, 0 = top
        pt, ph = self._pos[tail], self._pos[head]
        up = pt > ph  # tail below head: an upward edge tail -> head
        self._fwd = _rank_csr(n, pt[up], ph[up], weight[up])  # per node, its edges up to higher ranks
        self._bwd = _rank_csr(n, ph[~up], pt[~up], weight[~up])  # per node, the higher ranks' edges down to it

    @classmethod
    def build(cls, network: RoadNetwork) -> ContractionHierarchy:
        """Contract every node of ``network`` (exact: witness searches only ever add shortcuts)."""
        import time

        start = time.perf_counter()
        csr = network.csr
        indptr = np.asarray(csr.indptr, dtype=np.int64)
        indices = np.asarray(csr.indices, dtype=np.int64)
        data = np.asarray(csr.data, dtype=np.float64)
        cap = 3 * len(data) + 16
        while True:
            rank, tail, head, weight, ne = _contract(network.n_nodes, indptr, indices, data, _SIM_SETTLE, _SETTLE, cap)
            if ne >= 0:
                break
            cap *= 2  # pragma: no cover - road networks need far fewer shortcuts than 2 per edge
        return cls(network, rank, tail.copy(), head.copy(), weight.copy(), ne - len(data), time.perf_counter() - start)

    def check(self, network: RoadNetwork) -> ContractionHierarchy:
        """Return self after checking that it was built from ``network``."""
        if network is not self.network:
            raise InputError("this ContractionHierarchy was built for another RoadNetwork")
        return self

    def times(self, seeds: Any, seed_time: Any, reverse: bool = False) -> np.ndarray:
        """Exact shortest times from (or to) a set of seed nodes with start times, for every node.

        Parameters
        ----------
        seeds : array-like of int
            Node indices.
        seed_time : array-like of float
            Time already spent at each seed (forward) or still needed from it (reverse), seconds.
        reverse : bool
            Times from every node *to* the nearest seed (plus its time) instead of from it.

        Returns
        -------
        ndarray of float64, shape (n_nodes,)
            Seconds; ``inf`` when unreachable.
        """
        n = self.network.n_nodes
        seeds = np.asarray(seeds, dtype=np.int64)
        if seeds.size and (seeds.min() < 0 or seeds.max() >= n):
            raise InputError(f"seed node indices must be in 0..{n - 1}")
        up, sweep = (self._bwd, self._fwd) if reverse else (self._fwd, self._bwd)
        dist = np.full(n, np.inf)
        heap_t = np.empty(len(up[1]) + len(seeds) + 1)
        heap_v = np.empty(len(up[1]) + len(seeds) + 1, dtype=np.int64)
        _phast(up[0], up[1], up[2], sweep[0], sweep[1], sweep[2], self._pos[seeds],
               np.asarray(seed_time, dtype=np.float64), dist, heap_t, heap_v)
        return dist[self._pos]
