"""``GET /health``: liveness (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from geodispatch.api.deps import RuntimeDep, SessionDep
from geodispatch.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(runtime: RuntimeDep, session: SessionDep) -> HealthOut:
    """Server up, database reachable, which network it serves."""
    revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return HealthOut(
        status="ok",
        network=runtime.scenario.name,
        nodes=int(runtime.network.n_nodes),
        database=runtime.db.engine.dialect.name,
        schema_revision=revision,
    )
