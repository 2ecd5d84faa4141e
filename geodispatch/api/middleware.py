"""ASGI middleware that guards every request before the application sees it.

:class:`RejectControlCharacters`
    422 for a path or query string holding a control character (``/units/%00``,
    ``?type=%00``): no id has one, and PostgreSQL cannot even compare text with a NUL.
:class:`Deadline`
    503 ``timeout`` for a request without a response after a deadline (a hung database).
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import unquote_to_bytes

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geodispatch.api.errors import error_body

logger = logging.getLogger(__name__)

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


async def send_json(send: Send, status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> None:
    """Send a whole JSON response."""
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class RejectControlCharacters:
    """ASGI middleware: 422 ``validation_error`` for control characters in the path or query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            for where, raw in (("path", path), ("query string", scope.get("query_string", b""))):
                found = _CONTROL.search(unquote_to_bytes(raw.replace(b"+", b" ")))
                if found is not None:
                    detail = (f"the {where} contains the control character U+{found.group()[0]:04X}; "
                              "ids and parameters never hold one")
                    await send_json(send, 422, error_body("validation_error", detail))
                    return
        await self.app(scope, receive, send)


class Deadline:
    """ASGI middleware: answer 503 ``timeout`` when a request has no response within ``seconds``.

    The database timeouts end most waits; this catches the rest (a PostgreSQL server that is
    stopped, not dead, never cancels a statement). The late request keeps running in its
    thread and whatever it sends afterwards is dropped; the 503 says that a write may still
    complete, so a client reads before it retries. ``Connection: close`` frees the client's
    connection at once.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = float(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        state = {"started": False, "expired": False}

        async def guarded(message: Message) -> None:
            if state["expired"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        async def expire() -> None:
            await anyio.sleep(self.seconds)
            if not state["started"]:
                state["expired"] = True
                detail = (f"the server could not finish this request within {self.seconds:g} s (the database is "
                          "not answering); a write may still complete when it returns: read before you retry")
                await send_json(send, 503, error_body("timeout", detail),
                                {"Retry-After": "5", "Connection": "close"})

        async with anyio.create_task_group() as group:
            group.start_soon(expire)
            try:
                await self.app(scope, receive, guarded)
            except Exception:
                if not state["expired"]:
                    raise
                logger.exception("a request failed after its 503 timeout answer")
            finally:
                group.cancel_scope.cancel()
