"""Fast paths of the coverage table against slow, obvious references.

``prepare_population`` caches what depends only on the points and the network (per-point edge
terms, grid cells, areas); the snap's KD-tree answers far points in a second round. Each is
checked here against a direct computation.
"""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from geodispatch.coverage.hotspots import hotspots
from geodispatch.coverage.stats import area_table
from geodispatch.coverage.surface import (
    PreparedPopulation,
    aggregate_surface,
    point_times,
    prepare_population,
    station_node_times,
)
from geodispatch.network.graph import RoadNetwork
from geodispatch.scenario import Scenario, load_scenario
from tests.conftest import weighted_quantile_ref
from tests.test_coverage import _lonlat, _snap, grid_network, reference_times


@pytest.fixture(scope="module")
def synthetic() -> Scenario:
    return load_scenario("synthetic:1500")


def _people(net: RoadNetwork, k: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lon0, lat0, lon1, lat1 = net.bbox
    return pd.DataFrame({
        "lon": rng.uniform(lon0, lon1, k), "lat": rng.uniform(lat0, lat1, k),
        "population": rng.integers(0, 40, k).astype(float),
    })


def test_prepared_point_times_equal_networkx() -> None:
    grid = grid_network(n=9, spacing=200.0, seed=1, one_way=0.15)
    rng = np.random.default_rng(7)
    stations = _snap(grid, [310.0, 1290.0], [400.0, 1130.0])
    lon, lat = _lonlat(rng.uniform(0, 1600, 400), rng.uniform(0, 1600, 400))
    prepared = prepare_population(grid, pd.DataFrame({"lon": lon, "lat": lat, "population": 1.0}))
    _, node_t = station_node_times(grid, stations)
    fast = point_times(grid, node_t, prepared, stations)
    _, ref = reference_times(grid, stations, prepared.snap)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-6)
    # and bit for bit what the un-prepared path computes
    assert np.array_equal(fast, point_times(grid, node_t, prepared.snap, stations))


def test_prepared_area_table_and_surface_equal_unprepared(synthetic: Scenario) -> None:
    net = synthetic.network
    pop = _people(net, 3000)
    prepared = prepare_population(net, pop, areas=synthetic.areas)
    stations = net.snap([s.lon for s in synthetic.stations[:3]], [s.lat for s in synthetic.stations[:3]])
    _, node_t = station_node_times(net, stations)
    pt = point_times(net, node_t, prepared, stations)
    times = {"x": (node_t, pt)}
    slow = area_table(net, synthetic.areas, times, [5, 15], pop)
    fast = area_table(net, synthetic.areas, times, [5, 15], pop, prepared=prepared)
    pd.testing.assert_frame_equal(fast, slow)
    # the same areas given again (another frame, same content) use the cache
    fast2 = area_table(net, synthetic.areas.copy(), times, [5, 15], pop, prepared=prepared)
    pd.testing.assert_frame_equal(fast2, slow)
    # per-area brute force of the worst reachable point (equal times: the later point)
    lon, lat = pop["lon"].to_numpy(), pop["lat"].to_numpy()
    seen = np.zeros(len(pop), dtype=bool)
    checked = 0
    for name, geom in zip(synthetic.areas["name"], synthetic.areas.geometry, strict=True):
        inside = shapely.contains_xy(geom, lon, lat) & ~seen  # first area wins on shared borders
        seen |= inside
        idx = np.flatnonzero(inside & np.isfinite(pt))
        if not len(idx):
            continue
        j = idx[np.flatnonzero(pt[idx] == pt[idx].max())[-1]]
        row = fast[fast["area"] == name].iloc[0]
        assert (row["worst_s"], row["worst_lon"], row["worst_lat"]) == (
            round(pt[j], 1), round(lon[j], 6), round(lat[j], 6))
        checked += 1
    assert checked > 3
    s_slow = aggregate_surface(net, {"x": node_t}, None, pop, {"x": pt})
    s_fast = aggregate_surface(net, {"x": node_t}, None, pop, {"x": pt}, prepared=prepared)
    pd.testing.assert_frame_equal(pd.DataFrame(s_fast.drop(columns="geometry")),
                                  pd.DataFrame(s_slow.drop(columns="geometry")))
    assert shapely.equals_exact(s_fast.geometry.to_numpy(), s_slow.geometry.to_numpy(), tolerance=0).all()


