"""Sea crossings as part of the road network: OSM ferries and speedboat (ambulans laut) links.

Indonesian regencies are full of islands whose PSC and puskesmas run speedboat ambulances and
use ferries. A road-only network writes those desa off as unreachable; here a crossing is one
more directed edge between two road nodes, so every search, ETA and coverage figure crosses the
water like any road, and every consumer can still tell the crossing apart by its highway class:

* ``ferry``: an OpenStreetMap ``route=ferry`` way, joined at each end to the road node the way
  ends on, or to the nearest road node within the snap limit when it ends at a pier or terminal
  that is not on a road. Both directions, unless the way is tagged ``oneway=yes`` (or ``-1``).
* ``sea_link``: a crossing OpenStreetMap does not have (the puskesmas speedboat), from a CSV file
  or a region YAML's ``sea_links:``; each end is snapped to the nearest road node, and an end
  farther than the snap limit is an error naming the link. Both directions.

A crossing costs ``boarding_s + length_m / boat_speed`` seconds: getting the patient (or crew)
aboard, casting off and tying up at the far side, then the passage at the boat's speed along the
way's geometry (a straight line for a sea link). A ferry tagged with an OSM ``duration``
(``HH:MM``) takes that passage time instead of length / speed. The time-of-day congestion
factor of the roads never applies to boats.

Why these defaults
------------------
``DEFAULT_BOAT_SPEED_KPH = 20`` (about 11 knots) is a planning assumption for OSM ferries,
deliberately conservative: it sits between a slow ferry and a speedboat, and a regency with
timetables or GPS tracks of its boats should give its own figure (``boat_speed_kph=``, or a sea
link's own ``speed_kph``). ``DEFAULT_BOARDING_S = 600`` (10 minutes) is likewise an assumption
for loading a stretcher or a vehicle and berthing at the far side; a scheduled ferry's wait for
its departure is *not* included (an emergency crossing is assumed to be arranged on call). Both
are assumptions, not measurements.

What a crossing carries
-----------------------
A boat carries some unit types and not others: a speedboat ambulance takes an ambulance crew
and a stretcher across, not a Damkar water tender; a vehicle ferry takes the truck. Every sea
edge therefore names the unit types it carries (``RoadNetwork.sea_carries``), and a search for a
unit or a service of another type does not cross it (``RoadNetwork.for_unit_type``). Defaults:

* an OSM ferry carries **every** unit type (``ALL_TYPES``): ``route=ferry`` ways in Indonesia
  are mostly vehicle ferries (ASDP ro-ro, landing craft), and a way tagged ``motor_vehicle=yes``
  or ``motorcar=yes`` certainly is. One tagged ``motor_vehicle=no`` (and not ``motorcar=yes``) is
  a passenger boat: it carries ``CREW_TYPES`` (crews that work on foot: an ambulance crew with a
  stretcher).
* a sea link (CSV or region YAML) carries ``DEFAULT_LINK_CARRIES = ("ambulance",)`` unless its
  ``carries`` column says otherwise: the sea-link file exists for the boats OpenStreetMap does
  not have, which in practice are the PSC 119 / puskesmas speedboat ambulances (*ambulans laut*).
  A link that does take vehicles (a landing craft missing from OSM) says ``carries: all``.

Sea-link files
--------------
CSV with the columns ``from_lon,from_lat,to_lon,to_lat,speed_kph,boarding_min`` and optionally
``name``, ``hours`` and ``carries``: degrees (EPSG:4326), km/h, minutes. ``hours`` is when the
boat runs, ``HH-HH`` or ``HH:MM-HH:MM`` in local time (``06-18``; ``20-06`` wraps past midnight;
empty or ``24/7`` means always). Hours only matter when a network is loaded for an ``hour`` of
the day: a link closed at that hour is left out. ``carries`` lists unit types separated by ``;``
or spaces (``ambulance;rescue``), or ``all``; empty means the default above.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geodispatch import settings
from geodispatch.domain import UNIT_TYPES
from geodispatch.errors import CorruptFileError, InputError, SnapError, SourceNotFoundError
from geodispatch.geometry import haversine_m

if TYPE_CHECKING:
    import pandas as pd

    from geodispatch.network.graph import RoadNetwork

log = logging.getLogger(__name__)

FERRY = "ferry"
"""Highway class of an OpenStreetMap ``route=ferry`` crossing."""

SEA_LINK = "sea_link"
"""Highway class of a sea link from a file or region YAML (e.g. a puskesmas speedboat)."""

SEA_CLASSES: tuple[str, ...] = (FERRY, SEA_LINK)
"""The highway classes of sea edges."""

DEFAULT_BOAT_SPEED_KPH = 20.0
"""Speed (km/h) of a crossing on an OSM ferry without a ``duration`` tag; see the module docstring."""

DEFAULT_BOARDING_S = 600.0
"""Seconds added to every OSM ferry crossing for boarding and berthing; see the module docstring."""

LINK_COLUMNS: tuple[str, ...] = ("from_lon", "from_lat", "to_lon", "to_lat", "speed_kph", "boarding_min")
"""Required columns of a sea-link file (optional: ``name``, ``hours``, ``carries``)."""

ALL_TYPES = "all"
"""``carries`` value of a crossing that takes every unit type (vehicles included)."""

DEFAULT_LINK_CARRIES: tuple[str, ...] = ("ambulance",)
"""Unit types a sea link carries when its ``carries`` is empty; see the module docstring."""

CREW_TYPES: tuple[str, ...] = ("ambulance",)
"""Unit types a passenger-only OSM ferry (``motor_vehicle=no``) carries; see the module docstring."""

_CARRIES_TOKEN = re.compile(r"^[a-z][a-z0-9_]*$")

_MAX_BOAT_KPH = 150.0
_HOURS = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")
_DURATION = re.compile(r"^\s*(\d+)(?::(\d{1,2}))?(?::(\d{1,2}))?\s*$")


@dataclass(frozen=True)
class FerryWay:
    """One OSM ``route=ferry`` way, as read from a file or a download.

    Attributes
    ----------
    coords : ndarray of float64, shape (k, 2)
        The way's lon/lat vertices, degrees, in way order.
    name : str
        The way's name (or ``"ferry <osm id>"``).
    osm_id : int
        OSM way id (0 when unknown).
    direction : int
        1 for ``oneway=yes`` (way order only), -1 for ``oneway=-1``, 0 for both directions.
    duration_s : float or None
        Passage time from the ``duration`` tag, seconds (None when not tagged or unreadable).
    carries : tuple of str or None
        Unit types it carries; None (the default) for every type (a vehicle ferry).
    """

    coords: np.ndarray
    name: str
    osm_id: int = 0
    direction: int = 0
    duration_s: float | None = None
    carries: tuple[str, ...] | None = None


def check_speed_kph(kph: Any, what: str = "boat speed") -> float:
    """Validate a boat speed in km/h (positive, finite, at most 150).

    Raises
    ------
    InputError
        When the speed is zero, negative, not a number or implausibly high.
    """
    try:
        value = float(kph)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be a number of km/h, got {kph!r}") from exc
    if not math.isfinite(value) or value <= 0 or value > _MAX_BOAT_KPH:
        raise InputError(f"{what} must be a positive number of km/h up to {_MAX_BOAT_KPH:g}, got {kph!r}")
    return value


def check_boarding_s(seconds: Any, what: str = "boarding time") -> float:
    """Validate a boarding time in seconds (finite, >= 0, at most a day).

    Raises
    ------
    InputError
        When the time is negative, not a number or longer than a day.
    """
    try:
        value = float(seconds)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be a number of seconds, got {seconds!r}") from exc
    if not math.isfinite(value) or value < 0 or value > 86_400:
        raise InputError(f"{what} must be between 0 and 86400 seconds, got {seconds!r}")
    return value


def parse_duration(value: Any) -> float | None:
    """Parse an OSM ``duration`` tag (``"HH:MM"``, ``"HH:MM:SS"`` or minutes) into seconds.

    Returns None when the value is missing or unreadable (the crossing then uses its length).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    match = _DURATION.match(str(value))
    if not match:
        return None
    a, b, c = match.groups()
    # a bare number is minutes
    seconds = float(a) * 60.0 if b is None else float(a) * 3600.0 + float(b) * 60.0 + float(c or 0)
    return seconds if seconds > 0 else None


