"""Dispatch API through FastAPI's TestClient, on a SQLite file and on PostgreSQL.

Every test runs twice (``db_url`` is parametrised over sqlite and postgresql; the PostgreSQL
run skips only where no server can be started, see ``api_harness``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from api_harness import auth, db_url, fleet, make_keys, pg_server, scenario  # noqa: F401
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from geodispatch.domain import UNIT_TYPES

UNIT = "psc-01-amb-1"
"""The unit the 'unit' key is bound to."""


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    runtime: Any

    def call(self, method: str, path: str, role: str | None = "admin", **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers.update(auth(self.keys[role]))
        return self.client.request(method, path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, role: str = "admin", status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, role, **kwargs)
        assert response.status_code == status, response.text
        return response.json()


@pytest.fixture
def api(scenario: Any, db_url: str) -> Iterator[Api]:  # noqa: F811
    from geodispatch.api import create_app

    app = create_app(scenario, db_url)
    keys = make_keys(db_url, UNIT)
    with TestClient(app) as client:
        yield Api(client, keys, app.state.runtime)
    app.state.runtime.db.dispose()


@pytest.fixture
def seeded(api: Api, scenario: Any) -> Api:  # noqa: F811
    for body in fleet(scenario):
        api.ok("POST", "/units", json=body, status=201)
    return api


def _station(scenario: Any, stype: str) -> Any:  # noqa: F811
    return next(s for s in scenario.stations if s.type == stype)


def _error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "detail"} and isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["error"] == code, body
    return body


# ---------------------------------------------------------------- health, schema
def test_health_docs_and_schema_revision(api: Api) -> None:
    from geodispatch.api.migrate import head_revision

    response = api.call("GET", "/health", role=None)
    assert response.headers["server-timing"].startswith("app;dur=")
    health = response.json()
    assert health["status"] == "ok" and health["nodes"] == api.runtime.network.n_nodes
    assert health["schema_revision"] == head_revision()
    assert api.client.get("/docs").status_code == 200
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {"/units", "/units/{unit_id}", "/incidents", "/incidents/{incident_id}/dispatch", "/reach"} <= set(paths)


def test_migrated_schema_matches_models_and_upgrade_is_idempotent(api: Api) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from geodispatch.api.migrate import current_revision, head_revision
    from geodispatch.api.models import Base

    db = api.runtime.db
    db.upgrade()  # second time: nothing to do
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


# ---------------------------------------------------------------- units and stations
def test_units_and_stations(api: Api, scenario: Any) -> None:  # noqa: F811
    psc = _station(scenario, "psc")
    station = api.ok("POST", "/stations", json={"id": "st-1", "name": "Pos 1", "type": "psc", "lon": psc.lon,
                                                 "lat": psc.lat}, status=201)
    assert station["id"] == "st-1" and station["created_at"].endswith(("Z", "+00:00"))
    body = {"id": "amb-x", "type": "ambulance", "lon": psc.lon, "lat": psc.lat, "capabilities": ["ALS"],
            "station_id": "st-1"}
    unit = api.ok("POST", "/units", json=body, status=201)
    assert unit["status"] == "available" and unit["incident_id"] is None and unit["capabilities"] == ["ALS"]
    got = api.ok("GET", "/units/amb-x", role="dispatcher")
    assert {k: got[k] for k in ("id", "type", "status", "incident_id")} == {
        "id": "amb-x", "type": "ambulance", "status": "available", "incident_id": None}
    assert [u["id"] for u in api.ok("GET", "/units", role="planner")] == ["amb-x"]
    assert api.ok("GET", "/stations", role="planner")[0]["id"] == "st-1"
    _error(api.call("POST", "/units", json=body), 409, "already_exists")
    _error(api.call("POST", "/stations", json={"id": "st-1", "type": "psc", "lon": psc.lon, "lat": psc.lat}),
           409, "already_exists")
    _error(api.call("POST", "/units", json=dict(body, id="amb-y", station_id="nope")), 404, "not_found")
    _error(api.call("POST", "/units", json=dict(body, id="amb-y", type="helicopter")), 422, "validation_error")
    _error(api.call("POST", "/units", json=dict(body, id="amb-y", lon=10.0, lat=10.0)), 422, "off_network")
    _error(api.call("GET", "/units/nope", role="dispatcher"), 404, "not_found")
    _error(api.call("GET", "/stations/nope", role="dispatcher"), 404, "not_found")
    _error(api.call("GET", "/units?status=flying", role="dispatcher"), 422, "validation_error")


def test_point_far_from_roads_inside_the_region_is_refused(api: Api) -> None:
    net = api.runtime.network
    west, south, east, north = net.bbox
    # a grid over the bbox: find a point more than the snap limit from every road (sea, forest)
    lon, lat = np.meshgrid(np.linspace(west, east, 60), np.linspace(south, north, 60))
    snap = net.snap(lon.ravel(), lat.ravel(), max_distance_m=api.runtime.snap_limit_m, strict=False)
    far = np.flatnonzero(snap.edge < 0)
    if len(far) == 0:
        pytest.skip("every point of the region is near a road")
    i = far[0]
    body = {"type": "medis", "priority": 1, "lon": float(lon.ravel()[i]), "lat": float(lat.ravel()[i])}
    err = _error(api.call("POST", "/incidents", role="dispatcher", json=body), 422, "off_network")
    assert "from the nearest road" in err["detail"]
    assert api.ok("GET", "/incidents?status=all", role="dispatcher") == []


def test_unit_state_machine(seeded: Api) -> None:
    api = seeded
    patch = api.ok("PATCH", f"/units/{UNIT}", role="dispatcher", json={"status": "out_of_service"})
    assert patch["status"] == "out_of_service"
    _error(api.call("PATCH", f"/units/{UNIT}", json={"status": "en_route"}), 409, "illegal_transition")
    err = _error(api.call("PATCH", f"/units/{UNIT}", json={"status": "dispatched"}), 409, "illegal_transition")
    assert "/dispatch" in err["detail"] or "dispatched" in err["detail"]
    _error(api.call("PATCH", f"/units/{UNIT}", json={"status": "flying"}), 422, "validation_error")
    _error(api.call("PATCH", f"/units/{UNIT}", json={"lon": 1.0}), 422, "validation_error")
    _error(api.call("PATCH", f"/units/{UNIT}", json={}), 422, "validation_error")
    assert api.ok("PATCH", f"/units/{UNIT}", json={"status": "available"})["status"] == "available"
    unit = api.ok("GET", f"/units/{UNIT}")
    moved = api.ok("PATCH", f"/units/{UNIT}", role="unit", json={"lon": unit["lon"] + 0.001, "lat": unit["lat"]})
    assert moved["lon"] == pytest.approx(unit["lon"] + 0.001) and moved["status"] == "available"


# ---------------------------------------------------------------- incidents and dispatch
def test_incident_is_recorded_when_no_unit_is_free(api: Api, scenario: Any) -> None:  # noqa: F811
    psc = _station(scenario, "psc")
    inc = api.ok("POST", "/incidents", role="dispatcher", status=201,
                 json={"type": "kebakaran", "priority": 1, "lon": psc.lon, "lat": psc.lat})
    rec = inc["recommendation"]
    assert rec["unit_ids"] == [] and rec["etas_s"] == [] and rec["reasons"] == {}
    assert "no unit is available" in rec["shortfall"] and "2 damkar" in rec["shortfall"]
    err = _error(api.call("POST", f"/incidents/{inc['id']}/dispatch", role="dispatcher", json={}), 409)
    assert err["error"] == "nothing_recommended"
    assert [i["id"] for i in api.ok("GET", "/incidents", role="dispatcher")] == [inc["id"]]


def _incident(api: Api, scenario: Any, itype: str = "kebakaran", priority: int = 1, dx: float = 0.01) -> Any:  # noqa: F811
    psc = _station(scenario, "psc")
    return api.ok("POST", "/incidents", role="dispatcher", status=201,
                  json={"type": itype, "priority": priority, "lon": psc.lon + dx, "lat": psc.lat + dx})


def test_engine_failure_still_records_the_call(seeded: Api, scenario: Any,  # noqa: F811
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection (the engine cannot be made to fail otherwise): the 112 call is kept."""
    import geodispatch.assign

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise FloatingPointError("simulated engine fault")

    monkeypatch.setattr(geodispatch.assign, "recommend", broken)
    inc = _incident(seeded, scenario, "medis", 1)
    assert inc["recommendation"]["unit_ids"] == []
    assert "engine failed (FloatingPointError)" in inc["recommendation"]["shortfall"]
    done = seeded.ok("POST", f"/incidents/{inc['id']}/dispatch", role="dispatcher", json={"unit_ids": [UNIT]})
    assert done["unit_ids"] == [UNIT]


