"""Coverage benchmark: geodispatch isochrones + coverage table vs the osmnx isochrone example.

On the same input, in the same run:

* **ours**: :func:`geodispatch.coverage.run_coverage` with per-station isochrones at 5/10/15 min,
  the union per station type from one multi-source search, the population / road / per-desa
  coverage table, the response-time surface and the hotspots (no files written). The one-time
  preparation of the population (``prepare_population``: snapping the points to their nearest
  road, their H3 cells and their desa; independent of stations and thresholds, reusable across
  runs) is timed separately and the last ratio includes it;
* **osmnx example approach** (``osmnx-examples`` notebook "isolines-isochrones"): for every
  station and threshold ``networkx.ego_graph(G, node, radius=T, distance="travel_time")``, then
  ``make_iso_polys`` (buffer every reached node and every reached edge, ``unary_union``) with the
  same 100 m off-road distance; the union per type is the ``unary_union`` of the station polygons;
  the coverage table is a geopandas ``sjoin`` of the population points with those polygons and
  with the desa.

Both are checked against the containment rules of the tests: every node reached within T
(our travel times, checked equal to networkx in the tests) inside the T polygon, and no node with
time > T + 100 m / slowest speed inside it (counted; on real street grids a parallel street within
100 m may legitimately be inside, so violations are listed, not hidden). The convex hull of the
reached nodes (the example's other variant) is checked too.

A second table (``--peers-only`` prints only it) times per-station isochrone polygons at 5/10/15 min
for 50 random posts against Valhalla 3.5's ``isochrone`` (three contours per call, through its
Python bindings, on tiles built from the same network exported to OSM PBF), in the same run.
Ours includes the searches and the union per type; Valhalla's polygons are generalised contours of
its own grid, ours the exact buffer of the reached road (the containment rules above). Ours is timed
three times: the default (``method="blocks"``) on its first call, which builds the network's
whole-road blocks, again with the blocks memoised, and the reference ``method="chains"``; the
largest Hausdorff distance between the default's and the reference's polygons is printed (only
the chords of the round caps differ, ~2 m at 100 m). The
Jaccard index of the nodes inside Valhalla's 15-minute polygon and the nodes we reach within 15
minutes, averaged over the posts, says how far Valhalla's own speed model is from ours.

Run: ``.venv/bin/python benchmarks/bench_coverage.py [--nodes 100000] [--stations 30] [--points 1000000]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, print_table, timed

from geodispatch.coverage import prepare_population, run_coverage
from geodispatch.coverage.stations import select_stations
from geodispatch.network import RoadNetwork
from geodispatch.regions import Station
from geodispatch.scenario import Scenario, load_network

MINUTES = (5.0, 10.0, 15.0)
OFFROAD_M = 100.0


# --------------------------------------------------------------------------- inputs
def synthetic_input(n_nodes: int, n_stations: int, n_points: int, seed: int = 0) -> Scenario:
    """Synthetic regency with ``n_stations`` (2/3 ambulance, 1/3 damkar) and ``n_points`` people points."""
    from geodispatch.synthetic import synthetic_regency

    reg = synthetic_regency(n_nodes=n_nodes)
    rng = np.random.default_rng(seed)
    amb = [s for s in reg.stations if s.type in ("psc", "rsud", "puskesmas", "ambulance")]
    dam = [s for s in reg.stations if s.type == "damkar"]
    n_dam = max(1, n_stations // 3)
    pick = [amb[i] for i in np.sort(rng.choice(len(amb), min(len(amb), n_stations - n_dam), replace=False))]
    pick += [dam[i] for i in np.sort(rng.choice(len(dam), min(len(dam), n_dam), replace=False))]
    base = reg.population
    idx = rng.integers(0, len(base), n_points)
    jitter = rng.normal(0, 0.0008, (n_points, 2))  # about 90 m
    factor = len(base) / n_points
    pop = pd.DataFrame(
        {
            "lon": base["lon"].to_numpy()[idx] + jitter[:, 0],
            "lat": base["lat"].to_numpy()[idx] + jitter[:, 1],
            "population": base["population"].to_numpy()[idx] * factor,
        }
    )
    return Scenario(name=reg.label, network=reg.network, stations=tuple(pick), population=pop, areas=reg.areas)


def balikpapan_input() -> Scenario | None:
    """Balikpapan Kota roads, the real fire posts, kelurahan, one population point per node."""
    graphml = SHARED_DATA / "roads" / "balikpapan_kota_drive.graphml"
    if not graphml.exists():
        return None
    import geopandas as gpd

    net = load_network(graphml)
    posts = pd.read_csv(SHARED_DATA / "facilities" / "balikpapan_fire_stations.csv")
    stations = tuple(
        Station(id=f"pos-{i}", name=r.name, type="damkar", lon=r.lon, lat=r.lat, source="shared")
        for i, r in enumerate(posts.itertuples(index=False))
    )
    areas = gpd.read_file(SHARED_DATA / "boundaries" / "balikpapan_kelurahan.geojson").rename(columns={"nama": "name"})
    pop = pd.DataFrame({"lon": net.lon, "lat": net.lat, "population": np.ones(net.n_nodes)})
    return Scenario(name="Balikpapan Kota", network=net, stations=stations, population=pop,
                    areas=areas[["name", "geometry"]])


# --------------------------------------------------------------------------- baseline
def _metric_graph(net: RoadNetwork) -> Any:
    """osmnx-style MultiDiGraph in the metric CRS (the example projects the graph first)."""
    graph = net.to_networkx(geometry=False)
    xy = net.node_xy
    for i, node in enumerate(net.node_ids.tolist()):
        graph.nodes[node]["x"], graph.nodes[node]["y"] = float(xy[i, 0]), float(xy[i, 1])
    metric = net.edge_geometries(metric=True)
    ids = net.node_ids
    seen: dict[tuple[int, int], int] = {}
    for e in range(net.n_edges):  # to_networkx adds edge e as the next key of its (u, v) pair
        pair = (int(ids[net.edge_u[e]]), int(ids[net.edge_v[e]]))
        key = seen.get(pair, 0)
        seen[pair] = key + 1
        graph.edges[pair[0], pair[1], key]["geometry"] = metric[e]
    return graph


def make_iso_polys(graph: Any, center: int, trip_times: list[float], buff: float) -> list[Any]:
    """The osmnx example's ``make_iso_polys`` (node and edge buffers, unary_union), largest first."""
    import geopandas as gpd
    import networkx as nx
    from shapely.geometry import LineString, Point

    polys = []
    for trip_time in sorted(trip_times, reverse=True):
        subgraph = nx.ego_graph(graph, center, radius=trip_time, distance="travel_time")
        node_points = [Point((data["x"], data["y"])) for _, data in subgraph.nodes(data=True)]
        nodes_gdf = gpd.GeoDataFrame({"id": list(subgraph.nodes)}, geometry=node_points).set_index("id")
        edge_lines = []
        for n_fr, n_to in subgraph.edges():
            f = nodes_gdf.loc[n_fr].geometry
            t = nodes_gdf.loc[n_to].geometry
            edge_lookup = graph.get_edge_data(n_fr, n_to)[0].get("geometry", LineString([f, t]))
            edge_lines.append(edge_lookup)
        n = nodes_gdf.buffer(buff).geometry
        e = gpd.GeoSeries(edge_lines).buffer(buff).geometry
        polys.append(gpd.GeoSeries(list(n) + list(e)).union_all())
    return polys[::-1]


