"""Database engine and sessions (SQLAlchemy 2): a SQLite file by default, PostgreSQL by URL.

Writes are serialised where it matters:

* **SQLite** (WAL mode): every write transaction starts with ``BEGIN IMMEDIATE``, which takes
  the database's single write lock at the start, so two writers never interleave (the second
  waits up to ``busy_timeout``); read transactions start ``BEGIN`` (deferred) and, thanks to
  WAL, never wait for a writer.
* **PostgreSQL** (``postgresql+psycopg://``): READ COMMITTED transactions with row locks
  (``SELECT ... FOR UPDATE`` in a fixed order: incident first, then units by id) and
  conditional updates (``UPDATE ... WHERE status = 'available'``).

On both, a partial unique index on active assignments (one active assignment per unit) and a
CHECK constraint tying a unit's status to its incident make a double booking impossible even
if the application code were wrong.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from geodispatch import settings
from geodispatch.errors import DatabaseUnavailableError, InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; processes wait in SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is in the api extra; the standard library does the same
    _orjson = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

DEFAULT_DB_URL = "sqlite:///geodispatch.db"
"""Default database: a SQLite file ``geodispatch.db`` in the working directory."""


_WRITE_OPTION = "geodispatch_write"
_PEEK_OPTION = "geodispatch_peek"
_AFTER_COMMIT = "geodispatch_after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the write transaction of ``session`` has committed (never on rollback).

    For what must follow a change only when it is durable: forgetting a revoked key, telling
    caches and listeners that units changed.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def one_line(exc: object) -> str:
    """A driver's error message on one line (psycopg's span several)."""
    return " ".join(str(exc).split())


def normalise_url(url: str) -> str:
    """Turn a user's database argument into a SQLAlchemy URL.

    Parameters
    ----------
    url : str
        ``sqlite:///path.db``, a bare ``path.db`` (SQLite), ``postgresql://...``,
        ``postgres://...`` or ``postgresql+psycopg://...``.

    Returns
    -------
    str
        A URL with an explicit driver (``sqlite`` or ``postgresql+psycopg``).

    Raises
    ------
    InputError
        For other schemes or a malformed URL.
    """
    text = str(url).strip()
    if not text:
        raise InputError("the database URL is empty; pass e.g. --db sqlite:///geodispatch.db")
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg://" + text[len(prefix) :]
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise InputError(f"cannot parse database URL {url!r}: {exc}") from exc
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise InputError(
            f"unsupported database {parsed.drivername!r}; use sqlite:///FILE.db or postgresql+psycopg://USER@HOST/DB"
        )
    if parsed.drivername.startswith("sqlite") and parsed.database in (None, "", ":memory:"):
        raise InputError("an in-memory SQLite database cannot be shared by the server; use sqlite:///FILE.db")
    return text


def json_dumps(value: Any) -> str:
    """JSON text of a JSON column's value: orjson when installed (several times faster), else the
    standard library. The values read back are the same, except that a float NaN or infinity is
    stored as ``null`` (valid JSON, as PostgreSQL demands) instead of the standard library's bare
    ``NaN``. What orjson refuses (a lone surrogate, an integer beyond 64 bits) goes through the
    standard library, as before."""
    if _orjson is not None:
        try:
            return _orjson.dumps(value, option=_orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            pass
    return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    """A JSON column's value from its text (orjson when installed; the standard library otherwise,
    and for what orjson refuses, such as ``NaN``)."""
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except ValueError:
            pass
    return json.loads(text)


def _sqlite_events(engine: Engine, timeout_s: float) -> None:
    """WAL, busy timeout, foreign keys; BEGIN IMMEDIATE for write transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={round(timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(_PEEK_OPTION, False):
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE_OPTION, False) else "BEGIN")


def make_engine(url: str, timeout_s: float | None = None) -> Engine:
    """Create an engine for ``url`` (see :func:`normalise_url`) with the settings above.

    Parameters
    ----------
    url : str
        Database URL.
    timeout_s : float, optional
        Longest wait on the database, seconds (default :data:`geodispatch.settings.DB_TIMEOUT_S`):
        SQLite's busy timeout; PostgreSQL's connect, statement and lock timeouts. Every wait
        longer than that fails (``OperationalError``: the API answers 503 with ``Retry-After``).
    """
    timeout_s = settings.DB_TIMEOUT_S if timeout_s is None else float(timeout_s)
    text = normalise_url(url)
    pool = {"pool_size": 16, "max_overflow": 32, "pool_timeout": timeout_s, "json_serializer": json_dumps,
            "json_deserializer": json_loads}
    if text.startswith("sqlite"):
        engine = create_engine(text, connect_args={"check_same_thread": False, "timeout": timeout_s}, **pool)
        _sqlite_events(engine, timeout_s)
    else:
        ms = max(1, round(timeout_s * 1000))
        options = f"-c statement_timeout={ms} -c lock_timeout={ms} -c idle_in_transaction_session_timeout={10 * ms}"
        connect = {"connect_timeout": max(1, round(timeout_s)), "options": options}
        engine = create_engine(text, connect_args=connect, pool_pre_ping=True, **pool)
    return engine


