"""Indonesian speed profile for emergency vehicles: km/h per OSM highway class.

Why these defaults
------------------
Indonesian speed limits are set by PP 79/2013 (Pasal 23) and Permenhub PM 111/2015: at most
100 km/h on jalan bebas hambatan (toll roads), 80 km/h on jalan antarkota, 50 km/h in
kawasan perkotaan and 30 km/h in kawasan permukiman. UU 22/2009 Pasal 134 gives ambulances and
fire engines on duty the right of way, but in practice mixed traffic (motorcycles, angkot,
market fronts), narrow lanes and road condition keep them near or below those limits. The
defaults below are therefore *planning* speeds: the legal limit of the road's function
(arteri / kolektor / lokal / lingkungan), reduced on the smaller classes for the road surface
and traffic typical of a kabupaten. They are assumptions, not measurements: a regency with GPS
traces of its own fleet should override them in its region YAML (``speeds_kph:``).

=============  ===============================  ======
OSM highway    Indonesian function              km/h
=============  ===============================  ======
motorway       jalan bebas hambatan (tol)       80
trunk          arteri primer (jalan nasional)   60
primary        arteri                           50
secondary      kolektor                         45
tertiary       kolektor / lokal                 40
unclassified   lokal                            30
residential    lingkungan (permukiman)          25
road           unknown class                    30
living_street  lingkungan, shared space         15
service        akses, gang                      15
track          jalan tani / kebun, unpaved      10
``*_link``     ramps of the class above         ~70 % of the class
=============  ===============================  ======

A parseable ``maxspeed`` tag replaces the class default (values outside 5-130 km/h are treated
as junk). ``"60"``, ``"60 km/h"``, ``"60 mph"``, ``"60;80"`` (the lowest wins, to stay safe),
osmnx lists of such strings and ``ID:urban`` / ``ID:rural`` / ``ID:motorway`` (50 / 80 / 100,
the PP 79/2013 limits) are understood; anything else (``"signals"``, ``"none"``, ``"walk"``)
falls back to the class default.

The optional time-of-day congestion factor multiplies travel *times*; it is off unless an hour
is given. Its default table (1.4 in the 06-09 morning peak, 1.5 in the 16-19 evening peak,
1.0 otherwise) is a conservative planning assumption, also overridable per region.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from geodispatch.errors import InputError

DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "motorway": 80.0,
    "motorway_link": 55.0,
    "trunk": 60.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 45.0,
    "secondary_link": 30.0,
    "tertiary": 40.0,
    "tertiary_link": 28.0,
    "unclassified": 30.0,
    "road": 30.0,
    "residential": 25.0,
    "living_street": 15.0,
    "service": 15.0,
    "track": 10.0,
}
"""Default emergency-vehicle speed (km/h) per OSM ``highway`` class; see the module docstring."""

FALLBACK_SPEED_KPH = 20.0
"""Speed (km/h) for a highway class not in the table (e.g. ``busway``, ``escape``)."""

DEFAULT_CONGESTION: dict[int, float] = {6: 1.4, 7: 1.4, 8: 1.4, 16: 1.5, 17: 1.5, 18: 1.5}
"""Travel-time multiplier per hour of day (0-23); hours not listed are 1.0."""

IMPLICIT_MAXSPEED_KPH: dict[str, float] = {"id:urban": 50.0, "id:rural": 80.0, "id:motorway": 100.0}
"""Indonesian implicit maxspeed codes (PP 79/2013 limits), lower-cased."""

MPH_TO_KPH = 1.609344
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)
_MIN_VALID_KPH = 5.0
_MAX_VALID_KPH = 130.0


def parse_maxspeed(value: Any) -> float | None:
    """Parse an OSM ``maxspeed`` value into km/h.

    Parameters
    ----------
    value : str, number, list of those, or None
        The raw tag value as osmnx stores it (a string, or a list after simplification).

    Returns
    -------
    float or None
        The speed in km/h, the lowest when several are given, or None when nothing in the
        value is a usable speed between 5 and 130 km/h.
    """
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (int, float)):
        kph = float(value)
        return kph if _MIN_VALID_KPH <= kph <= _MAX_VALID_KPH else None
    if isinstance(value, (list, tuple, set, np.ndarray)):
        parsed = [parse_maxspeed(v) for v in value]
        found = [p for p in parsed if p is not None]
        return min(found) if found else None
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):  # a list serialised into GraphML
        text = text[1:-1].replace("'", "").replace('"', "").replace(",", ";")
    speeds = []
    for part in text.split(";"):
        part = part.strip()
        implicit = IMPLICIT_MAXSPEED_KPH.get(part.lower())
        if implicit is not None:
            speeds.append(implicit)
            continue
        match = _NUMBER.match(part)
        if not match:
            continue
        kph = float(match.group(1))
        unit = (match.group(2) or "").lower()
        if unit == "mph":
            kph *= MPH_TO_KPH
        elif unit == "knots":
            kph *= 1.852
        if _MIN_VALID_KPH <= kph <= _MAX_VALID_KPH:
            speeds.append(kph)
    return min(speeds) if speeds else None


def _classes(highway: Any) -> list[str]:
    """Return the highway classes of one edge as a list of strings."""
    if highway is None or (isinstance(highway, float) and math.isnan(highway)):
        return []
    if isinstance(highway, (list, tuple, set, np.ndarray)):
        return [str(h) for h in highway]
    text = str(highway)
    if text.startswith("[") and text.endswith("]"):
        return [h.strip(" '\"") for h in text[1:-1].split(",") if h.strip(" '\"")]
    return [text]


def primary_class(highway: Any, speeds_kph: Mapping[str, float] | None = None) -> str:
    """Pick the class that sets an edge's speed: the fastest of its classes.

    osmnx merges ways when simplifying, so one edge may carry several classes; the fastest one
    is the road's function (a short residential stub merged into a primary road stays primary).

    Parameters
    ----------
    highway : str or list of str
        The ``highway`` tag of the edge.
    speeds_kph : mapping, optional
        Speed table used to rank classes; defaults to :data:`DEFAULT_SPEEDS_KPH`.

    Returns
    -------
    str
        The chosen class, or ``"road"`` when the edge has none.
    """
    table = speeds_kph if speeds_kph is not None else DEFAULT_SPEEDS_KPH
    classes = _classes(highway)
    if not classes:
        return "road"
    return max(classes, key=lambda c: table.get(c, FALLBACK_SPEED_KPH))


def speed_table(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Return the default speed table with a region's overrides applied.

    Parameters
    ----------
    overrides : mapping of str to float, optional
        km/h per highway class, e.g. ``{"residential": 20}``.

    Returns
    -------
    dict
        km/h per highway class.

    Raises
    ------
    InputError
        When an override is not a positive finite number.
    """
    table = dict(DEFAULT_SPEEDS_KPH)
    for cls, kph in (overrides or {}).items():
        if not isinstance(kph, (int, float)) or not math.isfinite(kph) or kph <= 0:
            raise InputError(f"speed override for highway={cls!r} must be a positive number of km/h, got {kph!r}")
        table[str(cls)] = float(kph)
    return table