def parse_hours(value: Any) -> tuple[float, float] | None:
    """Parse operating hours ``"HH-HH"`` / ``"HH:MM-HH:MM"`` into (open, close) in hours of the day.

    Returns None for always open (missing, empty or ``"24/7"``).

    Raises
    ------
    InputError
        When the text is not in that form or a time is outside 00:00-24:00.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if text in ("", "24/7"):
        return None
    match = _HOURS.match(text)
    if not match:
        raise InputError(f"operating hours must look like '06-18' or '06:00-18:00' (or '24/7'), got {text!r}")
    h1, m1, h2, m2 = match.groups()
    start = int(h1) + int(m1 or 0) / 60.0
    end = int(h2) + int(m2 or 0) / 60.0
    if not (0 <= start <= 24 and 0 <= end <= 24) or int(m1 or 0) > 59 or int(m2 or 0) > 59:
        raise InputError(f"operating hours must be times between 00:00 and 24:00, got {text!r}")
    return start, end


def parse_carries(value: Any, default: tuple[str, ...] | None = DEFAULT_LINK_CARRIES) -> tuple[str, ...] | None:
    """Parse a ``carries`` value into unit types (None: every type).

    Parameters
    ----------
    value : str, sequence of str or None
        ``"ambulance;rescue"``, ``"ambulance rescue"``, ``["ambulance"]``, ``"all"``; empty or
        missing gives ``default``.
    default : tuple of str or None
        Result for an empty value (None = every type).

    Raises
    ------
    InputError
        When a name is not one of :data:`geodispatch.domain.UNIT_TYPES` (a misspelt type,
        ``ambulans``, would otherwise block the boat for every unit without a word).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    tokens = [t for t in re.split(r"[;,\s]+", str(value).strip().lower()) if t] if isinstance(value, str) else [
        str(t).strip().lower() for t in value
    ]
    if not tokens:
        return default
    if ALL_TYPES in tokens or "*" in tokens:
        return None
    bad = [t for t in tokens if not _CARRIES_TOKEN.match(t)]
    if bad:
        raise InputError(f"carries must list unit types like 'ambulance;rescue' (or 'all'), got {value!r}")
    unknown = [t for t in tokens if t not in UNIT_TYPES]
    if unknown:
        raise InputError(
            f"carries names unknown unit type(s) {', '.join(unknown)}; use {', '.join(UNIT_TYPES)} or 'all'"
        )
    return tuple(dict.fromkeys(tokens))


