"""What the console reads besides the browser: road lines, routes, the events feed, the fleet loader.

Road lines are checked against a brute-force reading of the network's own arrays, routes against
the recommendation engine, and the events feed through the API on SQLite and PostgreSQL (a change
and its event commit together; a refused change leaves none).
"""

# ruff: noqa: F811  (pytest fixtures imported from the harness are parameters of the tests)
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from api_harness import auth, db_url, fleet, make_keys, pg_server, scenario  # noqa: F401
from fastapi.testclient import TestClient

from geodispatch.network.lines import ARTERIAL_CLASSES, RoadLines, unique_roads


# ---------------------------------------------------------------- road lines
def test_road_lines_hold_every_road_once_and_query_like_brute_force(scenario: Any) -> None:
    net = scenario.network
    lines = RoadLines(net)
    edges = unique_roads(net)
    twin = net.twin_edge
    assert all(twin[e] < 0 or twin[e] > e for e in edges)  # one direction of each two-way road
    arterial = np.isin(net.edge_highway[edges], ARTERIAL_CLASSES)
    assert lines.count("arterial") == arterial.sum() and lines.count("minor") == (~arterial).sum()
    for level, mask in (("arterial", arterial), ("minor", ~arterial)):
        codes, got, truncated = lines.query(level)
        assert not truncated
        expect = [np.column_stack([net.geom_lon[net.geom_offsets[e]:net.geom_offsets[e + 1]],
                                   net.geom_lat[net.geom_offsets[e]:net.geom_offsets[e + 1]]]) for e in edges[mask]]
        assert len(got) == len(expect)
        assert all(np.array_equal(a, b) for a, b in zip(got, expect, strict=True))
        assert [lines.classes[c] for c in codes] == [str(h) for h in net.edge_highway[edges[mask]]]
        # a bounding-box query returns exactly the roads whose extent meets the box
        west, south, east, north = net.bbox
        box = (west + 0.3 * (east - west), south + 0.4 * (north - south), west + 0.45 * (east - west),
               south + 0.5 * (north - south))
        _, inside, _ = lines.query(level, box)
        brute = [ln for ln in expect if ln[:, 0].min() <= box[2] and ln[:, 0].max() >= box[0]
                 and ln[:, 1].min() <= box[3] and ln[:, 1].max() >= box[1]]
        assert len(inside) == len(brute) > 0
        assert all(np.array_equal(a, b) for a, b in zip(inside, brute, strict=True))
        doc = lines.to_json(level, box)
        assert [np.round(ln, 5).ravel().tolist() for ln in brute] == doc["coords"]
        assert lines.to_json(level, box, limit=2)["truncated"] is True


# ---------------------------------------------------------------- routes
def test_unit_routes_match_the_recommendation(scenario: Any) -> None:
    from datetime import UTC, datetime

    from geodispatch.assign import Incident, recommend, units_from_stations
    from geodispatch.assign.routes import unit_routes

    units = units_from_stations(scenario.stations)
    s = next(st for st in scenario.stations if st.type == "damkar")
    now = datetime.now(UTC)
    incident = Incident("x", "kebakaran", 1, s.lon + 0.004, s.lat + 0.002)
    rec = recommend(scenario.network, units, incident, scenario.sop or None, now=now, routes=True)
    chosen = [next(u for u in units if u.id == uid) for uid in rec.unit_ids]
    routes = unit_routes(scenario.network, chosen, incident.lon, incident.lat, now=now)
    assert [r.unit_id for r in routes] == rec.unit_ids
    assert [r.eta_s for r in routes] == pytest.approx(rec.etas_s, abs=1e-6)
    assert [r.distance_m for r in routes] == pytest.approx(rec.distances_m, abs=1e-6)
    assert [r.geometry for r in routes] == rec.routes
    far = [u for u in units if u.id not in rec.unit_ids][:5]
    assert all(r.geometry is not None and len(r.geometry["coordinates"]) >= 2
               for r in unit_routes(scenario.network, far, incident.lon, incident.lat, now=now))


