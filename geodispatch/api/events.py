"""Server push: every committed change of a unit, incident or station, as an ordered feed.

**Recording.** Every change the API (or the command line) makes is audited in its transaction
(:func:`geodispatch.api.service.audit`). Session listeners note the entities of those audit
rows; just before the transaction commits, one :class:`~geodispatch.api.models.Event` row per
changed unit, incident or station is inserted *in the same transaction*, carrying the entity as
the API returns it. A change and its event are committed together or not at all. On PostgreSQL
the writer first takes a transaction-level advisory lock, so event ids are allocated in commit
order (a reader that sees id N has every id below N); SQLite serialises writers anyway.

**Delivering.** One :class:`EventHub` per server process reads new rows (woken at once by a local
commit, and every :data:`POLL_S` seconds for other processes sharing the database) and fans them
out to the ``GET /events`` streams (:mod:`geodispatch.api.routers.events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, event, func, insert, select, text
from sqlalchemy.orm import Session

from geodispatch.api.audit import CHAIN_LOCKED
from geodispatch.api.models import AuditEntry, Event, Incident, Station, Unit, utcnow
from geodispatch.api.rendered import RENDERED, WRITES, remembered

logger = logging.getLogger(__name__)

PUSHED_ENTITIES: tuple[str, ...] = ("unit", "incident", "station")
"""Entity types whose changes are pushed (keys are not)."""

POLL_S = 0.25
"""How often a hub looks for events written by other processes, seconds."""

BATCH = 1000
"""Most events read at once; a client further behind than this is told to reload (``reset``)."""

_PG_LOCK = 0x67646576  # "gdev": the advisory lock that orders event ids on PostgreSQL
_TOUCHED = "geodispatch_touched"
_AUDIT = AuditEntry.__table__
_EVENTS: Table = Event.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class EventRow:
    """One event as read back: id, entity type and id, JSON text of the entity (or ``null``)."""

    id: int
    entity_type: str
    entity_id: str
    data: Any


# ---------------------------------------------------------------- recording
def _touch(session: Session, entity_type: str, entity_id: Any) -> None:
    if entity_type in PUSHED_ENTITIES:
        session.info.setdefault(_TOUCHED, {})[(entity_type, str(entity_id))] = None


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: Any) -> None:
    """Count writes (see :func:`remember_rendered`); note the entities of audit rows inserted with
    Core ``insert(audit_log)``."""
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WRITES] = state.session.info.get(WRITES, 0) + 1
    if not state.is_insert or getattr(state.statement, "table", None) is not _AUDIT:
        return
    params = state.parameters
    rows: Iterable[Any] = params if isinstance(params, list) else [params]
    for row in rows:
        if isinstance(row, dict) and "entity_type" in row:
            _touch(state.session, row["entity_type"], row["entity_id"])
    values = getattr(state.statement, "_multi_values", None) or ()
    for group in values:
        for row in group:
            if isinstance(row, dict) and "entity_type" in row:
                _touch(state.session, row["entity_type"], row["entity_id"])


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Count the flush as a write; note the entities of audit rows added as ORM objects."""
    session.info[WRITES] = session.info.get(WRITES, 0) + 1
    for obj in session.new:
        if isinstance(obj, AuditEntry):
            _touch(session, obj.entity_type, obj.entity_id)


@event.listens_for(Session, "before_commit")
def _on_commit(session: Session) -> None:
    """Insert one event per changed entity, in the committing transaction."""
    session.flush()  # pending ORM audit rows report their entities
    touched = session.info.pop(_TOUCHED, None)
    if not touched:
        session.info.pop(RENDERED, None)
        return
    units = _render_units(session, [ident for kind, ident in touched if kind == "unit"])
    rows = [{"at": utcnow(), "entity_type": kind, "entity_id": ident,
             "data": units.get(ident) if kind == "unit" else _render(session, kind, ident)}
            for kind, ident in touched]
    session.info.pop(RENDERED, None)
    bind = session.get_bind()
    # every transaction that writes events appended audit rows (that is how their entities are
    # known), which on PostgreSQL holds the audit chain's lock until commit: that lock already
    # orders the event ids by commit; the events' own lock is for a transaction without it
    if bind.dialect.name == "postgresql" and not session.info.get(CHAIN_LOCKED):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    session.execute(insert(_EVENTS), rows)
    session.info["geodispatch_events_written"] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("geodispatch_events_written", False):
        for hub in list(_HUBS):
            hub.wake_threadsafe()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_TOUCHED, None)
    session.info.pop(RENDERED, None)
    session.info.pop("geodispatch_events_written", None)


_RUNTIMES: dict[str, Any] = {}


def register_runtime(runtime: Any) -> None:
    """Let events of ``runtime``'s database render incidents with their forwards (as the API does)."""
    _RUNTIMES[str(runtime.db.engine.url)] = runtime