class _ProcessWriteLock:
    """SQLite's write lock handed from process to process at once: an ``flock`` on a file next to
    the database (``<file>-writer.lock``), held around each write transaction of every process
    that serves the file (``geodispatch serve --workers N``).

    Without it, a writer of another process waits in SQLite's busy handler, which sleeps in
    steps of up to 100 ms: the processes took turns slowly and a second process added nothing.
    Here a waiter polls every :data:`POLL_S` and takes the lock right after it is released.
    SQLite's own locking still decides (``BEGIN IMMEDIATE``; writers that do not take this lock,
    like the command line, wait in the busy handler as before). A wait longer than the
    database timeout fails like SQLite's (``OperationalError``: the API answers 503). One
    descriptor per process, opened after a fork; the caller's thread lock admits one thread
    of the process at a time. Where the file cannot be created, writes go on without it.
    """

    POLL_S = 0.0005
    """Seconds between attempts while another process holds the lock."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._fd: int | None = None
        self._pid: int | None = None

    def _descriptor(self) -> int | None:
        if self._pid != os.getpid():  # a forked worker opens its own (a shared one would share the lock)
            self._pid = os.getpid()
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                logger.warning("no cross-process write lock at %s (%s): writers wait in SQLite's busy handler",
                               self.path, exc)
                self._fd = None
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the block (polls; fails after the database timeout)."""
        fd = self._descriptor()
        if fd is None:
            yield
            return
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationalError(
                        "BEGIN IMMEDIATE", None,
                        sqlite3.OperationalError("database is locked (another process holds the write lock)"),
                    ) from None
                time.sleep(self.POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None: in memory or a URI)."""
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


class Database:
    """An engine with a read session factory and a serialised write session factory.

    Parameters
    ----------
    url : str
        Database URL (see :func:`normalise_url`).
    timeout_s : float, optional
        Longest wait on the database, seconds (see :func:`make_engine`).

    Attributes
    ----------
    last_write_error : str or None
        Why the last write transaction failed in the database (a read-only or full disk, a
        lost server, a timeout), or None when it committed; ``/health`` reports it.
    """

    def __init__(self, url: str, timeout_s: float | None = None) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, timeout_s)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._read = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write = sessionmaker(bind=self.engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False)
        # SQLite has one writer at a time; queueing this process's writers on a lock hands the
        # write lock over at once instead of through SQLite's sleeping busy handler (which
        # waits in steps of up to 100 ms). BEGIN IMMEDIATE still serialises other processes.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        # ... and between processes on one file, an flock hands it over as soon as it is released
        file = _sqlite_file(self.url) if self.is_sqlite else None
        self._process_lock = (
            _ProcessWriteLock(file.with_name(file.name + "-writer.lock"),
                              settings.DB_TIMEOUT_S if timeout_s is None else float(timeout_s))
            if file is not None and fcntl is not None else None
        )
        self._pid = os.getpid()
        self.last_write_error: str | None = None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read session; closing it ends the transaction (loaded rows stay readable)."""
        with self._read() as session:
            yield session

    @contextmanager
    def peek(self) -> Iterator[Connection]:
        """A connection without a transaction: each statement reads the latest committed state.

        For a query that needs no consistent snapshot across statements: no ``BEGIN`` and no
        ``ROLLBACK`` around it (two round trips fewer on PostgreSQL).
        """
        with self.engine.connect() as conn:
            if self.is_sqlite:  # no BEGIN from the listener: the driver runs each statement on its own
                yield conn.execution_options(**{_PEEK_OPTION: True})
            else:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on any error.

        The commit has happened when the block is left; then the :func:`after_commit`
        callbacks run. Open and leave it in one thread, without waiting on anything else
        inside (on SQLite it holds the database's single write lock).
        """
        if self._pid != os.getpid():  # forked: the inherited lock may be held by a thread that is not here
            self._pid = os.getpid()
            self._write_lock = threading.Lock() if self.is_sqlite else None
        try:
            with contextlib.ExitStack() as stack:
                if self._write_lock is not None:
                    stack.enter_context(self._write_lock)
                if self._process_lock is not None:
                    stack.enter_context(self._process_lock.held())
                session = stack.enter_context(self._write.begin())
                yield session
        except DBAPIError as exc:
            if not isinstance(exc, IntegrityError):  # the database failed, not the request
                self.last_write_error = f"{type(exc.orig).__name__}: {one_line(exc.orig)}"
            raise
        self.last_write_error = None
        for callback in session.info.pop(_AFTER_COMMIT, ()):
            callback()

    def probe_write(self) -> None:
        """Write nothing in a real write transaction (records the outcome like any write)."""
        with self.write() as session:
            session.execute(text("UPDATE alembic_version SET version_num = version_num"))

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision (Alembic ``upgrade head``).

        Raises
        ------
        DatabaseUnavailableError
            When the database cannot be opened (the first contact of ``serve`` and ``keys create``).
        """
        from geodispatch.api.migrate import upgrade

        try:
            upgrade(self.engine)
        except DBAPIError as exc:
            reason = one_line(exc.orig)
            raise DatabaseUnavailableError(
                f"cannot open the database {self!r}: {reason}; check the URL, that the server is running, "
                "and that the directory exists and is writable"
            ) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"
