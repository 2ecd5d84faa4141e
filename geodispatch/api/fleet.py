"""Put a scenario's stations and their units into an empty database (``serve --fleet``).

A new 112 centre, or the demo, starts with an empty database: no unit, so no recommendation.
The scenario already knows the stations and their units (the region YAML, or the synthetic
regency); this copies them in, in one audited write transaction, only when the database has no
unit yet (so a live fleet is never overwritten).
"""

from __future__ import annotations

from sqlalchemy import func, select

from geodispatch.api.auth import SYSTEM
from geodispatch.api.db import Database
from geodispatch.api.models import Station, Unit
from geodispatch.api.service import create_station, create_unit
from geodispatch.assign.forward import unit_agency


def load_fleet(db: Database, scenario: object) -> int:
    """Insert the scenario's stations and units when the database has no unit; return units added.

    Parameters
    ----------
    db : Database
        The server's database (migrated).
    scenario : Scenario
        Its ``stations`` (each with ``units``) are copied; each unit starts available at its
        station, which is its home, and belongs to its own agency, else its station's, else the
        only agency owning its type (as ``POST /units`` decides).

    Returns
    -------
    int
        Units inserted (0 when the database already had units).
    """
    stations = getattr(scenario, "stations", ())
    agencies = getattr(scenario, "agencies", ())
    with db.write() as session:
        if session.scalar(select(func.count()).select_from(Unit)):
            return 0
        added = 0
        for s in stations:
            if session.get(Station, s.id) is None:
                create_station(session, SYSTEM, {"id": s.id, "name": s.name[:200], "type": s.type, "lon": s.lon,
                                                 "lat": s.lat})
            for u in s.units:
                agency = unit_agency(u.type, agencies, getattr(u, "agency", None), getattr(s, "agency", None))
                create_unit(session, SYSTEM, {"id": u.id, "type": u.type, "lon": s.lon, "lat": s.lat,
                                              "capabilities": list(u.capabilities), "station_id": s.id,
                                              "agency_id": agency})
                added += 1
    return added
