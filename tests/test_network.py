"""Foundation: loading, RoadNetwork arrays, travel times against networkx, snapping."""

from __future__ import annotations

import bz2
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geodispatch.errors import (
    CorruptFileError,
    InputError,
    NoRoadsError,
    SnapError,
    SourceNotFoundError,
    UnsupportedFormatError,
)
from geodispatch.network import RoadNetwork, nearest_source, point_travel_times
from geodispatch.network.speeds import DEFAULT_SPEEDS_KPH, congestion_factor, parse_maxspeed, primary_class
from geodispatch.scenario import load_network
from tests.conftest import write_osm_xml
from tests.strategies import road_graphs


def nx_times(graph: nx.MultiDiGraph, source: int, cutoff: float | None = None) -> dict[int, float]:
    return nx.single_source_dijkstra_path_length(graph, source, cutoff=cutoff, weight="travel_time")


def assert_matches_networkx(net: RoadNetwork, sources: list[int], limit: float | None, reverse: bool) -> None:
    graph = net.to_networkx()
    if reverse:
        graph = graph.reverse(copy=True)
    ours = net.travel_times(sources, limit=limit, reverse=reverse)
    for row, s in zip(ours, sources, strict=True):
        ref = nx_times(graph, int(net.node_ids[s]), cutoff=limit)
        reached = {int(net.node_ids[i]): row[i] for i in np.flatnonzero(np.isfinite(row))}
        assert reached.keys() == ref.keys()
        assert max(abs(reached[k] - ref[k]) for k in ref) < 1e-6


# ---------------------------------------------------------------- speeds
@pytest.mark.parametrize(
    ("raw", "kph"),
    [
        ("60", 60.0),
        ("60 km/h", 60.0),
        ("30 mph", 30 * 1.609344),
        ("60;80", 60.0),
        (["40", "50"], 40.0),
        ("['40', '50']", 40.0),
        ("ID:urban", 50.0),
        ("signals", None),
        ("none", None),
        ("", None),
        ("999", None),
        (None, None),
        (float("nan"), None),
        (45, 45.0),
    ],
)
def test_parse_maxspeed(raw: object, kph: float | None) -> None:
    got = parse_maxspeed(raw)
    assert got == pytest.approx(kph) if kph is not None else got is None


def test_primary_class_picks_fastest_and_handles_lists() -> None:
    assert primary_class(["residential", "primary"]) == "primary"
    assert primary_class("['residential', 'secondary']") == "secondary"
    assert primary_class(None) == "road"
    assert set(DEFAULT_SPEEDS_KPH) >= {"trunk", "primary", "secondary", "tertiary", "residential", "service", "track"}


def test_congestion_factor() -> None:
    assert congestion_factor(None) == 1.0
    assert congestion_factor(8) > 1.0
    assert congestion_factor(3) == 1.0
    assert congestion_factor(8, {8: 2.0}) == 2.0
    with pytest.raises(InputError):
        congestion_factor(24)


# ---------------------------------------------------------------- arrays and CSR
def tiny() -> RoadNetwork:
    """0 -> 1 twice (10 s and 4 s), 1 <-> 2, 2 -> 0 one-way, 3 <-> 4 a separate island."""
    return RoadNetwork.from_arrays(
        node_ids=[10, 11, 12, 13, 14],
        lon=[120.0, 120.01, 120.02, 121.0, 121.01],
        lat=[-5.0, -5.0, -5.01, -5.0, -5.0],
        edge_u=[0, 0, 1, 2, 2, 3, 4],
        edge_v=[1, 1, 2, 1, 0, 4, 3],
        edge_length_m=[1000, 900, 1200, 1200, 2000, 500, 500],
        edge_time_s=[10, 4, 12, 12, 30, 5, 5],
    )


