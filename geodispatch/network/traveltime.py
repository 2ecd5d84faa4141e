"""Shortest travel times on a RoadNetwork's CSR matrix.

Plain arrays in, plain arrays out; the Dijkstra loop runs in compiled code: scipy.sparse.csgraph
for unbounded, multi-source and point searches, and for bounded single-source searches a small
numba Dijkstra (:mod:`geodispatch.network._dijkstra`) whose cost follows the reached set instead
of the network size.
Forward searches give times *from* sources to every node (a station's isochrone); reverse
searches run on the transposed matrix and give times *to* a node from every node (every unit's
ETA to one incident in a single search). Unreachable or beyond-the-limit entries are ``inf``.

Points that are not nodes (a station on the middle of a road) are handled exactly by adding
one virtual node per point to a copy of the CSR matrix, joined to the two ends of its snapped
edge with the partial-edge times (see :func:`point_travel_times`).
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from geodispatch.errors import InputError

if TYPE_CHECKING:
    from geodispatch.network._dijkstra import BoundedSearch, MultiSearch
    from geodispatch.network.graph import RoadNetwork
    from geodispatch.network.snap import SnapResult


class SearchWorkspace:
    """Reusable state of the searches on one network: hold one to make repeated searches cheap.

    A bounded search keeps ``n_nodes`` distance, label and predecessor arrays and a heap between
    calls and resets only what it touched; building them costs O(n_nodes) once. Every search
    function takes an optional workspace and builds a temporary one without it. Safe to share
    between threads: each thread gets its own search state.

    Parameters
    ----------
    network : RoadNetwork
        The road network searched.
    """

    def __init__(self, network: RoadNetwork) -> None:
        self.network = network
        self._local = threading.local()

    def check(self, network: RoadNetwork) -> SearchWorkspace:
        """Return self after checking that it belongs to ``network``."""
        if network is not self.network:
            raise InputError("this SearchWorkspace was built for another RoadNetwork")
        return self

    def bounded(self, reverse: bool) -> BoundedSearch:
        """This thread's bounded-search state for one direction."""
        from geodispatch.network._dijkstra import BoundedSearch

        return self._per_thread(BoundedSearch, "bounded", reverse)

    def multi(self, reverse: bool) -> MultiSearch:
        """This thread's multi-source search state (labels, predecessors, early stop) for one direction."""
        from geodispatch.network._dijkstra import MultiSearch

        return self._per_thread(MultiSearch, "multi", reverse)

    def _per_thread(self, kind: Any, name: str, reverse: bool) -> Any:
        """The search state ``kind(csr)`` of this thread for one direction, built on first use."""
        key = f"{name}_{'reverse' if reverse else 'forward'}"
        search = getattr(self._local, key, None)
        if search is None:
            search = kind(self.network.csr_reverse if reverse else self.network.csr)
            setattr(self._local, key, search)
        return search


def _workspace(network: RoadNetwork, workspace: SearchWorkspace | None) -> SearchWorkspace:
    return SearchWorkspace(network) if workspace is None else workspace.check(network)


def check_limit(limit: float | None) -> float:
    """Validate a time limit in seconds; None means unbounded (``inf``).

    Raises
    ------
    InputError
        When the limit is NaN or negative.
    """
    if limit is None:
        return math.inf
    try:
        value = float(limit)
    except (TypeError, ValueError) as exc:
        raise InputError(f"time limit must be a number of seconds, got {limit!r}") from exc
    if math.isnan(value) or value < 0:
        raise InputError(f"time limit must be a non-negative number of seconds, got {limit!r}")
    return value


def _check_sources(sources: Any, n_nodes: int) -> np.ndarray:
    """Validate node indices."""
    src = np.atleast_1d(np.asarray(sources))
    if src.size == 0:
        raise InputError("at least one source node is needed")
    if not np.issubdtype(src.dtype, np.integer):
        raise InputError("sources must be integer node indices (0..n_nodes-1)")
    if src.min() < 0 or src.max() >= n_nodes:
        raise InputError(f"source node indices must be in 0..{n_nodes - 1}")
    return src.astype(np.int64)


