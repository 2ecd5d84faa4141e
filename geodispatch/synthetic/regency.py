"""The synthetic regency as one object: :class:`SyntheticRegency` and :func:`synthetic_regency`."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodispatch.errors import InputError
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.sea import add_sea_edges
from geodispatch.regions import Agency, Station, Workflow
from geodispatch.synthetic._common import (
    _REF_NODES,
    _REF_RADIUS_M,
    MAX_NODES,
    MIN_NODES,
    NAME,
    TARGET_RESPONSE_S,
    _geom_to_lonlat,
    _source,
    _Stopwatch,
    _to_lonlat,
)
from geodispatch.synthetic.boat import _boat_link, _ferry
from geodispatch.synthetic.facilities import _agencies, _kecamatan_seats, _stations, _town_name, _workflow
from geodispatch.synthetic.land import _make_land, _place_towns
from geodispatch.synthetic.people import _areas, _population
from geodispatch.synthetic.roads import _build_network, _roads

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SyntheticRegency:
    """A generated regency: road network, stations, population and admin areas. All SYNTHETIC.

    Attributes
    ----------
    name : str
        ``"Kabupaten Sintetis"``.
    network : RoadNetwork
        The road network (``synthetic=True``), lon/lat in degrees, lengths in metres, times in s.
    stations : tuple of Station
        Emergency-service stations, each exactly on a road node, with their units.
    population : pandas.DataFrame
        Population points: ``lon``, ``lat`` (degrees) and ``population`` (people, float).
    areas : geopandas.GeoDataFrame
        Desa polygons (EPSG:4326) with ``name``, ``kecamatan`` and ``geometry``; they tile the land.
    boundary : shapely.MultiPolygon
        The land (main island and the small island), lon/lat degrees.
    island : shapely.Polygon
        The small offshore island, lon/lat degrees.
    river : shapely.LineString or MultiLineString
        The river's centre line on land, lon/lat degrees.
    bridge_edges : ndarray of int64
        Indices of the directed edges that cross the river (the only ones that do).
    sea_links : pandas.DataFrame
        The island's speedboat ambulance to the main island (one sea link carrying ambulance
        crews, see :mod:`geodispatch.synthetic.boat`); its two directed edges are in ``network``
        with the highway class ``sea_link``, next to the two of the vehicle ferry between the same
        piers (class ``ferry``), and ``network.without_sea()`` is the road-only network.
    towns : pandas.DataFrame
        ``name``, ``kecamatan``, ``lon``, ``lat``, ``node`` (index of the centre node),
        ``n_grid_nodes``, ``capital``, ``island``.
    seed : int
        The seed it was generated with.
    target_response_s : float
        Response-time target, seconds.
    agencies : tuple of Agency
        One agency per service, plus the 112 call centre; every station names its agency.
    workflow : dict
        Forwarding rules (the call centre hears of every report, BPBD of floods and landslides).
    """

    name: str
    network: RoadNetwork
    stations: tuple[Station, ...]
    population: pd.DataFrame
    areas: gpd.GeoDataFrame
    boundary: Any
    island: Any
    river: Any
    bridge_edges: np.ndarray
    sea_links: pd.DataFrame
    towns: pd.DataFrame
    seed: int
    target_response_s: float = TARGET_RESPONSE_S
    agencies: tuple[Agency, ...] = ()
    workflow: dict[str, Workflow] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Name for titles and reports, saying that the data are SYNTHETIC."""
        return f"{self.name} (SYNTHETIC data, seed={self.seed})"

    @property
    def source(self) -> str:
        """The ``source`` string of every generated fact."""
        return _source(self.seed)