# ---------------------------------------------------------------- API: map data, events, fleet
@pytest.fixture
def client(scenario: Any, db_url: str) -> Iterator[tuple[TestClient, dict[str, str], Any]]:
    from geodispatch.api import create_app

    app = create_app(scenario, db_url)
    keys = make_keys(db_url, "psc-01-amb-1")
    with TestClient(app) as c:
        yield c, keys, app.state.runtime
    app.state.runtime.db.dispose()


def _events(runtime: Any, after: int = 0) -> list[Any]:
    from geodispatch.api.events import read_events

    with runtime.db.read() as session:
        return read_events(session, after)


def test_map_data_endpoints(client: tuple[TestClient, dict[str, str], Any], scenario: Any) -> None:
    c, keys, _ = client
    assert c.get("/me", headers=auth(keys["unit"])).json() == {
        "role": "unit", "unit_id": "psc-01-amb-1", "key_id": c.get("/me", headers=auth(keys["unit"])).json()["key_id"],
        "agency_id": None, "agency_name": None}
    assert c.get("/region").status_code == 401
    region = c.get("/region", headers=auth(keys["planner"])).json()
    assert region["bbox"] == list(scenario.network.bbox) and "kebakaran" in region["incident_types"]
    assert region["incident_transitions"]["dispatched"] == ["en_route", "on_scene", "cancelled"]
    # the island's two boats, each once, for the dashed sea layer (never in /roads)
    net = scenario.network
    sea = {c["label"]: c for c in region["sea"]}
    assert set(sea) == {"Speedboat Ambulans Laut Pulau Sintetis", "ferry Kapal Penyeberangan Pulau Sintetis"}
    boat, ferry = sea["Speedboat Ambulans Laut Pulau Sintetis"], sea["ferry Kapal Penyeberangan Pulau Sintetis"]
    assert (boat["kind"], boat["carries"]) == ("sea_link", ["ambulance"])
    assert (ferry["kind"], ferry["carries"]) == ("ferry", None)
    times = {net.sea_names[e]: net.edge_time_s[e] / 60 for e in np.flatnonzero(net.is_sea_edge).tolist()}
    assert boat["minutes"] == pytest.approx(times["Speedboat Ambulans Laut Pulau Sintetis"], abs=0.05)
    assert ferry["minutes"] == pytest.approx(times["Kapal Penyeberangan Pulau Sintetis"], abs=0.05)
    line = ferry["coords"]
    assert len(boat["coords"]) == 4 and boat["coords"] in (line, [*line[2:], *line[:2]])  # the same piers
    roads = c.get("/roads", headers=auth(keys["dispatcher"]) | {"Accept-Encoding": "gzip"})
    assert roads.status_code == 200 and roads.headers["content-encoding"] == "gzip"
    assert len(roads.json()["coords"]) == RoadLines(scenario.network).count("arterial")
    w, s = scenario.network.bbox[:2]
    box = f"{w},{s},{w + 0.05},{s + 0.05}"
    minor = c.get("/roads", params={"level": "minor", "bbox": box}, headers=auth(keys["dispatcher"])).json()
    assert minor["level"] == "minor" and not minor["truncated"]
    for params, code in (({"level": "minor"}, "invalid_input"),
                         ({"level": "minor", "bbox": "1,2,3"}, "validation_error"),
                         ({"level": "minor", "bbox": f"{w},{s},{w + 5},{s + 5}"}, "invalid_input"),
                         ({"level": "all"}, "validation_error")):  # schema-level (enum, pattern) or the region's
        r = c.get("/roads", params=params, headers=auth(keys["dispatcher"]))
        assert r.status_code == 422 and r.json()["error"] == code, r.text
    areas = c.get("/areas", headers=auth(keys["dispatcher"])).json()
    assert [f["properties"]["name"] for f in areas["features"]] == list(scenario.areas["name"])


