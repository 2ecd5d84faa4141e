"""Uncovered population as clusters (hotspots): where the people outside the threshold live.

Clustering is a grid-cell connected-component labelling, linear in the number of points: the
uncovered points are binned into square cells (default 300 m) in the region's metric CRS, and
occupied cells that touch (8-neighbourhood) form one hotspot. Unlike DBSCAN it needs no
neighbour search over the points, so a million uncovered points cluster in well under a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geodispatch.errors import CoverageError
from geodispatch.network.graph import RoadNetwork

DEFAULT_CELL_M = 300.0
"""Cell size (m) of the clustering grid: uncovered people within about one cell join one hotspot."""


def hotspots(
    network: RoadNetwork,
    lon: np.ndarray,
    lat: np.ndarray,
    population: np.ndarray,
    uncovered: np.ndarray,
    time_s: np.ndarray | None = None,
    cell_m: float = DEFAULT_CELL_M,
    min_population: float = 1.0,
    service: str = "",
    minutes: float | None = None,
    xy: tuple[np.ndarray, np.ndarray] | None = None,
    time_order: np.ndarray | None = None,
) -> Any:
    """Cluster uncovered population into hotspots.

    Parameters
    ----------
    network : RoadNetwork
        For the metric CRS.
    lon, lat : ndarray
        Population points, degrees.
    population : ndarray
        People per point.
    uncovered : ndarray of bool
        Points outside the threshold.
    time_s : ndarray, optional
        Travel time per point, seconds, to report each hotspot's median time.
    cell_m : float
        Grid cell size, metres.
    min_population : float
        Smallest hotspot kept, people.
    service, minutes :
        Labels copied to every row.
    xy : (ndarray, ndarray), optional
        The points already in the network's metric CRS, metres (saves projecting them again).
    time_order : ndarray, optional
        ``np.argsort(time_s, kind="stable")`` when the caller already has it.

    Returns
    -------
    geopandas.GeoDataFrame
        Largest first: ``rank, type, minutes, population, points, cells, area_km2, lon, lat``
        (population-weighted centroid, degrees), ``median_s`` (``NaN`` when unreachable) and a
        polygon (convex hull of the hotspot's cells), EPSG:4326.
    """
    import geopandas as gpd
    import shapely

    if not cell_m > 0:
        raise CoverageError(f"hotspot cell size must be positive metres, got {cell_m}")
    columns = ["rank", "type", "minutes", "population", "points", "cells", "area_km2", "lon", "lat", "median_s"]
    sel = np.flatnonzero(np.asarray(uncovered) & (np.asarray(population) > 0))
    if len(sel) == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=4326)
    if xy is not None:
        x, y = np.asarray(xy[0])[sel], np.asarray(xy[1])[sel]
    else:
        x, y = network.to_metric(np.asarray(lon)[sel], np.asarray(lat)[sel])
    w = np.asarray(population, dtype=float)[sel]
    ix = np.floor(x / cell_m).astype(np.int64)
    iy = np.floor(y / cell_m).astype(np.int64)
    ix -= ix.min() - 1
    iy -= iy.min() - 1
    width = int(iy.max()) + 2
    key = ix * width + iy
    cells, point_cell = np.unique(key, return_inverse=True)
    n = len(cells)
    rows, cols = [], []
    for dx, dy in ((1, 0), (0, 1), (1, 1), (1, -1)):
        nb = cells + dx * width + dy
        pos = np.minimum(np.searchsorted(cells, nb), n - 1)
        hit = cells[pos] == nb
        rows.append(np.flatnonzero(hit))
        cols.append(pos[hit])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n)).tocsr()
    _, cell_label = connected_components(graph, directed=False)
    label = cell_label[point_cell]
    k = int(label.max()) + 1
    pop = np.bincount(label, weights=w, minlength=k)
    count = np.bincount(label, minlength=k)
    ncell = np.bincount(cell_label, minlength=k)
    cx = np.bincount(label, weights=w * x, minlength=k) / np.where(pop > 0, pop, 1)
    cy = np.bincount(label, weights=w * y, minlength=k) / np.where(pop > 0, pop, 1)
    clon, clat = network.to_lonlat(cx, cy)
    keep = np.flatnonzero(pop >= min_population)
    keep = keep[np.argsort(-pop[keep], kind="stable")]
    # hulls of the cells' corners: a corner shared by four occupied cells lies a whole cell inside
    # its hotspot, so it cannot be a hull vertex; every other corner is taken once (same hull)
    cell_ix = cells // width
    cell_iy = cells % width
    cw = width + 1
    left, right = cell_ix * cw + cell_iy, (cell_ix + 1) * cw + cell_iy  # bottom corners; + 1: top corners
    corner_key = np.concatenate([left, right, left + 1, right + 1])
    corner_key, first, shared = np.unique(corner_key, return_index=True, return_counts=True)
    outer = shared < 4
    corner_key = corner_key[outer]
    corner_label = np.tile(cell_label, 4)[first[outer]]
    x0 = np.floor(x.min() / cell_m) * cell_m - cell_m  # metric origin of ix == 0
    y0 = np.floor(y.min() / cell_m) * cell_m - cell_m
    clon_c, clat_c = network.to_lonlat(x0 + (corner_key // cw) * cell_m, y0 + (corner_key % cw) * cell_m)
    order = np.argsort(corner_label, kind="stable")
    mp = shapely.multipoints(np.column_stack([clon_c[order], clat_c[order]]), indices=corner_label[order])
    hulls = shapely.convex_hull(mp)
    med = np.full(k, np.nan)
    if time_s is not None:
        from geodispatch.coverage.surface import grouped_weighted_quantile, subset_order

        vo = None
        if time_order is not None:
            mask = np.zeros(len(time_order), dtype=bool)
            mask[sel] = True
            vo = subset_order(time_order, mask)
        med = grouped_weighted_quantile(label, np.asarray(time_s, dtype=float)[sel], w, 0.5, k, value_order=vo)
        med[~np.isfinite(med)] = np.nan
    data = {
        "rank": np.arange(1, len(keep) + 1),
        "type": [service] * len(keep),
        "minutes": [minutes] * len(keep),
        "population": np.round(pop[keep], 1),
        "points": count[keep],
        "cells": ncell[keep],
        "area_km2": np.round(ncell[keep] * cell_m * cell_m / 1e6, 3),
        "lon": np.round(clon[keep], 6),
        "lat": np.round(clat[keep], 6),
        "median_s": np.round(med[keep], 1),
    }
    return gpd.GeoDataFrame(data, geometry=hulls[keep], crs=4326)


def number_hotspots(spots: Any) -> np.ndarray:
    """One number per place, shared by every service's hotspot there (maps and tables use it).

    Hotspots are numbered once, by people descending: the largest gets 1. A hotspot of another
    service whose area overlaps an already numbered one takes that number (the one it overlaps
    most, never a number its own service already uses), so the same place keeps the same number
    in every panel of a map and in ``hotspots.geojson``; other hotspots take the next number.

    Parameters
    ----------
    spots : geopandas.GeoDataFrame
        Hotspots of one or more services (:func:`hotspots` rows, ``type`` = service).

    Returns
    -------
    numpy.ndarray of int
        The number of each row (1-based), in the frame's row order.
    """
    import shapely

    n = len(spots)
    numbers = np.zeros(n, dtype=np.int64)
    if n == 0:
        return numbers
    services = np.asarray(spots["type"], dtype=object)
    geoms = np.asarray(spots.geometry.values, dtype=object)
    rank = np.asarray(spots["rank"], dtype=float) if "rank" in spots.columns else np.zeros(n)
    order = np.lexsort((rank, -np.asarray(spots["population"], dtype=float)))  # people descending
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    neighbours: dict[int, list[int]] = {}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if services[i] != services[j]:
            neighbours.setdefault(i, []).append(j)
    used: dict[Any, set[int]] = {}
    following = 1
    for i in order.tolist():
        taken = used.setdefault(services[i], set())
        best, best_area = 0, 0.0
        for j in neighbours.get(i, []):
            if numbers[j] == 0 or int(numbers[j]) in taken:
                continue
            area = float(shapely.area(shapely.intersection(geoms[i], geoms[j])))
            if area > best_area:
                best, best_area = int(numbers[j]), area
        if best == 0:
            best, following = following, following + 1
        numbers[i] = best
        taken.add(best)
    return numbers
