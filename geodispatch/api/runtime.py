"""What a running API server holds: the scenario (network loaded once) and the database."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from geodispatch import settings
from geodispatch.api.auth import Principal, authenticate, hash_key
from geodispatch.api.capacity import PlannerPool
from geodispatch.api.db import Database
from geodispatch.errors import SnapError
from geodispatch.network.snap import DEFAULT_SNAP_DISTANCE_M
from geodispatch.scenario import Scenario

logger = logging.getLogger(__name__)

DEFAULT_SNAP_LIMIT_M = DEFAULT_SNAP_DISTANCE_M
"""Incidents and units farther than this (m) from any road are refused (422 ``off_network``).

The same limit is handed to the engine (``snap_limit_m`` of :func:`geodispatch.assign.recommend`),
so a point the API accepts is one the engine snaps."""

DEFAULT_MAX_BODY_BYTES = 64 * 1024
"""Largest accepted request body, bytes (larger: 413)."""

AUTH_CACHE_S = 5.0
"""How long a checked API key is remembered, seconds."""

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
        Snap limit for incidents and unit positions, metres: the API's location check and the
        engine's snaps (recommendations, ``/reach``) both use it.
    clock : callable
        The current time (aware UTC) for the 112 workflow: forwards, acknowledgement deadlines,
        public ETAs. Tests inject their own.
    eta_engine : EtaEngine
        The network's ETA engine: unit snaps, recent incident searches and coverage indexes kept
        across requests (every recommendation and ``/reach`` uses it).
    planner_pool : PlannerPool
        Threads of ``/coverage`` and ``/reach``, apart from the dispatchers'.
    """

    scenario: Scenario
    db: Database
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)
    planner_pool: PlannerPool = field(default_factory=PlannerPool, repr=False)
    extras: dict[str, Any] = field(default_factory=dict, repr=False)
    _auth_cache: dict[str, tuple[Principal, float]] = field(default_factory=dict, repr=False)
    _auth_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def network(self) -> Any:
        """The road network."""
        return self.scenario.network

    def __post_init__(self) -> None:
        from geodispatch.assign.eta import EtaEngine

        self.eta_engine: EtaEngine = EtaEngine(self.network)
        if self.network.n_nodes >= settings.HIERARCHY_MIN_NODES:
            self.eta_engine.start_hierarchy()  # far incidents in milliseconds once built

    def authenticate(self, key: str) -> Principal:
        """Look the key up (401 when unknown or revoked).

        Good keys are remembered for :data:`AUTH_CACHE_S` seconds (by their hash), so a
        dispatcher's burst of requests costs one lookup; revoking through this server forgets
        them at once, revoking elsewhere takes effect within that time.
        """
        digest = hash_key(key)
        now = time.monotonic()
        with self._auth_lock:
            hit = self._auth_cache.get(digest)
            if hit is not None and hit[1] > now:
                return hit[0]
        with self.db.read() as session:
            principal = authenticate(session, key)
        with self._auth_lock:
            if len(self._auth_cache) > 10_000:
                self._auth_cache.clear()
            self._auth_cache[digest] = (principal, now + AUTH_CACHE_S)
        return principal

    def remembered_principal(self, key: str) -> Principal | None:
        """The caller of ``key`` when :meth:`authenticate` checked it less than :data:`AUTH_CACHE_S`
        seconds ago, else None (no database access: safe to call from the event loop)."""
        digest = hash_key(key)
        with self._auth_lock:
            hit = self._auth_cache.get(digest)
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def forget_keys(self) -> None:
        """Drop every remembered key (after a revocation)."""
        with self._auth_lock:
            self._auth_cache.clear()

    def prepare_positions(self, lon: list[float], lat: list[float], types: list[str]) -> None:
        """Precompute the engine's coverage reach sets of unit bases (for its tie-break).

        A unit's base is its home, or its position when its home is unknown. Called when units
        are created or report a new position, and at start-up for the whole fleet, so that a
        new incident's recommendation only looks them up. ``types``: each unit's type, whose
        view of the network the reach set is on (a boat may carry some unit types only).
        """
        if self.scenario.population is None or not lon:
            return
        engine, population, target = self.eta_engine, self.scenario.population, self.scenario.target_response_s
        for utype in sorted(set(types)):  # for_unit_type is the engine itself where no boat blocks the type
            mine = [i for i, t in enumerate(types) if t == utype]
            index = engine.for_unit_type(utype).coverage_index(population, target)
            index.prepare([lon[i] for i in mine], [lat[i] for i in mine])

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
        snap = self.eta_engine.snap_point(lon, lat, self.snap_limit_m)  # the recommendation reuses it
        if snap.edge[0] < 0:
            raise SnapError(
                f"{what} at lon={lon:.6f}, lat={lat:.6f} is {snap.distance_m[0]:.0f} m from the nearest road "
                f"(limit {self.snap_limit_m:g} m); give a point on or near a road"
            )
