"""Request and response bodies (pydantic). Requests forbid unknown fields.

Coordinates are degrees, EPSG:4326 (``lon`` then ``lat``); times are seconds; timestamps are
ISO 8601 in UTC. ``null`` in an ETA means unreachable.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import JsonDict, SkipJsonSchema

from geodispatch.api.models import Role
from geodispatch.api.state import IncidentStatus, UnitStatus
from geodispatch.regions import StationType, UnitType

Lon = Annotated[float, Field(ge=-180.0, le=180.0, allow_inf_nan=False, description="Longitude, degrees (EPSG:4326)")]
Lat = Annotated[float, Field(ge=-90.0, le=90.0, allow_inf_nan=False, description="Latitude, degrees (EPSG:4326)")]
IDENT_PATTERN = r"^[A-Za-z0-9_.:-]+$"
"""What a text id (unit, station, agency) may hold: letters, digits and ``_ . : -``, 1-64 of them."""
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENT_PATTERN)]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters refused in any request string (tab, newline and carriage return are
allowed in free text; PostgreSQL cannot store NUL at all, so neither database gets any)."""


PRINTABLE: JsonDict = {"pattern": r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"}
"""JSON-schema pattern documenting :data:`_CONTROL` on free-text request fields (the check itself is
:func:`_no_control`, whose message names the character)."""


Capability = Annotated[str, Field(min_length=1, max_length=32, json_schema_extra=PRINTABLE)]


def _no_control(value: Any) -> Any:
    if isinstance(value, str):
        found = _CONTROL.search(value)
        if found is not None:
            raise ValueError(f"contains the control character U+{ord(found.group()):04X}; remove it")
    elif isinstance(value, list):
        for item in value:
            _no_control(item)
    return value


class _In(BaseModel):
    """Request bodies: unknown fields refused, no coercion ("1" is not a priority, true is not 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        return _no_control(value)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        # SQLite hands back naive datetimes; they are UTC.
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# ---------------------------------------------------------------- stations
class StationIn(_In):
    """A new station."""

    id: Ident
    name: str = Field(default="", max_length=200, json_schema_extra=PRINTABLE)
    type: StationType
    lon: Lon
    lat: Lat


class StationOut(_Out):
    """A station."""

    id: str
    name: str
    type: StationType
    lon: float
    lat: float
    created_at: datetime


# ---------------------------------------------------------------- units
class UnitIn(_In):
    """A new unit; it starts ``available`` at ``lon``/``lat``."""

    id: Ident
    type: UnitType
    lon: Lon
    lat: Lat
    capabilities: list[Capability] = Field(default_factory=list, max_length=20)
    station_id: Ident | None = None
    agency_id: Ident | None = Field(
        default=None,
        description="Agency (OPD) that owns the unit; default: its station's agency in the region file, "
        "else the only agency owning its type",
    )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # an omitted field is "no change", not null


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("omit the field instead of sending null")
    return value


class UnitPatch(_In):
    """A unit's status and/or position change (give ``lon`` and ``lat`` together; omit what does
    not change, ``null`` is refused)."""

    model_config = ConfigDict(json_schema_extra={
        "anyOf": [
            {"required": ["status"], "maxProperties": 1},
            {"required": ["lon", "lat"]},
        ],
    })

    status: UnitStatus | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    lon: Lon | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    lat: Lat | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)

    _given = field_validator("status", "lon", "lat", mode="before")(_not_null)

    @model_validator(mode="after")
    def _something(self) -> UnitPatch:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give lon and lat together")
        if self.status is None and self.lon is None:
            raise ValueError("nothing to change: give status and/or lon and lat")
        return self


class UnitOut(_Out):
    """A unit and its live state (``incident_id`` is set while assigned)."""

    id: str
    type: UnitType
    status: UnitStatus
    incident_id: int | None
    station_id: str | None
    lon: float
    lat: float
    position_time: datetime = Field(description="When lon/lat was reported (UTC)")
    home_lon: float | None = Field(description="Home (station) longitude, degrees; null when unknown")
    home_lat: float | None = Field(description="Home (station) latitude, degrees; null when unknown")
    capabilities: list[str]
    agency_id: str | None = Field(default=None, description="Agency (OPD) that owns the unit")
    updated_at: datetime


# ---------------------------------------------------------------- agencies and forwards
class AgencyOut(_Out):
    """An agency (OPD) the 112 centre forwards reports to, with its queue right now."""

    id: str
    name: str
    kind: str
    unit_types: list[str] = Field(description="Unit types it owns")
    source: str = Field(description="Where the fact that it takes part comes from")
    notified: int = Field(description="Open incidents forwarded to it and not acknowledged yet (incl. overdue)")
    overdue: int = Field(description="Of those, how many are past the acknowledgement timeout")
    units_available: int = Field(description="Its units that are free now (available or returning)")


class ForwardOut(_Out):
    """An incident forwarded to one agency."""

    agency_id: str
    agency_name: str
    unit_types: list[str] = Field(description="Unit types asked of it (empty: informed only)")
    status: Literal["notified", "acknowledged", "overdue", "escalated"]
    notified_at: datetime
    acknowledged_at: datetime | None
    escalated_at: datetime | None
    ack_deadline: datetime = Field(description="When a notified forward becomes overdue")


class CommandIn(_In):
    """Hand command of an incident to another agency."""

    agency_id: Ident


class PublicStatusOut(_Out):
    """What the public may know about a report: its stage in plain Bahasa Indonesia, nothing personal."""

    stage: Literal["diterima", "diteruskan", "dalam_perjalanan", "di_lokasi", "selesai", "dibatalkan"]
    message: str = Field(description="The stage in plain Bahasa Indonesia")
    eta_minutes: int | None = Field(
        description="Estimated minutes until the first unit arrives, when one is on its way"
    )
    updated_at: datetime


# ---------------------------------------------------------------- incidents
class IncidentIn(_In):
    """A new incident at ``lon``/``lat`` (snapped to the nearest road)."""

    type: str = Field(
        min_length=1, max_length=32, description="Incident type from the SOP table, e.g. medis, kebakaran, kecelakaan",
        json_schema_extra=PRINTABLE,
    )
    priority: int = Field(ge=1, le=3, description="1 (life-threatening), 2 (urgent) or 3 (non-urgent)")
    lon: Lon
    lat: Lat
    note: str = Field(default="", max_length=2000, json_schema_extra=PRINTABLE)


class IncidentPatch(_In):
    """A lifecycle step: en_route, on_scene, transporting, closed or cancelled."""

    status: IncidentStatus
    note: str | None = Field(default=None, max_length=2000, json_schema_extra=PRINTABLE)


class DispatchIn(_In):
    """Units to send; omit ``unit_ids`` to confirm the recommended units."""

    unit_ids: list[Ident] | None = Field(default=None, min_length=1, max_length=20,
                                         json_schema_extra={"uniqueItems": True})

    @model_validator(mode="after")
    def _unique(self) -> DispatchIn:
        if self.unit_ids is not None and len(set(self.unit_ids)) != len(self.unit_ids):
            raise ValueError("unit_ids contains duplicates")
        return self


class RecommendationOut(BaseModel):
    """The engine's recommendation: units in SOP order, their ETAs (s, null = unreachable), why.

    ``reasons`` maps unit id -> why it was (or was not) chosen; ``shortfall`` says what the SOP
    asks for that nobody can send (null when nothing is missing). Further engine fields
    (distances_m, missing, candidates, target_s, ...) are passed through.
    """

    model_config = ConfigDict(extra="allow")

    unit_ids: list[str]
    etas_s: list[float | None]
    reasons: dict[str, str]
    shortfall: str | None


class AssignmentOut(_Out):
    """A unit sent to the incident (``active`` until released)."""

    unit_id: str
    active: bool
    assigned_at: datetime
    released_at: datetime | None


class IncidentOut(_Out):
    """An incident, its recommendation and the units assigned to it."""

    id: int
    type: str
    priority: int
    lon: float
    lat: float
    status: IncidentStatus
    note: str
    recommendation: RecommendationOut | None
    unit_ids: list[str] = Field(description="Units currently assigned")
    assignments: list[AssignmentOut]
    forwarded_to: list[ForwardOut] = Field(default_factory=list, description="Agencies (OPD) the report went to")
    command_agency_id: str | None = Field(default=None, description="The commanding agency")
    public_token: str | None = Field(
        default=None, description="Token of the public status page GET /status/{public_token} (give it to the caller)"
    )
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


# ---------------------------------------------------------------- keys, audit, queries
class KeyIn(_In):
    """A new API key: a ``unit`` key names its ``unit_id``, an ``agency`` key its ``agency_id``
    (one of ``GET /agencies``); no other role takes either."""

    model_config = ConfigDict(json_schema_extra={
        "anyOf": [
            {"properties": {"role": {"enum": ["dispatcher", "planner", "admin"]},
                            "unit_id": {"type": "null"}, "agency_id": {"type": "null"}}},
            {"properties": {"role": {"const": "unit"}, "unit_id": {"type": "string"}, "agency_id": {"type": "null"}},
             "required": ["unit_id"]},
            {"properties": {"role": {"const": "agency"}, "agency_id": {"type": "string"}, "unit_id": {"type": "null"}},
             "required": ["agency_id"]},
        ],
    })

    role: Role
    unit_id: Ident | None = None
    agency_id: Ident | None = None
    label: str = Field(default="", max_length=200, json_schema_extra=PRINTABLE)


class KeyOut(_Out):
    """An API key's record (never the key itself)."""

    id: int
    prefix: str
    role: Role
    unit_id: str | None
    agency_id: str | None = None
    label: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    """A new key: ``key`` is shown this once and never stored."""

    key: str


