"""Entry points for the CLI: read a fleet file, recommend units for one call on a scenario."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from geodispatch.assign.model import Incident, Unit, units_from_stations
from geodispatch.assign.recommend import recommend
from geodispatch.assign.results import Recommendation
from geodispatch.errors import AssignmentError


def units_from_table(df: pd.DataFrame, origin: str = "units") -> list[Unit]:
    """Units from a table with columns ``id, type, lon, lat`` and optional ``status``,
    ``capabilities`` (``;``-separated), ``home_station``, ``home_lon``, ``home_lat``,
    ``position_time`` (ISO 8601).

    Raises
    ------
    AssignmentError
        Naming the file and the first bad row.
    """
    missing = [c for c in ("id", "type", "lon", "lat") if c not in df.columns]
    if missing:
        raise AssignmentError(f"{origin}: missing column(s) {', '.join(missing)}; need id, type, lon, lat")
    units = []
    for i, row in enumerate(df.to_dict("records")):

        def opt(key: str, row: dict[str, Any] = row) -> Any:
            v = row.get(key)
            return None if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else v

        caps = opt("capabilities")
        when = opt("position_time")
        try:
            parsed = pd.Timestamp(when).to_pydatetime() if when is not None else None
        except ValueError as exc:
            raise AssignmentError(f"{origin} row {i + 1}: position_time {when!r} is not an ISO 8601 time") from exc
        try:
            units.append(
                Unit(
                    id=str(row["id"]),
                    type=str(row["type"]),
                    lon=row["lon"],
                    lat=row["lat"],
                    status=str(opt("status") or "available"),
                    capabilities=tuple(c.strip() for c in str(caps).split(";") if c.strip()) if caps else (),
                    home_station=None if opt("home_station") is None else str(opt("home_station")),
                    home_lon=opt("home_lon"),
                    home_lat=opt("home_lat"),
                    position_time=parsed,
                )
            )
        except AssignmentError as exc:
            raise AssignmentError(f"{origin} row {i + 1}: {exc}") from exc
    return units


def read_units(path: str | os.PathLike[str]) -> list[Unit]:
    """Read a fleet CSV (see :func:`units_from_table`).

    Raises
    ------
    SourceNotFoundError, CorruptFileError, AssignmentError
    """
    from geodispatch.inputs import read_table

    return units_from_table(read_table(path, "units"), origin=str(path))


@dataclass
class CliRecommendation:
    """What ``geodispatch recommend`` prints."""

    scenario: Any
    incident: Incident
    recommendation: Recommendation


def recommend_on_scenario(
    scenario: Any,
    incident_type: str,
    priority: int,
    lon: float,
    lat: float,
    units: Sequence[Unit] | None = None,
    busy: Sequence[str] = (),
    routes: bool = False,
    now: datetime | None = None,
) -> CliRecommendation:
    """Recommend units for one call on a loaded scenario.

    Parameters
    ----------
    scenario : Scenario
        Network, stations (their units are the fleet unless ``units`` is given), population.
    incident_type, priority, lon, lat
        The call.
    units : sequence of Unit, optional
        Fleet (default: the scenario's station units, all available at base).
    busy : sequence of str
        Unit ids to mark busy (``on_scene``).
    routes : bool
        Include route GeoJSON.
    now : datetime, optional
        Clock (default: wall clock).

    Raises
    ------
    AssignmentError
        Unknown busy ids, no fleet, bad call.
    """
    fleet = list(units) if units is not None else units_from_stations(scenario.stations)
    if not fleet:
        raise AssignmentError("no units: this source has no stations with units; pass --units FILE.csv")
    known = {u.id for u in fleet}
    unknown = [b for b in busy if b not in known]
    if unknown:
        raise AssignmentError(f"--busy names unknown unit id(s): {', '.join(unknown)}")
    busy_set = set(busy)
    fleet = [
        Unit(
            u.id, u.type, u.lon, u.lat, status="on_scene", capabilities=u.capabilities, home_station=u.home_station,
            home_lon=u.home_lon, home_lat=u.home_lat, position_time=u.position_time,
        )
        if u.id in busy_set
        else u
        for u in fleet
    ]  # fmt: skip
    now = now or datetime.now(UTC)
    incident = Incident("call-1", incident_type, priority, lon, lat, reported_time=now)
    rec = recommend(
        scenario.network,
        fleet,
        incident,
        scenario.sop or None,
        population=scenario.population,
        target_s=scenario.target_response_s,
        now=now,
        routes=routes,
    )
    return CliRecommendation(scenario, incident, rec)
