"""Coverage: isochrones, point times, statistics and hotspots against slow, obvious references."""

from __future__ import annotations

from itertools import pairwise

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.ops import substring

from geodispatch.coverage.hotspots import hotspots
from geodispatch.coverage.isochrones import edge_substrings, polygons_for_thresholds, reached_pieces
from geodispatch.coverage.stats import _union_length, road_covered_m
from geodispatch.coverage.surface import point_times, station_node_times
from geodispatch.network.graph import RoadNetwork
from geodispatch.regions import Station
from tests.conftest import weighted_quantile_ref

LON0, LAT0 = 110.0, -7.0
M_PER_DEG_LAT = 111_320.0


def _lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return LON0 + x / (M_PER_DEG_LAT * np.cos(np.radians(LAT0))), LAT0 + y / M_PER_DEG_LAT


def grid_network(n: int = 9, spacing: float = 200.0, seed: int = 0, one_way: float = 0.0) -> RoadNetwork:
    """A square street grid, two-way roads at random speeds (15-60 km/h), some one-way edges."""
    rng = np.random.default_rng(seed)
    ij = np.array([(i, j) for j in range(n) for i in range(n)])
    lon, lat = _lonlat(ij[:, 0] * spacing, ij[:, 1] * spacing)
    u, v = [], []
    for j in range(n):
        for i in range(n):
            a = j * n + i
            if i + 1 < n:
                u.append(a)
                v.append(a + 1)
            if j + 1 < n:
                u.append(a)
                v.append(a + n)
    u_arr, v_arr = np.array(u), np.array(v)
    keep_back = rng.random(len(u_arr)) >= one_way
    eu = np.concatenate([u_arr, v_arr[keep_back]])
    ev = np.concatenate([v_arr, u_arr[keep_back]])
    speed = np.concatenate([rng.uniform(15, 60, len(u_arr)), np.zeros(int(keep_back.sum()))]) / 3.6
    speed[len(u_arr):] = speed[: len(u_arr)][keep_back]  # same speed both ways
    length = np.full(len(eu), spacing)
    return RoadNetwork.from_arrays(np.arange(n * n), lon, lat, eu, ev, length, length / speed, name="grid")


def _station(i: int, lon: float, lat: float, kind: str = "psc") -> Station:
    return Station(id=f"s{i}", type=kind, lon=lon, lat=lat, source="test")  # type: ignore[arg-type]


def _metric_poly_contains(poly: shapely.Geometry, net: RoadNetwork, nodes: np.ndarray) -> np.ndarray:
    xy = net.node_xy[nodes]
    return shapely.intersects_xy(poly, xy[:, 0], xy[:, 1])


