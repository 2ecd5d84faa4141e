"""Every error leaves the API as ``{"error": code, "detail": message}``: 4xx for bad requests,
5xx when the server or its database fails.

Handlers for :class:`~geodispatch.errors.GeodispatchError`, FastAPI's request validation
(invalid JSON is 400 ``invalid_json``; a well-formed body with wrong or unknown fields is 422
``validation_error``), Starlette's HTTP errors (unknown route 404, wrong method 405), a database
that cannot be reached, times out or refuses writes (SQLAlchemy ``OperationalError``,
``InterfaceError``, ``InternalError``: 503 ``database_unavailable`` with ``Retry-After``) and,
as a last resort, any other exception (500
``internal_error``, logged with its traceback, no traceback in the body).
:class:`BodySizeLimit` answers 413 for bodies over the limit before the application reads them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geodispatch.errors import (
    AssignmentError,
    AuthenticationError,
    ConflictError,
    CoverageError,
    DatabaseUnavailableError,
    DownloadError,
    GeodispatchError,
    InputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    ServerBusyError,
    SimulationError,
    SitingError,
    SnapError,
    SourceNotFoundError,
)

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limited",
    415: "unsupported_media_type",
    422: "validation_error",
}

HTTP_STATUS: dict[type[GeodispatchError], int] = {
    InputError: 422,
    SnapError: 422,
    CoverageError: 422,
    AssignmentError: 422,
    SitingError: 422,
    SimulationError: 422,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    SourceNotFoundError: 404,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    RateLimitedError: 429,
    ServerBusyError: 429,
    DownloadError: 502,
    DatabaseUnavailableError: 503,
}
"""HTTP status of each core error class; a class not listed takes its nearest listed base's
status, and 400 when none is listed (unreadable or unsupported files, bad region config...)."""


def http_status(exc: GeodispatchError) -> int:
    """The HTTP status of a core error (see :data:`HTTP_STATUS`)."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


DATABASE_RETRY_AFTER_S = 5
"""``Retry-After`` (seconds) of a 503 ``database_unavailable`` answer."""


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The error JSON body."""
    return {"error": code, "detail": detail, **extra}


def _geodispatch_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GeodispatchError)
    extra = exc.context if isinstance(exc, ConflictError) else {}
    status = http_status(exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
    if status in (429, 503):
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER_S)}
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return JSONResponse(error_body(exc.code, exc.message, **extra), status_code=status, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        ctx = next(e for e in errors if e.get("type") == "json_invalid").get("ctx", {})
        reason = ctx.get("error", "malformed JSON")
        detail = f"the request body is not valid JSON: {reason}"
        return JSONResponse(error_body("invalid_json", detail), status_code=400)
    parts = []
    for err in errors:
        where = _location(err.get("loc", ()))
        if err.get("type") == "extra_forbidden":
            parts.append(f"{where}: unknown field")
        elif err.get("type") == "missing" and where == "body":
            parts.append("body: a JSON object is required")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return JSONResponse(error_body("validation_error", "; ".join(parts)), status_code=422)


_BODY_PARSE_FAILED = "There was an error parsing the body"
"""FastAPI's 400 for a body it could not decode (invalid UTF-8, nesting too deep, a huge integer)."""


def _allowed_methods(request: Request) -> str:
    """Every method the API documents at this path (a 405 from one route names only that route's)."""
    from starlette.routing import compile_path

    app = request.app
    table = getattr(app.state, "allowed_methods", None)
    if table is None:
        table = app.state.allowed_methods = [
            (compile_path(path)[0], sorted(m.upper() for m in ops))
            for path, ops in app.openapi().get("paths", {}).items()
        ]
    methods = {m for regex, ms in table if regex.match(request.url.path) for m in ms}
    return ", ".join(sorted(methods))


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    if exc.status_code == 400 and detail == _BODY_PARSE_FAILED:
        code = "invalid_json"
        detail = ("the request body is not valid JSON (invalid UTF-8, nesting too deep or a number too long); "
                  "send a JSON object")
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such endpoint; see /docs for the API"
    return JSONResponse(error_body(code, detail), status_code=exc.status_code, headers=headers or None)


def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError | InterfaceError | InternalError)
    reason = " ".join(str(exc.orig).split())  # the driver's message, one line (logged, not sent)
    logger.error("database unavailable (%s): %s", type(exc.orig).__name__, reason)
    detail = (
        f"the database is unavailable ({type(exc).__name__}); the request was not completed, "
        "retry when the database is back (the error is logged)"
    )
    return JSONResponse(
        error_body(DatabaseUnavailableError.code, detail),
        status_code=HTTP_STATUS[DatabaseUnavailableError],
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return JSONResponse(
        error_body("internal_error", f"the server failed ({type(exc).__name__}); the error is logged"),
        status_code=500,
    )


_DESCRIPTIONS = {
    400: "Malformed request: the body is not JSON (`invalid_json`)",
    401: "No API key, or an unknown or revoked one (`unauthorized`)",
    403: "The key's role may not do this (`forbidden`)",
    404: "No such unit, station, incident, key or endpoint (`not_found`)",
    409: "Conflicts with the current state (`unit_unavailable`, `illegal_transition`, `already_exists`, ...)",
    413: "The body is larger than the server accepts (`payload_too_large`)",
    422: "Invalid parameters or body (`validation_error`, `invalid_input`, `off_network`, ...)",
    429: "Planner queries are full; retry after `Retry-After` seconds (`busy`)",
    503: "The database is unavailable or timed out; retry after `Retry-After` seconds "
         "(`database_unavailable`, `timeout`)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the error body for ``statuses`` (all of them by default)."""
    from geodispatch.api.schemas import ErrorOut

    return {status: {"model": ErrorOut, "description": _DESCRIPTIONS[status]}
            for status in (statuses or tuple(_DESCRIPTIONS))}


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(GeodispatchError, _geodispatch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(InternalError, _database_unavailable)  # e.g. a read-only PostgreSQL
    app.add_exception_handler(Exception, _unexpected)


class BodySizeLimit:
    """ASGI middleware: 413 for request bodies over ``max_bytes`` (declared or streamed).

    The body is read (at most ``max_bytes + 1`` bytes) before the application runs and replayed
    to it, so a too-large body is rejected without the application ever seeing part of it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            error_body("payload_too_large", f"the request body is larger than {self.max_bytes} bytes; send less")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