def test_incident_recommendation_matches_the_engine(seeded: Api, scenario: Any) -> None:  # noqa: F811
    from geodispatch.assign import Incident, Unit, recommend

    inc = _incident(seeded, scenario)
    assert inc["status"] == "open" and isinstance(inc["id"], int) and inc["unit_ids"] == []
    rec = inc["recommendation"]
    assert set(rec) >= {"unit_ids", "etas_s", "reasons", "shortfall"}
    units = [Unit(id=b["id"], type=b["type"], lon=b["lon"], lat=b["lat"], capabilities=tuple(b["capabilities"]))
             for b in fleet(scenario)]
    expected = recommend(scenario.network, units, Incident("x", inc["type"], inc["priority"], inc["lon"], inc["lat"]),
                         sop=scenario.sop or None, population=scenario.population,
                         target_s=scenario.target_response_s).to_dict()
    assert rec["unit_ids"] == expected["unit_ids"] and rec["etas_s"] == expected["etas_s"]
    assert rec["shortfall"] == expected["shortfall"]
    types = [seeded.ok("GET", f"/units/{u}")["type"] for u in rec["unit_ids"]]
    assert sorted(types) == ["ambulance", "damkar", "damkar"]  # kebakaran: 2 damkar + 1 ambulance
    assert seeded.ok("GET", f"/incidents/{inc['id']}", role="planner") == inc


def test_dispatch_lifecycle_and_release(seeded: Api, scenario: Any) -> None:  # noqa: F811
    api = seeded
    inc = _incident(api, scenario)
    iid, chosen = inc["id"], inc["recommendation"]["unit_ids"]
    done = api.ok("POST", f"/incidents/{iid}/dispatch", role="dispatcher", json={})  # confirm recommendation
    assert done["status"] == "dispatched" and done["unit_ids"] == sorted(chosen)
    for uid in chosen:
        unit = api.ok("GET", f"/units/{uid}")
        assert (unit["status"], unit["incident_id"]) == ("dispatched", iid)
    # a second incident wants one of those units: 409 with its current assignment, nothing written
    other = _incident(api, scenario, "medis", 2, dx=0.02)
    free = next(u["id"] for u in api.ok("GET", "/units?status=available&type=ambulance"))
    err = _error(api.call("POST", f"/incidents/{other['id']}/dispatch", role="dispatcher",
                          json={"unit_ids": [free, chosen[0]]}), 409, "unit_unavailable")
    assert err["units"] == [{"id": chosen[0], "status": "dispatched", "incident_id": iid}]
    assert f"incident {iid}" in err["detail"]
    assert api.ok("GET", f"/units/{free}")["status"] == "available"
    assert api.ok("GET", f"/incidents/{other['id']}")["status"] == "open"
    # lifecycle: units follow to en_route and on_scene; transporting does not move them
    assert api.ok("PATCH", f"/incidents/{iid}", role="dispatcher", json={"status": "en_route"})["status"] == "en_route"
    assert {api.ok("GET", f"/units/{u}")["status"] for u in chosen} == {"en_route"}
    _error(api.call("PATCH", f"/incidents/{iid}", role="dispatcher", json={"status": "closed"}), 409,
           "illegal_transition")
    api.ok("PATCH", f"/incidents/{iid}", role="dispatcher", json={"status": "on_scene"})
    api.ok("PATCH", f"/incidents/{iid}", role="dispatcher", json={"status": "transporting"})
    assert {api.ok("GET", f"/units/{u}")["status"] for u in chosen} == {"on_scene"}
    # one unit clears itself early: released from the incident
    api.ok("PATCH", f"/units/{chosen[0]}", role="dispatcher", json={"status": "available"})
    mid = api.ok("GET", f"/incidents/{iid}")
    assert chosen[0] not in mid["unit_ids"] and len(mid["assignments"]) == len(chosen)
    closed = api.ok("PATCH", f"/incidents/{iid}", role="dispatcher", json={"status": "closed", "note": "selesai"})
    assert closed["status"] == "closed" and closed["closed_at"] and closed["unit_ids"] == []
    assert closed["note"] == "selesai"
    assert all(not a["active"] and a["released_at"] for a in closed["assignments"])
    for uid in chosen:
        assert api.ok("GET", f"/units/{uid}")["status"] == "available"
        assert api.ok("GET", f"/units/{uid}")["incident_id"] is None
    _error(api.call("PATCH", f"/incidents/{iid}", role="dispatcher", json={"status": "cancelled"}), 409,
           "illegal_transition")
    _error(api.call("POST", f"/incidents/{iid}/dispatch", role="dispatcher", json={"unit_ids": [free]}), 409,
           "illegal_transition")
    # now the freed unit can go to the other incident; open list excludes the closed one
    api.ok("POST", f"/incidents/{other['id']}/dispatch", role="dispatcher", json={"unit_ids": [chosen[0]]})
    assert [i["id"] for i in api.ok("GET", "/incidents", role="planner")] == [other["id"]]
    assert [i["id"] for i in api.ok("GET", "/incidents?status=closed", role="planner")] == [iid]
    assert len(api.ok("GET", "/incidents?status=all", role="planner")) == 2
    _error(api.call("GET", "/incidents?status=nope", role="planner"), 422, "validation_error")


