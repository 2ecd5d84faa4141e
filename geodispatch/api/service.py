"""The API's writes, each one database transaction, each with its audit-log entries.

Functions take an open write session (``Database.write()``) and the calling
:class:`~geodispatch.api.auth.Principal`; any error raised inside rolls the whole transaction
back, so nothing is half-written. Row locks are taken in one order everywhere (incident, then
units by id) so PostgreSQL transactions cannot deadlock; on SQLite the write transaction holds
the database's write lock from its first statement (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geodispatch.api.auth import Principal
from geodispatch.api.models import ApiKey, Assignment, AuditEntry, Incident, Station, Unit, utcnow
from geodispatch.api.state import (
    ASSIGNED_UNIT_STATUSES,
    TERMINAL_INCIDENT_STATUSES,
    check_incident_transition,
    check_unit_transition,
    unit_follows,
)
from geodispatch.errors import ConflictError, InputError, NotFoundError

DISPATCHABLE_INCIDENT_STATUSES = ("open", "dispatched", "en_route", "on_scene")
"""Incidents that may receive (more) units."""


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC text of a timestamp (SQLite gives naive UTC datetimes back)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def unit_snapshot(unit: Unit) -> dict[str, Any]:
    """The audited fields of a unit."""
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
    """Append one audit-log entry in the current transaction."""
    session.add(
        AuditEntry(
            at=utcnow(),
            key_id=who.key_id,
            role=who.role,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=before,
            after=after,
        )
    )


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
    """Insert an available unit (409 when the id is taken, 404 for an unknown station)."""
    if session.get(Unit, data["id"]) is not None:
        raise ConflictError(f"unit {data['id']!r} already exists; choose another id", code="already_exists")
    if data.get("station_id") is not None and session.get(Station, data["station_id"]) is None:
        raise NotFoundError(f"station {data['station_id']!r} does not exist; create it first or omit station_id")
    now = utcnow()
    unit = Unit(**data, status="available", incident_id=None, created_at=now, updated_at=now)
    _insert(session, unit, f"unit {data['id']!r}")
    audit(session, who, "unit.create", "unit", unit.id, None, unit_snapshot(unit))
    return unit


def _locked_unit(session: Session, unit_id: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.id == unit_id).with_for_update())
    if unit is None:
        raise NotFoundError(f"unit {unit_id!r} does not exist; list units with GET /units")
    return unit


def _release(session: Session, unit: Unit, now: datetime) -> None:
    """End the unit's active assignment and make it available (row already locked)."""
    session.execute(
        update(Assignment)
        .where(Assignment.unit_id == unit.id, Assignment.active.is_(True))
        .values(active=False, released_at=now)
    )
    unit.status = "available"
    unit.incident_id = None
    unit.updated_at = now


def update_unit(
    session: Session, who: Principal, unit_id: str, status: str | None, position: tuple[float, float] | None
) -> Unit:
    """Change a unit's status and/or position.

    Going to ``available`` from an assigned status releases the unit from its incident.
    ``dispatched`` is reached only through a dispatch.
    """
    unit = _locked_unit(session, unit_id)
    before = unit_snapshot(unit)
    now = utcnow()
    if status is not None:
        check_unit_transition(unit.status, status)
        if status == "available" and unit.status in ASSIGNED_UNIT_STATUSES:
            _release(session, unit, now)
        else:
            unit.status = status
    if position is not None:
        unit.lon, unit.lat = position
    unit.updated_at = now
    session.flush()
    action = "unit.status" if status is not None else "unit.move"
    audit(session, who, action, "unit", unit.id, before, unit_snapshot(unit))
    return unit