def test_surface_equals_per_cell_bruteforce(synthetic: Scenario) -> None:
    import h3

    net = synthetic.network
    pop = _people(net, 2000, seed=3)
    prepared = prepare_population(net, pop)
    stations = net.snap([synthetic.stations[0].lon], [synthetic.stations[0].lat])
    _, node_t = station_node_times(net, stations)
    pt = point_times(net, node_t, prepared, stations)
    surf = aggregate_surface(net, {"x": node_t}, None, pop, {"x": pt}, prepared=prepared).set_index("cell")
    node_cell = np.array([h3.latlng_to_cell(la, lo, 8) for lo, la in zip(net.lon, net.lat, strict=True)])
    pop_cell = np.array([h3.latlng_to_cell(la, lo, 8) for lo, la in zip(pop["lon"], pop["lat"], strict=True)])
    w = pop["population"].to_numpy()
    assert set(surf.index) == set(node_cell) | set(pop_cell)
    for cell in set(node_cell) | set(pop_cell):
        row = surf.loc[cell]
        t = node_t[node_cell == cell]
        assert row["nodes"] == len(t) and row["nodes_reached"] == np.isfinite(t).sum()
        if np.isfinite(t).any():
            assert row["max_s"] == round(float(t[np.isfinite(t)].max()), 1)
            assert row["median_s"] == round(float(np.median(t[np.isfinite(t)])), 1)
        m = pop_cell == cell
        if m.any():
            assert row["population"] == pytest.approx(w[m].sum())
            ref = weighted_quantile_ref(pt[m], w[m], 0.5)
            if np.isfinite(ref):
                assert row["pop_median_s"] == round(ref, 1)
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
        assert shapely.equals_exact(row.geometry, shapely.Polygon(ring), tolerance=0)


def test_hotspot_hulls_equal_hull_of_every_cell(synthetic: Scenario) -> None:
    net = synthetic.network
    rng = np.random.default_rng(5)
    lon0, lat0, lon1, lat1 = net.bbox
    k = 20_000  # dense enough for hotspots with interior cells
    lon, lat = rng.uniform(lon0, lon1, k), rng.uniform(lat0, lat1, k)
    w = np.ones(k)
    x, y = net.to_metric(lon, lat)
    uncovered = (np.sin(x / 2000.0) + np.cos(y / 1500.0)) > 0.3
    cell_m = 300.0
    hot = hotspots(net, lon, lat, w, uncovered, cell_m=cell_m)
    assert (hot["cells"] > 9).any()  # some hotspot has cells with all 8 neighbours
    # reference: connected 8-neighbour cells (networkx), hull of all corners of all cells
    sel = np.flatnonzero(uncovered)
    ix = np.floor(x[sel] / cell_m).astype(np.int64)
    iy = np.floor(y[sel] / cell_m).astype(np.int64)
    x0 = np.floor(x[sel].min() / cell_m) * cell_m - cell_m
    y0 = np.floor(y[sel].min() / cell_m) * cell_m - cell_m
    ix0, iy0 = ix.min() - 1, iy.min() - 1
    cells = set(zip(ix.tolist(), iy.tolist(), strict=True))
    g = nx.Graph()
    g.add_nodes_from(cells)
    for a, b in cells:
        for da in (-1, 0, 1):
            for db in (-1, 0, 1):
                if (a + da, b + db) in cells and (da, db) != (0, 0):
                    g.add_edge((a, b), (a + da, b + db))
    refs = []
    for comp in nx.connected_components(g):
        cx = np.array([c[0] - ix0 for c in comp])
        cy = np.array([c[1] - iy0 for c in comp])
        xs = np.concatenate([x0 + cx * cell_m, x0 + (cx + 1) * cell_m] * 2)
        ys = np.concatenate([y0 + cy * cell_m] * 2 + [y0 + (cy + 1) * cell_m] * 2)
        clon, clat = net.to_lonlat(xs, ys)
        refs.append((len(comp), shapely.convex_hull(shapely.multipoints(np.column_stack([clon, clat])))))
    assert len(refs) == len(hot)
    for row in hot.itertuples():
        match = [h for n, h in refs if n == row.cells and shapely.equals_exact(h, row.geometry, tolerance=0)]
        assert match, f"hotspot {row.rank} ({row.cells} cells): hull differs from the hull of all its cells"
    # metric coordinates passed in give the same result
    again = hotspots(net, lon, lat, w, uncovered, cell_m=cell_m, xy=(x, y))
    pd.testing.assert_frame_equal(pd.DataFrame(again.drop(columns="geometry")),
                                  pd.DataFrame(hot.drop(columns="geometry")))