_UNITS_BY_ID = select(Unit.__table__).where(Unit.__table__.c.id.in_(bindparam("ids", expanding=True)))
_INCIDENT_BY_ID = select(Incident.__table__).where(Incident.__table__.c.id == bindparam("ident"))


def _render_units(session: Session, ids: list[str]) -> dict[str, Any]:
    """Units as the API returns them (JSON-ready), by id, in one query; missing ids are left out."""
    from geodispatch.api.views import unit_out

    if not ids:
        return {}
    rows = session.execute(_UNITS_BY_ID, {"ids": ids}).all()
    return {row.id: unit_out(row).model_dump(mode="json") for row in rows}  # type: ignore[arg-type]


def _render(session: Session, kind: str, ident: str) -> dict[str, Any] | None:
    """The entity as the API returns it (JSON-ready), None when it does not exist."""
    from geodispatch.api.schemas import StationOut
    from geodispatch.api.views import incident_out, unit_out

    if kind == "unit":
        unit = session.execute(select(Unit.__table__).where(Unit.id == ident)).one_or_none()
        return None if unit is None else unit_out(unit).model_dump(mode="json")  # type: ignore[arg-type]
    if kind == "incident":
        try:
            number = int(ident)
        except ValueError:
            return None
        runtime = _RUNTIMES.get(str(session.get_bind().engine.url))
        rendered = remembered(session, kind, ident, runtime)
        if rendered is not None:
            return rendered.model_dump(mode="json")  # type: ignore[no-any-return]
        row = session.execute(_INCIDENT_BY_ID, {"ident": number}).one_or_none()
        return None if row is None else incident_out(session, row, runtime).model_dump(mode="json")
    station = session.execute(select(Station.__table__).where(Station.id == ident)).one_or_none()
    return None if station is None else StationOut.model_validate(station).model_dump(mode="json")


# ---------------------------------------------------------------- reading
def read_events(session: Session, after: int, limit: int = BATCH) -> list[EventRow]:
    """Events with id > ``after``, oldest first (at most ``limit``)."""
    rows = session.execute(
        select(_EVENTS.c.id, _EVENTS.c.entity_type, _EVENTS.c.entity_id, _EVENTS.c.data)
        .where(_EVENTS.c.id > after)
        .order_by(_EVENTS.c.id)
        .limit(limit)
    ).all()
    return [EventRow(int(r.id), r.entity_type, r.entity_id, r.data) for r in rows]


def last_event_id(session: Session) -> int:
    """The newest event id (0 when there is none)."""
    return int(session.scalar(select(func.max(_EVENTS.c.id))) or 0)


_HUBS: set[EventHub] = set()


class EventHub:
    """Reads new events once per process and hands them to every subscribed stream.

    Parameters
    ----------
    db : Database
        The server's database.
    loop : asyncio.AbstractEventLoop
        The server's event loop (subscribers' queues live on it).
    """

    def __init__(self, db: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.db = db
        self.loop = loop
        self.last_id = 0
        self._queues: set[asyncio.Queue[EventRow | None]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin after the newest event that exists now."""
        self.last_id = await asyncio.to_thread(self._last)
        self._task = self.loop.create_task(self._run())
        _HUBS.add(self)

    def _last(self) -> int:
        with self.db.read() as session:
            return last_event_id(session)

    def _read(self, after: int, limit: int = BATCH) -> list[EventRow]:
        with self.db.read() as session:
            return read_events(session, after, limit)

    async def backlog(self, after: int) -> list[EventRow] | None:
        """Events after ``after`` up to now; None when there are more than :data:`BATCH` (reload)."""
        rows = await asyncio.to_thread(self._read, after, BATCH + 1)
        return None if len(rows) > BATCH else rows

    def subscribe(self) -> asyncio.Queue[EventRow | None]:
        queue: asyncio.Queue[EventRow | None] = asyncio.Queue(maxsize=10 * BATCH)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[EventRow | None]) -> None:
        self._queues.discard(queue)

    def wake_threadsafe(self) -> None:
        """Look for new events now (called from the thread that committed)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is stopping
            self.loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()
            if not self._queues:
                self.last_id = await asyncio.to_thread(self._last)
                continue
            try:
                rows = await asyncio.to_thread(self._read, self.last_id)
            except Exception:  # the database is away: try again at the next tick
                logger.warning("events: cannot read new events", exc_info=True)
                continue
            for row in rows:
                self.last_id = row.id
                for queue in list(self._queues):
                    try:
                        queue.put_nowait(row)
                    except asyncio.QueueFull:  # a stalled client: end its stream, it reconnects
                        self._queues.discard(queue)
                        with contextlib.suppress(asyncio.QueueFull):
                            queue.get_nowait()
                            queue.put_nowait(None)
            if len(rows) == BATCH:
                self._wake.set()

    async def stop(self) -> None:
        _HUBS.discard(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