def test_hospital_leg_statuses_and_a_returning_unit_takes_a_new_call(seeded: Api, scenario: Any) -> None:  # noqa: F811
    """The API speaks the engine's eight statuses: transporting -> at_hospital -> returning (free)."""
    api = seeded
    inc = _incident(api, scenario, "medis", 1)
    api.ok("POST", f"/incidents/{inc['id']}/dispatch", role="dispatcher", json={"unit_ids": [UNIT]})
    for status in ("en_route", "on_scene", "transporting"):
        api.ok("PATCH", f"/units/{UNIT}", role="unit", json={"status": status})
    at = api.ok("PATCH", f"/units/{UNIT}", role="unit", json={"status": "at_hospital"})
    assert (at["status"], at["incident_id"]) == ("at_hospital", inc["id"])  # still works the call
    assert [u["id"] for u in api.ok("GET", "/units?status=at_hospital")] == [UNIT]
    assert UNIT in api.ok("GET", f"/incidents/{inc['id']}")["unit_ids"]
    other = _incident(api, scenario, "medis", 1, dx=0.0)
    assert UNIT not in other["recommendation"]["unit_ids"]  # busy at the hospital
    err = _error(api.call("POST", f"/incidents/{other['id']}/dispatch", role="dispatcher",
                          json={"unit_ids": [UNIT]}), 409, "unit_unavailable")
    assert err["units"] == [{"id": UNIT, "status": "at_hospital", "incident_id": inc["id"]}]

    back = api.ok("PATCH", f"/units/{UNIT}", role="unit", json={"status": "returning"})
    assert (back["status"], back["incident_id"]) == ("returning", None)  # released on the way back
    first = api.ok("GET", f"/incidents/{inc['id']}")
    assert first["unit_ids"] == [] and all(not a["active"] and a["released_at"] for a in first["assignments"])
    # a returning unit is free: a call where it is now gets it recommended, and it can be sent
    here = api.ok("GET", f"/units/{UNIT}")
    call = api.ok("POST", "/incidents", role="dispatcher", status=201,
                  json={"type": "medis", "priority": 1, "lon": here["lon"], "lat": here["lat"]})
    assert call["recommendation"]["unit_ids"] == [UNIT]
    api.ok("POST", f"/incidents/{call['id']}/dispatch", role="dispatcher", json={})
    assert api.ok("GET", f"/units/{UNIT}")["status"] == "dispatched"
    assert {(a["unit_id"], a["active"]) for a in api.ok("GET", f"/incidents/{call['id']}")["assignments"]} == {
        (UNIT, True)}
    assert api.ok("GET", f"/incidents/{inc['id']}")["unit_ids"] == []


def test_unit_state_machine_of_the_hospital_leg(seeded: Api) -> None:
    api = seeded
    for illegal in ("at_hospital", "returning"):  # only through the hospital leg
        _error(api.call("PATCH", f"/units/{UNIT}", json={"status": illegal}), 409, "illegal_transition")
    region = api.ok("GET", "/region", role="planner")
    assert region["unit_statuses"] == ["available", "dispatched", "en_route", "on_scene", "transporting",
                                       "at_hospital", "returning", "out_of_service"]
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]
    assert {"at_hospital", "returning"} <= set(schema["UnitOut"]["properties"]["status"]["enum"])


def test_database_keeps_the_hospital_statuses_consistent(seeded: Api, scenario: Any) -> None:  # noqa: F811
    api = seeded
    inc = _incident(api, scenario, "medis", 1)
    api.ok("POST", f"/incidents/{inc['id']}/dispatch", role="dispatcher", json={"unit_ids": [UNIT]})
    db = api.runtime.db
    with db.write() as session:  # the CHECK accepts the hospital statuses in their right shape
        session.execute(text("UPDATE units SET status = 'at_hospital' WHERE id = :u"), {"u": UNIT})
    with pytest.raises(IntegrityError), db.write() as session:  # at the hospital but on no incident
        session.execute(text("UPDATE units SET incident_id = NULL WHERE id = :u"), {"u": UNIT})
    with pytest.raises(IntegrityError), db.write() as session:  # returning yet on an incident
        session.execute(text("UPDATE units SET status = 'returning' WHERE id = :u"), {"u": UNIT})
    with db.write() as session:
        session.execute(text("UPDATE units SET status = 'returning' WHERE id = 'psc-01-amb-2'"))
    assert api.ok("GET", f"/units/{UNIT}")["status"] == "at_hospital"


def test_migration_0006_rebuilds_units_keeping_rows_and_keys(seeded: Api, scenario: Any) -> None:  # noqa: F811
    """Down to 0005 (six statuses) and up again, with assigned units and their assignments in place."""
    from geodispatch.api.migrate import current_revision, downgrade, head_revision

    api = seeded
    inc = _incident(api, scenario, "medis", 1)
    api.ok("POST", f"/incidents/{inc['id']}/dispatch", role="dispatcher", json={"unit_ids": [UNIT]})
    for status in ("en_route", "on_scene", "transporting", "at_hospital"):
        api.ok("PATCH", f"/units/{UNIT}", role="unit", json={"status": status})
    api.ok("PATCH", "/units/psc-01-amb-2", role="dispatcher", json={"status": "out_of_service"})
    before = {u["id"]: u for u in api.ok("GET", "/units")}
    db = api.runtime.db
    downgrade(db.engine, "0005_events")
    assert current_revision(db.engine) == "0005_events"
    with db.engine.connect() as conn:  # the old vocabulary: at the hospital is still transporting
        assert conn.execute(text("SELECT status FROM units WHERE id = :u"), {"u": UNIT}).scalar() == "transporting"
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(text("UPDATE units SET status = 'at_hospital' WHERE id = :u"), {"u": UNIT})
    db.upgrade()
    assert current_revision(db.engine) == head_revision()
    after = {u["id"]: u for u in api.ok("GET", "/units")}
    before[UNIT]["status"] = "transporting"
    assert after == before  # every row, column and assignment link survived both rebuilds
    assert api.ok("GET", f"/incidents/{inc['id']}")["unit_ids"] == [UNIT]
    api.ok("PATCH", f"/units/{UNIT}", role="unit", json={"status": "at_hospital"})
    with pytest.raises(IntegrityError), db.write() as session:  # foreign keys enforced again
        session.execute(text("INSERT INTO assignments (incident_id, unit_id, active, assigned_at) "
                             "VALUES (:i, 'no-such-unit', FALSE, CURRENT_TIMESTAMP)"), {"i": inc["id"]})


