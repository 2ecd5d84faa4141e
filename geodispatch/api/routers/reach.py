"""``GET /reach``: which available units reach a point, and in how long."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query
from sqlalchemy import select

from geodispatch.api.deps import PrincipalDep, RuntimeDep
from geodispatch.api.models import Unit
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
    Dijkstra from the point, exact along partial edges).
    """
    from geodispatch.assign.eta import incident_etas, snap_incident, snap_units

    who.allow("dispatcher", "planner")
    runtime.check_location(lon, lat, "point")
    query = select(Unit.id, Unit.type, Unit.lon, Unit.lat).where(Unit.status == "available").order_by(Unit.id)
    if type is not None:
        query = query.where(Unit.type == type)
    with runtime.db.read() as session:
        rows = session.execute(query).all()
    limit_s = minutes * 60.0
    snap = snap_incident(runtime.network, lon, lat)
    units: list[ReachUnit] = []
    if rows:
        snaps = snap_units(runtime.network, np.array([r.lon for r in rows]), np.array([r.lat for r in rows]))
        eta = incident_etas(runtime.network, snap, snaps, limit_s).eta_s
        order = np.argsort(eta, kind="stable")
        units = [
            ReachUnit(id=rows[i].id, type=rows[i].type, eta_s=round(float(eta[i]), 1))
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
