"""Agencies (OPD) of the region served, with their queues: ``GET /agencies``."""

from __future__ import annotations

from fastapi import APIRouter

from geodispatch.api import workflow
from geodispatch.api.deps import AuthRoute, Reader, RuntimeDep, SessionDep
from geodispatch.api.schemas import AgencyOut

router = APIRouter(prefix="/agencies", tags=["agencies"], route_class=AuthRoute)


@router.get("", response_model=list[AgencyOut])
def list_agencies(who: Reader, runtime: RuntimeDep, session: SessionDep) -> list[AgencyOut]:
    """Every agency the 112 centre forwards to: kind, unit types, source, and right now its
    unacknowledged forwards (and how many are overdue) and its available units."""
    return workflow.agency_queues(session, runtime)
