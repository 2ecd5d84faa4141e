"""The 112 workflow through the API: forwards to agencies (OPD), agency keys, acknowledgements,
the acknowledgement timeout (injected clock), escalation, command handover, public status.

Runs on SQLite and PostgreSQL (``db_url`` is parametrised; see ``api_harness``) on the synthetic
regency, whose agencies are one per service plus the call centre.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_harness import auth, db_url, pg_server, scenario  # noqa: F401
from fastapi.testclient import TestClient

AGENCY_KEYS = ("syn-damkar", "syn-psc", "syn-sar", "syn-bpbd")


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    runtime: Any
    now: list[datetime]

    def call(self, method: str, path: str, who: str | None = "admin", **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if who is not None:
            headers.update(auth(self.keys[who]))
        return self.client.request(method, path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, who: str = "admin", status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, who, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def error(self, method: str, path: str, who: str | None, status: int, code: str | None = None, **kw: Any) -> Any:
        response = self.call(method, path, who, **kw)
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) >= {"error", "detail"}, body
        if code is not None:
            assert body["error"] == code, body
        return body

    def tick(self, seconds: float) -> None:
        self.now[0] += timedelta(seconds=seconds)


def _fleet(scenario: Any) -> list[dict[str, Any]]:  # noqa: F811
    """Every unit of the synthetic stations, with its station's agency (as a region file says)."""
    return [
        {"id": u.id, "type": u.type, "lon": s.lon, "lat": s.lat, "capabilities": list(u.capabilities),
         "agency_id": s.agency}
        for s in scenario.stations
        for u in s.units
    ]


@pytest.fixture
def api(scenario: Any, db_url: str) -> Iterator[Api]:  # noqa: F811
    from geodispatch.api import create_app
    from geodispatch.api.keys import create_key_cli

    app = create_app(scenario, db_url, overdue_sweep_s=0)  # the test drives the clock and the sweep itself
    now = [datetime(2026, 12, 1, 8, 0, tzinfo=UTC)]
    app.state.runtime.clock = lambda: now[0]
    keys = {role: create_key_cli(db_url, role) for role in ("admin", "dispatcher", "planner")}
    for agency in AGENCY_KEYS:
        keys[agency] = create_key_cli(db_url, "agency", agency_id=agency)
    with TestClient(app) as client:
        api = Api(client, keys, app.state.runtime, now)
        for body in _fleet(scenario):
            api.ok("POST", "/units", json=body, status=201)
        yield api
    app.state.runtime.db.dispose()


def _fire(api: Api, scenario: Any, itype: str = "kebakaran") -> dict[str, Any]:  # noqa: F811
    psc = next(s for s in scenario.stations if s.type == "psc")
    body = {"type": itype, "priority": 1, "lon": psc.lon + 0.01, "lat": psc.lat + 0.005, "note": "Pak Budi, 0812-555"}
    return api.ok("POST", "/incidents", "dispatcher", status=201, json=body)  # type: ignore[no-any-return]


def test_a_fire_is_forwarded_by_the_sop_with_a_commander_and_a_public_token(api: Api, scenario: Any) -> None:  # noqa: F811
    inc = _fire(api, scenario)
    forwards = {f["agency_id"]: f for f in inc["forwarded_to"]}
    assert list(forwards) == ["syn-damkar", "syn-psc", "syn-kominfo"]
    assert forwards["syn-damkar"]["unit_types"] == ["damkar"]
    assert forwards["syn-psc"]["unit_types"] == ["ambulance"]
    assert forwards["syn-kominfo"]["unit_types"] == []
    assert {f["status"] for f in inc["forwarded_to"]} == {"notified"}
    deadline = datetime.fromisoformat(forwards["syn-damkar"]["ack_deadline"])
    assert deadline - datetime.fromisoformat(forwards["syn-damkar"]["notified_at"]) == timedelta(seconds=60)
    assert inc["command_agency_id"] == "syn-damkar"
    assert len(inc["public_token"]) >= 32
    audit = api.ok("GET", "/audit", params={"entity_type": "incident", "entity_id": str(inc["id"])})
    assert "incident.forward" in {e["action"] for e in audit}


