"""A scenario: a road network with the stations, population and areas that go with it.

The CLI and the API turn their ``REGION_OR_SOURCE`` argument into a :class:`Scenario` here:
the synthetic regency brings its own stations, population and desa; a region slug brings its
YAML stations and target (a region file without stations gets them from OpenStreetMap tags when
its network is downloaded, cached for offline reruns: :func:`region_osm_stations`); a bare
file (``.graphml``, ``.osm.pbf``) brings only roads, and the user adds stations (and population,
areas) from files.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geodispatch import regions
from geodispatch.errors import DownloadError, InputError, SourceNotFoundError
from geodispatch.network import load as _roads
from geodispatch.network.graph import RoadNetwork
from geodispatch.output import atomic_file
from geodispatch.regions import Agency, Region, Requirement, Station, Workflow, is_region, list_regions, load_region
from geodispatch.settings import TARGET_RESPONSE_S, cache_dir

log = logging.getLogger(__name__)

DEFAULT_TARGET_S = TARGET_RESPONSE_S
"""Default target response time: 15 minutes, in seconds (:data:`geodispatch.settings.TARGET_RESPONSE_S`)."""


def synthetic_size(source: str) -> int | None:
    """Node count asked for by a ``synthetic`` / ``synthetic:N`` source, None for other sources.

    Raises
    ------
    InputError
        When N is not an integer >= 200.
    """
    text = source.strip()
    if text != "synthetic" and not text.startswith("synthetic:"):
        return None
    size = text.partition(":")[2] or "3000"
    if not size.isdigit() or int(size) < 200:
        raise InputError(f"synthetic size must be an integer >= 200 nodes, got {size!r}")
    return int(size)


def _is_region_source(text: str) -> bool:
    """True when ``text`` names a packaged region slug or a region YAML file (not a road file)."""
    return is_region(text) and (text.endswith((".yaml", ".yml")) or not os.path.exists(text))


def _check_not_a_mistyped_slug(text: str) -> None:
    """Refuse a one-word source close to a region slug instead of sending it to OSM as a place.

    ``bantaen`` is a typo of ``bantaeng``, not a place to geocode; a place query that is meant
    names the place in full (``Kabupaten Bantaeng, Indonesia``).

    Raises
    ------
    SourceNotFoundError
        Naming the close slug.
    """
    if os.path.exists(text) or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return
    close = difflib.get_close_matches(text.lower(), list_regions(), n=1, cutoff=0.75)
    if close:
        raise SourceNotFoundError(
            f"unknown region {text!r}: did you mean {close[0]}? (known regions: {', '.join(list_regions())}; "
            "an OpenStreetMap place query names the place in full, e.g. 'Kabupaten Bantaeng, Indonesia')"
        )


def _synthetic_network(network: RoadNetwork, options: dict[str, Any]) -> RoadNetwork:
    """The synthetic regency's roads with the speed and sea options applied (``refresh`` has nothing to do).

    ``ferries=False`` drops the regency's boat; ``sea_links`` are added (closed links left out at ``hour``).

    Raises
    ------
    InputError
        For an option that means nothing here (``bbox``, ``polygon`` clip a ``.osm.pbf``).
    """
    speed = {k: options.get(k) for k in ("speeds_kph", "hour", "congestion")}
    known = {*speed, "refresh", "ferries", "sea_links"}
    other = sorted(k for k, v in options.items() if k not in known and v is not None)
    if other:
        names = ", ".join(other)
        raise InputError(
            f"{names}: not an option of the synthetic regency (speeds_kph, hour, congestion, ferries, sea_links are)"
        )
    network = _roads.retime(network, **speed)
    return _roads.apply_sea_options(
        network, bool(options.get("ferries", True)), options.get("sea_links"), options.get("hour")
    )


def load_network(source: str | os.PathLike[str], **options: Any) -> RoadNetwork:
    """Load the road network of any source: ``synthetic[:N]``, a region slug, a place query or a file.

    The scenario-level front of :func:`geodispatch.network.load.load_network` (which knows only
    files and place queries): the synthetic regency is generated here, and a region slug or
    region YAML is downloaded through its OSM place query with the region's speed overrides and
    congestion table (the caller's ``speeds_kph`` / ``congestion`` win) and its ``sea_links:``
    (added to the caller's ``sea_links``).

    Parameters
    ----------
    source : str or path
        ``"synthetic"``, ``"synthetic:N"``, a region slug (``"bantaeng"``), a region YAML, an OSM
        place query, or a road file (``.osm``, ``.osm.pbf``, ``.graphml``, ``.npz``).
    **options
        Keyword options of :func:`geodispatch.network.load.load_network` (``speeds_kph``,
        ``hour``, ``congestion``, ``bbox``, ``polygon``, ``refresh``, ``ferries``,
        ``boat_speed_kph``, ``boarding_s``, ``sea_links``).

    Returns
    -------
    RoadNetwork
    """
    text = str(source).strip()
    size = synthetic_size(text)
    if size is not None:
        from geodispatch.synthetic import synthetic_regency

        return _synthetic_network(synthetic_regency(n_nodes=size).network, options)
    if _is_region_source(text):
        region = load_region(text)
        speeds = {**region.speeds_kph, **(options.pop("speeds_kph", None) or {})}
        congestion = options.pop("congestion", None)
        boats = {k: options[k] for k in ("boat_speed_kph", "boarding_s") if k in options}
        network = _roads.load_place(
            region.osm_query,
            cache_key=region.slug,
            refresh=bool(options.pop("refresh", False)),
            speeds_kph=speeds or None,
            hour=options.get("hour"),
            congestion=congestion if congestion is not None else (region.congestion or None),
            **boats,
        )
        links = region_sea_links(region, options.get("sea_links"))
        return _roads.apply_sea_options(network, options.get("ferries", True), links, options.get("hour"))
    _check_not_a_mistyped_slug(text)
    return _roads.load_network(text, **options)


def region_sea_links(region: Region, extra: Any = None) -> Any:
    """The region YAML's ``sea_links:`` as a DataFrame, with the caller's links (file or frame) added.

    Returns
    -------
    pandas.DataFrame or None
        None when neither the region nor the caller has links.
    """
    import pandas as pd

    from geodispatch.network.sea import read_sea_links

    frames = []
    if region.sea_links:
        frames.append(pd.DataFrame([link.model_dump(exclude={"source"}) for link in region.sea_links]))
    if extra is not None:
        frames.append(read_sea_links(extra))
    return pd.concat(frames, ignore_index=True) if frames else None


@dataclass
class Scenario:
    """Everything a planner or dispatcher works on for one place.

    Attributes
    ----------
    name : str
        Place name (says SYNTHETIC for the generated regency).
    network : RoadNetwork
        Roads.
    stations : tuple of Station
        Stations with their units (may be empty for a bare road file).
    population : pandas.DataFrame or None
        Points with ``lon``, ``lat``, ``population``.
    areas : geopandas.GeoDataFrame or None
        Administrative areas (desa/kelurahan) with a ``name`` column, EPSG:4326.
    target_response_s : float
        Target response time, seconds.
    region : Region or None
        The region config when the source was a region.
    sop : dict
        Incident type -> unit requirements from the region (empty = engine defaults).
    agencies : tuple of Agency
        Agencies (OPD) reports are forwarded to (empty: the call taker dispatches directly).
    workflow : dict
        Incident type (or ``"*"``) -> who is notified and who commands.
    ack_timeout_s : float
        Seconds an agency has to acknowledge a forwarded report before it is overdue.
    """

    name: str
    network: RoadNetwork
    stations: tuple[Station, ...] = ()
    population: Any = None
    areas: Any = None
    target_response_s: float = DEFAULT_TARGET_S
    region: Region | None = None
    sop: dict[str, tuple[Requirement, ...]] = field(default_factory=dict)
    agencies: tuple[Agency, ...] = ()
    workflow: dict[str, Workflow] = field(default_factory=dict)
    ack_timeout_s: float = 60.0

    @property
    def lang(self) -> str:
        """Language of what people read: the region's (``id`` by default), else English."""
        return self.region.lang if self.region is not None else "en"

    @property
    def synthetic(self) -> bool:
        """True for the generated synthetic regency."""
        return self.network.synthetic


def load_scenario(
    source: str | os.PathLike[str],
    stations: str | os.PathLike[str] | None = None,
    **network_options: Any,
) -> Scenario:
    """Load a scenario from a region slug, ``synthetic[:N]``, a place query or a road file.

    Parameters
    ----------
    source : str or path
        As for :func:`geodispatch.network.load_network`.
    stations : path, optional
        CSV/GeoJSON of stations (id, type, lon, lat) replacing the source's own stations.
    **network_options
        Passed to :func:`load_network`.

    Returns
    -------
    Scenario
    """
    from geodispatch.inputs import read_stations

    text = str(source).strip()
    size = synthetic_size(text)
    # a bad stations file is reported before the network, which may be a long download
    user_stations = read_stations(stations) if stations is not None else None
    if size is not None:
        from geodispatch.synthetic import synthetic_regency

        regency = synthetic_regency(n_nodes=size)
        scenario = Scenario(
            name=regency.network.label,
            network=_synthetic_network(regency.network, network_options),
            stations=tuple(regency.stations),
            population=regency.population,
            areas=regency.areas,
            target_response_s=float(regency.target_response_s),
            agencies=regency.agencies,
            workflow=dict(regency.workflow),
        )
    elif _is_region_source(text):
        region = load_region(text)
        network = load_network(text, **network_options)
        region_stations = region.stations
        if not region_stations and stations is None:
            region_stations = region_osm_stations(region, refresh=bool(network_options.get("refresh")))
        scenario = Scenario(
            name=region.name,
            network=network,
            stations=region_stations,
            target_response_s=region.target_response_s,
            region=region,
            sop=dict(region.sop),
            agencies=region.agencies,
            workflow=dict(region.workflow),
            ack_timeout_s=region.ack_timeout_s,
        )
    else:
        network = load_network(text, **network_options)
        scenario = Scenario(name=network.label, network=network)
    if user_stations is not None:
        scenario.stations = user_stations
    return scenario


def _station_cache_path(region: Region) -> Path:
    key = repr((region.osm_query, sorted(regions.OSM_STATION_TAGS.items())))
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return cache_dir() / "networks" / f"{region.slug}-stations-{digest}.geojson"


def _write_station_cache(path: Path, stations: tuple[Station, ...]) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
            "properties": {"id": s.id, "name": s.name, "type": s.type, "source": s.source},
        }
        for s in stations
    ]
    with atomic_file(path, suffix=".geojson") as tmp:
        tmp.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")


