"""``GET /reach``: which available units reach a point, and in how long."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from geodispatch.api import planner
from geodispatch.api.deps import AuthRoute, Reader, RuntimeDep
from geodispatch.api.schemas import ReachOut
from geodispatch.domain import UnitType

router = APIRouter(tags=["queries"], route_class=AuthRoute)


@router.get("/reach", response_model=ReachOut)
async def reach(
    who: Reader,
    runtime: RuntimeDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, degrees")],
    minutes: Annotated[float, Query(gt=0, le=240, description="Time limit, minutes")] = 15.0,
    type: Annotated[UnitType | None, Query(description="Only units of this type")] = None,
) -> ReachOut:
    """Available units that reach the point within ``minutes``, fastest first (ETA in seconds).

    ETAs start from the same positions as the recommendations: a unit whose position report
    is older than 30 min starts from home. Computed on the planner pool (429 ``busy`` when full).
    """
    return await runtime.planner_pool.run(planner.reach, runtime, lon, lat, minutes, type)
