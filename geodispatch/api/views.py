"""ORM rows -> response schemas (naive SQLite timestamps become UTC in the schemas)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from geodispatch.api.models import Assignment, Incident, Unit
from geodispatch.api.rendered import remember_rendered
from geodispatch.api.schemas import AssignmentOut, IncidentOut, RecommendationOut, UnitOut
from geodispatch.api.workflow import NewIncident, forwards_of

if TYPE_CHECKING:
    from geodispatch.api.runtime import Runtime


_A = Assignment.__table__
# built once: a statement object reused keeps its compiled form and cache key
_INCIDENT = select(Incident.__table__).where(Incident.__table__.c.id == bindparam("ident"))
_ASSIGNMENTS = (select(_A.c.unit_id, _A.c.active, _A.c.assigned_at, _A.c.released_at)
                .where(_A.c.incident_id == bindparam("ident")).order_by(_A.c.id))


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` serialised once by pydantic, sent as is.

    A route that returns a model has FastAPI validate it against the ``response_model`` again
    (in another worker-thread hop) before serialising; the hot routes (incident creation,
    dispatch, lifecycle) return their already validated model this way instead, and keep
    ``response_model`` for the OpenAPI description.
    """
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


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
    row = session.execute(_INCIDENT, {"ident": incident_id}).one()
    out = incident_out(session, row, runtime)
    remember_rendered(session, "incident", incident_id, runtime, out)  # the commit's event reuses it
    return out


def incident_out(session: Session, incident: Any, runtime: Runtime | None = None) -> IncidentOut:
    """An incident (ORM object or Core row) with its assignments, oldest first, as JSON.

    With ``runtime``, also the agencies it was forwarded to (status as of the runtime's clock).
    """
    rows = session.execute(_ASSIGNMENTS, {"ident": incident.id}).all()
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


def new_incident_out(session: Session, new: NewIncident, data: dict[str, Any], recommendation: Any,
                     runtime: Runtime) -> IncidentOut:
    """A just-created incident (:func:`geodispatch.api.workflow.create_and_forward`) as JSON, from
    what was written: what :func:`incident_by_id` would read back, without the three queries.

    The rendering is kept for the transaction's ``/events`` row, like :func:`incident_by_id`'s.
    """
    out = IncidentOut(
        id=new.id,
        type=data["type"],
        priority=data["priority"],
        lon=data["lon"],
        lat=data["lat"],
        status="open",
        note=data.get("note", ""),
        recommendation=RecommendationOut.model_validate(recommendation) if recommendation else None,
        unit_ids=[],
        assignments=[],
        forwarded_to=new.forwarded_to,
        command_agency_id=new.report.plan.command,
        public_token=new.report.public_token,
        created_at=new.created_at,
        updated_at=new.created_at,
        closed_at=None,
    )
    remember_rendered(session, "incident", new.id, runtime, out)
    return out
