"""``GET /reach``: which available units reach a point, and in how long."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from geodispatch.api.deps import PrincipalDep, RuntimeDep
from geodispatch.api.recommend import available_units
from geodispatch.api.schemas import ReachOut, ReachUnit

router = APIRouter(tags=["queries"])


@router.get("/reach", response_model=ReachOut)
def reach(
    who: PrincipalDep,
    runtime: RuntimeDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, degrees")],
    minutes: Annotated[float, Query(gt=0, le=240, description="Time limit, minutes")] = 15.0,
    type: Annotated[str | None, Query(description="Only units of this type")] = None,
) -> ReachOut:
    """Available units that reach the point within ``minutes``, fastest first (ETA in seconds).

    ETAs come from the assignment engine's unit-to-incident search (one reverse bounded
    Dijkstra from the point, exact along partial edges), from the same positions as its
    recommendations: a unit whose position report is older than 30 min starts from home.
    """
    from geodispatch.assign.eta import effective_positions, incident_etas, snap_incident, snap_units
    from geodispatch.assign.model import DEFAULT_MAX_POSITION_AGE_S

    who.allow("dispatcher", "planner")
    runtime.check_location(lon, lat, "point")
    rows = [u for u in available_units(runtime) if type is None or u.type == type]
    limit_s = minutes * 60.0
    snap = snap_incident(runtime.network, lon, lat, max_distance_m=runtime.snap_limit_m)
    units: list[ReachUnit] = []
    if rows:
        positions = effective_positions(rows, datetime.now(UTC), DEFAULT_MAX_POSITION_AGE_S)
        snaps = snap_units(runtime.network, positions.lon, positions.lat, max_distance_m=runtime.snap_limit_m)
        eta = incident_etas(runtime.network, snap, snaps, limit_s).eta_s
        order = np.argsort(eta, kind="stable")
        units = [
            ReachUnit(id=rows[i].id, type=rows[i].type, eta_s=round(float(eta[i]), 1), position=positions.source[i])
            for i in order
            if np.isfinite(eta[i])
        ]
    return ReachOut(
        lon=lon,
        lat=lat,
        snapped_lon=float(snap.lon[0]),
        snapped_lat=float(snap.lat[0]),
        snap_distance_m=round(float(snap.distance_m[0]), 1),
        limit_s=limit_s,
        units=units,
    )
