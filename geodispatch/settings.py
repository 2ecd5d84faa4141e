"""User-facing defaults in one place (like ``osmnx.settings``).

Every module reads its defaults from here instead of keeping its own copy, so a deployment
changes a value once. Values are module attributes; functions take them as their default
arguments, so set them before importing the modules that use them (or pass the argument).

Environment variables override where noted, so a server or CI job configures without code.
"""

from __future__ import annotations

import os
from pathlib import Path

SNAP_LIMIT_M = 1000.0
"""Largest distance (metres) from a point (station, incident, unit, person, candidate site) to
the road it is snapped to. Farther points are reported, not routed: 1 km is about 12 minutes on
foot, beyond which "reachable by road" stops meaning much for an ambulance or a fire truck."""

TARGET_RESPONSE_S = 900.0
"""Target response time, seconds: 15 minutes (the PSC 119 promise, e.g. Bantaeng's)."""

OFFROAD_M = 100.0
"""Off-road buffer of isochrone polygons, metres: how far from a reached road a place still counts
as reached (a house, a short footpath). Polygons never extend farther than this over unreached land
or water."""

DB_TIMEOUT_S = 5.0
"""How long the dispatch API waits on its database before answering 503 with ``Retry-After``,
seconds: a PostgreSQL connection attempt, statement or row lock, a free pooled connection, or
SQLite's write lock. A dispatcher is better told "retry" in seconds than left waiting."""

REQUEST_DEADLINE_S = 15.0
"""The dispatch API answers 503 ``timeout`` to a request still unanswered after this long, seconds
(a database that hangs without failing, e.g. a stopped PostgreSQL, outlives its own timeouts)."""

HIERARCHY_MIN_NODES = int(os.environ.get("GEODISPATCH_HIERARCHY_MIN_NODES", "50000"))
"""The dispatch API server builds a contraction hierarchy for the ETA engine of a network with at
least this many nodes (in a background thread at start-up: seconds per 100k nodes; until it is
ready the engine answers with Dijkstra searches, same answers). A far rural incident then costs
milliseconds instead of a search across the regency. ``$GEODISPATCH_HIERARCHY_MIN_NODES`` overrides."""

CACHE_ENV = "GEODISPATCH_CACHE_DIR"
"""Environment variable that overrides :func:`cache_dir`."""


def cache_dir() -> Path:
    """Directory for downloaded and built networks and OSM station lists.

    Returns
    -------
    Path
        ``$GEODISPATCH_CACHE_DIR`` when set, else the user cache directory (platformdirs).
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("geodispatch"))
