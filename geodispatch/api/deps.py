"""FastAPI dependencies: the runtime and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
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


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
