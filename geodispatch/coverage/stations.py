"""Which stations serve a service type, and where they sit on the road network.

A planner asks about *services* ("ambulance", "damkar"), while stations have a *station type*
(``psc``, ``puskesmas``, ``rsud``, ``damkar`` ...) and, when known, a list of units. A station
serves a service when one of its units has that type; a station without a unit list serves the
services its station type normally hosts (:data:`SERVICE_STATION_TYPES`). A station type itself
(``puskesmas``) is also accepted as a service name and selects exactly the stations of that type.

Stations are snapped to the nearest road edge (part-way along it). Stations farther than the
snap limit from any road, or on a road island cut off from the main network, are *reported*
in :attr:`StationSet.status`, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geodispatch import settings
from geodispatch.domain import SERVICE_STATION_TYPES, known_services, serves
from geodispatch.errors import CoverageError
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.snap import SnapResult
from geodispatch.regions import Station

__all__ = ["SERVICE_STATION_TYPES", "known_services", "serves"]

DEFAULT_STATION_SNAP_M = settings.SNAP_LIMIT_M
"""Stations farther than this (m) from any road are reported as off the network."""



def parse_services(services: str | Iterable[str]) -> tuple[str, ...]:
    """Parse ``"ambulance,damkar"`` or a list into validated service names.

    Raises
    ------
    CoverageError
        On an empty list or an unknown name.
    """
    items = services.split(",") if isinstance(services, str) else list(services)
    names = tuple(dict.fromkeys(s.strip().lower() for s in items if s and s.strip()))
    if not names:
        raise CoverageError("no station type given; use e.g. --station-types ambulance,damkar")
    bad = [s for s in names if s not in known_services()]
    if bad:
        raise CoverageError(
            f"unknown station type(s) {', '.join(bad)}; use one of {', '.join(known_services())}"
        )
    return names


@dataclass(frozen=True)
class StationSet:
    """Stations of one service, snapped to the network.

    Attributes
    ----------
    service : str
        The service these stations provide.
    stations : tuple of Station
        All stations that serve it (usable or not).
    snap : SnapResult
        Snap of every station (``edge == -1`` when off the network).
    status : pandas.DataFrame
        One row per station: ``id, name, station_type, service, lon, lat, snap_distance_m,
        component_nodes, status`` (``ok``, ``island`` or ``off_network``) and ``note``.
    """

    service: str
    stations: tuple[Station, ...]
    snap: SnapResult
    status: pd.DataFrame

    @property
    def usable(self) -> np.ndarray:
        """Mask of stations that are on the network (islands included: they reach their island)."""
        return np.asarray(self.snap.ok)

    @property
    def n_usable(self) -> int:
        """Number of stations on the network."""
        return int(self.usable.sum())


def select_stations(
    network: RoadNetwork,
    stations: Sequence[Station],
    service: str,
    max_snap_m: float = DEFAULT_STATION_SNAP_M,
) -> StationSet:
    """Pick the stations serving ``service`` and snap them to the network.

    Parameters
    ----------
    network : RoadNetwork
        Roads.
    stations : sequence of Station
        All stations of the scenario.
    service : str
        Unit type or station type (see :func:`serves`).
    max_snap_m : float
        Snap limit, metres.

    Returns
    -------
    StationSet
        Possibly with no usable station; callers decide whether that is an error.
    """
    chosen = tuple(s for s in stations if serves(s, service))
    lon = np.array([s.lon for s in chosen], dtype=float)
    lat = np.array([s.lat for s in chosen], dtype=float)
    snap = network.snap(lon, lat, max_distance_m=max_snap_m, strict=False)
    labels = network.component_labels
    sizes = network.component_sizes()
    rows = []
    for i, st in enumerate(chosen):
        if snap.edge[i] < 0:
            status, comp_nodes = "off_network", 0
            note = f"{snap.distance_m[i]:.0f} m from the nearest road (limit {max_snap_m:g} m): not used"
        else:
            label = int(labels[snap.u[i]])
            comp_nodes = int(sizes[label])
            if label == 0:
                status, note = "ok", ""
            else:
                status = "island"
                note = (
                    f"on a road island of {comp_nodes:,} nodes cut off from the main network "
                    f"({int(sizes[0]):,} nodes): it covers only its island"
                )
        rows.append(
            {
                "id": st.id,
                "name": st.name,
                "station_type": st.type,
                "service": service,
                "lon": st.lon,
                "lat": st.lat,
                "snap_distance_m": round(float(snap.distance_m[i]), 1),
                "component_nodes": comp_nodes,
                "status": status,
                "note": note,
            }
        )
    columns = [
        "id", "name", "station_type", "service", "lon", "lat", "snap_distance_m", "component_nodes", "status", "note",
    ]
    return StationSet(service=service, stations=chosen, snap=snap, status=pd.DataFrame(rows, columns=columns))
