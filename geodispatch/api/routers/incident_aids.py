"""What a dispatcher's screen asks about one incident besides its state.

``GET /incidents/{id}/recommendation``: a fresh recommendation from the units available now
(after a 409, when another operator took a unit). ``GET /incidents/{id}/routes``: the fastest
route, ETA and distance of named units to the incident (lines on the map). ``GET
/incidents/{id}/timeline``: the incident's entries of the audit log, oldest first. All read-only.
An ``agency`` key reads them for the incidents forwarded to its agency, and routes of its own units.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from geodispatch.api import workflow
from geodispatch.api.auth import Principal
from geodispatch.api.deps import PrincipalDep, RowId, RuntimeDep
from geodispatch.api.models import AuditEntry, Incident, Unit
from geodispatch.api.recommend import recommend_incident
from geodispatch.api.runtime import Runtime
from geodispatch.api.schemas import AuditOut
from geodispatch.errors import InputError, NotFoundError
from geodispatch.output import json_safe

router = APIRouter(prefix="/incidents", tags=["incidents"])
READERS = ("dispatcher", "planner", "agency")
MAX_ROUTES = 20
"""Most units one routes request may name."""


def _incident(runtime: Runtime, incident_id: int, who: Principal) -> Any:
    with runtime.db.read() as session:
        workflow.check_incident_access(session, who, incident_id)  # an agency: only its forwarded incidents
        row = session.execute(select(Incident.__table__).where(Incident.id == incident_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"incident {incident_id} does not exist; list incidents with GET /incidents")
    return row


@router.get("/{incident_id}/recommendation")
def fresh_recommendation(incident_id: RowId, who: PrincipalDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The engine's recommendation for this incident from the units available now (not stored).

    Same shape as the ``recommendation`` of ``POST /incidents``.
    """
    who.allow(*READERS)
    incident = _incident(runtime, incident_id, who)
    return recommend_incident(runtime, incident.type, incident.priority, incident.lon, incident.lat)


@router.get("/{incident_id}/routes")
def routes(
    incident_id: RowId,
    who: PrincipalDep,
    runtime: RuntimeDep,
    unit_ids: Annotated[str, Query(description="Comma-separated unit ids (at most 20)",
                                   pattern=r"^[A-Za-z0-9_.:-]+(,[A-Za-z0-9_.:-]+){0,19}$")],
) -> dict[str, Any]:
    """Each named unit's fastest route to the incident from where it is now.

    ``{"incident_id", "routes": [{"unit_id", "eta_s", "distance_m", "position", "geometry"}]}``:
    seconds, metres, GeoJSON LineString (lon/lat); null ETA/geometry when it cannot reach.
    """
    from geodispatch.assign import Unit as EngineUnit
    from geodispatch.assign.routes import unit_routes

    who.allow(*READERS)
    wanted = [u for u in dict.fromkeys(x.strip() for x in unit_ids.split(",")) if u]
    if not wanted or len(wanted) > MAX_ROUTES:
        raise InputError(f"unit_ids must name 1 to {MAX_ROUTES} units, comma-separated")
    incident = _incident(runtime, incident_id, who)
    with runtime.db.read() as session:
        workflow.check_own_units(session, who, wanted)  # an agency: only where its own units are
        rows = {r.id: r for r in session.scalars(select(Unit).where(Unit.id.in_(wanted)))}
    missing = [u for u in wanted if u not in rows]
    if missing:
        raise NotFoundError(f"unknown unit(s): {', '.join(missing)}; list units with GET /units")
    units = [
        EngineUnit(id=r.id, type=r.type, lon=r.lon, lat=r.lat, status=r.status,
                   capabilities=tuple(r.capabilities or ()), home_station=r.station_id, home_lon=r.home_lon,
                   home_lat=r.home_lat, position_time=r.position_time)
        for r in (rows[u] for u in wanted)
    ]
    found = unit_routes(runtime.network, units, incident.lon, incident.lat, snap_limit_m=runtime.snap_limit_m)
    return {"incident_id": incident_id, "routes": json_safe([r.to_dict() for r in found])}


@router.get("/{incident_id}/timeline", response_model=list[AuditOut])
def timeline(incident_id: RowId, who: PrincipalDep, runtime: RuntimeDep) -> list[AuditEntry]:
    """The incident's audit-log entries (created, units dispatched, each status), oldest first."""
    who.allow(*READERS)
    _incident(runtime, incident_id, who)
    with runtime.db.read() as session:
        return list(session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "incident", AuditEntry.entity_id == str(incident_id))
            .order_by(AuditEntry.id)
        ))
