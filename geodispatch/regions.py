"""Region configuration: one YAML file per regency in ``data/regions/<slug>.yaml``.

A region file holds hand-curated facts only, each station with the ``source:`` of its name and
coordinates. Facts that could not be verified are left out, never guessed. Example::

    slug: bantaeng
    name: Kabupaten Bantaeng
    kind: kabupaten
    province: Sulawesi Selatan
    bps_code: "7303"
    kemendagri_code: "73.03"
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
    sea_links:            # crossings OSM lacks (see geodispatch.network.sea)
      - {name: Speedboat Puskesmas X, from_lon: ..., from_lat: ..., to_lon: ..., to_lat: ...,
         speed_kph: 40, boarding_min: 10, hours: "06-18", source: https://...}
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geodispatch import settings
from geodispatch.domain import AGENCY_KIND_UNIT_TYPES, AgencyKind, StationType, UnitType
from geodispatch.errors import CorruptFileError, DownloadError, InputError, RegionConfigError, SourceNotFoundError


def _regions_dir() -> Path:
    """The packaged region files of an installed wheel, else ``data/regions`` of the source tree."""
    packaged = Path(str(importlib.resources.files("geodispatch").joinpath("_region_files")))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "data" / "regions"


REGIONS_DIR = _regions_dir()
"""Where the region YAML files are read: ``data/regions`` of the repository (the one copy kept under
version control), or, in an installed wheel, the copy the build put in the package (``setup.py``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitConfig(_Strict):
    """A unit (vehicle) based at a station."""

    id: str = Field(min_length=1)
    type: UnitType
    capabilities: tuple[str, ...] = ()
    agency: str | None = None
    """Id of the agency that owns the unit (default: its station's agency)."""


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
    agency: str | None = None
    """Id of the agency that runs the station (and owns its units unless a unit says otherwise)."""


class Requirement(_Strict):
    """Units of one type an incident type needs (an SOP line)."""

    type: UnitType
    count: int = Field(default=1, ge=1, le=20)
    capabilities: tuple[str, ...] = ()


class Agency(_Strict):
    """An agency (OPD or partner organisation) that the 112 centre forwards reports to.

    ``unit_types`` are the unit types it owns (default: those of its kind, see
    :data:`geodispatch.domain.AGENCY_KIND_UNIT_TYPES`); ``source`` says where the fact that this
    agency takes part comes from (a URL, a regulation, or ``synthetic``).
    """

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1)
    kind: AgencyKind
    unit_types: tuple[UnitType, ...] | None = None
    source: str = Field(min_length=1)

    @property
    def owned_unit_types(self) -> tuple[str, ...]:
        """Unit types this agency sends (its own list, else its kind's)."""
        return self.unit_types if self.unit_types is not None else AGENCY_KIND_UNIT_TYPES[self.kind]


class Workflow(_Strict):
    """Who is told and who commands, for one incident type (or ``"*"``: every type).

    ``notify`` names agencies told of the incident even when they send no unit (BPBD for every
    flood, the Kominfo for every report); ``command`` is the commanding agency (BPBD for
    disasters). ``source`` says where the rule comes from.
    """

    notify: tuple[str, ...] = ()
    command: str | None = None
    source: str = Field(min_length=1)


class SeaLinkConfig(_Strict):
    """A sea crossing OpenStreetMap does not have (a puskesmas speedboat, an ambulans laut).

    Ends are lon/lat degrees (each lands on the nearest road); ``speed_kph`` is the boat's
    speed, ``boarding_min`` the minutes to board and berth, ``hours`` when it runs (``06-18``;
    empty: always), ``carries`` the unit types it takes across (a list, or ``all`` for a boat that
    takes vehicles; empty: ambulance crews only, the speedboat ambulance default of
    :mod:`geodispatch.network.sea`). ``source`` says where the facts come from.
    """

    name: str = Field(min_length=1)
    from_lon: float = Field(ge=-180, le=180)
    from_lat: float = Field(ge=-90, le=90)
    to_lon: float = Field(ge=-180, le=180)
    to_lat: float = Field(ge=-90, le=90)
    speed_kph: float = Field(gt=0, le=150)
    boarding_min: float = Field(ge=0, le=1440)
    hours: str = ""
    carries: str | list[str] = ""
    source: str = Field(min_length=1)

    @field_validator("carries")
    @classmethod
    def _known_unit_types(cls, value: str | list[str]) -> str:
        from geodispatch.network.sea import ALL_TYPES, parse_carries

        try:
            types = parse_carries(value, default=())
        except InputError as exc:
            raise ValueError(str(exc)) from exc
        if types is None:
            return ALL_TYPES
        return ";".join(types)