def baseline(scen: Scenario, services: tuple[str, ...]) -> tuple[dict[str, list[Any]], pd.DataFrame, float, float]:
    """Per-station ego_graph polygons, per-type unions, sjoin coverage table; returns timings."""
    import geopandas as gpd
    import shapely

    net = scen.network
    graph = _metric_graph(net)  # preparation, not timed (the example starts from a graph)
    limits = [m * 60 for m in MINUTES]
    start = time.perf_counter()
    unions: dict[str, list[Any]] = {}
    for service in services:
        sset = select_stations(net, scen.stations, service)
        per_station = []
        for i in np.flatnonzero(sset.usable):
            node, _ = net.nearest_nodes([sset.stations[i].lon], [sset.stations[i].lat])
            per_station.append(make_iso_polys(graph, int(net.node_ids[node[0]]), limits, OFFROAD_M))
        unions[service] = [shapely.union_all([p[k] for p in per_station]) for k in range(len(limits))]
    t_iso = time.perf_counter() - start
    start = time.perf_counter()
    pop = scen.population
    x, y = net.to_metric(pop["lon"].to_numpy(), pop["lat"].to_numpy())
    points = gpd.GeoDataFrame(pop[["population"]], geometry=gpd.points_from_xy(x, y), crs=net.crs)
    areas = scen.areas.to_crs(net.crs)
    joined = gpd.sjoin(points, areas[["name", "geometry"]], how="left", predicate="within")
    rows = []
    for service, polys in unions.items():
        for m, poly in zip(MINUTES, polys, strict=True):
            inside = shapely.intersects_xy(poly, x, y)
            covered = joined.assign(c=np.where(inside[joined.index], joined["population"], 0.0))
            agg = covered.groupby("name").agg(population=("population", "sum"), covered=("c", "sum"))
            agg["type"], agg["minutes"] = service, m
            rows.append(agg.reset_index())
    table = pd.concat(rows, ignore_index=True)
    t_table = time.perf_counter() - start
    return unions, table, t_iso, t_table