def test_agencies_list_their_queues(api: Api, scenario: Any) -> None:  # noqa: F811
    _fire(api, scenario)
    agencies = {a["id"]: a for a in api.ok("GET", "/agencies", "planner")}
    assert set(agencies) == {"syn-kominfo", "syn-psc", "syn-damkar", "syn-bpbd", "syn-polres", "syn-pmi", "syn-sar"}
    assert agencies["syn-damkar"]["notified"] == 1 and agencies["syn-damkar"]["overdue"] == 0
    assert agencies["syn-sar"]["notified"] == 0
    assert agencies["syn-damkar"]["units_available"] >= 2
    assert agencies["syn-kominfo"]["unit_types"] == [] and agencies["syn-damkar"]["source"].startswith("synthetic")
    api.error("GET", "/agencies", "syn-damkar", 403, "forbidden")


def test_agency_keys_see_and_change_only_their_own(api: Api, scenario: Any) -> None:  # noqa: F811
    fire = _fire(api, scenario)
    flood = _fire(api, scenario, "banjir")  # forwarded to BPBD, SAR, Kominfo: not to Damkar
    listed = [i["id"] for i in api.ok("GET", "/incidents", "syn-damkar")]
    assert listed == [fire["id"]]
    assert api.ok("GET", f"/incidents/{fire['id']}", "syn-damkar")["id"] == fire["id"]
    api.error("GET", f"/incidents/{flood['id']}", "syn-damkar", 403, "forbidden")
    api.error("GET", "/incidents/999999", "syn-damkar", 404)
    units = api.ok("GET", "/units", "syn-damkar")
    assert units and {u["agency_id"] for u in units} == {"syn-damkar"}
    psc_unit = next(u["id"] for u in api.ok("GET", "/units", "dispatcher") if u["agency_id"] == "syn-psc")
    api.error("GET", f"/units/{psc_unit}", "syn-damkar", 403)
    api.error("PATCH", f"/units/{psc_unit}", "syn-damkar", 403, json={"status": "out_of_service"})
    own = units[0]["id"]
    assert api.ok("PATCH", f"/units/{own}", "syn-damkar", json={"status": "out_of_service"})["status"] == \
        "out_of_service"
    api.error("POST", f"/incidents/{fire['id']}/dispatch", "syn-damkar", 403, json={"unit_ids": [psc_unit]})
    api.error("POST", f"/incidents/{flood['id']}/dispatch", "syn-damkar", 403, json={"unit_ids": [own]})
    api.error("PATCH", f"/incidents/{fire['id']}", "syn-damkar", 403, json={"status": "cancelled"})
    for method, path in (("GET", "/stations"), ("GET", "/audit"), ("GET", "/keys"), ("GET", "/agencies"),
                         ("POST", "/incidents/1/escalate")):
        api.error(method, path, "syn-damkar", 403)
    api.error("POST", "/incidents", "syn-damkar", 403, json={"type": "medis", "priority": 1, "lon": 0, "lat": 0})


def test_agency_dispatches_its_share_of_the_recommendation(api: Api, scenario: Any) -> None:  # noqa: F811
    fire = _fire(api, scenario)
    recommended = fire["recommendation"]["unit_ids"]
    out = api.ok("POST", f"/incidents/{fire['id']}/dispatch", "syn-damkar", json={})
    owners = {u["id"]: u["agency_id"] for u in api.ok("GET", "/units", "dispatcher")}
    mine = [u for u in recommended if owners[u] == "syn-damkar"]
    assert mine and sorted(out["unit_ids"]) == sorted(mine)
    out = api.ok("POST", f"/incidents/{fire['id']}/dispatch", "syn-psc", json={})
    assert sorted(out["unit_ids"]) == sorted(recommended)


def test_acknowledgement_state_machine(api: Api, scenario: Any) -> None:  # noqa: F811
    fire = _fire(api, scenario)
    path = f"/incidents/{fire['id']}/acknowledge"
    out = api.ok("POST", path, "syn-damkar")
    status = {f["agency_id"]: f["status"] for f in out["forwarded_to"]}
    assert status == {"syn-damkar": "acknowledged", "syn-psc": "notified", "syn-kominfo": "notified"}
    api.error("POST", path, "syn-damkar", 409, "already_acknowledged")
    api.error("POST", path, "syn-sar", 403, "forbidden")  # not forwarded to SAR
    api.error("POST", path, "dispatcher", 403, "forbidden")
    api.error("POST", "/incidents/424242/acknowledge", "syn-damkar", 404)
    entries = api.ok("GET", "/audit", params={"entity_type": "incident", "entity_id": str(fire["id"])})
    ack = [e for e in entries if e["action"] == "forward.acknowledge"]
    assert len(ack) == 1 and ack[0]["role"] == "agency" and ack[0]["after"]["agency_id"] == "syn-damkar"


