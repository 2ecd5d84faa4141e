"""Entities rendered during a write transaction, reused by its ``/events`` row (render once).

A route that answers with the entity it just changed renders it (queries + pydantic); the
commit's event would render it again. :func:`remember_rendered` keeps the route's rendering;
:mod:`geodispatch.api.events` reuses it when the session wrote nothing after it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

WRITES = "geodispatch_writes"
"""session.info key: writes so far in the transaction (counted by :mod:`geodispatch.api.events`)."""
RENDERED = "geodispatch_rendered"
"""session.info key: entities rendered in the transaction, with the write count at the time."""


def remember_rendered(session: Session, kind: str, ident: object, runtime: Any, data: Any) -> None:
    """Keep ``data`` (the entity as the API returns it) for this transaction's event, valid until
    the session writes anything else: a route that answers with the entity it just changed then
    renders it once, not again at commit."""
    session.info.setdefault(RENDERED, {})[(kind, str(ident))] = (session.info.get(WRITES, 0), runtime, data)


def remembered(session: Session, kind: str, ident: str, runtime: Any) -> Any:
    """What :func:`remember_rendered` kept, when the session has not written since (else None)."""
    found = session.info.get(RENDERED, {}).get((kind, ident))
    if found is None or found[0] != session.info.get(WRITES, 0) or found[1] is not runtime:
        return None
    return found[2]
