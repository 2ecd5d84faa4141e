"""Dispatch engine: ETAs against networkx, stale/out-of-service/unreachable units, shortfall,
coverage tie-break, bad input, JSON output."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geodispatch.assign import Incident, Unit, assign, recommend
from geodispatch.assign.eta import EtaEngine, incident_etas, route_pieces, snap_incident, snap_units
from geodispatch.assign.recommend import solve
from geodispatch.errors import AssignmentError, InputError, SnapError
from geodispatch.network import RoadNetwork
from geodispatch.regions import Requirement
from geodispatch.scenario import load_network

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LON0, LAT0 = 119.8, -7.5
DEG = 1.0 / 111_320.0  # degrees of longitude per metre at the equator (close enough here)


# ---------------------------------------------------------------------------- helpers
def line_network(n: int = 21, spacing_m: float = 500.0, speed_ms: float = 10.0, island: bool = False) -> RoadNetwork:
    """Two-way road along a line of ``n`` nodes (plus an optional 3-node island far away)."""
    lon = [LON0 + i * spacing_m * DEG for i in range(n)]
    lat = [LAT0] * n
    u, v = [], []
    for i in range(n - 1):
        u += [i, i + 1]
        v += [i + 1, i]
    if island:
        base = n
        lon += [LON0 + k * spacing_m * DEG for k in range(3)]
        lat += [LAT0 + 0.05] * 3
        for i in range(2):
            u += [base + i, base + i + 1]
            v += [base + i + 1, base + i]
    lon_a, lat_a = np.asarray(lon), np.asarray(lat)
    length = np.hypot((lon_a[u] - lon_a[v]) / DEG, (lat_a[u] - lat_a[v]) / DEG)
    return RoadNetwork.from_arrays(np.arange(len(lon)), lon, lat, u, v, length, length / speed_ms, name="line")


def at(net: RoadNetwork, node: int, along_m: float = 0.0) -> tuple[float, float]:
    """A point ``along_m`` metres east of a node of the line network."""
    return float(net.lon[node] + along_m * DEG), float(net.lat[node])


def unit(uid: str, utype: str, pos: tuple[float, float], **kw: object) -> Unit:
    return Unit(uid, utype, pos[0], pos[1], **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- ETAs vs networkx
def _reference_etas(net: RoadNetwork, inc_snap: object, usn: object) -> np.ndarray:
    """Independent reference: split every edge at the snapped points, run networkx Dijkstra."""
    g = nx.DiGraph()
    points: dict[int, list[tuple[float, object]]] = {}
    twin_of = {}
    for e in range(net.n_edges):
        t = int(net.edge_between(net.edge_v[e], net.edge_u[e])[0])
        twin_of[e] = t
    placed = [("inc", int(inc_snap.edge[0]), float(inc_snap.fraction[0]))]  # type: ignore[attr-defined]
    placed += [(("unit", k), int(e), float(f)) for k, (e, f) in enumerate(zip(usn.edge, usn.fraction, strict=True))]  # type: ignore[attr-defined]
    for name, e, f in placed:
        if e < 0:
            continue
        points.setdefault(e, []).append((f, name))
        if twin_of[e] >= 0:
            points.setdefault(twin_of[e], []).append((1.0 - f, name))
        if f == 0.0:  # standing on the tail node: may leave it any way
            g.add_edge(name, int(net.edge_u[e]), weight=0.0)
        if f == 1.0 and name == "inc":  # the incident on the head node is reached at that node
            g.add_edge(int(net.edge_v[e]), name, weight=0.0)
    for e in range(net.n_edges):
        a, b, t = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_time_s[e])
        chain = sorted(points.get(e, []), key=lambda p: p[0])
        prev, pf = a, 0.0
        for f, name in chain:
            w = (f - pf) * t
            if not g.has_edge(prev, name) or g[prev][name]["weight"] > w:
                g.add_edge(prev, name, weight=w)
            if w == 0.0 and prev != a:  # two points at the same place reach each other
                g.add_edge(name, prev, weight=0.0)
            prev, pf = name, f
        w = (1.0 - pf) * t
        if not g.has_edge(prev, b) or g[prev][b]["weight"] > w:
            g.add_edge(prev, b, weight=w)
    dist = nx.single_source_dijkstra_path_length(g.reverse(copy=False), "inc", weight="weight")
    return np.asarray([dist.get(("unit", k), math.inf) for k in range(len(usn.edge))])  # type: ignore[attr-defined]


@st.composite
def random_nets(draw: st.DrawFn) -> RoadNetwork:
    n = draw(st.integers(4, 12))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    xy = rng.uniform(0, 3000, size=(n, 2))
    pairs = {(i, j) for i in range(n) for j in range(n) if i < j and rng.random() < 0.35}
    pairs |= {(i, i + 1) for i in range(n - 1)}
    u, v = [], []
    for i, j in sorted(pairs):
        kind = rng.integers(0, 3)  # 0 two-way, 1 one-way i->j, 2 one-way j->i
        if kind in (0, 1):
            u.append(i)
            v.append(j)
        if kind in (0, 2):
            u.append(j)
            v.append(i)
    u_a, v_a = np.asarray(u), np.asarray(v)
    length = np.hypot(*(xy[u_a] - xy[v_a]).T)
    speed = rng.uniform(5, 20, size=len(u))
    twin_speed = {}
    for k, (a, b) in enumerate(zip(u, v, strict=True)):  # same speed both ways keeps it simple
        speed[k] = twin_speed.setdefault((min(a, b), max(a, b)), speed[k])
    return RoadNetwork.from_arrays(
        np.arange(n), LON0 + xy[:, 0] * DEG, LAT0 + xy[:, 1] * DEG, u_a, v_a, length, length / speed
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=random_nets(), data=st.data())
def test_etas_equal_networkx_on_split_edges(net: RoadNetwork, data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    k = 8
    e = rng.integers(0, net.n_edges, size=k + 1)
    f = rng.choice([0.0, 0.25, 0.5, 0.9, 1.0, rng.random()], size=k + 1)
    e[1:3] = e[0]  # two units on the incident's own road
    lon = net.lon[net.edge_u[e]] * (1 - f) + net.lon[net.edge_v[e]] * f
    lat = net.lat[net.edge_u[e]] * (1 - f) + net.lat[net.edge_v[e]] * f
    inc = snap_incident(net, float(lon[0]), float(lat[0]))
    engine = EtaEngine(net)
    usn = snap_units(net, lon[1:], lat[1:], engine=engine)
    res = incident_etas(net, inc, usn, math.inf, engine=engine)
    ref = _reference_etas(net, inc, usn)
    np.testing.assert_allclose(res.eta_s, ref, rtol=1e-9, atol=1e-6)
    bounded = incident_etas(net, inc, usn, 300.0, engine=engine)  # served from the cached unbounded search
    np.testing.assert_allclose(bounded.eta_s, np.where(ref <= 300.0, ref, np.inf), rtol=1e-9, atol=1e-6)
    engine.forget_searches()
    near = incident_etas(net, inc, snap_units(net, lon[1:2], lat[1:2]), math.inf, engine=engine)  # stops early
    np.testing.assert_allclose(near.eta_s, ref[:1], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(incident_etas(net, inc, usn, math.inf, engine=engine).eta_s, ref, rtol=1e-9, atol=1e-6)
    engine.forget_searches()
    first = incident_etas(net, inc, usn, 300.0, engine=engine)  # a bounded search cached first: not for unbounded
    np.testing.assert_allclose(first.eta_s, np.where(ref <= 300.0, ref, np.inf), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(incident_etas(net, inc, usn, math.inf, engine=engine).eta_s, ref, rtol=1e-9, atol=1e-6)
    hierarchy = EtaEngine(net, hierarchy=True)  # contraction hierarchy queries: same ETAs, routes read off the times
    bounded = incident_etas(net, inc, usn, 300.0, engine=hierarchy)
    np.testing.assert_allclose(bounded.eta_s, np.where(ref <= 300.0, ref, np.inf), rtol=1e-9, atol=1e-6)
    for found in (incident_etas(net, inc, usn, math.inf, engine=hierarchy), res):
        np.testing.assert_allclose(found.eta_s, ref, rtol=1e-9, atol=1e-6)
        for k in np.flatnonzero(np.isfinite(found.eta_s)).tolist():  # each route drives exactly its ETA
            pieces = route_pieces(net, found, usn, k)
            assert sum(net.edge_time_s[x] * (b - a) for x, a, b in pieces) == pytest.approx(found.eta_s[k], abs=1e-6)


@pytest.fixture(scope="module")
def balikpapan(balikpapan_graphml: Path) -> RoadNetwork:
    return load_network(balikpapan_graphml)


def test_etas_equal_networkx_on_real_balikpapan(balikpapan: RoadNetwork) -> None:
    """Units standing on junctions, incident on a junction: ETA = networkx on to_networkx()."""
    net = balikpapan
    g = nx.DiGraph()
    for a, b, d in net.to_networkx().edges(data=True):
        if not g.has_edge(a, b) or g[a][b]["travel_time"] > d["travel_time"]:
            g.add_edge(a, b, travel_time=d["travel_time"])
    rng = np.random.default_rng(3)
    big = np.flatnonzero(net.component_labels == 0)
    target = int(rng.choice(big))
    nodes = rng.choice(big, size=40, replace=False)
    inc = snap_incident(net, float(net.lon[target]), float(net.lat[target]))
    usn = snap_units(net, net.lon[nodes], net.lat[nodes])
    res = incident_etas(net, inc, usn, math.inf)
    dist = nx.single_source_dijkstra_path_length(g.reverse(copy=False), int(net.node_ids[target]), weight="travel_time")
    ref = np.asarray([dist.get(int(net.node_ids[x]), math.inf) for x in nodes])
    np.testing.assert_allclose(res.eta_s, ref, rtol=1e-9, atol=1e-6)


def test_recommend_on_balikpapan_picks_k_fastest_of_unbounded_search(balikpapan: RoadNetwork) -> None:
    net = balikpapan
    rng = np.random.default_rng(5)
    nodes = rng.choice(net.n_nodes, size=30, replace=False)
    types = ["damkar"] * 10 + ["ambulance"] * 20
    units = [Unit(f"u{k}", types[k], float(net.lon[x]), float(net.lat[x])) for k, x in enumerate(nodes)]
    inc = Incident("f1", "kebakaran", 1, float(net.lon[nodes[0]]) + 0.002, float(net.lat[nodes[0]]), reported_time=NOW)
    rec = recommend(net, units, inc, now=NOW, routes=True)
    full = incident_etas(
        net, snap_incident(net, inc.lon, inc.lat), snap_units(net, net.lon[nodes], net.lat[nodes]), math.inf
    )
    for utype, count in (("damkar", 2), ("ambulance", 1)):
        idx = [k for k in range(30) if types[k] == utype]
        best = np.sort(full.eta_s[idx])[:count]
        got = sorted(e for uid, e in zip(rec.unit_ids, rec.etas_s, strict=True) if units[int(uid[1:])].type == utype)
        np.testing.assert_allclose(got, best)
    assert rec.shortfall is None and len(rec.unit_ids) == 3
    assert all(d > 0 for d in rec.distances_m) and rec.routes is not None
    # every route starts at its unit (standing on a junction here) and ends at the incident's snapped point
    snapped = net.snap([inc.lon], [inc.lat])
    by_id = {u.id: u for u in units}
    for uid, route in zip(rec.unit_ids, rec.routes, strict=True):
        assert route is not None
        start, end = route["coordinates"][0], route["coordinates"][-1]
        assert abs(start[0] - by_id[uid].lon) < 1e-5 and abs(start[1] - by_id[uid].lat) < 1e-5
        assert abs(end[0] - snapped.lon[0]) < 1e-5 and abs(end[1] - snapped.lat[0]) < 1e-5


# ---------------------------------------------------------------------------- engine behaviour
def test_distance_and_eta_on_a_line() -> None:
    net = line_network()
    units = [unit("a1", "ambulance", at(net, 2, 100.0)), unit("a2", "ambulance", at(net, 18))]
    inc = Incident("m1", "medis", 2, *at(net, 6, 250.0), reported_time=NOW)
    rec = recommend(net, units, inc, now=NOW)
    assert rec.unit_ids == ["a1"]
    # 4 * 500 m + 150 m at 10 m/s
    assert rec.distances_m[0] == pytest.approx(2150.0, rel=1e-3)
    assert rec.etas_s[0] == pytest.approx(215.0, rel=1e-3)
    assert "slower by" in rec.reasons["a2"]


def test_same_edge_unit_upstream_and_downstream() -> None:
    net = line_network()
    units = [unit("up", "ambulance", at(net, 5, 100.0)), unit("down", "ambulance", at(net, 5, 400.0))]
    inc = Incident("m1", "medis", 2, *at(net, 5, 250.0), reported_time=NOW)
    sol = solve(net, units, [inc], now=NOW)
    np.testing.assert_allclose(sol.eta[0], [15.0, 15.0], rtol=1e-3)  # 150 m each way, two-way road


def test_stale_position_falls_back_to_home_station() -> None:
    net = line_network()
    old = NOW - timedelta(hours=2)
    stale = unit(
        "s1",
        "ambulance",
        at(net, 7),
        position_time=old,
        home_station="pos-1",
        home_lon=at(net, 19)[0],
        home_lat=at(net, 19)[1],
    )
    fresh = unit("f1", "ambulance", at(net, 12), position_time=NOW - timedelta(minutes=5))
    inc = Incident("m1", "medis", 1, *at(net, 7), reported_time=NOW)
    rec = recommend(net, [stale, fresh], inc, now=NOW)
    assert rec.unit_ids == ["f1"]  # the stale unit counts from its home station (node 19), not node 7
    assert "placed at home station pos-1" in rec.reasons["s1"]
    cand = {c.unit_id: c for c in rec.candidates}
    assert cand["s1"].position == "home_station"
    assert cand["s1"].eta_s == pytest.approx(12 * 50.0)
    # a younger age limit than the report keeps it fresh; no home station: used but flagged
    rec2 = recommend(net, [stale, fresh], inc, now=NOW, max_position_age_s=3 * 3600)
    assert rec2.unit_ids == ["s1"]
    nohome = unit("n1", "ambulance", at(net, 7), position_time=old)
    rec3 = recommend(net, [nohome], inc, now=NOW)
    assert rec3.unit_ids == ["n1"] and "no home station known" in rec3.reasons["n1"]


def test_out_of_service_and_busy_units_are_not_sent() -> None:
    net = line_network()
    units = [
        unit("oos", "ambulance", at(net, 5), status="out_of_service"),
        unit("busy", "ambulance", at(net, 5), status="on_scene"),
        unit("ok", "ambulance", at(net, 15)),
        unit("back", "ambulance", at(net, 20), status="returning"),
    ]
    inc = Incident("m1", "medis", 1, *at(net, 5), reported_time=NOW)
    rec = recommend(net, units, inc, now=NOW)
    assert rec.unit_ids == ["ok"]
    assert rec.reasons["oos"] == "out of service"
    assert rec.reasons["busy"].startswith("busy (on scene)")
    assert "slower by" in rec.reasons["back"]


def test_unreachable_unit_on_an_island_and_shortfall() -> None:
    net = line_network(island=True)
    island_node = net.n_nodes - 2
    units = [
        unit("d1", "damkar", at(net, 3)),
        unit("d-island", "damkar", (float(net.lon[island_node]), float(net.lat[island_node]))),
        unit("a1", "ambulance", at(net, 10)),
    ]
    inc = Incident("f1", "kebakaran", 1, *at(net, 4), reported_time=NOW)
    rec = recommend(net, units, inc, now=NOW)
    assert rec.unit_ids == ["d1", "a1"]
    assert rec.missing == {"damkar": 1}
    assert rec.shortfall is not None and "only 1 of 2 damkar available" in rec.shortfall
    assert "cannot reach" in rec.reasons["d-island"]
    assert math.isinf(next(c.eta_s for c in rec.candidates if c.unit_id == "d-island"))
    assert rec.search_limit_s == math.inf  # had to search everything to prove it


def test_capabilities_are_respected() -> None:
    net = line_network()
    sop = {"medis": (Requirement(type="ambulance", count=1, capabilities=("ALS",)),)}
    units = [
        unit("bls", "ambulance", at(net, 5), capabilities=("BLS",)),
        unit("als", "ambulance", at(net, 15), capabilities=("ALS",)),
    ]
    inc = Incident("m1", "medis", 1, *at(net, 5), reported_time=NOW)
    rec = recommend(net, units, inc, sop, now=NOW)
    assert rec.unit_ids == ["als"]
    assert rec.reasons["bls"] == "lacks capability ALS"


def _coverage_case() -> tuple[RoadNetwork, list[Unit], Incident, pd.DataFrame]:
    net = line_network(n=41, spacing_m=500.0)
    # incident at node 20; unit L at node 14 (300 s), units R1, R2 at node 26.2 (310 s)
    units = [
        unit("L", "ambulance", at(net, 14), home_lon=at(net, 14)[0], home_lat=at(net, 14)[1]),
        unit("R1", "ambulance", at(net, 26, 100.0), home_lon=at(net, 26, 100.0)[0], home_lat=at(net, 26)[1]),
        unit("R2", "ambulance", at(net, 26, 100.0), home_lon=at(net, 26, 100.0)[0], home_lat=at(net, 26)[1]),
    ]
    inc = Incident("m1", "medis", 1, *at(net, 20), reported_time=NOW)
    pop = pd.DataFrame({"lon": [at(net, 4)[0], at(net, 36)[0]], "lat": [LAT0, LAT0], "population": [5000, 3000]})
    return net, units, inc, pop


def test_coverage_tiebreak_keeps_the_only_unit_of_a_remote_area() -> None:
    net, units, inc, pop = _coverage_case()
    plain = recommend(net, units, inc, now=NOW, target_s=600)
    assert plain.unit_ids == ["L"]  # 10 s faster
    rec = recommend(net, units, inc, now=NOW, target_s=600, population=pop)
    assert rec.unit_ids[0] in ("R1", "R2")
    assert rec.coverage_note is not None and "5,000 more people" in rec.coverage_note
    assert "kept back" in rec.reasons["L"]
    # beyond the tolerance the faster unit wins again
    far = recommend(net, units, inc, now=NOW, target_s=600, population=pop, tolerance_s=5)
    assert far.unit_ids == ["L"]
    # the same in batch mode: coverage_aware vs optimal
    assert assign(net, units, [inc], policy="optimal", now=NOW, target_s=600)[0].unit_ids == ["L"]
    ca = assign(net, units, [inc], policy="coverage_aware", now=NOW, target_s=600, population=pop)
    assert ca[0].unit_ids[0] in ("R1", "R2")


def _line_with_boat_island(carries: tuple[str, ...]) -> RoadNetwork:
    """:func:`line_network` (41 nodes, 500 m, 10 m/s) and a 500 m island road ~1.1 km north of
    node 30, joined to node 30 by a 60 s boat (both ways) that carries ``carries``."""
    line = line_network(n=41, spacing_m=500.0)
    n = line.n_nodes
    lon = np.concatenate([line.lon, [line.lon[30], line.lon[31]]])
    lat = np.concatenate([line.lat, [LAT0 + 0.01, LAT0 + 0.01]])
    u = np.concatenate([line.edge_u, [n, n + 1, 30, n]])
    v = np.concatenate([line.edge_v, [n + 1, n, n, 30]])
    length = np.concatenate([line.edge_length_m, [500.0, 500.0, 1113.0, 1113.0]])
    time = np.concatenate([line.edge_time_s, [50.0, 50.0, 60.0, 60.0]])
    highway = ["road"] * (line.n_edges + 2) + ["sea_link"] * 2
    boat = {line.n_edges + 2: "speedboat", line.n_edges + 3: "speedboat"}
    return RoadNetwork.from_arrays(np.arange(n + 2), lon, lat, u, v, length, time, edge_highway=highway,
                                   sea_names=boat, sea_carries={e: carries for e in boat})


def test_coverage_tiebreak_counts_only_the_boats_that_carry_the_unit_type() -> None:
    # L (300 s from the fire) alone covers 5,000 people at node 4; R (310 s, within the tie
    # tolerance) would cover the island's 9,000 through the boat, if the boat carried fire trucks
    def case(carries: tuple[str, ...]) -> tuple[RoadNetwork, list[Unit], Incident, pd.DataFrame]:
        net = _line_with_boat_island(carries)
        island = (float((net.lon[-2] + net.lon[-1]) / 2), float(net.lat[-1]))
        units = [unit("L", "damkar", at(net, 14), home_lon=at(net, 14)[0], home_lat=LAT0),
                 unit("R", "damkar", at(net, 26, 100.0), home_lon=at(net, 26, 100.0)[0], home_lat=LAT0)]
        inc = Incident("f1", "kebakaran", 1, *at(net, 20), reported_time=NOW)
        pop = pd.DataFrame({"lon": [at(net, 4)[0], island[0]], "lat": [LAT0, island[1]], "population": [5000, 9000]})
        return net, units, inc, pop

    sop = {"kebakaran": (Requirement(type="damkar", count=1),)}
    net, units, inc, pop = case(("ambulance",))
    assert recommend(net, units, inc, sop, now=NOW, target_s=600).unit_ids == ["L"]  # 10 s faster
    rec = recommend(net, units, inc, sop, now=NOW, target_s=600, population=pop)
    # the island is not R's to keep (the boat takes no fire truck): keep L, whose people nobody else covers
    assert rec.unit_ids == ["R"]
    assert rec.coverage_note is not None and "5,000 more people" in rec.coverage_note
    ca = assign(net, units, [inc], sop, policy="coverage_aware", now=NOW, target_s=600, population=pop)
    assert ca[0].unit_ids == ["R"]
    # a boat that carries fire trucks makes R the island's only cover: the fastest, L, goes
    net, units, inc, pop = case(("ambulance", "damkar"))
    assert recommend(net, units, inc, sop, now=NOW, target_s=600, population=pop).unit_ids == ["L"]


def test_an_engine_held_across_calls_gives_the_same_answers_and_belongs_to_one_network() -> None:
    net, units, inc, pop = _coverage_case()
    engine = EtaEngine(net)
    fresh = recommend(net, units, inc, now=NOW, target_s=600, population=pop).to_dict()
    for _ in range(2):  # the second call reuses the engine's snaps, search and coverage index
        held = recommend(net, units, inc, now=NOW, target_s=600, population=pop, engine=engine).to_dict()
        assert held == fresh
    assert engine.coverage_index(pop, 600) is engine.coverage_index(pop, 600)
    with pytest.raises(InputError, match="another RoadNetwork"):
        recommend(line_network(), units, inc, now=NOW, engine=engine)


def test_an_engine_with_a_hierarchy_built_in_the_background_recommends_the_same() -> None:
    net, units, inc, pop = _coverage_case()
    fresh = recommend(net, units, inc, now=NOW, target_s=600, population=pop, routes=True)
    engine = EtaEngine(net)
    engine.start_hierarchy().join(timeout=300)
    assert engine.hierarchy is not None and engine.hierarchy.network is net
    for _ in range(2):
        held = recommend(net, units, inc, now=NOW, target_s=600, population=pop, routes=True, engine=engine)
        assert held.unit_ids == fresh.unit_ids
        np.testing.assert_allclose(held.etas_s, fresh.etas_s, rtol=1e-12)
        np.testing.assert_allclose(held.distances_m, fresh.distances_m, rtol=1e-12)
        assert held.routes == fresh.routes
    # a nearby incident costs a search that stops at the farthest unit (it has a tree); the
    # hierarchy answers only once the first bound (30 min) was not enough: a unit 2000 s away
    engine.forget_searches()
    assert solve(net, units, [inc], now=NOW, target_s=600, engine=engine).searches[0].predecessors is not None
    far = solve(net, [unit("F", "ambulance", at(net, 40))], [Incident("f", "medis", 1, *at(net, 0))], now=NOW,
                target_s=600, engine=engine)
    assert far.searches[0].predecessors is None and far.eta[0, 0] == pytest.approx(2000.0)


def test_optimal_serves_priority_one_first_where_closest_does_not() -> None:
    net = line_network()
    units = [unit("a1", "ambulance", at(net, 10)), unit("a2", "ambulance", at(net, 20))]
    low = Incident("p3", "medis", 3, *at(net, 9), reported_time=NOW - timedelta(minutes=2))
    high = Incident("p1", "medis", 1, *at(net, 11), reported_time=NOW - timedelta(minutes=1))
    greedy = {a.incident_id: a.unit_ids for a in assign(net, units, [low, high], policy="closest", now=NOW)}
    best = {a.incident_id: a.unit_ids for a in assign(net, units, [low, high], policy="optimal", now=NOW)}
    assert greedy == {"p3": ["a1"], "p1": ["a2"]}
    assert best == {"p3": ["a2"], "p1": ["a1"]}


def test_recommendation_to_dict_is_strict_json() -> None:
    net = line_network(island=True)
    island_node = net.n_nodes - 1
    units = [
        unit("a1", "ambulance", at(net, 3)),
        unit("a2", "ambulance", (float(net.lon[island_node]), float(net.lat[island_node]))),
    ]
    rec = recommend(net, units, Incident("m1", "medis", 2, *at(net, 4), reported_time=NOW), now=NOW, routes=True)
    text = json.dumps(rec.to_dict(), allow_nan=False)
    data = json.loads(text)
    assert data["search_limit_s"] == 1800.0  # a1 was found inside the first bound
    assert "more than 30 min" in data["reasons"]["a2"]
    assert next(c for c in data["candidates"] if c["unit_id"] == "a2")["eta_s"] is None
    assert data["routes"][0]["type"] == "LineString"
    assert json.dumps(
        [a.to_dict() for a in assign(net, units, [Incident("x", "medis", 1, *at(net, 1))], now=NOW)], allow_nan=False
    )


# ---------------------------------------------------------------------------- bad input
def test_bad_unit_and_incident_fields() -> None:
    with pytest.raises(AssignmentError, match="unknown unit type"):
        Unit("u1", "helicopter", LON0, LAT0)
    with pytest.raises(AssignmentError, match="unknown status"):
        Unit("u1", "ambulance", LON0, LAT0, status="lunch")
    with pytest.raises(AssignmentError, match="EPSG:4326"):
        Unit("u1", "ambulance", -7.5, 200.0)
    for bad in (0, 4, "1", True, 1.5):
        with pytest.raises(AssignmentError, match="priority"):
            Incident("i1", "medis", bad, LON0, LAT0)  # type: ignore[arg-type]


def test_bad_requests_assign_nothing() -> None:
    net = line_network()
    units = [unit("a1", "ambulance", at(net, 3)), unit("d1", "damkar", at(net, 4))]
    ok = Incident("m1", "medis", 1, *at(net, 4), reported_time=NOW)
    with pytest.raises(AssignmentError, match="unknown incident type 'gempa'"):
        recommend(net, units, Incident("g1", "gempa", 1, *at(net, 4)), now=NOW)
    with pytest.raises(SnapError, match="from the nearest road"):
        recommend(net, units, Incident("far", "medis", 1, LON0, LAT0 + 0.5), now=NOW)
    with pytest.raises(AssignmentError, match="no available unit at all"):
        recommend(net, [unit("a1", "ambulance", at(net, 3), status="on_scene")], ok, now=NOW)
    with pytest.raises(AssignmentError, match="duplicate unit ids: a1"):
        recommend(net, [*units, unit("a1", "ambulance", at(net, 9))], ok, now=NOW)
    with pytest.raises(AssignmentError, match="in the future"):
        recommend(net, units, Incident("m2", "medis", 1, *at(net, 4), reported_time=NOW + timedelta(hours=1)), now=NOW)
    with pytest.raises(AssignmentError, match="in the future"):
        recommend(net, [unit("a9", "ambulance", at(net, 3), position_time=NOW + timedelta(hours=1))], ok, now=NOW)
    with pytest.raises(AssignmentError, match="duplicate incident ids"):
        assign(net, units, [ok, ok], now=NOW)
    with pytest.raises(AssignmentError, match="unknown policy"):
        assign(net, units, [ok], policy="random", now=NOW)
    with pytest.raises(AssignmentError, match="SOP line"):
        recommend(net, units, ok, {"medis": [{"type": "ambulance", "count": 0}]}, now=NOW)
    # one bad incident in a batch: nothing is assigned, the error names it
    with pytest.raises(SnapError, match="incident far"):
        assign(net, units, [ok, Incident("far", "medis", 1, LON0, LAT0 + 0.5)], now=NOW)


def test_within_target_counts_from_the_report() -> None:
    """A call already past its target no longer earns 'within target'; a fresh one that can make it wins."""
    net = line_network()
    units = [unit("a1", "ambulance", at(net, 10))]
    old = Incident("old", "medis", 2, *at(net, 9), reported_time=NOW - timedelta(minutes=20))
    new = Incident("new", "medis", 2, *at(net, 13), reported_time=NOW)
    plan = {a.incident_id: a.unit_ids for a in assign(net, units, [old, new], now=NOW)}
    assert plan == {"old": [], "new": ["a1"]}
    # reported at the same moment, the nearer call gets the unit (same level 2, smaller ETA)
    old_now = Incident("old", "medis", 2, *at(net, 9), reported_time=NOW)
    plan = {a.incident_id: a.unit_ids for a in assign(net, units, [old_now, new], now=NOW)}
    assert plan == {"old": ["a1"], "new": []}


def test_route_against_the_edge_direction() -> None:
    net = line_network()
    pos = at(net, 9, 100.0)
    inc = Incident("m1", "medis", 2, *at(net, 6, 250.0), reported_time=NOW)
    rec = recommend(net, [unit("w", "ambulance", pos)], inc, now=NOW, routes=True)
    assert rec.distances_m[0] == pytest.approx(1350.0, rel=1e-3)
    assert rec.routes is not None and rec.routes[0] is not None
    coords = rec.routes[0]["coordinates"]
    assert coords[0][0] == pytest.approx(pos[0], abs=1e-6) and coords[-1][0] == pytest.approx(inc.lon, abs=1e-6)
    assert all(a[0] >= b[0] for a, b in itertools.pairwise(coords))  # heads west all the way


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=random_nets(), data=st.data())
def test_point_search_equals_point_travel_times(net: RoadNetwork, data: st.DataObject) -> None:
    """The per-point search (numba, seeded at the edge ends) agrees with scipy on the augmented matrix,
    and its early-stopping variant is exact at every target and along their paths."""
    from geodispatch.network.traveltime import point_search, point_search_until, point_travel_times

    e = data.draw(st.integers(0, net.n_edges - 1))
    f = data.draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))
    lon = net.lon[net.edge_u[e]] * (1 - f) + net.lon[net.edge_v[e]] * f
    lat = net.lat[net.edge_u[e]] * (1 - f) + net.lat[net.edge_v[e]] * f
    snap = net.snap([lon], [lat])
    for reverse in (False, True):
        for limit in (None, 200.0):
            times, pred = point_search(net, snap, 0, limit=limit, reverse=reverse)
            ref = np.asarray(point_travel_times(net, snap, limit=limit, reverse=reverse))[0]
            np.testing.assert_allclose(times, ref, rtol=1e-12)
            reached = np.flatnonzero(np.isfinite(times))
            assert (pred[reached] >= 0).all() or len(reached) == 0
            targets = data.draw(st.lists(st.integers(0, net.n_nodes - 1), min_size=1, max_size=3))
            t2, pred2, complete = point_search_until(net, snap, 0, targets, limit=limit, reverse=reverse)
            np.testing.assert_allclose(t2[targets], ref[targets], rtol=1e-12)
            settled = np.isfinite(t2)
            np.testing.assert_allclose(t2[settled], ref[settled], rtol=1e-12)  # never a wrong time
            if complete:
                np.testing.assert_array_equal(settled, np.isfinite(ref))
            for x in targets:  # the tree leads from each reached target to the point through settled nodes
                node, steps = x, 0
                while np.isfinite(t2[x]) and node != net.n_nodes and steps <= net.n_nodes:
                    node, steps = int(pred2[node]), steps + 1
                    assert node == net.n_nodes or settled[node]


def test_region_sop_overrides_defaults_line_by_line() -> None:
    from geodispatch.assign import DEFAULT_SOP, resolve_sop
    from geodispatch.regions import parse_region

    region = parse_region(
        {
            "slug": "contoh",
            "name": "Kabupaten Contoh",
            "kind": "kabupaten",
            "province": "Sulawesi Selatan",
            "osm_query": "Kabupaten Contoh",
            "sop": {"kebakaran": [{"type": "damkar", "count": 3}], "gempa": [{"type": "sar"}, {"type": "bpbd"}]},
        }
    )
    table = resolve_sop(region)
    assert [(r.type, r.count) for r in table["kebakaran"]] == [("damkar", 3)]
    assert table["medis"] == DEFAULT_SOP["medis"] and [r.type for r in table["gempa"]] == ["sar", "bpbd"]
    net = line_network()
    units = [unit(f"d{i}", "damkar", at(net, i)) for i in range(2)] + [unit("s1", "sar", at(net, 5))]
    rec = recommend(net, units, Incident("f1", "kebakaran", 1, *at(net, 3), reported_time=NOW), region, now=NOW)
    assert rec.missing == {"damkar": 1} and "only 2 of 3 damkar" in (rec.shortfall or "")
    rec = recommend(net, units, Incident("g1", "gempa", 1, *at(net, 3), reported_time=NOW), region, now=NOW)
    assert rec.unit_ids == ["s1"] and rec.missing == {"bpbd": 1}


def _two_roads_between_two_junctions(one_way_loop: bool = False) -> RoadNetwork:
    """Junctions 0 and 1 (500 m apart) joined by a straight two-way road (500 m, 50 s each way)
    and by a second road bowing 900 m north (1868 m, 186.8 s; two-way unless ``one_way_loop``)."""
    lon = [LON0, LON0 + 500 * DEG]
    lat = [LAT0, LAT0]
    apex = (LON0 + 250 * DEG, LAT0 + 900 * DEG)
    loop = [[lon[0], lat[0]], list(apex), [lon[1], lat[1]]]
    loop_m = 2 * math.hypot(250.0, 900.0)
    u, v, length = [0, 1, 0, 1], [1, 0, 1, 0], [500.0, 500.0, loop_m, loop_m]
    geoms = [None, None, np.asarray(loop), np.asarray(loop[::-1])]
    if one_way_loop:
        u, v, length, geoms = u[:3], v[:3], length[:3], geoms[:3]
    length_a = np.asarray(length)
    return RoadNetwork.from_arrays([0, 1], lon, lat, u, v, length_a, length_a / 10.0, geometries=geoms, name="two")


@pytest.mark.parametrize("one_way_loop", [False, True])
def test_parallel_road_is_not_taken_for_the_twin(one_way_loop: bool) -> None:
    """Two different roads join the same junctions: a point on the long road is reached along that
    road, not at the speed of the short one, and a unit on the short road is not 'on the same road'."""
    net = _two_roads_between_two_junctions(one_way_loop)
    apex = (LON0 + 250 * DEG, LAT0 + 900 * DEG)
    loop_t = 2 * math.hypot(250.0, 900.0) / 10.0
    inc = snap_incident(net, *apex)
    assert net.edge_length_m[inc.edge[0]] > 1000  # on the long road
    assert inc.time_from_u_s[0] == pytest.approx(loop_t / 2, rel=1e-4)
    if one_way_loop:
        assert math.isinf(inc.time_from_v_s[0])  # no way back along a one-way road
    else:
        assert inc.time_from_v_s[0] == pytest.approx(loop_t / 2, rel=1e-4)
    mid_short = (LON0 + 250 * DEG, LAT0)
    usn = snap_units(net, np.asarray([mid_short[0]]), np.asarray([mid_short[1]]))
    eta = incident_etas(net, inc, usn, math.inf).eta_s[0]
    # 250 m of the short road to a junction (25 s), then half of the long road; one-way: from junction 0
    assert eta == pytest.approx(25.0 + loop_t / 2, rel=1e-4)


def test_coverage_index_any_reach_is_the_union_of_the_reach_rows() -> None:
    """The tie-break's bit-packed union equals the plain rows' ``any`` (13 people: not a byte multiple)."""
    from geodispatch.assign.cover import CoverageIndex

    net = line_network(n=41, spacing_m=500.0)
    rng = np.random.default_rng(3)
    nodes = rng.integers(0, 41, size=13)
    pop = pd.DataFrame({"lon": [at(net, int(k))[0] for k in nodes], "lat": [LAT0] * 13,
                        "population": rng.integers(1, 100, size=13)})
    index = CoverageIndex(net, pop, 300.0)
    for bases in ([3], [3, 30], [0, 10, 20, 40], [39, 39, 5]):
        lon = [at(net, b)[0] for b in bases]
        lat = [LAT0] * len(bases)
        expected = index.reach(lon, lat).any(axis=0)
        assert 0 < expected.sum() < 13 or len(bases) > 2
        np.testing.assert_array_equal(index.any_reach(lon, lat), expected)
    assert not index.any_reach([], []).any()
