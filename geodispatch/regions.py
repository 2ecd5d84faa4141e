"""Region configuration: one YAML file per regency in ``data/regions/<slug>.yaml``.

A region file holds hand-curated facts only, each station with the ``source:`` of its name and
coordinates. Facts that could not be verified are left out, never guessed. Example::

    slug: bantaeng
    name: Kabupaten Bantaeng
    kind: kabupaten
    province: Sulawesi Selatan
    bps_code: "7303"
    osm_query: Kabupaten Bantaeng, Sulawesi Selatan, Indonesia
    boundary_source: ../shared/data/boundaries/indonesia_kabupaten_kota.geojson (kode 73.03)
    target_response_s: 900
    speeds_kph: {residential: 20}
    stations:
      - id: psc-bantaeng
        name: PSC 119 Bantaeng
        type: psc
        lon: 119.95
        lat: -5.54
        source: https://...
        units:
          - {id: amb-1, type: ambulance, capabilities: [BLS]}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geodispatch.errors import CorruptFileError, RegionConfigError, SourceNotFoundError

StationType = Literal["psc", "ambulance", "damkar", "puskesmas", "rsud", "bpbd", "polisi", "pmi", "sar"]
UnitType = Literal["ambulance", "damkar", "rescue", "polisi", "bpbd", "pmi", "sar"]

STATION_TYPES: tuple[str, ...] = StationType.__args__  # type: ignore[attr-defined]
UNIT_TYPES: tuple[str, ...] = UnitType.__args__  # type: ignore[attr-defined]

REGIONS_DIR = Path(__file__).resolve().parent.parent / "data" / "regions"
"""Where the region YAML files live (``data/regions`` of the source tree)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitConfig(_Strict):
    """A unit (vehicle) based at a station."""

    id: str = Field(min_length=1)
    type: UnitType
    capabilities: tuple[str, ...] = ()


class Station(_Strict):
    """A station (post) with its location and units.

    ``lon``/``lat`` are degrees (EPSG:4326). ``source`` says where the name and coordinates come
    from (a URL, a dataset, or ``synthetic`` for the generated regency).
    """

    id: str = Field(min_length=1)
    name: str = ""
    type: StationType
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    source: str = Field(min_length=1)
    units: tuple[UnitConfig, ...] = ()


class Requirement(_Strict):
    """Units of one type an incident type needs (an SOP line)."""

    type: UnitType
    count: int = Field(default=1, ge=1, le=20)
    capabilities: tuple[str, ...] = ()


class Region(_Strict):
    """A regency (kabupaten) or city (kota) and its emergency-service facts."""

    slug: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str = Field(min_length=1)
    kind: Literal["kabupaten", "kota"]
    province: str = Field(min_length=1)
    bps_code: str | None = Field(default=None, pattern=r"^\d{4}$")
    osm_query: str = Field(min_length=1)
    boundary_source: str | None = None
    target_response_s: float = Field(default=900.0, gt=0, le=7200)
    speeds_kph: dict[str, float] = Field(default_factory=dict)
    congestion: dict[int, float] = Field(default_factory=dict)
    stations: tuple[Station, ...] = ()
    sop: dict[str, tuple[Requirement, ...]] = Field(default_factory=dict)
    notes: str = ""

    @field_validator("speeds_kph")
    @classmethod
    def _positive_speeds(cls, value: dict[str, float]) -> dict[str, float]:
        for cls_name, kph in value.items():
            if not 0 < kph <= 150:
                raise ValueError(f"speed for {cls_name!r} must be in (0, 150] km/h, got {kph}")
        return value

    @field_validator("congestion")
    @classmethod
    def _valid_congestion(cls, value: dict[int, float]) -> dict[int, float]:
        for hour, factor in value.items():
            if not 0 <= hour <= 23 or not 0 < factor <= 10:
                raise ValueError(f"congestion needs hour 0-23 and factor in (0, 10], got {hour}: {factor}")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Region:
        station_ids = [s.id for s in self.stations]
        unit_ids = [u.id for s in self.stations for u in s.units]
        for label, ids in (("station", station_ids), ("unit", unit_ids)):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {label} ids: {', '.join(dupes)}")
        return self


def _format_validation(exc: ValidationError) -> str:
    """One line naming each invalid field."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_region(data: Any, origin: str = "<region>") -> Region:
    """Validate a region mapping (already parsed from YAML).

    Raises
    ------
    RegionConfigError
        Naming each invalid field.
    """
    if not isinstance(data, dict):
        raise RegionConfigError(f"{origin}: a region file must be a YAML mapping, got {type(data).__name__}")
    try:
        return Region.model_validate(data)
    except ValidationError as exc:
        raise RegionConfigError(f"{origin}: invalid region: {_format_validation(exc)}") from exc


def region_path(slug: str) -> Path:
    """Path of the YAML file of a region slug (it may not exist)."""
    return REGIONS_DIR / f"{slug}.yaml"


def list_regions() -> list[str]:
    """Slugs of the regions shipped in ``data/regions``."""
    return sorted(p.stem for p in REGIONS_DIR.glob("*.yaml"))


def is_region(source: str | os.PathLike[str]) -> bool:
    """True when ``source`` names a shipped region slug or a region YAML file."""
    text = str(source)
    if text.endswith((".yaml", ".yml")):
        return True
    return region_path(text).exists() if text.replace("-", "").replace("_", "").isalnum() else False


def load_region(slug_or_path: str | os.PathLike[str]) -> Region:
    """Load and validate a region by slug (``bantaeng``) or YAML path.

    Raises
    ------
    SourceNotFoundError
        When no such region or file exists (the message lists the known slugs).
    CorruptFileError
        When the YAML cannot be parsed.
    RegionConfigError
        When a field is invalid (the message names it).
    """
    text = str(slug_or_path)
    path = Path(text) if text.endswith((".yaml", ".yml")) else region_path(text)
    if not path.exists():
        known = ", ".join(list_regions()) or "none"
        raise SourceNotFoundError(f"unknown region {text!r}; known regions: {known}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CorruptFileError(f"{path}: not valid YAML ({exc}); fix the file") from exc
    return parse_region(data, origin=str(path))
