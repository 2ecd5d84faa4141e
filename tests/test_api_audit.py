"""The audit log against the database itself: append-only guards and the hash chain.

Runs on a SQLite file and on PostgreSQL (``db_url``). An attacker here has full database
rights: they drop the triggers first, then change, remove or insert rows; ``audit verify``
must name the first row where the chain breaks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from api_harness import db_url, fleet, pg_server, scenario  # noqa: F401
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from test_api import UNIT, Api, api, seeded  # noqa: F401

from geodispatch.api.audit import GENESIS, row_hash, verify

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _activity(gd: Api, scenario: Any) -> None:  # noqa: F811
    psc = next(s for s in scenario.stations if s.type == "psc")
    call = {"type": "medis", "priority": 1, "lon": psc.lon + 0.01, "lat": psc.lat}
    inc = gd.ok("POST", "/incidents", role="dispatcher", json=call, status=201)
    gd.ok("POST", f"/incidents/{inc['id']}/dispatch", role="dispatcher", json={"unit_ids": [UNIT]})
    gd.ok("PATCH", f"/incidents/{inc['id']}", role="dispatcher", json={"status": "cancelled"})


def _drop_guards(gd: Api) -> None:
    """What a database superuser (or the file's owner) can do: remove the triggers."""
    db = gd.runtime.db
    with db.engine.begin() as conn:
        if db.is_sqlite:
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            for name in ("audit_log_append_only", "audit_log_no_truncate"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON audit_log"))


def _raw(row: Any) -> dict[str, Any]:
    """A row read with plain SQL, JSON columns decoded (SQLite gives their text back)."""
    out = dict(row)
    for name in ("before", "after"):
        if isinstance(out[name], str):
            out[name] = json.loads(out[name])
    return out


def _ids(gd: Api) -> list[int]:
    with gd.runtime.db.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT id FROM audit_log ORDER BY id"))]


def _cli_verify(db_url: str, *extra: str) -> subprocess.CompletedProcess[str]:  # noqa: F811
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "geodispatch", "audit", "verify", "--db", db_url, *extra],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_database_refuses_replace_and_truncate(seeded: Api, scenario: Any) -> None:  # noqa: F811
    gd = seeded
    db = gd.runtime.db
    first = _ids(gd)[0]
    if db.is_sqlite:  # INSERT OR REPLACE deletes the old row without firing the DELETE trigger
        sql = ("INSERT OR REPLACE INTO audit_log (id, at, role, action, entity_type, entity_id) "
               f"VALUES ({first}, CURRENT_TIMESTAMP, 'admin', 'forged', 'unit', 'x')")
    else:  # row-level triggers do not fire on TRUNCATE
        sql = "TRUNCATE audit_log"
    with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
        session.execute(text(sql))
    assert _ids(gd)[0] == first and verify(db.engine).intact


def test_chain_is_intact_after_normal_work_and_verify_says_so(seeded: Api, scenario: Any, db_url: str) -> None:  # noqa: F811
    gd = seeded
    _activity(gd, scenario)
    verdict = verify(gd.runtime.db.engine)
    ids = _ids(gd)
    assert verdict.intact and verdict.rows == len(ids) > len(fleet(scenario)) and verdict.last_id == ids[-1]
    with gd.runtime.db.engine.connect() as conn:  # the chain by hand: independent recomputation
        rows = conn.execute(text("SELECT * FROM audit_log ORDER BY id")).mappings().all()
    prev = GENESIS
    for row in rows:
        assert row["prev_hash"] == prev
        prev = row_hash(prev, _raw(row))
        assert row["hash"] == prev
    assert verdict.head == prev
    done = _cli_verify(db_url, "--head", f"{verdict.last_id}:{verdict.head}")
    assert done.returncode == 0, done.stderr
    assert f"intact: {len(ids)} entries" in done.stdout and verdict.head in done.stdout


@pytest.mark.parametrize("attack", ["change", "remove", "insert", "rewrite_tail"])
def test_verify_names_the_first_tampered_row_even_without_triggers(
    seeded: Api, scenario: Any, db_url: str, attack: str  # noqa: F811
) -> None:
    gd = seeded
    _activity(gd, scenario)
    before = verify(gd.runtime.db.engine)
    _drop_guards(gd)
    ids = _ids(gd)
    k = ids[len(ids) // 2]
    with gd.runtime.db.engine.begin() as conn:
        if attack == "change":
            conn.execute(text("UPDATE audit_log SET role = 'planner' WHERE id = :k"), {"k": k})
            expected = f"row {k} was changed"
        elif attack == "remove":
            conn.execute(text("DELETE FROM audit_log WHERE id = :k"), {"k": k})
            expected = f"rows were removed between row {ids[ids.index(k) - 1]} and row {ids[ids.index(k) + 1]}"
        elif attack == "insert":  # make room (renumbering keeps the chain), then slip a row in
            conn.execute(text("UPDATE audit_log SET id = id + 100000 WHERE id > :k"), {"k": k})
            conn.execute(text("INSERT INTO audit_log (id, at, role, action, entity_type, entity_id, prev_hash, hash) "
                              "VALUES (:id, CURRENT_TIMESTAMP, 'admin', 'unit.release', 'unit', :u, :p, :h)"),
                         {"id": k + 1, "u": UNIT, "p": "f" * 64, "h": "e" * 64})
            expected = f"row {k + 1} was inserted"
        else:  # change a row and recompute its hash and every later one: only --head catches it
            rows = conn.execute(text("SELECT * FROM audit_log WHERE id >= :k ORDER BY id"), {"k": k}).mappings().all()
            prev = rows[0]["prev_hash"]
            for i, row in enumerate(rows):
                row = dict(_raw(row), role="planner") if i == 0 else _raw(row)
                digest = row_hash(prev, row)
                conn.execute(text("UPDATE audit_log SET role = :r, prev_hash = :p, hash = :h WHERE id = :id"),
                             {"r": row["role"], "p": prev, "h": digest, "id": row["id"]})
                prev = digest
            expected = "the recorded head"
    pinned = f"{before.last_id}:{before.head}"
    verdict = verify(gd.runtime.db.engine, head=pinned)
    assert not verdict.intact and expected in verdict.problem, verdict
    if attack == "rewrite_tail":
        assert verify(gd.runtime.db.engine).intact  # without the pinned head a full rewrite is invisible
    if attack in ("change", "remove"):  # the command line: exit 1 and the row named on stderr
        done = _cli_verify(db_url)
        assert done.returncode == 1 and expected in done.stderr, (done.returncode, done.stdout, done.stderr)


def test_migration_0004_chains_existing_rows(db_url: str) -> None:  # noqa: F811
    from geodispatch.api.db import Database
    from geodispatch.api.migrate import upgrade

    db = Database(db_url)
    try:
        upgrade(db.engine, "0002_unit_position_time_home")
        after = ":a" if db.is_sqlite else "CAST(:a AS JSON)"
        with db.engine.begin() as conn:
            for i in range(3):
                conn.execute(text("INSERT INTO audit_log (at, key_id, role, action, entity_type, entity_id, before, "
                                  f"after) VALUES (CURRENT_TIMESTAMP, NULL, 'admin', 'unit.create', 'unit', :u, NULL, "
                                  f"{after})"), {"u": f"u{i}", "a": '{"status": "available", "lon": 119.5}'})
        db.upgrade()
        verdict = verify(db.engine)
        assert verdict.intact and verdict.rows == 3, verdict
        with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
            session.execute(text("UPDATE audit_log SET role = 'x'"))
    finally:
        db.dispose()


def test_postgres_app_role_cannot_rewrite_even_after_dropping_the_triggers(pg_server: Any) -> None:  # noqa: F811
    """The role that migrates (and serves) owns the tables but has no UPDATE/DELETE/TRUNCATE on audit_log."""
    import psycopg
    from sqlalchemy.engine import make_url

    from geodispatch.api.db import Database

    role, dbname = f"gd_app_{uuid.uuid4().hex[:8]}", f"gd_test_{uuid.uuid4().hex[:12]}"
    admin = make_url(pg_server.admin_url)
    with psycopg.connect(pg_server._conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'CREATE DATABASE "{dbname}" OWNER "{role}"')
    pg_server.created.append(dbname)
    url = admin.set(username=role, database=dbname).render_as_string(hide_password=False)
    db = Database(url)
    try:
        db.upgrade()
        with db.write() as session:
            session.execute(text("INSERT INTO audit_log (at, role, action, entity_type, entity_id) "
                                 "VALUES (CURRENT_TIMESTAMP, 'admin', 'x', 'unit', 'u')"))
        with db.engine.begin() as conn:  # the owner may drop its triggers...
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
            conn.execute(text("DROP TRIGGER audit_log_no_truncate ON audit_log"))
        for sql in ("UPDATE audit_log SET role = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(DBAPIError, match="permission denied"), db.engine.begin() as conn:  # ...not write
                conn.execute(text(sql))
    finally:
        db.dispose()
