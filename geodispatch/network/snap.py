"""Snapping arbitrary lon/lat points (stations, incidents, population) to road edges.

Vectorised for millions of points: one STRtree nearest query over the edge polylines in the
network's metric CRS, then shapely's vectorised ``line_locate_point``. A snapped point knows its
edge, how far along it lies, its off-road distance, and the partial-edge travel times to and
from both ends (the *twin* edge of a two-way road gives the times in the other direction), so
travel times from or to the point are exact, not rounded to the nearest junction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from geodispatch import settings
from geodispatch.errors import InputError, SnapError
from geodispatch.geometry import lonlat_problem

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork

DEFAULT_SNAP_DISTANCE_M = settings.SNAP_LIMIT_M
"""Points farther than this (m) from any road are reported, not snapped."""


@dataclass(frozen=True)
class SnapResult:
    """Points snapped to edges (arrays, one entry per input point).

    Attributes
    ----------
    edge : ndarray of int64
        Snapped edge index, -1 when the point is farther than the snap limit.
    u, v : ndarray of int64
        Tail and head node of the edge (-1 when not snapped).
    fraction : ndarray of float64
        Position along the edge from u (0) to v (1), by length.
    distance_m : ndarray of float64
        Straight-line off-road distance to the edge, metres (also for points too far).
    time_from_u_s, time_to_v_s : ndarray of float64
        Seconds from u to the point and from the point to v along the edge.
    time_from_v_s, time_to_u_s : ndarray of float64
        Same along the twin edge v -> u; ``inf`` on one-way roads, except 0 when the point lies
        exactly on that end node (``fraction`` 1 or 0): it is then the node itself.
    lon, lat : ndarray of float64
        The snapped location on the road, degrees (NaN when not snapped).
    node : ndarray of int64
        The edge end nearer the point (-1 when not snapped).
    """

    edge: np.ndarray
    u: np.ndarray
    v: np.ndarray
    fraction: np.ndarray
    distance_m: np.ndarray
    time_from_u_s: np.ndarray
    time_to_v_s: np.ndarray
    time_from_v_s: np.ndarray
    time_to_u_s: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    node: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        """Mask of points that were snapped."""
        return self.edge >= 0

    def __len__(self) -> int:
        return len(self.edge)


FAST_MIN_POINTS = 2000
"""From this many points on, :func:`nearest_edges` uses the segment KD-tree instead of the STRtree."""
_SEG_MAX_M = 80.0
_K_ROUNDS = (12, 48)
_CHUNK = 200_000


@dataclass(frozen=True)
class _Vertices:
    """Metric polyline vertices (flat, as ``geom_lon``/``geom_lat``), metres."""

    x: np.ndarray
    y: np.ndarray
    cum: np.ndarray  # cumulative length along the flat vertex list
    owner: np.ndarray  # edge of each vertex
    a: np.ndarray  # first vertex of each straight segment
    seg_len: np.ndarray
    edge_start: np.ndarray  # ``cum`` at each edge's first vertex
    edge_len: np.ndarray  # metric length of each edge


@dataclass(frozen=True)
class _Pieces:
    """Road polylines cut into straight pieces of at most 80 m, with a KD-tree of their midpoints."""

    edge: np.ndarray
    pack: np.ndarray  # (x0, y0, dx, dy) per piece: one gather per candidate
    start_m: np.ndarray  # metres from the edge's start to the piece's start
    len_m: np.ndarray
    edge_len: np.ndarray
    tree: Any  # cKDTree of the midpoints
    half: float  # half the longest piece, metres


class SnapIndex:
    """The spatial index of one network that snapping uses, built lazily, read-only once built.

    Held by the network (:attr:`RoadNetwork.snap_index`): it is derived from the network's
    geometry alone, so every caller shares it.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    """

    def __init__(self, network: RoadNetwork) -> None:
        self._network = network

    @cached_property
    def vertices(self) -> _Vertices:
        """Metric polyline vertices, their cumulative length and each edge's metric length."""
        network = self._network
        x, y = network.to_metric(network.geom_lon, network.geom_lat)
        owner = np.repeat(np.arange(network.n_edges), np.diff(network.geom_offsets))
        a = np.flatnonzero(owner[1:] == owner[:-1])
        seg_len = np.hypot(x[a + 1] - x[a], y[a + 1] - y[a])
        cum = np.zeros(len(x))
        cum[a + 1] = seg_len
        cum = np.cumsum(cum)
        edge_start = cum[network.geom_offsets[:-1]]
        edge_len = cum[network.geom_offsets[1:] - 1] - edge_start
        return _Vertices(x, y, cum, owner, a, seg_len, edge_start, edge_len)

    @cached_property
    def pieces(self) -> _Pieces:
        """Road polylines cut into straight pieces of at most 80 m, with a KD-tree of their midpoints."""
        from scipy.spatial import cKDTree

        vert = self.vertices
        network_is_sea = self._network.is_sea_edge
        x, y, cum, owner, a, seg_len = vert.x, vert.y, vert.cum, vert.owner, vert.a, vert.seg_len
        road = ~network_is_sea[owner[a]]  # nothing is snapped onto a ferry or sea link
        a, seg_len = a[road], seg_len[road]
        ax, ay, dx, dy = x[a], y[a], x[a + 1] - x[a], y[a + 1] - y[a]
        along = cum[a] - vert.edge_start[owner[a]]  # metres from the edge's start to the segment's start
        pieces = np.maximum(np.ceil(seg_len / _SEG_MAX_M), 1).astype(np.int64)
        rep = np.repeat(np.arange(len(a)), pieces)
        step = np.arange(len(rep)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        t0, t1 = step / pieces[rep], (step + 1) / pieces[rep]
        x0, y0 = ax[rep] + t0 * dx[rep], ay[rep] + t0 * dy[rep]
        x1, y1 = ax[rep] + t1 * dx[rep], ay[rep] + t1 * dy[rep]
        half = 0.5 * np.hypot(x1 - x0, y1 - y0)
        return _Pieces(
            edge=owner[a][rep],
            pack=np.column_stack([x0, y0, x1 - x0, y1 - y0]),
            start_m=along[rep] + t0 * seg_len[rep],
            len_m=2.0 * half,
            edge_len=vert.edge_len,
            tree=cKDTree(np.column_stack([(x0 + x1) / 2, (y0 + y1) / 2])),
            half=float(half.max()) if len(half) else 0.0,
        )


def nearest_edges(
    network: RoadNetwork, x: np.ndarray, y: np.ndarray, points: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest edge of each metric point and its distance (m), exactly.

    Few points use the STRtree of edge polylines. Many points (population, a million of them)
    use a KD-tree of the midpoints of road pieces of at most 80 m: the exact point-to-piece
    distance of the 12 nearest pieces gives the answer whenever it is provably the nearest
    (no piece outside those 12 can be closer than the 12th midpoint distance minus half a piece);
    the points left unsure (far from any road) get a second round with 48 pieces, and the few
    still unsure go to the STRtree. The points are processed in Z-order (nearby points one after
    the other) for cache locality; the answers are returned in the input order. Same distances
    as the STRtree for every point (ties between the two directions of a two-way road may pick
    the other direction); 3.4x faster than the STRtree alone for 200k points on a 100k-node
    network, and the gap grows with the number of points (cache locality of the Z-order).

    Returns
    -------
    edge : ndarray of int64
    distance_m : ndarray of float64
    """
    edge, distance, _ = _nearest(network, x, y, points)
    return edge, distance


def _z_order(x: np.ndarray, y: np.ndarray, cell_m: float = 200.0) -> np.ndarray:
    """Permutation sorting metric points along a Z-order (Morton) curve of ``cell_m`` cells."""

    def spread(v: np.ndarray) -> np.ndarray:  # interleave the low 32 bits with zeros
        v = v & np.uint64(0xFFFFFFFF)
        for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F),
                            (2, 0x3333333333333333), (1, 0x5555555555555555)):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    xs = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    ys = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    ix = np.clip((xs - xs.min()) / cell_m, 0, 2**32 - 1).astype(np.uint64)
    iy = np.clip((ys - ys.min()) / cell_m, 0, 2**32 - 1).astype(np.uint64)
    return np.argsort(spread(ix) | (spread(iy) << np.uint64(1)), kind="stable")


def _nearest(
    network: RoadNetwork, x: np.ndarray, y: np.ndarray, points: Any = None, sorted_: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`nearest_edges` plus the normalised position along the edge (NaN when the STRtree
    answered; the caller then locates the point with shapely)."""
    import shapely

    k = len(x)
    edge = np.full(k, -1, dtype=np.int64)
    distance = np.full(k, np.inf)
    fraction = np.full(k, np.nan)
    todo = np.arange(k)
    if k >= FAST_MIN_POINTS and not sorted_:
        # near points query near tree nodes and road pieces one after the other: sorting the points
        # along a Z-order curve first keeps those in the CPU cache (2-3x faster, same answers)
        perm = _z_order(x, y)
        sub = points[perm] if points is not None else None
        e_p, d_p, f_p = _nearest(network, x[perm], y[perm], sub, sorted_=True)
        edge[perm], distance[perm], fraction[perm] = e_p, d_p, f_p
        return edge, distance, fraction
    if k > _CHUNK:  # bounded memory: (points x 12) work arrays per chunk
        parts = [
            _nearest(network, x[i : i + _CHUNK], y[i : i + _CHUNK], sorted_=True) for i in range(0, k, _CHUNK)
        ]
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )
    if k >= FAST_MIN_POINTS:
        seg = network.snap_index.pieces
        for kk in _K_ROUNDS:  # few candidates first; the points left unsure get more
            if not len(todo):
                break
            kk = min(kk, seg.tree.n)
            piece, dist, t, sure = _nearest_pieces(seg, x[todo], y[todo], kk)
            done = todo[sure]
            p_done = piece[sure]
            edge[done] = seg.edge[p_done]
            distance[done] = dist[sure]
            length = seg.edge_len[edge[done]]
            along = seg.start_m[p_done] + t[sure] * seg.len_m[p_done]
            with np.errstate(invalid="ignore", divide="ignore"):
                fraction[done] = np.where(length > 0, np.clip(along / length, 0.0, 1.0), 0.0)
            todo = todo[~sure]
    if len(todo):
        pts = points[todo] if points is not None else shapely.points(x[todo], y[todo])
        (pi, ei), dist = network.edge_tree.query_nearest(pts, return_distance=True, all_matches=False)
        edge[todo[pi]] = network.road_edges[ei]  # the tree holds road edges only
        distance[todo[pi]] = dist
    return edge, distance, fraction


def _nearest_pieces(
    seg: _Pieces, x: np.ndarray, y: np.ndarray, kk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nearest of the ``kk`` road pieces with the nearest midpoints, for metric points.

    Returns the piece, the exact point-to-piece distance (m), the position along the piece (0-1)
    and whether that piece is provably the nearest of all: no piece beyond the ``kk`` candidates
    can be closer than the ``kk``-th midpoint distance minus half the longest piece.
    """
    k = len(x)
    dmid, j = seg.tree.query(np.column_stack([x, y]), k=kk)
    dmid, j = dmid.reshape(k, kk), j.reshape(k, kk)
    g = seg.pack[j]
    vx, vy = g[..., 2], g[..., 3]
    den = vx * vx + vy * vy
    px, py = x[:, None] - g[..., 0], y[:, None] - g[..., 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(den > 0, (px * vx + py * vy) / den, 0.0), 0.0, 1.0)
    d = np.hypot(px - t * vx, py - t * vy)
    best = np.argmin(d, axis=1)
    rows = np.arange(k)
    dist = d[rows, best]
    sure = dist <= dmid[:, -1] - seg.half - 1e-9
    if kk == seg.tree.n:
        sure[:] = True
    return j[rows, best], dist, t[rows, best], sure


def _interpolate(network: RoadNetwork, edge: np.ndarray, fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metric coordinates at a normalised position along each edge's polyline (vectorised)."""
    if len(edge) == 0:
        return np.zeros(0), np.zeros(0)
    vert = network.snap_index.vertices
    x, y, cum, owner_first = vert.x, vert.y, vert.cum, network.geom_offsets
    first, last = owner_first[edge], owner_first[edge + 1] - 1
    target = cum[first] + fraction * vert.edge_len[edge]
    pos = np.searchsorted(cum, target, side="right")
    j1 = np.clip(pos, first + 1, np.maximum(last, first + 1))
    j1 = np.minimum(j1, len(x) - 1)
    j0 = j1 - 1
    span = cum[j1] - cum[j0]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(span > 0, (target - cum[j0]) / span, 0.0), 0.0, 1.0)
    return x[j0] + t * (x[j1] - x[j0]), y[j0] + t * (y[j1] - y[j0])


def snap_points(
    network: RoadNetwork,
    lon: Any,
    lat: Any,
    max_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
    strict: bool = True,
) -> SnapResult:
    """Snap points to their nearest road edge.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    lon, lat : array-like
        Point coordinates, degrees (EPSG:4326).
    max_distance_m : float
        Snap limit, metres; farther points are reported.
    strict : bool
        Raise :class:`SnapError` when any point is beyond the limit; otherwise mark it with
        ``edge == -1`` and go on.

    Returns
    -------
    SnapResult

    Raises
    ------
    SnapError
        In strict mode, naming how many points are too far and the first of them.
    """
    import shapely

    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    problem = lonlat_problem(lon_a, lat_a)
    if problem is not None:
        raise InputError(problem)
    if not np.isfinite(max_distance_m) or max_distance_m < 0:
        raise SnapError(f"snap distance must be a non-negative number of metres, got {max_distance_m!r}")
    k = len(lon_a)
    x, y = network.to_metric(lon_a, lat_a)
    edge, distance, located = _nearest(network, x, y)
    too_far = distance > max_distance_m
    if strict and too_far.any():
        first = int(np.flatnonzero(too_far)[0])
        raise SnapError(
            f"{int(too_far.sum())} of {k} point(s) are farther than {max_distance_m:g} m from any road "
            f"(first: lon={lon_a[first]:.6f}, lat={lat_a[first]:.6f}, {distance[first]:.0f} m away); "
            "check the coordinates (lon/lat order, EPSG:4326) or raise the snap distance"
        )
    edge[too_far] = -1
    ok = edge >= 0
    e = edge[ok]
    fraction = np.where(ok, located, np.nan)
    slow = np.flatnonzero(ok & np.isnan(located))  # answered by the STRtree: locate with shapely
    if len(slow):
        all_geoms = network.edge_geometries(metric=True)
        fraction[slow] = shapely.line_locate_point(
            all_geoms[edge[slow]], shapely.points(x[slow], y[slow]), normalized=True
        )
    sx, sy = _interpolate(network, e, fraction[ok])
    out_lon, out_lat = np.full(k, np.nan), np.full(k, np.nan)
    out_lon[ok], out_lat[ok] = network.to_lonlat(sx, sy)

    u, v = np.full(k, -1, dtype=np.int64), np.full(k, -1, dtype=np.int64)
    u[ok], v[ok] = network.edge_u[e], network.edge_v[e]
    t = np.full(k, np.inf)
    t[ok] = network.edge_time_s[e]
    f = fraction
    twin_time = np.full(k, np.inf)
    twin = network.twin_edge[e]
    twin_time_ok = np.where(twin >= 0, network.edge_time_s[np.maximum(twin, 0)], np.inf)
    twin_time[ok] = twin_time_ok
    node = np.full(k, -1, dtype=np.int64)
    node[ok] = np.where(f[ok] <= 0.5, u[ok], v[ok])
    with np.errstate(invalid="ignore"):  # NaN/inf products of unsnapped or one-way entries are masked
        times = (
            np.where(ok, f * t, np.inf),
            np.where(ok, (1.0 - f) * t, np.inf),
            # a point exactly on an end node is that node, whatever the road's direction
            np.where(ok & (f == 1.0), 0.0, np.where(np.isfinite(twin_time), (1.0 - f) * twin_time, np.inf)),
            np.where(ok & (f == 0.0), 0.0, np.where(np.isfinite(twin_time), f * twin_time, np.inf)),
        )
    return SnapResult(
        edge=edge,
        u=u,
        v=v,
        fraction=fraction,
        distance_m=distance,
        time_from_u_s=times[0],
        time_to_v_s=times[1],
        time_from_v_s=times[2],
        time_to_u_s=times[3],
        lon=out_lon,
        lat=out_lat,
        node=node,
    )