def is_open(hours: tuple[float, float] | None, hour: int | None) -> bool:
    """Whether a link with these operating hours runs at ``hour`` (always when either is None).

    ``(6, 18)`` runs from 06:00 to 18:00 (hours 6..17); ``(20, 6)`` wraps past midnight.
    """
    if hours is None or hour is None:
        return True
    start, end = hours
    if start == end:
        return True
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def _haversine_m(lon: np.ndarray, lat: np.ndarray) -> float:
    """Length of a lon/lat polyline (degrees), metres."""
    return float(haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:]).sum())


def ferry_from_tags(coords: Any, tags: Mapping[str, Any], osm_id: Any = 0) -> FerryWay:
    """Build a :class:`FerryWay` from its vertices and OSM tags (``name``, ``oneway``, ``duration``,
    ``motor_vehicle`` / ``motorcar``: a ferry tagged ``motor_vehicle=no`` and not ``motorcar=yes`` is a
    passenger boat and carries only :data:`CREW_TYPES`)."""
    try:
        way_id = int(osm_id)
    except (TypeError, ValueError):
        way_id = 0
    name = tags.get("name")
    if not isinstance(name, str) or not name.strip():
        name = f"ferry {way_id}" if way_id else "ferry"
    oneway = str(tags.get("oneway", "")).strip().lower()
    direction = 1 if oneway in ("yes", "true", "1") else -1 if oneway in ("-1", "reverse") else 0
    motor = str(tags.get("motor_vehicle", "")).strip().lower()
    car = str(tags.get("motorcar", "")).strip().lower()
    passengers_only = motor == "no" and car not in ("yes", "designated")
    return FerryWay(
        coords=np.asarray(coords, dtype=np.float64).reshape(-1, 2),
        name=name.strip(),
        osm_id=way_id,
        direction=direction,
        duration_s=parse_duration(tags.get("duration")),
        carries=CREW_TYPES if passengers_only else None,
    )


