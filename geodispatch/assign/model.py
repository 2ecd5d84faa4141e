"""Dispatch domain model: units, incidents, statuses and the SOP table.

A :class:`Unit` is one vehicle (an ambulance, a Damkar fire truck, ...) with its status and last
reported position; an :class:`Incident` is one call to 112 with its type, priority and place.
The SOP (standard operating procedure) table maps an incident type to the units it needs, as
:class:`~geodispatch.regions.Requirement` lines (``type``, ``count``, ``capabilities``). Regions
may override it in their YAML (``sop:``); :data:`DEFAULT_SOP` is used otherwise.

All coordinates are lon/lat degrees (EPSG:4326); all times are timezone-aware datetimes (naive
ones are taken as UTC) and durations are seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import ValidationError

from geodispatch.domain import DISPATCHABLE_STATUSES, PRIORITIES, UNIT_STATUSES, UNIT_TYPES
from geodispatch.errors import AssignmentError
from geodispatch.geometry import lonlat_problem
from geodispatch.regions import Region, Requirement, Station

PRIORITY_WEIGHT: dict[int, int] = {1: 3, 2: 2, 3: 1}
"""Weight of a priority's ETAs in the assignment objective (level 3)."""

DEFAULT_MAX_POSITION_AGE_S = 1800.0
"""Reported positions older than this (s) are stale: the unit is placed at its home station."""

CLOCK_SKEW_S = 120.0
"""Timestamps up to this many seconds in the future are accepted (device clocks drift)."""

DEFAULT_SOP: dict[str, tuple[Requirement, ...]] = {
    "kebakaran": (Requirement(type="damkar", count=2), Requirement(type="ambulance", count=1)),
    "kecelakaan": (Requirement(type="ambulance", count=1), Requirement(type="polisi", count=1)),
    "medis": (Requirement(type="ambulance", count=1),),
    "banjir": (Requirement(type="bpbd", count=1), Requirement(type="sar", count=1)),
    "penyelamatan": (Requirement(type="rescue", count=1), Requirement(type="ambulance", count=1)),
    "longsor": (
        Requirement(type="bpbd", count=1),
        Requirement(type="sar", count=1),
        Requirement(type="ambulance", count=1),
    ),
}
"""Engine defaults: incident type (Indonesian) -> units it needs.

kebakaran (fire): 2 damkar + 1 ambulance; kecelakaan (traffic accident): 1 ambulance + 1 polisi;
medis (medical): 1 ambulance; banjir (flood): 1 bpbd + 1 sar; penyelamatan (technical rescue):
1 rescue + 1 ambulance; longsor (landslide): 1 bpbd + 1 sar + 1 ambulance.
"""

Sop = Mapping[str, Sequence[Requirement]]