class AuditOut(_Out):
    """One audit-log entry."""

    id: int
    at: datetime
    key_id: int | None
    role: Role
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ReachUnit(BaseModel):
    """An available unit that reaches the point, and its ETA in seconds."""

    id: str
    type: str
    eta_s: float
    position: str = Field(
        description="Where the ETA starts: 'reported' (fresh report), 'home_station' (report older than "
        "30 min: from home) or 'stale' (old report, home unknown: from the old position)"
    )


class ReachOut(BaseModel):
    """Which available units reach a point within the limit."""

    lon: float
    lat: float
    snapped_lon: float
    snapped_lat: float
    snap_distance_m: float
    limit_s: float
    units: list[ReachUnit]


class PopulationCoverage(BaseModel):
    """People within the limit of an available unit.

    People are whole persons, rounded for display (a raster population is fractional); the
    share is computed from the unrounded figures.
    """

    total: int
    covered: int
    share: float | None
    median_s: float | None
    unreachable: int


class DesaCoverage(BaseModel):
    """One desa/kelurahan: its people and the share covered (people rounded to whole persons)."""

    name: str
    population: int
    covered: int
    share: float | None


class DesaSummary(BaseModel):
    """Desa fully, partly and not covered (by population share)."""

    total: int
    fully_covered: int
    partly_covered: int
    not_covered: int
    areas: list[DesaCoverage]


class Hole(BaseModel):
    """A cluster of uncovered people (rounded to whole persons; centre lon/lat in degrees, area km²)."""

    rank: int
    population: int
    points: int
    area_km2: float
    lon: float
    lat: float


class CoverageOut(BaseModel):
    """Coverage of the region by the units available now."""

    minutes: float
    type: str | None
    units_available: int
    population: PopulationCoverage
    desa: DesaSummary | None
    holes: list[Hole]


class LiveOut(BaseModel):
    """The process answers."""

    status: Literal["alive"]


class ErrorOut(BaseModel):
    """Every error: a stable machine code and a message that says what to do.

    Some codes add facts: ``unit_unavailable`` (409) lists each blocking unit in ``units``.
    """

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="Machine-readable code, e.g. validation_error, invalid_json, unauthorized, "
                                   "forbidden, not_found, unit_unavailable, busy, timeout, database_unavailable")
    detail: str = Field(description="What was wrong and what to do, one line")


class HealthOut(BaseModel):
    """Readiness and what the server runs on (``reason``: why the last write failed)."""

    status: Literal["ok", "degraded"]
    reason: str | None = None
    network: str
    nodes: int
    database: str
    schema_revision: str | None
