"""ORM models (SQLAlchemy 2 declarative): keys, stations, units, incidents, assignments, audit.

The schema itself is created by the Alembic migrations in ``migrations/versions``; a test
checks that the migrated database and these models agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geodispatch.api.state import ASSIGNED_UNIT_STATUSES, INCIDENT_STATUSES, UNIT_STATUSES

Role = Literal["dispatcher", "unit", "planner", "admin", "agency"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]
"""API key roles (``agency``: an OPD's operator, bound to one agency)."""

FORWARD_STATUSES: tuple[str, ...] = ("notified", "acknowledged", "overdue", "escalated")
"""Stored status of a forward (see :mod:`geodispatch.assign.forward`)."""

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


UNIT_STATUS_CHECK = f"status IN ({_quoted(UNIT_STATUSES)})"
UNIT_INCIDENT_CHECK = f"(incident_id IS NULL) = (status NOT IN ({_quoted(ASSIGNED_UNIT_STATUSES)}))"
INCIDENT_STATUS_CHECK = f"status IN ({_quoted(INCIDENT_STATUSES)})"
ROLE_CHECK = f"role IN ({_quoted(ROLES)})"
FORWARD_STATUS_CHECK = f"status IN ({_quoted(FORWARD_STATUSES)})"

NEVER_REPORTED = "1970-01-01 00:00:00+00:00"
"""Server default of ``units.position_time``: a row written without a report time counts as a
report from long ago (stale), so the engine places the unit at its home station, not at a
position of unknown age."""


def utcnow() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable names for migrations)."""

    metadata = MetaData(naming_convention=_NAMING)


class ApiKey(Base):
    """An API key: only its SHA-256 hash is stored; ``prefix`` finds it quickly."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agency_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Station(Base):
    """A station (post); ``lon``/``lat`` in degrees, EPSG:4326."""

    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    type: Mapped[str] = mapped_column(String(16))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Unit(Base):
    """A unit (vehicle) and its live state.

    ``incident_id`` is set exactly when the status is one of the assigned statuses (a CHECK
    constraint enforces it). ``position_time`` is when ``lon``/``lat`` was last reported (set on
    creation and on every position update). ``home_lon``/``home_lat`` is where the unit is based
    (its station's position, or its position at creation when it has no station); the engine
    places a unit whose report is too old there. Null home: unknown (units created before the
    column existed without a station).
    """

    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint(UNIT_STATUS_CHECK, name="status"),
        CheckConstraint(UNIT_INCIDENT_CHECK, name="incident_matches_status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    station_id: Mapped[str | None] = mapped_column(ForeignKey("stations.id"), nullable=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    position_time: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=text(f"'{NEVER_REPORTED}'")
    )
    home_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    home_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    agency_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default="available")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Incident(Base):
    """An incident; ``recommendation`` is the engine's answer at creation time (JSON)."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(INCIDENT_STATUS_CHECK, name="status"),
        Index("uq_incidents_public_token", "public_token", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    note: Mapped[str] = mapped_column(String(2000), default="")
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    public_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    command_agency_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IncidentForward(Base):
    """An incident forwarded to one agency (OPD): what is asked of it and whether it answered."""

    __tablename__ = "incident_forwards"
    __table_args__ = (
        CheckConstraint(FORWARD_STATUS_CHECK, name="status"),
        Index("uq_incident_forwards_incident_agency", "incident_id", "agency_id", unique=True),
        Index("ix_incident_forwards_agency_status", "agency_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    agency_id: Mapped[str] = mapped_column(String(64))
    unit_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="notified")
    notified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Assignment(Base):
    """A unit sent to an incident; at most one active assignment per unit (partial unique index)."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index(
            "uq_assignments_active_unit",
            "unit_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    assigned_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AuditEntry(Base):
    """One state change: who (key id and role), when, what, before and after (append-only).

    ``prev_hash``/``hash`` chain the rows (see :mod:`geodispatch.api.audit`); always written,
    nullable only because rows of the first schema revision got theirs in a migration.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)


class Event(Base):
    """One entity's new state after a committed change (the ``GET /events`` feed).

    ``data`` is the entity as the API returns it (a unit, incident or station); null when the
    entity no longer exists. Ids grow in commit order (see :mod:`geodispatch.api.events`).
    """

    __tablename__ = "events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