# ---------------------------------------------------------------- incidents
def create_incident(
    session: Session, who: Principal, data: dict[str, Any], recommendation: dict[str, Any] | None
) -> Incident:
    """Insert an open incident with the engine's recommendation."""
    now = utcnow()
    incident = Incident(
        type=data["type"],
        priority=data["priority"],
        lon=data["lon"],
        lat=data["lat"],
        note=data.get("note", ""),
        status="open",
        recommendation=recommendation,
        created_by=who.key_id,
        created_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    audit(session, who, "incident.create", "incident", incident.id, None, incident_snapshot(incident))
    return incident


def _locked_incident(session: Session, incident_id: int) -> Incident:
    incident = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update())
    if incident is None:
        raise NotFoundError(f"incident {incident_id} does not exist; list open incidents with GET /incidents")
    return incident


def dispatch(session: Session, who: Principal, incident_id: int, unit_ids: list[str] | None) -> Incident:
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
    units = {
        u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(wanted)).order_by(Unit.id).with_for_update())
    }
    missing = [u for u in wanted if u not in units]
    if missing:
        raise NotFoundError(f"unknown unit(s): {', '.join(missing)}; list units with GET /units")
    busy = [units[u] for u in wanted if units[u].status != "available"]
    if busy:
        raise _unavailable(incident_id, busy)
    now = utcnow()
    for unit_id in wanted:
        before = unit_snapshot(units[unit_id])
        # Conditional update: a second line of defence next to the row lock (and the only
        # guard if a caller skipped the SELECT ... FOR UPDATE above).
        result = session.execute(
            update(Unit)
            .where(Unit.id == unit_id, Unit.status == "available")
            .values(status="dispatched", incident_id=incident_id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.refresh(units[unit_id])
            raise _unavailable(incident_id, [units[unit_id]])
        session.add(
            Assignment(incident_id=incident_id, unit_id=unit_id, active=True, assigned_at=now, assigned_by=who.key_id)
        )
        after = dict(before, status="dispatched", incident_id=incident_id)
        audit(session, who, "unit.dispatch", "unit", unit_id, before, after)
    try:
        session.flush()
    except IntegrityError as exc:  # the partial unique index: one active assignment per unit
        raise ConflictError(
            "a unit was assigned elsewhere at the same moment; get the incident's recommendation again",
            code="unit_unavailable",
        ) from exc
    before_inc = incident_snapshot(incident)
    if incident.status == "open":
        incident.status = "dispatched"
    incident.updated_at = now
    session.flush()
    after_inc = dict(incident_snapshot(incident), unit_ids=wanted)
    audit(session, who, "incident.dispatch", "incident", incident_id, before_inc, after_inc)
    return incident


def _unavailable(incident_id: int, busy: list[Unit]) -> ConflictError:
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


def update_incident(session: Session, who: Principal, incident_id: int, status: str, note: str | None) -> Incident:
    """Move an incident along its lifecycle; closing or cancelling releases its units."""
    incident = _locked_incident(session, incident_id)
    check_incident_transition(incident.status, status)
    before = incident_snapshot(incident)
    now = utcnow()
    units = list(
        session.scalars(select(Unit).where(Unit.incident_id == incident_id).order_by(Unit.id).with_for_update())
    )
    for unit in units:
        unit_before = unit_snapshot(unit)
        if status in TERMINAL_INCIDENT_STATUSES:
            _release(session, unit, now)
        elif unit_follows(unit.status, status):
            unit.status = status
            unit.updated_at = now
        else:
            continue
        action = "unit.release" if unit.status == "available" else "unit.status"
        audit(session, who, action, "unit", unit.id, unit_before, unit_snapshot(unit))
    incident.status = status
    if note is not None:
        incident.note = note
    incident.updated_at = now
    if status in TERMINAL_INCIDENT_STATUSES:
        incident.closed_at = now
    session.flush()
    audit(session, who, "incident.status", "incident", incident_id, before, incident_snapshot(incident))
    return incident


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


def check_status_name(status: str, allowed: tuple[str, ...], kind: str) -> None:
    """422 for a status name that does not exist."""
    if status not in allowed:
        raise InputError(f"unknown {kind} status {status!r}; use one of: {', '.join(allowed)}")