def test_timeout_makes_an_agency_overdue_and_escalation_hands_it_to_the_commander(
    api: Api, scenario: Any  # noqa: F811
) -> None:
    from geodispatch.api.workflow import mark_overdue

    fire = _fire(api, scenario)
    api.ok("POST", f"/incidents/{fire['id']}/acknowledge", "syn-damkar")
    api.tick(60)  # exactly at the deadline: not yet overdue
    status = {f["agency_id"]: f["status"] for f in api.ok("GET", f"/incidents/{fire['id']}", "dispatcher")
              ["forwarded_to"]}
    assert status["syn-psc"] == "notified"
    api.error("POST", f"/incidents/{fire['id']}/escalate", "dispatcher", 409, "nothing_overdue")
    api.tick(1)
    inc = api.ok("GET", f"/incidents/{fire['id']}", "dispatcher")
    status = {f["agency_id"]: f["status"] for f in inc["forwarded_to"]}
    assert status == {"syn-damkar": "acknowledged", "syn-psc": "overdue", "syn-kominfo": "overdue"}
    assert {a["id"]: a["overdue"] for a in api.ok("GET", "/agencies", "dispatcher")}["syn-psc"] == 1
    with api.runtime.db.write() as session:  # what the server's sweeper does every few seconds
        became = mark_overdue(session, api.runtime)
    assert sorted(became) == [(fire["id"], "syn-kominfo"), (fire["id"], "syn-psc")]
    with api.runtime.db.write() as session:
        assert mark_overdue(session, api.runtime) == []  # once only
    entries = api.ok("GET", "/audit", params={"entity_type": "incident", "entity_id": str(fire["id"])})
    assert Counter(e["action"] for e in entries)["forward.overdue"] == 2
    out = api.ok("POST", f"/incidents/{fire['id']}/escalate", "dispatcher")
    forwards = {f["agency_id"]: f for f in out["forwarded_to"]}
    assert forwards["syn-psc"]["status"] == "escalated" and forwards["syn-psc"]["escalated_at"]
    assert forwards["syn-damkar"]["unit_types"] == ["ambulance", "damkar"]  # the commander takes the ambulance
    api.error("POST", f"/incidents/{fire['id']}/escalate", "dispatcher", 409, "nothing_overdue")
    api.error("POST", f"/incidents/{fire['id']}/acknowledge", "syn-psc", 409, "already_escalated")


def test_command_handover_is_audited(api: Api, scenario: Any) -> None:  # noqa: F811
    fire = _fire(api, scenario)
    path = f"/incidents/{fire['id']}/command"
    api.error("POST", path, "syn-psc", 403, json={"agency_id": "syn-bpbd"})  # not the commander
    api.error("POST", path, "dispatcher", 422, json={"agency_id": "nope"})
    out = api.ok("POST", path, "syn-damkar", json={"agency_id": "syn-bpbd"})
    assert out["command_agency_id"] == "syn-bpbd"
    assert "syn-bpbd" in {f["agency_id"] for f in out["forwarded_to"]}
    api.error("POST", path, "dispatcher", 409, "already_commanding", json={"agency_id": "syn-bpbd"})
    entries = api.ok("GET", "/audit", params={"entity_type": "incident", "entity_id": str(fire["id"])})
    handover = [e for e in entries if e["action"] == "incident.command"]
    assert handover and handover[0]["before"] == {"command_agency_id": "syn-damkar"}
    assert handover[0]["after"] == {"command_agency_id": "syn-bpbd"}


