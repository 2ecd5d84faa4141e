"""The demo's station travel-time table: its slowest column is not the search limit; off-road
stations are reported, not silently left untimed."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from geodispatch.demo import station_traveltime_table
from geodispatch.network import RoadNetwork
from geodispatch.network.traveltime import point_travel_times
from geodispatch.regions import Station
from geodispatch.scenario import Scenario, load_scenario


def test_slowest_column_is_the_slowest_reached_node_not_the_limit() -> None:
    scenario = load_scenario("synthetic")
    table = station_traveltime_table(scenario, 900.0)
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "max (min)" not in text
    net = scenario.network
    rows = {str(c): i for i, c in enumerate(table.columns[0]._cells)}
    slowest = [float(c) for c in table.columns[5]._cells]
    for stype, i in rows.items():
        group = [s for s in scenario.stations if s.type == stype]
        snap = net.snap([s.lon for s in group], [s.lat for s in group], strict=False)
        _, t = point_travel_times(net, snap, min_only=True)
        assert slowest[i] == round(float(t[np.isfinite(t)].max()) / 60, 1)
    # the old column read the limit (15.0) for every type that reaches that far; not any more
    assert max(slowest) > 15.0


def test_off_road_station_is_reported_not_silently_untimed() -> None:
    lon = 120.0 + np.array([0.0, 0.01, 0.02])
    lat = np.full(3, -5.0)
    net = RoadNetwork.from_arrays([0, 1, 2], lon, lat, [0, 1, 1, 2], [1, 0, 2, 1], [1100.0] * 4, [100.0] * 4)
    stations = (
        Station(id="pkm-on", type="puskesmas", lon=120.0, lat=-5.0, source="test"),
        Station(id="pkm-far", type="puskesmas", lon=120.5, lat=-5.5, source="test"),  # ~70 km from the road
    )
    table = station_traveltime_table(Scenario(name="t", network=net, stations=stations), 900.0)
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "2 (1 off road, not timed)" in text
    assert "pkm-far" in text and "pkm-on" not in text
