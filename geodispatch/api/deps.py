"""FastAPI dependencies: the runtime, per-request database sessions, the caller and its role.

In the style of the FastAPI full-stack template, a route declares what it needs in its
signature and nothing else::

    def list_units(who: Reader, session: SessionDep) -> ...   # dispatcher, planner, admin
    def create_unit(who: Admin, tx: TransactionDep) -> ...    # admin; one write transaction
        with tx() as session:
            ...

* :data:`SessionDep`: a read session for the request, closed after the response is built.
* :data:`TransactionDep`: opens the request's write transaction. The route opens it where the
  write starts (after slow work such as a recommendation) and the block commits it, in the
  route's own thread and **before** the response is sent: a client never sees success for a
  write that did not commit, and no writer holds the database's write lock while it waits
  for a worker thread (a yield-dependency's teardown runs only after the response is
  serialised in another thread, which can deadlock a full thread pool).
* :data:`Admin`, :data:`Dispatcher`, :data:`Reader`, :func:`unit_or`: role checks (403).

The key itself is checked by :class:`AuthRoute` before the request body is read, so a request
without a valid key is a 401 whatever its body holds.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from geodispatch.api.auth import Principal, bearer_token
from geodispatch.api.runtime import Runtime
from geodispatch.api.schemas import IDENT_PATTERN
from geodispatch.errors import InputError

_bearer = HTTPBearer(auto_error=False, description="API key made with `geodispatch keys create`")


async def get_runtime(request: Request) -> Runtime:
    """The app's :class:`Runtime` (``async``: a cheap dependency costs no worker-thread hop)."""
    return _runtime(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A read session for the request."""
    with runtime.db.read() as session:
        yield session


Transaction = Callable[[], AbstractContextManager[Session]]
"""Opens one write transaction (:meth:`~geodispatch.api.db.Database.write`)."""


async def get_transaction(runtime: RuntimeDep) -> Transaction:
    """The write transaction factory of the request (see the module docstring)."""
    return runtime.db.write


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
TransactionDep = Annotated[Transaction, Depends(get_transaction)]


def _runtime(request: Request) -> Runtime:
    """The app's :class:`Runtime`, for code that cannot await (:func:`get_runtime` is async)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def _authenticate(request: Request) -> Principal:
    return _runtime(request).authenticate(bearer_token(request.headers.get("authorization")))


async def _principal(request: Request) -> Principal:
    """The caller: from the runtime's key cache in the event loop, else looked up in a worker thread."""
    known = _runtime(request).remembered_principal(bearer_token(request.headers.get("authorization")))
    if known is not None:
        return known
    return await run_in_threadpool(_authenticate, request)


async def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, authenticated by :class:`AuthRoute` (401 for a missing or bad key)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:  # a route mounted without AuthRoute
        principal = await _principal(request)
    assert isinstance(principal, Principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: str) -> Any:
    """A dependency admitting ``roles`` and ``admin`` (403 for any other role)."""

    async def check(who: PrincipalDep) -> Principal:
        who.allow(*roles)
        return who

    return Depends(check)


Admin = Annotated[Principal, require()]
Dispatcher = Annotated[Principal, require("dispatcher")]
Reader = Annotated[Principal, require("dispatcher", "planner")]


def unit_or(*roles: str) -> Any:
    """A dependency admitting ``roles``, ``admin`` and a ``unit`` key bound to the path's unit."""

    async def check(unit_id: TextId, who: PrincipalDep) -> Principal:
        who.allow_unit(unit_id, *roles)
        return who

    return Depends(check)


class AuthRoute(APIRoute):
    """A route that checks the API key before anything else, the body included.

    FastAPI parses a JSON body before it solves dependencies; this class authenticates first
    (a key seen in the last few seconds from the runtime's cache, in the event loop; any other
    in a worker thread: the lookup touches the database) and leaves the principal on
    ``request.state`` for :func:`get_principal`.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            request.state.principal = await _principal(request)
            return await handler(request)

        return authenticated


def _query_names(dependant: Any) -> Iterator[str]:
    """Query parameter names of a route's dependant and its sub-dependencies."""
    yield from (param.alias for param in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_names(sub)


async def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the endpoint does not take (a typo must not be ignored silently)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    names = getattr(route, "_geodispatch_query_names", None)
    if names is None:  # computed once per route, kept on it
        names = frozenset(_query_names(dependant))
        route._geodispatch_query_names = names  # type: ignore[union-attr]
    unknown = sorted(set(request.query_params) - names)
    if unknown:
        takes = ", ".join(sorted(names)) or "none"
        raise InputError(f"unknown query parameter(s): {', '.join(unknown)}; this endpoint takes: {takes}")


MAX_ROW_ID = 2**31 - 1
"""Largest id an INTEGER column holds (PostgreSQL int4); a larger id in a path is a 422, not a driver error."""

RowId = Annotated[int, Path(ge=-MAX_ROW_ID - 1, le=MAX_ROW_ID, description="Numeric id")]
TextId = Annotated[str, Path(min_length=1, max_length=64, pattern=IDENT_PATTERN,
                             description="Text id: letters, digits and _ . : - (1-64)")]
"""A unit or station id in a path (what ``POST /units`` and ``POST /stations`` accept as ids)."""