def test_public_status_tells_the_stage_and_leaks_nothing(api: Api, scenario: Any) -> None:  # noqa: F811
    fire = _fire(api, scenario)
    token = fire["public_token"]
    first = api.ok("GET", f"/status/{token}", None)
    assert first == {
        "stage": "diteruskan",
        "message": "Laporan diterima dan diteruskan ke Damkar dan PSC 119.",
        "eta_minutes": None,
        "updated_at": first["updated_at"],
    }
    api.ok("POST", f"/incidents/{fire['id']}/dispatch", "dispatcher", json={})
    moving = api.ok("GET", f"/status/{token}", None)
    eta_s = min(e for e in fire["recommendation"]["etas_s"] if e is not None)
    assert moving["stage"] == "dalam_perjalanan" and moving["eta_minutes"] == max(1, -(-int(eta_s) // 60))
    assert moving["message"] == f"Unit dalam perjalanan, perkiraan tiba {moving['eta_minutes']} menit lagi."
    api.ok("PATCH", f"/incidents/{fire['id']}", "dispatcher", json={"status": "on_scene"})
    assert api.ok("GET", f"/status/{token}", None)["stage"] == "di_lokasi"
    api.ok("PATCH", f"/incidents/{fire['id']}", "dispatcher", json={"status": "closed"})
    done = api.ok("GET", f"/status/{token}", None)
    assert done["stage"] == "selesai" and set(done) == {"stage", "message", "eta_minutes", "updated_at"}
    text = json.dumps([first, moving, done])
    for secret in (str(fire["lon"])[:7], str(fire["lat"])[:7], "Budi", "0812", *fire["recommendation"]["unit_ids"],
                   "syn-", token):
        assert secret not in text, secret
    api.error("GET", "/status/" + "x" * 32, None, 404, "not_found")
    api.error("GET", "/status/short", None, 422)


def test_public_status_is_rate_limited(api: Api, scenario: Any) -> None:  # noqa: F811
    token = _fire(api, scenario)["public_token"]
    for _ in range(30):
        api.ok("GET", f"/status/{token}", None)
    response = api.call("GET", f"/status/{token}", None)
    assert response.status_code == 429 and response.json()["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


def test_agency_keys_need_a_known_agency(api: Api) -> None:
    api.error("POST", "/keys", "admin", 422, json={"role": "agency"})
    api.error("POST", "/keys", "admin", 422, json={"role": "agency", "agency_id": "no-such-opd"})
    api.error("POST", "/keys", "admin", 422, json={"role": "dispatcher", "agency_id": "syn-psc"})
    made = api.ok("POST", "/keys", "admin", status=201, json={"role": "agency", "agency_id": "syn-pmi"})
    assert made["agency_id"] == "syn-pmi"
    assert api.client.get("/units", headers=auth(made["key"])).status_code == 200


def test_two_agencies_at_once_keep_one_unit_one_incident(api: Api, scenario: Any) -> None:  # noqa: F811
    """Damkar and the call taker confirm the same fire truck for two fires at the same moment."""
    a, b = _fire(api, scenario), _fire(api, scenario)
    truck = next(u["id"] for u in api.ok("GET", "/units", "syn-damkar") if u["type"] == "damkar")
    barrier = threading.Barrier(4)
    results: dict[str, int] = {}

    def run(name: str, who: str, incident: int, body: dict[str, Any]) -> None:
        barrier.wait()
        r = api.call("POST", f"/incidents/{incident}/{name.split(':')[0]}", who, json=body)
        results[name] = r.status_code

    jobs = [
        ("dispatch:a", "syn-damkar", a["id"], {"unit_ids": [truck]}),
        ("dispatch:b", "dispatcher", b["id"], {"unit_ids": [truck]}),
        ("acknowledge:a", "syn-damkar", a["id"], {}),
        ("acknowledge:b", "syn-psc", b["id"], {}),
    ]
    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted((results["dispatch:a"], results["dispatch:b"])) == [200, 409], results
    assert results["acknowledge:a"] == results["acknowledge:b"] == 200
    holders = [i for i in (a, b) if truck in api.ok("GET", f"/incidents/{i['id']}", "dispatcher")["unit_ids"]]
    assert len(holders) == 1


def test_the_server_sweeper_persists_overdue_forwards(scenario: Any, db_url: str) -> None:  # noqa: F811
    """The running app marks and audits overdue forwards by itself (sweep every 0.2 s here)."""
    import time

    from sqlalchemy import select

    from geodispatch.api import create_app
    from geodispatch.api.keys import create_key_cli
    from geodispatch.api.models import IncidentForward

    app = create_app(scenario, db_url, overdue_sweep_s=0.2)
    now = [datetime(2026, 12, 1, 8, 0, tzinfo=UTC)]
    app.state.runtime.clock = lambda: now[0]
    keys = {"admin": create_key_cli(db_url, "admin"), "dispatcher": create_key_cli(db_url, "dispatcher")}
    with TestClient(app) as client:
        api = Api(client, keys, app.state.runtime, now)
        fire = _fire(api, scenario)
        api.tick(3600)
        deadline = time.monotonic() + 60
        statuses: set[str] = set()
        while time.monotonic() < deadline:
            with app.state.runtime.db.read() as session:
                statuses = set(session.scalars(select(IncidentForward.status).where(
                    IncidentForward.incident_id == fire["id"])))
            if statuses == {"overdue"}:
                break
            time.sleep(0.2)
        assert statuses == {"overdue"}
        entries = api.ok("GET", "/audit", params={"entity_type": "incident", "entity_id": str(fire["id"])})
        assert Counter(e["action"] for e in entries)["forward.overdue"] == 3
    app.state.runtime.db.dispose()
