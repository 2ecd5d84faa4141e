"""API keys over HTTP (admin): create, list, revoke. The first key comes from the CLI."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from geodispatch.api import service
from geodispatch.api.auth import create_key
from geodispatch.api.deps import PrincipalDep, RowId, RuntimeDep
from geodispatch.api.models import ApiKey
from geodispatch.api.schemas import KeyCreated, KeyIn, KeyOut

router = APIRouter(prefix="/keys", tags=["keys"])


@router.post("", status_code=201, response_model=KeyCreated)
def new_key(body: KeyIn, who: PrincipalDep, runtime: RuntimeDep) -> KeyCreated:
    """Make a key; the response holds it in clear, this once."""
    who.allow()
    with runtime.db.write() as session:
        key, row = create_key(session, body.role, body.unit_id, body.label)
        service.audit(session, who, "key.create", "key", row.id, None, {"role": row.role, "unit_id": row.unit_id})
        return KeyCreated(**KeyOut.model_validate(row).model_dump(), key=key)


@router.get("", response_model=list[KeyOut])
def list_keys(who: PrincipalDep, runtime: RuntimeDep) -> list[ApiKey]:
    """Every key's record (prefix, role, unit, revoked), never the key."""
    who.allow()
    with runtime.db.read() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


@router.delete("/{key_id}", response_model=KeyOut)
def revoke(key_id: RowId, who: PrincipalDep, runtime: RuntimeDep) -> ApiKey:
    """Revoke a key (it stops working at once)."""
    who.allow()
    with runtime.db.write() as session:
        row = service.revoke_key(session, who, key_id)
    runtime.forget_keys()
    return row
