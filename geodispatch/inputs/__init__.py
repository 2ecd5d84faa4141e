"""The input layer: readers for every user-supplied file, validated at the boundary.

Stations and point tables (:mod:`.tables`), population and administrative areas
(:mod:`.population`), and which area a point or road lies in (:mod:`.areas`). Shared by the CLI,
the API and every stage; each reader raises a :class:`~geodispatch.errors.GeodispatchError`
that names the file and what to fix.
"""

from geodispatch.inputs.areas import assign_areas, check_areas_overlap, network_areas
from geodispatch.inputs.population import (
    add_kecamatan,
    areas_frame,
    population_frame,
    read_areas,
    read_population,
    spread_polygons,
)
from geodispatch.inputs.tables import (
    VECTOR_SUFFIXES,
    check_lonlat,
    existing_file,
    read_stations,
    read_table,
    to_wgs84,
)

__all__ = [
    "VECTOR_SUFFIXES",
    "add_kecamatan",
    "areas_frame",
    "assign_areas",
    "check_areas_overlap",
    "check_lonlat",
    "existing_file",
    "network_areas",
    "population_frame",
    "read_areas",
    "read_population",
    "read_stations",
    "read_table",
    "spread_polygons",
    "to_wgs84",
]