def test_dispatch_errors(seeded: Api, scenario: Any) -> None:  # noqa: F811
    api = seeded
    inc = _incident(api, scenario, "medis", 3)
    path = f"/incidents/{inc['id']}/dispatch"
    _error(api.call("POST", path, role="dispatcher", json={"unit_ids": ["ghost"]}), 404, "not_found")
    _error(api.call("POST", path, role="dispatcher", json={"unit_ids": [UNIT, UNIT]}), 422, "validation_error")
    _error(api.call("POST", path, role="dispatcher", json={"unit_ids": []}), 422, "validation_error")
    _error(api.call("POST", "/incidents/999999/dispatch", role="dispatcher", json={"unit_ids": [UNIT]}), 404)
    _error(api.call("GET", "/incidents/abc", role="dispatcher"), 422, "validation_error")
    api.ok("POST", path, role="dispatcher", json={"unit_ids": [UNIT]})
    err = _error(api.call("POST", path, role="dispatcher", json={"unit_ids": [UNIT]}), 409, "unit_unavailable")
    assert "this incident already" in err["detail"]
    _error(api.call("PATCH", f"/units/{UNIT}", json={"status": "out_of_service"}), 409, "illegal_transition")
    # an incident type nobody knows, a priority out of range
    psc = _station(scenario, "psc")
    bad = {"type": "alien_invasion", "priority": 1, "lon": psc.lon, "lat": psc.lat}
    _error(api.call("POST", "/incidents", role="dispatcher", json=bad), 422)
    _error(api.call("POST", "/incidents", role="dispatcher", json=dict(bad, type="medis", priority=7)), 422,
           "validation_error")
    assert len(api.ok("GET", "/incidents?status=all")) == 1


def test_ids_beyond_the_database_integer_range_are_client_errors(api: Api) -> None:
    """An id no database integer can hold is a 4xx JSON error, not a 500 from the driver."""
    huge = 10**20
    for method, path, role, body in (
        ("GET", f"/incidents/{huge}", "dispatcher", None),
        ("POST", f"/incidents/{huge}/dispatch", "dispatcher", {"unit_ids": [UNIT]}),
        ("PATCH", f"/incidents/{huge}", "dispatcher", {"status": "closed"}),
        ("DELETE", f"/keys/{huge}", "admin", None),
        ("GET", f"/audit?after_id={huge}", "admin", None),
        ("GET", f"/incidents/{-huge}", "dispatcher", None),
    ):
        _error(api.call(method, path, role=role, json=body), 422, "validation_error")
    _error(api.call("GET", f"/incidents/{2**31 - 1}", role="dispatcher"), 404, "not_found")


def test_bad_requests_have_json_errors(seeded: Api, scenario: Any) -> None:  # noqa: F811
    api = seeded
    psc = _station(scenario, "psc")
    good = {"type": "medis", "priority": 1, "lon": psc.lon, "lat": psc.lat}
    headers = {"Content-Type": "application/json"}
    _error(api.call("POST", "/incidents", role="dispatcher", content=b'{"type": "medis",', headers=headers), 400,
           "invalid_json")
    _error(api.call("POST", "/incidents", role="dispatcher", content=b"[1, 2]", headers=headers), 422)
    _error(api.call("POST", "/incidents", role="dispatcher", content=b"", headers=headers), 422)
    err = _error(api.call("POST", "/incidents", role="dispatcher", json=dict(good, colour="red")), 422,
                 "validation_error")
    assert "colour" in err["detail"]
    nan = b'{"type": "medis", "priority": 1, "lon": NaN, "lat": -7.4}'
    _error(api.call("POST", "/incidents", role="dispatcher", content=nan, headers=headers), 422)
    _error(api.call("POST", "/incidents", role="dispatcher", json=dict(good, lon=200.0)), 422, "validation_error")
    err = _error(api.call("POST", "/incidents", role="dispatcher", json=dict(good, lon=psc.lon + 3.0)), 422,
                 "off_network")
    assert "outside the region" in err["detail"]
    big = b'{"type": "medis", "note": "' + b"x" * 70_000 + b'"}'
    _error(api.call("POST", "/incidents", role="dispatcher", content=big, headers=headers), 413, "payload_too_large")

    def stream() -> Iterator[bytes]:  # chunked, no Content-Length
        for _ in range(20):
            yield b" " * 8192

    _error(api.call("POST", "/incidents", role="dispatcher", content=stream(), headers=headers), 413)
    _error(api.call("GET", "/nowhere", role="dispatcher"), 404, "not_found")
    _error(api.call("DELETE", "/incidents", role="dispatcher"), 405, "method_not_allowed")
    assert api.ok("GET", "/incidents?status=all") == []  # nothing was written by any of these


# ---------------------------------------------------------------- auth
FAMILIES: list[tuple[str, str, str, dict[str, Any] | None, set[str]]] = [
    # (family, method, path, body, roles allowed besides admin)
    ("units.read", "GET", "/units", None, {"dispatcher", "planner"}),
    ("units.read_one", "GET", "/units/psc-01-amb-2", None, {"dispatcher", "planner"}),
    ("units.create", "POST", "/units", {"id": "new-1", "type": "ambulance", "lon": None, "lat": None}, set()),
    ("units.update", "PATCH", "/units/psc-01-amb-2", {"status": "out_of_service"}, {"dispatcher"}),
    ("stations.read", "GET", "/stations", None, {"dispatcher", "planner"}),
    ("stations.create", "POST", "/stations", {"id": "s-new", "type": "psc", "lon": None, "lat": None}, set()),
    ("incidents.read", "GET", "/incidents", None, {"dispatcher", "planner"}),
    ("incidents.create", "POST", "/incidents", {"type": "medis", "priority": 2, "lon": None, "lat": None},
     {"dispatcher"}),
    ("incidents.dispatch", "POST", "/incidents/{iid}/dispatch", {"unit_ids": ["psc-01-amb-3"]}, {"dispatcher"}),
    ("incidents.update", "PATCH", "/incidents/{iid}", {"status": "cancelled"}, {"dispatcher"}),
    ("reach", "GET", "/reach?lon={lon}&lat={lat}", None, {"dispatcher", "planner"}),
    ("coverage", "GET", "/coverage?minutes=15", None, {"dispatcher", "planner"}),
    ("audit", "GET", "/audit", None, set()),
    ("keys", "GET", "/keys", None, set()),
]


