"""Which units go: ``recommend`` for one incident, ``assign`` for simultaneous incidents.

Both run the same pipeline:

1. validate (unique unit ids, known types, priorities 1-3, no timestamps in the future, at least
   one dispatchable unit) - nothing is assigned when anything is wrong;
2. place units (stale reports fall back to the home station) and snap them (cached);
3. snap each incident (off the network -> :class:`~geodispatch.errors.SnapError`) and run **one**
   reverse bounded Dijkstra per incident for every unit's ETA. The bound starts at
   ``max(2 x target, 30 min)`` and doubles (then goes unbounded) until, for every requirement
   line, as many compatible units as the batch has slots of that type are found and the
   farthest of those plus the tie tolerance is inside the bound. Units outside the bound are
   then provably slower than every unit that could be chosen, so the answer is exact;
4. solve: ``optimal`` (lexicographic min-cost flow, :mod:`geodispatch.assign.optimize`),
   ``closest`` (greedy in arrival order, :mod:`geodispatch.assign.greedy`) or
   ``coverage_aware`` (optimal, then the coverage tie-break of :mod:`geodispatch.assign.cover`
   for each incident and unit type);
5. explain (:mod:`geodispatch.assign.explain`): ETA, road distance and optionally the route for
   each chosen unit; reasons for the next-best candidates; a shortfall message when the SOP
   cannot be met. The answers' types are in :mod:`geodispatch.assign.results`.

``recommend`` uses the coverage tie-break whenever ``population`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from geodispatch import settings
from geodispatch.assign.cover import TIE_TOLERANCE_S, apply_tiebreak
from geodispatch.assign.eta import (
    EtaEngine,
    IncidentEtas,
    UnitSnaps,
    effective_positions,
    engine_for,
    incident_etas,
    snap_incident,
    snap_units,
)
from geodispatch.assign.explain import explain, shortfall_of
from geodispatch.assign.greedy import solve_closest
from geodispatch.assign.model import (
    DEFAULT_MAX_POSITION_AGE_S,
    Incident,
    Slot,
    Sop,
    Unit,
    check_times,
    check_units,
    resolve_sop,
    slots_for,
)
from geodispatch.assign.optimize import compatible, solve_optimal
from geodispatch.assign.results import Assignment, Recommendation, Solution
from geodispatch.errors import AssignmentError
from geodispatch.network.snap import DEFAULT_SNAP_DISTANCE_M
from geodispatch.regions import Region

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork

POLICIES: tuple[str, ...] = ("closest", "optimal", "coverage_aware")
"""Assignment policies."""

DEFAULT_TARGET_S = settings.TARGET_RESPONSE_S
"""Target response time, seconds (15 min)."""

N_ALTERNATIVES = 3
"""Next-best candidates explained per needed unit type."""


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime):
        raise AssignmentError(f"now must be a datetime, got {type(now).__name__}")
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _check_target(target_s: float) -> float:
    try:
        t = float(target_s)
    except (TypeError, ValueError) as exc:
        raise AssignmentError(f"target time must be a number of seconds, got {target_s!r}") from exc
    if not math.isfinite(t) or t <= 0:
        raise AssignmentError(f"target time must be a positive number of seconds, got {target_s!r}")
    return t


def solve(
    network: RoadNetwork,
    units: Sequence[Unit],
    incidents: Sequence[Incident],
    sop: Sop | Region | None = None,
    policy: str = "optimal",
    *,
    population: Any = None,
    target_s: float = DEFAULT_TARGET_S,
    now: datetime | None = None,
    max_position_age_s: float = DEFAULT_MAX_POSITION_AGE_S,
    tolerance_s: float = TIE_TOLERANCE_S,
    snap_limit_m: float = DEFAULT_SNAP_DISTANCE_M,
    engine: EtaEngine | None = None,
) -> Solution:
    """Validate, compute ETAs and solve; the engine behind :func:`recommend` and :func:`assign`.

    Parameters are those of :func:`assign`. Returns a :class:`Solution`.
    """
    if policy not in POLICIES:
        raise AssignmentError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    target = _check_target(target_s)
    if not math.isfinite(max_position_age_s) or max_position_age_s <= 0:
        raise AssignmentError("max_position_age_s must be a positive number of seconds")
    if not math.isfinite(snap_limit_m) or snap_limit_m <= 0:
        raise AssignmentError("snap_limit_m must be a positive number of metres")
    units = list(units)
    incidents = list(incidents)
    check_units(units)
    if not incidents:
        raise AssignmentError("no incidents given")
    for inc in incidents:
        if not isinstance(inc, Incident):
            raise AssignmentError(f"incidents must be geodispatch.assign.Incident objects, got {type(inc).__name__}")
    ids = [i.id for i in incidents]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise AssignmentError(f"duplicate incident ids: {', '.join(dupes)}")
    clock = _now(now)
    check_times(units, incidents, clock)
    table = resolve_sop(sop)
    slots = slots_for(incidents, table)
    if not units:
        raise AssignmentError("no units given: pass the fleet (stations' units or a units file)")
    if not any(u.dispatchable for u in units):
        raise AssignmentError(
            f"no available unit at all: all {len(units)} units are busy or out of service; "
            "queue the incident and retry when a unit reports available"
        )
    eng = engine_for(network, engine)
    incident_snaps = [snap_incident(network, inc.lon, inc.lat, inc.id, snap_limit_m, engine=eng) for inc in incidents]

    positions = effective_positions(units, clock, max_position_age_s)
    snaps = snap_units(network, positions.lon, positions.lat, snap_limit_m, engine=eng)
    dispatchable = np.asarray([u.dispatchable for u in units], dtype=bool)
    unit_types = [u.type for u in units]
    fits = compatible(slots, unit_types, [u.capabilities for u in units]) & dispatchable

    searches = []
    for i, isnap in enumerate(incident_snaps):
        searches.append(_search(eng, snaps, isnap, i, slots, fits, target, tolerance_s, unit_types))
    eta = np.vstack([s.eta_s for s in searches]) if searches else np.zeros((0, len(units)))

    # level 2 counts arrivals within the target *from the report*: a call that has already
    # waited 10 of its 15 minutes has 5 left
    waited = np.asarray(
        [max(0.0, (clock - inc.reported_time).total_seconds()) if inc.reported_time else 0.0 for inc in incidents]
    )
    remaining = target - waited
    if policy == "closest":
        order = sorted(
            range(len(incidents)),
            key=lambda i: (incidents[i].reported_time or datetime.min.replace(tzinfo=UTC), i),
        )
        choice = solve_closest(slots, eta, fits, order)
    else:
        choice = solve_optimal(slots, eta, fits, remaining)
    sol = Solution(units, incidents, slots, eta, fits, choice, searches, positions, snaps, target, remaining)
    if policy == "coverage_aware" and population is not None:
        _apply_tiebreak(eng, sol, population, tolerance_s)
    return sol


def _search(
    engine: EtaEngine,
    snaps: UnitSnaps,
    isnap: Any,
    i: int,
    slots: Sequence[Slot],
    fits: np.ndarray,
    target_s: float,
    tolerance_s: float,
    unit_types: Sequence[str] | None = None,
) -> IncidentEtas:
    """Bounded ETA search for incident ``i``, widened until the answer is provably exact.

    Each unit crosses only the boats that carry its type (``unit_types``, see
    :func:`~geodispatch.assign.eta.incident_etas`)."""
    mine = [s for s, slot in enumerate(slots) if slot.incident_index == i]
    per_type: dict[str, int] = {}
    for slot in slots:
        per_type[slot.type] = per_type.get(slot.type, 0) + 1
    lines = {}
    for s in mine:
        lines[(slots[s].type, slots[s].capabilities)] = fits[s]
    limit = max(2.0 * target_s, 1800.0)
    for attempt in range(4):
        res = incident_etas(
            engine.network, isnap, snaps, math.inf if attempt == 3 else limit, engine=engine, unit_types=unit_types,
            hierarchy=attempt > 0,  # nearby: a search stopping at the farthest unit beats a hierarchy sweep
        )
        if math.isinf(res.limit_s):
            return res
        exact = True
        for (utype, _), mask in lines.items():
            need = min(per_type[utype], int(mask.sum()))
            if need == 0:
                continue
            known = np.sort(res.eta_s[mask & np.isfinite(res.eta_s)])
            if len(known) < need or known[need - 1] + tolerance_s > limit:
                exact = False
                break
        if exact:
            return res
        limit *= 2.0
    return res  # pragma: no cover - the last attempt is unbounded


def _apply_tiebreak(engine: EtaEngine, sol: Solution, population: Any, tolerance_s: float) -> None:
    """Coverage tie-break per incident and unit type, on top of the optimal choice.

    Reach sets are on the network as each unit type travels it: a fire station does not keep an
    island covered through a speedboat that carries ambulances only.
    """
    units = sol.units
    # for_unit_type is the engine itself (one index for all) where no boat blocks the type
    index = {t: engine.for_unit_type(t).coverage_index(population, sol.target_s) for t in {s.type for s in sol.slots}}
    sol.tiebreaks.update(
        apply_tiebreak(
            index,
            sol.slots,
            sol.choice,
            sol.eta,
            sol.fits,
            sol.remaining_s,
            np.asarray([u.type for u in units]),
            np.asarray([u.dispatchable for u in units], dtype=bool),
            np.asarray([u.home_lon if u.home_lon is not None else u.lon for u in units]),
            np.asarray([u.home_lat if u.home_lat is not None else u.lat for u in units]),
            tolerance_s,
        )
    )


def assign(
    network: RoadNetwork,
    units: Sequence[Unit],
    incidents: Sequence[Incident],
    sop: Sop | Region | None = None,
    policy: str = "optimal",
    *,
    population: Any = None,
    target_s: float = DEFAULT_TARGET_S,
    now: datetime | None = None,
    max_position_age_s: float = DEFAULT_MAX_POSITION_AGE_S,
    tolerance_s: float = TIE_TOLERANCE_S,
    snap_limit_m: float = DEFAULT_SNAP_DISTANCE_M,
    engine: EtaEngine | None = None,
) -> list[Assignment]:
    """Assign units to several simultaneous incidents.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    units : sequence of Unit
        The whole fleet (busy and out-of-service units are skipped).
    incidents : sequence of Incident
        Incidents waiting for units.
    sop : mapping or Region, optional
        Incident type -> requirements; default :data:`~geodispatch.assign.model.DEFAULT_SOP`
        (a Region's ``sop`` overrides the defaults line by line).
    policy : {"optimal", "closest", "coverage_aware"}
        ``optimal``: lexicographic optimum (priority-1 slots filled, slots within target counted
        from each incident's report, weighted ETA sum). ``closest``: greedy closest free unit per slot in arrival order.
        ``coverage_aware``: optimal plus the coverage tie-break (needs ``population``).
    population : DataFrame, optional
        ``lon``, ``lat``, ``population`` points for the coverage tie-break.
    target_s : float
        Target response time, seconds (default 900).
    now : datetime, optional
        Current time (default: the wall clock, UTC); position ages are measured from it.
    max_position_age_s : float
        Position reports older than this (s) fall back to the home station (default 1800).
    tolerance_s : float
        ETAs within this many seconds are ties for the coverage tie-break (default 30).
    snap_limit_m : float
        Incidents farther than this from any road are refused (SnapError) and units farther are
        unreachable, metres (default 1000; the API passes its own ``snap_limit_m``).
    engine : EtaEngine, optional
        The network's ETA engine: unit snaps, recent incident searches and coverage indexes
        made by earlier calls with it are reused (the API server holds one). Without it a
        temporary engine is used: same answers, nothing reused.

    Returns
    -------
    list of Assignment
        One per incident, in input order.

    Raises
    ------
    AssignmentError
        Bad input (see :func:`solve`); nothing is assigned.
    SnapError
        An incident lies farther than ``snap_limit_m`` from any road.
    """
    sol = solve(
        network,
        units,
        incidents,
        sop,
        policy,
        population=population,
        target_s=target_s,
        now=now,
        max_position_age_s=max_position_age_s,
        tolerance_s=tolerance_s,
        snap_limit_m=snap_limit_m,
        engine=engine,
    )
    return assignments_from(sol)


def assignments_from(sol: Solution) -> list[Assignment]:
    """Turn a :class:`Solution` into one :class:`Assignment` per incident."""
    out = []
    for i, inc in enumerate(sol.incidents):
        ks = [sol.choice[s] for s, slot in enumerate(sol.slots) if slot.incident_index == i and sol.choice[s] >= 0]
        missing, shortfall = shortfall_of(sol, i)
        out.append(
            Assignment(
                incident_id=inc.id,
                unit_ids=[sol.units[k].id for k in ks],
                etas_s=[float(sol.eta[i, k]) for k in ks],
                priority=inc.priority,
                shortfall=shortfall,
                missing=missing,
            )
        )
    return out


def recommend(
    network: RoadNetwork,
    units: Sequence[Unit],
    incident: Incident,
    sop: Sop | Region | None = None,
    *,
    population: Any = None,
    target_s: float = DEFAULT_TARGET_S,
    now: datetime | None = None,
    max_position_age_s: float = DEFAULT_MAX_POSITION_AGE_S,
    tolerance_s: float = TIE_TOLERANCE_S,
    snap_limit_m: float = DEFAULT_SNAP_DISTANCE_M,
    routes: bool = False,
    n_alternatives: int = N_ALTERNATIVES,
    engine: EtaEngine | None = None,
) -> Recommendation:
    """Recommend the units to send to one incident, with ETAs and reasons.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    units : sequence of Unit
        The whole fleet.
    incident : Incident
        The incident.
    sop : mapping or Region, optional
        Incident type -> requirements (default :data:`~geodispatch.assign.model.DEFAULT_SOP`).
    population : DataFrame, optional
        ``lon``, ``lat``, ``population`` points; enables the coverage tie-break (among choices
        with ETAs within ``tolerance_s``, keep the most people covered within ``target_s``).
    target_s : float
        Target response time, seconds.
    now : datetime, optional
        Current time (default: wall clock, UTC).
    max_position_age_s : float
        Stale-position age, seconds (default 1800).
    tolerance_s : float
        Tie tolerance, seconds (default 30).
    snap_limit_m : float
        Snap limit of the incident and the units, metres (default 1000; see :func:`assign`).
    routes : bool
        Also return each chosen unit's route as GeoJSON (lon/lat).
    n_alternatives : int
        Next-best candidates explained per needed unit type.
    engine : EtaEngine, optional
        The network's ETA engine (see :func:`assign`).

    Returns
    -------
    Recommendation

    Raises
    ------
    AssignmentError
        Unknown types, duplicate unit ids, priority out of range, timestamps in the future, no
        available unit at all.
    SnapError
        The incident lies farther than ``snap_limit_m`` from any road.
    """
    if not isinstance(incident, Incident):
        raise AssignmentError(f"incident must be a geodispatch.assign.Incident, got {type(incident).__name__}")
    sol = solve(
        network,
        units,
        [incident],
        sop,
        "coverage_aware" if population is not None else "optimal",
        population=population,
        target_s=target_s,
        now=now,
        max_position_age_s=max_position_age_s,
        tolerance_s=tolerance_s,
        snap_limit_m=snap_limit_m,
        engine=engine,
    )
    return explain(network, sol, resolve_sop(sop), routes, n_alternatives)