def ferries_from_frame(frame: Any) -> list[FerryWay]:
    """Ferry ways from a GeoDataFrame of ``route=ferry`` features (osmnx or pyrosm, EPSG:4326).

    Tags are read from columns (``name``, ``oneway``, ``duration``) or from pyrosm's JSON ``tags``
    column; only LineString geometries are used (a ferry mapped as a relation of several ways
    arrives as its member ways).
    """
    import json

    import shapely

    out: list[FerryWay] = []
    if frame is None or len(frame) == 0:
        return out
    for row in frame.itertuples(index=False):
        geom = getattr(row, "geometry", None)
        if geom is None or geom.is_empty:
            continue
        parts = list(geom.geoms) if isinstance(geom, shapely.MultiLineString) else [geom]
        tags: dict[str, Any] = {}
        raw = getattr(row, "tags", None)
        if isinstance(raw, str):
            with contextlib.suppress(ValueError):
                tags.update(json.loads(raw))
        elif isinstance(raw, Mapping):
            tags.update(raw)
        for key in ("name", "oneway", "duration", "motor_vehicle", "motorcar"):
            value = getattr(row, key, None)
            if isinstance(value, str) and value:
                tags[key] = value
        osm_id = getattr(row, "id", None) or getattr(row, "osmid", None) or 0
        for part in parts:
            if isinstance(part, shapely.LineString):
                out.append(ferry_from_tags(np.asarray(part.coords)[:, :2], tags, osm_id))
    return out


def read_sea_links(source: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Read and validate sea links from a CSV file or a DataFrame.

    Parameters
    ----------
    source : path or DataFrame
        Columns ``from_lon, from_lat, to_lon, to_lat`` (degrees), ``speed_kph`` (km/h),
        ``boarding_min`` (minutes) and optionally ``name``, ``hours`` and ``carries``.

    Returns
    -------
    pandas.DataFrame
        The links with numeric columns, a ``name`` for each (``sea link N`` when none),
        ``hours`` (empty when always open) and ``carries`` (``"ambulance"``, ``"all"``...:
        :data:`DEFAULT_LINK_CARRIES` when empty).

    Raises
    ------
    SourceNotFoundError
        When the file does not exist.
    CorruptFileError
        When the file is not a readable CSV.
    InputError
        When a column is missing, a coordinate is not lon/lat degrees, a speed is not positive
        or a boarding time is negative, or the hours are malformed (the row is named).
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        where = "sea links"
    else:
        path = Path(source).expanduser()
        where = str(path)
        if not path.exists():
            raise SourceNotFoundError(f"sea-link file not found: {path}")
        try:
            frame = pd.read_csv(path, dtype={"name": str, "hours": str, "carries": str}, skipinitialspace=True)
        except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise CorruptFileError(f"{path}: cannot read the sea-link CSV ({exc})") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in LINK_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {', '.join(missing)}; a sea-link file needs "
            f"{','.join(LINK_COLUMNS)}[,name][,hours]"
        )
    if frame.empty:
        raise InputError(f"{where}: no sea links in the file")
    for col in LINK_COLUMNS:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{where}: row {row + 1}: {col} must be a number, got {frame[col].iloc[row]!r}")
        frame[col] = values.astype(float)
    names = frame["name"] if "name" in frame.columns else pd.Series([None] * len(frame), index=frame.index)
    frame["name"] = [
        str(n).strip() if isinstance(n, str) and n.strip() else f"sea link {i + 1}" for i, n in enumerate(names)
    ]
    hours = frame["hours"] if "hours" in frame.columns else pd.Series([""] * len(frame), index=frame.index)
    frame["hours"] = ["" if h is None or (isinstance(h, float) and math.isnan(h)) else str(h).strip() for h in hours]
    carries = frame["carries"] if "carries" in frame.columns else pd.Series([None] * len(frame), index=frame.index)
    parsed_carries = []
    for i, row in enumerate(frame.itertuples(index=False)):
        label = f"{where}: row {i + 1} ({row.name})"
        for lon, lat in ((row.from_lon, row.from_lat), (row.to_lon, row.to_lat)):
            if abs(lon) > 180 or abs(lat) > 90:
                raise InputError(f"{label}: coordinates must be lon/lat degrees (EPSG:4326), got {lon}, {lat}")
        check_speed_kph(row.speed_kph, f"{label}: speed_kph")
        check_boarding_s(row.boarding_min * 60.0, f"{label}: boarding_min x 60")
        try:
            parse_hours(row.hours)
            types = parse_carries(carries.iloc[i])
        except InputError as exc:
            raise InputError(f"{label}: {exc}") from exc
        parsed_carries.append(ALL_TYPES if types is None else ";".join(types))
    frame["carries"] = parsed_carries
    return frame[[*LINK_COLUMNS, "name", "hours", "carries"]].reset_index(drop=True)


