"""The public status of a report: ``GET /status/{public_token}``, no key, rate-limited per client."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from geodispatch.api import workflow
from geodispatch.api.deps import RuntimeDep, SessionDep
from geodispatch.api.schemas import PublicStatusOut

router = APIRouter(prefix="/status", tags=["public"])

Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/{public_token}", response_model=PublicStatusOut)
def public_status(public_token: Token, request: Request, runtime: RuntimeDep, session: SessionDep) -> PublicStatusOut:
    """Where a report stands, in plain Bahasa Indonesia (diterima, diteruskan ke Damkar dan PSC 119,
    unit dalam perjalanan dengan perkiraan tiba N menit, sudah di lokasi, selesai).

    Needs no key: the token given to the caller is the only access, and the answer holds
    nothing personal (no coordinates, notes, unit ids or caller data). At most 30 requests a
    minute per client address (429 with ``Retry-After``).
    """
    limiter = runtime.extras.setdefault("status_rate_limiter", workflow.RateLimiter())
    limiter.check(request.client.host if request.client else "unknown")
    return workflow.public_status(session, runtime, public_token)