def _read_station_cache(path: Path) -> tuple[Station, ...] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tuple(
            Station(**f["properties"], lon=f["geometry"]["coordinates"][0], lat=f["geometry"]["coordinates"][1])
            for f in data["features"]
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:  # pydantic errors are ValueErrors
        log.warning("ignoring unreadable station cache %s (%s); downloading again", path, exc)
        return None


def region_osm_stations(region: Region, refresh: bool = False) -> tuple[Station, ...]:
    """Stations of a region from OpenStreetMap tags, cached next to the network cache.

    Used when a region file lists no stations: the first call downloads them with
    :func:`geodispatch.regions.fetch_osm_stations` and writes a GeoJSON cache under
    ``cache_dir()/networks``; later calls read the cache and work offline.

    Parameters
    ----------
    region : Region
        The region (its ``osm_query`` is downloaded).
    refresh : bool
        Download again even when a cached copy exists.

    Returns
    -------
    tuple of Station
        OSM stations without units (empty when the download fails: a warning is logged and
        the scenario still works for road-network questions; pass a stations file instead).

    Raises
    ------
    SourceNotFoundError
        When OpenStreetMap cannot find the region's place query.
    """
    path = _station_cache_path(region)
    if path.exists() and not refresh:
        cached = _read_station_cache(path)
        if cached is not None:
            return cached
    try:
        stations = regions.fetch_osm_stations(region.osm_query)
    except DownloadError as exc:
        log.warning("%s: no stations in the region file and %s", region.slug, exc)
        return ()
    _write_station_cache(path, stations)
    log.info("%s: %d stations from OpenStreetMap cached in %s", region.slug, len(stations), path)
    return stations
