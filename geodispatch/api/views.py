"""ORM rows -> response schemas (naive SQLite timestamps become UTC in the schemas)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from geodispatch.api.models import Assignment, Incident, Unit
from geodispatch.api.rendered import remember_rendered
from geodispatch.api.schemas import AssignmentOut, IncidentOut, RecommendationOut, UnitOut
from geodispatch.api.workflow import forwards_of

if TYPE_CHECKING:
    from geodispatch.api.runtime import Runtime


def unit_out(unit: Unit) -> UnitOut:
    """A unit as JSON."""
    return UnitOut.model_validate({
        "id": unit.id,
        "type": unit.type,
        "status": unit.status,
        "incident_id": unit.incident_id,
        "station_id": unit.station_id,
        "lon": unit.lon,
        "lat": unit.lat,
        "position_time": unit.position_time,
        "home_lon": unit.home_lon,
        "home_lat": unit.home_lat,
        "capabilities": list(unit.capabilities or []),
        "agency_id": unit.agency_id,
        "updated_at": unit.updated_at,
    })


def incident_by_id(session: Session, incident_id: int, runtime: Runtime | None = None) -> IncidentOut:
    """Read an incident (and its assignments, and its forwards when ``runtime`` is given) as JSON."""
    row = session.execute(select(Incident.__table__).where(Incident.id == incident_id)).one()
    out = incident_out(session, row, runtime)
    remember_rendered(session, "incident", incident_id, runtime, out)  # the commit's event reuses it
    return out


def incident_out(session: Session, incident: Any, runtime: Runtime | None = None) -> IncidentOut:
    """An incident (ORM object or Core row) with its assignments, oldest first, as JSON.

    With ``runtime``, also the agencies it was forwarded to (status as of the runtime's clock).
    """
    table = Assignment.__table__
    rows = session.execute(
        select(table.c.unit_id, table.c.active, table.c.assigned_at, table.c.released_at)
        .where(table.c.incident_id == incident.id)
        .order_by(table.c.id)
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
        forwarded_to=forwards_of(session, runtime, [incident.id]).get(incident.id, []) if runtime else [],
        command_agency_id=getattr(incident, "command_agency_id", None),
        public_token=getattr(incident, "public_token", None),
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        closed_at=incident.closed_at,
    )
