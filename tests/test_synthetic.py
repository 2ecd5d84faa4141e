"""Tests of the embedded synthetic regency (geodispatch.synthetic)."""

from __future__ import annotations

import math
from collections import Counter

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from geodispatch.errors import InputError
from geodispatch.geometry import haversine_m
from geodispatch.network.speeds import DEFAULT_SPEEDS_KPH, parse_maxspeed
from geodispatch.synthetic import CENTRE_LAT, CENTRE_LON, SyntheticRegency, synthetic_regency

NETWORK_ARRAYS = (
    "node_ids",
    "lon",
    "lat",
    "edge_u",
    "edge_v",
    "edge_length_m",
    "edge_time_s",
    "edge_highway",
    "edge_has_maxspeed",
    "geom_offsets",
    "geom_lon",
    "geom_lat",
)


@pytest.fixture(scope="module")
def regency() -> SyntheticRegency:
    """The default synthetic regency (about 3,000 nodes)."""
    return synthetic_regency()


def _polyline(net, e):  # type: ignore[no-untyped-def]
    a, b = net.geom_offsets[e], net.geom_offsets[e + 1]
    return net.geom_lon[a:b], net.geom_lat[a:b]


# ---------------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_outputs() -> None:
    one, two = synthetic_regency(1200, seed=3), synthetic_regency(1200, seed=3)
    for name in NETWORK_ARRAYS:
        np.testing.assert_array_equal(getattr(one.network, name), getattr(two.network, name), err_msg=name)
    assert one.stations == two.stations
    assert one.population.equals(two.population)
    assert list(one.areas["name"]) == list(two.areas["name"])
    assert list(one.areas["kecamatan"]) == list(two.areas["kecamatan"])
    assert shapely.equals_exact(one.areas.geometry.values, two.areas.geometry.values, tolerance=0).all()
    np.testing.assert_array_equal(one.bridge_edges, two.bridge_edges)
    assert one.boundary.equals_exact(two.boundary, tolerance=0)


def test_different_seed_gives_a_different_regency() -> None:
    one, two = synthetic_regency(1200, seed=3), synthetic_regency(1200, seed=4)
    same_size = one.network.n_nodes == two.network.n_nodes
    assert not (same_size and np.array_equal(one.network.lon, two.network.lon))
    assert not one.boundary.equals(two.boundary)
    assert one.population["lon"].iloc[0] != two.population["lon"].iloc[0]


# ---------------------------------------------------------------------------------- size and place
@pytest.mark.parametrize("n_nodes", [300, 3000, 20_000])
def test_node_count_follows_the_request(n_nodes: int, regency: SyntheticRegency) -> None:
    net = regency.network if n_nodes == 3000 else synthetic_regency(n_nodes).network
    assert abs(net.n_nodes - n_nodes) <= 0.2 * n_nodes, net.n_nodes
    # the land grows with sqrt(n_nodes): road density stays about the same
    x, y = net.node_xy[:, 0], net.node_xy[:, 1]
    area_km2 = (x.max() - x.min()) * (y.max() - y.min()) / 1e6
    assert 0.5 < net.n_nodes / area_km2 / 2.0 < 3.0, net.n_nodes / area_km2


def test_it_lies_in_open_sea_and_is_regency_sized(regency: SyntheticRegency) -> None:
    net = regency.network
    lon0, lat0, lon1, lat1 = net.bbox
    width_km = (lon1 - lon0) * 111.2 * math.cos(math.radians(CENTRE_LAT))
    height_km = (lat1 - lat0) * 111.2
    assert 30 <= max(width_km, height_km) <= 70
    assert abs(np.mean(net.lon) - CENTRE_LON) < 0.3 and abs(np.mean(net.lat) - CENTRE_LAT) < 0.3
    assert regency.boundary.geom_type == "MultiPolygon" and regency.boundary.is_valid
    assert shapely.contains_xy(regency.boundary, net.lon, net.lat).all()


def test_bad_parameters_raise_input_errors() -> None:
    with pytest.raises(InputError, match="n_nodes"):
        synthetic_regency(10)
    with pytest.raises(InputError, match="n_nodes"):
        synthetic_regency(3000.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="seed"):
        synthetic_regency(500, seed="x")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="n_population_points"):
        synthetic_regency(500, n_population_points=0)


