"""``GET /events``: Server-Sent Events of every committed change (units, incidents, stations).

Same ``Authorization: Bearer`` key as the rest of the API (browsers read the stream with
``fetch``, since ``EventSource`` cannot send headers). Each event is::

    id: 42
    event: unit            (or incident, station)
    data: {...the entity as GET /units/{id} returns it...}

The stream opens with ``event: hello`` (``{"last_id": N}``). A client that reconnects with
``Last-Event-ID: N`` first gets every event after N that it missed; when that is more than
1,000 events, or N is unknown to this database, it gets ``event: reset`` and should reload its
state. A ``unit`` key sees only its own unit's events; an ``agency`` key its own units' and the
incidents forwarded to its agency. A comment line every 15 s keeps proxies
from closing the connection; the key is checked again then, and a revoked key gets
``event: unauthorized`` and the stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from geodispatch.api.auth import Principal, bearer_token
from geodispatch.api.deps import PrincipalDep, RuntimeDep
from geodispatch.api.events import EventHub, EventRow
from geodispatch.api.runtime import Runtime
from geodispatch.errors import AuthenticationError

router = APIRouter(tags=["events"])

HEARTBEAT_S = 15.0
"""Seconds between keep-alive comments (and re-checks of the key)."""

RETRY_MS = 1000
"""Reconnection delay suggested to clients, milliseconds."""

_HUB_LOCK = asyncio.Lock()


async def get_hub(runtime: Runtime) -> EventHub:
    """The process's hub, started on first use on the running loop."""
    hub: EventHub | None = runtime.extras.get("event_hub")
    if hub is None:
        async with _HUB_LOCK:
            hub = runtime.extras.get("event_hub")
            if hub is None:
                hub = EventHub(runtime.db, asyncio.get_running_loop())
                await hub.start()
                runtime.extras["event_hub"] = hub
    return hub


def _visible(row: EventRow, who: Principal) -> bool:
    """What a key may see: a unit key its unit; an agency key its units and the incidents forwarded to it."""
    if who.role == "unit":
        return row.entity_type == "unit" and row.entity_id == who.unit_id
    if who.role == "agency":
        data = row.data if isinstance(row.data, dict) else {}
        if row.entity_type == "unit":
            return data.get("agency_id") == who.agency_id
        if row.entity_type == "incident":
            return any(f.get("agency_id") == who.agency_id for f in data.get("forwarded_to") or [])
        return False
    return True


def _frame(row: EventRow) -> str:
    return f"id: {row.id}\nevent: {row.entity_type}\ndata: {json.dumps(row.data, separators=(',', ':'))}\n\n"


def _control(kind: str, last_id: int, data: dict[str, object]) -> str:
    return f"id: {last_id}\nevent: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _resume_from(header: str | None) -> int | None:
    if header is None or not header.strip():
        return None
    try:
        value = int(header.strip())
    except ValueError:
        return -1  # garbage: treated as unknown (reset)
    return value


@router.get("/events", response_class=StreamingResponse)
async def events(
    request: Request,
    who: PrincipalDep,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", description="Resume after this id")] = None,
) -> StreamingResponse:
    """Server-Sent Events of committed changes (see the module docstring for the format)."""
    key = bearer_token(request.headers.get("authorization"))
    hub = await get_hub(runtime)
    queue = hub.subscribe()
    start = _resume_from(last_event_id)
    try:
        backlog: list[EventRow] | None = []
        if start is not None:
            backlog = await hub.backlog(start) if 0 <= start <= hub.last_id else None
    except BaseException:
        hub.unsubscribe(queue)
        raise

    async def stream() -> AsyncIterator[str]:
        sent = hub.last_id if start is None or backlog is None else start
        try:
            yield f"retry: {RETRY_MS}\n\n"
            if backlog is None:
                yield _control("reset", sent, {"last_id": sent, "reason": "missed events are not all available"})
            else:
                yield _control("hello", sent, {"last_id": sent})
                for row in backlog:
                    sent = row.id
                    if _visible(row, who):
                        yield _frame(row)
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    try:
                        await asyncio.to_thread(runtime.authenticate, key)
                    except AuthenticationError as exc:
                        yield _control("unauthorized", sent, {"error": exc.code, "detail": exc.message})
                        return
                    yield ": keep-alive\n\n"
                    continue
                if item is None:  # the hub dropped this stream (stalled client) or stopped
                    return
                if item.id <= sent:
                    continue
                sent = item.id
                if _visible(item, who):
                    yield _frame(item)
        finally:
            hub.unsubscribe(queue)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def stop_hub(runtime: Runtime) -> None:
    """Stop the process's hub (server shutdown); open streams end."""
    hub: EventHub | None = runtime.extras.pop("event_hub", None)
    if hub is not None:
        with contextlib.suppress(Exception):
            await hub.stop()
