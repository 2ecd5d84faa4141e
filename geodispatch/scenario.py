"""A scenario: a road network with the stations, population and areas that go with it.

The CLI and the API turn their ``REGION_OR_SOURCE`` argument into a :class:`Scenario` here:
the synthetic regency brings its own stations, population and desa; a region slug brings its
YAML stations and target; a bare file (``.graphml``, ``.osm.pbf``) brings only roads, and the
user adds stations (and population, areas) from files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from geodispatch.network.graph import RoadNetwork
from geodispatch.network.load import load_network
from geodispatch.regions import Region, Requirement, Station, is_region, load_region

DEFAULT_TARGET_S = 900.0
"""Default target response time: 15 minutes, in seconds."""


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
    """

    name: str
    network: RoadNetwork
    stations: tuple[Station, ...] = ()
    population: Any = None
    areas: Any = None
    target_response_s: float = DEFAULT_TARGET_S
    region: Region | None = None
    sop: dict[str, tuple[Requirement, ...]] = field(default_factory=dict)

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
    if text == "synthetic" or text.startswith("synthetic:"):
        from geodispatch.network.synthetic import synthetic_regency

        size = text.partition(":")[2]
        network = load_network(text, **network_options)  # validates the size
        regency = synthetic_regency(n_nodes=int(size)) if size else synthetic_regency()
        scenario = Scenario(
            name=network.label,
            network=regency.network,
            stations=tuple(regency.stations),
            population=regency.population,
            areas=regency.areas,
            target_response_s=float(regency.target_response_s),
        )
    elif is_region(text) and not os.path.exists(text):
        region = load_region(text)
        network = load_network(text, **network_options)
        scenario = Scenario(
            name=region.name,
            network=network,
            stations=region.stations,
            target_response_s=region.target_response_s,
            region=region,
            sop=dict(region.sop),
        )
    else:
        network = load_network(text, **network_options)
        scenario = Scenario(name=network.label, network=network)
    if stations is not None:
        scenario.stations = read_stations(stations)
    return scenario
