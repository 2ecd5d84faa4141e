"""Incidents: create with a recommendation and forward to the agencies (OPD), dispatch, lifecycle,
acknowledgements, escalation and command, list and read."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from geodispatch.api import service, workflow
from geodispatch.api.auth import Principal
from geodispatch.api.deps import (
    AuthRoute,
    Dispatcher,
    RowId,
    RuntimeDep,
    SessionDep,
    TransactionDep,
    require,
)
from geodispatch.api.models import Incident, Unit
from geodispatch.api.recommend import recommend_incident
from geodispatch.api.schemas import CommandIn, DispatchIn, IncidentIn, IncidentOut, IncidentPatch
from geodispatch.api.state import TERMINAL_INCIDENT_STATUSES, IncidentStatus
from geodispatch.api.views import incident_by_id, incident_out, json_response, new_incident_out
from geodispatch.errors import ConflictError, NotFoundError

router = APIRouter(prefix="/incidents", tags=["incidents"], route_class=AuthRoute)

IncidentReader = Annotated[Principal, require("dispatcher", "planner", "agency")]
"""Dispatchers, planners, admins; an agency key sees the incidents forwarded to its agency."""
DispatcherOrAgency = Annotated[Principal, require("dispatcher", "agency")]
Agency = Annotated[Principal, require("agency")]


@router.post("", status_code=201, response_model=IncidentOut)
def create_incident(body: IncidentIn, who: Dispatcher, runtime: RuntimeDep, tx: TransactionDep) -> Response:
    """Record a new incident, forward it to the agencies its SOP names, and return the engine's
    recommendation (units, ETAs, reasons), the forwards and the public status token.

    The recommendation is computed from the units available at this moment; it is advice:
    confirm it (or other units) with ``POST /incidents/{id}/dispatch``.
    """
    runtime.check_location(body.lon, body.lat, "incident")
    rec = recommend_incident(runtime, body.type, body.priority, body.lon, body.lat)  # before the write lock
    data = body.model_dump()
    with tx() as session:
        new = workflow.create_and_forward(session, who, runtime, data, rec)
        out = new_incident_out(session, new, data, rec, runtime)
    return json_response(out, 201)


@router.get("", response_model=list[IncidentOut])
def list_incidents(
    who: IncidentReader,
    runtime: RuntimeDep,
    session: SessionDep,
    status: Annotated[
        IncidentStatus | Literal["all"],
        Query(description="'open' (every not closed or cancelled, the default), 'all', or one status"),
    ] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[IncidentOut]:
    """Incidents, newest first (an agency key: only those forwarded to its agency)."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if who.role == "agency":
        query = query.where(Incident.id.in_(workflow.forwarded_incident_ids(session, str(who.agency_id))))
    if status == "open":
        query = query.where(Incident.status.not_in(TERMINAL_INCIDENT_STATUSES))
    elif status != "all":
        query = query.where(Incident.status == status)
    return [incident_out(session, i, runtime) for i in session.scalars(query)]


@router.get("/{incident_id}", response_model=IncidentOut)
def get_incident(incident_id: RowId, who: IncidentReader, runtime: RuntimeDep, session: SessionDep) -> IncidentOut:
    """One incident with its recommendation, assignments and forwards."""
    workflow.check_incident_access(session, who, incident_id)
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} does not exist; list incidents with GET /incidents")
    return incident_out(session, incident, runtime)


@router.post("/{incident_id}/dispatch", response_model=IncidentOut)
def dispatch(
    incident_id: RowId, body: DispatchIn, who: DispatcherOrAgency, runtime: RuntimeDep, tx: TransactionDep
) -> Response:
    """Send units (all or none). 409 ``unit_unavailable`` names each unit's current assignment.

    Omit ``unit_ids`` to confirm the recommended units. An agency key dispatches only its own
    units to incidents forwarded to it (omitting ``unit_ids`` confirms its share of the
    recommendation).
    """
    with tx() as session:
        unit_ids = body.unit_ids
        if who.role == "agency":
            workflow.check_incident_access(session, who, incident_id)
            if unit_ids is None:
                unit_ids = _own_recommended(session, who, incident_id)
            workflow.check_own_units(session, who, unit_ids)
        service.dispatch(session, who, incident_id, unit_ids)
        out = incident_by_id(session, incident_id, runtime)
    return json_response(out)


def _own_recommended(session: Session, who: Principal, incident_id: int) -> list[str]:
    incident = session.get(Incident, incident_id)
    recommended = list(((incident.recommendation if incident else None) or {}).get("unit_ids") or [])
    own = set(session.scalars(select(Unit.id).where(Unit.id.in_(recommended), Unit.agency_id == who.agency_id)))
    mine = [u for u in recommended if u in own]
    if not mine:
        raise ConflictError(
            f"none of the units recommended for incident {incident_id} belongs to agency {who.agency_id!r}; "
            "name your units in unit_ids",
            code="nothing_recommended",
        )
    return mine


@router.patch("/{incident_id}", response_model=IncidentOut)
def update_incident(
    incident_id: RowId, body: IncidentPatch, who: Dispatcher, runtime: RuntimeDep, tx: TransactionDep
) -> Response:
    """Lifecycle step (en_route, on_scene, transporting, closed, cancelled); 409 when not allowed.

    Closing or cancelling releases the incident's units (they become available).
    """
    with tx() as session:
        service.update_incident(session, who, incident_id, body.status, body.note)
        out = incident_by_id(session, incident_id, runtime)
    return json_response(out)


@router.post("/{incident_id}/acknowledge", response_model=IncidentOut)
def acknowledge(incident_id: RowId, who: Agency, runtime: RuntimeDep, tx: TransactionDep) -> IncidentOut:
    """The calling agency takes the report (``notified``/``overdue`` -> ``acknowledged``).

    403 when the incident was not forwarded to it; 409 ``already_acknowledged`` the second time.
    """
    with tx() as session:
        workflow.acknowledge(session, who, runtime, incident_id)
        return incident_by_id(session, incident_id, runtime)


@router.post("/{incident_id}/escalate", response_model=IncidentOut)
def escalate(incident_id: RowId, who: Dispatcher, runtime: RuntimeDep, tx: TransactionDep) -> IncidentOut:
    """Give the overdue agencies' part to the commanding agency (409 ``nothing_overdue`` otherwise)."""
    with tx() as session:
        workflow.escalate(session, who, runtime, incident_id)
        return incident_by_id(session, incident_id, runtime)


@router.post("/{incident_id}/command", response_model=IncidentOut)
def hand_over(
    incident_id: RowId, body: CommandIn, who: DispatcherOrAgency, runtime: RuntimeDep, tx: TransactionDep
) -> IncidentOut:
    """Hand command to another agency (the call taker, or the commanding agency's own key); audited."""
    with tx() as session:
        workflow.hand_over(session, who, runtime, incident_id, body.agency_id)
        return incident_by_id(session, incident_id, runtime)