def travel_times(
    network: RoadNetwork,
    sources: Any,
    limit: float | None = None,
    reverse: bool = False,
    workspace: SearchWorkspace | None = None,
) -> np.ndarray:
    """Shortest travel times from (or to) each source node, one row per source.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    sources : array-like of int
        Node indices.
    limit : float, optional
        Search bound, seconds; nodes farther away are ``inf``.
    reverse : bool
        When True, row ``i`` holds the time from every node *to* ``sources[i]``.
    workspace : SearchWorkspace, optional
        Accepted for symmetry with the other searches (checked to belong to ``network``); the
        bounded rows are searched in place, so no workspace state is needed.

    Returns
    -------
    ndarray of float64, shape (len(sources), n_nodes)
        Seconds, ``inf`` when unreachable or beyond ``limit``.
    """
    bound = check_limit(limit)
    src = _check_sources(sources, network.n_nodes)
    if workspace is not None:
        workspace.check(network)
    graph = network.csr_reverse if reverse else network.csr
    if math.isinf(bound):
        return np.atleast_2d(dijkstra(graph, directed=True, indices=src, limit=bound))
    from geodispatch.network._dijkstra import rows_into

    out = np.empty((len(src), network.n_nodes))
    rows_into(graph, src, bound, out)  # fills each row just before searching it: one pass, found in cache
    return out


def sparse_travel_times(
    network: RoadNetwork,
    sources: Any,
    limit: float,
    reverse: bool = False,
    workspace: SearchWorkspace | None = None,
) -> sp.csr_matrix:
    """Bounded travel times as a sparse matrix: only the reached nodes are stored.

    A dense ``(len(sources), n_nodes)`` table of a 15-minute search on a large network is almost
    all ``inf`` and costs more to allocate than the searches themselves; this returns the same
    numbers without it. Each search costs in proportion to what it reaches, not to the network.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    sources : array-like of int
        Node indices.
    limit : float
        Search bound, seconds (finite: an unbounded table is dense anyway).
    reverse : bool
        Times *to* each source instead of from it.
    workspace : SearchWorkspace, optional
        Reusable search state of this network (a temporary one when omitted).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (len(sources), n_nodes)
        Seconds for every node reached within ``limit``; a node not stored is unreachable
        (``inf``). The source itself is stored as an explicit 0: do not ``eliminate_zeros()``.
    """
    bound = check_limit(limit)
    if math.isinf(bound):
        raise InputError("sparse_travel_times needs a finite time limit in seconds")
    src = _check_sources(sources, network.n_nodes)
    search = _workspace(network, workspace).bounded(reverse)
    rows = [search.run(int(s), bound) for s in src]
    indptr = np.concatenate([[0], np.cumsum([len(nodes) for nodes, _ in rows])])
    indices = np.concatenate([nodes for nodes, _ in rows])
    data = np.concatenate([times for _, times in rows])
    return sp.csr_matrix((data, indices, indptr), shape=(len(src), network.n_nodes))


