"""The planner's coverage report: one call from a scenario to isochrones, tables, maps and files.

:func:`run_coverage` is what the ``geodispatch coverage`` command and ``geodispatch demo`` call.
It computes, per service type (``ambulance``, ``damkar`` ...), one multi-source travel-time
field, the nested isochrones, the response-time surface, the population and road coverage, the
per-area table and the uncovered hotspots. This module computes; :mod:`geodispatch.coverage.files`
writes a report into an output directory atomically and :mod:`geodispatch.coverage.maps` draws it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodispatch.coverage.hotspots import DEFAULT_CELL_M, hotspots, number_hotspots
from geodispatch.coverage.isochrones import (
    COMBINED,
    DEFAULT_MINUTES,
    DEFAULT_OFFROAD_M,
    check_minutes,
    isochrone_frame,
)
from geodispatch.coverage.messages import CoverageWarning
from geodispatch.coverage.stations import DEFAULT_STATION_SNAP_M, StationSet, parse_services, select_stations
from geodispatch.coverage.stats import area_table, population_summary, road_covered_by_all_m, road_covered_m
from geodispatch.coverage.surface import (
    DEFAULT_POINT_SNAP_M,
    PreparedPopulation,
    SurfaceGrid,
    aggregate_surface,
    point_times,
    prepare_population,
    station_node_times,
)
from geodispatch.domain import service_unit_type
from geodispatch.errors import CoverageError, InputError
from geodispatch.inputs.population import areas_frame, population_frame, read_areas, read_population
from geodispatch.network.graph import RoadNetwork
from geodispatch.scenario import Scenario

log = logging.getLogger(__name__)

DEFAULT_SERVICES: tuple[str, ...] = ("ambulance", "damkar")


@dataclass
class CoverageReport:
    """Everything the coverage run produced (times in seconds, thresholds in minutes).

    Attributes
    ----------
    name : str
        Scenario name (says SYNTHETIC for the generated regency).
    synthetic : bool
        Whether the data are synthetic.
    network : RoadNetwork
        The roads used.
    minutes : tuple of float
        Thresholds, ascending.
    services : tuple of str
        Service types covered.
    offroad_m : float
        Off-road buffer distance of the isochrones, metres.
    isochrones : geopandas.GeoDataFrame
        ``type, station_id, minutes, area_km2`` + polygon (EPSG:4326). Union rows have
        ``station_id`` ``"all"``; per-station rows the station id; the combined rule ``type``
        ``combined``.
    stations : dict service -> StationSet
        Snapped stations with their status (``ok``, ``island``, ``off_network``).
    node_time_s : dict service -> ndarray
        Minimum time from any station of the service to every node (``inf`` unreachable).
    population : pandas.DataFrame or None
        Population points with ``snap_distance_m`` and a ``time_s_<service>`` column each.
    surface : geopandas.GeoDataFrame
        Response-time surface per cell and service.
    area_table : pandas.DataFrame
        Per-area (or whole-network) coverage table.
    hotspots : geopandas.GeoDataFrame
        Uncovered population clusters at the largest threshold, per service; ``number`` is shared
        by the overlapping hotspots of different services (see
        :func:`~geodispatch.coverage.hotspots.number_hotspots`), ``rank`` is per service.
    summary : dict
        JSON-ready figures (see ``summary.json``).
    warnings : list of CoverageWarning
        What the planner should know (codes and values; words per language in the CLI).
    lang : str
        Language of the maps (``id`` or ``en``).
    """

    name: str
    synthetic: bool
    network: RoadNetwork
    minutes: tuple[float, ...]
    services: tuple[str, ...]
    offroad_m: float
    isochrones: Any
    stations: dict[str, StationSet]
    node_time_s: dict[str, np.ndarray]
    population: pd.DataFrame | None
    surface: Any
    area_table: pd.DataFrame
    hotspots: Any
    summary: dict[str, Any]
    areas: Any = None
    warnings: list[CoverageWarning] = field(default_factory=list)
    lang: str = "en"

    @property
    def station_status(self) -> pd.DataFrame:
        """Status of every station considered, all services together."""
        frames = [s.status for s in self.stations.values() if len(s.status)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def write(self, out_dir: str | os.PathLike[str], png: bool = True, html: bool = True) -> Path:
        """Write every output into ``out_dir`` atomically and return it (see
        :func:`geodispatch.coverage.files.write_report`)."""
        from geodispatch.coverage.files import write_report

        return write_report(self, out_dir, png=png, html=html)


def _as_population(value: Any) -> pd.DataFrame | PreparedPopulation | None:
    if value is None or isinstance(value, PreparedPopulation):
        return value
    if isinstance(value, str | os.PathLike):
        return read_population(value)
    if isinstance(value, pd.DataFrame):
        if "population" not in value.columns:
            raise CoverageError("population table needs a 'population' column (people per point)")
        return population_frame(value["lon"], value["lat"], value["population"], "population")
    raise CoverageError(f"population must be a file path or a DataFrame, got {type(value).__name__}")


def _as_areas(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str | os.PathLike):
        return read_areas(value)
    return areas_frame(value)


def run_coverage(
    scenario: Scenario,
    minutes: float | Sequence[float] = DEFAULT_MINUTES,
    station_types: str | Iterable[str] = DEFAULT_SERVICES,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    per_station: bool = False,
    combined: bool = False,
    population: Any = None,
    areas: Any = None,
    offroad_m: float = DEFAULT_OFFROAD_M,
    station_snap_m: float = DEFAULT_STATION_SNAP_M,
    point_snap_m: float = DEFAULT_POINT_SNAP_M,
    surface_grid: SurfaceGrid | None = None,
    hotspot_cell_m: float = DEFAULT_CELL_M,
    progress: Callable[[str], None] | None = None,
    lang: str | None = None,
) -> CoverageReport:
    """Compute the coverage report of a scenario (and write it when ``out_dir`` is given).

    Parameters
    ----------
    scenario : Scenario
        Network, stations and, when known, population and areas.
    minutes : float or sequence of float
        Thresholds, minutes (default 5, 10, 15).
    station_types : str or iterable of str
        Services, e.g. ``"ambulance,damkar"``; see :mod:`geodispatch.coverage.stations` for how
        stations and their units map to services.
    out_dir : path, optional
        Write the files there (atomically).
    per_station : bool
        Also build one isochrone per station and threshold.
    combined : bool
        Add the combined rule: covered only when every selected service reaches in time.
    population : path, DataFrame or PreparedPopulation, optional
        Population points (``lon, lat, population``) or a file (CSV, GeoJSON, GeoPackage,
        GeoTIFF), or points already snapped with
        :func:`~geodispatch.coverage.surface.prepare_population`; default: the scenario's.
    areas : path or GeoDataFrame, optional
        Admin areas with a name column; default: the scenario's.
    offroad_m : float
        Off-road buffer of the isochrones, metres.
    station_snap_m, point_snap_m : float
        Snap limits (m) for stations and population points.
    surface_grid : SurfaceGrid, optional
        Aggregation grid (H3 resolution 8 by default).
    hotspot_cell_m : float
        Cell size of the hotspot clustering, metres.
    progress : callable, optional
        Called with a short message before each stage (the CLI shows it).
    lang : {"id", "en"}, optional
        Language of the maps' titles and legends (default: the scenario's, ``id`` for a region).

    Returns
    -------
    CoverageReport

    Raises
    ------
    CoverageError
        No stations, no station of the requested types on the network, bad population or
        areas, ``combined`` with a single service.
    InputError
        Bad thresholds or off-road distance.
    OutputError
        When ``out_dir`` cannot be written.
    """
    say = progress or (lambda _msg: None)
    mins = check_minutes(minutes)
    services = parse_services(station_types)
    if not (math.isfinite(offroad_m) and 0 < offroad_m <= 5000):
        raise InputError(f"off-road distance must be a positive number of metres (up to 5000), got {offroad_m!r}")
    if combined and len(services) < 2:
        raise CoverageError("--combined needs at least two station types, e.g. --station-types ambulance,damkar")
    net = scenario.network
    if not scenario.stations:
        raise CoverageError(
            f"{scenario.name}: the station list is empty; pass stations with --stations FILE (id, type, lon, lat)"
        )
    pop_df = _as_population(population) if population is not None else _as_population(scenario.population)
    area_gdf = _as_areas(areas) if areas is not None else _as_areas(scenario.areas)
    limits = [m * 60.0 for m in mins]
    warnings: list[CoverageWarning] = []

    say("snapping stations")
    sets: dict[str, StationSet] = {}
    for service in services:
        sset = select_stations(net, scenario.stations, service, max_snap_m=station_snap_m)
        sets[service] = sset
        if not sset.stations:
            warnings.append(CoverageWarning("no_station", {"service": service}))
        elif sset.n_usable == 0:
            warnings.append(CoverageWarning("stations_off_network", {"n": len(sset.stations), "service": service}))
    if all(s.n_usable == 0 for s in sets.values()):
        detail = "; ".join(
            f"{r.id}: {r.note}" for s in sets.values() for r in s.status.itertuples(index=False)
        ) or "no station of these types"
        raise CoverageError(
            f"no {'/'.join(services)} station is on the road network ({detail}); "
            "check the station coordinates, the station types, or the network extent"
        )

    say("travel times")
    node_time: dict[str, np.ndarray] = {}
    for service, sset in sets.items():
        # each service crosses only the boats that carry its units (a speedboat ambulance takes no
        # fire truck); the view has the same nodes and edges, so every snap on net stays valid
        _, node_time[service] = station_node_times(net.for_unit_type(service_unit_type(service)), sset.snap)

    say("isochrones")
    iso = isochrone_frame(
        net, sets, node_time, mins, offroad_m, per_station=per_station, combined=combined, progress=say
    )

    point_time: dict[str, np.ndarray] = {}
    prepared: PreparedPopulation | None = None
    if isinstance(pop_df, PreparedPopulation):
        prepared, pop_df = pop_df, pop_df.frame
    if pop_df is not None and len(pop_df):
        say(f"population ({len(pop_df):,} points)")
        if prepared is None or prepared.network is not net or prepared.max_snap_m != point_snap_m:
            prepared = prepare_population(net, pop_df, point_snap_m, grid=surface_grid)
        psnap = prepared.snap
        pop_df = pop_df.copy()
        pop_df["snap_distance_m"] = psnap.distance_m
        for service, sset in sets.items():
            point_time[service] = point_times(net, node_time[service], prepared, sset.snap)
            pop_df[f"time_s_{service}"] = point_time[service]
        off = ~psnap.ok
        if off.any():
            warnings.append(CoverageWarning("points_off_road", {
                "points": int(off.sum()), "people": float(pop_df["population"][off].sum()),
                "snap_m": float(point_snap_m)}))
    road_point_time: dict[str, np.ndarray] = {}
    if net.has_sea and point_time and prepared is not None and pop_df is not None:
        say("routes across the sea")
        road_point_time = _road_only_point_times(net, sets, prepared)
        for service, t_road in road_point_time.items():
            pop_df[f"via_sea_{service}"] = point_time[service] < t_road  # fastest route crosses water
    if combined:
        node_time[COMBINED] = np.max(np.vstack([node_time[s] for s in services]), axis=0)
        if point_time:
            point_time[COMBINED] = np.max(np.vstack([point_time[s] for s in services]), axis=0)
            assert pop_df is not None
            pop_df[f"time_s_{COMBINED}"] = point_time[COMBINED]
    kinds = [*services, *([COMBINED] if combined else [])]
    # one stable sort of each service's point times serves every median / percentile below
    time_order = {k: np.argsort(t, kind="stable") for k, t in point_time.items()}

    say("road coverage")
    covered_edges: dict[str, np.ndarray] = {}
    road_share: dict[str, dict[str, float]] = {}
    total_road = net.road_length_m()
    for service in services:
        shares = {}
        for m, limit in zip(mins, limits, strict=True):
            rc = road_covered_m(net, node_time[service], limit, sets[service].snap)
            shares[f"{m:g}"] = round(float(rc.sum() / total_road), 4) if total_road > 0 else 0.0
            covered_edges[service] = rc
        road_share[service] = shares
    if combined:
        # a road part is covered by the combined rule when every service covers it: per edge,
        # the overlap of the services' covered stretches
        road_share[COMBINED] = {}
        for m, limit in zip(mins, limits, strict=True):
            rc = road_covered_by_all_m(net, [(node_time[s], sets[s].snap) for s in services], limit)
            road_share[COMBINED][f"{m:g}"] = round(float(rc.sum() / total_road), 4) if total_road > 0 else 0.0
            covered_edges[COMBINED] = rc

    say("surface")
    surface = aggregate_surface(
        net, {k: node_time[k] for k in kinds}, surface_grid, pop_df, point_time if point_time else None,
        prepared=prepared,
        point_orders=time_order,
    )

    say("area table")
    table = area_table(
        net,
        area_gdf,
        {k: (node_time[k], point_time.get(k)) for k in kinds},
        mins,
        pop_df if point_time else None,
        covered_edges,
        prepared=prepared,
        time_orders=time_order,
    )

    if area_gdf is not None and len(table):
        first = table.iloc[: len(area_gdf)]  # one row per area for the first service, in file order
        no_road = first.loc[first["note"] == "no road of this network inside", "area"].tolist()
        if no_road:
            shown = ", ".join(no_road[:5]) + (", ..." if len(no_road) > 5 else "")
            warnings.append(CoverageWarning("areas_without_road", {
                "n": len(no_road), "total": len(area_gdf), "names": shown}))
    if area_gdf is not None and prepared is not None and pop_df is not None:
        outside = prepared.point_area(area_gdf) < 0  # cached: the area table assigned them already
        if outside.any():
            warnings.append(CoverageWarning("people_in_no_area", {
                "people": float(pop_df["population"].to_numpy()[outside].sum()), "points": int(outside.sum())}))

    say("hotspots")
    hot_frames = []
    if point_time and pop_df is not None:
        for k in kinds:
            hot_frames.append(
                hotspots(
                    net,
                    pop_df["lon"].to_numpy(),
                    pop_df["lat"].to_numpy(),
                    pop_df["population"].to_numpy(),
                    ~(point_time[k] <= limits[-1]),
                    point_time[k],
                    cell_m=hotspot_cell_m,
                    service=k,
                    minutes=mins[-1],
                    xy=prepared.metric_xy() if prepared is not None else None,
                    time_order=time_order[k],
                )
            )
    hot = _concat_gdf(hot_frames)
    hot.insert(0, "number", number_hotspots(hot))  # one number per place, in every panel and table

    summary = _summary(scenario, net, mins, kinds, sets, node_time, point_time, pop_df, road_share, iso, hot,
                       offroad_m, warnings, area_gdf, time_order)
    for service, t_road in road_point_time.items():
        people = pop_df["population"].to_numpy() if pop_df is not None else np.zeros(0)
        summary["services"][service].setdefault("population", {})["covered_by_sea"] = {
            f"{m:g}": float(people[(point_time[service] <= m * 60.0) & ~(t_road <= m * 60.0)].sum()) for m in mins
        }
    report = CoverageReport(
        name=scenario.name,
        synthetic=scenario.synthetic,
        network=net,
        minutes=mins,
        services=tuple(kinds),
        offroad_m=offroad_m,
        isochrones=iso,
        stations=sets,
        node_time_s=node_time,
        population=pop_df,
        surface=surface,
        area_table=table,
        hotspots=hot,
        summary=summary,
        areas=area_gdf,
        warnings=warnings,
        lang=lang or scenario.lang,
    )
    if out_dir is not None:
        say("writing outputs")
        report.write(out_dir)
    return report


def _road_only_point_times(
    net: RoadNetwork, sets: dict[str, StationSet], prepared: PreparedPopulation
) -> dict[str, np.ndarray]:
    """Each service's time to every population point without ferries and sea links, seconds.

    The road-only network keeps the node indices (only the sea edges go), so the node times of a
    search on it combine with the population's snap on the full network; the stations are snapped
    again on the road-only network (nothing ever snaps onto a sea edge, so they land at the same
    places).
    """
    road = net.without_sea()
    out: dict[str, np.ndarray] = {}
    for service, sset in sets.items():
        snap = sset.snap
        if not snap.ok.any():
            out[service] = np.full(len(prepared.snap), np.inf)
            continue
        lon = np.where(snap.ok, snap.lon, net.lon[0])
        lat = np.where(snap.ok, snap.lat, net.lat[0])
        again = road.snap(lon, lat, max_distance_m=1.0, strict=False)
        _, t_road = station_node_times(road, again if snap.ok.all() else _only(again, snap.ok))
        out[service] = point_times(net, t_road, prepared, snap)
    return out


def _only(snap: Any, keep: np.ndarray) -> Any:
    """A SnapResult with the entries not in ``keep`` marked unsnapped."""
    import dataclasses

    edge = np.where(keep, snap.edge, -1)
    return dataclasses.replace(snap, edge=edge)


def coverage_from_source(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    minutes: float | Sequence[float] = DEFAULT_MINUTES,
    station_types: str | Iterable[str] = DEFAULT_SERVICES,
    stations: str | os.PathLike[str] | None = None,
    population: str | os.PathLike[str] | None = None,
    areas: str | os.PathLike[str] | None = None,
    population_column: str | None = None,
    area_name_column: str | None = None,
    kecamatan: str | os.PathLike[str] | None = None,
    lang: str | None = None,
    per_station: bool = False,
    combined: bool = False,
    offroad_m: float = DEFAULT_OFFROAD_M,
    progress: Callable[[str], None] | None = None,
    network_options: Mapping[str, Any] | None = None,
) -> tuple[Scenario, CoverageReport]:
    """What ``geodispatch coverage SOURCE --out DIR`` runs: load the scenario, compute, write.

    The CLI command and each job of ``geodispatch batch coverage`` call this one function, so a
    batch region's outputs are those of the single run with the same arguments.

    Parameters
    ----------
    source : str or path
        Region slug, ``synthetic[:N]``, place query or road file (see
        :func:`~geodispatch.scenario.load_scenario`).
    out_dir : path
        Output directory, written atomically.
    minutes, station_types, per_station, combined, offroad_m, progress
        As for :func:`run_coverage`.
    stations : path, optional
        Stations file replacing the source's own stations.
    population, areas : path, optional
        Population and area files, read (before the network, which may be a long download)
        with :func:`~geodispatch.inputs.read_population` / :func:`~geodispatch.inputs.read_areas`.
    population_column, area_name_column : str, optional
        Column of people / of area names in those files.
    lang : {"id", "en"}, optional
        Language of the maps (default: the scenario's, ``id`` for a region).
    kecamatan : path, optional
        Kecamatan polygons: each area gets its kecamatan's name in ``coverage_by_area.csv``
        (:func:`~geodispatch.inputs.add_kecamatan`; needs ``areas``).
    network_options : mapping, optional
        Passed to ``load_scenario`` (``ferries``, ``sea_links``...).

    Returns
    -------
    (Scenario, CoverageReport)
        The scenario loaded (its language, name...) and the report written to ``out_dir``.
    """
    from geodispatch.inputs import read_areas, read_population
    from geodispatch.scenario import load_scenario

    people = read_population(population, population_column) if population is not None else None
    area_frame = read_areas(areas, area_name_column) if areas is not None else None
    if kecamatan is not None:
        if area_frame is None:
            raise InputError("--kecamatan names the kecamatan of each area: give --areas (desa/kelurahan) too")
        from geodispatch.inputs import add_kecamatan

        area_frame = add_kecamatan(area_frame, read_areas(kecamatan))
    scenario = load_scenario(source, stations=stations, **dict(network_options or {}))
    return scenario, run_coverage(
        scenario,
        minutes=minutes,
        station_types=station_types,
        out_dir=out_dir,
        per_station=per_station,
        combined=combined,
        population=people,
        areas=area_frame,
        offroad_m=offroad_m,
        progress=progress,
        lang=lang,
    )


def _concat_gdf(frames: list[Any]) -> Any:
    import geopandas as gpd

    frames = [f for f in frames if len(f)]
    if not frames:
        cols = ["rank", "type", "minutes", "population", "points", "cells", "area_km2", "lon", "lat", "median_s"]
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=4326)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


def _summary(
    scenario: Scenario,
    net: RoadNetwork,
    mins: tuple[float, ...],
    kinds: list[str],
    sets: dict[str, StationSet],
    node_time: dict[str, np.ndarray],
    point_time: dict[str, np.ndarray],
    pop_df: pd.DataFrame | None,
    road_share: dict[str, dict[str, float]],
    iso: Any,
    hot: Any,
    offroad_m: float,
    warnings: list[CoverageWarning],
    areas: Any,
    time_order: dict[str, np.ndarray],
) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for k in kinds:
        info: dict[str, Any] = {}
        if k in sets:
            st = sets[k].status
            info["stations_total"] = len(st)
            info["stations_used"] = int((st["status"] != "off_network").sum()) if len(st) else 0
            info["stations_off_network"] = st.loc[st["status"] == "off_network", "id"].tolist() if len(st) else []
            info["stations_on_islands"] = st.loc[st["status"] == "island", "id"].tolist() if len(st) else []
            info["stations_text"] = f"{info['stations_used']}/{info['stations_total']}"
        else:
            info["stations_text"] = "both" if k == COMBINED else ""
        t = node_time[k]
        info["node_share"] = {f"{m:g}": round(float((t <= m * 60).mean()), 4) for m in mins}
        info["road_share"] = road_share[k]
        finite = t[np.isfinite(t)]
        info["median_s"] = round(float(np.median(finite)), 1) if len(finite) else None
        info["p90_s"] = round(float(np.quantile(finite, 0.9)), 1) if len(finite) else None
        sub = iso[(iso["type"] == k) & (iso["station_id"] == "all")]
        info["area_km2"] = {f"{m:g}": float(a) for m, a in zip(sub["minutes"], sub["area_km2"], strict=True)}
        if k in point_time and pop_df is not None:
            pop = population_summary(pop_df["population"].to_numpy(), point_time[k], mins, time_order=time_order[k])
            pop["covered"] = {f"{m:g}": v for m, v in pop["covered"].items()}
            pop["share"] = {f"{m:g}": v for m, v in pop["share"].items()}
            info["population"] = pop
        if len(hot):
            h = hot[hot["type"] == k]
            info["hotspots"] = len(h)
            info["largest_hotspot"] = (
                {k2: float(h[k2].iloc[0]) for k2 in ("population", "lon", "lat", "median_s")} if len(h) else None
            )
        services[k] = info
    out: dict[str, Any] = {
        "name": scenario.name,
        "synthetic": scenario.synthetic,
        "minutes": list(mins),
        "offroad_m": offroad_m,
        "network": {"nodes": net.n_nodes, "edges": net.n_edges, "road_km": round(net.road_length_m() / 1000, 3)},
        "services": services,
        "population_points": 0 if pop_df is None else len(pop_df),
        "population_total": None if pop_df is None else round(float(pop_df["population"].sum()), 1),
        "areas": 0 if areas is None else len(areas),
        "warnings": [w.to_json() for w in warnings],  # code, values and the English text
        "stations": pd.concat([s.status for s in sets.values()], ignore_index=True).to_dict("records")
        if sets
        else [],
    }
    if pop_df is not None and len(pop_df):
        d = pop_df["snap_distance_m"].to_numpy()
        w = pop_df["population"].to_numpy()
        ok = np.isfinite(d)
        out["offroad"] = {
            "note": "point times are network times to the snapped road position; the walk from the road is not added",
            "median_m": round(float(np.median(d[ok])), 1) if ok.any() else None,
            "population_beyond_offroad_m": round(float(w[~(d <= offroad_m)].sum()), 1),
        }
    return out
