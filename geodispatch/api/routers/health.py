"""Health (no key needed): ``GET /health/live`` (the process answers) and ``GET /health``
(the database reads, and writes did not last fail)."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from geodispatch.api.deps import RuntimeDep, SessionDep
from geodispatch.api.schemas import HealthOut, LiveOut

router = APIRouter(tags=["health"])


@router.get("/health/live", response_model=LiveOut)
async def live() -> LiveOut:
    """Liveness: the server process answers (no thread, no database: it answers while they hang)."""
    return LiveOut(status="alive")


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "Degraded: the last write to the database failed"}},
)
def health(runtime: RuntimeDep, session: SessionDep) -> HealthOut | JSONResponse:
    """Readiness: the database answers a read, and the last write committed.

    ``degraded`` (503) when the last write failed (read-only or full disk, a lost or read-only
    server, a timeout), with the reason. While degraded each call tries a write that changes
    nothing, so the status clears as soon as writes work again. An unreachable database is a
    503 ``database_unavailable`` error.
    """
    revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    session.close()  # end the read transaction before the probe (SQLite: no read lock held)
    if runtime.db.last_write_error is not None:
        with contextlib.suppress(Exception):  # a failure is recorded on the database: reported below
            runtime.db.probe_write()
    out = HealthOut(
        status="ok" if runtime.db.last_write_error is None else "degraded",
        reason=runtime.db.last_write_error,
        network=runtime.scenario.name,
        nodes=int(runtime.network.n_nodes),
        database=runtime.db.engine.dialect.name,
        schema_revision=revision,
    )
    if out.status == "degraded":
        return JSONResponse(out.model_dump(), status_code=503, headers={"Retry-After": "5"})
    return out
