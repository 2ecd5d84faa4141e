"""The embedded synthetic regency: a made-up kabupaten generated deterministically in code.

``synthetic_regency(n_nodes, seed)`` builds, with vectorised numpy/scipy/shapely (no Python loop
over nodes or edges), a plausible small Indonesian regency that works on a fresh machine with no
network access and scales from a few hundred nodes (tests) to millions (benchmarks):

* **Land**: an irregular main island and one small offshore island, in the open Flores Sea
  around lon 119.8, lat -7.5 (about 90 km from the nearest real coast in the bundled kabupaten
  boundaries) so nobody mistakes it for a real place. The land is about 35 km across at the
  default 3,000 nodes and grows with ``sqrt(n_nodes)``, so road density stays constant.
* **Towns**: a few dense street grids (90-130 m blocks, rotated and jittered) with one-way street
  couplets in the core, ``tertiary`` / ``residential`` / ``living_street`` streets, a
  ``secondary`` main street and ``service`` driveways. The first town is the capital.
* **Rural roads**: hamlets and scattered junctions joined by a spanning tree of a Delaunay
  triangulation plus some loops: ``unclassified``, ``residential`` and ``track``; some are curved
  (polylines with intermediate points).
* **Arterials**: shortest routes between neighbouring towns (graph Voronoi of the towns on the
  candidate road graph), tagged ``trunk`` / ``primary`` / ``secondary``, with ``*_link`` ramps and
  some ``maxspeed`` tags.
* **A river** crossing the main island from coast to coast; no edge crosses it except a few
  bridges (:attr:`SyntheticRegency.bridge_edges`).
* **The small island** has its own road component and only a puskesmas.
* **Stations** (PSC 119, RSUD, puskesmas, ambulance posts, Damkar, BPBD, Polres/Polsek, PMI,
  SAR) with units, placed exactly on road nodes; **population points** denser in towns (about
  200,000 people at the default size, proportional to ``n_nodes``); **desa polygons** (a Voronoi
  tiling of the land) grouped into kecamatan.

Edge lengths are great-circle lengths of the polylines (haversine, metres); travel times come
from the Indonesian speed profile in :mod:`geodispatch.network.speeds`. Everything is labelled
synthetic: the network has ``synthetic=True`` (its label says SYNTHETIC), station sources say
``synthetic: geodispatch.network.synthetic seed=<seed>``, and the data frames carry
``attrs["source"]``.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import breadth_first_order, connected_components, dijkstra, minimum_spanning_tree
from scipy.spatial import cKDTree

from geodispatch.errors import InputError
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.load import EARTH_RADIUS_M, haversine_m
from geodispatch.network.speeds import edge_speeds_kph, travel_times_s
from geodispatch.regions import Station, UnitConfig

log = logging.getLogger(__name__)

NAME = "Kabupaten Sintetis"
"""Name of the synthetic regency (Indonesian for "synthetic regency")."""
CENTRE_LON = 119.8
CENTRE_LAT = -7.5
"""Centre of the synthetic land, degrees: open Flores Sea, far from any real coast."""
TARGET_RESPONSE_S = 900.0
"""Response-time target of the synthetic regency, seconds (15 minutes)."""
MIN_NODES = 200
"""Smallest supported ``n_nodes``."""
MAX_NODES = 20_000_000
"""Largest supported ``n_nodes`` (memory grows about 1 kB per node)."""

_REF_NODES = 3000
_REF_RADIUS_M = 17_000.0  # mean radius of the main island at _REF_NODES
_PEOPLE_PER_NODE = 200_000 / _REF_NODES
_M_PER_DEG_LAT = EARTH_RADIUS_M * math.pi / 180.0
_M_PER_DEG_LON = _M_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))

# Highway classes by code; lower codes are more important (used to pick the class of shared edges).
_CLASSES = (
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "track",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
)
TRUNK, PRIMARY, SECONDARY, TERTIARY, UNCLASSIFIED, RESIDENTIAL, LIVING, SERVICE, TRACK = range(9)
_LINK_OF = {TRUNK: 9, PRIMARY: 10, SECONDARY: 11, TERTIARY: 12}
_MAXSPEEDS = ("", "30", "40", "50", "60", "80", "ID:urban", "ID:rural")
_MS = {v: i for i, v in enumerate(_MAXSPEEDS)}
_N_CURVE = 3  # intermediate points of a curved edge


@dataclass(frozen=True, eq=False)
class SyntheticRegency:
    """A generated regency: road network, stations, population and admin areas. All SYNTHETIC.

    Attributes
    ----------
    name : str
        ``"Kabupaten Sintetis"``.
    network : RoadNetwork
        The road network (``synthetic=True``), lon/lat in degrees, lengths in metres, times in s.
    stations : tuple of Station
        Emergency-service stations, each exactly on a road node, with their units.
    population : pandas.DataFrame
        Population points: ``lon``, ``lat`` (degrees) and ``population`` (people, float).
    areas : geopandas.GeoDataFrame
        Desa polygons (EPSG:4326) with ``name``, ``kecamatan`` and ``geometry``; they tile the land.
    boundary : shapely.MultiPolygon
        The land (main island and the small island), lon/lat degrees.
    island : shapely.Polygon
        The small offshore island, lon/lat degrees.
    river : shapely.LineString or MultiLineString
        The river's centre line on land, lon/lat degrees.
    bridge_edges : ndarray of int64
        Indices of the directed edges that cross the river (the only ones that do).
    towns : pandas.DataFrame
        ``name``, ``kecamatan``, ``lon``, ``lat``, ``node`` (index of the centre node),
        ``n_grid_nodes``, ``capital``, ``island``.
    seed : int
        The seed it was generated with.
    target_response_s : float
        Response-time target, seconds.
    """

    name: str
    network: RoadNetwork
    stations: tuple[Station, ...]
    population: pd.DataFrame
    areas: gpd.GeoDataFrame
    boundary: Any
    island: Any
    river: Any
    bridge_edges: np.ndarray
    towns: pd.DataFrame
    seed: int
    target_response_s: float = TARGET_RESPONSE_S

    @property
    def label(self) -> str:
        """Name for titles and reports, saying that the data are SYNTHETIC."""
        return f"{self.name} (SYNTHETIC data, seed={self.seed})"

    @property
    def source(self) -> str:
        """The ``source`` string of every generated fact."""
        return _source(self.seed)


class _Stopwatch:
    """Logs the duration of each generation step at DEBUG level."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        log.debug("synthetic: %-22s %7.3f s", step, now - self.last)
        self.last = now


def _source(seed: int) -> str:
    return f"synthetic: geodispatch.network.synthetic seed={seed}"


