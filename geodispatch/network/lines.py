"""Road polylines for drawing: each two-way road once, by level, with a fast bounding-box query.

A live map of a 100,000-node regency cannot draw every street at every zoom. :class:`RoadLines`
splits the network's roads into two levels: ``arterial`` (motorway, trunk, primary, secondary and
their links: always drawn) and ``minor`` (everything else: drawn when zoomed in, only the part
in view). Both are kept as flat coordinate arrays, so a query is a few vectorised comparisons of
per-road bounding boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from geodispatch.network.graph import RoadNetwork

ARTERIAL_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
)
"""OSM highway classes drawn at every zoom (the regency's arteries)."""

LEVELS: tuple[str, ...] = ("arterial", "minor")
"""Road levels of :class:`RoadLines`."""

def unique_roads(network: RoadNetwork) -> np.ndarray:
    """Edge indices with each two-way road once (the edge of lower index of a twin pair).

    Ferries and sea links are not roads and are left out (maps draw them apart, dashed).

    Parameters
    ----------
    network : RoadNetwork
        The road network.

    Returns
    -------
    ndarray of int64
        Edge indices, ascending.
    """
    twin = network.twin_edge
    return np.flatnonzero(((twin < 0) | (np.arange(network.n_edges) < twin)) & ~network.is_sea_edge)


@dataclass
class _Level:
    classes: np.ndarray  # class code per road (index into RoadLines.classes)
    offsets: np.ndarray  # n_roads + 1 offsets into lon/lat
    lon: np.ndarray
    lat: np.ndarray
    bbox: np.ndarray  # (n_roads, 4): west, south, east, north


class RoadLines:
    """Road polylines of a network, by level (each two-way road once).

    Parameters
    ----------
    network : RoadNetwork
        The road network.

    Attributes
    ----------
    classes : list of str
        The OSM highway classes present; a road's class is an index into this list.
    """

    def __init__(self, network: RoadNetwork) -> None:
        edges = unique_roads(network)
        highway = network.edge_highway[edges]
        self.classes: list[str] = sorted({str(h) for h in highway})
        code = np.searchsorted(np.asarray(self.classes, dtype=object), highway).astype(np.int16)
        arterial = np.isin(highway, ARTERIAL_CLASSES)
        self._levels = {
            "arterial": self._level(network, edges[arterial], code[arterial]),
            "minor": self._level(network, edges[~arterial], code[~arterial]),
        }

    @staticmethod
    def _level(network: RoadNetwork, edges: np.ndarray, code: np.ndarray) -> _Level:
        start = network.geom_offsets[edges]
        counts = network.geom_offsets[edges + 1] - start
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        take = np.repeat(start - offsets[:-1], counts) + np.arange(offsets[-1])
        lon, lat = network.geom_lon[take], network.geom_lat[take]
        if len(edges):
            first = offsets[:-1]
            bbox = np.column_stack([
                np.minimum.reduceat(lon, first), np.minimum.reduceat(lat, first),
                np.maximum.reduceat(lon, first), np.maximum.reduceat(lat, first),
            ])
        else:
            bbox = np.zeros((0, 4))
        return _Level(code, offsets, lon, lat, bbox)

    def count(self, level: str) -> int:
        """Number of roads of a level."""
        return len(self._levels[level].classes)

    def query(
        self, level: str, bbox: tuple[float, float, float, float] | None = None, limit: int | None = None
    ) -> tuple[np.ndarray, list[np.ndarray], bool]:
        """Roads of one level, optionally only those whose bounding box meets ``bbox``.

        Parameters
        ----------
        level : str
            ``arterial`` or ``minor``.
        bbox : (west, south, east, north), optional
            Degrees (EPSG:4326).
        limit : int, optional
            Return at most this many roads.

        Returns
        -------
        classes : ndarray of int16
            Class index of each road returned.
        lines : list of ndarray
            Each road's coordinates, shape (n, 2), lon/lat degrees, from one end to the other.
        truncated : bool
            True when ``limit`` cut the answer short.
        """
        lv = self._levels[level]
        idx = self._select(lv, bbox, limit)
        lines = [np.column_stack([lv.lon[lv.offsets[i]:lv.offsets[i + 1]], lv.lat[lv.offsets[i]:lv.offsets[i + 1]]])
                 for i in idx[0]]
        return lv.classes[idx[0]], lines, idx[1]

    @staticmethod
    def _select(
        lv: _Level, bbox: tuple[float, float, float, float] | None, limit: int | None
    ) -> tuple[np.ndarray, bool]:
        if bbox is None:
            idx = np.arange(len(lv.classes))
        else:
            w, s, e, n = bbox
            b = lv.bbox
            idx = np.flatnonzero((b[:, 0] <= e) & (b[:, 2] >= w) & (b[:, 1] <= n) & (b[:, 3] >= s))
        truncated = limit is not None and len(idx) > limit
        return (idx[:limit] if truncated else idx), bool(truncated)

    def to_json(
        self, level: str, bbox: tuple[float, float, float, float] | None = None, limit: int | None = None,
        decimals: int = 5,
    ) -> dict[str, Any]:
        """The query's answer as compact JSON: ``classes``, per road ``class`` and flat ``coords``.

        ``coords[i]`` is ``[lon0, lat0, lon1, lat1, ...]`` rounded to ``decimals`` (5: about 1 m).
        """
        lv = self._levels[level]
        idx, truncated = self._select(lv, bbox, limit)
        starts, ends = lv.offsets[idx], lv.offsets[idx + 1]
        counts = ends - starts
        take = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        flat = np.round(np.column_stack([lv.lon[take], lv.lat[take]]), decimals).ravel().tolist()
        bounds = np.concatenate([[0], np.cumsum(2 * counts)]).tolist()
        return {
            "level": level,
            "classes": self.classes,
            "class": lv.classes[idx].tolist(),
            "coords": [flat[a:b] for a, b in pairwise(bounds)],
            "truncated": truncated,
        }

    def simplified(
        self, level: str, tolerance_deg: float, max_vertices: int | None = None, decimals: int = 5
    ) -> tuple[list[np.ndarray], int]:
        """Every road of a level, simplified for a static map, within a vertex budget.

        Each road is simplified (Douglas-Peucker, ``tolerance_deg``) and rounded to ``decimals``
        (5: about 1 m). When the simplified roads still have more than ``max_vertices`` vertices,
        the longest roads are kept until the budget is spent (a big network stays light in a
        browser; the short lanes go first).

        Parameters
        ----------
        level : str
            ``arterial`` or ``minor``.
        tolerance_deg : float
            Simplification tolerance, degrees (2e-5 is about 2 m).
        max_vertices : int, optional
            Vertex budget (default: none).
        decimals : int
            Decimals kept of each coordinate.

        Returns
        -------
        lines : list of ndarray
            Kept roads, each ``(n, 2)`` lon/lat degrees, longest first when the budget cut.
        dropped : int
            Roads left out by the budget.
        """
        import shapely

        lv = self._levels[level]
        n = len(lv.classes)
        if n == 0:
            return [], 0
        counts = np.diff(lv.offsets)
        geoms = shapely.linestrings(np.column_stack([lv.lon, lv.lat]), indices=np.repeat(np.arange(n), counts))
        geoms = shapely.simplify(geoms, tolerance_deg)
        sizes = shapely.get_num_coordinates(geoms)
        coords = np.round(shapely.get_coordinates(geoms), decimals)
        lines = np.split(coords, np.cumsum(sizes)[:-1])
        if max_vertices is None or sizes.sum() <= max_vertices:
            return lines, 0
        length = shapely.length(shapely.linestrings(coords, indices=np.repeat(np.arange(n), sizes)))  # as drawn
        kept = np.argsort(-length, kind="stable")
        kept = kept[np.cumsum(sizes[kept]) <= max_vertices]
        return [lines[i] for i in kept], int(n - len(kept))