@dataclass
class _Crossing:
    """A crossing waiting for its ends to be joined to the roads."""

    coords: np.ndarray  # lon/lat polyline from its first to its last end
    cls: str
    name: str
    label: str
    direction: int  # 1: first -> last only; -1: last -> first only; 0: both
    boarding_s: float
    speed_kph: float
    passage_s: float | None  # fixed passage time (OSM duration), else length / speed
    strict: bool  # a user's link: an end far from roads is an error, not a warning
    carries: tuple[str, ...] | None  # unit types it carries, None = every type


def _with_ends(network: RoadNetwork, coords: np.ndarray, a: int, b: int) -> np.ndarray:
    """The crossing's polyline from road node a to road node b through the way's vertices."""
    start = np.array([[network.lon[a], network.lat[a]]])
    end = np.array([[network.lon[b], network.lat[b]]])
    parts = [coords]
    if not np.allclose(coords[0], start[0], rtol=0, atol=1e-9):
        parts.insert(0, start)
    if not np.allclose(coords[-1], end[0], rtol=0, atol=1e-9):
        parts.append(end)
    return np.concatenate(parts)


def land_points(
    network: RoadNetwork, lon: Any, lat: Any, tolerance_m: float = 1.0
) -> tuple[RoadNetwork, np.ndarray]:
    """Give each point a road node: an existing end node, or a new node splitting its nearest road.

    Each point is snapped to its nearest road edge (never a sea edge); a point within
    ``tolerance_m`` of an end of that edge lands on that end node; otherwise the edge (and its
    twin, the other direction of a two-way road) is split at the point into two edges with the
    same class, proportional length and time, and the geometry on either side. Road length and
    every existing travel time stay the same.

    Parameters
    ----------
    network : RoadNetwork
        Roads.
    lon, lat : array-like
        Points, degrees. Callers check the off-road distance first (any distance is accepted).
    tolerance_m : float
        Distance along the road (m) within which a point lands on an end node.

    Returns
    -------
    network : RoadNetwork
        The same network, or a copy with the new nodes appended (existing node indices are kept).
    nodes : ndarray of int64
        The node index of each point.
    """
    import shapely
    from shapely import ops

    snap = network.snap(lon, lat, max_distance_m=1e12, strict=False)
    e, f = snap.edge, snap.fraction
    along = f * network.edge_length_m[e]
    nodes = np.where(along <= tolerance_m, network.edge_u[e], -1)
    nodes = np.where((nodes < 0) & (network.edge_length_m[e] - along <= tolerance_m), network.edge_v[e], nodes)
    split = np.flatnonzero(nodes < 0)
    if not len(split):
        return network, nodes.astype(np.int64)
    # new nodes: one per distinct (edge, fraction), also serving the twin edge
    base = network.n_nodes
    cuts: dict[int, list[tuple[float, int]]] = {}
    new_lon: list[float] = []
    new_lat: list[float] = []
    for i in split.tolist():
        edge, frac = int(e[i]), float(f[i])
        twin = int(network.twin_edge[edge])
        known = [n for fr, n in cuts.get(edge, []) if abs(fr - frac) * network.edge_length_m[edge] <= tolerance_m]
        if known:
            nodes[i] = known[0]
            continue
        node = base + len(new_lon)
        new_lon.append(float(snap.lon[i]))
        new_lat.append(float(snap.lat[i]))
        nodes[i] = node
        cuts.setdefault(edge, []).append((frac, node))
        if twin >= 0:
            cuts.setdefault(twin, []).append((1.0 - frac, node))
    lon_all = np.concatenate([network.lon, new_lon])
    lat_all = np.concatenate([network.lat, new_lat])
    first = min(int(network.node_ids.min()), 0) - 1  # landing nodes get negative ids: never an OSM id
    ids = np.concatenate([network.node_ids, np.arange(first, first - len(new_lon), -1)])
    metric = network.edge_geometries(metric=True)
    us: list[int] = []
    vs: list[int] = []
    lengths: list[float] = []
    times: list[float] = []
    classes: list[str] = []
    has_max: list[bool] = []
    geoms: list[np.ndarray] = []
    for edge, points in cuts.items():
        points.sort()
        stops = [0.0, *[fr for fr, _ in points], 1.0]
        ends = [int(network.edge_u[edge]), *[n for _, n in points], int(network.edge_v[edge])]
        for k in range(len(stops) - 1):
            a, b = stops[k], stops[k + 1]
            piece = ops.substring(metric[edge], a, b, normalized=True)
            x, y = np.asarray(shapely.get_coordinates(piece)).T
            plon, plat = network.to_lonlat(x, y)
            plon[0], plat[0] = lon_all[ends[k]], lat_all[ends[k]]
            plon[-1], plat[-1] = lon_all[ends[k + 1]], lat_all[ends[k + 1]]
            us.append(ends[k])
            vs.append(ends[k + 1])
            lengths.append(float(network.edge_length_m[edge] * (b - a)))
            times.append(float(network.edge_time_s[edge] * (b - a)))
            classes.append(str(network.edge_highway[edge]))
            has_max.append(bool(network.edge_has_maxspeed[edge]))
            geoms.append(np.column_stack([plon, plat]) if len(plon) >= 2 else np.array([[plon[0], plat[0]]] * 2))
    keep = np.ones(network.n_edges, dtype=bool)
    keep[list(cuts)] = False
    arrays = network.edge_arrays(keep)
    arrays.update(node_ids=ids, lon=lon_all, lat=lat_all)
    out = _append_edges(network, arrays, us, vs, lengths, times, classes, has_max, geoms, {})
    return out, nodes.astype(np.int64)