def test_parallel_edges_keep_fastest_and_one_way_respected() -> None:
    net = tiny()
    assert net.csr[0, 1] == 4.0  # not 14 (scipy would sum duplicates)
    t = net.travel_times([0])[0]
    assert t.tolist()[:3] == [0.0, 4.0, 16.0]
    assert math.isinf(t[3]) and math.isinf(t[4])
    back = net.travel_times([0], reverse=True)[0]  # times *to* node 0
    assert back[2] == 30.0 and back[1] == 42.0
    assert net.n_components == 2
    assert net.component_sizes().tolist() == [3, 2]
    graph = net.to_networkx()
    assert graph.number_of_edges() == net.n_edges
    assert min(d["travel_time"] for d in graph.get_edge_data(10, 11).values()) == net.csr[0, 1]


def test_from_arrays_rejects_bad_input() -> None:
    with pytest.raises(NoRoadsError):
        RoadNetwork.from_arrays([1], [0.0], [0.0], [], [], [], [])
    with pytest.raises(InputError):
        RoadNetwork.from_arrays([1, 2], [0.0, 1.0], [0.0, 0.0], [0], [5], [1.0], [1.0])
    with pytest.raises(InputError):
        RoadNetwork.from_arrays([1, 2], [0.0, 1.0], [0.0, 0.0], [0], [1], [1.0], [float("nan")])


@pytest.mark.parametrize("limit", [-1.0, float("nan"), "soon"])
def test_bad_time_limits(limit: object) -> None:
    with pytest.raises(InputError):
        tiny().travel_times([0], limit=limit)  # type: ignore[arg-type]


def test_bad_sources() -> None:
    with pytest.raises(InputError):
        tiny().travel_times([7])
    with pytest.raises(InputError):
        tiny().travel_times([])


@settings(max_examples=60, deadline=None)
@given(net=road_graphs(), reverse=st.booleans(), limit=st.one_of(st.none(), st.floats(0.0, 800.0)))
def test_travel_times_equal_networkx_on_random_graphs(net: RoadNetwork, reverse: bool, limit: float | None) -> None:
    """Parallel edges, one-way edges, self-loops, zero times and disconnected parts."""
    assert_matches_networkx(net, list(range(net.n_nodes)), limit, reverse)


@settings(max_examples=30, deadline=None)
@given(net=road_graphs(), data=st.data())
def test_nearest_source_is_min_over_rows(net: RoadNetwork, data: st.DataObject) -> None:
    sources = data.draw(st.lists(st.integers(0, net.n_nodes - 1), min_size=1, max_size=4))
    which, time_s = nearest_source(net, sources, limit=300.0)
    table = net.travel_times(sources, limit=300.0)
    np.testing.assert_allclose(time_s, table.min(axis=0))
    reached = which >= 0
    np.testing.assert_array_equal(reached, np.isfinite(time_s))
    np.testing.assert_allclose(table[which[reached], np.flatnonzero(reached)], time_s[reached])


@settings(max_examples=30, deadline=None)
@given(net=road_graphs(), data=st.data(), reverse=st.booleans())
def test_nearest_source_equals_networkx_multi_source(net: RoadNetwork, data: st.DataObject, reverse: bool) -> None:
    """The numba multi-source search against networkx (an independent reference), with a shared workspace."""
    from geodispatch.network.traveltime import SearchWorkspace

    sources = data.draw(st.lists(st.integers(0, net.n_nodes - 1), min_size=1, max_size=4))
    limit = data.draw(st.sampled_from([0.0, 25.0, 300.0, None]))
    g = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))
    for u, v, t in zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_time_s.tolist(), strict=True):
        a, b = (v, u) if reverse else (u, v)
        if a != b and (not g.has_edge(a, b) or g[a][b]["w"] > t):
            g.add_edge(a, b, w=t)
    ref = nx.multi_source_dijkstra_path_length(g, set(sources), cutoff=limit, weight="w")
    workspace = SearchWorkspace(net)
    for _ in range(2):  # the second run reuses the workspace: it must have been reset
        which, time_s = nearest_source(net, sources, limit=limit, reverse=reverse, workspace=workspace)
        expected = np.full(net.n_nodes, np.inf)
        for node, t in ref.items():
            expected[node] = t
        np.testing.assert_allclose(time_s, expected, rtol=0, atol=1e-6)
        table = net.travel_times(sources, limit=limit, reverse=reverse)
        reached = np.isfinite(time_s)
        np.testing.assert_allclose(table[which[reached], np.flatnonzero(reached)], time_s[reached], atol=1e-6)
        assert (which[~reached] == -1).all()