# ---------------------------------------------------------------------------------------- frame
def _to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local frame (m east/north of the centre) to lon/lat degrees; affine, so lines stay lines."""
    return CENTRE_LON + np.asarray(x) / _M_PER_DEG_LON, CENTRE_LAT + np.asarray(y) / _M_PER_DEG_LAT


def _geom_to_lonlat(geom: Any) -> Any:
    """Transform shapely geometries from the local frame to lon/lat (exact affine map)."""
    return shapely.transform(geom, lambda xy: np.column_stack(_to_lonlat(xy[:, 0], xy[:, 1])))


# ---------------------------------------------------------------------------------------- land
@dataclass
class _Land:
    main: Any  # shapely Polygon, local frame (m)
    island: Any
    both: Any
    island_centre: np.ndarray
    river: Any  # full LineString from sea to sea, local frame
    river_x: np.ndarray  # river vertices in the rotated frame: y' = f(x') piecewise linear
    river_y: np.ndarray
    river_slope: float
    ex: np.ndarray  # rotated frame unit vectors (x' along the river)
    ey: np.ndarray

    def river_offset(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed vertical offset y' - f(x') from the river in the rotated frame (m)."""
        xr = x * self.ex[0] + y * self.ex[1]
        yr = x * self.ey[0] + y * self.ey[1]
        return yr - np.interp(xr, self.river_x, self.river_y)

    def river_distance_lb(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """A lower bound of the distance to the river (m)."""
        return np.abs(self.river_offset(x, y)) / math.sqrt(1.0 + self.river_slope**2)


def _radial_polygon(rng: np.random.Generator, radius: float, n_vertices: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """An irregular star-shaped coastline around the origin: smooth lobes plus small roughness."""
    theta = np.linspace(0.0, 2.0 * math.pi, n_vertices, endpoint=False)
    k = np.arange(2, 41)
    amp = np.where(k <= 6, rng.uniform(0.04, 0.13, k.size) / np.sqrt(k - 1.0), rng.uniform(0.0, 0.012, k.size))
    phase = rng.uniform(0.0, 2.0 * math.pi, k.size)
    rr = 1.0 + (amp[:, None] * np.cos(k[:, None] * theta[None, :] + phase[:, None])).sum(axis=0)
    rr = np.maximum(rr, 0.5) * radius
    return rr * np.cos(theta), rr * np.sin(theta)


def _make_land(rng: np.random.Generator, r0: float) -> _Land:
    """Main island, small island and a river crossing the main island (local frame, metres)."""
    mx, my = _radial_polygon(rng, r0)
    main = shapely.Polygon(np.column_stack([mx, my]))
    alpha = rng.uniform(0.0, math.pi)
    ex = np.array([math.cos(alpha), math.sin(alpha)])
    ey = np.array([-math.sin(alpha), math.cos(alpha)])
    # river y' = f(x') in the rotated frame: a function graph, so it never crosses itself
    step = min(100.0, r0 / 60.0)
    xr = np.arange(-2.0 * r0, 2.0 * r0 + step, step)
    lam1, lam2 = rng.uniform(1.2, 1.8) * r0, rng.uniform(0.4, 0.6) * r0
    lam3 = rng.uniform(2000.0, 3000.0) * min(1.0, r0 / _REF_RADIUS_M)
    yr = (
        rng.uniform(-0.12, 0.12) * r0
        + rng.uniform(0.06, 0.10) * r0 * np.sin(2 * math.pi * xr / lam1 + rng.uniform(0, 2 * math.pi))
        + 0.03 * r0 * np.sin(2 * math.pi * xr / lam2 + rng.uniform(0, 2 * math.pi))
        + 200.0 * min(1.0, r0 / _REF_RADIUS_M) * np.sin(2 * math.pi * xr / lam3 + rng.uniform(0, 2 * math.pi))
    )
    slope = float(np.max(np.abs(np.diff(yr) / np.diff(xr))))
    river = shapely.LineString(np.column_stack([xr * ex[0] + yr * ey[0], xr * ex[1] + yr * ey[1]]))
    # the small island lies off the coast on one side of the river's course, never on it
    side = 1.0 if rng.random() < 0.5 else -1.0
    d = ey * side
    ix, iy = _radial_polygon(rng, 0.16 * r0, 120)
    reach_main = float(np.max(mx * d[0] + my * d[1]))
    reach_island = float(np.max(-(ix * d[0] + iy * d[1])))
    centre = d * (reach_main + 0.3 * r0 + reach_island) + ex * rng.uniform(-0.3, 0.3) * r0
    island = shapely.Polygon(np.column_stack([ix + centre[0], iy + centre[1]]))
    both = shapely.MultiPolygon([main, island])
    shapely.prepare(main)
    shapely.prepare(island)
    shapely.prepare(both)
    return _Land(main, island, both, centre, river, xr, yr, slope, ex, ey)


def _sample_uniform(rng: np.random.Generator, poly: Any, n: int) -> np.ndarray:
    """``n`` points uniformly inside a (prepared) polygon, by vectorised rejection."""
    minx, miny, maxx, maxy = poly.bounds
    out: list[np.ndarray] = []
    have = 0
    ratio = max(poly.area / ((maxx - minx) * (maxy - miny)), 0.05)
    while have < n:
        m = int((n - have) / ratio * 1.2) + 16
        pts = np.column_stack([rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)])
        pts = pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]
        out.append(pts)
        have += len(pts)
    return np.concatenate(out)[:n]


# ---------------------------------------------------------------------------------------- towns
@dataclass
class _Towns:
    cx: np.ndarray
    cy: np.ndarray
    side: np.ndarray  # grid side (nodes)
    spacing: np.ndarray  # block size, m
    rot: np.ndarray  # grid rotation, rad
    radius: np.ndarray  # m
    island: np.ndarray  # bool
    core: np.ndarray  # bool: one-way couplets allowed

    def __len__(self) -> int:
        return len(self.cx)


def _place_towns(rng: np.random.Generator, land: _Land, n_nodes: int, r0: float) -> _Towns:
    """Mainland towns (capital first, then by size) spread by farthest-point choice, plus the island village."""
    scale2 = n_nodes / _REF_NODES
    n_towns = max(3, round(5 * scale2))
    weights = np.concatenate([[2.2], np.sort(np.clip(rng.lognormal(0.0, 0.45, n_towns - 1), 0.4, 1.8))[::-1]])
    nodes = 0.415 * n_nodes * weights / weights.sum()
    side = np.maximum(4, np.round(np.sqrt(nodes / 0.80))).astype(np.int64)
    spacing = rng.uniform(95.0, 130.0, n_towns)
    radius = (side - 1) / 2.0 * spacing * 1.2
    cand = _sample_uniform(rng, land.main, max(2000, 24 * n_towns))
    coast = shapely.distance(shapely.points(cand), land.main.exterior)
    river = land.river_distance_lb(cand[:, 0], cand[:, 1])
    mind = np.full(len(cand), np.inf)
    alive = np.ones(len(cand), dtype=bool)
    noise = rng.uniform(0.35, 1.0, len(cand))
    centroid = np.array(land.main.centroid.coords[0])
    placed: list[int] = []  # candidate index of each town, biggest (the capital) first
    for t in range(n_towns):
        ok = alive & (coast >= radius[t] + 400.0) & (river >= radius[t] + 600.0)
        if not ok.any():
            log.debug("synthetic: room for only %d of %d towns", t, n_towns)
            break
        # the capital near the middle of the land, then each town far from the others
        score = -np.hypot(cand[:, 0] - centroid[0], cand[:, 1] - centroid[1]) if t == 0 else mind
        i = int(np.argmax(np.where(ok, score * noise, -np.inf)))
        placed.append(i)
        dist2 = (cand[:, 0] - cand[i, 0]) ** 2 + (cand[:, 1] - cand[i, 1]) ** 2
        np.minimum(mind, dist2, out=mind)
        alive &= dist2 >= (2.0 * radius[t] + 1500.0) ** 2  # later towns are no bigger than this one
    k = len(placed)
    cx, cy = cand[placed, 0], cand[placed, 1]
    # the island village
    isl_side = max(3, round(math.sqrt(0.02 * n_nodes / 0.8)))
    return _Towns(
        cx=np.array([*cx, land.island_centre[0]]),
        cy=np.array([*cy, land.island_centre[1]]),
        side=np.concatenate([side[:k], [isl_side]]),
        spacing=np.concatenate([spacing[:k], [100.0]]),
        rot=rng.uniform(0.0, math.pi / 2, k + 1),
        radius=np.concatenate([radius[:k], [(isl_side - 1) / 2.0 * 100.0 * 1.2]]),
        island=np.concatenate([np.zeros(k, dtype=bool), [True]]),
        core=np.concatenate([side[:k] >= 10, [False]]),
    )


@dataclass
class _Edges:
    """Undirected candidate edges (a < b not required; one-way edges run a -> b)."""

    a: np.ndarray
    b: np.ndarray
    cls: np.ndarray  # int8 class code
    oneway: np.ndarray  # bool
    core: np.ndarray  # bool: protected town-core edge


