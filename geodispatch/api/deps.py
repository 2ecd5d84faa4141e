"""FastAPI dependencies: the runtime and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from geodispatch.api.auth import Principal, bearer_token
from geodispatch.api.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="API key made with `geodispatch keys create`")


def get_runtime(request: Request) -> Runtime:
    """The app's :class:`Runtime`."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Authenticate the ``Authorization: Bearer <key>`` header (401 otherwise)."""
    header = request.headers.get("authorization")
    token = bearer_token(header)
    return get_runtime(request).authenticate(token)


MAX_ROW_ID = 2**31 - 1
"""Largest id an INTEGER column holds (PostgreSQL int4); a larger id in a path is a 422, not a driver error."""

RowId = Annotated[int, Path(ge=-MAX_ROW_ID - 1, le=MAX_ROW_ID, description="Numeric id")]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