def _utc(value: datetime | None, what: str) -> datetime | None:
    """Return an aware UTC datetime (naive is taken as UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise AssignmentError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _check_lonlat(lon: Any, lat: Any, what: str) -> tuple[float, float]:
    if isinstance(lon, bool) or isinstance(lat, bool):
        raise AssignmentError(f"{what}: lon/lat must be numbers (degrees), got {lon!r}, {lat!r}")
    problem = lonlat_problem(lon, lat)
    if problem is not None or np.ndim(lon) or np.ndim(lat):
        raise AssignmentError(f"{what}: lon={lon!r}, lat={lat!r}: {problem or 'need one lon/lat pair'}")
    return float(lon), float(lat)


@dataclass(frozen=True)
class Unit:
    """One emergency vehicle.

    Parameters
    ----------
    id : str
        Unique unit id (call sign).
    type : str
        One of :data:`geodispatch.regions.UNIT_TYPES` (ambulance, damkar, rescue, polisi, bpbd,
        pmi, sar).
    lon, lat : float
        Last reported position, degrees (EPSG:4326).
    status : str
        One of :data:`UNIT_STATUSES`; only :data:`DISPATCHABLE_STATUSES` can be sent.
    capabilities : tuple of str
        E.g. ``("ALS",)`` for an advanced-life-support ambulance, ``("water_tender",)``.
    home_station : str, optional
        Id of the station the unit is based at.
    home_lon, home_lat : float, optional
        The home station's position, degrees; used when the reported position is stale.
    position_time : datetime, optional
        When ``lon``/``lat`` was reported (naive = UTC). None means "at a known fixed place"
        (never stale).

    Raises
    ------
    AssignmentError
        Unknown type or status, bad coordinates.
    """

    id: str
    type: str
    lon: float
    lat: float
    status: str = "available"
    capabilities: tuple[str, ...] = ()
    home_station: str | None = None
    home_lon: float | None = None
    home_lat: float | None = None
    position_time: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise AssignmentError(f"unit id must be a non-empty string, got {self.id!r}")
        if self.type not in UNIT_TYPES:
            raise AssignmentError(
                f"unit {self.id}: unknown unit type {self.type!r}; use one of {', '.join(UNIT_TYPES)}"
            )
        if self.status not in UNIT_STATUSES:
            raise AssignmentError(
                f"unit {self.id}: unknown status {self.status!r}; use one of {', '.join(UNIT_STATUSES)}"
            )
        lon, lat = _check_lonlat(self.lon, self.lat, f"unit {self.id}")
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "lat", lat)
        if (self.home_lon is None) != (self.home_lat is None):
            raise AssignmentError(f"unit {self.id}: give both home_lon and home_lat, or neither")
        if self.home_lon is not None:
            hlon, hlat = _check_lonlat(self.home_lon, self.home_lat, f"unit {self.id} home station")
            object.__setattr__(self, "home_lon", hlon)
            object.__setattr__(self, "home_lat", hlat)
        object.__setattr__(self, "capabilities", tuple(str(c) for c in self.capabilities))
        object.__setattr__(self, "position_time", _utc(self.position_time, f"unit {self.id} position_time"))

    @property
    def dispatchable(self) -> bool:
        """True when the unit's status lets it take a new incident."""
        return self.status in DISPATCHABLE_STATUSES

    @property
    def has_home(self) -> bool:
        """True when the home station's position is known."""
        return self.home_lon is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601)."""
        return {
            "id": self.id,
            "type": self.type,
            "lon": self.lon,
            "lat": self.lat,
            "status": self.status,
            "capabilities": list(self.capabilities),
            "home_station": self.home_station,
            "home_lon": self.home_lon,
            "home_lat": self.home_lat,
            "position_time": self.position_time.isoformat() if self.position_time else None,
        }


@dataclass(frozen=True)
class Incident:
    """One emergency call.

    Parameters
    ----------
    id : str
        Unique incident id.
    type : str
        Incident type, a key of the SOP table (``kebakaran``, ``kecelakaan``, ``medis``,
        ``banjir``, ...).
    priority : int
        1 (life-threatening) to 3 (non-urgent).
    lon, lat : float
        Location, degrees (EPSG:4326).
    reported_time : datetime, optional
        When the call was received (naive = UTC).
    requirements : tuple of Requirement, optional
        Units this incident needs, overriding the SOP line of its type.

    Raises
    ------
    AssignmentError
        Priority out of range, bad coordinates, empty type.
    """

    id: str
    type: str
    priority: int
    lon: float
    lat: float
    reported_time: datetime | None = None
    requirements: tuple[Requirement, ...] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise AssignmentError(f"incident id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.type, str) or not self.type:
            raise AssignmentError(f"incident {self.id}: the incident type must be a non-empty string")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int) or self.priority not in PRIORITIES:
            raise AssignmentError(
                f"incident {self.id}: priority must be 1 (life-threatening), 2 or 3, got {self.priority!r}"
            )
        lon, lat = _check_lonlat(self.lon, self.lat, f"incident {self.id}")
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "reported_time", _utc(self.reported_time, f"incident {self.id} reported_time"))
        if self.requirements is not None:
            reqs = tuple(self.requirements)
            if not reqs or not all(isinstance(r, Requirement) for r in reqs):
                raise AssignmentError(f"incident {self.id}: requirements must be a non-empty list of Requirement")
            object.__setattr__(self, "requirements", reqs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601)."""
        return {
            "id": self.id,
            "type": self.type,
            "priority": self.priority,
            "lon": self.lon,
            "lat": self.lat,
            "reported_time": self.reported_time.isoformat() if self.reported_time else None,
            "requirements": None
            if self.requirements is None
            else [r.model_dump(mode="json") for r in self.requirements],
        }


@dataclass(frozen=True)
class Slot:
    """One unit an incident needs: incident, requirement line and its copy number."""

    incident_index: int
    requirement_index: int
    copy: int
    type: str
    capabilities: tuple[str, ...]
    priority: int

    def accepts(self, unit: Unit) -> bool:
        """True when the unit has the slot's type and every capability it asks for."""
        return unit.type == self.type and set(self.capabilities).issubset(unit.capabilities)


@dataclass
class Dispatch:
    """Units chosen for one incident (used inside the engine)."""

    incident_id: str
    unit_ids: list[str] = field(default_factory=list)
    etas_s: list[float] = field(default_factory=list)