def reference_times(net: RoadNetwork, stations, points) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Times to nodes and points by inserting stations and points as graph nodes (networkx)."""
    g = nx.DiGraph()
    inserted: dict[int, list[tuple[float, str]]] = {}
    for tag, snap in (("s", stations), ("p", points)):
        for i in range(len(snap.edge)):
            if snap.edge[i] < 0:
                continue
            e = int(snap.edge[i])
            inserted.setdefault(e, []).append((float(snap.fraction[i]), f"{tag}{i}"))
            twin = int(net.edge_between([net.edge_v[e]], [net.edge_u[e]])[0])
            if twin >= 0:
                inserted.setdefault(twin, []).append((1.0 - float(snap.fraction[i]), f"{tag}{i}"))
    for e in range(net.n_edges):
        a, b, t = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_time_s[e])
        chain = [(0.0, a), *sorted(inserted.get(e, [])), (1.0, b)]
        for (f0, n0), (f1, n1) in pairwise(chain):
            w = (f1 - f0) * t
            if not g.has_edge(n0, n1) or g[n0][n1]["w"] > w:
                g.add_edge(n0, n1, w=w)
    sources = [f"s{i}" for i in range(len(stations.edge)) if stations.edge[i] >= 0]
    dist = nx.multi_source_dijkstra_path_length(g, sources, weight="w")
    node_t = np.array([dist.get(i, np.inf) for i in range(net.n_nodes)])
    point_t = np.array([dist.get(f"p{i}", np.inf) for i in range(len(points.edge))])
    return node_t, point_t


@pytest.fixture(scope="module")
def grid() -> RoadNetwork:
    return grid_network(n=9, spacing=200.0, seed=1, one_way=0.15)


def _snap(net: RoadNetwork, xs, ys):  # type: ignore[no-untyped-def]
    lon, lat = _lonlat(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    return net.snap(lon, lat)


def test_node_and_point_times_equal_networkx_with_inserted_points(grid: RoadNetwork) -> None:
    rng = np.random.default_rng(7)
    stations = _snap(grid, [310.0, 1290.0], [400.0, 1130.0])  # part-way along edges
    points = _snap(grid, rng.uniform(0, 1600, 400), rng.uniform(0, 1600, 400))
    _, node_t = station_node_times(grid, stations)
    pt = point_times(grid, node_t, points, stations)
    ref_node, ref_point = reference_times(grid, stations, points)
    np.testing.assert_allclose(node_t, ref_node, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(pt, ref_point, rtol=1e-9, atol=1e-6)
    # covered population equals a per-point brute-force check
    pop = rng.integers(1, 50, len(pt)).astype(float)
    for minutes in (1, 2, 3):
        assert pop[pt <= minutes * 60].sum() == pop[ref_point <= minutes * 60].sum()


def test_edge_substrings_equal_shapely_substring(grid: RoadNetwork) -> None:

    # curved edges: a network whose edges have multi-vertex polylines
    rng = np.random.default_rng(3)
    n = 40
    lon, lat = _lonlat(rng.uniform(0, 3000, n), rng.uniform(0, 3000, n))
    u = np.arange(n - 1)
    v = np.arange(1, n)
    geoms = []
    for a, b in zip(u, v, strict=True):
        k = rng.integers(0, 6)
        mids = np.column_stack([np.linspace(lon[a], lon[b], k + 2), np.linspace(lat[a], lat[b], k + 2)])
        mids[1:-1] += rng.normal(0, 3e-4, (k, 2))
        geoms.append(mids)
    net = RoadNetwork.from_arrays(np.arange(n), lon, lat, u, v, np.full(n - 1, 100.0), np.full(n - 1, 10.0),
                                  geometries=geoms)
    e = rng.integers(0, n - 1, 500)
    a = rng.random(500)
    b = a + (1 - a) * rng.random(500)
    a[:20], b[:20] = 0.0, 1.0
    b[20:40] = a[20:40]
    a[40:50] = b[40:50] = 1.0
    lines = edge_substrings(net, e, a, b)
    metric = net.edge_geometries(metric=True)
    for i in range(500):
        ref = substring(metric[e[i]], a[i], b[i], normalized=True)
        assert shapely.hausdorff_distance(lines[i], ref) < 1e-6


@pytest.mark.parametrize("offroad", [50.0, 100.0])
def test_isochrone_containment_and_nesting(grid: RoadNetwork, offroad: float) -> None:
    stations = _snap(grid, [310.0, 1290.0], [400.0, 1130.0])
    _, node_t = station_node_times(grid, stations)
    limits = [20.0, 40.0, 60.0]
    polys = polygons_for_thresholds(grid, node_t, limits, offroad, seeds=stations)
    slowest = float((grid.edge_length_m / grid.edge_time_s).min())
    nodes = np.arange(grid.n_nodes)
    for limit, poly in zip(limits, polys, strict=True):
        inside = _metric_poly_contains(poly, grid, nodes)
        reached = node_t <= limit
        assert inside[reached].all(), "a node reached within T lies outside the T polygon"
        far = node_t > limit + offroad / slowest
        assert far.any()
        assert not inside[far].any(), "a node beyond T + offroad/slowest speed lies inside the T polygon"
        # never a convex hull: the hull of reached nodes does contain far nodes here
    for small, big in pairwise(polys):
        # nested up to floating-point rounding of the overlay (a micrometre)
        assert shapely.covers(shapely.buffer(big, 1e-6), small)
        assert shapely.difference(small, big).area < 1e-9 * small.area
    hull = shapely.convex_hull(shapely.multipoints(grid.node_xy[node_t <= limits[1]]))
    far = node_t > limits[1] + offroad / slowest
    assert shapely.intersects_xy(hull, grid.node_xy[far, 0], grid.node_xy[far, 1]).any()


def test_isochrone_matches_loop_reference(grid: RoadNetwork) -> None:
    """The vectorised polygon equals a per-edge loop with shapely.ops.substring and networkx times."""
    stations = _snap(grid, [310.0], [400.0])
    ref_node, _ = reference_times(grid, stations, grid.snap([grid.lon[0]], [grid.lat[0]]))
    limit, offroad = 150.0, 100.0
    metric = grid.edge_geometries(metric=True)
    pieces = []
    for e in range(grid.n_edges):
        t_u = ref_node[grid.edge_u[e]]
        if t_u <= limit:
            pieces.append(substring(metric[e], 0.0, min(1.0, (limit - t_u) / grid.edge_time_s[e]), normalized=True))
    e0, f0 = int(stations.edge[0]), float(stations.fraction[0])
    pieces.append(substring(metric[e0], f0, min(1.0, f0 + limit / grid.edge_time_s[e0]), normalized=True))
    twin = int(grid.edge_between([grid.edge_v[e0]], [grid.edge_u[e0]])[0])
    if twin >= 0:
        pieces.append(substring(metric[e0], max(0.0, f0 - limit / grid.edge_time_s[twin]), f0, normalized=True))
    reference = shapely.union_all([p.buffer(offroad, quad_segs=16) for p in pieces])
    _, node_t = station_node_times(grid, stations)
    (poly,) = polygons_for_thresholds(grid, node_t, [limit], offroad, seeds=stations)
    sym = shapely.symmetric_difference(poly, reference).area
    assert sym / reference.area < 0.01  # only the round-cap approximation differs


def test_road_covered_partial_edges() -> None:
    lon, lat = _lonlat(np.array([0.0, 1000.0, 2000.0]), np.zeros(3))
    # two-way 0-1 (100 s each way), one-way 1 -> 2 (100 s)
    net = RoadNetwork.from_arrays([0, 1, 2], lon, lat, [0, 1, 1], [1, 0, 2], [1000.0, 1000.0, 1000.0],
                                  [100.0, 100.0, 100.0])
    snap = net.snap([lon[0] + (lon[1] - lon[0]) * 0.3], [lat[0]])  # station 300 m along road 0-1
    _, node_t = station_node_times(net, snap)
    assert node_t[0] == pytest.approx(30.0) and node_t[1] == pytest.approx(70.0)
    covered = road_covered_m(net, node_t, 50.0, seeds=snap)
    # road 0-1: from the station 500 m towards 1 and back to 0 (300 m): 800 m; road 1-2: none
    assert covered.sum() == pytest.approx(800.0, rel=1e-6)
    covered = road_covered_m(net, node_t, 120.0, seeds=snap)
    assert covered.sum() == pytest.approx(1000.0 + 500.0, rel=1e-6)
    assert net.road_length_m() == pytest.approx(2000.0)


def test_union_length_matches_bruteforce() -> None:
    rng = np.random.default_rng(5)
    group = rng.integers(0, 20, 300)
    lo = rng.random(300)
    hi = np.minimum(lo + rng.random(300) * 0.3, 1.0)
    got = _union_length(group, lo, hi, 20)
    grid_x = np.linspace(0, 1, 200_001)
    for g in range(20):
        m = group == g
        covered = np.zeros_like(grid_x, dtype=bool)
        for a, b in zip(lo[m], hi[m], strict=True):
            covered |= (grid_x >= a) & (grid_x <= b)
        assert got[g] == pytest.approx(covered.mean(), abs=2e-5)


def test_reached_pieces_one_way_only_forward() -> None:
    lon, lat = _lonlat(np.array([0.0, 1000.0]), np.zeros(2))
    net = RoadNetwork.from_arrays([0, 1], lon, lat, [0], [1], [1000.0], [100.0])
    snap = net.snap([lon[0] + (lon[1] - lon[0]) * 0.5], [lat[0]])
    _, node_t = station_node_times(net, snap)
    pieces = reached_pieces(net, node_t, 20.0, seeds=snap)
    assert len(pieces.edge) == 1 and pieces.start[0] == pytest.approx(0.5) and pieces.end[0] == pytest.approx(0.7)


def test_hotspots_cluster_separated_groups() -> None:
    net = grid_network(n=3)
    rng = np.random.default_rng(0)
    xa, ya = rng.normal(0, 100, 200), rng.normal(0, 100, 200)
    xb, yb = rng.normal(5000, 100, 100), rng.normal(5000, 100, 100)
    lon, lat = _lonlat(np.concatenate([xa, xb]), np.concatenate([ya, yb]))
    pop = np.concatenate([np.full(200, 2.0), np.full(100, 1.0)])
    uncovered = np.ones(300, dtype=bool)
    uncovered[:10] = False
    time_s = np.where(rng.random(300) < 0.2, np.inf, rng.uniform(900, 3000, 300))
    hot = hotspots(net, lon, lat, pop, uncovered, time_s, cell_m=300.0)
    for rank, members in ((1, np.arange(10, 200)), (2, np.arange(200, 300))):
        ref = weighted_quantile_ref(time_s[members], pop[members], 0.5)
        got = hot.loc[hot["rank"] == rank, "median_s"].iloc[0]
        assert (np.isnan(got) and not np.isfinite(ref)) or got == pytest.approx(round(ref, 1))
    assert len(hot) == 2
    assert hot["population"].tolist() == [380.0, 100.0]
    assert hot["points"].tolist() == [190, 100]
    clon, clat = _lonlat(np.array([np.average(xb)]), np.array([np.average(yb)]))
    assert hot["lon"].iloc[1] == pytest.approx(clon[0], abs=1e-5)
    assert hot["lat"].iloc[1] == pytest.approx(clat[0], abs=1e-5)


def test_run_coverage_small_grid_population_bruteforce(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from geodispatch.coverage import run_coverage
    from geodispatch.scenario import Scenario

    net = grid_network(n=9, seed=2)
    rng = np.random.default_rng(11)
    x, y = rng.uniform(0, 1600, 500), rng.uniform(0, 1600, 500)
    lon, lat = _lonlat(x, y)
    pop = pd.DataFrame({"lon": lon, "lat": lat, "population": rng.integers(0, 30, 500).astype(float)})
    s_lon, s_lat = _lonlat(np.array([250.0, 1400.0]), np.array([600.0, 1300.0]))
    stations = (_station(0, s_lon[0], s_lat[0], "puskesmas"), _station(1, s_lon[1], s_lat[1], "damkar"))
    report = run_coverage(Scenario(name="grid", network=net, stations=stations, population=pop),
                          minutes=[1, 2], combined=True, per_station=True)
    psnap = net.snap(lon, lat)
    refs = []
    for service, idx in (("ambulance", 0), ("damkar", 1)):
        st = net.snap([s_lon[idx]], [s_lat[idx]])
        _, ref = reference_times(net, st, psnap)
        refs.append(ref)
        expect = {m: pop["population"].to_numpy()[ref <= m * 60].sum() for m in (1, 2)}
        got = report.summary["services"][service]["population"]["covered"]
        assert got == {f"{m:g}": pytest.approx(v) for m, v in expect.items()}
    # combined rule: a person counts only when the ambulance AND the damkar reach in time
    both = {m: pop["population"].to_numpy()[(refs[0] <= m * 60) & (refs[1] <= m * 60)].sum() for m in (1, 2)}
    alone = [report.summary["services"][s]["population"]["covered"]["2"] for s in ("ambulance", "damkar")]
    assert 0 < both[2] < min(alone)
    got = report.summary["services"]["combined"]["population"]["covered"]
    assert got == {f"{m:g}": pytest.approx(v) for m, v in both.items()}
    iso = report.isochrones
    assert set(iso["type"]) == {"ambulance", "damkar", "combined"}
    assert set(iso["station_id"]) == {"all", "s0", "s1"}
    assert (iso.loc[iso["type"] != "combined", "area_km2"] > 0).all()


def test_piece_chains_cover_the_same_road(grid: RoadNetwork) -> None:
    from geodispatch.coverage.isochrones import piece_chains

    stations = _snap(grid, [310.0, 1290.0], [400.0, 1130.0])
    _, node_t = station_node_times(grid, stations)
    pieces = reached_pieces(grid, node_t, 45.0, seeds=stations)
    chains = piece_chains(grid, pieces)
    lines = edge_substrings(grid, pieces.edge, pieces.start, pieces.end)
    assert len(chains) < len(lines)
    assert shapely.length(chains).sum() == pytest.approx(shapely.length(lines).sum(), rel=1e-12)
    a, b = shapely.union_all(chains), shapely.union_all(lines)
    assert shapely.symmetric_difference(a, b).length < 1e-6


def test_fast_nearest_edges_equal_strtree() -> None:
    from geodispatch.network.snap import FAST_MIN_POINTS, nearest_edges

    net = grid_network(n=12, spacing=150.0, seed=4)
    rng = np.random.default_rng(9)
    k = max(FAST_MIN_POINTS, 5000)
    x0, y0 = net.node_xy.min(axis=0)
    x = x0 + rng.uniform(-400, 2100, k)
    y = y0 + rng.uniform(-400, 2100, k)
    edge, dist = nearest_edges(net, x, y)
    (pi, _), ref = net.edge_tree.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
    np.testing.assert_allclose(dist[pi], ref, atol=1e-7)
    geoms = net.edge_geometries(metric=True)
    np.testing.assert_allclose(shapely.distance(geoms[edge], shapely.points(x, y)), dist, atol=1e-7)


def test_grouped_weighted_quantile_equals_per_group() -> None:
    from geodispatch.coverage.surface import grouped_weighted_quantile

    rng = np.random.default_rng(2)
    group = rng.integers(0, 30, 2000)
    values = np.where(rng.random(2000) < 0.1, np.inf, rng.uniform(0, 1000, 2000))
    weights = rng.integers(0, 5, 2000).astype(float)
    for q in (0.5, 0.9):
        got = grouped_weighted_quantile(group, values, weights, q, 32)
        for g in range(32):
            m = group == g
            ref = weighted_quantile_ref(values[m], weights[m], q)
            assert (np.isnan(got[g]) and np.isnan(ref)) or got[g] == ref


def test_isochrones_entry_point_per_station_within_union() -> None:
    from geodispatch.coverage import isochrones

    net = grid_network(n=9, seed=3)
    s_lon, s_lat = _lonlat(np.array([300.0, 1300.0, 700.0]), np.array([500.0, 1200.0, 900.0]))
    stations = [_station(0, s_lon[0], s_lat[0], "psc"), _station(1, s_lon[1], s_lat[1], "rsud"),
                _station(2, s_lon[2], s_lat[2], "damkar")]
    iso = isochrones(net, stations, minutes=[0.5, 1], station_types="ambulance", per_station=True)
    assert set(iso["station_id"]) == {"all", "s0", "s1"}
    assert set(iso["type"]) == {"ambulance"}
    for m in (0.5, 1.0):
        union = iso[(iso["station_id"] == "all") & (iso["minutes"] == m)].geometry.iloc[0]
        parts = iso[(iso["station_id"] != "all") & (iso["minutes"] == m)].geometry
        # the multi-source union equals the union of the single-station polygons
        merged = shapely.union_all(parts.to_numpy())
        assert shapely.symmetric_difference(union, merged).area < 1e-6 * union.area


def test_fast_snap_matches_shapely_locate_on_curved_roads() -> None:
    from geodispatch.network.snap import FAST_MIN_POINTS

    rng = np.random.default_rng(12)
    n = 60
    lon, lat = _lonlat(rng.uniform(0, 4000, n), rng.uniform(0, 4000, n))
    u, v = np.arange(n - 1), np.arange(1, n)
    geoms = []
    for a, b in zip(u, v, strict=True):
        k = int(rng.integers(0, 8))
        pts = np.column_stack([np.linspace(lon[a], lon[b], k + 2), np.linspace(lat[a], lat[b], k + 2)])
        pts[1:-1] += rng.normal(0, 4e-4, (k, 2))
        geoms.append(pts)
    net = RoadNetwork.from_arrays(np.arange(n), lon, lat, np.concatenate([u, v]), np.concatenate([v, u]),
                                  np.full(2 * (n - 1), 500.0), np.full(2 * (n - 1), 40.0),
                                  geometries=geoms + [g[::-1] for g in geoms])
    k = FAST_MIN_POINTS + 3000
    plon, plat = _lonlat(rng.uniform(-300, 4300, k), rng.uniform(-300, 4300, k))
    snap = net.snap(plon, plat, max_distance_m=5000, strict=False)
    x, y = net.to_metric(plon, plat)
    pts = shapely.points(x, y)
    metric = net.edge_geometries(metric=True)
    (pi, _), ref = net.edge_tree.query_nearest(pts, return_distance=True, all_matches=False)
    np.testing.assert_allclose(snap.distance_m[pi], ref, atol=1e-6)
    chosen = metric[snap.edge]
    frac = shapely.line_locate_point(chosen, pts, normalized=True)
    # same position along the chosen edge as shapely (up to exact ties between two equally near spots)
    same = np.isclose(snap.fraction, frac, atol=1e-9)
    assert same.mean() > 0.999
    where = shapely.line_interpolate_point(chosen, snap.fraction, normalized=True)
    sx, sy = net.to_metric(snap.lon, snap.lat)
    np.testing.assert_allclose(sx, shapely.get_x(where), atol=1e-4)
    np.testing.assert_allclose(sy, shapely.get_y(where), atol=1e-4)


def test_station_service_mapping() -> None:
    from geodispatch.coverage.stations import parse_services, serves
    from geodispatch.errors import CoverageError
    from geodispatch.regions import UnitConfig

    def st(kind: str, units: tuple[str, ...] = ()) -> Station:
        return Station(id="x", type=kind, lon=110.0, lat=-7.0, source="t",  # type: ignore[arg-type]
                       units=tuple(UnitConfig(id=f"u{i}", type=u) for i, u in enumerate(units)))  # type: ignore[arg-type]

    # without units: the station type decides
    assert serves(st("puskesmas"), "ambulance") and serves(st("rsud"), "ambulance")
    assert not serves(st("damkar"), "ambulance") and serves(st("damkar"), "damkar")
    # with units: the units decide (a PSC with only a rescue unit sends no ambulance)
    assert not serves(st("psc", ("rescue",)), "ambulance")
    assert serves(st("bpbd", ("damkar", "rescue")), "damkar")
    # a station type as the service selects exactly those stations
    assert serves(st("puskesmas", ("ambulance",)), "puskesmas") and not serves(st("rsud"), "puskesmas")
    assert parse_services(" Ambulance, damkar ,ambulance") == ("ambulance", "damkar")
    with pytest.raises(CoverageError):
        parse_services("")


def test_point_on_long_road_parallel_to_a_short_road_uses_its_own_road() -> None:
    """Two roads join junctions A and B: a short fast one and a long slow one (two-way each).

    A person on the long road, near A, with the station behind B: the way back along the long
    road from B must be timed on the long road, not at the short road's speed.
    """
    import networkx as nx

    from geodispatch.coverage.surface import point_times
    from geodispatch.network import RoadNetwork
    from geodispatch.network.traveltime import nearest_source

    a, b, s = 0, 1, 2  # A, B, station node S beyond B
    long_geom = np.array([[120.000, -5.000], [120.000, -5.010], [120.010, -5.010], [120.010, -5.000]])
    net = RoadNetwork.from_arrays(
        node_ids=[1, 2, 3],
        lon=[120.000, 120.010, 120.020],
        lat=[-5.000, -5.000, -5.000],
        edge_u=[a, b, a, b, b, s],
        edge_v=[b, a, b, a, s, b],
        edge_length_m=[1100.0, 1100.0, 3300.0, 3300.0, 1100.0, 1100.0],
        edge_time_s=[60.0, 60.0, 600.0, 600.0, 60.0, 60.0],
        geometries=[None, None, long_geom, long_geom[::-1], None, None],
    )
    assert net.twin_edge.tolist() == [1, 0, 3, 2, 5, 4]
    person = net.snap([120.0003], [-5.0095])  # on the long road's first leg, near A
    assert person.edge[0] in (2, 3)
    _, node_time = nearest_source(net, [s])
    ours = point_times(net, node_time, person)[0]
    # reference: networkx with the person inserted on the long road (both directions)
    f = person.fraction[0] if person.edge[0] == 2 else 1.0 - person.fraction[0]  # position from A
    graph = net.to_networkx()
    graph.remove_edges_from([(1, 2, k) for k, d in graph.get_edge_data(1, 2).items() if d["length"] > 2000])
    graph.remove_edges_from([(2, 1, k) for k, d in graph.get_edge_data(2, 1).items() if d["length"] > 2000])
    for x, y, t in ((1, "p", f * 600.0), ("p", 1, f * 600.0), (2, "p", (1 - f) * 600.0), ("p", 2, (1 - f) * 600.0)):
        graph.add_edge(x, y, travel_time=t)
    ref = nx.single_source_dijkstra_path_length(graph, 3, weight="travel_time")["p"]
    assert ours == pytest.approx(ref, abs=1e-6)


def _two_km_road(amb_m: float, damkar_m: float):  # type: ignore[no-untyped-def]
    """One two-way 2 km road (300 s each way), an ambulance and a Damkar post at the given metres."""
    from geodispatch.scenario import Scenario

    lon, lat = _lonlat(np.array([0.0, 2000.0]), np.zeros(2))
    net = RoadNetwork.from_arrays([0, 1], lon, lat, [0, 1], [1, 0], [2000.0, 2000.0], [300.0, 300.0])
    s_lon, s_lat = _lonlat(np.array([amb_m, damkar_m]), np.zeros(2))
    stations = (_station(0, s_lon[0], s_lat[0], "puskesmas"), _station(1, s_lon[1], s_lat[1], "damkar"))
    return Scenario(name="road", network=net, stations=stations)


@pytest.mark.parametrize(
    ("amb_m", "damkar_m", "share"),
    [
        (0.0, 2000.0, 0.0),  # opposite ends: 400 m each, no overlap
        (0.0, 0.0, 0.2),  # same end: the same 400 m
        (600.0, 1000.0, 0.2),  # middles: [200, 1000] and [600, 1400] overlap on 400 m
        (300.0, 1900.0, 0.0),  # [0, 700] and [1500, 2000]
        (1000.0, 1500.0, 0.15),  # [600, 1400] and [1100, 1900]: 300 m
    ],
)
def test_combined_road_share_is_the_overlap_of_covered_parts(amb_m: float, damkar_m: float, share: float) -> None:
    """1 minute on a 2 km road at 24 km/h covers 400 m each way from a post: the combined share
    is the length both services reach, not the smaller of the two covered lengths."""
    from geodispatch.coverage import run_coverage

    report = run_coverage(_two_km_road(amb_m, damkar_m), minutes=[1], combined=True)
    services = report.summary["services"]
    alone = [services[s]["road_share"]["1"] for s in ("ambulance", "damkar")]
    assert min(alone) >= 0.15
    assert services["combined"]["road_share"]["1"] == pytest.approx(share, abs=1e-4)


def test_road_covered_by_all_matches_sampled_points(grid: RoadNetwork) -> None:
    """Metres of road reached by both services within the limit, against points sampled along
    every road and timed with networkx (each point inserted as a graph node)."""
    from types import SimpleNamespace

    from geodispatch.coverage.stats import road_covered_by_all_m

    fields = []
    for xs, ys in (([310.0, 1290.0], [400.0, 1130.0]), ([700.0, 150.0], [820.0, 1500.0])):
        snap = _snap(grid, xs, ys)
        fields.append((station_node_times(grid, snap)[1], snap))
    twin = grid.twin_edge
    roads = np.array([e for e in range(grid.n_edges) if twin[e] < 0 or e < twin[e]])
    k = 200  # 1 m apart: each end of a covered stretch is off by at most 0.5 m
    frac = (np.arange(k) + 0.5) / k
    points = SimpleNamespace(edge=np.repeat(roads, k), fraction=np.tile(frac, len(roads)))
    times = [reference_times(grid, snap, points)[1] for _, snap in fields]
    for limit in (45.0, 60.0, 90.0, 120.0):  # the smaller covered length per road is 2.6x too much at 45 s
        both = (times[0] <= limit) & (times[1] <= limit)
        expect = (both.reshape(len(roads), k).mean(axis=1) * grid.edge_length_m[roads]).sum()
        got = road_covered_by_all_m(grid, fields, limit)
        assert got.shape == (grid.n_edges,)
        assert got.sum() == pytest.approx(expect, rel=0.005, abs=10.0)
        single = [road_covered_m(grid, t, limit, s).sum() for t, s in fields]
        assert got.sum() <= min(single) + 1e-6


def test_weighted_quantile_against_numpy_and_a_hand_table() -> None:
    """The production weighted quantile against numpy's inverted-CDF weighted quantile and a
    table worked out by hand (unreachable people are inf and count as the slowest)."""
    from geodispatch.coverage.surface import _weighted_quantile, _weighted_quantiles

    inf = np.inf
    table = [  # values, weights, q, expected
        ([10, 20, 30, 40], [1, 1, 1, 1], 0.5, 20),
        ([10, 20, 30, 40], [1, 1, 1, 1], 0.51, 30),
        ([40, 10, 30, 20], [0, 0, 1, 3], 0.5, 20),  # unsorted input; weight 3 on 20
        ([10, 20, 30], [5, 1, 1], 0.5, 10),
        ([10, 20, 30], [5, 1, 1], 0.9, 30),
        ([10, 20, inf], [1, 1, 2], 0.5, 20),
        ([10, 20, inf], [1, 1, 2], 0.9, inf),
        ([10, 20], [0, 0], 0.5, np.nan),
        ([], [], 0.5, np.nan),
    ]
    for values, weights, q, expect in table:
        got = _weighted_quantile(np.array(values, dtype=float), np.array(weights, dtype=float), q)
        assert got == expect or (np.isnan(expect) and np.isnan(got)), (values, weights, q, got)
    rng = np.random.default_rng(4)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        values = rng.choice(rng.uniform(0, 1800, 12), n)  # ties included
        weights = rng.integers(0, 50, n).astype(float)
        weights[0] += 1.0
        qs = [0.1, 0.5, 0.9]
        got = _weighted_quantiles(values, weights, qs)
        for q, g in zip(qs, got, strict=True):
            assert g == np.quantile(values, q, weights=weights, method="inverted_cdf")
            assert g == weighted_quantile_ref(values, weights, q)


def test_blocks_default_keeps_the_guarantees_of_the_chains_reference() -> None:
    """The memoised-blocks polygons equal the chained-buffer reference up to the round caps' chords."""
    from geodispatch.coverage.isochrones import QUAD_SEGS

    net = grid_network(n=9, spacing=200.0, seed=6, one_way=0.3)
    stations = _snap(net, [310.0, 1290.0, 700.0], [400.0, 1130.0, 1500.0])
    _, node_t = station_node_times(net, stations)
    offroad = 100.0
    chord = offroad * (1 - np.cos(np.pi / (4 * QUAD_SEGS)))  # deepest point of a cap's chord
    limits = [15.0, 30.0, 45.0, 45.05, 90.0]  # 45.05: pieces grow by a fraction of a metre
    from geodispatch.network.traveltime import point_travel_times

    matrix = point_travel_times(net, stations)
    for mask in (None, np.array([True, False, False]), np.array([False, False, True])):
        times = node_t if mask is None else matrix[int(np.flatnonzero(mask)[0])]
        fast = polygons_for_thresholds(net, times, limits, offroad, seeds=stations, seed_mask=mask)
        again = polygons_for_thresholds(net, times, limits, offroad, seeds=stations, seed_mask=mask)
        ref = polygons_for_thresholds(net, times, limits, offroad, seeds=stations, seed_mask=mask, method="chains")
        for limit, f, r, a in zip(limits, fast, ref, again, strict=True):
            assert f.is_valid and shapely.equals(f, a)  # the memoised blocks answer a second call the same
            assert shapely.covers(shapely.buffer(r, chord + 1e-6), f)
            assert shapely.covers(shapely.buffer(f, chord + 1e-6), r)
            assert shapely.symmetric_difference(f, r).area < 0.005 * r.area
            inside = _metric_poly_contains(f, net, np.arange(net.n_nodes))
            assert inside[times <= limit].all()
            # a node is inside exactly when it lies within the off-road distance of the reached road
            pieces = reached_pieces(net, times, limit, seeds=stations, seed_mask=mask)
            road = shapely.union_all(edge_substrings(net, pieces.edge, pieces.start, pieces.end))
            dist = shapely.distance(road, shapely.points(net.node_xy))
            assert not inside[dist > offroad + 1e-6].any()
            assert inside[dist < offroad - chord - 1e-6].all()
        for small, big in pairwise(fast):
            assert shapely.covers(shapely.buffer(big, 1e-6), small)
            assert shapely.difference(small, big).area < 1e-9 * small.area


