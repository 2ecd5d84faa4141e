"""``GET /coverage``: population and desa covered by the units available right now, and the holes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from geodispatch.api import planner
from geodispatch.api.deps import AuthRoute, Reader, RuntimeDep
from geodispatch.api.schemas import CoverageOut
from geodispatch.domain import UnitType

router = APIRouter(tags=["queries"], route_class=AuthRoute)


@router.get("/coverage", response_model=CoverageOut)
async def coverage(
    who: Reader,
    runtime: RuntimeDep,
    minutes: Annotated[float, Query(gt=0, le=120, description="Response-time limit, minutes")] = 15.0,
    type: Annotated[UnitType | None, Query(description="Only units of this type (e.g. ambulance)")] = None,
) -> CoverageOut:
    """Share of population and desa within ``minutes`` of an available unit, and where the holes are.

    Computed on the planner pool (never on the dispatchers' threads; 429 ``busy`` when its queue
    is full) and cached until the available units change.
    """
    return await runtime.planner_pool.run(planner.coverage_now, runtime, minutes, type)