def synthetic_regency(
    n_nodes: int = _REF_NODES, seed: int = 7, n_population_points: int | None = None
) -> SyntheticRegency:
    """Generate the synthetic regency "Kabupaten Sintetis" (SYNTHETIC data).

    Deterministic for a given ``(n_nodes, seed, n_population_points)``.

    Parameters
    ----------
    n_nodes : int
        Approximate number of road nodes (the result is within a few percent). The land grows
        with ``sqrt(n_nodes)`` (about 35 km across at 3,000 nodes) so road density stays the same.
    seed : int
        Random seed.
    n_population_points : int, optional
        Number of population points (default: ``n_nodes``). Total population is about
        ``200,000 * n_nodes / 3000`` people whatever the number of points.

    Returns
    -------
    SyntheticRegency

    Raises
    ------
    InputError
        When ``n_nodes`` is not an integer in ``[MIN_NODES, MAX_NODES]`` or the number of
        population points is not positive.
    """
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or not (
        MIN_NODES <= n_nodes <= MAX_NODES
    ):
        raise InputError(f"n_nodes must be an integer from {MIN_NODES} to {MAX_NODES:,}, got {n_nodes!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"seed must be an integer, got {seed!r}")
    n_nodes = int(n_nodes)
    n_points = n_nodes if n_population_points is None else n_population_points
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise InputError(f"n_population_points must be a positive integer, got {n_population_points!r}")
    tick = _Stopwatch()
    rng = np.random.default_rng(seed)
    r0 = _REF_RADIUS_M * math.sqrt(n_nodes / _REF_NODES)
    land = _make_land(rng, r0)
    towns = _place_towns(rng, land, n_nodes, r0)
    roads = _roads(rng, land, towns, n_nodes, r0, tick)
    xy, mass, is_town, centres, grid_nodes = roads.xy, roads.mass, roads.is_town, roads.centres, roads.grid_nodes

    network, bridge_edges, edge_cls = _build_network(
        xy, roads.ua, roads.ub, roads.cls, roads.oneway, roads.bridge, roads.maxspeed, roads.curve_row, roads.interior
    )
    del roads
    tick("before: towns table, stations, population, areas")
    # ---- towns table, stations, population, areas (each from its own random stream)
    kec = _kecamatan_seats(np.random.default_rng([seed, 1]), towns, xy, mass, is_town, centres, n_nodes)
    stations = _stations(np.random.default_rng([seed, 2]), network, edge_cls, towns, kec, centres, xy, mass, seed)
    population = _population(
        np.random.default_rng([seed, 3]), towns, land, xy, mass, is_town, int(n_points), n_nodes, seed
    )
    areas = _areas(np.random.default_rng([seed, 4]), land, xy, mass, is_town, kec, n_nodes, seed)
    town_lon, town_lat = _to_lonlat(xy[centres, 0], xy[centres, 1])
    towns_df = pd.DataFrame(
        {
            "name": [_town_name(i, bool(towns.island[i])) for i in range(len(towns))],
            "kecamatan": [kec.names[i] for i in range(len(towns))],
            "lon": town_lon,
            "lat": town_lat,
            "node": centres,
            "n_grid_nodes": grid_nodes,
            "capital": np.arange(len(towns)) == 0,
            "island": towns.island,
        }
    )
    towns_df.attrs["source"] = "SYNTHETIC: " + _source(seed)
    river = _geom_to_lonlat(shapely.intersection(land.river, land.main))
    # the island's ferry and speedboat, appended after every road edge (edge indices above stay
    # valid); both piers are road nodes, so no node is added
    sea_links = _boat_link(network, xy, mass, int(seed))
    network = add_sea_edges(network, ferries=[_ferry(sea_links)], links=sea_links)
    result = SyntheticRegency(
        name=NAME,
        network=network,
        stations=stations,
        population=population,
        areas=areas,
        boundary=_geom_to_lonlat(land.both),
        island=_geom_to_lonlat(land.island),
        river=river,
        bridge_edges=bridge_edges,
        sea_links=sea_links,
        towns=towns_df,
        seed=int(seed),
        agencies=_agencies(int(seed)),
        workflow=_workflow(int(seed)),
    )
    log.info(
        "synthetic regency: %d nodes, %d edges, %d stations, %d population points in %.2f s",
        network.n_nodes,
        network.n_edges,
        len(stations),
        len(population),
        time.perf_counter() - tick.start,
    )
    return result