# ---------------------------------------------------------------------------------- road network
def test_island_is_its_own_road_component_joined_by_one_boat(regency: SyntheticRegency) -> None:
    net = regency.network
    roads = net.without_sea()
    labels = roads.component_labels
    assert roads.n_components == 2
    on_island = shapely.contains_xy(regency.island, net.lon, net.lat)
    assert 20 <= on_island.sum() < 0.2 * net.n_nodes
    assert len(set(labels[on_island].tolist())) == 1 and labels[on_island][0] != 0
    assert (labels[~on_island] == 0).all()
    # no road joins the island to the main island; a speedboat and a ferry do, both ways, pier to pier
    road = ~net.is_sea_edge
    assert (on_island[net.edge_u[road]] == on_island[net.edge_v[road]]).all()
    sea = np.flatnonzero(net.is_sea_edge)
    assert len(sea) == 4 and sorted(net.edge_highway[sea]) == ["ferry", "ferry", "sea_link", "sea_link"]
    assert (on_island[net.edge_u[sea]] != on_island[net.edge_v[sea]]).all()
    assert set(net.sea_names.values()) == {
        "Speedboat Ambulans Laut Pulau Sintetis", "Kapal Penyeberangan Pulau Sintetis"}
    # the speedboat takes ambulance crews only, the ferry every unit type
    assert {net.sea_names[e]: c for e, c in net.sea_carries.items()} == {
        "Speedboat Ambulans Laut Pulau Sintetis": ("ambulance",)}
    assert regency.sea_links.attrs["source"].startswith("SYNTHETIC")
    assert net.n_components == 1 and net.n_strong_components == 1
    # every node can reach and be reached within its road component (no one-way traps)
    assert roads.n_strong_components == 2


def test_river_is_crossed_only_by_the_bridges(regency: SyntheticRegency) -> None:
    net = regency.network
    river = regency.river
    assert river.length > 0.2  # degrees: it crosses the whole main island
    crossing = np.flatnonzero(shapely.intersects(net.edge_geometries(), river))
    assert set(crossing.tolist()) == set(regency.bridge_edges.tolist())
    ends = zip(net.edge_u[crossing].tolist(), net.edge_v[crossing].tolist(), strict=True)
    assert 2 <= len({tuple(sorted(p)) for p in ends}) <= 10
    # without its bridges the main island falls apart into the two river banks
    keep = ~net.is_sea_edge  # the island's boat is not a bridge
    keep[regency.bridge_edges] = False
    graph = sp.coo_matrix((np.ones(keep.sum()), (net.edge_u[keep], net.edge_v[keep])), shape=(net.n_nodes,) * 2)
    _, parts = connected_components(graph, directed=False)
    sizes = np.sort(np.bincount(parts))[::-1]
    assert sizes[1] > 0.15 * net.n_nodes and sizes[2] > 0.03 * net.n_nodes  # two banks, then the island


def test_one_way_streets_and_two_way_roads(regency: SyntheticRegency) -> None:
    net = regency.network
    edges = list(zip(net.edge_u.tolist(), net.edge_v.tolist(), strict=True))
    present = set(edges)
    oneway = [e for e, (u, v) in enumerate(edges) if (v, u) not in present]
    assert len(oneway) >= 20
    assert set(net.edge_highway[oneway].tolist()) == {"tertiary"}  # the town-centre couplets
    assert len(oneway) < 0.1 * net.n_edges


def test_realistic_highway_tags(regency: SyntheticRegency) -> None:
    counts = Counter(regency.network.edge_highway.tolist())
    for cls in ("trunk", "primary", "secondary", "tertiary", "unclassified", "residential", "living_street",
                "service", "track"):
        assert counts[cls] > 0, cls
    assert any(c.endswith("_link") for c in counts)
    assert set(counts) <= set(DEFAULT_SPEEDS_KPH) | {"sea_link", "ferry"}  # roads, and the island's boats
    assert counts["residential"] + counts["tertiary"] > counts["trunk"] + counts["primary"]


def test_lengths_are_haversine_of_the_polylines_and_some_are_curved(regency: SyntheticRegency) -> None:
    net = regency.network
    points = np.diff(net.geom_offsets)
    assert (points >= 2).all() and (points > 2).sum() > 0.05 * net.n_edges
    rng = np.random.default_rng(0)
    sample = np.concatenate([rng.choice(net.n_edges, 300, replace=False), np.flatnonzero(points > 2)[:50]])
    for e in sample.tolist():
        lon, lat = _polyline(net, e)
        assert (lon[0], lat[0]) == (net.lon[net.edge_u[e]], net.lat[net.edge_u[e]])
        assert (lon[-1], lat[-1]) == (net.lon[net.edge_v[e]], net.lat[net.edge_v[e]])
        expected = sum(haversine_m(lon[i], lat[i], lon[i + 1], lat[i + 1]) for i in range(len(lon) - 1))
        assert net.edge_length_m[e] == pytest.approx(expected, rel=1e-9)
    assert 5 < np.median(net.edge_length_m) < 1000


