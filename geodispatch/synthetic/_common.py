"""Constants and small helpers shared by the synthetic generator's modules (local metric frame, codes)."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import shapely

from geodispatch import settings
from geodispatch.geometry import EARTH_RADIUS_M

log = logging.getLogger(__name__)


NAME = "Kabupaten Sintetis"
"""Name of the synthetic regency (Indonesian for "synthetic regency")."""
CENTRE_LON = 119.8
CENTRE_LAT = -7.5
"""Centre of the synthetic land, degrees: open Flores Sea, far from any real coast."""
TARGET_RESPONSE_S = settings.TARGET_RESPONSE_S
"""Response-time target of the synthetic regency, seconds (15 minutes)."""
MIN_NODES = 200
"""Smallest supported ``n_nodes``."""
MAX_NODES = 20_000_000
"""Largest supported ``n_nodes`` (memory grows about 1 kB per node)."""

_REF_NODES = 3000
_REF_RADIUS_M = 17_000.0  # mean radius of the main island at _REF_NODES
_PEOPLE_PER_NODE = 200_000 / _REF_NODES
_M_PER_DEG_LAT = EARTH_RADIUS_M * math.pi / 180.0
_M_PER_DEG_LON = _M_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))

# Highway classes by code; lower codes are more important (used to pick the class of shared edges).
_CLASSES = (
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "track",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
)
TRUNK, PRIMARY, SECONDARY, TERTIARY, UNCLASSIFIED, RESIDENTIAL, LIVING, SERVICE, TRACK = range(9)
_LINK_OF = {TRUNK: 9, PRIMARY: 10, SECONDARY: 11, TERTIARY: 12}
_MAXSPEEDS = ("", "30", "40", "50", "60", "80", "ID:urban", "ID:rural")
_MS = {v: i for i, v in enumerate(_MAXSPEEDS)}
_N_CURVE = 3  # intermediate points of a curved edge

class _Stopwatch:
    """Logs the duration of each generation step at DEBUG level."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        log.debug("synthetic: %-22s %7.3f s", step, now - self.last)
        self.last = now


def _source(seed: int) -> str:
    return f"synthetic: geodispatch.synthetic seed={seed}"


# ---------------------------------------------------------------------------------------- frame
def _to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local frame (m east/north of the centre) to lon/lat degrees; affine, so lines stay lines."""
    return CENTRE_LON + np.asarray(x) / _M_PER_DEG_LON, CENTRE_LAT + np.asarray(y) / _M_PER_DEG_LAT


def _geom_to_lonlat(geom: Any) -> Any:
    """Transform shapely geometries from the local frame to lon/lat (exact affine map)."""
    return shapely.transform(geom, lambda xy: np.column_stack(_to_lonlat(xy[:, 0], xy[:, 1])))