def test_whole_road_blocks_cover_exactly_the_marked_roads() -> None:
    from geodispatch.coverage.isochrones import QUAD_SEGS, WholeRoadBuffers

    net = grid_network(n=7, spacing=150.0, seed=2, one_way=0.2)
    blocks = WholeRoadBuffers(net, 60.0)
    n_land = int((~net.is_sea_edge).sum())
    roads = np.flatnonzero(blocks.edge_at >= 0)
    assert len(roads) < n_land  # the two directions of a two-way road are one road
    assert sorted(set(blocks.position[~net.is_sea_edge].tolist())) == roads.tolist()
    twin = net.twin_edge
    two_way = twin >= 0
    np.testing.assert_array_equal(blocks.position[two_way], blocks.position[twin[two_way]])
    rng = np.random.default_rng(4)
    geoms = net.edge_geometries(metric=True)
    for share in (0.1, 0.5, 0.95, 1.0):
        whole = (rng.random(blocks.size) < share) & (blocks.edge_at >= 0)
        parts = blocks.cover(np.flatnonzero(whole))
        assert len(parts) <= whole.sum()
        assert len(parts) == 1 or share < 1.0  # every road whole: the one top block
        got = shapely.union_all(parts)
        ref = shapely.union_all(shapely.buffer(geoms[blocks.edge_at[whole]], 60.0, quad_segs=QUAD_SEGS))
        assert shapely.symmetric_difference(got, ref).area < 1e-6 * ref.area


def test_kd_slots_are_distinct_and_every_aligned_run_is_a_split_cell() -> None:
    from geodispatch.coverage.isochrones import kd_slots

    rng = np.random.default_rng(8)
    x, y = rng.normal(0, 1000, 777), rng.uniform(0, 300, 777)
    slot, levels = kd_slots(x, y)
    assert levels == 10 and len(set(slot.tolist())) == 777 and slot.max() < 2**levels
    for k in (9, 7, 4):  # the two halves of every cell lie on either side of one axis-parallel line
        cell, upper = slot >> (k + 1), (slot >> k) & 1 == 1
        for c in np.unique(cell):
            lo, hi = (cell == c) & ~upper, (cell == c) & upper
            if lo.any() and hi.any():
                assert x[lo].max() <= x[hi].min() or y[lo].max() <= y[hi].min()
                assert abs(int(lo.sum()) - int(hi.sum())) <= 1
