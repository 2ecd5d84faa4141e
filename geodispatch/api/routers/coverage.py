"""``GET /coverage``: population and desa covered by the units available right now, and the holes.

Uses the coverage stage (:mod:`geodispatch.coverage`): one multi-source bounded search from
the available units' positions, travel times to every population point along its own road,
per-desa shares and the largest uncovered clusters.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from geodispatch.api.deps import PrincipalDep, RuntimeDep
from geodispatch.api.models import Unit
from geodispatch.api.runtime import Runtime
from geodispatch.errors import CoverageError

router = APIRouter(tags=["queries"])

MAX_HOLES = 10
"""Uncovered clusters listed, largest first."""


class PopulationCoverage(BaseModel):
    """People within the limit of an available unit."""

    total: float
    covered: float
    share: float | None
    median_s: float | None
    unreachable: float


class DesaCoverage(BaseModel):
    """One desa/kelurahan: its people and the share covered."""

    name: str
    population: float
    covered: float
    share: float | None


class DesaSummary(BaseModel):
    """Desa fully, partly and not covered (by population share)."""

    total: int
    fully_covered: int
    partly_covered: int
    not_covered: int
    areas: list[DesaCoverage]


class Hole(BaseModel):
    """A cluster of uncovered people (centre lon/lat in degrees, area km²)."""

    rank: int
    population: float
    points: int
    area_km2: float
    lon: float
    lat: float


class CoverageOut(BaseModel):
    """Coverage of the region by the units available now."""

    minutes: float
    type: str | None
    units_available: int
    population: PopulationCoverage
    desa: DesaSummary | None
    holes: list[Hole]


def _population_snap(runtime: Runtime) -> Any:
    """Population points snapped once per server (cached on the runtime)."""
    snap = runtime.extras.get("population_snap")
    if snap is None:
        pop = runtime.scenario.population
        snap = runtime.network.snap(pop["lon"].to_numpy(), pop["lat"].to_numpy(), strict=False)
        runtime.extras["population_snap"] = snap
    return snap


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@router.get("/coverage", response_model=CoverageOut)
def coverage(
    who: PrincipalDep,
    runtime: RuntimeDep,
    minutes: Annotated[float, Query(gt=0, le=120, description="Response-time limit, minutes")] = 15.0,
    type: Annotated[str | None, Query(description="Only units of this type (e.g. ambulance)")] = None,
) -> CoverageOut:
    """Share of population and desa within ``minutes`` of an available unit, and where the holes are."""
    from geodispatch.coverage.hotspots import hotspots
    from geodispatch.coverage.stats import area_table, population_summary
    from geodispatch.coverage.surface import point_times, station_node_times

    who.allow("planner", "dispatcher")
    scenario = runtime.scenario
    if scenario.population is None:
        raise CoverageError(
            f"{scenario.name} has no population data, so coverage cannot be computed; "
            "serve a region or the synthetic regency that comes with population"
        )
    query = select(Unit.lon, Unit.lat).where(Unit.status == "available")
    if type is not None:
        query = query.where(Unit.type == type)
    with runtime.db.read() as session:
        rows = session.execute(query).all()
    net = runtime.network
    limit_s = minutes * 60.0
    pop = scenario.population
    weights = pop["population"].to_numpy(dtype=float)
    if rows:
        units = net.snap([r.lon for r in rows], [r.lat for r in rows], strict=False)
        _, node_time = station_node_times(net, units, limit_s)
        point_time = point_times(net, node_time, _population_snap(runtime), stations=units)
    else:
        node_time = np.full(net.n_nodes, np.inf)
        point_time = np.full(len(weights), np.inf)
    summary = population_summary(weights, point_time, [minutes])
    desa = None
    if scenario.areas is not None and len(scenario.areas):
        table = area_table(net, scenario.areas, {"available": (node_time, point_time)}, [minutes], pop)
        col = f"{minutes:g}min"
        areas = [
            DesaCoverage(
                name=str(r["area"]),
                population=float(r["population"] or 0.0),
                covered=float(r.get(f"covered_{col}") or 0.0),
                share=_num(r.get(f"share_{col}")),
            )
            for r in table.to_dict("records")
        ]
        shares = [a.share or 0.0 for a in areas if a.population > 0]
        desa = DesaSummary(
            total=len(areas),
            fully_covered=sum(s >= 0.999 for s in shares),
            partly_covered=sum(0 < s < 0.999 for s in shares),
            not_covered=sum(s == 0 for s in shares),
            areas=areas,
        )
    uncovered = ~(point_time <= limit_s)
    spots = hotspots(net, pop["lon"].to_numpy(), pop["lat"].to_numpy(), weights, uncovered, point_time,
                     service=type or "all", minutes=minutes)
    holes = [
        Hole(rank=int(h["rank"]), population=float(h["population"]), points=int(h["points"]),
             area_km2=float(h["area_km2"]), lon=float(h["lon"]), lat=float(h["lat"]))
        for h in spots.head(MAX_HOLES).drop(columns="geometry").to_dict("records")
    ] if len(spots) else []
    covered = float(summary["covered"][minutes])
    return CoverageOut(
        minutes=minutes,
        type=type,
        units_available=len(rows),
        population=PopulationCoverage(
            total=float(summary["population"]),
            covered=covered,
            share=summary["share"][minutes],
            median_s=summary["median_s"],
            unreachable=float(summary["unreachable"]),
        ),
        desa=desa,
        holes=holes,
    )