@pytest.mark.parametrize("role", ["dispatcher", "planner", "unit", "admin"])
def test_roles_per_endpoint_family(seeded: Api, scenario: Any, role: str) -> None:  # noqa: F811
    api = seeded
    psc = _station(scenario, "psc")
    for family, method, path, body, allowed in FAMILIES:
        inc = _incident(api, scenario, "medis", 3)  # a fresh open incident for each family
        url = path.format(iid=inc["id"], lon=psc.lon, lat=psc.lat)
        payload = None if body is None else {k: (psc.lon if k == "lon" else psc.lat if k == "lat" else v)
                                             if v is None else v for k, v in body.items()}
        if payload is not None and "id" in payload:
            payload["id"] = f"{payload['id']}-{role}"
        response = api.call(method, url, role=role, json=payload)
        if role == "admin" or role in allowed:
            assert response.status_code in (200, 201), (family, role, response.text)
        else:
            _error(response, 403, "forbidden")
        # without a key, with a malformed key, with a wrong secret: 401
        assert api.call(method, url, role=None, json=payload).status_code == 401
        wrong = api.keys[role][:-4] + ("AAAA" if not api.keys[role].endswith("AAAA") else "BBBB")
        for header in ({"Authorization": "Bearer nonsense"}, {"Authorization": f"Basic {api.keys[role]}"},
                       {"Authorization": f"Bearer {wrong}"}):
            err = _error(api.call(method, url, role=None, json=payload, headers=header), 401, "unauthorized")
            assert err


def test_unit_key_acts_on_its_own_unit_only(seeded: Api) -> None:
    api = seeded
    assert api.ok("GET", f"/units/{UNIT}", role="unit")["id"] == UNIT
    mine = api.ok("PATCH", f"/units/{UNIT}", role="unit", json={"status": "out_of_service"})
    assert mine["status"] == "out_of_service"
    _error(api.call("GET", "/units/psc-01-amb-2", role="unit"), 403, "forbidden")
    _error(api.call("PATCH", "/units/psc-01-amb-2", role="unit", json={"status": "out_of_service"}), 403)
    _error(api.call("GET", "/units", role="unit"), 403)
    response = api.call("GET", "/units", role=None)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_keys_over_http_and_revocation(api: Api) -> None:
    made = api.ok("POST", "/keys", json={"role": "planner", "label": "bappeda"}, status=201)
    assert made["key"].startswith("gdk_") and made["role"] == "planner"
    assert api.ok("GET", "/units", role=None, headers=auth(made["key"])) == []
    listed = api.ok("GET", "/keys")
    assert all("key" not in k and "key_hash" not in k for k in listed) and len(listed) == 5
    _error(api.call("POST", "/keys", json={"role": "unit"}), 422, "invalid_input")
    _error(api.call("POST", "/keys", json={"role": "root"}), 422, "validation_error")
    _error(api.call("POST", "/keys", role="dispatcher", json={"role": "admin"}), 403)
    assert api.ok("DELETE", f"/keys/{made['id']}")["revoked_at"]
    err = _error(api.call("GET", "/units", role=None, headers=auth(made["key"])), 401)
    assert "revoked" in err["detail"]
    _error(api.call("DELETE", f"/keys/{made['id']}"), 409)
    _error(api.call("DELETE", "/keys/99999"), 404)


