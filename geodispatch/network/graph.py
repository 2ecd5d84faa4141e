"""RoadNetwork: a road graph as compact numpy/scipy arrays.

The working format of every stage after loading. Nodes are indexed 0..n-1 (``node_ids`` keeps
the OSM ids); edges are directed (a two-way road is two edges), each with its length (m),
travel time (s), highway class and geometry (a polyline stored as flat coordinate arrays with
offsets). The CSR matrix of travel times keeps, for each ordered node pair, only the fastest
of its parallel edges (scipy would otherwise *sum* duplicate entries).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from pyproj import CRS, Transformer
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geodispatch import settings
from geodispatch.errors import CorruptFileError, InputError, NoRoadsError, OutputError
from geodispatch.geometry import lonlat_problem, utm_crs
from geodispatch.network.sea import FERRY, SEA_CLASSES, SEA_LINK

if TYPE_CHECKING:
    import networkx as nx
    import shapely

    from geodispatch.network.snap import SnapIndex, SnapResult

FORMAT_VERSION = 2
MIN_EDGE_TIME_S = 1e-3
"""Smallest edge travel time (s); zero-time edges would vanish from a sparse matrix."""


@dataclass(eq=False)
class RoadNetwork:
    """A directed road network in arrays.

    Parameters
    ----------
    node_ids : ndarray of int64
        OSM node id (or synthetic id) of each node.
    lon, lat : ndarray of float64
        Node coordinates, degrees (EPSG:4326).
    edge_u, edge_v : ndarray of int64
        Tail and head node *index* of each directed edge.
    edge_length_m : ndarray of float64
        Edge length, metres.
    edge_time_s : ndarray of float64
        Edge travel time, seconds (clamped to at least :data:`MIN_EDGE_TIME_S`).
    edge_highway_code : ndarray of uint8
        Index into ``highway_classes`` of the OSM highway class that set the edge's speed
        (stored as codes: one byte per edge instead of a string; read :attr:`edge_highway`).
    highway_classes : ndarray of str
        The distinct highway class names.
    edge_has_maxspeed : ndarray of bool
        Whether a parseable ``maxspeed`` tag set the edge's speed.
    geom_offsets : ndarray of int64
        ``n_edges + 1`` offsets into ``geom_lon`` / ``geom_lat``; edge ``e``'s polyline is
        ``geom_lon[geom_offsets[e]:geom_offsets[e+1]]`` (from u to v).
    geom_lon, geom_lat : ndarray of float64
        Flat polyline coordinates, degrees.
    name : str
        Human-readable name (region or file).
    synthetic : bool
        True for the generated synthetic regency (labelled as such in every output).
    sea_names : dict of int to str
        Name of each sea edge (highway class ``ferry`` or ``sea_link``, see
        :mod:`geodispatch.network.sea`) by edge index: the ferry route or the speedboat link.
    sea_carries : dict of int to tuple of str
        The unit types a sea edge carries, by edge index, for the edges that do not carry every
        type (a speedboat ambulance carries ambulance crews, not fire trucks); a sea edge not in
        it carries every unit type. See :meth:`for_unit_type`.
    """

    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_time_s: np.ndarray
    edge_highway_code: np.ndarray
    highway_classes: np.ndarray
    edge_has_maxspeed: np.ndarray
    geom_offsets: np.ndarray
    geom_lon: np.ndarray
    geom_lat: np.ndarray
    name: str = ""
    synthetic: bool = False
    sea_names: dict[int, str] = field(default_factory=dict)
    sea_carries: dict[int, tuple[str, ...]] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        node_ids: Any,
        lon: Any,
        lat: Any,
        edge_u: Any,
        edge_v: Any,
        edge_length_m: Any,
        edge_time_s: Any,
        edge_highway: Any = None,
        edge_has_maxspeed: Any = None,
        geometries: list[Any] | None = None,
        geom_offsets: Any = None,
        geom_lon: Any = None,
        geom_lat: Any = None,
        name: str = "",
        synthetic: bool = False,
        sea_names: dict[int, str] | None = None,
        sea_carries: dict[int, Any] | None = None,
    ) -> RoadNetwork:
        """Build a network from plain arrays, validating them.

        Parameters
        ----------
        node_ids, lon, lat : array-like
            Node ids and coordinates (degrees).
        edge_u, edge_v : array-like of int
            Edge endpoints as node indices (0..n-1).
        edge_length_m, edge_time_s : array-like of float
            Edge length (m) and travel time (s).
        edge_highway : array-like of str, optional
            Highway class per edge (default ``"road"``).
        edge_has_maxspeed : array-like of bool, optional
            Whether a maxspeed tag set the speed (default False).
        geometries : list of (k, 2) arrays of lon/lat, optional
            Polyline per edge, from u to v; straight lines when omitted or None for an edge.
        geom_offsets, geom_lon, geom_lat : array-like, optional
            The same polylines already flat (as stored, see the class docstring); faster than
            ``geometries`` for large networks. Give all three or none.
        name : str
            Network name.
        synthetic : bool
            Mark the network as synthetic.
        sea_names : dict of int to str, optional
            Name of each sea edge (ferry or sea link) by edge index.
        sea_carries : dict of int to sequence of str, optional
            Unit types carried by each sea edge that does not carry every type, by edge index.

        Returns
        -------
        RoadNetwork

        Raises
        ------
        NoRoadsError
            When there are no edges.
        InputError
            When arrays disagree in length, indices are out of range or values are not finite.
        """
        node_ids = np.asarray(node_ids, dtype=np.int64)
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        u = np.asarray(edge_u, dtype=np.int64)
        v = np.asarray(edge_v, dtype=np.int64)
        length = np.asarray(edge_length_m, dtype=np.float64)
        time = np.asarray(edge_time_s, dtype=np.float64)
        n, m = len(node_ids), len(u)
        if m == 0 or n == 0:
            raise NoRoadsError(f"network {name!r} has no drivable road edges; choose a larger area or another file")
        if not (len(lon) == len(lat) == n and len(v) == len(length) == len(time) == m):
            raise InputError("node and edge arrays of a RoadNetwork must have matching lengths")
        if u.min() < 0 or v.min() < 0 or u.max() >= n or v.max() >= n:
            raise InputError("edge endpoints must be node indices in 0..n_nodes-1")
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            raise InputError("node coordinates must be finite numbers (lon/lat in degrees)")
        if not (np.isfinite(time).all() and (time >= 0).all() and np.isfinite(length).all()):
            raise InputError("edge lengths and travel times must be finite and non-negative")
        classes, codes = np.unique(
            np.full(m, "road") if edge_highway is None else np.asarray(edge_highway).astype(str), return_inverse=True
        )
        if len(classes) > 255:
            raise InputError("at most 255 distinct highway classes are supported")
        has_max = np.zeros(m, dtype=bool) if edge_has_maxspeed is None else np.asarray(edge_has_maxspeed, dtype=bool)
        if geom_offsets is not None:
            offsets = np.asarray(geom_offsets, dtype=np.int64)
            glon = np.asarray(geom_lon, dtype=np.float64)
            glat = np.asarray(geom_lat, dtype=np.float64)
            counts = np.diff(offsets)
            if len(offsets) != m + 1 or offsets[0] != 0 or offsets[-1] != len(glon) or len(glat) != len(glon):
                raise InputError("geom_offsets must have n_edges + 1 entries from 0 to len(geom_lon)")
            if (counts < 2).any():
                raise InputError("every edge polyline needs at least 2 points")
        elif geometries is None:
            offsets = np.arange(0, 2 * m + 1, 2, dtype=np.int64)
            glon = np.column_stack([lon[u], lon[v]]).ravel()
            glat = np.column_stack([lat[u], lat[v]]).ravel()
        else:
            parts = []
            for e, g in enumerate(geometries):
                if g is None or len(g) < 2:
                    g = np.array([[lon[u[e]], lat[u[e]]], [lon[v[e]], lat[v[e]]]])
                parts.append(np.asarray(g, dtype=np.float64))
            counts = np.array([len(p) for p in parts], dtype=np.int64)
            offsets = np.concatenate([[0], np.cumsum(counts)])
            flat = np.concatenate(parts)
            glon, glat = flat[:, 0].copy(), flat[:, 1].copy()
        return cls(
            node_ids=node_ids,
            lon=lon,
            lat=lat,
            edge_u=u,
            edge_v=v,
            edge_length_m=length,
            edge_time_s=np.maximum(time, MIN_EDGE_TIME_S),
            edge_highway_code=codes.astype(np.uint8),
            highway_classes=classes,
            edge_has_maxspeed=has_max,
            geom_offsets=offsets,
            geom_lon=glon,
            geom_lat=glat,
            name=name,
            synthetic=synthetic,
            sea_names={int(k): str(n) for k, n in (sea_names or {}).items()},
            sea_carries={int(k): tuple(str(t) for t in c) for k, c in (sea_carries or {}).items()},
        )

    # ------------------------------------------------------------------ sizes
    @cached_property
    def edge_highway(self) -> np.ndarray:
        """OSM highway class per edge (str array, decoded from the stored codes once)."""
        return self.highway_classes[self.edge_highway_code]

    @cached_property
    def is_sea_edge(self) -> np.ndarray:
        """Mask of sea edges: ferries and sea links (highway class ``ferry`` / ``sea_link``)."""
        sea = np.isin(self.highway_classes, SEA_CLASSES)
        return sea[self.edge_highway_code]  # type: ignore[no-any-return]

    @property
    def has_sea(self) -> bool:
        """True when the network has ferry or sea-link edges."""
        return bool(np.isin(self.highway_classes, SEA_CLASSES).any())

    @cached_property
    def road_edges(self) -> np.ndarray:
        """Indices of the road edges (not sea edges): what points are snapped to."""
        return np.flatnonzero(~self.is_sea_edge)

    def select_edges(self, keep: np.ndarray) -> RoadNetwork:
        """A copy with only the edges where ``keep`` is True (same nodes, same node indices).

        Parameters
        ----------
        keep : ndarray of bool, shape (n_edges,)
            Edges to keep.

        Returns
        -------
        RoadNetwork
        """
        return RoadNetwork.from_arrays(**self.edge_arrays(keep), name=self.name, synthetic=self.synthetic)

    def edge_arrays(self, keep: np.ndarray) -> dict[str, Any]:
        """The arguments of :meth:`from_arrays` for this network's nodes and the edges in ``keep``.

        Flat geometry (``geom_offsets``, ``geom_lon``, ``geom_lat``) and ``sea_names`` are renumbered
        for the kept edges; callers may append edges to the arrays before building a network.
        """
        keep = np.asarray(keep, dtype=bool)
        edges = np.flatnonzero(keep)
        counts = np.diff(self.geom_offsets)[edges]
        vertex = np.repeat(self.geom_offsets[edges], counts) + (
            np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        new_index = np.cumsum(keep) - 1
        return {
            "node_ids": self.node_ids,
            "lon": self.lon,
            "lat": self.lat,
            "edge_u": self.edge_u[edges],
            "edge_v": self.edge_v[edges],
            "edge_length_m": self.edge_length_m[edges],
            "edge_time_s": self.edge_time_s[edges],
            "edge_highway": self.edge_highway[edges],
            "edge_has_maxspeed": self.edge_has_maxspeed[edges],
            "geom_offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            "geom_lon": self.geom_lon[vertex],
            "geom_lat": self.geom_lat[vertex],
            "sea_names": {int(new_index[e]): n for e, n in self.sea_names.items() if keep[e]},
            "sea_carries": {int(new_index[e]): c for e, c in self.sea_carries.items() if keep[e]},
        }

    def without_sea(self) -> RoadNetwork:
        """The road-only network: this one without its ferry and sea-link edges (self if none)."""
        if not self.has_sea:
            return self
        return self._without_sea

    @cached_property
    def _without_sea(self) -> RoadNetwork:
        return self.select_edges(~self.is_sea_edge)

    def for_unit_type(self, unit_type: str) -> RoadNetwork:
        """The network as a unit of this type travels it: sea edges that do not carry it are blocked.

        A speedboat ambulance link carries ambulance crews, not a Damkar truck (``sea_carries``).
        The result has the same nodes *and the same edges, in the same order* (snaps and edge
        indices made on this network stay valid); a blocked edge keeps its geometry but gets an
        infinite travel time and is left out of :attr:`csr`, so no search crosses it. Returns self
        when every sea edge carries ``unit_type``; views are built once per set of blocked edges.

        Parameters
        ----------
        unit_type : str
            A unit type (a service is named by its unit type), e.g. ``"ambulance"``, ``"damkar"``.

        Returns
        -------
        RoadNetwork
            A view for searches (travel times, ETAs); not meant to be saved.
        """
        blocked = tuple(sorted(e for e, types in self.sea_carries.items() if unit_type not in types))
        if not blocked:
            return self
        view = self._unit_views.get(blocked)
        if view is None:
            time = self.edge_time_s.copy()
            time[list(blocked)] = np.inf
            view = dataclasses.replace(self, edge_time_s=time)
            self._unit_views[blocked] = view
        return view

    def carries(self, edge: int, unit_type: str) -> bool:
        """Whether edge ``edge`` carries units of ``unit_type`` (every road edge does)."""
        types = self.sea_carries.get(int(edge))
        return types is None or unit_type in types

    @cached_property
    def _unit_views(self) -> dict[tuple[int, ...], RoadNetwork]:
        return {}

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        """Number of directed edges (parallel edges included)."""
        return len(self.edge_u)

    @property
    def label(self) -> str:
        """Name for titles and reports; says SYNTHETIC when the network is generated."""
        return f"{self.name} (SYNTHETIC data)" if self.synthetic else self.name

    # ------------------------------------------------------------------ CSR
    # Everything below is derived from the arrays above and computed once per network
    # (functools.cached_property); search state lives in engine objects that callers hold
    # (traveltime.SearchWorkspace, snap.SnapIndex, assign.eta.EtaEngine), not on the network.
    @cached_property
    def _csr_parts(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """The CSR travel-time matrix keeping the fastest of parallel edges, and the edge of each entry."""
        u, v, t = self.edge_u, self.edge_v, self.edge_time_s
        order = np.lexsort((t, v, u))
        # self-loops never shorten a path; an infinite time is a blocked edge (see for_unit_type)
        order = order[(u[order] != v[order]) & np.isfinite(t[order])]
        su, sv = u[order], v[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (su[1:] != su[:-1]) | (sv[1:] != sv[:-1])
        keep = order[first]
        indptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(u[keep], minlength=self.n_nodes), out=indptr[1:])
        n = self.n_nodes
        csr = sp.csr_matrix((t[keep], v[keep].astype(np.int32), indptr), shape=(n, n))
        return csr, keep

    @property
    def csr(self) -> sp.csr_matrix:
        """Directed travel-time matrix (s), ``csr[u, v]`` = fastest edge u -> v."""
        return self._csr_parts[0]

    @property
    def csr_edge(self) -> np.ndarray:
        """Edge index behind each stored entry of :attr:`csr` (aligned with ``csr.data``)."""
        return self._csr_parts[1]

    @cached_property
    def csr_reverse(self) -> sp.csr_matrix:
        """Transposed travel-time matrix, for searches *to* a node."""
        return self.csr.T.tocsr()

    @cached_property
    def _csr_keys(self) -> np.ndarray:
        """Sorted ``u * n_nodes + v`` key of each stored CSR entry (for :meth:`edge_between`)."""
        rows = np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self.csr.indptr))
        return rows * self.n_nodes + self.csr.indices

    def edge_between(self, u: Any, v: Any) -> np.ndarray:
        """Fastest edge index from node u to node v for arrays of pairs, -1 when none exists."""
        u = np.atleast_1d(np.asarray(u, dtype=np.int64))
        v = np.atleast_1d(np.asarray(v, dtype=np.int64))
        keys = self._csr_keys
        wanted = u * self.n_nodes + v
        pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        found = keys[pos] == wanted
        return np.where(found, self.csr_edge[pos], -1)

    @cached_property
    def twin_edge(self) -> np.ndarray:
        """The same road in the other direction for each edge (v -> u), -1 on one-way roads.

        A two-way road is stored as two edges of equal length (one geometry, reversed). When
        several roads join the same two junctions, the twin is the reverse edge whose length
        matches (within 1 m or 0.1 %), not simply the fastest reverse edge: a point on a long
        road must not be timed at the speed of a short road that joins the same junctions.
        """
        return _twin_edges(self.edge_u, self.edge_v, self.edge_length_m, self.edge_time_s)

    # ------------------------------------------------------------------ geometry
    @cached_property
    def crs(self) -> CRS:
        """The network's local metric CRS (UTM zone of its centre)."""
        return utm_crs(float(np.mean(self.lon)), float(np.mean(self.lat)))

    @cached_property
    def _to_metric(self) -> Transformer:
        return Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    @cached_property
    def _to_lonlat(self) -> Transformer:
        return Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)

    def to_metric(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """Project lon/lat (degrees) into the network's metric CRS (metres)."""
        x, y = self._to_metric.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def to_lonlat(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Project metric coordinates (m) back to lon/lat (degrees)."""
        lon, lat = self._to_lonlat.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)

    @cached_property
    def node_xy(self) -> np.ndarray:
        """Node coordinates in the metric CRS, shape (n_nodes, 2), metres."""
        x, y = self.to_metric(self.lon, self.lat)
        return np.column_stack([x, y])

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of the nodes, degrees."""
        return (float(self.lon.min()), float(self.lat.min()), float(self.lon.max()), float(self.lat.max()))

    def edge_geometries(self, metric: bool = False) -> np.ndarray:
        """Edge polylines as a shapely LineString array (lon/lat, or metres when ``metric``)."""
        return self._geoms_metric if metric else self._geoms_lonlat

    def _linestrings(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        import shapely

        return shapely.linestrings(x, y, indices=np.repeat(np.arange(self.n_edges), np.diff(self.geom_offsets)))

    @cached_property
    def _geoms_lonlat(self) -> np.ndarray:
        return self._linestrings(self.geom_lon, self.geom_lat)

    @cached_property
    def _geoms_metric(self) -> np.ndarray:
        return self._linestrings(*self.to_metric(self.geom_lon, self.geom_lat))

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """STRtree over the metric geometries of the road edges (built once).

        Sea edges are left out (nothing is snapped onto open water): tree index ``i`` is edge
        ``road_edges[i]``.
        """
        import shapely

        return shapely.STRtree(self.edge_geometries(metric=True)[self.road_edges])

    @cached_property
    def node_tree(self) -> cKDTree:
        """KD-tree over metric node coordinates (built once)."""
        return cKDTree(self.node_xy)

    @cached_property
    def snap_index(self) -> SnapIndex:
        """The spatial index that snapping uses (road pieces and their KD-tree; built on first use)."""
        from geodispatch.network.snap import SnapIndex

        return SnapIndex(self)

    # ------------------------------------------------------------------ components
    @cached_property
    def component_labels(self) -> np.ndarray:
        """Weakly connected component label of each node (0 = the largest component)."""
        _, labels = connected_components(self.csr, directed=True, connection="weak")
        counts = np.bincount(labels)
        rank = np.empty_like(counts)
        rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
        return rank[labels]  # type: ignore[no-any-return]

    @property
    def n_components(self) -> int:
        """Number of weakly connected components (islands and road fragments)."""
        return int(self.component_labels.max()) + 1

    @property
    def n_strong_components(self) -> int:
        """Number of strongly connected components (one-way traps count separately)."""
        n, _ = connected_components(self.csr, directed=True, connection="strong")
        return int(n)

    def component_sizes(self) -> np.ndarray:
        """Node count of each weak component, largest first."""
        return np.bincount(self.component_labels)

    # ------------------------------------------------------------------ queries
    def nearest_nodes(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """Nearest network node of each point.

        Parameters
        ----------
        lon, lat : array-like
            Point coordinates, degrees.

        Returns
        -------
        indices : ndarray of int64
            Node index of the nearest node.
        distances_m : ndarray of float64
            Straight-line distance to it, metres.
        """
        lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
        _check_points(lon_a, lat_a)
        x, y = self.to_metric(lon_a, lat_a)
        dist, idx = self.node_tree.query(np.column_stack([x, y]))
        return np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=np.float64)

    def snap(
        self, lon: Any, lat: Any, max_distance_m: float = settings.SNAP_LIMIT_M, strict: bool = True
    ) -> SnapResult:
        """Snap points to the nearest road edge; see :func:`geodispatch.network.snap.snap_points`."""
        from geodispatch.network.snap import snap_points

        return snap_points(self, lon, lat, max_distance_m=max_distance_m, strict=strict)

    def travel_times(self, sources: Any, limit: float | None = None, reverse: bool = False) -> np.ndarray:
        """Shortest travel times from (or, with ``reverse``, to) each source node.

        Parameters
        ----------
        sources : array-like of int
            Node indices (0..n_nodes-1).
        limit : float, optional
            Stop searching beyond this many seconds; farther nodes are ``inf``.
        reverse : bool
            Travel times *to* each source from every node (one-way streets respected).

        Returns
        -------
        ndarray of float64, shape (len(sources), n_nodes)
            Seconds; ``inf`` when unreachable or beyond ``limit``.
        """
        from geodispatch.network.traveltime import travel_times

        return travel_times(self, sources, limit=limit, reverse=reverse)

    # ------------------------------------------------------------------ interchange
    def to_networkx(self, geometry: bool = False) -> nx.MultiDiGraph:
        """Return an osmnx-style MultiDiGraph (every edge kept, ``travel_time`` in seconds).

        Node keys are the OSM ids with ``x``/``y`` in degrees; each edge has ``length`` (m),
        ``travel_time`` (s) and ``highway``, plus a shapely ``geometry`` when asked. The fastest
        of each set of parallel edges has exactly the weight stored in :attr:`csr`.
        """
        import networkx as nx

        graph = nx.MultiDiGraph(crs="EPSG:4326", name=self.name)
        ids = self.node_ids.tolist()
        graph.add_nodes_from(
            (i, {"x": x, "y": y}) for i, x, y in zip(ids, self.lon.tolist(), self.lat.tolist(), strict=True)
        )
        geoms = self.edge_geometries() if geometry else None
        for e, (a, b) in enumerate(zip(self.edge_u.tolist(), self.edge_v.tolist(), strict=True)):
            if not math.isfinite(self.edge_time_s[e]):
                continue  # blocked for this view's unit type (for_unit_type)
            data: dict[str, Any] = {
                "length": float(self.edge_length_m[e]),
                "travel_time": float(self.edge_time_s[e]),
                "highway": str(self.edge_highway[e]),
            }
            if e in self.sea_names:
                data["name"] = self.sea_names[e]
            if e in self.sea_carries:
                data["carries"] = ";".join(self.sea_carries[e])
            if geoms is not None:
                data["geometry"] = geoms[e]
            graph.add_edge(ids[a], ids[b], **data)
        return graph

    _ARRAYS = (
        "node_ids",
        "lon",
        "lat",
        "edge_u",
        "edge_v",
        "edge_length_m",
        "edge_time_s",
        "edge_highway_code",
        "highway_classes",
        "edge_has_maxspeed",
        "geom_offsets",
        "geom_lon",
        "geom_lat",
    )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the arrays to an ``.npz`` file atomically (no half-written file on failure).

        Parameters
        ----------
        path : path-like
            Destination; ``.npz`` is appended when missing.

        Returns
        -------
        Path
            The written file.
        """
        out = Path(path)
        if out.suffix != ".npz":
            out = out.with_name(out.name + ".npz")
        meta = json.dumps(
            {
                "format": FORMAT_VERSION,
                "name": self.name,
                "synthetic": self.synthetic,
                "sea_names": {str(e): n for e, n in self.sea_names.items()},
                "sea_carries": {str(e): list(c) for e, c in self.sea_carries.items()},
            }
        )
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".npz.part")
        except OSError as exc:
            raise OutputError(f"cannot write {out}: {exc.strerror}; choose a writable location") from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, meta=np.array(meta), **{k: getattr(self, k) for k in self._ARRAYS})
            os.replace(tmp, out)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise OutputError(f"cannot write {out}: {exc}") from exc
            raise
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RoadNetwork:
        """Read a network written by :meth:`save`.

        Raises
        ------
        CorruptFileError
            When the file is not a geodispatch network file.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {k: data[k] for k in cls._ARRAYS}
        except (OSError, ValueError, KeyError) as exc:
            raise CorruptFileError(
                f"{path} is not a geodispatch network file ({exc}); rebuild it with `geodispatch network build`"
            ) from exc
        if meta.get("format") != FORMAT_VERSION:
            raise CorruptFileError(
                f"{path} has network format {meta.get('format')}, expected {FORMAT_VERSION}; rebuild it"
            )
        return cls(
            **arrays,
            name=meta.get("name", ""),
            synthetic=bool(meta.get("synthetic", False)),
            sea_names={int(e): str(n) for e, n in meta.get("sea_names", {}).items()},
            sea_carries={int(e): tuple(map(str, c)) for e, c in meta.get("sea_carries", {}).items()},
        )

    def road_length_m(self) -> float:
        """Length of road on the ground, metres: a two-way road counts once, not per direction.

        Sea edges are not road and are left out (see :meth:`summary` for the crossings).
        """
        twin = self.twin_edge >= 0
        road = ~self.is_sea_edge
        return float(self.edge_length_m[road & ~twin].sum() + 0.5 * self.edge_length_m[road & twin].sum())

    def summary(self) -> dict[str, Any]:
        """Key figures: nodes, edges, km of road (two-way roads once; ``directed_edge_km`` counts each
        direction, as osmnx's ``edge_length_total`` does), components, bbox, share of edges with maxspeed."""
        return {
            "name": self.name,
            "synthetic": self.synthetic,
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "road_km": round(self.road_length_m() / 1000.0, 3),
            "directed_edge_km": round(float(self.edge_length_m.sum()) / 1000.0, 3),
            "components": self.n_components,
            "largest_component_nodes": int(self.component_sizes()[0]),
            "bbox": [round(b, 6) for b in self.bbox],
            "maxspeed_share": round(float(self.edge_has_maxspeed.mean()), 4),
            "crs": self.crs.to_string(),
            "ferry_edges": int((self.edge_highway == FERRY).sum()),
            "sea_link_edges": int((self.edge_highway == SEA_LINK).sum()),
            "sea_crossings": sorted(set(self.sea_names.values())),
        }


def _twin_edges(u: np.ndarray, v: np.ndarray, length: np.ndarray, time: np.ndarray) -> np.ndarray:
    """For each edge u -> v, the reverse edge v -> u of the same length (closest, then fastest), else -1."""
    n = int(max(u.max(), v.max())) + 1
    fwd, rev = u * n + v, v * n + u
    order = np.lexsort((time, fwd))
    keys = fwd[order]
    lo = np.searchsorted(keys, rev, side="left")
    hi = np.searchsorted(keys, rev, side="right")
    twin = np.full(len(u), -1, dtype=np.int64)
    single = (hi - lo) == 1
    twin[single] = order[lo[single]]
    for e in np.flatnonzero(hi - lo > 1):  # several roads join the same two junctions: rare
        cand = order[lo[e] : hi[e]]
        twin[e] = cand[np.argmin(np.abs(length[cand] - length[e]))]  # first = fastest on ties
    found = twin >= 0
    close = np.abs(length[np.maximum(twin, 0)] - length) <= np.maximum(1.0, 1e-3 * length)
    twin[~(found & close) | (u == v)] = -1
    return twin


def _check_points(lon: np.ndarray, lat: np.ndarray) -> None:
    """Validate arrays of lon/lat degrees."""
    problem = lonlat_problem(lon, lat)
    if problem is not None:
        raise InputError(problem)
