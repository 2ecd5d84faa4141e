"""The API's writes, each one database transaction, each with its audit-log entries.

Functions take an open write session (``Database.write()``) and the calling
:class:`~geodispatch.api.auth.Principal`; any error raised inside rolls the whole transaction
back, so nothing is half-written. Row locks are taken in one order everywhere (incident, then
units by id) so PostgreSQL transactions cannot deadlock; on SQLite the write transaction holds
the database's write lock from its first statement (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geodispatch.api import audit as audit_log
from geodispatch.api.auth import Principal
from geodispatch.api.models import ApiKey, Assignment, Incident, Station, Unit, utcnow
from geodispatch.api.state import (
    ASSIGNED_UNIT_STATUSES,
    DISPATCHABLE_STATUSES,
    RELEASING_UNIT_STATUSES,
    TERMINAL_INCIDENT_STATUSES,
    check_incident_transition,
    check_unit_transition,
    unit_follows,
)
from geodispatch.errors import ConflictError, NotFoundError

DISPATCHABLE_INCIDENT_STATUSES = ("open", "dispatched", "en_route", "on_scene")
"""Incidents that may receive (more) units."""


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC text of a timestamp (SQLite gives naive UTC datetimes back)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def unit_snapshot(unit: Any) -> dict[str, Any]:
    """The audited fields of a unit (an ORM object or a Core row with those columns)."""
    return {
        "status": unit.status,
        "incident_id": unit.incident_id,
        "lon": unit.lon,
        "lat": unit.lat,
        "type": unit.type,
        "station_id": unit.station_id,
        "capabilities": list(unit.capabilities or []),
    }


def incident_snapshot(incident: Incident) -> dict[str, Any]:
    """The audited fields of an incident."""
    return {
        "status": incident.status,
        "type": incident.type,
        "priority": incident.priority,
        "lon": incident.lon,
        "lat": incident.lat,
        "note": incident.note,
    }


def audit(
    session: Session,
    who: Principal,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Append one audit-log entry (hash-chained) in the current transaction."""
    audit_log.append(session, [audit_row(who, action, entity_type, entity_id, before, after, utcnow())])


def _insert(session: Session, row: object, what: str) -> None:
    """Add a row, turning a duplicate key into a 409."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # the transaction is rolled back as the error propagates
        raise ConflictError(f"{what} already exists; choose another id", code="already_exists") from exc


# ---------------------------------------------------------------- stations and units
def create_station(session: Session, who: Principal, data: dict[str, Any]) -> Station:
    """Insert a station (409 when the id is taken)."""
    if session.get(Station, data["id"]) is not None:
        raise ConflictError(f"station {data['id']!r} already exists; choose another id", code="already_exists")
    station = Station(**data, created_at=utcnow())
    _insert(session, station, f"station {data['id']!r}")
    audit(session, who, "station.create", "station", station.id, None, dict(data))
    return station


def create_unit(session: Session, who: Principal, data: dict[str, Any]) -> Unit:
    """Insert an available unit (409 when the id is taken, 404 for an unknown station).

    Its position counts as reported now; its home is its station's position, or this position
    when it has no station.
    """
    if session.get(Unit, data["id"]) is not None:
        raise ConflictError(f"unit {data['id']!r} already exists; choose another id", code="already_exists")
    station = None
    if data.get("station_id") is not None:
        station = session.get(Station, data["station_id"])
        if station is None:
            raise NotFoundError(f"station {data['station_id']!r} does not exist; create it first or omit station_id")
    home = (station.lon, station.lat) if station is not None else (data["lon"], data["lat"])
    now = utcnow()
    unit = Unit(**data, status="available", incident_id=None, position_time=now, home_lon=home[0],
                home_lat=home[1], created_at=now, updated_at=now)
    _insert(session, unit, f"unit {data['id']!r}")
    audit(session, who, "unit.create", "unit", unit.id, None, unit_snapshot(unit))
    return unit


def _locked_unit(session: Session, unit_id: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.id == unit_id).with_for_update())
    if unit is None:
        raise NotFoundError(f"unit {unit_id!r} does not exist; list units with GET /units")
    return unit


def _release(session: Session, unit: Unit, now: datetime, status: str) -> None:
    """End the unit's active assignment and give it ``status`` (an unassigned one; row already locked)."""
    session.execute(
        update(Assignment)
        .where(Assignment.unit_id == unit.id, Assignment.active.is_(True))
        .values(active=False, released_at=now)
    )
    unit.status = status
    unit.incident_id = None
    unit.updated_at = now


