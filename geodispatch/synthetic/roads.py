"""The synthetic road network: town grids, rural roads, bridges, arterials, curves, the RoadNetwork."""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import breadth_first_order, connected_components, dijkstra, minimum_spanning_tree
from scipy.spatial import cKDTree

from geodispatch.geometry import haversine_m
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.speeds import edge_speeds_kph, travel_times_s
from geodispatch.synthetic._common import (
    _CLASSES,
    _LINK_OF,
    _MAXSPEEDS,
    _MS,
    _N_CURVE,
    _REF_RADIUS_M,
    LIVING,
    NAME,
    PRIMARY,
    RESIDENTIAL,
    SECONDARY,
    SERVICE,
    TERTIARY,
    TRACK,
    TRUNK,
    UNCLASSIFIED,
    _Stopwatch,
    _to_lonlat,
)
from geodispatch.synthetic.land import _Land, _sample_uniform, _Towns

log = logging.getLogger(__name__)


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
