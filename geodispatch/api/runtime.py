"""What a running API server holds: the scenario (network loaded once) and the database."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from geodispatch.api.auth import Principal, authenticate
from geodispatch.api.db import Database
from geodispatch.errors import SnapError
from geodispatch.scenario import Scenario

logger = logging.getLogger(__name__)

DEFAULT_SNAP_LIMIT_M = 1000.0
"""Incidents and units farther than this (m) from any road are refused (422 ``off_network``)."""

DEFAULT_MAX_BODY_BYTES = 64 * 1024
"""Largest accepted request body, bytes (larger: 413)."""

_BBOX_MARGIN_DEG = 0.05
"""Points more than this (degrees, about 5.5 km) outside the network's bbox are 'outside the region'."""


@dataclass
class Runtime:
    """The server's long-lived state.

    Attributes
    ----------
    scenario : Scenario
        Road network, stations, population, SOP of the region served.
    db : Database
        The database.
    snap_limit_m : float
        Snap limit for incidents and unit positions, metres.
    """

    scenario: Scenario
    db: Database
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def network(self) -> Any:
        """The road network."""
        return self.scenario.network

    def authenticate(self, key: str) -> Principal:
        """Look the key up (401 when unknown or revoked)."""
        with self.db.read() as session:
            return authenticate(session, key)

    def check_location(self, lon: float, lat: float, what: str) -> None:
        """Refuse a point outside the region or too far from any road.

        Raises
        ------
        SnapError
            422 ``off_network``, saying which of the two it was.
        """
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise SnapError(f"{what}: lon/lat must be finite numbers of degrees")
        west, south, east, north = self.network.bbox
        m = _BBOX_MARGIN_DEG
        if not (west - m <= lon <= east + m and south - m <= lat <= north + m):
            raise SnapError(
                f"{what} at lon={lon:.6f}, lat={lat:.6f} is outside the region served ({self.scenario.name}: "
                f"lon {west:.4f}..{east:.4f}, lat {south:.4f}..{north:.4f}); check the coordinates and lon/lat order"
            )
        snap = self.network.snap([lon], [lat], max_distance_m=self.snap_limit_m, strict=False)
        if snap.edge[0] < 0:
            raise SnapError(
                f"{what} at lon={lon:.6f}, lat={lat:.6f} is {snap.distance_m[0]:.0f} m from the nearest road "
                f"(limit {self.snap_limit_m:g} m); give a point on or near a road"
            )