class Region(_Strict):
    """A regency (kabupaten) or city (kota) and its emergency-service facts.

    ``bps_code`` is the 4-digit BPS statistical code and ``kemendagri_code`` the Kemendagri
    administrative code (``PP.KK``, as in the boundary files); the two differ for some
    regencies (Kabupaten Kutai Timur: BPS 6404, Kemendagri 64.08), so keep both separate.
    ``target_response_s`` is in seconds. ``lang`` is the language of maps, tables and CLI
    summaries for this region (``id`` Bahasa Indonesia by default, ``en`` English).
    """

    slug: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str = Field(min_length=1)
    kind: Literal["kabupaten", "kota"]
    province: str = Field(min_length=1)
    bps_code: str | None = Field(default=None, pattern=r"^\d{4}$")
    kemendagri_code: str | None = Field(default=None, pattern=r"^\d{2}\.\d{2}$")
    osm_query: str = Field(min_length=1)
    boundary_source: str | None = None
    target_response_s: float = Field(default=settings.TARGET_RESPONSE_S, gt=0, le=7200)
    lang: Literal["id", "en"] = "id"
    speeds_kph: dict[str, float] = Field(default_factory=dict)
    congestion: dict[int, float] = Field(default_factory=dict)
    stations: tuple[Station, ...] = ()
    sop: dict[str, tuple[Requirement, ...]] = Field(default_factory=dict)
    agencies: tuple[Agency, ...] = ()
    workflow: dict[str, Workflow] = Field(default_factory=dict)
    ack_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    sea_links: tuple[SeaLinkConfig, ...] = ()
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
        agency_ids = [a.id for a in self.agencies]
        for label, ids in (("station", station_ids), ("unit", unit_ids), ("agency", agency_ids)):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {label} ids: {', '.join(dupes)}")
        known = set(agency_ids)
        refs = [(f"station {s.id}", s.agency) for s in self.stations]
        refs += [(f"unit {u.id}", u.agency) for s in self.stations for u in s.units]
        for kind, line in self.workflow.items():
            refs += [(f"workflow {kind} notify", a) for a in line.notify]
            refs.append((f"workflow {kind} command", line.command))
        unknown = [f"{where}: {ref}" for where, ref in refs if ref is not None and ref not in known]
        if unknown:
            raise ValueError(f"unknown agency ids ({'; '.join(unknown)}); list them under agencies:")
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
    region = parse_region(data, origin=str(path))
    if path.resolve().parent == REGIONS_DIR and region.slug != path.stem:
        raise RegionConfigError(f"{path}: slug {region.slug!r} does not match the file name; set slug: {path.stem}")
    return region


# --- stations from OpenStreetMap tags (download time only) ----------------------------------

OSM_STATION_TAGS: dict[str, bool | str | list[str]] = {
    "amenity": ["fire_station", "hospital", "clinic", "police"],
    "emergency": "ambulance_station",
    "healthcare": "centre",
}
"""OSM tags fetched for stations (the union of features matching any of them)."""

_OSM_TYPE_RULES: tuple[tuple[str, str, StationType], ...] = (
    ("amenity", "fire_station", "damkar"),
    ("emergency", "ambulance_station", "ambulance"),
    ("amenity", "hospital", "rsud"),
    ("amenity", "police", "polisi"),
    ("amenity", "clinic", "puskesmas"),
    ("healthcare", "centre", "puskesmas"),
)
"""OSM tag -> station type, first match wins (a hospital tagged as ambulance base is ``ambulance``)."""


def _osm_tag(row: Any, key: str) -> str | None:
    value = row.get(key)
    if value is None or (isinstance(value, float) and value != value):  # missing or NaN
        return None
    return str(value).strip()


def _osm_element_ids(gdf: Any) -> list[tuple[str, int]]:
    """(element type, OSM id) per row, from an osmnx 2.x (element, id) or 1.x (element_type, osmid) index."""
    import pandas as pd

    index = gdf.index
    if isinstance(index, pd.MultiIndex) and index.nlevels == 2:
        pairs = list(index)
    else:
        type_col = next((c for c in ("element", "element_type") if c in gdf.columns), None)
        id_col = next((c for c in ("id", "osmid") if c in gdf.columns), None)
        if type_col is None or id_col is None:
            raise InputError(
                "OSM features need an (element, id) index as returned by osmnx.features_from_place, "
                "or 'element' and 'id' columns"
            )
        pairs = list(zip(gdf[type_col], gdf[id_col], strict=True))
    out = []
    for element, osmid in pairs:
        try:
            out.append((str(element), int(osmid)))
        except (TypeError, ValueError) as exc:
            raise InputError(f"OSM feature id {osmid!r} of {element!r} is not an integer") from exc
    return out


