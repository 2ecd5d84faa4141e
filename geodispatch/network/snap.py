"""Snapping arbitrary lon/lat points (stations, incidents, population) to road edges.

Vectorised for millions of points: one STRtree nearest query over the edge polylines in the
network's metric CRS, then shapely's vectorised ``line_locate_point``. A snapped point knows its
edge, how far along it lies, its off-road distance, and the partial-edge travel times to and
from both ends (the *twin* edge of a two-way road gives the times in the other direction), so
travel times from or to the point are exact, not rounded to the nearest junction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geodispatch.errors import SnapError

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork

DEFAULT_SNAP_DISTANCE_M = 1000.0
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
        Same along the twin edge v -> u; ``inf`` on one-way roads.
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

    from geodispatch.network.graph import _check_points

    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    _check_points(lon_a, lat_a)
    if not np.isfinite(max_distance_m) or max_distance_m < 0:
        raise SnapError(f"snap distance must be a non-negative number of metres, got {max_distance_m!r}")
    k = len(lon_a)
    x, y = network.to_metric(lon_a, lat_a)
    points = shapely.points(x, y)
    (pt_idx, edge_idx), dist = network.edge_tree.query_nearest(points, return_distance=True, all_matches=False)
    edge = np.full(k, -1, dtype=np.int64)
    distance = np.full(k, np.inf)
    edge[pt_idx] = edge_idx
    distance[pt_idx] = dist
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
    geoms = network.edge_geometries(metric=True)[e]
    fraction = np.full(k, np.nan)
    fraction[ok] = shapely.line_locate_point(geoms, points[ok], normalized=True)
    snapped = shapely.line_interpolate_point(geoms, fraction[ok], normalized=True)
    sx, sy = shapely.get_x(snapped), shapely.get_y(snapped)
    out_lon, out_lat = np.full(k, np.nan), np.full(k, np.nan)
    out_lon[ok], out_lat[ok] = network.to_lonlat(sx, sy)

    u, v = np.full(k, -1, dtype=np.int64), np.full(k, -1, dtype=np.int64)
    u[ok], v[ok] = network.edge_u[e], network.edge_v[e]
    t = np.full(k, np.inf)
    t[ok] = network.edge_time_s[e]
    f = fraction
    twin_time = np.full(k, np.inf)
    twin = network.edge_between(v[ok], u[ok])
    twin_time_ok = np.where(twin >= 0, network.edge_time_s[np.maximum(twin, 0)], np.inf)
    twin_time[ok] = twin_time_ok
    node = np.full(k, -1, dtype=np.int64)
    node[ok] = np.where(f[ok] <= 0.5, u[ok], v[ok])
    with np.errstate(invalid="ignore"):  # NaN/inf products of unsnapped or one-way entries are masked
        times = (
            np.where(ok, f * t, np.inf),
            np.where(ok, (1.0 - f) * t, np.inf),
            np.where(np.isfinite(twin_time), (1.0 - f) * twin_time, np.inf),
            np.where(np.isfinite(twin_time), f * twin_time, np.inf),
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
