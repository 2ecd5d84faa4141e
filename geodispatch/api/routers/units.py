"""Units: create (admin), list/read, status and position updates (dispatcher, admin, the unit itself)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from geodispatch.api import service, workflow
from geodispatch.api.auth import Principal
from geodispatch.api.deps import Admin, AuthRoute, RuntimeDep, SessionDep, TextId, TransactionDep, require, unit_or
from geodispatch.api.models import Unit
from geodispatch.api.schemas import UnitIn, UnitOut, UnitPatch
from geodispatch.api.state import UnitStatus
from geodispatch.api.views import unit_out
from geodispatch.domain import UnitType
from geodispatch.errors import NotFoundError

router = APIRouter(prefix="/units", tags=["units"], route_class=AuthRoute)

UnitReader = Annotated[Principal, require("dispatcher", "planner", "agency")]
"""Dispatchers, planners, admins; an agency key sees its own units."""


@router.post("", status_code=201, response_model=UnitOut)
def create_unit(body: UnitIn, who: Admin, runtime: RuntimeDep, tx: TransactionDep) -> UnitOut:
    """Create a unit, available at ``lon``/``lat`` (admin)."""
    runtime.check_location(body.lon, body.lat, f"unit {body.id}")
    data = body.model_dump()
    data["agency_id"] = workflow.unit_agency_for(runtime, body.type, body.station_id, body.agency_id)
    with tx() as session:
        out = unit_out(service.create_unit(session, who, data))
    base = (out.home_lon, out.home_lat) if out.home_lon is not None and out.home_lat is not None else (out.lon, out.lat)
    runtime.prepare_positions([base[0]], [base[1]], [out.type])  # the coverage tie-break counts from the home
    return out


@router.get("", response_model=list[UnitOut])
def list_units(
    who: UnitReader,
    session: SessionDep,
    status: Annotated[UnitStatus | None, Query(description="Only units with this status")] = None,
    type: Annotated[UnitType | None, Query(description="Only units of this type")] = None,
) -> list[UnitOut]:
    """Units by id, optionally filtered by status and type (an agency key: its own units)."""
    query = select(Unit).order_by(Unit.id)
    if who.role == "agency":
        query = query.where(Unit.agency_id == who.agency_id)
    if status is not None:
        query = query.where(Unit.status == status)
    if type is not None:
        query = query.where(Unit.type == type)
    return [unit_out(u) for u in session.scalars(query)]


@router.get("/{unit_id}", response_model=UnitOut)
def get_unit(
    unit_id: TextId, who: Annotated[Principal, unit_or("dispatcher", "planner", "agency")], session: SessionDep
) -> UnitOut:
    """One unit: status, incident_id (while assigned), position."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFoundError(f"unit {unit_id!r} does not exist; list units with GET /units")
    workflow.check_own_units(session, who, [unit_id])
    return unit_out(unit)


@router.patch("/{unit_id}", response_model=UnitOut)
def update_unit(
    unit_id: TextId,
    body: UnitPatch,
    who: Annotated[Principal, unit_or("dispatcher", "agency")],
    runtime: RuntimeDep,
    tx: TransactionDep,
) -> UnitOut:
    """Change status (state machine; 409 when not allowed) and/or position.

    ``available`` from an assigned status releases the unit from its incident;
    ``out_of_service`` only from ``available``.
    """
    position = None
    if body.lon is not None and body.lat is not None:
        runtime.check_location(body.lon, body.lat, f"unit {unit_id}")
        position = (body.lon, body.lat)
    with tx() as session:
        workflow.check_own_units(session, who, [unit_id])
        out = unit_out(service.update_unit(session, who, unit_id, body.status, position))
    if position is not None and out.home_lon is None:  # the tie-break's base is the home when known
        runtime.prepare_positions([position[0]], [position[1]], [out.type])
    return out