# --------------------------------------------------------------------------- checks
def containment(net: RoadNetwork, node_t: np.ndarray, polys: list[Any], metric: bool) -> tuple[int, int, int]:
    """(reached nodes outside, far nodes inside, far nodes) summed over the thresholds."""
    import shapely

    xy = net.node_xy
    slowest = float((net.edge_length_m / net.edge_time_s).min())
    miss = bad = far_total = 0
    for m, poly in zip(MINUTES, polys, strict=True):
        geom = poly if metric else shapely.transform(poly, lambda c: np.column_stack(net.to_metric(c[:, 0], c[:, 1])))
        inside = shapely.intersects_xy(geom, xy[:, 0], xy[:, 1])
        limit = m * 60
        miss += int((~inside & (node_t <= limit)).sum())
        far = node_t > limit + OFFROAD_M / slowest
        bad += int((inside & far).sum())
        far_total += int(far.sum())
    return miss, bad, far_total


def run_case(label: str, scen: Scenario, services: tuple[str, ...]) -> list[list[Any]]:
    import shapely

    net = scen.network
    stamps: list[tuple[str, float]] = []
    prepared, t_snap = timed(lambda: prepare_population(net, scen.population, areas=scen.areas))
    report, t_ours = timed(
        lambda: run_coverage(
            scen, minutes=MINUTES, station_types=services, per_station=True, offroad_m=OFFROAD_M,
            population=prepared, progress=lambda msg: stamps.append((msg, time.perf_counter())),
        )
    )
    keys = [k for k, _ in stamps]
    marks = [v for _, v in stamps]
    first_after = next(i for i, k in enumerate(keys) if k.startswith(("population", "road coverage")))
    t_iso = marks[first_after] - marks[keys.index("travel times")]  # searches + all isochrones
    t_table = t_ours - t_iso
    unions, _, b_iso, b_table = baseline(scen, services)
    rows = []
    for service in services:
        node_t = report.node_time_s[service]
        iso = report.isochrones
        ours = [iso[(iso["type"] == service) & (iso["station_id"] == "all") & (iso["minutes"] == m)].geometry.iloc[0]
                for m in MINUTES]
        o = containment(net, node_t, ours, metric=False)
        b = containment(net, node_t, unions[service], metric=True)
        hulls = [shapely.convex_hull(shapely.multipoints(net.node_xy[node_t <= m * 60])) for m in MINUTES]
        h = containment(net, node_t, hulls, metric=True)
        rows.append([label, service, f"{o[0]} / {o[1]} of {o[2]}", f"{b[0]} / {b[1]} of {b[2]}",
                     f"{h[0]} / {h[1]} of {h[2]}"])
    n_st = sum(select_stations(net, scen.stations, s).n_usable for s in services)
    base = b_iso + b_table
    timing = [label, f"{net.n_nodes:,}", n_st, f"{len(scen.population):,}", f"{t_iso:.1f}", f"{t_table:.1f}",
              f"{t_snap:.1f}", f"{t_ours + t_snap:.1f}", f"{b_iso:.1f}", f"{b_table:.1f}", f"{base:.1f}",
              f"{b_iso / t_iso:.1f}x", f"{base / t_ours:.1f}x", f"{base / (t_ours + t_snap):.1f}x"]
    return [timing, *rows]