# ---------------------------------------------------------------- real network
@pytest.fixture(scope="module")
def balikpapan(balikpapan_graphml: Path) -> RoadNetwork:
    return load_network(balikpapan_graphml)


def test_balikpapan_loads_and_matches_networkx(balikpapan: RoadNetwork) -> None:
    assert balikpapan.n_nodes == 1207 and balikpapan.n_edges == 2683
    assert balikpapan.summary()["directed_edge_km"] == pytest.approx(235.3, abs=0.5)
    rng = np.random.default_rng(1)
    sources = rng.choice(balikpapan.n_nodes, 5, replace=False).tolist()
    assert_matches_networkx(balikpapan, sources, 600.0, reverse=False)
    assert_matches_networkx(balikpapan, sources, 600.0, reverse=True)
    assert_matches_networkx(balikpapan, sources[:2], None, reverse=False)


def test_save_and_reload_identical(balikpapan: RoadNetwork, tmp_path: Path) -> None:
    path = balikpapan.save(tmp_path / "bpp")
    assert path.suffix == ".npz" and not list(tmp_path.glob("*.part"))
    again = load_network(path)
    for name in RoadNetwork._ARRAYS:
        np.testing.assert_array_equal(getattr(again, name), getattr(balikpapan, name))
    np.testing.assert_array_equal(again.travel_times([3], limit=300), balikpapan.travel_times([3], limit=300))


def test_nearest_nodes_and_snap(balikpapan: RoadNetwork) -> None:
    idx, dist = balikpapan.nearest_nodes(balikpapan.lon[[5, 9]], balikpapan.lat[[5, 9]])
    assert idx.tolist() == [5, 9] and dist.max() < 1e-6
    snap = balikpapan.snap([116.8302], [-1.2651])
    assert snap.ok.all() and 0 <= snap.fraction[0] <= 1 and snap.distance_m[0] < 1000
    e = snap.edge[0]
    t = balikpapan.edge_time_s[e]
    assert snap.time_from_u_s[0] + snap.time_to_v_s[0] == pytest.approx(t)
    with pytest.raises(SnapError, match="farther than 1000 m"):
        balikpapan.snap([116.83, 117.5], [-1.265, -1.265])
    loose = balikpapan.snap([116.83, 117.5], [-1.265, -1.265], strict=False)
    assert loose.ok.tolist() == [True, False] and loose.distance_m[1] > 50_000
    with pytest.raises(InputError, match="projected or swapped"):
        balikpapan.snap([500000.0], [9850000.0])


def test_point_travel_times_equal_networkx_with_split_edge(balikpapan: RoadNetwork) -> None:
    """A point part-way along an edge: compare with networkx on a graph where the edge is split."""
    snap = balikpapan.snap([116.8302, 116.845], [-1.2651, -1.262])
    for reverse in (False, True):
        ours = point_travel_times(balikpapan, snap, limit=900.0, reverse=reverse)
        assert isinstance(ours, np.ndarray)
        for i in range(2):
            graph = balikpapan.to_networkx()
            p = "point"
            u, v = int(balikpapan.node_ids[snap.u[i]]), int(balikpapan.node_ids[snap.v[i]])
            graph.add_edge(p, v, travel_time=snap.time_to_v_s[i])
            graph.add_edge(u, p, travel_time=snap.time_from_u_s[i])
            if np.isfinite(snap.time_to_u_s[i]):
                graph.add_edge(p, u, travel_time=snap.time_to_u_s[i])
                graph.add_edge(v, p, travel_time=snap.time_from_v_s[i])
            if reverse:
                graph = graph.reverse(copy=True)
            ref = nx_times(graph, p, cutoff=900.0)  # type: ignore[arg-type]
            row = ours[i]
            for j in np.flatnonzero(np.isfinite(row)):
                assert row[j] == pytest.approx(ref[int(balikpapan.node_ids[j])], abs=1e-6)
            assert int(np.isfinite(row).sum()) == len(ref) - 1  # minus the point itself