def add_sea_edges(
    network: RoadNetwork,
    ferries: Iterable[FerryWay] = (),
    links: pd.DataFrame | None = None,
    boat_speed_kph: float = DEFAULT_BOAT_SPEED_KPH,
    boarding_s: float = DEFAULT_BOARDING_S,
    hour: int | None = None,
    snap_limit_m: float = settings.SNAP_LIMIT_M,
) -> RoadNetwork:
    """Return a copy of a road network with ferry and sea-link edges added.

    Each end of a crossing lands on the road nearest to it (:func:`land_points`): on the road
    node the ferry way ends at, or at the point of the nearest road, which becomes a node.

    Parameters
    ----------
    network : RoadNetwork
        The roads (and any sea edges it already has, which are kept).
    ferries : iterable of FerryWay
        OSM ferry ways. A ferry with fewer than two distinct vertices (a way clipped by the
        extract's boundary), an end farther than ``snap_limit_m`` from any road, or both ends on
        the same road point is skipped with a warning: one unusable ferry in an extract must not
        stop the whole network from loading.
    links : DataFrame, optional
        Sea links as accepted by :func:`read_sea_links` (each with its own speed and boarding).
    boat_speed_kph : float
        Passage speed of OSM ferries without a ``duration`` tag, km/h.
    boarding_s : float
        Boarding and berthing time added to every OSM ferry crossing, seconds.
    hour : int, optional
        Hour of the day (0-23): sea links whose ``hours`` exclude it are left out.
    snap_limit_m : float
        How far (m) a crossing's end may be from the nearest road.

    Returns
    -------
    RoadNetwork
        The same nodes (same indices, plus landing nodes) and roads, then the new sea edges,
        named in ``sea_names``.

    Raises
    ------
    InputError
        On a speed <= 0 or a negative boarding time, or a link whose ends land on one point.
    SnapError
        When a sea link's end is farther than ``snap_limit_m`` from any road (the link is named).
    """
    speed = check_speed_kph(boat_speed_kph)
    boarding = check_boarding_s(boarding_s)
    todo: list[_Crossing] = []
    for ferry in ferries:
        coords = np.asarray(ferry.coords, dtype=np.float64).reshape(-1, 2)
        label = f"ferry way {ferry.osm_id} ({ferry.name!r})" if ferry.osm_id else f"ferry {ferry.name!r}"
        if len(np.unique(np.round(coords, 9), axis=0)) < 2:
            log.warning("%s has fewer than two distinct nodes (clipped by the extract?); skipped", label)
            continue
        todo.append(
            _Crossing(coords, FERRY, ferry.name, label, ferry.direction, boarding, speed, ferry.duration_s, False,
                      ferry.carries)
        )
    if links is not None and len(links):
        for row in read_sea_links(links).itertuples(index=False):
            if not is_open(parse_hours(row.hours), hour):
                log.info("sea link %r is closed at %02d:00 (hours %s); left out", row.name, hour, row.hours)
                continue
            coords = np.array([[row.from_lon, row.from_lat], [row.to_lon, row.to_lat]])
            todo.append(
                _Crossing(coords, SEA_LINK, row.name, f"sea link {row.name!r}", 0, row.boarding_min * 60.0,
                          float(row.speed_kph), None, True, parse_carries(row.carries))
            )
    if not todo:
        return network
    ends = np.array([c.coords[i] for c in todo for i in (0, -1)])
    off_road = network.snap(ends[:, 0], ends[:, 1], max_distance_m=1e12, strict=False).distance_m
    usable = []
    for j, crossing in enumerate(todo):
        far = [(which, ends[2 * j + k], off_road[2 * j + k]) for k, which in enumerate(("from", "to"))
               if off_road[2 * j + k] > snap_limit_m]
        if not far:
            usable.append(j)
            continue
        which, (lon, lat), dist = far[0]
        if crossing.strict:
            raise SnapError(
                f"{crossing.label}: its {which} end ({lon:.6f}, {lat:.6f}) is {dist:.0f} m from the nearest road "
                f"(limit {snap_limit_m:g} m); put the end on the pier's road or raise the snap limit"
            )
        log.warning("%s ends %.0f m from the nearest road (limit %g m); skipped", crossing.label, dist, snap_limit_m)
    if not usable:
        return network
    pick = np.array([2 * j + k for j in usable for k in (0, 1)])
    network, landed = land_points(network, ends[pick, 0], ends[pick, 1])
    u: list[int] = []
    v: list[int] = []
    length: list[float] = []
    time: list[float] = []
    cls: list[str] = []
    geoms: list[np.ndarray] = []
    names: list[str] = []
    carried: list[tuple[str, ...] | None] = []
    for n, j in enumerate(usable):
        crossing = todo[j]
        a, b = int(landed[2 * n]), int(landed[2 * n + 1])
        if a == b:
            if crossing.strict:
                raise InputError(f"{crossing.label}: both ends land on the same road point; check its coordinates")
            log.warning("%s starts and ends at the same road point; skipped", crossing.label)
            continue
        line = _with_ends(network, crossing.coords, a, b)
        metres = _haversine_m(line[:, 0], line[:, 1])
        passage = crossing.passage_s if crossing.passage_s is not None else metres / (crossing.speed_kph / 3.6)
        directions = ((a, b, line, crossing.direction >= 0), (b, a, line[::-1], crossing.direction <= 0))
        for tail, head, geom, wanted in directions:
            if wanted:
                u.append(tail)
                v.append(head)
                length.append(metres)
                time.append(crossing.boarding_s + passage)
                cls.append(crossing.cls)
                geoms.append(np.ascontiguousarray(geom))
                names.append(crossing.name)
                carried.append(crossing.carries)
    if not u:
        return network
    n_old = network.n_edges
    names_by_edge = {n_old + i: name for i, name in enumerate(names)}
    carries_by_edge = {n_old + i: c for i, c in enumerate(carried) if c is not None}
    arrays = network.edge_arrays(np.ones(n_old, dtype=bool))
    return _append_edges(
        network, arrays, u, v, length, time, cls, [False] * len(u), geoms, names_by_edge, carries_by_edge
    )


