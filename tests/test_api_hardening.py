"""The dispatch API under hostile input and failing databases: every answer a JSON 4xx/503, never a 500.

Runs on a SQLite file and on PostgreSQL (``db_url``) through the in-process TestClient.
"""

from __future__ import annotations

from typing import Any

from api_harness import db_url, pg_server, scenario  # noqa: F401
from test_api import UNIT, Api, _error, api, seeded  # noqa: F401


def _psc(scenario: Any) -> Any:  # noqa: F811
    return next(s for s in scenario.stations if s.type == "psc")


def test_control_characters_are_422_on_both_databases(seeded: Api, scenario: Any) -> None:  # noqa: F811
    gd = seeded
    psc = _psc(scenario)
    call = {"type": "medis", "priority": 1, "lon": psc.lon + 0.01, "lat": psc.lat}
    inc = gd.ok("POST", "/incidents", role="dispatcher", json=call, status=201)
    before = gd.ok("GET", "/audit?limit=1000")
    attempts = [
        ("POST", "/incidents", "dispatcher", dict(call, note="caller said \u0000 nothing")),
        ("POST", "/incidents", "dispatcher", dict(call, type="med\u0000is")),
        ("PATCH", f"/incidents/{inc['id']}", "dispatcher", {"status": "cancelled", "note": "x\u0000"}),
        ("POST", "/stations", "admin", {"id": "s-nul", "name": "Pos \u0000", "type": "psc", "lon": psc.lon,
                                        "lat": psc.lat}),
        ("POST", "/units", "admin", {"id": "u-nul", "type": "ambulance", "lon": psc.lon, "lat": psc.lat,
                                     "capabilities": ["als\u0000"]}),
        ("POST", "/keys", "admin", {"role": "planner", "label": "bell \u0007"}),
        ("GET", "/units/%00", "dispatcher", None),
        ("GET", "/units/psc%01x", "dispatcher", None),
        ("PATCH", "/units/%00", "dispatcher", {"status": "out_of_service"}),
        ("GET", "/stations/%00", "dispatcher", None),
        ("GET", "/units?type=%00", "dispatcher", None),
        ("GET", "/units?status=available%00", "dispatcher", None),
        ("GET", "/audit?entity_id=%00", "admin", None),
        ("GET", "/reach?lon=119.9&lat=-5.5&type=%1b", "planner", None),
    ]
    for method, path, role, body in attempts:
        response = gd.call(method, path, role, json=body)
        err = _error(response, 422)
        assert "control character" in err["detail"], (method, path, err)
    assert gd.ok("GET", f"/incidents/{inc['id']}", role="dispatcher")["status"] == "open"
    assert gd.ok("GET", "/audit?limit=1000") == before  # nothing was written
    # free text keeps tabs and newlines
    ok = gd.ok("POST", "/incidents", role="dispatcher", json=dict(call, note="line 1\nline 2\tend"), status=201)
    assert ok["note"] == "line 1\nline 2\tend"


def test_failed_writes_are_503_and_health_says_degraded(scenario: Any, db_url: str) -> None:  # noqa: F811
    """SQLite: another process holds the write lock; PostgreSQL: the database turns read-only
    (what a failed-over standby does). Writes: 503 with Retry-After, never 500; /health: 503
    degraded with the reason, until a write works again; /health/live stays 200."""
    import sqlite3

    import psycopg
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import make_url
    from test_api import make_keys

    from geodispatch.api import create_app

    app = create_app(scenario, db_url, db_timeout_s=0.5)
    keys = make_keys(db_url, UNIT)
    psc = _psc(scenario)
    url = make_url(db_url)
    blocker: Any = None
    try:
        with TestClient(app) as client:
            gd = Api(client, keys, app.state.runtime)
            assert gd.ok("GET", "/health", role=None)["status"] == "ok"
            if url.get_backend_name() == "sqlite":
                blocker = sqlite3.connect(url.database, isolation_level=None)
                blocker.execute("BEGIN IMMEDIATE")
                fragment = "locked"
            else:
                conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on')
                gd.runtime.db.engine.dispose()  # new connections get the setting
                fragment = "read-only"
            body = {"id": "amb-w", "type": "ambulance", "lon": psc.lon, "lat": psc.lat}
            response = gd.call("POST", "/units", json=body)
            err = _error(response, 503, "database_unavailable")
            assert response.headers["retry-after"], err
            health = gd.call("GET", "/health", role=None)
            assert health.status_code == 503 and health.json()["status"] == "degraded", health.text
            assert fragment in health.json()["reason"], health.json()
            assert gd.call("GET", "/health/live", role=None).json() == {"status": "alive"}
            if blocker is not None:
                blocker.rollback()
            else:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute("SET default_transaction_read_only = off")
                    conn.execute(f'ALTER DATABASE "{url.database}" RESET default_transaction_read_only')
                gd.runtime.db.engine.dispose()
            assert gd.ok("GET", "/health", role=None)["status"] == "ok"  # the probe write worked
            gd.ok("POST", "/units", json=body, status=201)
    finally:
        if blocker is not None:
            blocker.close()
        app.state.runtime.db.dispose()