def test_point_exactly_on_a_junction_of_one_way_roads() -> None:
    """A station on a junction that only one-way roads leave (or enter) is that junction: the
    snapped edge's direction must not cut it off from the junction's other roads."""
    deg = 1.0 / 111_320.0
    lon = 119.8 + np.array([0.0, 1000.0, 0.0, 1000.0]) * deg
    lat = -7.5 + np.array([0.0, 0.0, 1000.0, 1000.0]) * deg
    u, v = [0, 0, 1, 2, 1, 2], [1, 2, 2, 1, 3, 3]  # 0 only leaves, 3 only enters, 1 <-> 2
    t = [100.0, 100.0, 141.0, 141.0, 100.0, 100.0]
    net = RoadNetwork.from_arrays(np.arange(4), lon, lat, u, v, t, t)
    snap = net.snap(lon[[0, 3]], lat[[0, 3]])
    assert snap.fraction[0] == 0.0 and snap.fraction[1] == 1.0  # on a node, either road
    forward = np.asarray(point_travel_times(net, snap, reverse=False))
    np.testing.assert_allclose(forward[0], net.travel_times([0])[0], atol=1e-6)  # [0, 100, 100, 200]
    backward = np.asarray(point_travel_times(net, snap, reverse=True))
    np.testing.assert_allclose(backward[1], net.travel_times([3], reverse=True)[0], atol=1e-6)  # [200, 100, 100, 0]


# ---------------------------------------------------------------- loaders
def test_osm_xml_one_way_and_maxspeed(small_osm: Path) -> None:
    net = load_network(small_osm)
    ids = {int(i): k for k, i in enumerate(net.node_ids)}
    assert net.n_nodes >= 6
    # the one-way street 5 -> 6: 5 reaches 6 directly, 6 cannot come back the same way
    t = net.travel_times([ids[5], ids[6]])
    assert t[0, ids[6]] < t[1, ids[5]]
    primary = net.edge_highway == "primary"
    assert net.edge_has_maxspeed[primary].all()
    speeds = net.edge_length_m[primary] / net.edge_time_s[primary] * 3.6
    np.testing.assert_allclose(speeds, 60.0)
    tertiary = net.edge_highway == "tertiary"
    np.testing.assert_allclose(net.edge_length_m[tertiary] / net.edge_time_s[tertiary] * 3.6, 40.0)


def test_osm_bz2(small_osm: Path, tmp_path: Path) -> None:
    packed = tmp_path / "town.osm.bz2"
    packed.write_bytes(bz2.compress(small_osm.read_bytes()))
    assert load_network(packed).n_edges == load_network(small_osm).n_edges


def test_region_speed_override(small_osm: Path) -> None:
    slow = load_network(small_osm, speeds_kph={"tertiary": 20})
    fast = load_network(small_osm)
    tert = fast.edge_highway == "tertiary"
    np.testing.assert_allclose(slow.edge_time_s[tert], 2 * fast.edge_time_s[tert])
    peak = load_network(small_osm, hour=8)
    np.testing.assert_allclose(peak.edge_time_s, fast.edge_time_s * congestion_factor(8))


def test_pbf_from_pyrosm_and_clip() -> None:
    pyrosm = pytest.importorskip("pyrosm")
    path = pyrosm.get_data("test_pbf")
    net = load_network(path)
    assert net.n_nodes > 100 and net.n_components >= 1
    b = net.bbox
    half = load_network(path, bbox=(b[0], b[1], (b[0] + b[2]) / 2, (b[1] + b[3]) / 2))
    assert 0 < half.n_nodes < net.n_nodes
    assert half.lon.max() <= (b[0] + b[2]) / 2 + 0.01
    assert_matches_networkx(net, [0, 7], 600.0, reverse=False)