def resolve_sop(sop: Sop | Region | None) -> dict[str, tuple[Requirement, ...]]:
    """The SOP table to use: the given mapping or region's ``sop``, else :data:`DEFAULT_SOP`.

    A region that lists only some incident types keeps the defaults for the others.

    Raises
    ------
    AssignmentError
        When a line is not a list of requirements.
    """
    table = dict(DEFAULT_SOP)
    source: Mapping[str, Any] | None = sop.sop if isinstance(sop, Region) else sop
    if source:
        for kind, reqs in source.items():
            table[str(kind)] = _requirements(reqs, f"SOP line {kind!r}")
    return table


def _requirements(reqs: Any, what: str) -> tuple[Requirement, ...]:
    """Coerce a list of Requirement or dicts."""
    if isinstance(reqs, Requirement):
        reqs = [reqs]
    out = []
    try:
        for r in reqs:
            out.append(r if isinstance(r, Requirement) else Requirement.model_validate(r))
    except (TypeError, ValidationError) as exc:
        raise AssignmentError(
            f"{what}: each requirement needs a unit type ({', '.join(UNIT_TYPES)}), a count 1-20 and "
            f"optional capabilities ({exc})"
        ) from exc
    if not out:
        raise AssignmentError(f"{what}: needs at least one requirement")
    return tuple(out)


def requirements_for(incident: Incident, sop: Mapping[str, tuple[Requirement, ...]]) -> tuple[Requirement, ...]:
    """The requirement lines of an incident (its own, or its type's SOP line).

    Raises
    ------
    AssignmentError
        When the incident type is not in the SOP table.
    """
    if incident.requirements is not None:
        return incident.requirements
    if incident.type not in sop:
        raise AssignmentError(
            f"incident {incident.id}: unknown incident type {incident.type!r}; "
            f"known types: {', '.join(sorted(sop))} (add it to the region's sop: table)"
        )
    return tuple(sop[incident.type])


def slots_for(incidents: Sequence[Incident], sop: Mapping[str, tuple[Requirement, ...]]) -> list[Slot]:
    """Expand every incident's requirements into one slot per needed unit."""
    slots = []
    for i, inc in enumerate(incidents):
        for r, req in enumerate(requirements_for(inc, sop)):
            for c in range(req.count):
                slots.append(Slot(i, r, c, req.type, tuple(req.capabilities), inc.priority))
    return slots


def units_from_stations(
    stations: Iterable[Station], status: str = "available", position_time: datetime | None = None
) -> list[Unit]:
    """One :class:`Unit` per unit listed on the stations, positioned at its station.

    Parameters
    ----------
    stations : iterable of Station
        Region or scenario stations with their ``units``.
    status : str
        Status given to every unit.
    position_time : datetime, optional
        Report time of the (station) positions; None = never stale.
    """
    units = []
    for st in stations:
        for uc in st.units:
            units.append(
                Unit(
                    id=uc.id,
                    type=uc.type,
                    lon=st.lon,
                    lat=st.lat,
                    status=status,
                    capabilities=tuple(uc.capabilities),
                    home_station=st.id,
                    home_lon=st.lon,
                    home_lat=st.lat,
                    position_time=position_time,
                )
            )
    return units


def check_units(units: Sequence[Unit]) -> None:
    """Validate a fleet: Unit objects with unique ids.

    Raises
    ------
    AssignmentError
        On duplicate ids or non-Unit entries.
    """
    seen: set[str] = set()
    dupes: list[str] = []
    for u in units:
        if not isinstance(u, Unit):
            raise AssignmentError(f"units must be geodispatch.assign.Unit objects, got {type(u).__name__}")
        if u.id in seen:
            dupes.append(u.id)
        seen.add(u.id)
    if dupes:
        raise AssignmentError(f"duplicate unit ids: {', '.join(sorted(set(dupes)))}; each unit needs its own id")


def check_times(units: Sequence[Unit], incidents: Sequence[Incident], now: datetime) -> None:
    """Reject timestamps in the future (beyond :data:`CLOCK_SKEW_S`).

    Raises
    ------
    AssignmentError
        Naming the first unit or incident with a future timestamp.
    """
    for u in units:
        if u.position_time is not None and (u.position_time - now).total_seconds() > CLOCK_SKEW_S:
            raise AssignmentError(
                f"unit {u.id}: position_time {u.position_time.isoformat()} is in the future "
                f"(now {now.isoformat()}); check the device clock and time zone"
            )
    for inc in incidents:
        if inc.reported_time is not None and (inc.reported_time - now).total_seconds() > CLOCK_SKEW_S:
            raise AssignmentError(
                f"incident {inc.id}: reported_time {inc.reported_time.isoformat()} is in the future "
                f"(now {now.isoformat()}); check the time zone"
            )
