"""API keys over HTTP (admin): create, list, revoke. The first key comes from the CLI."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from geodispatch.api import service
from geodispatch.api.auth import create_key
from geodispatch.api.db import after_commit
from geodispatch.api.deps import Admin, AuthRoute, RowId, RuntimeDep, SessionDep, TransactionDep
from geodispatch.api.models import ApiKey
from geodispatch.api.schemas import KeyCreated, KeyIn, KeyOut
from geodispatch.api.workflow import check_agency

router = APIRouter(prefix="/keys", tags=["keys"], route_class=AuthRoute)


@router.post("", status_code=201, response_model=KeyCreated)
def new_key(body: KeyIn, who: Admin, runtime: RuntimeDep, tx: TransactionDep) -> KeyCreated:
    """Make a key; the response holds it in clear, this once. An ``agency`` key names one of
    ``GET /agencies`` in ``agency_id``."""
    if body.agency_id is not None:
        check_agency(runtime, body.agency_id)
    with tx() as session:
        key, row = create_key(session, body.role, body.unit_id, body.label, body.agency_id)
        service.audit(session, who, "key.create", "key", row.id, None,
                      {"role": row.role, "unit_id": row.unit_id, "agency_id": row.agency_id})
    return KeyCreated(**KeyOut.model_validate(row).model_dump(), key=key)


@router.get("", response_model=list[KeyOut])
def list_keys(who: Admin, session: SessionDep) -> list[ApiKey]:
    """Every key's record (prefix, role, unit, revoked), never the key."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


@router.delete("/{key_id}", response_model=KeyOut)
def revoke(key_id: RowId, who: Admin, runtime: RuntimeDep, tx: TransactionDep) -> ApiKey:
    """Revoke a key (it stops working at once)."""
    with tx() as session:
        row = service.revoke_key(session, who, key_id)
        after_commit(session, runtime.forget_keys)
    return row
