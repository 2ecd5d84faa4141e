"""The engine's recommendation for a new incident, from the units available now."""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Connection, Table, case, func, select, type_coerce

from geodispatch.api.models import Event, Unit
from geodispatch.api.runtime import Runtime
from geodispatch.api.state import DISPATCHABLE_STATUSES
from geodispatch.errors import AssignmentError
from geodispatch.output import json_safe

logger = logging.getLogger(__name__)


class UnitSnapshot:
    """The free units (``available``, ``returning``) as the engine sees them, in memory, versioned by the database.

    Every committed change of a unit made through the API or the command line writes an
    ``/events`` row carrying the unit as the API returns it, in the same transaction, with ids
    in commit order (:mod:`geodispatch.api.events`). The snapshot remembers the last event id
    it applied; each :meth:`units` call reads only the events after it (one range query on the
    primary key, usually a few rows) and applies the unit ones. Every process's writes are seen,
    since the version lives in the database, and a call never sees a state older than the last
    commit before it. More than :data:`BATCH` new events, or a snapshot older than
    :data:`MAX_AGE_S`, reload the available units in full: a write that bypasses the API (SQL
    typed by hand: no audit entry, no event) shows within that time, or at once after
    :func:`forget_units`.
    """

    BATCH = 500
    """Most events applied incrementally; more reload the available units in full."""
    MAX_AGE_S = 5.0
    """A full reload at least this often, seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: int | None = None
        self._units: dict[str, Any] = {}
        self._list: list[Any] | None = None
        self._loaded_at = -math.inf

    def units(self, runtime: Runtime) -> list[Any]:
        """The free units, ordered by id, as of the newest committed event."""
        for _ in range(2):
            if self._last is None or time.monotonic() - self._loaded_at >= self.MAX_AGE_S:
                self._reload(runtime)
            last = self._last
            with runtime.db.peek() as conn:  # outside the lock: a slow database holds up no other reader
                rows = list(conn.execute(
                    select(_EVENTS.c.id, _EVENTS.c.entity_type, _EVENTS.c.entity_id, _UNIT_DATA)
                    .where(_EVENTS.c.id > last)
                    .order_by(_EVENTS.c.id)
                    .limit(self.BATCH + 1)
                ).all())
            if len(rows) <= self.BATCH:
                break
            self._loaded_at = -math.inf  # too far behind: reload
        with self._lock:
            for row in rows:
                if self._last is not None and row.id > self._last:
                    if row.entity_type == "unit":
                        self._apply(row.entity_id, row.data)
                    self._last = int(row.id)
            if self._list is None:
                self._list = [self._units[k] for k in sorted(self._units)]
            return self._list

    def _reload(self, runtime: Runtime) -> None:
        """Read every free unit afresh (under the lock: rare, and no event applied meanwhile can be
        newer than the reload)."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._loaded_at < self.MAX_AGE_S:
                return  # another thread just did
            with runtime.db.peek() as conn:
                last, units = _load(conn)
            self._last, self._units, self._list = last, units, None
            self._loaded_at = time.monotonic()

    def _apply(self, unit_id: str, data: dict[str, Any] | None) -> None:
        """Apply one unit event (the unit as the API returned it; None: it no longer exists)."""
        if data is None or data.get("status") not in DISPATCHABLE_STATUSES:
            if self._units.pop(unit_id, None) is not None:
                self._list = None
            return
        when = data.get("position_time")
        self._units[unit_id] = _engine_unit(
            unit_id, data["type"], data["status"], data["lon"], data["lat"], data.get("capabilities"),
            data.get("station_id"), data.get("home_lon"), data.get("home_lat"),
            datetime.fromisoformat(when) if when else None,
        )
        self._list = None


_EVENTS = cast(Table, Event.__table__)
_UNIT_DATA = type_coerce(case((_EVENTS.c.entity_type == "unit", _EVENTS.c.data)), JSON).label("data")
"""An event's data when it is a unit's (other entities' JSON is not even decoded)."""


def _load(session: Connection) -> tuple[int, dict[str, Any]]:
    """The newest event id and every free unit, read in that order, each statement on its own
    (:meth:`~geodispatch.api.db.Database.peek`): the unit rows are at least as new as the id,
    and re-applying an event that a row already shows changes nothing."""
    last = session.scalar(select(func.max(_EVENTS.c.id))) or 0
    rows = session.execute(
        select(Unit.id, Unit.type, Unit.status, Unit.lon, Unit.lat, Unit.capabilities, Unit.station_id,
               Unit.home_lon, Unit.home_lat, Unit.position_time).where(Unit.status.in_(sorted(DISPATCHABLE_STATUSES)))
    ).all()
    units = {r.id: _engine_unit(r.id, r.type, r.status, r.lon, r.lat, r.capabilities, r.station_id, r.home_lon,
                                r.home_lat, r.position_time) for r in rows}
    return int(last), units


def _engine_unit(ident: str, type_: str, status: str, lon: float, lat: float, capabilities: Any,
                 station_id: str | None, home_lon: float | None, home_lat: float | None,
                 position_time: datetime | None) -> Any:
    from geodispatch.assign import Unit as EngineUnit

    return EngineUnit(id=ident, type=type_, lon=lon, lat=lat, status=status,
                      capabilities=tuple(capabilities or ()), home_station=station_id, home_lon=home_lon,
                      home_lat=home_lat, position_time=position_time)


def forget_units(runtime: Runtime) -> None:
    """Make the next :func:`available_units` read the units afresh (after writing them outside the API)."""
    runtime.extras.pop("unit_snapshot", None)


def available_units(runtime: Runtime) -> list[Any]:
    """The engine's :class:`~geodispatch.assign.Unit` for every free unit, ordered by id.

    Free: ``available`` or ``returning`` (:data:`~geodispatch.domain.DISPATCHABLE_STATUSES`); a
    returning unit is placed where it last reported.

    Each carries its position's report time and its home (station), so the engine places a
    unit whose report is older than its limit (30 min) at home and says so in the reasons, and
    the coverage tie-break counts what each unit covers from its home. Read from the runtime's
    :class:`UnitSnapshot` (current as of the newest committed change); the list is shared: do
    not modify it.
    """
    snapshot = runtime.extras.get("unit_snapshot")
    if snapshot is None:
        snapshot = runtime.extras.setdefault("unit_snapshot", UnitSnapshot())
    return snapshot.units(runtime)  # type: ignore[no-any-return]


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