def _append_edges(
    network: RoadNetwork,
    arrays: dict[str, Any],
    u: Sequence[int],
    v: Sequence[int],
    length: Sequence[float],
    time: Sequence[float],
    cls: Sequence[str],
    has_max: Sequence[bool],
    geoms: Sequence[np.ndarray],
    sea_names: Mapping[int, str],
    sea_carries: Mapping[int, tuple[str, ...]] | None = None,
) -> RoadNetwork:
    """Build a network from :meth:`RoadNetwork.edge_arrays` with more edges appended."""
    counts = np.array([len(g) for g in geoms], dtype=np.int64)
    flat = np.concatenate(geoms)
    offsets = arrays["geom_offsets"]
    return type(network).from_arrays(
        arrays["node_ids"],
        arrays["lon"],
        arrays["lat"],
        np.concatenate([arrays["edge_u"], u]),
        np.concatenate([arrays["edge_v"], v]),
        np.concatenate([arrays["edge_length_m"], length]),
        np.concatenate([arrays["edge_time_s"], time]),
        np.concatenate([arrays["edge_highway"], np.asarray(cls, dtype=str)]),
        np.concatenate([arrays["edge_has_maxspeed"], np.asarray(has_max, dtype=bool)]),
        geom_offsets=np.concatenate([offsets, offsets[-1] + np.cumsum(counts)]),
        geom_lon=np.concatenate([arrays["geom_lon"], flat[:, 0]]),
        geom_lat=np.concatenate([arrays["geom_lat"], flat[:, 1]]),
        name=network.name,
        synthetic=network.synthetic,
        sea_names={**arrays["sea_names"], **sea_names},
        sea_carries={**arrays["sea_carries"], **(sea_carries or {})},
    )


