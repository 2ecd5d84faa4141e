"""Stations: create (admin), list and read (dispatcher, planner, admin)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from geodispatch.api import service
from geodispatch.api.deps import Admin, AuthRoute, Reader, RuntimeDep, SessionDep, TextId, TransactionDep
from geodispatch.api.models import Station
from geodispatch.api.schemas import StationIn, StationOut
from geodispatch.errors import NotFoundError

router = APIRouter(prefix="/stations", tags=["stations"], route_class=AuthRoute)


@router.post("", status_code=201, response_model=StationOut)
def create_station(body: StationIn, who: Admin, runtime: RuntimeDep, tx: TransactionDep) -> Station:
    """Create a station (admin)."""
    runtime.check_location(body.lon, body.lat, f"station {body.id}")
    with tx() as session:
        return service.create_station(session, who, body.model_dump())


@router.get("", response_model=list[StationOut])
def list_stations(who: Reader, session: SessionDep) -> list[Station]:
    """All stations, by id."""
    return list(session.scalars(select(Station).order_by(Station.id)))


@router.get("/{station_id}", response_model=StationOut)
def get_station(station_id: TextId, who: Reader, session: SessionDep) -> Station:
    """One station."""
    station = session.get(Station, station_id)
    if station is None:
        raise NotFoundError(f"station {station_id!r} does not exist; list stations with GET /stations")
    return station
