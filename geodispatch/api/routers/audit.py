"""``GET /audit``: the append-only log of state changes (admin)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from geodispatch.api.deps import MAX_ROW_ID, Admin, AuthRoute, SessionDep
from geodispatch.api.models import AuditEntry
from geodispatch.api.schemas import AuditOut

router = APIRouter(tags=["audit"], route_class=AuthRoute)


@router.get("/audit", response_model=list[AuditOut])
def read_audit(
    who: Admin,
    session: SessionDep,
    entity_type: Annotated[Literal["unit", "incident", "station", "key"] | None, Query()] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Only entries with a larger id (paging)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    """Entries oldest first: who (key id, role), when, what, before and after."""
    query = select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit)
    if entity_type is not None:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(query))
