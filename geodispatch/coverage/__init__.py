"""Planner's coverage: isochrones, response-time surface, population and area coverage, maps.

The entry point is :func:`run_coverage` (used by ``geodispatch coverage`` and ``geodispatch
demo``); the stages are usable on their own: :mod:`.isochrones` (polygons from the reached
road network), :mod:`.surface` (times per node and per population point, H3 / grid cells),
:mod:`.stats` (population, road and per-area coverage), :mod:`.hotspots` (uncovered
clusters), :mod:`.population` (readers), :mod:`.maps` (folium and PNG) and :mod:`.report`.
"""

from geodispatch.coverage.isochrones import (
    DEFAULT_MINUTES,
    DEFAULT_OFFROAD_M,
    edge_substrings,
    isochrones,
    polygons_for_thresholds,
    reached_pieces,
)
from geodispatch.coverage.report import CoverageReport, coverage_from_source, run_coverage
from geodispatch.coverage.stations import select_stations, serves
from geodispatch.coverage.surface import PreparedPopulation, SurfaceGrid, point_times, prepare_population
from geodispatch.inputs.population import read_areas, read_population

__all__ = [
    "DEFAULT_MINUTES",
    "DEFAULT_OFFROAD_M",
    "CoverageReport",
    "PreparedPopulation",
    "SurfaceGrid",
    "coverage_from_source",
    "edge_substrings",
    "isochrones",
    "point_times",
    "polygons_for_thresholds",
    "prepare_population",
    "reached_pieces",
    "read_areas",
    "read_population",
    "run_coverage",
    "select_stations",
    "serves",
]