def edge_speeds_kph(
    highways: Sequence[Any],
    maxspeeds: Sequence[Any] | None = None,
    overrides: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Speeds for many edges at once.

    Parameters
    ----------
    highways : sequence
        ``highway`` tag per edge (str or list of str).
    maxspeeds : sequence, optional
        ``maxspeed`` tag per edge (anything :func:`parse_maxspeed` accepts, or None).
    overrides : mapping, optional
        Region speed overrides (km/h per class).

    Returns
    -------
    speeds_kph : ndarray of float64
        Speed per edge, km/h.
    classes : ndarray of str
        The class that set each edge's default speed.
    has_maxspeed : ndarray of bool
        Whether a parseable maxspeed tag set the speed.
    """
    table = speed_table(overrides)
    n = len(highways)
    classes = np.array([primary_class(h, table) for h in highways], dtype=object)
    speeds = np.array([table.get(c, FALLBACK_SPEED_KPH) for c in classes], dtype=np.float64)
    has_max = np.zeros(n, dtype=bool)
    if maxspeeds is not None:
        for i, raw in enumerate(maxspeeds):
            kph = parse_maxspeed(raw)
            if kph is not None:
                speeds[i] = kph
                has_max[i] = True
    return speeds, classes.astype(str), has_max


def congestion_factor(hour: int | None, table: Mapping[int, float] | None = None) -> float:
    """Travel-time multiplier for an hour of the day.

    Parameters
    ----------
    hour : int or None
        Hour 0-23 (local time); None means free flow (1.0).
    table : mapping of int to float, optional
        Multiplier per hour; defaults to :data:`DEFAULT_CONGESTION`.

    Returns
    -------
    float
        The factor (>= 1 in the default table) that travel times are multiplied by.

    Raises
    ------
    InputError
        When ``hour`` is not in 0-23 or the factor is not positive.
    """
    if hour is None:
        return 1.0
    if not isinstance(hour, int) or not 0 <= hour <= 23:
        raise InputError(f"hour must be an integer 0-23, got {hour!r}")
    factor = float((table if table is not None else DEFAULT_CONGESTION).get(hour, 1.0))
    if not math.isfinite(factor) or factor <= 0:
        raise InputError(f"congestion factor for hour {hour} must be positive, got {factor!r}")
    return factor


def travel_times_s(length_m: Iterable[float] | np.ndarray, speeds_kph: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """Travel time per edge in seconds from length (m) and speed (km/h), times a congestion factor."""
    length = np.asarray(length_m, dtype=np.float64)
    return length / (speeds_kph / 3.6) * factor