def isochrone_peers(label: str, net: RoadNetwork, n_posts: int = 50) -> list[str]:
    """Per-station isochrones of ``n_posts`` random posts: ours against Valhalla (see the docstring)."""
    import shapely
    from _peers import Valhalla, jaccard

    from geodispatch.coverage.isochrones import isochrone_frame
    from geodispatch.coverage.surface import station_node_times
    from geodispatch.network.traveltime import travel_times

    rng = np.random.default_rng(0)
    main = np.flatnonzero(net.component_labels == 0)
    posts = rng.choice(main, n_posts, replace=False)
    stations = tuple(
        Station(id=f"post-{i}", name=f"post {i}", type="damkar", lon=float(net.lon[n]), lat=float(net.lat[n]),
                source="benchmark: random road node")
        for i, n in enumerate(posts)
    )
    _ = net.twin_edge, net.edge_geometries(metric=True), net.csr_reverse

    def ours(method: str) -> Any:
        sset = select_stations(net, stations, "damkar")
        times = {"damkar": station_node_times(net, sset.snap)[1]}
        return isochrone_frame(net, {"damkar": sset}, times, MINUTES, OFFROAD_M, per_station=True, method=method)

    frame, t_ours = timed(lambda: ours("blocks"))  # first call: builds the network's whole-road blocks
    again, t_again = timed(lambda: ours("blocks"))  # blocks memoised on the network
    ref, t_ref = timed(lambda: ours("chains"))
    a = np.asarray(frame.geometry.to_crs(net.crs).array, dtype=object)
    b = np.asarray(ref.geometry.to_crs(net.crs).array, dtype=object)
    same = shapely.area(shapely.symmetric_difference(a, b)) / np.maximum(shapely.area(b), 1.0)
    vh, build = timed(lambda: Valhalla(net))
    polys, t_vh = timed(lambda: [vh.isochrones(float(net.lon[n]), float(net.lat[n]), MINUTES) for n in posts])
    reach = travel_times(net, posts, limit=MINUTES[-1] * 60.0)
    scores = [jaccard(shapely.intersects_xy(p[-1], net.lon, net.lat), np.isfinite(r)) for p, r in zip(polys, reach,
                                                                                                     strict=True)]
    assert len(again) == len(frame) == len(ref)
    return [label, f"{net.n_nodes:,}", str(n_posts), f"{t_ours:.2f}", f"{t_again:.2f}", f"{t_ref:.2f}",
            f"{float(np.max(same)):.1e}", f"{t_vh:.2f}", f"{t_vh / t_ours:.2f}x", f"{build:.0f}",
            f"{np.mean(scores):.3f} (min {np.min(scores):.3f})", str(len(frame))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--stations", type=int, default=30)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--peers-only", action="store_true", help="only the isochrone table against Valhalla")
    args = parser.parse_args()
    if args.peers_only:
        rows = []
        graphml = SHARED_DATA / "roads" / "balikpapan_kota_drive.graphml"
        if graphml.exists():
            rows.append(isochrone_peers("Balikpapan Kota (real)", load_network(graphml)))
        from bench_traveltime import synthetic_cached

        print(f"synthetic:{args.nodes} ...", flush=True)
        cache = Path(tempfile.gettempdir()) / "geodispatch-bench"
        rows.append(isochrone_peers(f"synthetic:{args.nodes}", synthetic_cached(args.nodes, cache)))
        print_table(
            "Per-station isochrones 5/10/15 min, 50 posts: ours (exact road buffer) vs Valhalla isochrone x50, seconds",
            ["network", "nodes", "posts", "ours (blocks, first call)", "ours again (blocks memoised)",
             "ours reference (chains)", "max sym. difference / area, blocks vs chains", "Valhalla",
             "Valhalla / ours first call",
             "Valhalla tiles s (apart)", "reach Jaccard at 15 min", "our polygons"],
            rows,
        )
        return
    services = ("ambulance", "damkar")
    timings, checks = [], []
    cases: list[tuple[str, Scenario, tuple[str, ...]]] = []
    bpp = balikpapan_input()
    if bpp is not None:
        cases.append(("Balikpapan Kota (real)", bpp, ("damkar",)))
    else:
        print("../shared/data absent: Balikpapan case skipped")
    cases.append((f"synthetic:{args.nodes}", synthetic_input(args.nodes, args.stations, args.points), services))
    for label, scen, svc in cases:
        print(f"running {label} ...", flush=True)
        timing, *rows = run_case(label, scen, svc)
        timings.append(timing)
        checks.extend(rows)
    print_table(
        "Isochrones at 5/10/15 min (per station + union per type) and coverage table, seconds",
        ["network", "nodes", "stations", "pop points", "ours iso", "ours table", "ours prepare pop (one-time)",
         "ours total", "osmnx-ex iso", "osmnx-ex table", "osmnx-ex total", "ratio iso", "ratio iso+table",
         "ratio incl. prepare (snap)"],
        timings,
    )
    print_table(
        "Containment over 5/10/15 min: reached nodes outside / nodes beyond T + 100 m/slowest speed inside",
        ["network", "type", "ours", "osmnx example (ego_graph buffers)", "convex hull of reached nodes"],
        checks,
    )


if __name__ == "__main__":
    _ = np.seterr(invalid="ignore")
    main()