def test_events_commit_with_the_change_and_not_without_it(
    client: tuple[TestClient, dict[str, str], Any], scenario: Any
) -> None:
    c, keys, runtime = client
    for body in fleet(scenario):
        assert c.post("/units", json=body, headers=auth(keys["admin"])).status_code == 201
    created = _events(runtime)
    assert [(e.entity_type, e.entity_id) for e in created] == [("unit", b["id"]) for b in fleet(scenario)]
    start = created[-1].id
    s = next(st for st in scenario.stations if st.type == "psc")
    inc = c.post("/incidents", json={"type": "medis", "priority": 1, "lon": s.lon + 0.003, "lat": s.lat},
                 headers=auth(keys["dispatcher"])).json()
    assert "recommendation" in inc, inc
    unit = inc["recommendation"]["unit_ids"][0]
    assert c.post(f"/incidents/{inc['id']}/dispatch", json={}, headers=auth(keys["dispatcher"])).status_code == 200
    got = _events(runtime, start)
    assert (got[0].entity_type, got[0].entity_id, got[0].data["status"]) == ("incident", str(inc["id"]), "open")
    assert got[0].data == inc  # the creation's event is the response (rendered once, in the transaction)
    dispatched = {(e.entity_type, e.entity_id): e for e in got[1:]}  # one transaction: the incident and its unit
    assert len(got) == 3 and set(dispatched) == {("incident", str(inc["id"])), ("unit", unit)}
    assert [e.id for e in got] == sorted(e.id for e in got)
    # each event carries the entity as the API returns it after that transaction
    assert dispatched["incident", str(inc["id"])].data == c.get(f"/incidents/{inc['id']}",
                                                               headers=auth(keys["dispatcher"])).json()
    unit_event = dispatched["unit", unit].data
    assert unit_event == c.get(f"/units/{unit}", headers=auth(keys["dispatcher"])).json()
    assert unit_event["status"] == "dispatched" and unit_event["incident_id"] == inc["id"]
    # a refused change (409: the unit is taken) writes no event
    other = c.post("/incidents", json={"type": "medis", "priority": 2, "lon": s.lon, "lat": s.lat + 0.002},
                   headers=auth(keys["dispatcher"])).json()
    last = _events(runtime, start)[-1].id
    r = c.post(f"/incidents/{other['id']}/dispatch", json={"unit_ids": [unit]}, headers=auth(keys["dispatcher"]))
    assert r.status_code == 409
    assert _events(runtime, last) == []
    # keys are not pushed
    c.post("/keys", json={"role": "planner"}, headers=auth(keys["admin"]))
    assert _events(runtime, last) == []
    # an incident rendered in a transaction that then writes again: the event has the later state
    from sqlalchemy import update

    from geodispatch.api import service
    from geodispatch.api.auth import Principal
    from geodispatch.api.models import Incident
    from geodispatch.api.views import incident_by_id

    with runtime.db.write() as session:
        before = incident_by_id(session, other["id"], runtime)
        session.execute(update(Incident).where(Incident.id == other["id"]).values(note="rendered, then changed"))
        service.audit(session, Principal(key_id=None, role="admin"), "incident.update", "incident", other["id"],
                      {"note": ""}, {"note": "rendered, then changed"})
    (changed,) = _events(runtime, last)
    assert before.note == "" and changed.data["note"] == "rendered, then changed"


