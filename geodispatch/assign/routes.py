"""The fastest route of given units to one point: ETA, road distance and the line to draw.

The recommendation explains who goes; the console also draws how they get there, for the
recommended units, for units the dispatcher swapped in, and for units already on their way.
The same rules as :func:`~geodispatch.assign.recommend` apply (stale positions fall back to the
home station, the same snap limit), and the reverse search of the incident is the one the
recommendation already made (cached), so the routes of a fresh incident cost no new search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from geodispatch.assign.eta import (
    effective_positions,
    incident_etas,
    route_distance_m,
    route_geojson,
    route_pieces,
    snap_incident,
    snap_units,
)
from geodispatch.assign.model import DEFAULT_MAX_POSITION_AGE_S, Unit
from geodispatch.assign.results import round_or_none
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.snap import DEFAULT_SNAP_DISTANCE_M


@dataclass(frozen=True)
class UnitRoute:
    """One unit's fastest route to the point.

    Attributes
    ----------
    unit_id : str
        The unit.
    eta_s : float
        Travel time, seconds (``inf`` when it cannot reach the point).
    distance_m : float
        Road distance, metres (``inf`` when unreachable).
    position : str
        Where the route starts: ``reported``, ``home_station`` or ``stale`` (see
        :class:`~geodispatch.assign.eta.Positions`).
    geometry : dict or None
        GeoJSON LineString (lon/lat degrees), None when unreachable.
    """

    unit_id: str
    eta_s: float
    distance_m: float
    position: str
    geometry: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (inf -> None)."""
        return {
            "unit_id": self.unit_id,
            "eta_s": round_or_none(self.eta_s),
            "distance_m": round_or_none(self.distance_m),
            "position": self.position,
            "geometry": self.geometry,
        }


def unit_routes(
    network: RoadNetwork,
    units: Sequence[Unit],
    lon: float,
    lat: float,
    *,
    now: datetime | None = None,
    max_position_age_s: float = DEFAULT_MAX_POSITION_AGE_S,
    snap_limit_m: float = DEFAULT_SNAP_DISTANCE_M,
) -> list[UnitRoute]:
    """Each unit's fastest route to a point, in the order given.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    units : sequence of Unit
        The units (any status: a unit already on its way is routed from where it is).
    lon, lat : float
        The point (an incident), degrees.
    now : datetime, optional
        Current time for the stale-position rule (default: wall clock, UTC).
    max_position_age_s : float
        Reports older than this fall back to the home station, seconds.
    snap_limit_m : float
        Snap limit of the point and the units, metres.

    Returns
    -------
    list of UnitRoute

    Raises
    ------
    SnapError
        The point is farther than ``snap_limit_m`` from any road.
    """
    clock = now or datetime.now(UTC)
    if clock.tzinfo is None:
        clock = clock.replace(tzinfo=UTC)
    snap = snap_incident(network, lon, lat, "point", snap_limit_m)
    if not units:
        return []
    positions = effective_positions(units, clock, max_position_age_s)
    snaps = snap_units(network, positions.lon, positions.lat, snap_limit_m)
    res = incident_etas(network, snap, snaps, math.inf, unit_types=[u.type for u in units])
    out = []
    for k, unit in enumerate(units):
        pieces = route_pieces(network, res, snaps, k)
        eta = float(res.eta_s[k])
        dist = route_distance_m(network, pieces) if math.isfinite(eta) else math.inf
        out.append(UnitRoute(unit.id, eta, dist, positions.source[k], route_geojson(network, pieces)))
    return out
