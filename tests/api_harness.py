"""Fixtures of the dispatch API tests: databases (SQLite file, throwaway PostgreSQL cluster),
an in-process TestClient app, and a real ``geodispatch serve`` process on 127.0.0.1.

PostgreSQL: ``GEODISPATCH_TEST_PG=postgresql://user@host:port/db`` uses an existing server (each
test gets its own database created there); otherwise the PostgreSQL binaries of this machine
(``initdb``, ``pg_ctl``; Debian's ``/usr/lib/postgresql/<v>/bin``) start a cluster in a
temporary directory for the session, as the ``postgres`` user when running as root. The
PostgreSQL tests skip, with the reason, only when neither is available.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

SOURCE = "synthetic"
"""The test network: the synthetic regency (~3,000 nodes), loaded once per session."""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- PostgreSQL
def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(initdb).parent
    return None


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run as the postgres user when we are root (PostgreSQL refuses to run as root)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PgServer:
    """A PostgreSQL server: admin URL and a factory of fresh empty databases."""

    admin_url: str  # postgresql+psycopg://user@host:port/db
    created: list[str] = field(default_factory=list)

    def _conninfo(self, dbname: str | None = None) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.admin_url)
        if dbname is not None:
            url = url.set(database=dbname)
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def new_database(self) -> str:
        """Create an empty database; return its SQLAlchemy URL."""
        import psycopg

        name = f"gd_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        from sqlalchemy.engine import make_url

        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        import psycopg

        with contextlib.suppress(Exception), psycopg.connect(self._conninfo(), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the session (existing via GEODISPATCH_TEST_PG, or a throwaway cluster)."""
    existing = os.environ.get("GEODISPATCH_TEST_PG")
    if existing:
        from geodispatch.api.db import normalise_url

        server = PgServer(normalise_url(existing))
        yield server
        server.drop_all()
        return
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found and GEODISPATCH_TEST_PG not set")
    root = Path(tempfile.mkdtemp(prefix="gd-pg-"))
    data = root / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    os.chmod(root, 0o700)
    env = dict(os.environ, LC_ALL="C", LANG="C")
    run = dict(check=True, capture_output=True, text=True, env=env, cwd=str(root), timeout=120)
    try:
        subprocess.run(
            _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                          "--no-sync"]),
            **run,  # type: ignore[arg-type]
        )
        options = f"-p {port} -h 127.0.0.1 -k {root} -F -c max_connections=200 -c fsync=off"
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w",
                          "-t", "60", "start"]),
            **run,  # type: ignore[arg-type]
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(exc, "stderr", "") or ""
        raise RuntimeError(f"could not start a throwaway PostgreSQL cluster: {exc}\n{detail}\n{log}") from exc
    server = PgServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
    try:
        yield server
    finally:
        server.drop_all()
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True, env=env, cwd=str(root), timeout=60, check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty database: a SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dispatch.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


# ---------------------------------------------------------------- app and clients
@pytest.fixture(scope="session")
def scenario() -> Any:
    """The synthetic regency scenario (network, stations with units, population)."""
    from geodispatch.scenario import load_scenario

    return load_scenario(SOURCE)


def make_keys(db_url: str, unit_id: str) -> dict[str, str]:
    """One key per role (the unit key bound to ``unit_id``), made as the CLI does."""
    from geodispatch.api.keys import create_key_cli

    return {
        role: create_key_cli(db_url, role, unit_id if role == "unit" else None)
        for role in ("admin", "dispatcher", "planner", "unit")
    }


def fleet(scenario: Any) -> list[dict[str, Any]]:
    """POST /units bodies for every unit of the scenario's stations (placed at the station)."""
    return [
        {"id": u.id, "type": u.type, "lon": s.lon, "lat": s.lat, "capabilities": list(u.capabilities)}
        for s in scenario.stations
        for u in s.units
    ]


def auth(key: str) -> dict[str, str]:
    """The Authorization header of a key."""
    return {"Authorization": f"Bearer {key}"}


# ---------------------------------------------------------------- a real server process
@dataclass
class ServerProcess:
    """A ``geodispatch serve`` process on 127.0.0.1."""

    source: str
    db_url: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    extra_args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 300.0) -> ServerProcess:
        """Start the process and wait for ``/health`` (up to 5 min: the machine may be shared and loaded)."""
        self.log_path = Path(tempfile.mkstemp(prefix="gd-serve-", suffix=".log")[1])
        cmd = [sys.executable, "-m", "geodispatch.cli", "serve", self.source, "--db", self.db_url,
               "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", *self.extra_args]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"geodispatch serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"geodispatch serve did not answer /health within {timeout_s} s:\n{self.log()}")

    def stop(self) -> int | None:
        """Stop the process (SIGINT, then SIGKILL after 20 s); return its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        code = self.proc.returncode
        self.proc = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""
