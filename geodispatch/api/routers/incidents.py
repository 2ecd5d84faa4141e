"""Incidents: create with a recommendation, dispatch, lifecycle, list and read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from geodispatch.api import service
from geodispatch.api.deps import AuthRoute, Dispatcher, Reader, RowId, RuntimeDep, SessionDep, TransactionDep
from geodispatch.api.models import Incident
from geodispatch.api.recommend import recommend_incident
from geodispatch.api.schemas import DispatchIn, IncidentIn, IncidentOut, IncidentPatch
from geodispatch.api.state import INCIDENT_STATUSES, TERMINAL_INCIDENT_STATUSES
from geodispatch.api.views import incident_by_id, incident_out
from geodispatch.errors import InputError, NotFoundError

router = APIRouter(prefix="/incidents", tags=["incidents"], route_class=AuthRoute)


@router.post("", status_code=201, response_model=IncidentOut)
def create_incident(body: IncidentIn, who: Dispatcher, runtime: RuntimeDep, tx: TransactionDep) -> IncidentOut:
    """Record a new incident and return the engine's recommendation (units, ETAs, reasons).

    The recommendation is computed from the units available at this moment; it is advice:
    confirm it (or other units) with ``POST /incidents/{id}/dispatch``.
    """
    runtime.check_location(body.lon, body.lat, "incident")
    rec = recommend_incident(runtime, body.type, body.priority, body.lon, body.lat)  # before the write lock
    with tx() as session:
        incident_id = service.create_incident(session, who, body.model_dump(), rec)
        return incident_by_id(session, incident_id)


@router.get("", response_model=list[IncidentOut])
def list_incidents(
    who: Reader,
    session: SessionDep,
    status: Annotated[
        str, Query(description="'open' (every not closed or cancelled, the default), 'all', or one status")
    ] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[IncidentOut]:
    """Incidents, newest first."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if status == "open":
        query = query.where(Incident.status.not_in(TERMINAL_INCIDENT_STATUSES))
    elif status != "all":
        if status not in INCIDENT_STATUSES:
            known = ", ".join(INCIDENT_STATUSES)
            raise InputError(f"unknown incident status {status!r}; use open, all or one of {known}")
        query = query.where(Incident.status == status)
    return [incident_out(session, i) for i in session.scalars(query)]


@router.get("/{incident_id}", response_model=IncidentOut)
def get_incident(incident_id: RowId, who: Reader, session: SessionDep) -> IncidentOut:
    """One incident with its recommendation and assignments."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} does not exist; list incidents with GET /incidents")
    return incident_out(session, incident)


@router.post("/{incident_id}/dispatch", response_model=IncidentOut)
def dispatch(incident_id: RowId, body: DispatchIn, who: Dispatcher, tx: TransactionDep) -> IncidentOut:
    """Send units (all or none). 409 ``unit_unavailable`` names each unit's current assignment.

    Omit ``unit_ids`` to confirm the recommended units.
    """
    with tx() as session:
        service.dispatch(session, who, incident_id, body.unit_ids)
        return incident_by_id(session, incident_id)


@router.patch("/{incident_id}", response_model=IncidentOut)
def update_incident(incident_id: RowId, body: IncidentPatch, who: Dispatcher, tx: TransactionDep) -> IncidentOut:
    """Lifecycle step (en_route, on_scene, transporting, closed, cancelled); 409 when not allowed.

    Closing or cancelling releases the incident's units (they become available).
    """
    service.check_status_name(body.status, INCIDENT_STATUSES, "incident")
    with tx() as session:
        service.update_incident(session, who, incident_id, body.status, body.note)
        return incident_by_id(session, incident_id)