def test_travel_times_follow_the_speed_profile(regency: SyntheticRegency) -> None:
    net = regency.network
    assert net.edge_has_maxspeed.any() and net.edge_has_maxspeed.mean() < 0.2
    speed_kph = net.edge_length_m / net.edge_time_s * 3.6
    free = ~net.edge_has_maxspeed & ~net.is_sea_edge
    expected = np.array([DEFAULT_SPEEDS_KPH[h] for h in net.edge_highway[free].tolist()])
    np.testing.assert_allclose(speed_kph[free], expected, rtol=1e-9)
    tagged = set(np.round(speed_kph[net.edge_has_maxspeed], 6).tolist())
    allowed = {parse_maxspeed(v) for v in ("30", "40", "50", "60", "80", "ID:urban", "ID:rural")}
    assert tagged <= allowed
    # the island's speedboat: 5 min boarding + its length at 50 km/h; the ferry: 10 min + 20 km/h
    # (SYNTHETIC figures)
    boat, ferry = net.edge_highway == "sea_link", net.edge_highway == "ferry"
    np.testing.assert_allclose(net.edge_time_s[boat], 300.0 + net.edge_length_m[boat] / (50 / 3.6), rtol=1e-9)
    np.testing.assert_allclose(net.edge_time_s[ferry], 600.0 + net.edge_length_m[ferry] / (20 / 3.6), rtol=1e-9)


def test_parallel_edges_exist_and_the_fastest_wins(regency: SyntheticRegency) -> None:
    net = regency.network
    by_pair: dict[tuple[int, int], list[float]] = {}
    for u, v, t in zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_time_s.tolist(), strict=True):
        by_pair.setdefault((u, v), []).append(t)
    parallel = {p: ts for p, ts in by_pair.items() if len(ts) > 1}
    assert len(parallel) >= 4
    assert any(len(set(ts)) > 1 for ts in parallel.values())
    for (u, v), ts in parallel.items():
        assert net.csr[u, v] == pytest.approx(min(ts))


def test_travel_times_equal_networkx_dijkstra(regency: SyntheticRegency) -> None:
    net = regency.network
    graph = net.to_networkx()
    station_nodes, _ = net.nearest_nodes([s.lon for s in regency.stations], [s.lat for s in regency.stations])
    sources = np.array([station_nodes[0], station_nodes[-1], 17], dtype=np.int64)  # PSC, island puskesmas, any
    ours = net.travel_times(sources)
    for row, s in enumerate(sources.tolist()):
        ref = nx.single_source_dijkstra_path_length(graph, int(net.node_ids[s]), weight="travel_time")
        expected = np.full(net.n_nodes, np.inf)
        index = {nid: i for i, nid in enumerate(net.node_ids.tolist())}
        for nid, t in ref.items():
            expected[index[nid]] = t
        np.testing.assert_allclose(ours[row], expected, rtol=0, atol=1e-6)
    # the PSC reaches the island only by its boat: never sooner than the crossing itself
    island = shapely.contains_xy(regency.island, net.lon, net.lat)
    crossing_s = float(net.edge_time_s[net.is_sea_edge].min())
    assert (ours[0][island] > crossing_s).all() and np.isfinite(ours[0][island]).all()
    assert np.isinf(net.without_sea().travel_times(sources[:1])[0][island]).all()


# ---------------------------------------------------------------------------------- stations
def test_stations_sit_on_road_nodes_of_the_main_component(regency: SyntheticRegency) -> None:
    net = regency.network
    labels = net.without_sea().component_labels
    node_at = {(x, y): i for i, (x, y) in enumerate(zip(net.lon.tolist(), net.lat.tolist(), strict=True))}
    off_main = []
    for station in regency.stations:
        node = node_at.get((station.lon, station.lat))
        assert node is not None, f"{station.id} is not on a road node"
        if labels[node] != 0:
            off_main.append(station)
    assert [(s.type, s.name) for s in off_main] == [("puskesmas", "Puskesmas Pulau Sintetis")]
    assert shapely.contains_xy(regency.island, off_main[0].lon, off_main[0].lat)