def test_an_agency_key_reads_the_aids_of_its_own_reports(client: tuple[TestClient, dict[str, str], Any],
                                                         scenario: Any, db_url: str) -> None:
    from datetime import datetime, timedelta

    from geodispatch.api import create_app
    from geodispatch.api.fleet import load_fleet
    from geodispatch.api.keys import create_key_cli
    from geodispatch.errors import InputError

    c, keys, runtime = client
    load_fleet(runtime.db, scenario)
    damkar = auth(create_key_cli(db_url, "agency", agency_id="syn-damkar"))
    me = c.get("/me", headers=damkar).json()
    assert (me["role"], me["agency_id"]) == ("agency", "syn-damkar")
    assert me["agency_name"] == next(a.name for a in scenario.agencies if a.id == "syn-damkar")
    psc = next(s for s in scenario.stations if s.type == "psc")
    at = {"priority": 1, "lon": psc.lon + 0.01, "lat": psc.lat + 0.005}
    fire = c.post("/incidents", json={"type": "kebakaran", **at}, headers=auth(keys["dispatcher"])).json()
    flood = c.post("/incidents", json={"type": "banjir", **at}, headers=auth(keys["dispatcher"])).json()
    units = {u["id"]: u["agency_id"] for u in c.get("/units", headers=auth(keys["dispatcher"])).json()}
    own = [u for u in fire["recommendation"]["unit_ids"] if units[u] == "syn-damkar"]
    foreign = [u for u in fire["recommendation"]["unit_ids"] if units[u] != "syn-damkar"]
    assert own and foreign
    # its own report: a fresh recommendation, the timeline, the routes of its own units
    fresh = c.get(f"/incidents/{fire['id']}/recommendation", headers=damkar).json()
    assert fresh["unit_ids"] == fire["recommendation"]["unit_ids"]
    timeline = c.get(f"/incidents/{fire['id']}/timeline", headers=damkar).json()
    assert "incident.forward" in [e["action"] for e in timeline]
    routes = c.get(f"/incidents/{fire['id']}/routes", params={"unit_ids": ",".join(own)}, headers=damkar).json()
    assert [r["unit_id"] for r in routes["routes"]] == own
    # not the routes of another agency's units, nothing of a report not forwarded to it
    got = c.get(f"/incidents/{fire['id']}/routes", params={"unit_ids": ",".join(own + foreign)}, headers=damkar)
    assert got.status_code == 403 and got.json()["error"] == "forbidden" and foreign[0] in got.json()["detail"]
    for path in ("recommendation", "timeline", f"routes?unit_ids={own[0]}"):
        assert c.get(f"/incidents/{flood['id']}/{path}", headers=damkar).status_code == 403
        assert c.get(f"/incidents/999999/{path}", headers=damkar).status_code == 404
    # a server with a shorter acknowledgement timeout (serve --ack-timeout): deadlines follow it
    short = create_app(scenario, db_url, ack_timeout_s=5, migrate=False, overdue_sweep_s=0)
    assert short.state.runtime.scenario.ack_timeout_s == 5 and scenario.ack_timeout_s == 60  # not shared
    with TestClient(short) as c2:
        made = c2.post("/incidents", json={"type": "kebakaran", **at}, headers=auth(keys["dispatcher"])).json()
    f = made["forwarded_to"][0]
    assert datetime.fromisoformat(f["ack_deadline"]) - datetime.fromisoformat(f["notified_at"]) == timedelta(seconds=5)
    short.state.runtime.db.dispose()
    with pytest.raises(InputError, match="acknowledgement timeout"):
        create_app(scenario, db_url, ack_timeout_s=0, migrate=False)


def test_fleet_loader_fills_an_empty_database_once(client: tuple[TestClient, dict[str, str], Any],
                                                   scenario: Any) -> None:
    from geodispatch.api.fleet import load_fleet

    c, keys, runtime = client
    n = sum(len(s.units) for s in scenario.stations)
    assert load_fleet(runtime.db, scenario) == n
    assert load_fleet(runtime.db, scenario) == 0
    units = c.get("/units", headers=auth(keys["dispatcher"])).json()
    assert len(units) == n and {u["status"] for u in units} == {"available"}
    station = {s.id: s for s in scenario.stations}
    assert all((u["home_lon"], u["home_lat"]) == (station[u["station_id"]].lon, station[u["station_id"]].lat)
               for u in units)
    assert len(c.get("/stations", headers=auth(keys["dispatcher"])).json()) == len(scenario.stations)
    # each unit belongs to its station's agency, so an agency key sees its own fleet
    assert all(u["agency_id"] == station[u["station_id"]].agency for u in units)
    assert {u["agency_id"] for u in units} >= {"syn-damkar", "syn-psc"}
