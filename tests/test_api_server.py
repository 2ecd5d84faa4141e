"""The dispatch API as a real ``geodispatch serve`` process on 127.0.0.1 (SQLite and PostgreSQL):
simultaneous dispatch confirmations from threads, a restart with the state intact, and the
``keys create`` / ``serve`` command lines.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_harness import SOURCE, ServerProcess, auth, db_url, fleet, make_keys, pg_server, scenario  # noqa: F401


@pytest.fixture
def served(request: pytest.FixtureRequest, db_url: str, scenario: Any  # noqa: F811
           ) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """A server (``--workers N`` processes when parametrised indirectly with N) with the fleet."""
    keys = make_keys(db_url, "psc-01-amb-1")
    workers = getattr(request, "param", 1)
    server = ServerProcess(SOURCE, db_url, extra_args=["--workers", str(workers)] if workers > 1 else []).start()
    try:
        with httpx.Client(base_url=server.url, headers=auth(keys["admin"]), timeout=30) as client:
            for body in fleet(scenario):
                assert client.post("/units", json=body).status_code == 201
        yield server, keys
    finally:
        server.stop()


def _new_incidents(client: httpx.Client, scenario: Any, n: int) -> list[int]:  # noqa: F811
    stations = [s for s in scenario.stations if s.type in ("psc", "puskesmas", "rsud")]
    ids = []
    for i in range(n):
        s = stations[i % len(stations)]
        r = client.post("/incidents", json={"type": "medis", "priority": 1 + i % 3, "lon": s.lon + 0.004,
                                            "lat": s.lat + 0.003})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def _fire(server: ServerProcess, key: str, jobs: list[tuple[int, list[str]]]) -> list[tuple[int, list[str], Any]]:
    """Send every (incident, unit_ids) dispatch from its own thread, all released at once."""
    return _fire_at([server], key, jobs)


@pytest.mark.parametrize("served", [1, 2], ids=["1process", "2processes"], indirect=True)
def test_simultaneous_dispatch_confirmations(served: tuple[ServerProcess, dict[str, str]], scenario: Any) -> None:  # noqa: F811
    server, keys = served
    client = httpx.Client(base_url=server.url, headers=auth(keys["dispatcher"]), timeout=60)
    ambulances = [u["id"] for u in client.get("/units", params={"type": "ambulance"}).json()]
    assert len(ambulances) >= 6
    # round 1: 16 dispatchers, 16 incidents, the same unit at the same moment: exactly one wins
    incidents = _new_incidents(client, scenario, 16)
    results = _fire(server, keys["dispatcher"], [(inc, [ambulances[0]]) for inc in incidents])
    codes = Counter(code for _, _, (code, _) in results)
    assert codes == {200: 1, 409: 15}, codes
    winner = next(inc for inc, _, (code, _) in results if code == 200)
    for _, _, (code, body) in results:
        if code == 409:
            assert body["error"] == "unit_unavailable"
            assert body["units"] == [{"id": ambulances[0], "status": "dispatched", "incident_id": winner}]
    # round 2: 24 dispatchers, overlapping sets of 1-3 units out of 6 (incl. the busy one)
    rng = random.Random(3)
    incidents = _new_incidents(client, scenario, 24)
    jobs = [(inc, rng.sample(ambulances[:6], rng.randint(1, 3))) for inc in incidents]
    results = _fire(server, keys["dispatcher"], jobs)
    won: dict[str, int] = {ambulances[0]: winner}
    for inc, units, (code, body) in results:
        assert code in (200, 409), body
        if code == 200:
            assert sorted(body["unit_ids"]) == sorted(units) and body["status"] == "dispatched"
            for u in units:
                assert u not in won, f"unit {u} won twice"
                won[u] = inc
        else:
            assert body["error"] == "unit_unavailable" and body["units"]
            assert any(u["id"] in units and u["status"] == "dispatched" for u in body["units"])
    # the database agrees: every unit on at most one open incident, the one whose dispatch won
    seen: Counter[str] = Counter()
    for inc in client.get("/incidents", params={"limit": 1000}).json():
        seen.update(inc["unit_ids"])
        assert inc["status"] == ("dispatched" if inc["unit_ids"] else "open")
    assert max(seen.values()) == 1 and set(seen) == set(won)
    for unit_id, inc in won.items():
        unit = client.get(f"/units/{unit_id}").json()
        assert (unit["status"], unit["incident_id"]) == ("dispatched", inc)
    audit = httpx.get(server.url + "/audit", params={"entity_type": "unit", "limit": 1000},
                      headers=auth(keys["admin"])).json()
    assert Counter(e["entity_id"] for e in audit if e["action"] == "unit.dispatch") == Counter(list(won))
    client.close()
    from geodispatch.api.audit import verify
    from geodispatch.api.db import make_engine

    engine = make_engine(server.db_url)  # concurrent appends (threads, processes) kept one chain
    try:
        assert verify(engine).intact
    finally:
        engine.dispose()


def test_two_processes_on_one_database_race_for_one_unit(db_url: str, scenario: Any) -> None:  # noqa: F811
    """Two independent ``serve`` processes on one database: dispatches of the same unit sent through
    both at the same moment, alternating, exactly one wins (the other is 409 naming the winner)."""
    keys = make_keys(db_url, "psc-01-amb-1")
    first = ServerProcess(SOURCE, db_url).start()  # migrates; the second finds the schema current
    try:
        second = ServerProcess(SOURCE, db_url).start()
    except BaseException:
        first.stop()
        raise
    try:
        with httpx.Client(base_url=first.url, headers=auth(keys["admin"]), timeout=30) as client:
            for body in fleet(scenario):
                assert client.post("/units", json=body).status_code == 201
            unit = client.get("/units", params={"type": "ambulance"}).json()[0]["id"]
            incidents = _new_incidents(client, scenario, 8)
        for rnd in range(2):  # round 2: the unit is free again (round 1's incident cancelled)
            results = _fire_at([first, second], keys["dispatcher"], [(inc, [unit]) for inc in incidents[rnd::2]])
            codes = Counter(code for _, _, (code, _) in results)
            assert codes == {200: 1, 409: 3}, codes
            winner = next(inc for inc, _, (code, _) in results if code == 200)
            for _, _, (code, body) in results:
                if code == 409:
                    assert body["units"] == [{"id": unit, "status": "dispatched", "incident_id": winner}], body
            with httpx.Client(base_url=second.url, headers=auth(keys["dispatcher"]), timeout=30) as client:
                assert client.get(f"/units/{unit}").json()["incident_id"] == winner
                assert client.patch(f"/incidents/{winner}", json={"status": "cancelled"}).status_code == 200
    finally:
        second.stop()
        first.stop()
    from geodispatch.api.audit import verify
    from geodispatch.api.db import make_engine

    engine = make_engine(db_url)  # both processes appended to one chain
    try:
        assert verify(engine).intact
    finally:
        engine.dispose()


def _fire_at(servers: list[ServerProcess], key: str, jobs: list[tuple[int, list[str]]]
             ) -> list[tuple[int, list[str], Any]]:
    """Send every (incident, unit_ids) dispatch from its own thread, all released at once; job i
    goes through ``servers[i % len(servers)]``."""
    barrier = threading.Barrier(len(jobs))
    results: list[tuple[int, list[str], Any]] = [None] * len(jobs)  # type: ignore[list-item]

    def run(i: int, incident: int, units: list[str]) -> None:
        url = servers[i % len(servers)].url
        with httpx.Client(base_url=url, headers=auth(key), timeout=60) as client:
            client.get("/health")
            barrier.wait()
            r = client.post(f"/incidents/{incident}/dispatch", json={"unit_ids": units})
            results[i] = (incident, units, (r.status_code, r.json()))

    threads = [threading.Thread(target=run, args=(i, inc, units)) for i, (inc, units) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None for r in results), "a dispatch thread did not finish"
    return results


def test_restart_keeps_state(served: tuple[ServerProcess, dict[str, str]], scenario: Any) -> None:  # noqa: F811
    server, keys = served
    with httpx.Client(base_url=server.url, headers=auth(keys["dispatcher"]), timeout=30) as client:
        a, b, c = _new_incidents(client, scenario, 3)
        rec = client.get(f"/incidents/{a}").json()["recommendation"]["unit_ids"]
        assert client.post(f"/incidents/{a}/dispatch", json={}).status_code == 200
        assert client.post(f"/incidents/{b}/dispatch", json={"unit_ids": ["psc-01-amb-1"]}).status_code in (200, 409)
        assert client.patch(f"/incidents/{c}", json={"status": "cancelled"}).status_code == 200
        before_units = client.get("/units").json()
        before_incidents = client.get("/incidents", params={"status": "all"}).json()
    assert server.stop() in (0, -2, 130)
    again = ServerProcess(SOURCE, server.db_url).start()
    try:
        with httpx.Client(base_url=again.url, headers=auth(keys["dispatcher"]), timeout=30) as client:
            assert client.get("/units").json() == before_units
            assert client.get("/incidents", params={"status": "all"}).json() == before_incidents
            for unit_id in rec:
                assert client.get(f"/units/{unit_id}").json()["incident_id"] == a
            # still consistent: the same unit cannot be sent again after the restart
            r = client.post(f"/incidents/{b}/dispatch", json={"unit_ids": [rec[0]]})
            assert r.status_code == 409 and r.json()["units"][0]["incident_id"] == a
    finally:
        again.stop()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geodispatch.cli", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_keys_create_and_serve_command_lines(tmp_path: Any, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    made = _cli("keys", "create", "--role", "dispatcher", "--db", db)  # the real entry point, once
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("gdk_") and made.stdout.count("gdk_") == 1
    import sqlite3

    with sqlite3.connect(tmp_path / "k.db") as conn:
        stored = conn.execute("SELECT key_hash, role FROM api_keys").fetchall()
    assert len(stored) == 1 and stored[0][1] == "dispatcher" and key not in stored[0][0]
    from geodispatch.cli import main

    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("this is not a database file\n" * 100)
    for args, words in [
        (("keys", "create", "--role", "root", "--db", db), "unknown role"),
        (("keys", "create", "--role", "unit", "--db", db), "--unit"),
        (("keys", "create", "--role", "admin", "--db", "mysql://x/y"), "unsupported database"),
        (("serve", SOURCE, "--db", "sqlite:///:memory:"), "in-memory"),
        (("serve", SOURCE, "--db", db, "--port", "0"), "--port"),
        (("keys", "create", "--role", "admin", "--db", f"sqlite:///{tmp_path / 'no' / 'dir' / 'k.db'}"),
         "cannot open the database"),
        (("keys", "create", "--role", "admin", "--db", f"sqlite:///{not_a_db}"), "cannot open the database"),
        (("keys", "create", "--role", "admin", "--db", "postgresql://nobody@127.0.0.1:1/none"),
         "cannot open the database"),
    ]:
        monkeypatch.setattr(sys, "argv", ["geodispatch", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, (args, err)
        lines = err.strip().splitlines()
        assert lines[-1].startswith("error:") and words in " ".join(lines) and "Traceback" not in err


def test_migrations_are_package_data() -> None:
    """Every file Alembic needs is matched by pyproject's package-data (so an installed wheel migrates)."""
    import fnmatch
    import tomllib
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["geodispatch"]
    package = repo / "geodispatch"
    needed = [p.relative_to(package).as_posix() for p in (package / "api" / "migrations").rglob("*.py")]
    assert "api/migrations/env.py" in needed and any(n.startswith("api/migrations/versions/0001") for n in needed)
    for name in needed:
        assert any(fnmatch.fnmatch(name, pat) for pat in patterns), f"{name} is not package data"