def test_planner_queries_have_their_own_bounded_pool(seeded: Api, scenario: Any) -> None:  # noqa: F811
    """With every planner thread and queue place taken, /coverage and /reach are refused at once
    (429 busy, Retry-After) while dispatchers create incidents as usual; then planners work again."""
    import threading

    import anyio

    gd = seeded
    pool = gd.runtime.planner_pool
    release = threading.Event()
    portal = gd.client.portal
    assert portal is not None
    futures = [portal.start_task_soon(pool.run, release.wait) for _ in range(pool.workers + pool.queue)]
    try:
        for _ in range(200):  # until they are all in the pool
            if pool._pending == pool.workers + pool.queue:
                break
            portal.call(anyio.sleep, 0.01)
        psc = _psc(scenario)
        for path in ("/coverage", f"/reach?lon={psc.lon}&lat={psc.lat}"):
            response = gd.call("GET", path, role="planner")
            _error(response, 429, "busy")
            assert response.headers["retry-after"]
        call = {"type": "medis", "priority": 1, "lon": psc.lon + 0.01, "lat": psc.lat}
        gd.ok("POST", "/incidents", role="dispatcher", json=call, status=201)
    finally:
        release.set()
        for future in futures:
            future.result(timeout=30)
    assert gd.ok("GET", "/coverage", role="planner")["units_available"] > 0


def test_coverage_is_cached_until_the_available_units_change(seeded: Api, scenario: Any) -> None:  # noqa: F811
    gd = seeded
    first = gd.ok("GET", "/coverage?type=ambulance", role="planner")
    cache = gd.runtime.extras["coverage_cache"]
    assert len(cache) == 1
    assert gd.ok("GET", "/coverage?type=ambulance", role="planner") == first and len(cache) == 1
    gd.ok("PATCH", f"/units/{UNIT}", role="dispatcher", json={"status": "out_of_service"})
    after = gd.ok("GET", "/coverage?type=ambulance", role="planner")
    assert len(cache) == 2 and after["units_available"] == first["units_available"] - 1
    assert after["population"]["covered"] <= first["population"]["covered"]


def test_statement_and_lock_timeouts_answer_503_quickly(scenario: Any, db_url: str) -> None:  # noqa: F811
    """Another session holds a lock the request needs: 503 with Retry-After within about the
    database timeout, not a wait for as long as the lock is held."""
    import sqlite3
    import threading
    import time

    import psycopg
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import make_url
    from test_api import make_keys

    from geodispatch.api import create_app

    app = create_app(scenario, db_url, db_timeout_s=0.5)
    keys = make_keys(db_url, UNIT)
    url = make_url(db_url)
    psc = _psc(scenario)
    try:
        with TestClient(app) as client:
            gd = Api(client, keys, app.state.runtime)
            gd.ok("POST", "/units", json={"id": "amb-t", "type": "ambulance", "lon": psc.lon, "lat": psc.lat},
                  status=201)
            if url.get_backend_name() == "sqlite":
                holder: Any = sqlite3.connect(url.database, isolation_level=None)
                holder.execute("BEGIN EXCLUSIVE")  # even readers wait (rollback journal) or writers (WAL)
            else:
                conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
                holder = psycopg.connect(conninfo)
                holder.execute("LOCK TABLE units IN ACCESS EXCLUSIVE MODE")
            timer = threading.Timer(30.0, holder.rollback)  # the test must end even when it fails
            timer.start()
            try:
                t0 = time.monotonic()
                response = gd.call("PATCH", "/units/amb-t", "dispatcher", json={"status": "out_of_service"})
                elapsed = time.monotonic() - t0
            finally:
                timer.cancel()
                holder.rollback()
                holder.close()
            _error(response, 503, "database_unavailable")
            assert response.headers["retry-after"] and elapsed < 5.0, elapsed
            assert gd.ok("GET", "/units/amb-t", role="dispatcher")["status"] == "available"
    finally:
        app.state.runtime.db.dispose()


def test_a_stopped_postgresql_gets_503_not_a_hang(pg_server: Any, scenario: Any) -> None:  # noqa: F811
    """SIGSTOP every PostgreSQL backend serving the API's database (a hung server: no statement
    timeout can fire): requests answer 503 ``timeout`` within the deadline, liveness still
    answers, and after SIGCONT everything works again."""
    import os
    import signal
    import time

    import httpx
    import psycopg
    from api_harness import ServerProcess, auth
    from sqlalchemy.engine import make_url
    from test_api import make_keys

    db = pg_server.new_database()
    keys = make_keys(db, UNIT)
    server = ServerProcess("synthetic", db, extra_args=["--db-timeout", "1", "--request-timeout", "3"]).start()
    name = make_url(db).database
    stopped: list[int] = []
    try:
        client = httpx.Client(base_url=server.url, headers=auth(keys["dispatcher"]), timeout=30)
        assert client.get("/units").status_code == 200
        with psycopg.connect(pg_server._conninfo(), autocommit=True) as conn:
            pids = [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))]
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        t0 = time.monotonic()
        response = httpx.get(server.url + "/units", headers=auth(keys["dispatcher"]), timeout=30)
        elapsed = time.monotonic() - t0
        assert response.status_code == 503 and response.json()["error"] in ("timeout", "database_unavailable")
        assert elapsed < 10 and response.headers["retry-after"], (elapsed, response.text)
        live = httpx.get(server.url + "/health/live", timeout=5)
        assert live.status_code == 200
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        stopped.clear()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if httpx.get(server.url + "/units", headers=auth(keys["dispatcher"]), timeout=30).status_code == 200:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the API did not recover after SIGCONT")
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        server.stop()
        client.close()


