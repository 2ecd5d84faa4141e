"""Which administrative area (desa / kelurahan) each point, road node and road edge lies in.

Shared by every stage that reports per area (coverage tables, siting site names, simulation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from geodispatch.errors import CoverageError

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork


def assign_areas(areas: Any, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Index of the area containing each point (first area in file order wins), -1 when none.

    Points are sorted by longitude once; each area tests only the points inside its bounding box
    with ``shapely.contains_xy`` on coordinates (no Point objects), so a million points against a
    thousand desa take about a second.

    Parameters
    ----------
    areas : GeoDataFrame
        Polygons, EPSG:4326.
    lon, lat : ndarray
        Points, degrees.
    """
    import shapely

    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out = np.full(len(lon), -1, dtype=np.int64)
    if len(lon) == 0 or len(areas) == 0:
        return out
    order = np.argsort(lon, kind="stable")
    xs, ys = lon[order], lat[order]
    geoms = areas.geometry.to_numpy()
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    lo = np.searchsorted(xs, bounds[:, 0], side="left")
    hi = np.searchsorted(xs, bounds[:, 2], side="right")
    for a in range(len(geoms)):
        if hi[a] <= lo[a]:
            continue
        sub = np.arange(lo[a], hi[a])
        sub = sub[(ys[sub] >= bounds[a, 1]) & (ys[sub] <= bounds[a, 3])]
        sub = sub[out[order[sub]] < 0]
        if len(sub):
            inside = shapely.contains_xy(geoms[a], xs[sub], ys[sub])
            out[order[sub[inside]]] = a
    return out


def check_areas_overlap(network: RoadNetwork, areas: Any, node_area: np.ndarray | None = None) -> np.ndarray:
    """Mask of areas that contain at least one network node.

    ``node_area`` (from :func:`network_areas`) saves assigning the nodes again.

    Raises
    ------
    CoverageError
        When no area overlaps the network (wrong file, wrong region, or swapped coordinates).
    """
    if node_area is None:
        node_area = assign_areas(areas, network.lon, network.lat)
    has = np.bincount(node_area[node_area >= 0], minlength=len(areas)) > 0
    if not has.any():
        b = [round(v, 4) for v in network.bbox]
        a = [round(float(v), 4) for v in areas.total_bounds]
        raise CoverageError(
            f"none of the {len(areas)} areas overlaps the road network (network bbox {b}, areas bbox {a}); "
            "use the areas of the same region"
        )
    return has


def network_areas(network: RoadNetwork, areas: Any) -> tuple[np.ndarray, np.ndarray]:
    """Area index (-1 when none) of every node and of every edge (the area of its midpoint)."""
    import shapely

    node_area = assign_areas(areas, network.lon, network.lat)
    mid = shapely.line_interpolate_point(network.edge_geometries(), 0.5, normalized=True)
    edge_area = assign_areas(areas, shapely.get_x(mid), shapely.get_y(mid))
    return node_area, edge_area