def test_workers_serve_the_network_of_the_sea_options(tmp_path: Any) -> None:
    """``serve --workers 2 --no-ferries`` (refused before): every process loads the road-only network.

    The synthetic regency's small island has no fire station; its fire engines come by boat. From
    the island's pier no fire engine arrives within two hours on the road-only network, while on
    the network with the boat (the engine on the same fleet, the reference) they do.
    """
    from geodispatch.assign import Incident, Unit, recommend
    from geodispatch.scenario import load_scenario, synthetic_size
    from geodispatch.synthetic import synthetic_regency

    island_pier = synthetic_regency(n_nodes=synthetic_size(SOURCE)).sea_links.iloc[0]
    lon, lat = float(island_pier["to_lon"]), float(island_pier["to_lat"])
    with_boat = load_scenario(SOURCE)
    engines = [Unit(u.id, u.type, s.lon, s.lat) for s in with_boat.stations for u in s.units if u.type == "damkar"]
    rec = recommend(with_boat.network, engines, Incident("pier", "kebakaran", 1, lon, lat), target_s=7200)
    assert rec.unit_ids and all(eta is not None and eta < 7200 for eta in rec.etas_s)  # by boat

    db = f"sqlite:///{tmp_path / 'workers.db'}"
    keys = make_keys(db, "psc-01-amb-1")
    server = ServerProcess(SOURCE, db, extra_args=["--workers", "2", "--no-ferries", "--fleet"]).start()
    try:
        answers = [httpx.get(f"{server.url}/reach", params={"lon": lon, "lat": lat, "minutes": 120, "type": "damkar"},
                             headers=auth(keys["dispatcher"]), timeout=60)
                   for _ in range(6)]  # a new connection each: both processes answer
    finally:
        server.stop()
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert all(r.json()["units"] == [] for r in answers), [r.json()["units"][:2] for r in answers]
