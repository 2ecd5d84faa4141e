"""People on the road network: the travel time to each population point, shared by the stages.

A population point is snapped to its nearest road edge, part-way along it. Its travel time is
the network time to that snapped position: entering the edge at its tail, at its head along the
twin edge of a two-way road, or straight from a source (a station or a candidate post) on the
same road, without passing either end node. The walk from the road to the door is *not* added.

Coverage times every person from today's stations (:func:`point_times` on one multi-source time
field); siting times every person from every candidate post (:func:`source_point_times`). Both
use the same per-point terms, so "covered today" is one number in the coverage report and in the
siting baseline. This module imports nothing above :mod:`geodispatch.network`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from geodispatch.network.snap import SnapResult
from geodispatch.network.traveltime import point_travel_times

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork

__all__ = ["PointTerms", "point_terms", "point_times", "source_point_times", "take_snap"]

_CELLS = 20_000_000  # float64 entries of one dense (sources x points) block: 160 MB at most


@dataclass(frozen=True)
class PointTerms:
    """Per-point constants of :func:`point_times` (depend on the snap only, not on the sources).

    ``idx`` are the snapped points; for them ``u, v`` are the edge ends, ``from_u`` the seconds
    from ``u`` along the edge and ``from_v`` the seconds from ``v`` along the twin edge
    (``inf`` on one-way roads). ``by_edge`` / ``sorted_edges`` list the snapped points sorted by
    edge (stable), to find the points on a source's own road by binary search.
    """

    idx: np.ndarray
    u: np.ndarray
    v: np.ndarray
    from_u: np.ndarray
    from_v: np.ndarray
    by_edge: np.ndarray
    sorted_edges: np.ndarray


def _twin_time(network: RoadNetwork, edge: np.ndarray) -> np.ndarray:
    twin = network.twin_edge[edge]
    return np.where(twin >= 0, network.edge_time_s[np.maximum(twin, 0)], np.inf)


def point_terms(network: RoadNetwork, points: SnapResult) -> PointTerms:
    """The per-point constants of :func:`point_times` for snapped points."""
    idx = np.flatnonzero(points.ok)
    e = points.edge[idx]
    f = points.fraction[idx]
    twin_t = _twin_time(network, e)
    two_way = np.isfinite(twin_t)
    from_v = np.full(len(e), np.inf)
    from_v[two_way] = (1.0 - f[two_way]) * twin_t[two_way]
    order = np.argsort(e, kind="stable")
    return PointTerms(
        idx=idx,
        u=network.edge_u[e],
        v=network.edge_v[e],
        from_u=f * network.edge_time_s[e],
        from_v=from_v,
        by_edge=idx[order],
        sorted_edges=e[order],
    )


def take_snap(snap: SnapResult, index: np.ndarray) -> SnapResult:
    """The snapped points ``index`` of ``snap`` (every array indexed alike)."""
    return SnapResult(**{f.name: getattr(snap, f.name)[index] for f in fields(SnapResult)})


def direct_pairs(
    network: RoadNetwork, points: SnapResult, terms: PointTerms, sources: SnapResult
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times from sources to the points on the same road, driven along it without an end node.

    Returns
    -------
    source, point, time_s : numpy.ndarray
        One entry per (source, point on its road or on the twin edge): source index in
        ``sources``, point index in ``points`` and seconds.
    """
    src_out: list[np.ndarray] = []
    pts_out: list[np.ndarray] = []
    time_out: list[np.ndarray] = []
    for s in np.flatnonzero(sources.ok):
        es, fs = int(sources.edge[s]), float(sources.fraction[s])
        twin = int(network.twin_edge[es])
        t_fwd = float(network.edge_time_s[es])
        t_back = float(network.edge_time_s[twin]) if twin >= 0 else np.inf
        for edge, mirrored in ((es, False), (twin, True)):
            if edge < 0:
                continue
            lo, hi = np.searchsorted(terms.sorted_edges, [edge, edge + 1])
            if lo == hi:
                continue
            pts = terms.by_edge[lo:hi]
            pos = 1.0 - points.fraction[pts] if mirrored else points.fraction[pts]  # in es's direction
            ahead = pos >= fs
            src_out.append(np.full(len(pts), s, dtype=np.int64))
            pts_out.append(pts)
            time_out.append(np.where(ahead, (pos - fs) * t_fwd, (fs - pos) * t_back))
    if not src_out:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(src_out), np.concatenate(pts_out), np.concatenate(time_out)


