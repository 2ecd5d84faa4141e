"""Road networks: loading, Indonesian speeds, compact arrays, snapping and travel times."""

from geodispatch.network.graph import RoadNetwork
from geodispatch.network.load import graph_to_network, load_network
from geodispatch.network.snap import SnapResult, snap_points
from geodispatch.network.traveltime import nearest_source, point_travel_times, travel_times

__all__ = [
    "RoadNetwork",
    "SnapResult",
    "graph_to_network",
    "load_network",
    "nearest_source",
    "point_travel_times",
    "snap_points",
    "travel_times",
]