def _town_grids(rng: np.random.Generator, towns: _Towns) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Edges]:
    """Street grids of all towns at once: node xy, node town id, node on the outer ring, edges."""
    g = towns.side
    cells = g * g
    start = np.concatenate([[0], np.cumsum(cells)[:-1]])
    tid = np.repeat(np.arange(len(g)), cells)
    k = np.arange(cells.sum()) - start[tid]
    gt = g[tid]
    row, col = k // gt, k % gt
    half = (gt - 1) / 2.0
    s = towns.spacing[tid]
    lx, ly = (col - half) * s, (row - half) * s
    rad = half * s
    phi = np.arctan2(ly, lx)
    psi = rng.uniform(0, 2 * math.pi, (2, len(g)))
    lim = 1.08 + 0.12 * np.sin(2 * phi + psi[0][tid]) + 0.07 * np.sin(3 * phi + psi[1][tid])
    keep = np.hypot(lx, ly) <= np.maximum(rad, 1.0) * lim
    core = (np.abs(lx) <= 0.4 * rad) & (np.abs(ly) <= 0.4 * rad) & towns.core[tid]
    ring = np.zeros(len(k), dtype=bool)  # kept nodes with a missing lattice neighbour (8-neighbourhood)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            inside = (row + dr >= 0) & (row + dr < gt) & (col + dc >= 0) & (col + dc < gt)
            nb = np.where(inside, np.arange(len(k)) + dr * gt + dc, 0)
            ring |= ~(inside & keep[nb])
    ring &= keep
    jx = np.clip(rng.normal(0.0, 0.06, len(k)), -0.15, 0.15) * s
    jy = np.clip(rng.normal(0.0, 0.06, len(k)), -0.15, 0.15) * s
    c, sn = np.cos(towns.rot[tid]), np.sin(towns.rot[tid])
    x = towns.cx[tid] + c * lx - sn * ly + jx
    y = towns.cy[tid] + sn * lx + c * ly + jy
    idx = np.arange(len(k))
    mid = g[tid] // 2
    # horizontal (along a row) and vertical (along a column) street segments
    h = col < gt - 1
    v = row < gt - 1
    a = np.concatenate([idx[h], idx[v]])
    b = np.concatenate([idx[h] + 1, idx[v] + gt[v]])
    horiz = np.concatenate([np.ones(h.sum(), bool), np.zeros(v.sum(), bool)])
    line = np.where(horiz, row[a], col[a])
    ok = keep[a] & keep[b]
    a, b, horiz, line = a[ok], b[ok], horiz[ok], line[ok]
    ecore = core[a] & core[b]
    emid = mid[a]
    cls = np.full(len(a), RESIDENTIAL, dtype=np.int8)
    cls[(line - emid) % 4 == 0] = TERTIARY
    cls[(line == emid) & (gt[a] >= 8)] = SECONDARY
    rel = line - emid
    oneway = ecore & horiz & (np.abs(rel) % 2 == 1) & (np.abs(rel) <= 3)
    cls[oneway] = TERTIARY
    reverse = oneway & (((rel + 3) // 2) % 2 == 1)  # couplets alternate direction
    a, b = np.where(reverse, b, a), np.where(reverse, a, b)
    living = (cls == RESIDENTIAL) & ecore & (rng.random(len(a)) < 0.1)
    cls[living] = LIVING
    drop = ~ecore & (cls != SECONDARY) & (rng.random(len(a)) < 0.07)
    a, b, cls, oneway, ecore = a[~drop], b[~drop], cls[~drop], oneway[~drop], ecore[~drop]
    # keep only grid nodes inside the town outline; renumber
    new = np.cumsum(keep) - 1
    xy = np.column_stack([x[keep], y[keep]])
    return xy, tid[keep], ring[keep], _Edges(new[a], new[b], cls, oneway, ecore)


def _rural_points(
    rng: np.random.Generator, poly: Any, n: int, towns: _Towns, spacing_m: float
) -> np.ndarray:
    """Rural junctions: 55 % in hamlet clusters, the rest scattered; none inside a town."""
    tree = cKDTree(np.column_stack([towns.cx, towns.cy]))
    kq = min(3, len(towns))

    def outside_towns(p: np.ndarray) -> np.ndarray:
        d, i = tree.query(p, k=kq)
        d, i = d.reshape(len(p), kq), i.reshape(len(p), kq)
        return np.all(d > towns.radius[i] + 150.0, axis=1)

    n_clustered = int(0.55 * n)
    n_hamlets = max(1, n_clustered // 7)
    hamlets = _sample_uniform(rng, poly, n_hamlets)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        m = int((n - have) * 1.3) + 16
        pts = np.empty((m, 2))
        clustered = rng.random(m) < 0.55
        nc = int(clustered.sum())
        pts[clustered] = hamlets[rng.integers(0, n_hamlets, nc)] + rng.normal(0.0, 0.3 * spacing_m, (nc, 2))
        minx, miny, maxx, maxy = poly.bounds
        pts[~clustered] = np.column_stack(
            [rng.uniform(minx, maxx, m - nc), rng.uniform(miny, maxy, m - nc)]
        )
        pts = pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]
        pts = pts[outside_towns(pts)]
        out.append(pts)
        have += len(pts)
    return np.concatenate(out)[:n]


def _keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Order-free int64 key of node pairs."""
    return np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)


_STRIP_POINTS = 150_000


def _delaunay_edges(xy: np.ndarray, margin_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Edges (index pairs) of the Delaunay triangulation of distinct points.

    Large point sets are triangulated in overlapping vertical strips of at most
    ``_STRIP_POINTS`` points (GEOS needs about 1.4 kB per point); each edge is kept from the
    strip that holds its midpoint. Edges much longer than ``margin_m`` (m) near a strip border
    may differ from the global triangulation, which does not matter for road candidates.
    """
    n_strips = math.ceil(len(xy) / _STRIP_POINTS)
    if n_strips <= 1:
        return _delaunay_edges_geos(xy)
    xs = np.sort(xy[:, 0])
    cuts = np.concatenate([[-np.inf], xs[(np.arange(1, n_strips) * len(xy)) // n_strips], [np.inf]])
    parts_a: list[np.ndarray] = []
    parts_b: list[np.ndarray] = []
    for lo, hi in itertools.pairwise(cuts):
        sel = np.flatnonzero((xy[:, 0] >= lo - margin_m) & (xy[:, 0] < hi + margin_m))
        a, b = _delaunay_edges_geos(xy[sel])
        a, b = sel[a], sel[b]
        mid = (xy[a, 0] + xy[b, 0]) / 2.0
        keep = (mid >= lo) & (mid < hi)
        parts_a.append(a[keep])
        parts_b.append(b[keep])
    return np.concatenate(parts_a), np.concatenate(parts_b)


def _delaunay_edges_geos(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Delaunay edges of points with GEOS (via shapely), as index pairs.

    GEOS returns the edges as coordinates, which are exactly the input coordinates; they are
    mapped back to point indices by their x (continuous random coordinates never tie; an edge
    whose ends cannot be matched exactly is dropped).
    """
    ends = shapely.get_coordinates(shapely.delaunay_triangles(shapely.multipoints(xy), only_edges=True))
    order = np.argsort(xy[:, 0], kind="stable")
    pos = np.minimum(np.searchsorted(xy[order, 0], ends[:, 0]), len(xy) - 1)
    idx = order[pos]
    ok = ((xy[idx] == ends).all(axis=1)).reshape(-1, 2).all(axis=1)
    pairs = idx.reshape(-1, 2)[ok]
    return pairs[:, 0], pairs[:, 1]


def _unique(keys: np.ndarray) -> np.ndarray:
    """Sorted unique values (sort-based; faster than numpy 2's hash-based unique on int64 keys)."""
    k = np.sort(keys)
    first = np.ones(len(k), dtype=bool)
    first[1:] = k[1:] != k[:-1]
    return k[first]


def _lookup(sorted_keys: np.ndarray, order: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions (in the unsorted array) of ``keys``; -1 when absent."""
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    found = sorted_keys[pos] == keys
    return np.where(found, order[pos], -1)


# ---------------------------------------------------------------------------------------- main
def synthetic_regency(
    n_nodes: int = _REF_NODES, seed: int = 7, n_population_points: int | None = None
) -> SyntheticRegency:
    """Generate the synthetic regency "Kabupaten Sintetis" (SYNTHETIC data).

    Deterministic for a given ``(n_nodes, seed, n_population_points)``.

    Parameters
    ----------
    n_nodes : int
        Approximate number of road nodes (the result is within a few percent). The land grows
        with ``sqrt(n_nodes)`` (about 35 km across at 3,000 nodes) so road density stays the same.
    seed : int
        Random seed.
    n_population_points : int, optional
        Number of population points (default: ``n_nodes``). Total population is about
        ``200,000 * n_nodes / 3000`` people whatever the number of points.

    Returns
    -------
    SyntheticRegency

    Raises
    ------
    InputError
        When ``n_nodes`` is not an integer in ``[MIN_NODES, MAX_NODES]`` or the number of
        population points is not positive.
    """
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or not (
        MIN_NODES <= n_nodes <= MAX_NODES
    ):
        raise InputError(f"n_nodes must be an integer from {MIN_NODES} to {MAX_NODES:,}, got {n_nodes!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"seed must be an integer, got {seed!r}")
    n_nodes = int(n_nodes)
    n_points = n_nodes if n_population_points is None else n_population_points
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise InputError(f"n_population_points must be a positive integer, got {n_population_points!r}")
    tick = _Stopwatch()
    rng = np.random.default_rng(seed)
    r0 = _REF_RADIUS_M * math.sqrt(n_nodes / _REF_NODES)
    land = _make_land(rng, r0)
    towns = _place_towns(rng, land, n_nodes, r0)
    roads = _roads(rng, land, towns, n_nodes, r0, tick)
    xy, mass, is_town, centres, grid_nodes = roads.xy, roads.mass, roads.is_town, roads.centres, roads.grid_nodes

    network, bridge_edges, edge_cls = _build_network(
        xy, roads.ua, roads.ub, roads.cls, roads.oneway, roads.bridge, roads.maxspeed, roads.curve_row, roads.interior
    )
    del roads
    tick("before: towns table, stations, population, areas")
    # ---- towns table, stations, population, areas (each from its own random stream)
    kec = _kecamatan_seats(np.random.default_rng([seed, 1]), towns, xy, mass, is_town, centres, n_nodes)
    stations = _stations(np.random.default_rng([seed, 2]), network, edge_cls, towns, kec, centres, xy, mass, seed)
    population = _population(
        np.random.default_rng([seed, 3]), towns, land, xy, mass, is_town, int(n_points), n_nodes, seed
    )
    areas = _areas(np.random.default_rng([seed, 4]), land, xy, mass, is_town, kec, n_nodes, seed)
    town_lon, town_lat = _to_lonlat(xy[centres, 0], xy[centres, 1])
    towns_df = pd.DataFrame(
        {
            "name": [_town_name(i, bool(towns.island[i])) for i in range(len(towns))],
            "kecamatan": [kec.names[i] for i in range(len(towns))],
            "lon": town_lon,
            "lat": town_lat,
            "node": centres,
            "n_grid_nodes": grid_nodes,
            "capital": np.arange(len(towns)) == 0,
            "island": towns.island,
        }
    )
    towns_df.attrs["source"] = "SYNTHETIC: " + _source(seed)
    river = _geom_to_lonlat(shapely.intersection(land.river, land.main))
    result = SyntheticRegency(
        name=NAME,
        network=network,
        stations=stations,
        population=population,
        areas=areas,
        boundary=_geom_to_lonlat(land.both),
        island=_geom_to_lonlat(land.island),
        river=river,
        bridge_edges=bridge_edges,
        towns=towns_df,
        seed=int(seed),
    )
    log.info(
        "synthetic regency: %d nodes, %d edges, %d stations, %d population points in %.2f s",
        network.n_nodes,
        network.n_edges,
        len(stations),
        len(population),
        time.perf_counter() - tick.start,
    )
    return result


@dataclass
class _RoadDraft:
    """The undirected road graph before it becomes a RoadNetwork (local frame, metres)."""

    xy: np.ndarray
    mass: np.ndarray  # 0 main island, 1 small island
    is_town: np.ndarray
    centres: np.ndarray  # centre node of each town
    grid_nodes: np.ndarray  # street-grid nodes generated for each town
    ua: np.ndarray
    ub: np.ndarray  # one-way edges run ua -> ub
    cls: np.ndarray
    oneway: np.ndarray
    bridge: np.ndarray
    maxspeed: np.ndarray  # index into _MAXSPEEDS
    curve_row: np.ndarray  # row in `interior`, -1 for straight edges
    interior: np.ndarray  # (k, _N_CURVE, 2) intermediate points of the curved edges


def _roads(
    rng: np.random.Generator, land: _Land, towns: _Towns, n_nodes: int, r0: float, tick: _Stopwatch
) -> _RoadDraft:
    """Town grids, rural roads, river and bridges, arterials, links, driveways, curves, parallel edges."""
    town_xy, town_of, town_ring, tedges = _town_grids(rng, towns)
    n_town_nodes = len(town_xy)
    # rural junction spacing that gives the wanted node density
    n_rural_main = max(20, int(0.51 * n_nodes))
    n_rural_island = max(6, int(0.03 * n_nodes))
    spacing = math.sqrt(land.main.area / n_rural_main)
    rural_main = _rural_points(rng, land.main, n_rural_main, towns, spacing)
    rural_island = _rural_points(rng, land.island, n_rural_island, towns, spacing)
    xy = np.concatenate([town_xy, rural_main, rural_island])
    n = len(xy)
    is_town = np.zeros(n, dtype=bool)
    is_town[:n_town_nodes] = True
    mass = np.zeros(n, dtype=np.int8)  # 0 main island, 1 small island
    mass[:n_town_nodes] = towns.island[town_of]
    mass[n_town_nodes + len(rural_main) :] = 1

    tick("before: candidate rural edges: Delaunay, no town")
    # ---- candidate rural edges: Delaunay, no town-town pairs, same landmass, short, on land
    # interior town nodes cannot touch a rural road: triangulate the towns' outer rings only
    tri_nodes = np.concatenate([np.flatnonzero(town_ring), np.arange(n_town_nodes, n)])
    ca, cb = _delaunay_edges(xy[tri_nodes], margin_m=8.0 * spacing)
    ca, cb = tri_nodes[ca], tri_nodes[cb]
    ok = ~(is_town[ca] & is_town[cb]) & (mass[ca] == mass[cb])
    ca, cb = ca[ok], cb[ok]
    clen = np.hypot(*(xy[ca] - xy[cb]).T)
    # an edge shorter than twice the clearance of its ends from the coast is surely on land
    clearance = 3.0 * spacing
    inland = shapely.contains_xy(shapely.buffer(land.main, -clearance), xy[:, 0], xy[:, 1])
    check = np.flatnonzero(~(inland[ca] & inland[cb] & (clen < 2.0 * clearance)))
    on_land = np.ones(len(ca), dtype=bool)
    for t in (0.25, 0.5, 0.75):
        p = xy[ca[check]] + t * (xy[cb[check]] - xy[ca[check]])
        on_land[check] &= shapely.contains_xy(land.both, p[:, 0], p[:, 1])
    long = np.flatnonzero(on_land & (clen > 1.5 * spacing))  # long edges: check every ~1/10 of them
    for t in np.linspace(0.05, 0.95, 10):
        p = xy[ca[long]] + t * (xy[cb[long]] - xy[ca[long]])
        on_land[long] &= shapely.contains_xy(land.both, p[:, 0], p[:, 1])
    ca, cb, clen = ca[on_land], cb[on_land], clen[on_land]

    tick("before: the river: drop every crossing edge exce")
    # ---- the river: drop every crossing edge except a few bridges
    off = land.river_offset(xy[:, 0], xy[:, 1])
    sides_differ = np.sign(off[ca]) != np.sign(off[cb])
    near = (mass[ca] == 0) & (sides_differ | (np.minimum(np.abs(off[ca]), np.abs(off[cb])) < clen))
    near_idx = np.flatnonzero(near)
    lines = shapely.linestrings(
        np.stack([xy[ca[near_idx]], xy[cb[near_idx]]], axis=1)
    )
    crossing = np.zeros(len(ca), dtype=bool)
    crossing[near_idx] = shapely.intersects(lines, land.river)
    bridge = _choose_bridges(rng, land, xy, ca, cb, clen, crossing, r0)
    keep = ~crossing | bridge
    ca, cb, clen, bridge = ca[keep], cb[keep], clen[keep], bridge[keep]

    tick("before: rural network: spanning tree (town grids")
    # ---- rural network: spanning tree (town grids count as already joined) plus some loops
    tlen = np.hypot(*(xy[tedges.a] - xy[tedges.b]).T)
    n_t = len(tedges.a)
    ga = np.concatenate([tedges.a, ca])
    gb = np.concatenate([tedges.b, cb])
    graph = sp.coo_matrix((np.concatenate([np.full(n_t, 1e-3), clen]), (ga, gb)), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    tkey = np.sort(_keys(tree.row, tree.col, n))
    in_tree = _lookup(tkey, np.arange(len(tkey)), _keys(ca, cb, n)) >= 0
    q50 = float(np.median(clen))
    extra = ~in_tree & (clen < 2.5 * spacing) & (rng.random(len(ca)) < np.where(clen < q50, 0.32, 0.08))
    chosen = in_tree | extra | bridge
    ccls = np.where(clen < 0.4 * spacing, RESIDENTIAL, UNCLASSIFIED).astype(np.int8)
    ccls[in_tree & (ccls == UNCLASSIFIED) & (rng.random(len(ca)) < 0.2)] = TRACK
    ccls[extra & (rng.random(len(ca)) < 0.45)] = TRACK
    ccls[bridge & (ccls == TRACK)] = UNCLASSIFIED

    tick("before: arterials between neighbouring towns")
    # ---- arterials between neighbouring towns
    all_a = np.concatenate([tedges.a, ca])
    all_b = np.concatenate([tedges.b, cb])
    all_len = np.concatenate([tlen, clen])
    node_town = np.full(n, -1, dtype=np.int64)
    node_town[:n_town_nodes] = town_of
    centres = _town_centre_nodes(towns, xy, node_town, mass)
    art = _arterials(rng, towns, xy, centres, n, tedges, all_a, all_b, all_len, chosen)
    is_art = art < 127
    chosen |= is_art[n_t:]
    tick("before: assemble the undirected edge list")
    # ---- assemble the undirected edge list
    ua = np.concatenate([tedges.a, ca[chosen]])
    ub = np.concatenate([tedges.b, cb[chosen]])
    ucls = np.concatenate([tedges.cls, ccls[chosen]])
    uart = np.concatenate([art[:n_t], art[n_t:][chosen]])
    ucls = np.where(uart < ucls, uart, ucls).astype(np.int8)
    uone = np.concatenate([tedges.oneway, np.zeros(int(chosen.sum()), bool)])
    ubridge = np.concatenate([np.zeros(n_t, bool), bridge[chosen]])
    urural = np.concatenate([np.zeros(n_t, bool), np.ones(int(chosen.sum()), bool)])
    ulen = np.hypot(*(xy[ua] - xy[ub]).T)
    # *_link ramps where a minor road meets an arterial
    node_art = np.full(n, 127, dtype=np.int16)
    arts = uart < 127
    np.minimum.at(node_art, ua[arts], uart[arts])
    np.minimum.at(node_art, ub[arts], uart[arts])
    ends = np.minimum(node_art[ua], node_art[ub])
    link = (
        ~arts
        & ~(is_town[ua] | is_town[ub])
        & ~uone
        & (ulen < 400.0)
        & np.isin(ucls, [TERTIARY, UNCLASSIFIED, RESIDENTIAL])
        & ((node_art[ua] < 127) != (node_art[ub] < 127))
        & (ends <= SECONDARY)
        & (rng.random(len(ua)) < 0.12)
    )
    for major, minor in _LINK_OF.items():
        ucls[link & (ends == major)] = minor
    tick("before: service driveways off town streets")
    # ---- service driveways off town streets
    pick = np.flatnonzero(rng.random(n_town_nodes) < 0.07)
    tid = town_of[pick]
    beta = towns.rot[tid] + math.pi / 4 + rng.integers(0, 4, len(pick)) * math.pi / 2 + rng.normal(0, 0.15, len(pick))
    stub = xy[pick] + 0.42 * towns.spacing[tid][:, None] * np.column_stack([np.cos(beta), np.sin(beta)])
    inside = shapely.contains_xy(land.both, stub[:, 0], stub[:, 1])
    pick, stub = pick[inside], stub[inside]
    stub_idx = np.arange(n, n + len(pick))
    xy = np.concatenate([xy, stub])
    mass = np.concatenate([mass, mass[pick]])
    node_town = np.concatenate([node_town, np.full(len(pick), -1, dtype=np.int64)])
    is_town = np.concatenate([is_town, np.ones(len(pick), bool)])
    n = len(xy)
    ua = np.concatenate([ua, pick])
    ub = np.concatenate([ub, stub_idx])
    ucls = np.concatenate([ucls, np.full(len(pick), SERVICE, np.int8)])
    uart = np.concatenate([uart, np.full(len(pick), 127, np.int16)])
    uone = np.concatenate([uone, np.zeros(len(pick), bool)])
    ubridge = np.concatenate([ubridge, np.zeros(len(pick), bool)])
    urural = np.concatenate([urural, np.zeros(len(pick), bool)])
    ulen = np.hypot(*(xy[ua] - xy[ub]).T)

    tick("before: maxspeed tags")
    # ---- maxspeed tags
    town_edge = is_town[ua] | is_town[ub]
    ums = np.zeros(len(ua), dtype=np.int8)
    r = rng.random(len(ua))
    ums[(ucls == TRUNK) & ~town_edge & (r < 0.35)] = _MS["80"]
    ums[(ucls == TRUNK) & ~town_edge & (r >= 0.35) & (r < 0.5)] = _MS["ID:rural"]
    ums[(ucls == TRUNK) & town_edge & (r < 0.3)] = _MS["50"]
    ums[(ucls == PRIMARY) & ~town_edge & (r < 0.2)] = _MS["60"]
    ums[(ucls == PRIMARY) & town_edge & (r < 0.2)] = _MS["40"]
    ums[(ucls == SECONDARY) & ~town_edge & (r < 0.1)] = _MS["50"]
    ums[(ucls == SECONDARY) & town_edge & (r < 0.1)] = _MS["ID:urban"]
    ums[(ucls == RESIDENTIAL) & town_edge & (r < 0.04)] = _MS["30"]

    tick("before: curved geometries (never across the rive")
    # ---- curved geometries (never across the river or off the coast)
    bend = np.zeros(len(ua))
    r = rng.random(len(ua))
    rural_minor = urural & ~ubridge & (uart >= 127) & (ulen > 250.0)
    bend[rural_minor & (r < 0.55)] = rng.uniform(0.05, 0.16, int((rural_minor & (r < 0.55)).sum()))
    rural_art = urural & ~ubridge & (uart < 127) & (ulen > 250.0)
    bend[rural_art & (r < 0.35)] = rng.uniform(0.02, 0.06, int((rural_art & (r < 0.35)).sum()))
    bend *= np.where(rng.random(len(ua)) < 0.5, -1.0, 1.0)
    wiggle = rng.uniform(-0.3, 0.3, len(ua))
    bent = np.flatnonzero(bend)
    interior = _curve_points(xy[ua[bent]], xy[ub[bent]], bend[bent], wiggle[bent])
    ok = _valid_curves(land, xy, ua[bent], ub[bent], interior)
    interior = interior[ok]
    curve_row = np.full(len(ua), -1, dtype=np.int64)  # row of each curved edge in `interior`
    curve_row[bent[ok]] = np.arange(int(ok.sum()))

    tick("before: a few parallel edges (same ends, other r")
    # ---- a few parallel edges (same ends, other route and class): fastest-parallel-edge rule
    n_par = max(4, n_nodes // 1500)
    pool = np.flatnonzero(urural & ~ubridge & (curve_row < 0) & ~uone & (ulen > 300.0) & (uart >= 127))
    par = np.sort(rng.choice(pool, size=min(n_par, len(pool)), replace=False))
    pbend = rng.uniform(0.12, 0.25, len(par)) * np.where(rng.random(len(par)) < 0.5, -1.0, 1.0)
    pint = _curve_points(xy[ua[par]], xy[ub[par]], pbend, np.zeros(len(par)))
    pok = _valid_curves(land, xy, ua[par], ub[par], pint)
    par, pint = par[pok], pint[pok]
    pcls = rng.choice(np.array([UNCLASSIFIED, TRACK, TERTIARY], dtype=np.int8), size=len(par))
    ua = np.concatenate([ua, ua[par]])
    ub = np.concatenate([ub, ub[par]])
    ucls = np.concatenate([ucls, pcls])
    uone = np.concatenate([uone, np.zeros(len(par), bool)])
    ubridge = np.concatenate([ubridge, np.zeros(len(par), bool)])
    ums = np.concatenate([ums, np.zeros(len(par), np.int8)])
    curve_row = np.concatenate([curve_row, len(interior) + np.arange(len(par))])
    interior = np.concatenate([interior, pint])

    tick("before: keep the main road component and the isl")
    # ---- keep the main road component and the island's; renumber
    undirected = sp.coo_matrix((np.ones(len(ua)), (ua, ub)), shape=(n, n))
    _, comp = connected_components(undirected, directed=False)
    island_comp = int(np.argmax(np.bincount(comp[mass == 1])))
    keep_node = (comp == comp[centres[0]]) | (comp == island_comp)
    new = np.cumsum(keep_node) - 1
    ke = keep_node[ua]
    ua, ub = new[ua[ke]], new[ub[ke]]
    ucls, uone, ubridge, ums, curve_row = ucls[ke], uone[ke], ubridge[ke], ums[ke], curve_row[ke]
    xy, mass, is_town, node_town = xy[keep_node], mass[keep_node], is_town[keep_node], node_town[keep_node]
    n = len(xy)
    centres = _town_centre_nodes(towns, xy, node_town, mass)
    grid_nodes = np.bincount(town_of, minlength=len(towns))
    return _RoadDraft(xy, mass, is_town, centres, grid_nodes, ua, ub, ucls, uone, ubridge, ums, curve_row, interior)


# ---------------------------------------------------------------------------------------- helpers
def _choose_bridges(
    rng: np.random.Generator,
    land: _Land,
    xy: np.ndarray,
    ca: np.ndarray,
    cb: np.ndarray,
    clen: np.ndarray,
    crossing: np.ndarray,
    r0: float,
) -> np.ndarray:
    """Pick a few short river-crossing edges, spread along the river, as bridges."""
    bridge = np.zeros(len(ca), dtype=bool)
    idx = np.flatnonzero(crossing)
    if len(idx) == 0:
        return bridge
    short = clen[idx] <= 1.2 * float(np.median(clen[idx]))
    idx = idx[short]
    lines = shapely.linestrings(np.stack([xy[ca[idx]], xy[cb[idx]]], axis=1))
    where = shapely.intersection(lines, land.river)
    single = shapely.get_type_id(where) == 0  # exactly one crossing point
    on_land = np.zeros(len(idx), dtype=bool)
    on_land[single] = shapely.contains_xy(land.main, shapely.get_x(where[single]), shapely.get_y(where[single]))
    idx = idx[on_land]
    if len(idx) == 0:
        return bridge
    along = ((xy[ca[idx]] + xy[cb[idx]]) / 2.0) @ land.ex
    n_bridges = max(3, round(4 * r0 / _REF_RADIUS_M))
    lo, hi = float(along.min()), float(along.max())
    targets = lo + (np.arange(n_bridges) + rng.uniform(0.3, 0.7, n_bridges)) / n_bridges * (hi - lo)
    picks = np.unique(np.argmin(np.abs(along[None, :] - targets[:, None]), axis=1))
    bridge[idx[picks]] = True
    return bridge


def _town_centre_nodes(towns: _Towns, xy: np.ndarray, node_town: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Index of the node of each town nearest to its centre (any node of its landmass if none)."""
    idx = np.flatnonzero(node_town >= 0)
    t = node_town[idx]
    d = np.hypot(xy[idx, 0] - towns.cx[t], xy[idx, 1] - towns.cy[t])
    order = np.lexsort((d, t))
    first = np.ones(len(order), dtype=bool)
    first[1:] = t[order][1:] != t[order][:-1]
    out = np.full(len(towns), -1, dtype=np.int64)
    out[t[order][first]] = idx[order][first]
    for i in np.flatnonzero(out < 0):  # a town whose grid was dropped entirely (never seen in practice)
        same = np.flatnonzero(mass == int(towns.island[i]))
        out[i] = same[np.argmin(np.hypot(xy[same, 0] - towns.cx[i], xy[same, 1] - towns.cy[i]))]
    return out


def _arterials(
    rng: np.random.Generator,
    towns: _Towns,
    xy: np.ndarray,
    centres: np.ndarray,
    n: int,
    tedges: _Edges,
    all_a: np.ndarray,
    all_b: np.ndarray,
    all_len: np.ndarray,
    chosen: np.ndarray,
) -> np.ndarray:
    """Arterial class of each candidate edge (127 = none): shortest routes between neighbouring towns.

    One multi-source Dijkstra from all town centres partitions the candidate graph into town
    cells; each edge joining two cells gives a route between those towns (the cheapest such edge
    per pair). A spanning tree of those routes plus some others become trunk/primary/secondary.
    """
    n_t = len(tedges.a)
    out = np.full(len(all_a), 127, dtype=np.int16)
    main = np.flatnonzero(~towns.island)
    if len(main) < 2:
        return out
    w = all_len.copy()
    w[:n_t] *= np.where(tedges.cls == SECONDARY, 0.5, np.where(tedges.cls == TERTIARY, 0.8, 1.0))
    w[n_t:] *= np.where(chosen, 1.0, 1.25)
    usable = np.ones(len(all_a), dtype=bool)
    usable[:n_t] = ~tedges.oneway
    graph = sp.csr_matrix((w[usable], (all_a[usable], all_b[usable])), shape=(n, n))
    src_nodes = centres[main]
    dist, pred, src = dijkstra(graph, directed=False, indices=src_nodes, return_predecessors=True, min_only=True)
    town_of_src = np.full(n, -1, dtype=np.int64)
    town_of_src[src_nodes] = np.arange(len(main))
    cell = np.where(src >= 0, town_of_src[np.maximum(src, 0)], -1)
    e = np.flatnonzero(usable)
    sa, sb = cell[all_a[e]], cell[all_b[e]]
    ok = (sa >= 0) & (sb >= 0) & (sa != sb)
    e, sa, sb = e[ok], sa[ok], sb[ok]
    if len(e) == 0:
        return out
    cost = dist[all_a[e]] + w[e] + dist[all_b[e]]
    pair = np.minimum(sa, sb) * len(main) + np.maximum(sa, sb)
    order = np.lexsort((cost, pair))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair[order][1:] != pair[order][:-1]
    sel = order[first]
    e, sa, sb, cost = e[sel], sa[sel], sb[sel], cost[sel]
    tmst = minimum_spanning_tree(sp.coo_matrix((cost, (sa, sb)), shape=(len(main), len(main)))).tocoo()
    mst_pairs = np.minimum(tmst.row, tmst.col).astype(np.int64) * len(main) + np.maximum(tmst.row, tmst.col)
    in_mst = np.isin(np.minimum(sa, sb) * len(main) + np.maximum(sa, sb), mst_pairs)
    ti, tj = main[sa], main[sb]
    straight = np.hypot(towns.cx[ti] - towns.cx[tj], towns.cy[ti] - towns.cy[tj])
    extra = ~in_mst & (rng.random(len(e)) < 0.4) & (cost <= 1.6 * straight)
    keep = in_mst | extra
    e, sa, sb, in_mst = e[keep], sa[keep], sb[keep], in_mst[keep]
    # trunk: the spanning-tree routes joining the capital to the biggest towns (a national road)
    tree_adj = sp.coo_matrix((np.ones(len(tmst.row)), (tmst.row, tmst.col)), shape=(len(main), len(main)))
    _, parent = breadth_first_order(tree_adj, 0, directed=False, return_predecessors=True)
    trunk_pairs: list[int] = []
    for big in range(1, max(2, math.ceil(0.05 * len(main)))):
        node = big
        while parent[node] >= 0:
            key = int(min(node, parent[node]) * len(main) + max(node, parent[node]))
            if key in trunk_pairs:
                break
            trunk_pairs.append(key)
            node = parent[node]
    if len(trunk_pairs) > 1 and len(trunk_pairs) >= len(tmst.row):
        trunk_pairs.pop()  # a tiny regency keeps at least one primary road
    pkey = np.minimum(sa, sb) * len(main) + np.maximum(sa, sb)
    is_trunk = np.isin(pkey, np.fromiter(trunk_pairs, dtype=np.int64, count=len(trunk_pairs)))
    cls = np.where(is_trunk, TRUNK, np.where(in_mst, PRIMARY, SECONDARY)).astype(np.int16)
    np.minimum.at(out, e, cls)
    # walk both halves of each route back to its town centre, all routes at once
    ukey = _keys(all_a, all_b, n)
    korder = np.argsort(ukey)
    skeys = ukey[korder]
    cur = np.concatenate([all_a[e], all_b[e]])
    ccls = np.concatenate([cls, cls])
    while cur.size:
        p = pred[cur]
        ok = p >= 0
        cur, p, ccls = cur[ok], p[ok], ccls[ok]
        edge = _lookup(skeys, korder, _keys(p, cur, n))
        np.minimum.at(out, edge, ccls)
        cur = p
    return out


def _curve_points(a: np.ndarray, b: np.ndarray, bend: np.ndarray, wiggle: np.ndarray) -> np.ndarray:
    """Intermediate points (m, 3, 2) of gently curved roads from a to b (bend: offset / length)."""
    t = np.array([0.25, 0.5, 0.75])
    d = b - a
    length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / length[:, None]
    amp = length[:, None] * bend[:, None] * (np.sin(math.pi * t)[None, :] + wiggle[:, None] * np.sin(2 * math.pi * t))
    return a[:, None, :] + t[None, :, None] * d[:, None, :] + normal[:, None, :] * amp[:, :, None]


def _valid_curves(land: _Land, xy: np.ndarray, ua: np.ndarray, ub: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """Which curves (edge ends ``ua``/``ub``, intermediate points ``interior``) stay on land off the river."""
    pts = np.concatenate([xy[ua][:, None, :], interior, xy[ub][:, None, :]], axis=1)
    k = pts.shape[1]
    flat = pts.reshape(-1, 2)
    inside = shapely.contains_xy(land.both, flat[:, 0], flat[:, 1]).reshape(-1, k).all(axis=1)
    off = land.river_offset(flat[:, 0], flat[:, 1]).reshape(-1, k)
    length = np.hypot(*(xy[ua] - xy[ub]).T)
    near = (np.min(np.abs(off), axis=1) < length) | (np.sign(off).min(axis=1) != np.sign(off).max(axis=1))
    touches = np.zeros(len(ua), dtype=bool)
    if near.any():
        touches[near] = shapely.intersects(shapely.linestrings(pts[near]), land.river)
    return np.asarray(inside & ~touches)


def _build_network(
    xy: np.ndarray,
    ua: np.ndarray,
    ub: np.ndarray,
    ucls: np.ndarray,
    uone: np.ndarray,
    ubridge: np.ndarray,
    ums: np.ndarray,
    curve_row: np.ndarray,
    interior: np.ndarray,
) -> tuple[RoadNetwork, np.ndarray, np.ndarray]:
    """Directed edges (two per two-way road), polylines, haversine lengths, speeds and times."""
    rev = np.flatnonzero(~uone)
    du = np.concatenate([ua, ub[rev]])
    dv = np.concatenate([ub, ua[rev]])
    dsrc = np.concatenate([np.arange(len(ua)), rev])
    backwards = np.concatenate([np.zeros(len(ua), bool), np.ones(len(rev), bool)])
    drow = curve_row[dsrc]
    dcurved = drow >= 0
    counts = 2 + _N_CURVE * dcurved.astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    gx = np.empty(int(offsets[-1]))
    gy = np.empty(int(offsets[-1]))
    gx[offsets[:-1]], gy[offsets[:-1]] = xy[du, 0], xy[du, 1]
    gx[offsets[1:] - 1], gy[offsets[1:] - 1] = xy[dv, 0], xy[dv, 1]
    ce = np.flatnonzero(dcurved)
    inner = interior[drow[ce]]
    inner = np.where(backwards[ce][:, None, None], inner[:, ::-1, :], inner)
    pos = offsets[ce][:, None] + np.arange(1, _N_CURVE + 1)[None, :]
    gx[pos], gy[pos] = inner[..., 0], inner[..., 1]
    glon, glat = _to_lonlat(gx, gy)
    del gx, gy
    lon, lat = _to_lonlat(xy[:, 0], xy[:, 1])
    seg = np.zeros(len(glon))
    step = 1 << 20  # in chunks: haversine makes several temporaries per point
    for i in range(0, len(glon) - 1, step):
        j = min(i + step, len(glon) - 1)
        seg[i:j] = haversine_m(glon[i:j], glat[i:j], glon[i + 1 : j + 1], glat[i + 1 : j + 1])
    seg[offsets[1:-1] - 1] = 0.0  # the jump from one edge's end to the next edge's start
    length = np.add.reduceat(seg, offsets[:-1])
    dcls = ucls[dsrc].astype(np.int64)
    combo = dcls * len(_MAXSPEEDS) + ums[dsrc]
    present = np.flatnonzero(np.bincount(combo))
    index = np.full(len(_CLASSES) * len(_MAXSPEEDS), -1, dtype=np.int64)
    index[present] = np.arange(len(present))
    uniq, inv = present, index[combo]
    speeds, _, has_max = edge_speeds_kph(
        [_CLASSES[c // len(_MAXSPEEDS)] for c in uniq.tolist()],
        [(_MAXSPEEDS[c % len(_MAXSPEEDS)] or None) for c in uniq.tolist()],
    )
    network = RoadNetwork.from_arrays(
        node_ids=np.arange(1, len(xy) + 1, dtype=np.int64),
        lon=lon,
        lat=lat,
        edge_u=du,
        edge_v=dv,
        edge_length_m=length,
        edge_time_s=travel_times_s(length, speeds[inv]),
        edge_highway=np.asarray(_CLASSES)[dcls],
        edge_has_maxspeed=has_max[inv],
        geom_offsets=offsets,
        geom_lon=glon,
        geom_lat=glat,
        name=NAME,
        synthetic=True,
    )
    return network, np.flatnonzero(ubridge[dsrc]), dcls


@dataclass
class _Kecamatan:
    xy: np.ndarray  # seat coordinates (m)
    mass: np.ndarray  # landmass of each seat
    node: np.ndarray  # node index of each seat
    names: list[str]
    n_towns: int


def _town_name(i: int, island: bool) -> str:
    return "Pulau Sintetis" if island else f"Sintetis {i + 1:02d}"


def _kecamatan_seats(
    rng: np.random.Generator, towns: _Towns, xy: np.ndarray, mass: np.ndarray, is_town: np.ndarray,
    centres: np.ndarray, n_nodes: int,
) -> _Kecamatan:
    """Kecamatan seats: every town, then rural seats spread by farthest-point sampling."""
    n_kec = max(6, round(9 * n_nodes / _REF_NODES))
    n_rural = max(0, n_kec - len(towns))
    rural = np.flatnonzero(~is_town & (mass == 0))
    if len(rural) > 20_000:
        rural = np.sort(rng.choice(rural, 20_000, replace=False))
    main_towns = np.flatnonzero(~towns.island)
    mind, _ = cKDTree(xy[centres[main_towns]]).query(xy[rural])
    picked: list[int] = []
    for _ in range(min(n_rural, len(rural))):
        i = int(np.argmax(mind))
        picked.append(i)
        mind = np.minimum(mind, np.hypot(xy[rural, 0] - xy[rural[i], 0], xy[rural, 1] - xy[rural[i], 1]))
    seats = rural[np.asarray(picked, dtype=np.int64)]
    if len(seats):
        # farthest points sit on the coast: two Lloyd steps move each seat into the middle of its area
        fixed = xy[centres[main_towns]]
        for _ in range(2):
            _, owner = cKDTree(np.concatenate([fixed, xy[seats]])).query(xy[rural])
            owner -= len(fixed)
            mine = owner >= 0
            count = np.bincount(owner[mine], minlength=len(seats))
            mean = np.column_stack(
                [np.bincount(owner[mine], xy[rural[mine], c], minlength=len(seats)) for c in (0, 1)]
            ) / np.maximum(count, 1)[:, None]
            target = np.where(count[:, None] > 0, mean, xy[seats])
            _, nearest = cKDTree(xy[rural]).query(target)
            seats = rural[nearest]
        seats = _unique(seats)
    nodes = np.concatenate([centres, seats])
    width = max(2, len(str(len(nodes))))
    names: list[str] = []
    k = 0
    for i in range(len(nodes)):
        if i < len(towns) and towns.island[i]:
            names.append("Kecamatan Pulau Sintetis")
        else:
            k += 1
            names.append(f"Kecamatan Sintetis {k:0{width}d}")
    return _Kecamatan(xy[nodes], mass[nodes], nodes, names, len(towns))


_UNIT_ABBR = {"ambulance": "amb", "damkar": "dmk", "rescue": "rsc", "polisi": "pol", "bpbd": "bpbd", "pmi": "pmi",
              "sar": "sar"}


def _stations(
    rng: np.random.Generator,
    network: RoadNetwork,
    edge_cls: np.ndarray,
    towns: _Towns,
    kec: _Kecamatan,
    centres: np.ndarray,
    xy: np.ndarray,
    mass: np.ndarray,
    seed: int,
) -> tuple[Station, ...]:
    """Stations of every type with their units, each exactly on a well-connected road node."""
    _, scc = connected_components(network.csr, directed=True, connection="strong")
    good = (edge_cls != SERVICE) & (edge_cls != TRACK)
    good_node = np.zeros(network.n_nodes, dtype=bool)
    good_node[network.edge_u[good]] = True
    good_node[network.edge_v[good]] = True
    eligible = good_node & ((scc == scc[centres[0]]) | (scc == scc[centres[-1]]))
    art = edge_cls <= SECONDARY
    art_node = np.zeros(network.n_nodes, dtype=bool)
    art_node[network.edge_u[art]] = True
    trees: dict[tuple[int, bool], tuple[cKDTree, np.ndarray]] = {}
    for m in (0, 1):
        for on_art in (False, True):
            idx = np.flatnonzero(eligible & (mass == m) & (art_node if on_art else True))
            if len(idx):
                trees[(m, on_art)] = (cKDTree(xy[idx]), idx)
    used: set[int] = set()

    def pick(target: np.ndarray, m: int, on_art: bool = False) -> int:
        tree, idx = trees.get((m, on_art)) or trees[(m, False)]
        k = min(32, len(idx))
        _, near = tree.query(target, k=k)
        for j in np.atleast_1d(near):
            if int(idx[j]) not in used:
                used.add(int(idx[j]))
                return int(idx[j])
        return int(idx[np.atleast_1d(near)[0]])

    source = _source(seed)
    counters: dict[str, int] = {}
    out: list[Station] = []

    def add(kind: str, name: str, node: int, units: list[tuple[str, tuple[str, ...]]]) -> None:
        counters[kind] = counters.get(kind, 0) + 1
        sid = f"{kind}-{counters[kind]:02d}"
        per: dict[str, int] = {}
        unit_list = []
        for utype, caps in units:
            per[utype] = per.get(utype, 0) + 1
            unit_list.append(UnitConfig(id=f"{sid}-{_UNIT_ABBR[utype]}-{per[utype]}", type=utype, capabilities=caps))  # type: ignore[arg-type]
        out.append(
            Station(
                id=sid,
                name=name,
                type=kind,  # type: ignore[arg-type]
                lon=float(network.lon[node]),
                lat=float(network.lat[node]),
                source=source,
                units=tuple(unit_list),
            )
        )

    def near_centre(t: int, spread: float) -> np.ndarray:
        ang = rng.uniform(0, 2 * math.pi)
        return np.array([towns.cx[t], towns.cy[t]]) + spread * towns.radius[t] * rng.uniform(0, 1) * np.array(
            [math.cos(ang), math.sin(ang)]
        )

    als, bls = ("ALS",), ("BLS",)
    add("psc", "PSC 119 Kabupaten Sintetis", pick(near_centre(0, 0.15), 0),
        [("ambulance", als), ("ambulance", als), ("ambulance", bls)])
    add("rsud", "RSUD Kabupaten Sintetis", pick(near_centre(0, 0.4), 0), [("ambulance", als), ("ambulance", bls)])
    add("damkar", "Pos Damkar Induk Sintetis", pick(near_centre(0, 0.4), 0, on_art=True),
        [("damkar", ("water_tender",)), ("damkar", ("water_tender",)), ("rescue", ("extrication",))])
    add("bpbd", "BPBD Kabupaten Sintetis", pick(near_centre(0, 0.5), 0),
        [("bpbd", ("evacuation", "water_rescue")), ("rescue", ("extrication",))])
    add("polisi", "Polres Sintetis", pick(near_centre(0, 0.4), 0), [("polisi", ("patrol",)), ("polisi", ("patrol",))])
    add("pmi", "PMI Kabupaten Sintetis", pick(near_centre(0, 0.5), 0), [("pmi", bls)])
    add("sar", "Pos SAR Sintetis", pick(near_centre(0, 0.6), 0), [("sar", ("water_rescue", "search"))])
    main_towns = np.flatnonzero(~towns.island)
    for t in main_towns.tolist():
        short = kec.names[t].removeprefix("Kecamatan ")
        add("puskesmas", f"Puskesmas {short}", pick(near_centre(t, 0.3), 0), [("ambulance", bls)])
        if t > 0:
            add("polisi", f"Polsek {short}", pick(near_centre(t, 0.3), 0), [("polisi", ("patrol",))])
        if t % 3 == 1:
            add("damkar", f"Pos Damkar Sektor {short}", pick(near_centre(t, 0.3), 0, on_art=True),
                [("damkar", ("water_tender",))])
    n_amb = 0
    for j, i in enumerate(range(kec.n_towns, len(kec.node))):
        short = kec.names[i].removeprefix("Kecamatan ")
        add("puskesmas", f"Puskesmas {short}", pick(kec.xy[i], 0), [("ambulance", bls)])
        if j % 2 == 0:
            add("ambulance", f"Pos Ambulans 119 {short}", pick(kec.xy[i], 0, on_art=True), [("ambulance", bls)])
            n_amb += 1
    if n_amb == 0 and len(main_towns) > 1:
        mid = (np.array([towns.cx[0], towns.cy[0]]) + np.array([towns.cx[1], towns.cy[1]])) / 2.0
        add("ambulance", "Pos Ambulans 119 Sintetis", pick(mid, 0, on_art=True), [("ambulance", bls)])
    isl = int(np.flatnonzero(towns.island)[0])
    add("puskesmas", "Puskesmas Pulau Sintetis", pick(near_centre(isl, 0.2), 1), [("ambulance", bls)])
    return tuple(out)


def _population(
    rng: np.random.Generator,
    towns: _Towns,
    land: _Land,
    xy: np.ndarray,
    mass: np.ndarray,
    is_town: np.ndarray,
    n_points: int,
    n_nodes: int,
    seed: int,
) -> pd.DataFrame:
    """Population points, denser in towns, all on land; ``population`` in people (float)."""
    total = _PEOPLE_PER_NODE * n_nodes
    n_town = round(0.40 * n_points)
    n_island = round(0.08 * n_points)
    n_rural = n_points - n_town - n_island
    main_towns = np.flatnonzero(~towns.island)
    rural_nodes = np.flatnonzero(~is_town & (mass == 0))
    island_nodes = np.flatnonzero(mass == 1)

    def town_draw(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w = towns.side[main_towns].astype(float) ** 2
        t = main_towns[rng.choice(len(main_towns), size=m, p=w / w.sum())]
        base = np.column_stack([towns.cx[t], towns.cy[t]])
        return base, rng.normal(0.0, 0.45, (m, 2)) * towns.radius[t][:, None], towns.radius[t]

    def node_draw(nodes: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        base = xy[nodes[rng.integers(0, len(nodes), m)]]
        return base, rng.normal(0.0, 150.0, (m, 2)), np.full(m, np.inf)

    groups = [
        (n_town, 0.50, land.main, town_draw),
        (n_rural, 0.45, land.main, None),
        (n_island, 0.05, land.island, None),
    ]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    shares = sum(share for m, share, _, _ in groups if m > 0)
    for gi, (m, share, poly, draw) in enumerate(groups):
        if m <= 0:
            continue
        nodes = rural_nodes if gi == 1 else island_nodes

        def sample(k: int, draw: Any = draw, nodes: np.ndarray = nodes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return draw(k) if draw is not None else node_draw(nodes, k)

        base, jitter, limit = sample(m)
        pts = base + jitter
        for _ in range(30):
            bad = ~shapely.contains_xy(poly, pts[:, 0], pts[:, 1]) | (np.hypot(*jitter.T) > 1.15 * limit)
            if not bad.any():
                break
            b2, j2, l2 = sample(int(bad.sum()))
            base[bad], jitter[bad], limit[bad] = b2, j2, l2
            pts = base + jitter
        else:
            bad = ~shapely.contains_xy(poly, pts[:, 0], pts[:, 1])
            pts[bad] = base[bad]  # node / town-centre positions are on land
        weight = rng.lognormal(0.0, 0.5, m)
        parts.append((pts, weight / weight.sum() * share / shares * total))
    pts = np.concatenate([p for p, _ in parts])
    lon, lat = _to_lonlat(pts[:, 0], pts[:, 1])
    df = pd.DataFrame({"lon": lon, "lat": lat, "population": np.concatenate([w for _, w in parts])})
    df.attrs["source"] = "SYNTHETIC: " + _source(seed)
    return df


def _areas(
    rng: np.random.Generator,
    land: _Land,
    xy: np.ndarray,
    mass: np.ndarray,
    is_town: np.ndarray,
    kec: _Kecamatan,
    n_nodes: int,
    seed: int,
) -> gpd.GeoDataFrame:
    """Desa polygons: a Voronoi tiling of each landmass from seeds (denser in towns), clipped to it."""
    n_desa = max(12, round(n_nodes / 50))
    n_island = max(2, round(n_desa * float(np.mean(mass == 1))))
    geoms: list[np.ndarray] = []
    kecs: list[np.ndarray] = []
    for m, poly, count in ((0, land.main, n_desa - n_island), (1, land.island, n_island)):
        town_nodes = np.flatnonzero(is_town & (mass == m))
        other = np.flatnonzero(~is_town & (mass == m))
        n_t = min(len(town_nodes), count // 2 if m == 0 else 0)
        seeds = np.concatenate(
            [rng.choice(town_nodes, n_t, replace=False), rng.choice(other, min(len(other), count - n_t), replace=False)]
        )
        sxy = xy[seeds]
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(sxy), extend_to=poly))
        pt_i, cell_i = shapely.STRtree(cells).query(shapely.points(sxy), predicate="within")
        cell_of = np.empty(len(seeds), dtype=np.int64)
        cell_of[pt_i] = cell_i
        geoms.append(shapely.intersection(cells[cell_of], poly))
        seats = np.flatnonzero(kec.mass == m)
        _, nearest = cKDTree(kec.xy[seats]).query(sxy)
        kecs.append(seats[nearest])
    geom = _geom_to_lonlat(np.concatenate(geoms))
    width = max(2, len(str(len(geom))))
    kec_idx = np.concatenate(kecs)
    gdf = gpd.GeoDataFrame(
        {
            "name": [f"Desa Sintetis {i + 1:0{width}d}" for i in range(len(geom))],
            "kecamatan": [kec.names[k] for k in kec_idx.tolist()],
        },
        geometry=geom,
        crs="EPSG:4326",
    )
    gdf.attrs["source"] = "SYNTHETIC: " + _source(seed)
    return gdf