def test_graphml_roundtrip_through_osmnx(small_osm: Path, tmp_path: Path) -> None:
    import osmnx as ox

    graph = ox.graph_from_xml(small_osm, retain_all=True)
    ox.save_graphml(graph, tmp_path / "town.graphml")
    assert load_network(tmp_path / "town.graphml").n_edges == graph.number_of_edges()


# ---------------------------------------------------------------- bad input
def test_missing_file() -> None:
    with pytest.raises(SourceNotFoundError, match="not found"):
        load_network("no/such/file.graphml")


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "roads.shp"
    path.write_text("x")
    with pytest.raises(UnsupportedFormatError, match="unsupported"):
        load_network(path)


@pytest.mark.parametrize("name", ["broken.osm", "broken.graphml", "broken.osm.pbf", "broken.npz"])
def test_corrupt_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("<osm><node id='1' lat='oops'" if name.endswith("osm") else "garbage \x00\x01 not a real file")
    with pytest.raises(CorruptFileError):
        load_network(path)


def test_graphml_without_xy(tmp_path: Path) -> None:
    graph = nx.MultiDiGraph()
    graph.add_edge(1, 2, length=10.0, highway="primary")
    path = tmp_path / "noxy.graphml"
    nx.write_graphml(graph, path)
    with pytest.raises(CorruptFileError, match="x"):
        load_network(path)


def test_area_without_drivable_roads(tmp_path: Path) -> None:
    path = write_osm_xml(tmp_path / "empty.osm", {1: (120.0, -5.0), 2: (120.001, -5.0)}, [])
    with pytest.raises((NoRoadsError, CorruptFileError)):
        load_network(path)


def test_missing_region_yaml_is_an_unknown_region() -> None:
    with pytest.raises(SourceNotFoundError, match="unknown region"):
        load_network("no-such-region.yaml")


def test_synthetic_size_validated() -> None:
    with pytest.raises(InputError):
        load_network("synthetic:abc")