def update_unit(
    session: Session, who: Principal, unit_id: str, status: str | None, position: tuple[float, float] | None
) -> Unit:
    """Change a unit's status and/or position.

    Going to an unassigned status (``available``, or ``returning`` after the hospital) from an
    assigned one releases the unit from its incident. ``dispatched`` is reached only through a
    dispatch.
    """
    unit = _locked_unit(session, unit_id)
    before = unit_snapshot(unit)
    now = utcnow()
    if status is not None:
        check_unit_transition(unit.status, status)
        if status in RELEASING_UNIT_STATUSES and unit.status in ASSIGNED_UNIT_STATUSES:
            _release(session, unit, now, status)
        else:
            unit.status = status
    if position is not None:
        unit.lon, unit.lat = position
        unit.position_time = now
    unit.updated_at = now
    session.flush()
    action = "unit.status" if status is not None else "unit.move"
    audit(session, who, action, "unit", unit.id, before, unit_snapshot(unit))
    return unit


# ---------------------------------------------------------------- incidents
# The three hot paths (create, dispatch, lifecycle) use SQLAlchemy Core statements: a few
# set-based statements per transaction instead of ORM unit-of-work bookkeeping, so the write
# lock is held for as short a time as possible.
_INCIDENTS = cast(Table, Incident.__table__)
_UNITS = cast(Table, Unit.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_UNIT_COLUMNS = (_UNITS.c.id, _UNITS.c.status, _UNITS.c.incident_id, _UNITS.c.lon, _UNITS.c.lat, _UNITS.c.type,
                 _UNITS.c.station_id, _UNITS.c.capabilities)


# The hot paths' statements, built once: a statement object reused keeps its compiled form and
# cache key (building one costs more than running it on SQLite).
_LOCK_INCIDENT = select(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("b_incident")).with_for_update()
_LOCK_UNITS = (select(*_UNIT_COLUMNS).where(_UNITS.c.id.in_(bindparam("b_ids", expanding=True)))
               .order_by(_UNITS.c.id).with_for_update())
_LOCK_INCIDENT_UNITS = (select(*_UNIT_COLUMNS).where(_UNITS.c.incident_id == bindparam("b_incident"))
                        .order_by(_UNITS.c.id).with_for_update())
_SEND_UNITS = (update(_UNITS)
               .where(_UNITS.c.id.in_(bindparam("b_ids", expanding=True)),
                      _UNITS.c.status.in_(sorted(DISPATCHABLE_STATUSES)))
               .values(status="dispatched", incident_id=bindparam("b_incident"), updated_at=bindparam("b_now")))
_MOVE_UNITS = (update(_UNITS).where(_UNITS.c.id.in_(bindparam("b_ids", expanding=True)))
               .values(status=bindparam("b_status"), updated_at=bindparam("b_now")))
_RELEASE_UNITS = (update(_UNITS).where(_UNITS.c.incident_id == bindparam("b_incident"))
                  .values(status="available", incident_id=None, updated_at=bindparam("b_now")))
_END_ASSIGNMENTS = (update(_ASSIGNMENTS)
                    .where(_ASSIGNMENTS.c.incident_id == bindparam("b_incident"), _ASSIGNMENTS.c.active.is_(True))
                    .values(active=False, released_at=bindparam("b_now")))
_INSERT_ASSIGNMENTS = insert(_ASSIGNMENTS)
_INSERT_INCIDENT = insert(_INCIDENTS).returning(_INCIDENTS.c.id)
_SET_INCIDENT_STATUS = (update(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("b_incident"))
                        .values(status=bindparam("b_status"), updated_at=bindparam("b_now")))


def audit_row(
    who: Principal, action: str, entity_type: str, entity_id: object, before: Any, after: Any, now: datetime
) -> dict[str, Any]:
    """One audit-log row (for :func:`geodispatch.api.audit.append`)."""
    return {"at": now, "key_id": who.key_id, "role": who.role, "action": action, "entity_type": entity_type,
            "entity_id": str(entity_id), "before": before, "after": after}


def insert_incident(
    session: Session,
    who: Principal,
    data: dict[str, Any],
    recommendation: dict[str, Any] | None,
    **extra: Any,
) -> tuple[int, datetime, dict[str, Any]]:
    """Insert an open incident with the engine's recommendation (and ``extra`` columns).

    Returns its id, its creation time and its ``incident.create`` audit row, which the caller
    appends (with its other audit rows: one append per transaction).
    """
    now = utcnow()
    values = {"type": data["type"], "priority": data["priority"], "lon": data["lon"], "lat": data["lat"],
              "note": data.get("note", ""), "status": "open"}
    incident_id = session.execute(
        _INSERT_INCIDENT, {**values, **extra, "recommendation": recommendation, "created_by": who.key_id,
                           "created_at": now, "updated_at": now}
    ).scalar_one()
    return int(incident_id), now, audit_row(who, "incident.create", "incident", incident_id, None, values, now)


def create_incident(
    session: Session, who: Principal, data: dict[str, Any], recommendation: dict[str, Any] | None
) -> int:
    """Insert an open incident with the engine's recommendation, audited; return its id."""
    incident_id, _, row = insert_incident(session, who, data, recommendation)
    audit_log.append(session, [row])
    return incident_id


def _locked_incident(session: Session, incident_id: int) -> Any:
    row = session.execute(_LOCK_INCIDENT, {"b_incident": incident_id}).one_or_none()
    if row is None:
        raise NotFoundError(f"incident {incident_id} does not exist; list open incidents with GET /incidents")
    return row


def dispatch(session: Session, who: Principal, incident_id: int, unit_ids: list[str] | None) -> int:
    """Send units to an incident: all of them or none.

    Parameters
    ----------
    session : Session
        Write session.
    who : Principal
        The dispatcher.
    incident_id : int
        The incident.
    unit_ids : list of str or None
        Units to send; None confirms the incident's recommended units.

    Returns
    -------
    int
        The incident id.

    Raises
    ------
    NotFoundError
        Unknown incident or unit.
    ConflictError
        ``unit_unavailable`` (with each blocking unit's status and incident in the context)
        when a unit is not available any more; ``illegal_transition`` when the incident is
        closed or cancelled; ``nothing_recommended`` when there is no recommendation to confirm.
    """
    incident = _locked_incident(session, incident_id)
    if incident.status not in DISPATCHABLE_INCIDENT_STATUSES:
        raise ConflictError(
            f"incident {incident_id} is {incident.status!r}; units can be dispatched only to incidents that are "
            + ", ".join(DISPATCHABLE_INCIDENT_STATUSES),
            code="illegal_transition",
        )
    if unit_ids is None:
        recommended = list((incident.recommendation or {}).get("unit_ids") or [])
        if not recommended:
            raise ConflictError(
                f"incident {incident_id} has no recommended units to confirm; name them in unit_ids",
                code="nothing_recommended",
            )
        unit_ids = recommended
    wanted = sorted(set(unit_ids))
    rows = session.execute(_LOCK_UNITS, {"b_ids": wanted}).all()
    units = {r.id: r for r in rows}
    missing = [u for u in wanted if u not in units]
    if missing:
        raise NotFoundError(f"unknown unit(s): {', '.join(missing)}; list units with GET /units")
    busy = [units[u] for u in wanted if units[u].status not in DISPATCHABLE_STATUSES]
    if busy:
        raise _unavailable(incident_id, busy)
    now = utcnow()
    # Conditional update: only units still free change (a second line of defence next to the
    # row locks); anything less than all of them aborts the whole transaction.
    result = session.execute(_SEND_UNITS, {"b_ids": wanted, "b_incident": incident_id, "b_now": now})
    if result.rowcount != len(wanted):  # type: ignore[attr-defined]
        now_rows = session.execute(select(*_UNIT_COLUMNS).where(_UNITS.c.id.in_(wanted))).all()
        raise _unavailable(incident_id, [r for r in now_rows if r.incident_id != incident_id] or list(now_rows))
    try:
        session.execute(
            _INSERT_ASSIGNMENTS,
            [{"incident_id": incident_id, "unit_id": u, "active": True, "assigned_at": now, "released_at": None,
              "assigned_by": who.key_id} for u in wanted],
        )
    except IntegrityError as exc:  # the partial unique index: one active assignment per unit
        raise ConflictError(
            "a unit was assigned elsewhere at the same moment; get the incident's recommendation again",
            code="unit_unavailable",
        ) from exc
    new_status = "dispatched" if incident.status == "open" else incident.status
    session.execute(_SET_INCIDENT_STATUS, {"b_incident": incident_id, "b_status": new_status, "b_now": now})
    audits = [
        audit_row(who, "unit.dispatch", "unit", u, unit_snapshot(units[u]),
                   dict(unit_snapshot(units[u]), status="dispatched", incident_id=incident_id), now)
        for u in wanted
    ]
    audits.append(audit_row(who, "incident.dispatch", "incident", incident_id, {"status": incident.status},
                             {"status": new_status, "unit_ids": wanted}, now))
    audit_log.append(session, audits)
    return incident_id


def _unavailable(incident_id: int, busy: list[Any]) -> ConflictError:
    parts = []
    for unit in busy:
        where = f" on incident {unit.incident_id}" if unit.incident_id is not None else ""
        if unit.incident_id == incident_id:
            where = " on this incident already"
        parts.append(f"unit {unit.id} is {unit.status}{where}")
    return ConflictError(
        "; ".join(parts) + "; nothing was dispatched, choose other units",
        code="unit_unavailable",
        context={"units": [{"id": u.id, "status": u.status, "incident_id": u.incident_id} for u in busy]},
    )


def update_incident(session: Session, who: Principal, incident_id: int, status: str, note: str | None) -> int:
    """Move an incident along its lifecycle; closing or cancelling releases its units. Returns its id."""
    incident = _locked_incident(session, incident_id)
    check_incident_transition(incident.status, status)
    now = utcnow()
    rows = session.execute(_LOCK_INCIDENT_UNITS, {"b_incident": incident_id}).all()
    audits = []
    if status in TERMINAL_INCIDENT_STATUSES:
        if rows:
            session.execute(_RELEASE_UNITS, {"b_incident": incident_id, "b_now": now})
        session.execute(_END_ASSIGNMENTS, {"b_incident": incident_id, "b_now": now})
        audits = [audit_row(who, "unit.release", "unit", r.id, unit_snapshot(r),
                             dict(unit_snapshot(r), status="available", incident_id=None), now) for r in rows]
    else:
        moving = [r for r in rows if unit_follows(r.status, status)]
        if moving:
            session.execute(_MOVE_UNITS, {"b_ids": [r.id for r in moving], "b_status": status, "b_now": now})
        audits = [audit_row(who, "unit.status", "unit", r.id, unit_snapshot(r),
                             dict(unit_snapshot(r), status=status), now) for r in moving]
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if note is not None:
        values["note"] = note
    if status in TERMINAL_INCIDENT_STATUSES:
        values["closed_at"] = now
    session.execute(update(_INCIDENTS).where(_INCIDENTS.c.id == incident_id).values(**values))
    before = {"status": incident.status, "note": incident.note}
    after = {"status": status, "note": incident.note if note is None else note}
    audits.append(audit_row(who, "incident.status", "incident", incident_id, before, after, now))
    audit_log.append(session, audits)
    return incident_id


# ---------------------------------------------------------------- keys
def revoke_key(session: Session, who: Principal, key_id: int) -> ApiKey:
    """Revoke a key (409 when already revoked)."""
    row = session.scalar(select(ApiKey).where(ApiKey.id == key_id).with_for_update())
    if row is None:
        raise NotFoundError(f"API key {key_id} does not exist; list keys with GET /keys")
    if row.revoked_at is not None:
        raise ConflictError(f"API key {key_id} is already revoked", code="illegal_transition")
    row.revoked_at = utcnow()
    audit(session, who, "key.revoke", "key", key_id, {"revoked": False}, {"revoked": True})
    return row