# ---------------------------------------------------------------- audit and database guarantees
def test_audit_log_records_who_what_before_after(seeded: Api, scenario: Any) -> None:  # noqa: F811
    api = seeded
    inc = _incident(api, scenario, "medis", 1)
    api.ok("POST", f"/incidents/{inc['id']}/dispatch", role="dispatcher", json={"unit_ids": [UNIT]})
    api.ok("PATCH", f"/units/{UNIT}", role="unit", json={"status": "en_route"})
    entries = api.ok("GET", f"/audit?entity_type=unit&entity_id={UNIT}")
    actions = [e["action"] for e in entries]
    assert actions == ["unit.create", "unit.dispatch", "unit.status"]
    dispatch, status = entries[1], entries[2]
    assert dispatch["role"] == "dispatcher" and dispatch["before"]["status"] == "available"
    assert dispatch["after"] == dict(dispatch["before"], status="dispatched", incident_id=inc["id"])
    assert status["role"] == "unit" and (status["before"]["status"], status["after"]["status"]) == (
        "dispatched", "en_route")
    assert len({e["key_id"] for e in entries}) == 3 and all(e["at"] for e in entries)
    page = api.ok("GET", f"/audit?after_id={entries[0]['id']}&limit=1")
    assert len(page) == 1 and page[0]["id"] > entries[0]["id"]
    _error(api.call("GET", "/audit", role="dispatcher"), 403)
    # append-only in the database itself
    db = api.runtime.db
    for sql in ("UPDATE audit_log SET role = 'admin'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
            session.execute(text(sql))
    assert len(api.ok("GET", f"/audit?entity_type=unit&entity_id={UNIT}")) == 3


def test_database_rejects_double_booking_even_without_the_app(seeded: Api, scenario: Any) -> None:  # noqa: F811
    api = seeded
    a = _incident(api, scenario, "medis", 1)
    b = _incident(api, scenario, "medis", 1, dx=0.02)
    api.ok("POST", f"/incidents/{a['id']}/dispatch", role="dispatcher", json={"unit_ids": [UNIT]})
    db = api.runtime.db
    with pytest.raises(IntegrityError), db.write() as session:  # second active assignment of the unit
        session.execute(text("INSERT INTO assignments (incident_id, unit_id, active, assigned_at) "
                             "VALUES (:i, :u, TRUE, CURRENT_TIMESTAMP)"), {"i": b["id"], "u": UNIT})
    with pytest.raises(IntegrityError), db.write() as session:  # dispatched but no incident
        session.execute(text("UPDATE units SET incident_id = NULL WHERE id = :u"), {"u": UNIT})
    with pytest.raises(IntegrityError), db.write() as session:  # available yet on an incident
        session.execute(text("UPDATE units SET status = 'available' WHERE id = :u"), {"u": UNIT})
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(text("UPDATE units SET status = 'flying' WHERE id = 'psc-01-amb-2'"))
    assert api.ok("GET", f"/units/{UNIT}")["incident_id"] == a["id"]


# ---------------------------------------------------------------- reach
def test_reach_etas_match_an_independent_reference(seeded: Api, scenario: Any) -> None:  # noqa: F811
    from geodispatch.network.traveltime import point_travel_times

    api = seeded
    net = scenario.network
    psc = _station(scenario, "psc")
    lon, lat = psc.lon + 0.015, psc.lat - 0.01
    # move ten units part-way along random roads near the point (exact partial-edge ETAs)
    import shapely

    rng = np.random.default_rng(7)
    near = np.flatnonzero(np.hypot(net.lon - lon, net.lat - lat) < 0.05)
    edges = rng.choice(np.flatnonzero(np.isin(net.edge_u, near)), size=10, replace=False)
    points = shapely.line_interpolate_point(net.edge_geometries()[edges], rng.uniform(0.2, 0.8, 10), normalized=True)
    for b, p in zip(fleet(scenario)[:10], points, strict=True):
        api.ok("PATCH", f"/units/{b['id']}", json={"lon": shapely.get_x(p), "lat": shapely.get_y(p)})
    out = api.ok("GET", f"/reach?lon={lon}&lat={lat}&minutes=15", role="planner")
    assert out["limit_s"] == 900.0 and out["units"]
    etas = [u["eta_s"] for u in out["units"]]
    assert etas == sorted(etas) and all(e <= 900.0 for e in etas)
    # reference: forward search from every unit's own snapped point, then along the target's edge;
    # a unit standing on a junction starts from that junction node (any road out of it)
    bodies = [{"id": x["id"], "lon": x["lon"], "lat": x["lat"]} for x in api.ok("GET", "/units")]
    target = net.snap([lon], [lat])
    units = net.snap([b["lon"] for b in bodies], [b["lat"] for b in bodies])
    at_junction = (units.fraction < 1e-3) | (units.fraction > 1 - 1e-3)
    times = np.asarray(point_travel_times(net, units))
    junction_node = np.where(units.fraction < 0.5, units.u, units.v)
    times[at_junction] = net.travel_times(junction_node[at_junction])
    u, v = int(target.u[0]), int(target.v[0])
    ref = np.minimum(times[:, u] + target.time_from_u_s[0], times[:, v] + target.time_from_v_s[0])
    same_edge = (units.edge == target.edge[0]) | ((units.u == v) & (units.v == u))
    got = {x["id"]: x["eta_s"] for x in out["units"]}
    for b, t, same in zip(bodies, ref, same_edge, strict=True):
        if same:
            continue
        if t <= 900.0:
            assert got[b["id"]] == pytest.approx(float(t), abs=0.06), b["id"]
        else:
            assert b["id"] not in got
    assert sum(not j for j in at_junction) >= 5  # the exact comparison covered several units
    only = api.ok("GET", f"/reach?lon={lon}&lat={lat}&type=damkar", role="dispatcher")
    assert {x["type"] for x in only["units"]} <= {"damkar"}
    _error(api.call("GET", "/reach?lon=abc&lat=1", role="planner"), 422, "validation_error")
    _error(api.call("GET", f"/reach?lon={lon}&lat={lat}&minutes=-1", role="planner"), 422)


# ---------------------------------------------------------------- coverage now
def test_coverage_now_matches_an_independent_reference(seeded: Api, scenario: Any) -> None:  # noqa: F811
    from geodispatch.network.traveltime import point_travel_times

    api = seeded
    net = scenario.network
    pop = scenario.population
    weights = pop["population"].to_numpy(dtype=float)
    psnap = net.snap(pop["lon"].to_numpy(), pop["lat"].to_numpy(), strict=False)

    def reference(unit_ids: list[str], limit_s: float) -> float:
        units = [api.ok("GET", f"/units/{u}") for u in unit_ids]
        snap = net.snap([u["lon"] for u in units], [u["lat"] for u in units])
        times = np.min(np.asarray(point_travel_times(net, snap)), axis=0)  # one full search per unit
        ok = psnap.edge >= 0
        t = np.full(len(weights), np.inf)
        e = psnap.edge[ok]
        twin = net.edge_between(net.edge_v[e], net.edge_u[e])
        twin_t = np.where(twin >= 0, net.edge_time_s[np.maximum(twin, 0)], np.inf)
        f = psnap.fraction[ok]
        t[ok] = np.minimum(times[net.edge_u[e]] + f * net.edge_time_s[e], times[net.edge_v[e]] + (1 - f) * twin_t)
        return float(weights[t <= limit_s].sum())

    ambulances = [u["id"] for u in api.ok("GET", "/units?type=ambulance")]
    out = api.ok("GET", "/coverage?minutes=12.5&type=ambulance", role="planner")
    assert out["units_available"] == len(ambulances) and out["minutes"] == 12.5
    assert out["population"]["total"] == pytest.approx(weights.sum(), rel=1e-6)
    # stations on a unit's own road may be reached straight along it: the reference (via the
    # edge's end nodes) can only be slower, and on this network the two agree to within 0.5%
    expected = reference(ambulances, 750.0)
    assert out["population"]["covered"] >= expected - 1.0
    assert out["population"]["covered"] == pytest.approx(expected, rel=5e-3)
    desa = out["desa"]
    assert desa["total"] == len(scenario.areas)
    assert desa["fully_covered"] + desa["partly_covered"] + desa["not_covered"] <= desa["total"]
    assert sum(a["covered"] for a in desa["areas"]) == pytest.approx(out["population"]["covered"], rel=1e-3)
    assert out["holes"] and out["holes"][0]["population"] >= out["holes"][-1]["population"]
    # people are whole persons in answers (rounded for display), never 47388.5
    people = [out["population"][k] for k in ("total", "covered", "unreachable")]
    people += [a[k] for a in desa["areas"] for k in ("population", "covered")] + [h["population"] for h in out["holes"]]
    assert all(isinstance(v, int) for v in people)
    # sending ambulances away lowers coverage: they are no longer available
    inc = _incident(api, scenario, "medis", 1)
    api.ok("POST", f"/incidents/{inc['id']}/dispatch", role="dispatcher", json={"unit_ids": ambulances[:5]})
    after = api.ok("GET", "/coverage?minutes=12.5&type=ambulance", role="dispatcher")
    assert after["units_available"] == len(ambulances) - 5
    assert after["population"]["covered"] == pytest.approx(reference(ambulances[5:], 750.0), rel=5e-3)
    assert after["population"]["covered"] <= out["population"]["covered"]
    absent = sorted(set(UNIT_TYPES) - {u["type"] for u in api.ok("GET", "/units", role="planner")})
    assert absent, "every unit type has units: pick a scenario lacking one"
    none = api.ok("GET", f"/coverage?type={absent[0]}", role="planner")
    assert none["units_available"] == 0 and none["population"]["covered"] == 0
    _error(api.call("GET", "/coverage?type=helicopter", role="planner"), 422)  # not a unit type
    _error(api.call("GET", "/coverage", role="unit"), 403)
    _error(api.call("GET", "/coverage?minutes=0", role="planner"), 422)


# ---------------------------------------------------------------- position reports, home, snap limit, database down
def _away_station(scenario: Any, home: Any) -> tuple[Any, float, float]:  # noqa: F811
    """A station far from ``home`` whose neighbourhood an ambulance reaches both from there and
    from home, clearly faster from there: (station, ETA from it, ETA from home) to a point next to it."""
    for away in sorted(scenario.stations, key=lambda s: -((s.lon - home.lon) ** 2 + (s.lat - home.lat) ** 2)):
        from_away = _engine_eta(scenario, away.lon, away.lat, away.lon + 0.003, away.lat)
        from_home = _engine_eta(scenario, home.lon, home.lat, away.lon + 0.003, away.lat)
        if np.isfinite(from_home) and from_home > from_away + 60:
            return away, from_away, from_home
    pytest.skip("no station is reached from the first PSC post")


def _age_report(api: Api, unit_id: str, hours: float) -> None:
    """Make a unit's last position report ``hours`` old, straight in the database."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from geodispatch.api.models import Unit
    from geodispatch.api.recommend import forget_units

    with api.runtime.db.write() as session:
        session.execute(update(Unit).where(Unit.id == unit_id)
                        .values(position_time=datetime.now(UTC) - timedelta(hours=hours)))
    forget_units(api.runtime)  # written past the API (no event): the engine's unit snapshot is told


def _engine_eta(scenario: Any, unit_lon: float, unit_lat: float, lon: float, lat: float) -> float:  # noqa: F811
    """Reference: the engine's ETA of one ambulance at unit_lon/unit_lat (no report time) to a medis call."""
    from geodispatch.assign import Incident, Unit, recommend

    rec = recommend(scenario.network, [Unit("ref", "ambulance", unit_lon, unit_lat)],
                    Incident("x", "medis", 1, lon, lat), sop=scenario.sop or None)
    return float(rec.etas_s[0]) if rec.unit_ids == ["ref"] else float("inf")


@pytest.mark.parametrize("with_station", [True, False], ids=["station", "no-station"])
def test_stale_position_report_falls_back_to_home(api: Api, scenario: Any, with_station: bool) -> None:  # noqa: F811
    from datetime import datetime

    from geodispatch.api.recommend import available_units

    home = _station(scenario, "psc")
    away, from_away, from_home = _away_station(scenario, home)
    body = {"id": "amb-h", "type": "ambulance", "lon": home.lon, "lat": home.lat}
    if with_station:
        api.ok("POST", "/stations", json={"id": "st-h", "type": "psc", "lon": home.lon, "lat": home.lat}, status=201)
        body = dict(body, station_id="st-h", lon=home.lon + 0.002)  # created near, not at, its station
    created = api.ok("POST", "/units", json=body, status=201)
    assert (created["home_lon"], created["home_lat"]) == (home.lon, home.lat)
    moved = api.ok("PATCH", "/units/amb-h", role="dispatcher", json={"lon": away.lon, "lat": away.lat})
    assert datetime.fromisoformat(moved["position_time"]) > datetime.fromisoformat(created["position_time"])
    assert (moved["home_lon"], moved["home_lat"]) == (home.lon, home.lat)  # moving does not move home
    (engine_unit,) = available_units(api.runtime)  # what the engine is given (also the tie-break's base)
    assert (engine_unit.home_lon, engine_unit.home_lat) == (home.lon, home.lat)
    assert engine_unit.home_station == ("st-h" if with_station else None)
    assert engine_unit.position_time == datetime.fromisoformat(moved["position_time"])

    call = {"type": "medis", "priority": 1, "lon": away.lon + 0.003, "lat": away.lat}

    fresh = api.ok("POST", "/incidents", role="dispatcher", json=call, status=201)["recommendation"]
    assert fresh["unit_ids"] == ["amb-h"] and fresh["etas_s"][0] == pytest.approx(from_away, abs=0.5)
    assert "old" not in fresh["reasons"]["amb-h"]

    _age_report(api, "amb-h", hours=3)
    stale = api.ok("POST", "/incidents", role="dispatcher", json=call, status=201)["recommendation"]
    assert stale["unit_ids"] == ["amb-h"] and stale["etas_s"][0] == pytest.approx(from_home, abs=0.5)
    reach = api.ok("GET", f"/reach?lon={call['lon']}&lat={call['lat']}&minutes=240", role="planner")["units"]
    assert [(u["id"], u["position"]) for u in reach] == [("amb-h", "home_station")]
    assert reach[0]["eta_s"] == pytest.approx(stale["etas_s"][0], abs=0.1)  # /reach uses the same positions
    reason = stale["reasons"]["amb-h"]
    assert "position report 3 h" in reason and "old: placed at home station" in reason, reason
    assert ("st-h" in reason) == with_station

    # a new report makes the position count again
    api.ok("PATCH", "/units/amb-h", role="dispatcher", json={"lon": away.lon, "lat": away.lat})
    again = api.ok("POST", "/incidents", role="dispatcher", json=call, status=201)["recommendation"]
    assert again["etas_s"][0] == pytest.approx(from_away, abs=0.5) and "old" not in again["reasons"]["amb-h"]


def test_migration_0002_fills_report_time_and_home_of_existing_units(db_url: str) -> None:  # noqa: F811
    from datetime import UTC, datetime

    from sqlalchemy import select

    from geodispatch.api.db import Database
    from geodispatch.api.migrate import upgrade
    from geodispatch.api.models import NEVER_REPORTED, Unit

    db = Database(db_url)
    try:
        upgrade(db.engine, "0001_initial")
        t0, t1 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 5, 0, 0, tzinfo=UTC)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO stations (id, name, type, lon, lat, created_at) "
                              "VALUES ('s1', '', 'psc', 119.9, -5.5, :t)"), {"t": t0})
            for uid, station in (("u-st", "s1"), ("u-free", None)):
                conn.execute(text("INSERT INTO units (id, type, station_id, lon, lat, capabilities, status, "
                                  "incident_id, created_at, updated_at) VALUES (:id, 'ambulance', :st, 119.95, "
                                  "-5.45, '[]', 'available', NULL, :t0, :t1)"),
                             {"id": uid, "st": station, "t0": t0, "t1": t1})
        db.upgrade()
        with db.engine.begin() as conn:  # a row written without a report time (e.g. by hand)
            conn.execute(text("INSERT INTO units (id, type, lon, lat, capabilities, status, created_at, updated_at) "
                              "VALUES ('u-raw', 'ambulance', 1, 2, '[]', 'available', :t, :t)"), {"t": t1})
        with db.read() as session:
            rows = {u.id: u for u in session.scalars(select(Unit))}

        def utc(value: datetime) -> datetime:
            return value if value.tzinfo else value.replace(tzinfo=UTC)

        assert utc(rows["u-st"].position_time) == t1 and utc(rows["u-free"].position_time) == t1
        assert (rows["u-st"].home_lon, rows["u-st"].home_lat) == (119.9, -5.5)
        assert (rows["u-free"].home_lon, rows["u-free"].home_lat) == (None, None)
        assert utc(rows["u-raw"].position_time) == datetime.fromisoformat(NEVER_REPORTED)  # counts as stale
    finally:
        db.dispose()