def test_contract_strict_types_malformed_bodies_and_unknown_parameters(seeded: Api, scenario: Any) -> None:  # noqa: F811
    gd = seeded
    psc = _psc(scenario)
    good = {"type": "medis", "priority": 1, "lon": psc.lon, "lat": psc.lat}
    for bad in ({"priority": "1"}, {"priority": True}, {"priority": 2.0}, {"lon": str(psc.lon)}, {"note": 5}):
        _error(gd.call("POST", "/incidents", "dispatcher", json=dict(good, **bad)), 422, "validation_error")
    headers = {"content-type": "application/json"}
    for raw in (b'{"type": "m\xff\xfe", "priority": 1}', b"[" * 30_000 + b"]" * 30_000,
                b'{"type": "medis", "priority": ' + b"9" * 5000 + b"}"):
        response = gd.call("POST", "/incidents", "dispatcher", content=raw, headers=headers)
        if response.status_code == 413:  # the nesting is larger than the body limit: also refused unread
            continue
        _error(response, 400, "invalid_json")
    for path in ("/units?colour=red", "/incidents?stat=open", "/health?verbose=1", "/coverage?minute=5"):
        err = _error(gd.call("GET", path, "planner"), 422, "invalid_input")
        assert "unknown query parameter" in err["detail"], err
    _error(gd.call("GET", "/units?status=flying", "dispatcher"), 422, "validation_error")
    assert gd.call("GET", "/incidents?status=all&limit=5", "planner").status_code == 200


def test_openapi_documents_the_real_error_model_and_enums(api: Api) -> None:  # noqa: F811
    schema = api.client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components and "ErrorOut" in components
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            responses = op["responses"]
            assert "422" in responses and "503" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"].get("$ref", "")
                    assert ref.endswith(("/ErrorOut", "/HealthOut")), (method, path, status, ref)
            if not path.startswith(("/health", "/status/")):  # the keyless endpoints
                assert "401" in responses and "403" in responses, (method, path)
    unit_status = components["UnitOut"]["properties"]["status"]
    assert set(unit_status["enum"]) >= {"available", "dispatched", "out_of_service"}
    assert "enum" in components["IncidentOut"]["properties"]["status"]
    assert "enum" in components["KeyIn"]["properties"]["role"]


def _write_in_a_forked_process(db: Any, value: int) -> str:
    """Insert ``value`` through ``db`` (inherited) in a forked process; 'ok' or the error's text."""
    import multiprocessing

    def child(queue: Any) -> None:
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError

        db.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        try:
            with db.write() as session:
                session.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
            queue.put("ok")
        except OperationalError as exc:
            queue.put(str(exc.orig))

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=child, args=(queue,))
    proc.start()
    try:
        return str(queue.get(timeout=30))
    finally:
        proc.join(30)


def test_sqlite_writes_go_on_without_flock(tmp_path: Any, monkeypatch: Any) -> None:
    """Where there is no ``fcntl`` (Windows) the module still imports and writes go through,
    waiting in SQLite's busy handler between processes as before the flock."""
    from sqlalchemy import text

    from geodispatch.api import db as dbmod

    monkeypatch.setattr(dbmod, "fcntl", None)
    db = dbmod.Database(f"sqlite:///{tmp_path / 'plain.db'}", timeout_s=0.3)
    try:
        assert db._process_lock is None
        with db.write() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
        with db.read() as session:
            assert list(session.scalars(text("SELECT x FROM t"))) == [1]
    finally:
        db.dispose()
    assert not (tmp_path / "plain.db-writer.lock").exists()


def test_sqlite_writers_of_two_processes_queue_on_one_lock_and_time_out_like_sqlite(tmp_path: Any) -> None:
    """Server processes on one SQLite file (``serve --workers N``) hand the write lock over through
    an flock: a write of another process (a forked worker, even with the Database inherited)
    waits for it and fails after the database timeout like SQLite's busy wait (the API's 503);
    once the lock is released it goes through."""
    from sqlalchemy import text

    from geodispatch.api.db import Database

    db = Database(f"sqlite:///{tmp_path / 'two.db'}", timeout_s=0.3)
    try:
        with db.write() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
        with db.write() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            blocked = _write_in_a_forked_process(db, 2)
        assert "another process holds the write lock" in blocked, blocked
        assert _write_in_a_forked_process(db, 3) == "ok"
        with db.read() as session:
            assert sorted(session.scalars(text("SELECT x FROM t"))) == [1, 3]
    finally:
        db.dispose()
