"""Small geometry helpers every layer shares: great-circle distance, the metric CRS, lon/lat checks.

This module sits at the bottom of the import graph (it imports numpy and pyproj only), so the
network, the stages and the API use one definition of each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyproj import CRS

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius, metres (IUGG)."""


def haversine_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> np.ndarray:
    """Great-circle distance in metres between arrays of lon/lat points (degrees)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


def utm_crs(lon: float, lat: float) -> CRS:
    """Return the WGS 84 / UTM zone CRS containing a point (the region's metric CRS)."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def lonlat_problem(lon: Any, lat: Any) -> str | None:
    """Say what is wrong with lon/lat values, or return None when they are valid degrees.

    The one lon/lat validator of the project: callers raise their own error class with the
    message (prefixed with what the points are), so the rule is the same everywhere.

    Parameters
    ----------
    lon, lat : float or array-like
        Longitudes and latitudes, degrees (EPSG:4326).

    Returns
    -------
    str or None
        ``None`` when every pair is finite with ``|lon| <= 180`` and ``|lat| <= 90``.
    """
    try:
        x = np.asarray(lon, dtype=float)
        y = np.asarray(lat, dtype=float)
    except (TypeError, ValueError):
        return f"lon/lat must be numbers (degrees), got {lon!r}, {lat!r}"
    if x.shape != y.shape:
        return "lon and lat must have the same length"
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return "coordinates must be finite numbers (no blanks, NaN or inf)"
    if (np.abs(y) > 90).any() or (np.abs(x) > 180).any():
        return "coordinates must be lon/lat degrees (EPSG:4326); these look projected or swapped (lon first)"
    return None