def test_engine_snaps_with_the_api_snap_limit(scenario: Any, tmp_path: Any) -> None:  # noqa: F811
    from geodispatch.api import create_app

    net = scenario.network
    west, south, east, north = net.bbox
    lon, lat = (a.ravel() for a in np.meshgrid(np.linspace(west, east, 80), np.linspace(south, north, 80)))
    d = net.snap(lon, lat, max_distance_m=50_000, strict=False).distance_m
    between = np.flatnonzero((d > 1100) & (d < 2500))  # beyond the engine's old fixed 1000 m
    if len(between) == 0:
        pytest.skip("no point of the region lies 1.1-2.5 km from a road")
    i = between[0]
    url = f"sqlite:///{tmp_path / 'snap.db'}"
    app = create_app(scenario, url, snap_limit_m=3000.0)
    keys = make_keys(url, UNIT)
    try:
        with TestClient(app) as client:
            api = Api(client, keys, app.state.runtime)
            psc = _station(scenario, "psc")
            api.ok("POST", "/units", json={"id": "amb-s", "type": "ambulance", "lon": psc.lon, "lat": psc.lat},
                   status=201)
            call = {"type": "medis", "priority": 1, "lon": float(lon[i]), "lat": float(lat[i])}
            rec = api.ok("POST", "/incidents", role="dispatcher", json=call, status=201)["recommendation"]
            assert rec["unit_ids"] == ["amb-s"] and rec["shortfall"] is None, rec
            reach = api.ok("GET", f"/reach?lon={call['lon']}&lat={call['lat']}&minutes=240", role="planner")
            assert reach["snap_distance_m"] == pytest.approx(float(d[i]), abs=0.5)
            assert [u["id"] for u in reach["units"]] == ["amb-s"]
            assert reach["units"][0]["eta_s"] == pytest.approx(rec["etas_s"][0], abs=0.1)
            # /coverage snaps units with the server's limit too: a fire truck standing 1.1-2.5 km
            # from a road (accepted by this server) is counted and covers people
            api.ok("POST", "/units", json={"id": "dk-far", "type": "damkar", "lon": call["lon"], "lat": call["lat"]},
                   status=201)
            cov = api.ok("GET", "/coverage?type=damkar&minutes=60", role="planner")
            assert cov["units_available"] == 1 and cov["population"]["covered"] > 0, cov["population"]
    finally:
        app.state.runtime.db.dispose()