def stations_from_osm_features(gdf: Any) -> tuple[Station, ...]:
    """Convert an osmnx features GeoDataFrame into stations.

    Tags map to station types: ``amenity=fire_station`` -> ``damkar``,
    ``emergency=ambulance_station`` -> ``ambulance``, ``amenity=hospital`` -> ``rsud``,
    ``amenity=police`` -> ``polisi``, ``amenity=clinic`` or ``healthcare=centre`` ->
    ``puskesmas`` (first match in this order). OSM does not tell a public RSUD from a private
    hospital, nor a puskesmas from a private klinik: the station name tells. Rows matching
    none of these tags, or without geometry, are skipped.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        As returned by ``osmnx.features_from_place``: indexed by (element type, OSM id), tag
        columns, geometry in EPSG:4326 (other CRSs are reprojected; no CRS means EPSG:4326).
        Polygons and lines are placed at their representative point (always inside the shape).

    Returns
    -------
    tuple of Station
        ``id`` ``osm-<type>-<id>``, ``name`` from the ``name`` tag (empty when untagged),
        lon/lat in degrees (EPSG:4326), ``source`` ``OpenStreetMap <type>/<id> (ODbL)``, and
        no units: OSM does not record vehicles, so the region must enter them.

    Raises
    ------
    InputError
        When the frame has no geometry or no OSM element ids.
    """
    if len(gdf) == 0:
        return ()
    if not hasattr(gdf, "geometry"):
        raise InputError("OSM features need a geometry column (a GeoDataFrame from osmnx)")
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    ids = _osm_element_ids(gdf)
    stations = []
    seen: set[str] = set()
    for (element, osmid), (_, row), geom in zip(ids, gdf.iterrows(), gdf.geometry, strict=True):
        station_type = next(
            (stype for key, value, stype in _OSM_TYPE_RULES if _osm_tag(row, key) == value),
            None,
        )
        if station_type is None or geom is None or geom.is_empty:
            continue
        point = geom if geom.geom_type == "Point" else geom.representative_point()
        station_id = f"osm-{element}-{osmid}"
        if station_id in seen:
            continue
        seen.add(station_id)
        stations.append(
            Station(
                id=station_id,
                name=_osm_tag(row, "name") or "",
                type=station_type,
                lon=float(point.x),
                lat=float(point.y),
                source=f"OpenStreetMap {element}/{osmid} (ODbL)",
            )
        )
    return tuple(stations)


def fetch_osm_stations(query: str) -> tuple[Station, ...]:
    """Download stations for a place from OpenStreetMap (network access; download time only).

    Parameters
    ----------
    query : str
        OSM place query, e.g. ``"Kabupaten Bantaeng, Sulawesi Selatan, Indonesia"``.

    Returns
    -------
    tuple of Station
        See :func:`stations_from_osm_features`; empty when OSM has no matching features there.

    Raises
    ------
    SourceNotFoundError
        When OpenStreetMap cannot find the place.
    DownloadError
        When the download fails (no connection, server error).
    """
    import osmnx as ox

    from geodispatch.settings import cache_dir

    ox.settings.cache_folder = str(cache_dir() / "osmnx")
    ox.settings.use_cache = True
    try:
        gdf = ox.features_from_place(query, tags=OSM_STATION_TAGS)
    except Exception as exc:
        kind = type(exc).__name__
        if "No matching features" in str(exc):
            return ()
        # geocoding failures: InsufficientResponseError ("could not geocode"), or TypeError when
        # the place is not a polygon; server errors (ResponseStatusCodeError) are download failures
        if kind == "InsufficientResponseError" or isinstance(exc, TypeError) or "geocode" in str(exc).lower():
            raise SourceNotFoundError(
                f"OpenStreetMap found no area for {query!r} ({exc}); "
                "check the place name (e.g. 'Kabupaten Bantaeng, Sulawesi Selatan, Indonesia')"
            ) from exc
        raise DownloadError(
            f"downloading stations for {query!r} from OpenStreetMap failed ({kind}: {exc}); "
            "check the internet connection, or pass a stations file (CSV/GeoJSON)"
        ) from exc
    return stations_from_osm_features(gdf)