@pytest.mark.parametrize("reverse", [False, True])
def test_bounded_searches_equal_scipy_and_sparse_equals_dense(reverse: bool) -> None:
    """The reach-proportional searches (numba) against scipy's dijkstra on a 20k-node network."""
    from scipy.sparse.csgraph import dijkstra

    from geodispatch.network.traveltime import sparse_travel_times
    from geodispatch.synthetic import synthetic_regency

    net = synthetic_regency(n_nodes=20_000, seed=3).network
    sources = np.random.default_rng(5).choice(net.n_nodes, 25, replace=False)
    ref = dijkstra(net.csr_reverse if reverse else net.csr, indices=sources, limit=900.0)
    ours = net.travel_times(sources, limit=900.0, reverse=reverse)
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(ref))
    np.testing.assert_allclose(ours[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=0, atol=1e-6)
    # nearest_source: one multi-source search (its heap grows here) against scipy's min_only
    which, time_s = nearest_source(net, sources, limit=900.0, reverse=reverse)
    best = dijkstra(net.csr_reverse if reverse else net.csr, indices=sources, limit=900.0, min_only=True)
    np.testing.assert_array_equal(np.isfinite(time_s), np.isfinite(best))
    np.testing.assert_allclose(time_s[np.isfinite(best)], best[np.isfinite(best)], rtol=0, atol=1e-6)
    reached = np.flatnonzero(which >= 0)
    np.testing.assert_array_equal(reached, np.flatnonzero(np.isfinite(best)))
    np.testing.assert_allclose(ours[which[reached], reached], time_s[reached], rtol=0, atol=1e-6)
    table = sparse_travel_times(net, sources, 900.0, reverse=reverse)
    dense = np.full(ours.shape, np.inf)
    rows = np.repeat(np.arange(len(sources)), np.diff(table.indptr))
    dense[rows, table.indices] = table.data
    np.testing.assert_array_equal(dense, ours)
    with pytest.raises(InputError):
        sparse_travel_times(net, sources, float("inf"))


def test_speed_options_apply_to_the_synthetic_regency() -> None:
    """speeds_kph, hour and congestion change the synthetic regency's times as they do a road file's."""
    from geodispatch.scenario import load_scenario

    base = load_network("synthetic:400")
    slow = load_network("synthetic:400", speeds_kph={"residential": 10})
    res = (base.edge_highway == "residential") & ~base.edge_has_maxspeed
    assert res.sum() > 10
    np.testing.assert_allclose(slow.edge_time_s[res], base.edge_length_m[res] / (10 / 3.6))
    np.testing.assert_array_equal(slow.edge_time_s[~res], base.edge_time_s[~res])
    rush = load_network("synthetic:400", hour=8, congestion={8: 1.5})
    road = ~base.is_sea_edge  # the boat keeps its crossing time: congestion is a road thing
    np.testing.assert_allclose(rush.edge_time_s[road], base.edge_time_s[road] * 1.5)
    np.testing.assert_array_equal(rush.edge_time_s[~road], base.edge_time_s[~road])
    scen = load_scenario("synthetic:400", speeds_kph={"residential": 10}, hour=8, congestion={8: 1.5})
    np.testing.assert_allclose(scen.network.edge_time_s[road], slow.edge_time_s[road] * 1.5)
    assert base.edge_time_s[res].min() < slow.edge_time_s[res].min()  # the cached regency is untouched
    with pytest.raises(InputError, match="bbox"):
        load_network("synthetic:400", bbox=(0.0, 0.0, 1.0, 1.0))


def test_speed_options_on_an_npz_network_are_refused(tmp_path: Path) -> None:
    path = load_network("synthetic:400").save(tmp_path / "net.npz")
    for option in ({"speeds_kph": {"residential": 10}}, {"hour": 8}, {"congestion": {8: 2.0}}):
        with pytest.raises(InputError, match=r"\.npz network keeps the travel times"):
            load_network(path, **option)
    assert load_network(path).n_edges > 0


def test_bbox_clips_only_a_pbf(tmp_path: Path) -> None:
    path = load_network("synthetic:400").save(tmp_path / "net.npz")
    with pytest.raises(InputError, match=r"\.osm\.pbf"):
        load_network(path, bbox=(0.0, 0.0, 1.0, 1.0))


def test_road_files_are_titled_by_a_human_place_name(balikpapan_graphml: Path) -> None:
    """Titles read 'Balikpapan Kota', not the file name 'balikpapan_kota_drive'."""
    from geodispatch.network.load import place_name

    assert load_network(balikpapan_graphml).name == "Balikpapan Kota"
    assert place_name(Path("simpl_klandasan_ilir_drive.graphml")) == "Klandasan Ilir"
    assert place_name(Path("sulawesi-latest.osm.pbf")) == "Sulawesi"
    assert place_name(Path("bantaeng.osm")) == "Bantaeng"
    assert place_name(Path("kota_all_private.graphml")) == "Kota"
    assert place_name(Path("_.osm")) == "_.osm"


def test_search_heaps_pop_in_time_order() -> None:
    """The kernels' heaps (binary and 4-ary): a wrong order still ends with the right times (a node
    is relaxed again), only slower, so no equality test would notice; this does."""
    from geodispatch.network._dijkstra import _heap4_pop, _heap4_push, _heap_pop, _heap_push

    times = np.random.default_rng(1).uniform(0.0, 900.0, 300)
    for push, pop in ((_heap_push, _heap_pop), (_heap4_push, _heap4_pop)):
        heap_t, heap_v, size = np.empty(len(times)), np.empty(len(times), dtype=np.int64), 0
        for i, t in enumerate(times):
            size = push(heap_t, heap_v, size, t, i)
        popped = []
        while size:
            t, v, size = pop(heap_t, heap_v, size)
            popped.append((t, v))
        assert [t for t, _ in popped] == sorted(times.tolist())
        assert all(times[v] == t for t, v in popped)