def test_station_types_units_and_labels(regency: SyntheticRegency) -> None:
    stations = regency.stations
    types = Counter(s.type for s in stations)
    assert {"psc", "ambulance", "damkar", "puskesmas", "rsud", "bpbd", "polisi"} <= set(types)
    assert len({s.id for s in stations}) == len(stations)
    unit_ids = [u.id for s in stations for u in s.units]
    assert len(set(unit_ids)) == len(unit_ids)
    medical = {"psc", "ambulance", "puskesmas", "rsud"}
    for s in stations:
        assert s.source == f"synthetic: geodispatch.synthetic seed={regency.seed}"
        assert s.units, s.id
        unit_types = {u.type for u in s.units}
        if s.type in medical:
            assert "ambulance" in unit_types
        if s.type == "damkar":
            assert "damkar" in unit_types
        if s.type == "polisi":
            assert unit_types == {"polisi"}
    capabilities = Counter(c for s in stations for u in s.units if u.type == "ambulance" for c in u.capabilities)
    assert capabilities["ALS"] >= 2 and capabilities["BLS"] >= 3
    assert any("water_tender" in u.capabilities for s in stations for u in s.units if u.type == "damkar")


# ---------------------------------------------------------------------------------- people and areas
def test_population_points(regency: SyntheticRegency) -> None:
    pop = regency.population
    assert list(pop.columns) == ["lon", "lat", "population"]
    assert len(pop) == 3000
    assert (pop["population"] > 0).all()
    assert 150_000 < pop["population"].sum() < 250_000
    assert shapely.contains_xy(regency.boundary, pop["lon"].to_numpy(), pop["lat"].to_numpy()).all()
    # denser in towns: people per km² within 1.5 km of a town centre vs. the whole land
    x, y = regency.network.to_metric(pop["lon"].to_numpy(), pop["lat"].to_numpy())
    tx, ty = regency.network.to_metric(regency.towns["lon"].to_numpy(), regency.towns["lat"].to_numpy())
    near = (np.hypot(x[:, None] - tx[None, :], y[:, None] - ty[None, :]) < 1500).any(axis=1)
    town_density = pop["population"][near].sum() / (len(tx) * math.pi * 1.5**2)
    metric = shapely.transform(regency.boundary, lambda c: np.column_stack(regency.network.to_metric(c[:, 0], c[:, 1])))
    land_km2 = metric.area / 1e6
    assert town_density > 5 * pop["population"].sum() / land_km2


def test_population_point_count_and_total_scale() -> None:
    small = synthetic_regency(600, n_population_points=5000)
    assert len(small.population) == 5000
    assert small.population["population"].sum() == pytest.approx(200_000 * 600 / 3000)


def test_areas_tile_the_land_without_overlaps(regency: SyntheticRegency) -> None:
    areas = regency.areas
    assert areas.crs.to_epsg() == 4326
    assert list(areas.columns) == ["name", "kecamatan", "geometry"]
    assert areas["name"].is_unique and areas["name"].str.startswith("Desa Sintetis ").all()
    assert areas["kecamatan"].nunique() >= 6
    geoms = areas.geometry.values
    assert shapely.is_valid(geoms).all() and (shapely.area(geoms) > 0).all()
    union = shapely.union_all(geoms)
    assert shapely.area(geoms).sum() == pytest.approx(union.area, rel=1e-9)  # no overlaps
    assert union.area == pytest.approx(regency.boundary.area, rel=1e-6)  # no gaps
    points = shapely.points(regency.population["lon"].to_numpy(), regency.population["lat"].to_numpy())
    hit, _ = shapely.STRtree(geoms).query(points, predicate="intersects")
    assert len(np.unique(hit)) >= 0.99 * len(points)
    island_areas = areas[areas.intersects(regency.island)]
    assert (island_areas["kecamatan"] == "Kecamatan Pulau Sintetis").all() and len(island_areas) >= 2


def test_everything_is_labelled_synthetic(regency: SyntheticRegency) -> None:
    assert regency.network.synthetic
    assert "SYNTHETIC" in regency.network.label
    assert "SYNTHETIC" in regency.label
    assert regency.network.name == regency.name == "Kabupaten Sintetis"
    for frame in (regency.population, regency.areas, regency.towns):
        assert "SYNTHETIC" in frame.attrs["source"]
    assert regency.target_response_s == 900.0