def test_database_down_mid_session_is_503(scenario: Any, tmp_path: Any) -> None:  # noqa: F811
    """SQLite file in a directory that disappears (pool emptied first): OperationalError -> 503."""
    from geodispatch.api import create_app

    folder = tmp_path / "data"
    folder.mkdir()
    url = f"sqlite:///{folder / 'dispatch.db'}"
    app = create_app(scenario, url)
    keys = make_keys(url, UNIT)
    try:
        with TestClient(app) as client:
            api = Api(client, keys, app.state.runtime)
            psc = _station(scenario, "psc")
            api.ok("POST", "/units", json={"id": "amb-d", "type": "ambulance", "lon": psc.lon, "lat": psc.lat},
                   status=201)
            api.runtime.db.dispose()
            folder.rename(tmp_path / "gone")
            for method, path, role, body in (
                ("GET", "/units", "dispatcher", None),
                ("PATCH", "/units/amb-d", "dispatcher", {"status": "out_of_service"}),
                ("POST", "/incidents", "dispatcher", {"type": "medis", "priority": 1, "lon": psc.lon, "lat": psc.lat}),
            ):
                response = api.call(method, path, role, json=body)
                err = _error(response, 503, "database_unavailable")
                assert "OperationalError" in err["detail"] and response.headers["retry-after"] == "5"
            (tmp_path / "gone").rename(folder)
            assert api.ok("GET", "/units/amb-d", role="dispatcher")["status"] == "available"  # nothing half-done
    finally:
        app.state.runtime.db.dispose()


def test_the_key_is_checked_before_the_body_is_read(api: Api) -> None:
    """No key (or a bad one) and a malformed body: 401, not 400; with a key the body's error."""
    bad = b'{"type": "medis", "priority": '
    headers = {"content-type": "application/json"}
    for role in (None, "bogus"):
        extra = {} if role is None else {"Authorization": "Bearer gdk_00000000_" + "x" * 43}
        response = api.client.post("/incidents", content=bad, headers={**headers, **extra})
        _error(response, 401, "unauthorized")
    _error(api.call("POST", "/incidents", "dispatcher", content=bad, headers=headers), 400, "invalid_json")
    _error(api.call("POST", "/incidents", "planner", json={"type": "medis"}), 403, "forbidden")


def test_core_errors_carry_no_http_status_and_each_maps_to_one() -> None:
    import inspect

    import geodispatch.errors as core
    from geodispatch.api.errors import http_status

    classes = [c for _, c in inspect.getmembers(core, inspect.isclass) if issubclass(c, core.GeodispatchError)]
    assert len(classes) > 10
    for cls in classes:
        assert not hasattr(cls, "http_status"), cls
        exc = cls("x")
        assert 400 <= http_status(exc) < 600, cls
    assert http_status(core.ConflictError("x", code="unit_unavailable")) == 409
    assert http_status(core.SnapError("x")) == 422 and http_status(core.AuthenticationError("x")) == 401
    assert http_status(core.CorruptFileError("x")) == 400 and http_status(core.DatabaseUnavailableError("x")) == 503


def test_server_start_warms_the_recommendation_engine(scenario: Any, tmp_path: Any,  # noqa: F811
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """The first dispatcher's request must not pay the search kernels' compilation (it once hit
    the 15 s request timeout on a fresh install under load): create_app runs one throwaway
    recommendation, and it must work."""
    import logging

    from geodispatch.api import create_app

    with caplog.at_level(logging.WARNING, logger="geodispatch.api.app"):
        app = create_app(scenario, f"sqlite:///{tmp_path / 'warm.db'}")
    app.state.runtime.db.dispose()
    assert not [r for r in caplog.records if "warming up" in r.getMessage()], caplog.text
