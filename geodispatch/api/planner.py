"""The planner's queries over the live fleet: ``/reach`` and ``/coverage`` as service functions.

Each takes the runtime (network, scenario, database) and the query's parameters, reads in a
session of its own and returns the response schema; the routers only declare the parameters
and the roles, and run these on the planner pool (:mod:`geodispatch.api.capacity`).
``/coverage`` answers are cached by what they depend on: the positions of the available units
(of the type asked) and the limit; any unit change gives a new key.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from geodispatch.api.models import Unit
from geodispatch.api.recommend import available_units
from geodispatch.api.runtime import Runtime
from geodispatch.api.schemas import (
    CoverageOut,
    DesaCoverage,
    DesaSummary,
    Hole,
    PopulationCoverage,
    ReachOut,
    ReachUnit,
)
from geodispatch.api.state import DISPATCHABLE_STATUSES
from geodispatch.errors import CoverageError

MAX_HOLES = 10
"""Uncovered clusters listed by ``/coverage``, largest first."""


def reach(runtime: Runtime, lon: float, lat: float, minutes: float, unit_type: str | None = None) -> ReachOut:
    """Available units that reach a point within ``minutes``, fastest first.

    ETAs come from the assignment engine's unit-to-incident search (one reverse bounded
    Dijkstra from the point, exact along partial edges), from the same positions as its
    recommendations: a unit whose position report is older than 30 min starts from home.

    Parameters
    ----------
    runtime : Runtime
        Network, snap limit and database.
    lon, lat : float
        The point, degrees (EPSG:4326).
    minutes : float
        Time limit, minutes.
    unit_type : str, optional
        Only units of this type.

    Returns
    -------
    ReachOut
        ETAs in seconds; units that cannot make it in time are left out.

    Raises
    ------
    SnapError
        The point is outside the region or too far from a road (422).
    """
    from geodispatch.assign.eta import effective_positions, incident_etas, snap_incident, snap_units
    from geodispatch.assign.model import DEFAULT_MAX_POSITION_AGE_S

    runtime.check_location(lon, lat, "point")
    rows = [u for u in available_units(runtime) if unit_type is None or u.type == unit_type]
    limit_s = minutes * 60.0
    snap = snap_incident(runtime.network, lon, lat, max_distance_m=runtime.snap_limit_m, engine=runtime.eta_engine)
    units: list[ReachUnit] = []
    if rows:
        positions = effective_positions(rows, datetime.now(UTC), DEFAULT_MAX_POSITION_AGE_S)
        engine = runtime.eta_engine
        snaps = snap_units(
            runtime.network, positions.lon, positions.lat, max_distance_m=runtime.snap_limit_m, engine=engine
        )
        types = [r.type for r in rows]
        eta = incident_etas(runtime.network, snap, snaps, limit_s, engine=engine, unit_types=types).eta_s
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


COVERAGE_CACHE_SIZE = 32
"""``/coverage`` answers kept (per server process)."""

_CACHE_LOCK = threading.Lock()


def coverage_now(runtime: Runtime, minutes: float, unit_type: str | None = None) -> CoverageOut:
    """Share of population and desa within ``minutes`` of a free unit (available or returning), and the holes.

    One multi-source bounded search from the available units' positions (coverage stage),
    travel times to every population point along its own road, per-desa shares and the
    largest uncovered clusters.

    Parameters
    ----------
    runtime : Runtime
        Network, scenario (population, desa areas) and database.
    minutes : float
        Response-time limit, minutes.
    unit_type : str, optional
        Only units of this type.

    Returns
    -------
    CoverageOut

    Raises
    ------
    CoverageError
        The scenario has no population (422).
    """
    scenario = runtime.scenario
    if scenario.population is None:
        raise CoverageError(
            f"{scenario.name} has no population data, so coverage cannot be computed; "
            "serve a region or the synthetic regency that comes with population"
        )
    query = select(Unit.lon, Unit.lat, Unit.type).where(Unit.status.in_(sorted(DISPATCHABLE_STATUSES)))
    if unit_type is not None:
        query = query.where(Unit.type == unit_type)
    with runtime.db.read() as session:
        rows = session.execute(query.order_by(Unit.lon, Unit.lat, Unit.type)).all()
    key = (minutes, unit_type, tuple((r.lon, r.lat, r.type) for r in rows))  # boats carry some types only
    cache: OrderedDict[Any, CoverageOut] = runtime.extras.setdefault("coverage_cache", OrderedDict())
    with _CACHE_LOCK:
        hit = cache.get(key)
    if hit is not None:
        return hit
    out = _coverage(runtime, rows, minutes, unit_type)
    with _CACHE_LOCK:
        cache[key] = out
        while len(cache) > COVERAGE_CACHE_SIZE:
            cache.popitem(last=False)
    return out


def _coverage(runtime: Runtime, rows: Sequence[Any], minutes: float, unit_type: str | None) -> CoverageOut:
    from geodispatch.coverage.hotspots import hotspots
    from geodispatch.coverage.stats import area_table, population_summary
    from geodispatch.coverage.surface import point_times, station_node_times

    scenario = runtime.scenario
    net = runtime.network
    limit_s = minutes * 60.0
    pop = scenario.population
    weights = pop["population"].to_numpy(dtype=float)
    if rows:  # the API's snap limit: a unit the API accepted is one the search starts from
        lons, lats = [r.lon for r in rows], [r.lat for r in rows]
        units = net.snap(lons, lats, max_distance_m=runtime.snap_limit_m, strict=False)
        # each unit crosses only the boats that carry its type: one search per network travelled
        types = np.asarray([r.type for r in rows], dtype=object)
        node_time = np.full(net.n_nodes, np.inf)
        point_time = np.full(len(weights), np.inf)
        views: dict[int, tuple[Any, np.ndarray]] = {}
        for utype in dict.fromkeys(types.tolist()):
            view = net.for_unit_type(str(utype))
            views[id(view)] = (view, views.get(id(view), (view, types != types))[1] | (types == utype))
        for view, mine in views.values():
            some = units if mine.all() else dataclasses.replace(units, edge=np.where(mine, units.edge, -1))
            _, t_nodes = station_node_times(view, some, limit_s)
            node_time = np.minimum(node_time, t_nodes)
            point_time = np.minimum(point_time, point_times(net, t_nodes, _population_snap(runtime), stations=some))
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
                population=round(float(r["population"] or 0.0)),
                covered=round(float(r.get(f"covered_{col}") or 0.0)),
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
                     service=unit_type or "all", minutes=minutes)
    holes = [
        Hole(rank=int(h["rank"]), population=round(float(h["population"])), points=int(h["points"]),
             area_km2=float(h["area_km2"]), lon=float(h["lon"]), lat=float(h["lat"]))
        for h in spots.head(MAX_HOLES).drop(columns="geometry").to_dict("records")
    ] if len(spots) else []
    return CoverageOut(
        minutes=minutes,
        type=unit_type,
        units_available=len(rows),
        population=PopulationCoverage(
            total=round(float(summary["population"])),
            covered=round(float(summary["covered"][minutes])),
            share=summary["share"][minutes],
            median_s=summary["median_s"],
            unreachable=round(float(summary["unreachable"])),
        ),
        desa=desa,
        holes=holes,
    )