def test_snap_far_points_second_round_equal_strtree() -> None:
    from geodispatch.network.snap import FAST_MIN_POINTS, nearest_edges

    net = grid_network(n=30, spacing=120.0, seed=6)  # many pieces; points up to 3 km away
    rng = np.random.default_rng(11)
    k = FAST_MIN_POINTS + 4000
    x0, y0 = net.node_xy.min(axis=0)
    x = x0 + rng.uniform(-3000, 6500, k)
    y = y0 + rng.uniform(-3000, 6500, k)
    edge, dist = nearest_edges(net, x, y)
    (pi, _), ref = net.edge_tree.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
    np.testing.assert_allclose(dist[pi], ref, atol=1e-7)
    geoms = net.edge_geometries(metric=True)
    np.testing.assert_allclose(shapely.distance(geoms[edge], shapely.points(x, y)), dist, atol=1e-7)


def test_run_coverage_with_prepared_population_equals_fresh(synthetic: Scenario) -> None:
    from geodispatch.coverage import run_coverage

    pop = _people(synthetic.network, 4000, seed=9)
    fresh = run_coverage(synthetic, minutes=[10, 15], population=pop, combined=True)
    prepared = prepare_population(synthetic.network, pop, areas=synthetic.areas)
    assert isinstance(prepared, PreparedPopulation)
    for _ in range(2):  # the second run reuses every cache
        again = run_coverage(synthetic, minutes=[10, 15], population=prepared, combined=True)
        pd.testing.assert_frame_equal(again.area_table, fresh.area_table)
        pd.testing.assert_frame_equal(pd.DataFrame(again.surface), pd.DataFrame(fresh.surface))
        pd.testing.assert_frame_equal(pd.DataFrame(again.hotspots), pd.DataFrame(fresh.hotspots))
        # (JSON text: NaN medians of unreachable hotspots compare equal there)
        assert json.dumps(again.summary, default=str) == json.dumps(fresh.summary, default=str)


def test_group_order_and_subset_order_equal_numpy_sorts() -> None:
    from geodispatch.coverage.surface import group_order, subset_order

    rng = np.random.default_rng(4)
    n = 50_000
    values = np.where(rng.random(n) < 0.1, np.inf, rng.integers(0, 300, n).astype(float))  # many ties
    for n_groups in (7, 65_536, 70_000):  # 16-bit radix sort, its limit, and beyond it
        group = rng.integers(0, n_groups, n)
        ref = np.lexsort((values, group))
        assert np.array_equal(group_order(group, values, n_groups), ref)
        vo = np.argsort(values, kind="stable")
        assert np.array_equal(group_order(group, values, n_groups, vo), ref)
    mask = rng.random(n) < 0.3
    assert np.array_equal(subset_order(np.argsort(values, kind="stable"), mask),
                          np.argsort(values[mask], kind="stable"))


def test_shared_time_order_gives_the_same_tables(synthetic: Scenario) -> None:
    from geodispatch.coverage.stats import population_summary

    net = synthetic.network
    pop = _people(net, 3000, seed=2)
    prepared = prepare_population(net, pop, areas=synthetic.areas)
    stations = net.snap([s.lon for s in synthetic.stations[:2]], [s.lat for s in synthetic.stations[:2]])
    _, node_t = station_node_times(net, stations)
    pt = point_times(net, node_t, prepared, stations)
    order = {"x": np.argsort(pt, kind="stable")}
    w = pop["population"].to_numpy()
    assert population_summary(w, pt, [5, 10]) == population_summary(w, pt, [5, 10], time_order=order["x"])
    times = {"x": (node_t, pt)}
    pd.testing.assert_frame_equal(
        area_table(net, synthetic.areas, times, [10], pop, prepared=prepared, time_orders=order),
        area_table(net, synthetic.areas, times, [10], pop),
    )
    a = aggregate_surface(net, {"x": node_t}, None, pop, {"x": pt}, prepared=prepared, point_orders=order)
    b = aggregate_surface(net, {"x": node_t}, None, pop, {"x": pt})
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    lon, lat = pop["lon"].to_numpy(), pop["lat"].to_numpy()
    h1 = hotspots(net, lon, lat, w, ~(pt <= 300), pt, time_order=order["x"])
    h2 = hotspots(net, lon, lat, w, ~(pt <= 300), pt)
    assert len(h1) > 1
    pd.testing.assert_frame_equal(pd.DataFrame(h1), pd.DataFrame(h2))
