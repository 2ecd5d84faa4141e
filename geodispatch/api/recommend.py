"""The engine's recommendation for a new incident, from the units available now."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from geodispatch.api.models import Unit
from geodispatch.api.runtime import Runtime
from geodispatch.api.state import DISPATCHABLE_STATUSES
from geodispatch.errors import AssignmentError
from geodispatch.output import json_safe

logger = logging.getLogger(__name__)


def available_units(runtime: Runtime, session: Session | None = None) -> list[Any]:
    """The engine's :class:`~geodispatch.assign.Unit` for every free unit (a read snapshot).

    Free: ``available`` or ``returning`` (:data:`~geodispatch.domain.DISPATCHABLE_STATUSES`); a
    returning unit is placed where it last reported.

    Each carries its position's report time and its home (station), so the engine places a
    unit whose report is older than its limit (30 min) at home and says so in the reasons, and
    the coverage tie-break counts what each unit covers from its home. Reads through
    ``session`` when given, else in a read session of its own.
    """
    from geodispatch.assign import Unit as EngineUnit

    query = (
        select(Unit.id, Unit.type, Unit.lon, Unit.lat, Unit.capabilities, Unit.station_id, Unit.home_lon,
               Unit.home_lat, Unit.position_time, Unit.status)
        .where(Unit.status.in_(sorted(DISPATCHABLE_STATUSES)))
        .order_by(Unit.id)
    )
    if session is not None:
        rows = session.execute(query).all()
    else:
        with runtime.db.read() as own:
            rows = own.execute(query).all()
    cache: dict[tuple[Any, ...], Any] = runtime.extras.setdefault("engine_units", {})
    if len(cache) > 50_000:
        cache.clear()
    out = []
    for r in rows:
        key = (r.id, r.type, r.lon, r.lat, tuple(r.capabilities or ()), r.station_id, r.home_lon, r.home_lat,
               r.position_time, r.status)
        unit = cache.get(key)
        if unit is None:  # validated once per (unit, position report), not per incident
            unit = cache[key] = EngineUnit(
                id=r.id, type=r.type, lon=r.lon, lat=r.lat, status=r.status, capabilities=key[4],
                home_station=r.station_id, home_lon=r.home_lon, home_lat=r.home_lat, position_time=r.position_time,
            )
        out.append(unit)
    return out


def recommend_incident(runtime: Runtime, type_: str, priority: int, lon: float, lat: float) -> dict[str, Any]:
    """Recommend units for an incident that is about to be stored.

    Parameters
    ----------
    runtime : Runtime
        Network, SOP and database.
    type_ : str
        Incident type (a key of the region's or the engine's SOP table).
    priority : int
        1 (life-threatening) to 3.
    lon, lat : float
        Incident location, degrees (EPSG:4326).

    Returns
    -------
    dict
        The engine's ``Recommendation.to_dict()`` made JSON-safe: at least ``unit_ids``,
        ``etas_s`` (seconds, null = unreachable), ``reasons`` and ``shortfall``.

    Raises
    ------
    AssignmentError
        Unknown incident type, bad priority (422).
    """
    from geodispatch.assign import Incident as EngineIncident
    from geodispatch.assign import recommend
    from geodispatch.assign.model import requirements_for, resolve_sop

    scenario = runtime.scenario
    incident = EngineIncident(id="new", type=type_, priority=priority, lon=lon, lat=lat)
    needs = requirements_for(incident, resolve_sop(scenario.sop or None))  # unknown type: 422 here
    units = available_units(runtime)
    if not units:
        return _nobody(needs, "no unit is available")
    try:
        rec = recommend(
            runtime.network,
            units,
            incident,
            sop=scenario.sop or None,
            population=scenario.population,
            target_s=scenario.target_response_s,
            snap_limit_m=runtime.snap_limit_m,
            engine=runtime.eta_engine,
        )
    except AssignmentError:
        raise
    except Exception as exc:  # an engine failure must not lose the call: record it, say so
        logger.exception("recommendation failed for a %s incident at %.6f, %.6f", type_, lon, lat)
        return _nobody(needs, f"the recommendation engine failed ({type(exc).__name__}); choose units by hand")
    out = json_safe(rec.to_dict())
    out.pop("incident_id", None)
    return out  # type: ignore[no-any-return]


def _nobody(needs: Any, why: str) -> dict[str, Any]:
    """A recommendation of no units, with the SOP's needs as the shortfall."""
    missing: dict[str, int] = {}
    for req in needs:
        missing[req.type] = missing.get(req.type, 0) + req.count
    wanted = ", ".join(f"{n} {t}" for t, n in missing.items())
    return {"unit_ids": [], "etas_s": [], "reasons": {}, "shortfall": f"{why}; the SOP asks for {wanted}",
            "missing": missing}