def crossing_edges(network: RoadNetwork) -> list[int]:
    """One sea edge per crossing (per pair of piers and boat name), for drawing and listing.

    Two boats between the same piers (a speedboat and a ferry) are two crossings; the two
    directions of one boat are one.
    """
    seen: set[tuple[int, int, str]] = set()
    out = []
    for e in np.flatnonzero(network.is_sea_edge).tolist():
        u, v = int(network.edge_u[e]), int(network.edge_v[e])
        key = (min(u, v), max(u, v), network.sea_names.get(e, ""))
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def crossings_json(network: RoadNetwork) -> list[dict[str, Any]]:
    """Each crossing once as plain data for a live map: ``label`` (``"speedboat X"``), ``kind``
    (``ferry`` / ``sea_link``), ``minutes`` (boarding included), ``carries`` (unit types, null for
    every type) and ``coords`` (flat ``[lon0, lat0, lon1, lat1, ...]``, degrees)."""
    out = []
    for e in crossing_edges(network):
        a, b = network.geom_offsets[e], network.geom_offsets[e + 1]
        flat = np.column_stack([network.geom_lon[a:b], network.geom_lat[a:b]]).round(6).ravel()
        carries = network.sea_carries.get(e)
        out.append({
            "label": crossing_label(network, e),
            "kind": str(network.edge_highway[e]),
            "minutes": round(float(network.edge_time_s[e]) / 60.0, 1),
            "carries": list(carries) if carries is not None else None,
            "coords": flat.tolist(),
        })
    return out


def crossing_label(network: RoadNetwork, edge: int) -> str:
    """How a sea edge is named to people: ``"speedboat <name>"`` or ``"ferry <name>"``."""
    name = network.sea_names.get(int(edge), "")
    kind = "speedboat" if network.edge_highway[edge] == SEA_LINK else "ferry"
    if not name or name.lower().startswith(kind):
        return name or kind
    return f"{kind} {name}"


def path_sea_edges(network: RoadNetwork, source: int, target: int) -> list[int]:
    """Sea edges on the fastest route from node ``source`` to node ``target``, in route order.

    Parameters
    ----------
    network : RoadNetwork
        Roads and crossings.
    source, target : int
        Node indices.

    Returns
    -------
    list of int
        Edge indices (empty when the route stays on land or ``target`` is unreachable).
    """
    from scipy.sparse.csgraph import dijkstra

    if not network.has_sea or source == target:
        return []
    dist, pred = dijkstra(network.csr, directed=True, indices=int(source), return_predecessors=True)
    if not np.isfinite(dist[target]):
        return []
    tails, heads = [], []
    node = int(target)
    while node != source and pred[node] >= 0:
        tails.append(int(pred[node]))
        heads.append(node)
        node = int(pred[node])
    edges = network.edge_between(tails[::-1], heads[::-1])
    return [int(e) for e in edges if e >= 0 and network.is_sea_edge[e]]


def describe_crossings(network: RoadNetwork, edges: Sequence[int]) -> str:
    """Human text for crossings on a route: ``"via speedboat Pelabuhan X, 25 min crossing"``."""
    parts = [
        f"via {crossing_label(network, e)}, {network.edge_time_s[e] / 60.0:.0f} min crossing" for e in edges
    ]
    return "; ".join(parts)