def nearest_source(
    network: RoadNetwork,
    sources: Any,
    limit: float | None = None,
    reverse: bool = False,
    workspace: SearchWorkspace | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For every node, the source that reaches it first and in how long (one search in all).

    One multi-source Dijkstra (numba) writing straight into the two outputs; besides filling
    them, its cost follows the nodes reached within ``limit``. scipy's
    ``dijkstra(min_only=True)`` gives the same times but also initialises a heap node per
    network node, which dominates a 15-minute search on a large network.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    sources : array-like of int
        Node indices of the stations.
    limit : float, optional
        Search bound, seconds.
    reverse : bool
        Times from each node *to* its nearest source instead.
    workspace : SearchWorkspace, optional
        Accepted for symmetry with the other searches (checked to belong to ``network``); the
        outputs are the search's own state, so no workspace state is needed.

    Returns
    -------
    which : ndarray of int64
        Position in ``sources`` of the first-reaching source, -1 when none within ``limit``.
    time_s : ndarray of float64
        Its travel time, seconds (``inf`` when none).
    """
    bound = check_limit(limit)
    src = _check_sources(sources, network.n_nodes)
    if workspace is not None:
        workspace.check(network)
    from geodispatch.network._dijkstra import nearest_into

    which = np.full(network.n_nodes, -1, dtype=np.int64)
    time_s = np.full(network.n_nodes, np.inf)
    # the outputs are the search state: no workspace arrays of n_nodes to build or reset
    nearest_into(network.csr_reverse if reverse else network.csr, src, bound, time_s, which)
    return which, time_s


def _augmented(network: RoadNetwork, snap: SnapResult, reverse: bool) -> sp.csr_matrix:
    """Copy of the (reverse) CSR matrix with one extra node per snapped point.

    Forward: the point has out-edges to the head of its edge (remaining time) and, when the
    road is two-way, to the tail (the twin edge's remaining time). Reverse (times *to* the
    point): the transposed matrix gets out-edges from the point to the tail (time from the tail
    to the point) and, for two-way roads, to the head.
    """
    base = network.csr_reverse if reverse else network.csr
    n, k = network.n_nodes, len(snap.edge)
    ok = snap.edge >= 0
    if reverse:
        first_to, first_w = snap.u, snap.time_from_u_s
        second_to, second_w = snap.v, snap.time_from_v_s
    else:
        first_to, first_w = snap.v, snap.time_to_v_s
        second_to, second_w = snap.u, snap.time_to_u_s
    rows, cols, vals = [], [], []
    for to, w in ((first_to, first_w), (second_to, second_w)):
        use = ok & np.isfinite(w)
        rows.append(np.flatnonzero(use))
        cols.append(to[use])
        vals.append(np.maximum(w[use], 1e-9))
    r, c, d = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    order = np.argsort(r, kind="stable")
    r, c, d = r[order], c[order], d[order]
    counts = np.bincount(r, minlength=k)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([base.indices, c.astype(base.indices.dtype)])
    data = np.concatenate([base.data, d])
    return sp.csr_matrix((data, indices, indptr), shape=(n + k, n + k))


def point_travel_times(
    network: RoadNetwork,
    snap: SnapResult,
    limit: float | None = None,
    reverse: bool = False,
    min_only: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Exact travel times from (or to) snapped points that lie part-way along edges.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    snap : SnapResult
        Points snapped with :meth:`RoadNetwork.snap`; unsnapped points (edge -1) give ``inf``.
    limit : float, optional
        Search bound, seconds.
    reverse : bool
        Times from every node *to* each point instead of from it.
    min_only : bool
        Return, for every node, only the first-reaching point: ``(which, time_s)`` as in
        :func:`nearest_source` (one multi-source search instead of one per point).

    Returns
    -------
    ndarray of shape (n_points, n_nodes), or (which, time_s) when ``min_only``
        Seconds, ``inf`` when unreachable or beyond ``limit``. Off-road distance is not
        included (it is reported by the snap as ``distance_m``).
    """
    bound = check_limit(limit)
    n, k = network.n_nodes, len(snap.edge)
    graph = _augmented(network, snap, reverse)
    sources = np.arange(n, n + k)
    if min_only:
        dist, _, origin = dijkstra(
            graph, directed=True, indices=sources, limit=bound, min_only=True, return_predecessors=True
        )
        which = np.where(origin >= 0, origin - n, -1)[:n]
        return which.astype(np.int64), np.asarray(dist[:n], dtype=np.float64)
    dist = np.atleast_2d(dijkstra(graph, directed=True, indices=sources, limit=bound))
    dist = dist[:, :n]
    dist[snap.edge < 0] = np.inf
    return dist


def point_search(
    network: RoadNetwork,
    snap: SnapResult,
    index: int = 0,
    limit: float | None = None,
    reverse: bool = False,
    workspace: SearchWorkspace | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One bounded search from (or to) one snapped point, with its shortest-path tree.

    The point is a virtual node ``n_nodes`` joined to the ends of its edge with the partial-edge
    times, exactly as in :func:`point_travel_times`; the search itself is the multi-source
    numba Dijkstra seeded at those two ends (no copy of the matrix).

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    snap : SnapResult
        Snapped points; only point ``index`` is searched from.
    index : int
        Which point of ``snap``.
    limit : float, optional
        Search bound, seconds.
    reverse : bool
        Times from every node *to* the point instead of from it.
    workspace : SearchWorkspace, optional
        Reusable search state of this network (a temporary one when omitted).

    Returns
    -------
    time_s : ndarray of float64, shape (n_nodes,)
        Seconds; ``inf`` when unreachable or beyond ``limit``.
    predecessors : ndarray of int32, shape (n_nodes + 1,)
        Shortest-path tree: for ``reverse``, ``predecessors[x]`` is the node after ``x`` on its
        fastest path to the point (``n_nodes`` = the point itself); otherwise the node before
        ``x`` on the path from the point. -9999 where not reached.

    Raises
    ------
    InputError
        When point ``index`` does not exist or was not snapped.
    """
    time_s, pred, _ = point_search_until(network, snap, index, None, limit, reverse, workspace)
    return time_s, pred


def point_seeds(snap: SnapResult, index: int, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """The nodes a snapped point is joined to and the partial-edge time of each, seconds.

    Forward (times *from* the point): the head of its edge with the time still to drive along it
    and, on a two-way road, the tail against it. Reverse (times *to* the point): the tail with
    the time from it to the point and, on a two-way road, the head. A time is at least 1e-9 s.

    Raises
    ------
    InputError
        When point ``index`` does not exist or was not snapped.
    """
    if not 0 <= index < len(snap.edge) or snap.edge[index] < 0:
        raise InputError(f"point {index} is not a snapped point of this SnapResult")
    if reverse:
        ends = ((snap.u[index], snap.time_from_u_s[index]), (snap.v[index], snap.time_from_v_s[index]))
    else:
        ends = ((snap.v[index], snap.time_to_v_s[index]), (snap.u[index], snap.time_to_u_s[index]))
    seeds = np.asarray([int(node) for node, w in ends if np.isfinite(w)], dtype=np.int64)
    seed_time = np.asarray([max(float(w), 1e-9) for _, w in ends if np.isfinite(w)])
    return seeds, seed_time


def point_search_until(
    network: RoadNetwork,
    snap: SnapResult,
    index: int,
    targets: Any,
    limit: float | None = None,
    reverse: bool = False,
    workspace: SearchWorkspace | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`point_search` that stops as soon as every target node is settled.

    A dispatcher needs the times of the nodes around the units only: a search to a far rural
    incident stops when the last unit's road is reached instead of sweeping the regency.

    Parameters
    ----------
    targets : array-like of int, optional
        Node indices whose times are wanted (None: no early stop).

    Returns
    -------
    time_s, predecessors
        As :func:`point_search`, for the nodes settled before the stop (exact there, and for
        every target); ``inf`` / -9999 elsewhere.
    complete : bool
        True when the search ran out (no early stop): every node within ``limit`` is then
        settled, as in :func:`point_search`.
    """
    bound = check_limit(limit)
    n = network.n_nodes
    seeds, seed_time = point_seeds(snap, index, reverse)
    search = _workspace(network, workspace).multi(reverse)
    nodes, times, _, preds, stop = search.run(seeds, seed_time, bound, targets)
    time_s = np.full(n, np.inf)
    time_s[nodes] = times
    pred = np.full(n + 1, -9999, dtype=np.int32)
    pred[nodes] = np.where(preds < 0, n, preds)
    return time_s, pred, math.isinf(stop)