def point_times(
    network: RoadNetwork,
    node_time_s: np.ndarray,
    points: SnapResult,
    sources: SnapResult | None = None,
    *,
    terms: PointTerms | None = None,
) -> np.ndarray:
    """Travel time to each snapped point from the time field of its edge's end nodes.

    Parameters
    ----------
    network : RoadNetwork
        Roads.
    node_time_s : numpy.ndarray, shape (n_nodes,)
        Time to each node, seconds (e.g. the minimum over today's stations).
    points : SnapResult
        Snapped points (unsnapped points get ``inf``).
    sources : SnapResult, optional
        The stations that made ``node_time_s``; a point on a station's own road is also reached
        straight from the station without passing either end node.
    terms : PointTerms, optional
        ``point_terms(network, points)`` when the caller keeps it (same result, faster).

    Returns
    -------
    numpy.ndarray of float64
        Seconds, ``inf`` when unreachable.
    """
    terms = point_terms(network, points) if terms is None else terms
    out = np.full(len(points.edge), np.inf)
    # from the tail along the edge, or from the head along the twin edge (inf on one-way roads)
    out[terms.idx] = np.minimum(node_time_s[terms.u] + terms.from_u, node_time_s[terms.v] + terms.from_v)
    if sources is not None and sources.ok.any() and len(terms.idx):
        _, pts, t = direct_pairs(network, points, terms, sources)
        np.minimum.at(out, pts, t)
    return out


def source_point_times(
    network: RoadNetwork,
    sources: SnapResult,
    points: SnapResult,
    bound_s: float | None,
    *,
    terms: PointTerms | None = None,
) -> sp.csr_matrix | np.ndarray:
    """Travel time from each source to each point, as :func:`point_times` gives it per source.

    Row ``i`` equals ``point_times(network, t_i, points, sources[i])`` where ``t_i`` are the node
    times of source ``i`` alone, so the minimum over rows is what a multi-source coverage run
    computes for the same sources.

    Parameters
    ----------
    network : RoadNetwork
        Roads.
    sources : SnapResult
        Snapped sources (posts, candidate sites); unsnapped ones reach nothing.
    points : SnapResult
        Snapped demand points.
    bound_s : float or None
        Search bound in seconds; None = unbounded.
    terms : PointTerms, optional
        ``point_terms(network, points)`` when the caller keeps it.

    Returns
    -------
    scipy.sparse.csr_matrix or numpy.ndarray
        With a bound: CSR ``(n_sources, n_points)`` storing only entries within the bound
        (explicit zeros kept: a point at the source). Without: dense with ``inf``.
    """
    terms = point_terms(network, points) if terms is None else terms
    bounded = bound_s is not None and math.isfinite(bound_s)
    limit = float(bound_s) if bounded and bound_s is not None else None
    n_src, n_pts = len(sources.edge), len(points.edge)
    dense = None if bounded else np.full((n_src, n_pts), np.inf)
    chunk = max(1, min(64, _CELLS // max(network.n_nodes + n_pts, 1)))
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for start in range(0, n_src, chunk):
        block = np.arange(start, min(start + chunk, n_src))
        sub = take_snap(sources, block)
        if sub.ok.any():
            node_t = np.atleast_2d(np.asarray(point_travel_times(network, sub, limit=limit)))
        else:
            node_t = np.full((len(block), network.n_nodes), np.inf)
        times = np.full((len(block), n_pts), np.inf)
        times[:, terms.idx] = np.minimum(node_t[:, terms.u] + terms.from_u, node_t[:, terms.v] + terms.from_v)
        s, p, t = direct_pairs(network, points, terms, sub)
        np.minimum.at(times, (s, p), t)
        if dense is not None:
            dense[block] = times
            continue
        assert limit is not None
        r, c = np.nonzero(times <= limit)
        rows.append(r + start)
        cols.append(c)
        vals.append(times[r, c])
    if dense is not None:
        return dense
    if not rows:
        return sp.csr_matrix((n_src, n_pts))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_src, n_pts)
    )
