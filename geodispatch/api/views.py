"""ORM rows -> response schemas (naive SQLite timestamps become UTC in the schemas)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from geodispatch.api.models import Assignment, Incident, Unit
from geodispatch.api.schemas import AssignmentOut, IncidentOut, RecommendationOut, UnitOut


def unit_out(unit: Unit) -> UnitOut:
    """A unit as JSON."""
    return UnitOut(
        id=unit.id,
        type=unit.type,
        status=unit.status,
        incident_id=unit.incident_id,
        station_id=unit.station_id,
        lon=unit.lon,
        lat=unit.lat,
        capabilities=list(unit.capabilities or []),
        updated_at=unit.updated_at,
    )


def incident_out(session: Session, incident: Incident) -> IncidentOut:
    """An incident with its assignments (oldest first) as JSON."""
    rows = session.scalars(
        select(Assignment).where(Assignment.incident_id == incident.id).order_by(Assignment.id)
    ).all()
    assignments = [AssignmentOut.model_validate(a) for a in rows]
    rec = RecommendationOut.model_validate(incident.recommendation) if incident.recommendation else None
    return IncidentOut(
        id=incident.id,
        type=incident.type,
        priority=incident.priority,
        lon=incident.lon,
        lat=incident.lat,
        status=incident.status,
        note=incident.note,
        recommendation=rec,
        unit_ids=[a.unit_id for a in assignments if a.active],
        assignments=assignments,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        closed_at=incident.closed_at,
    )
