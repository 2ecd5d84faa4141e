"""The 112 workflow in the database: forwards to agencies, acknowledgements, escalation, command,
and the public status of a report.

The rules (who gets a report, who commands, when an acknowledgement is overdue) are the pure
functions of :mod:`geodispatch.assign.forward`; this module stores their results, each change in
the caller's write transaction with its audit entry. Times come from ``Runtime.clock`` so tests
drive the acknowledgement timeout with an injected clock, not with sleeps.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from geodispatch.api import audit as audit_log
from geodispatch.api.auth import SYSTEM, Principal
from geodispatch.api.models import Incident, IncidentForward, Unit, utcnow
from geodispatch.api.runtime import Runtime
from geodispatch.api.schemas import AgencyOut, ForwardOut, PublicStatusOut
from geodispatch.api.service import audit, audit_row, insert_incident
from geodispatch.api.state import DISPATCHABLE_STATUSES, TERMINAL_INCIDENT_STATUSES
from geodispatch.assign.forward import ForwardPlan, forward_status, plan_forwards, unit_agency
from geodispatch.assign.model import resolve_sop
from geodispatch.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError, RateLimitedError
from geodispatch.regions import Agency

_FORWARDS = cast(Table, IncidentForward.__table__)
_INCIDENTS = cast(Table, Incident.__table__)

PUBLIC_NAMES: dict[str, str] = {
    "damkar": "Damkar",
    "psc": "PSC 119",
    "rsud": "RSUD",
    "puskesmas": "Puskesmas",
    "dinkes": "Dinas Kesehatan",
    "bpbd": "BPBD",
    "polisi": "Polisi",
    "dinsos": "Dinas Sosial",
    "tagana": "Tagana",
    "satpolpp": "Satpol PP",
    "pmi": "PMI",
    "sar": "Tim SAR",
    "orari": "ORARI",
    "kominfo": "Call Center 112",
}
"""How the public status page names each kind of agency (no internal ids)."""


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def agencies_by_id(runtime: Runtime) -> dict[str, Agency]:
    """The served region's agencies by id (built once per runtime and agency list)."""
    agencies = runtime.scenario.agencies
    cached = runtime.extras.get("agencies_by_id")
    if cached is None or cached[0] is not agencies:
        cached = runtime.extras["agencies_by_id"] = (agencies, {a.id: a for a in agencies})
    return cached[1]  # type: ignore[no-any-return]


def check_agency(runtime: Runtime, agency_id: str) -> Agency:
    """The agency with this id (422 ``invalid_input`` naming the known ids otherwise)."""
    agency = agencies_by_id(runtime).get(agency_id)
    if agency is None:
        known = ", ".join(agencies_by_id(runtime)) or "none (the region lists no agencies)"
        raise InputError(f"unknown agency {agency_id!r}; the agencies of {runtime.scenario.name} are: {known}")
    return agency


def unit_agency_for(runtime: Runtime, unit_type: str, station_id: str | None, agency_id: str | None) -> str | None:
    """The agency a new unit belongs to: given, else its region station's, else the only owner of its type."""
    if agency_id is not None:
        return check_agency(runtime, agency_id).id
    station_agency = next((s.agency for s in runtime.scenario.stations if s.id == station_id), None)
    return unit_agency(unit_type, runtime.scenario.agencies, None, station_agency)


# ---------------------------------------------------------------- forwarding a new report
@dataclass(frozen=True)
class NewReport:
    """Where a new report goes, decided before its write transaction (pure: no database).

    Attributes
    ----------
    plan : ForwardPlan
        Agencies it is forwarded to (with the unit types asked of each) and the commander.
    public_token : str
        Token of its public status page (192 random bits: unguessable).
    notified_at : datetime
        When the agencies are notified (the runtime's clock).
    """

    plan: ForwardPlan
    public_token: str
    notified_at: datetime


def plan_new_report(runtime: Runtime, type_: str) -> NewReport:
    """Forwards, commander and public token of a report of ``type_`` (see :func:`create_and_forward`)."""
    scenario = runtime.scenario
    sop = resolve_sop(scenario.sop or None)
    plan = plan_forwards(type_, sop.get(type_, ()), scenario.agencies, scenario.workflow)
    return NewReport(plan, secrets.token_urlsafe(24), runtime.clock())


@dataclass(frozen=True)
class NewIncident:
    """What :func:`create_and_forward` wrote: enough to render the incident without reading it back.

    Attributes
    ----------
    id : int
        The incident.
    created_at : datetime
        Its creation (and update) time.
    report : NewReport
        Its forwards plan, public token and notification time.
    forwarded_to : list of ForwardOut
        Its forwards as the API shows them.
    """

    id: int
    created_at: datetime
    report: NewReport
    forwarded_to: list[ForwardOut]


def create_and_forward(
    session: Session, who: Principal, runtime: Runtime, data: dict[str, Any], recommendation: dict[str, Any] | None
) -> NewIncident:
    """Record a new incident and forward it to the agencies its SOP names.

    Three writes: the incident with its token and commander, its forwards, and the two audit
    entries ``incident.create`` and ``incident.forward`` appended together (one chain append).
    Returns what was written, from which :func:`geodispatch.api.views.new_incident_out`
    renders the incident without reading it back.

    Parameters
    ----------
    session : Session
        An open write transaction.
    who : Principal
        The call taker.
    runtime : Runtime
        The region served (agencies, workflow, SOP) and the clock.
    data : dict
        ``type``, ``priority``, ``lon``, ``lat``, ``note`` of the report.
    recommendation : dict or None
        The engine's recommendation.
    """
    report = plan_new_report(runtime, data["type"])
    plan = report.plan
    incident_id, now, create_audit = insert_incident(
        session, who, data, recommendation, public_token=report.public_token, command_agency_id=plan.command
    )
    if plan.forwards:
        session.execute(
            insert(_FORWARDS),
            [
                {"incident_id": incident_id, "agency_id": f.agency_id, "unit_types": list(f.unit_types),
                 "status": "notified", "notified_at": report.notified_at, "acknowledged_at": None,
                 "escalated_at": None}
                for f in plan.forwards
            ],
        )
    forward_audit = audit_row(
        who, "incident.forward", "incident", incident_id, None,
        {"forwarded_to": [{"agency_id": f.agency_id, "unit_types": list(f.unit_types)} for f in plan.forwards],
         "command_agency_id": plan.command, "no_agency_for": list(plan.no_agency)},
        utcnow(),
    )
    audit_log.append(session, [create_audit, forward_audit])
    forwards = [
        forward_out(runtime, f.agency_id, list(f.unit_types), "notified", report.notified_at, None, None)
        for f in plan.forwards
    ]
    return NewIncident(incident_id, now, report, forwards)


# ---------------------------------------------------------------- who may see what
def forwarded_incident_ids(session: Session, agency_id: str) -> Any:
    """A subquery of the incident ids forwarded to ``agency_id``."""
    return select(_FORWARDS.c.incident_id).where(_FORWARDS.c.agency_id == agency_id)


def check_incident_access(session: Session, who: Principal, incident_id: int) -> None:
    """An ``agency`` key may touch only incidents forwarded to its agency (403 otherwise)."""
    if who.role != "agency":
        return
    found = session.execute(
        select(_FORWARDS.c.id).where(_FORWARDS.c.incident_id == incident_id, _FORWARDS.c.agency_id == who.agency_id)
    ).first()
    if found is None:
        if session.get(Incident, incident_id) is None:
            raise NotFoundError(f"incident {incident_id} does not exist")
        raise PermissionDeniedError(
            f"incident {incident_id} was not forwarded to agency {who.agency_id!r}; an agency key sees only its own"
        )


def check_own_units(session: Session, who: Principal, unit_ids: Iterable[str]) -> None:
    """An ``agency`` key may dispatch or change only its agency's units (403 naming the others)."""
    if who.role != "agency":
        return
    ids = sorted(set(unit_ids))
    rows = session.execute(select(Unit.id, Unit.agency_id).where(Unit.id.in_(ids))).all()
    owner = {r.id: r.agency_id for r in rows}
    foreign = [u for u in ids if u in owner and owner[u] != who.agency_id]
    if foreign:
        raise PermissionDeniedError(
            f"unit(s) {', '.join(foreign)} do not belong to agency {who.agency_id!r}; "
            "an agency dispatches its own units"
        )


# ---------------------------------------------------------------- acknowledgements
def _locked_forwards(session: Session, incident_id: int) -> list[Any]:
    return list(
        session.execute(
            select(_FORWARDS).where(_FORWARDS.c.incident_id == incident_id).order_by(_FORWARDS.c.id).with_for_update()
        ).all()
    )


def acknowledge(session: Session, who: Principal, runtime: Runtime, incident_id: int) -> None:
    """The calling agency takes the report: ``notified`` (or ``overdue``) -> ``acknowledged``.

    Raises
    ------
    PermissionDeniedError
        The key is not an agency key, or the incident was not forwarded to its agency.
    ConflictError
        ``already_acknowledged``, or ``escalated`` (the call taker gave its part to the commander).
    """
    if who.role != "agency" or who.agency_id is None:
        raise PermissionDeniedError("only an agency key acknowledges; it acknowledges for its own agency")
    check_incident_access(session, who, incident_id)
    mine = [r for r in _locked_forwards(session, incident_id) if r.agency_id == who.agency_id]
    row = mine[0]
    if row.status in ("acknowledged", "escalated"):
        raise ConflictError(
            f"incident {incident_id} is already {row.status} by agency {who.agency_id!r}", code=f"already_{row.status}"
        )
    now = runtime.clock()
    session.execute(update(_FORWARDS).where(_FORWARDS.c.id == row.id).values(status="acknowledged",
                                                                            acknowledged_at=now))
    audit(session, who, "forward.acknowledge", "incident", incident_id, {"agency_id": row.agency_id,
          "status": row.status}, {"agency_id": row.agency_id, "status": "acknowledged"})


def mark_overdue(session: Session, runtime: Runtime) -> list[tuple[int, str]]:
    """Persist ``overdue`` for every forward past the region's acknowledgement timeout.

    Each change is audited (by the system). Returns the ``(incident_id, agency_id)`` pairs that
    became overdue. Forwards of closed or cancelled incidents are left alone.
    """
    now = runtime.clock()
    deadline = now - timedelta(seconds=runtime.scenario.ack_timeout_s)
    rows = session.execute(
        select(_FORWARDS.c.id, _FORWARDS.c.incident_id, _FORWARDS.c.agency_id)
        .join(_INCIDENTS, _INCIDENTS.c.id == _FORWARDS.c.incident_id)
        .where(
            _FORWARDS.c.status == "notified",
            _FORWARDS.c.notified_at < deadline,
            _INCIDENTS.c.status.not_in(TERMINAL_INCIDENT_STATUSES),
        )
        .order_by(_FORWARDS.c.id)
        .with_for_update()
    ).all()
    if not rows:
        return []
    session.execute(update(_FORWARDS).where(_FORWARDS.c.id.in_([r.id for r in rows])).values(status="overdue"))
    for r in rows:
        audit(session, SYSTEM, "forward.overdue", "incident", r.incident_id, {"agency_id": r.agency_id,
              "status": "notified"}, {"agency_id": r.agency_id, "status": "overdue"})
    return [(int(r.incident_id), str(r.agency_id)) for r in rows]


def escalate(session: Session, who: Principal, runtime: Runtime, incident_id: int) -> list[str]:
    """Hand the overdue parts of an incident to its commanding agency; return the agencies escalated.

    Raises
    ------
    ConflictError
        ``nothing_overdue`` when no forward is overdue; ``no_commander`` when the incident has
        no commanding agency (hand command to one first).
    """
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} does not exist")
    now = runtime.clock()
    timeout = runtime.scenario.ack_timeout_s
    rows = _locked_forwards(session, incident_id)
    late = [r for r in rows if forward_status(r.status, _utc(r.notified_at), now, timeout) == "overdue"]
    if not late:
        raise ConflictError(f"no agency is overdue on incident {incident_id}; nothing to escalate",
                            code="nothing_overdue")
    commander = incident.command_agency_id
    if commander is None:
        raise ConflictError(f"incident {incident_id} has no commanding agency; hand command to one first "
                            "(POST /incidents/{id}/command)", code="no_commander")
    late = [r for r in late if r.agency_id != commander]
    if not late:
        raise ConflictError(f"only the commanding agency {commander!r} is overdue; hand command to another agency",
                            code="commander_overdue")
    types = sorted({t for r in late for t in (r.unit_types or [])})
    session.execute(update(_FORWARDS).where(_FORWARDS.c.id.in_([r.id for r in late])).values(status="escalated",
                                                                                            escalated_at=now))
    own = next((r for r in rows if r.agency_id == commander), None)
    if own is None:
        session.execute(insert(_FORWARDS).values(incident_id=incident_id, agency_id=commander, unit_types=types,
                                                 status="notified", notified_at=now))
    else:
        merged = sorted(set(own.unit_types or []) | set(types))
        session.execute(update(_FORWARDS).where(_FORWARDS.c.id == own.id).values(unit_types=merged))
    escalated = [str(r.agency_id) for r in late]
    audit(session, who, "incident.escalate", "incident", incident_id, {"overdue": escalated},
          {"escalated_to": commander, "unit_types": types})
    return escalated


def hand_over(session: Session, who: Principal, runtime: Runtime, incident_id: int, agency_id: str) -> None:
    """Hand command of an incident to ``agency_id`` (the call taker, an admin, or the commander itself).

    The new commander is forwarded the incident when it was not yet (informed, no unit types).
    """
    check_agency(runtime, agency_id)
    row = session.execute(select(_INCIDENTS).where(_INCIDENTS.c.id == incident_id).with_for_update()).one_or_none()
    if row is None:
        raise NotFoundError(f"incident {incident_id} does not exist")
    if who.role == "agency" and who.agency_id != row.command_agency_id:
        raise PermissionDeniedError("only the call taker or the commanding agency hands command over")
    if row.status in TERMINAL_INCIDENT_STATUSES:
        raise ConflictError(f"incident {incident_id} is {row.status}", code="illegal_transition")
    if row.command_agency_id == agency_id:
        raise ConflictError(f"agency {agency_id!r} already commands incident {incident_id}", code="already_commanding")
    session.execute(update(_INCIDENTS).where(_INCIDENTS.c.id == incident_id).values(command_agency_id=agency_id))
    has = session.execute(select(_FORWARDS.c.id).where(_FORWARDS.c.incident_id == incident_id,
                                                       _FORWARDS.c.agency_id == agency_id)).first()
    if has is None:
        session.execute(insert(_FORWARDS).values(incident_id=incident_id, agency_id=agency_id, unit_types=[],
                                                 status="notified", notified_at=runtime.clock()))
    audit(session, who, "incident.command", "incident", incident_id, {"command_agency_id": row.command_agency_id},
          {"command_agency_id": agency_id})


# ---------------------------------------------------------------- views
_FORWARDS_OF = (select(_FORWARDS).where(_FORWARDS.c.incident_id.in_(bindparam("ids", expanding=True)))
                .order_by(_FORWARDS.c.id))


def forwards_of(session: Session, runtime: Runtime, incident_ids: Sequence[int]) -> dict[int, list[ForwardOut]]:
    """The forwards of each incident, with the status as of now (``notified`` past the deadline reads overdue)."""
    if not incident_ids:
        return {}
    rows = session.execute(_FORWARDS_OF, {"ids": list(incident_ids)}).all()
    now = runtime.clock()
    out: dict[int, list[ForwardOut]] = {}
    for r in rows:
        out.setdefault(int(r.incident_id), []).append(
            forward_out(runtime, r.agency_id, list(r.unit_types or []), r.status, r.notified_at, r.acknowledged_at,
                        r.escalated_at, now)
        )
    return out


def forward_out(
    runtime: Runtime,
    agency_id: str,
    unit_types: list[str],
    status: str,
    notified_at: datetime,
    acknowledged_at: datetime | None,
    escalated_at: datetime | None,
    now: datetime | None = None,
) -> ForwardOut:
    """One forward as the API shows it (a ``notified`` one past its deadline reads ``overdue``).

    ``now`` defaults to the runtime's clock.
    """
    agency = agencies_by_id(runtime).get(agency_id)
    notified = _utc(notified_at)
    timeout = runtime.scenario.ack_timeout_s
    return ForwardOut(
        agency_id=agency_id,
        agency_name=agency.name if agency is not None else agency_id,
        unit_types=unit_types,
        status=forward_status(status, notified, runtime.clock() if now is None else now, timeout),  # type: ignore[arg-type]
        notified_at=notified,
        acknowledged_at=acknowledged_at,
        escalated_at=escalated_at,
        ack_deadline=notified + timedelta(seconds=timeout),
    )


def agency_queues(session: Session, runtime: Runtime) -> list[AgencyOut]:
    """Every agency with its open, unacknowledged forwards (and how many are overdue) and free units."""
    now = runtime.clock()
    deadline = now - timedelta(seconds=runtime.scenario.ack_timeout_s)
    open_rows = session.execute(
        select(_FORWARDS.c.agency_id, _FORWARDS.c.status, _FORWARDS.c.notified_at)
        .join(_INCIDENTS, _INCIDENTS.c.id == _FORWARDS.c.incident_id)
        .where(_FORWARDS.c.status.in_(("notified", "overdue")), _INCIDENTS.c.status.not_in(TERMINAL_INCIDENT_STATUSES))
    ).all()
    free = dict(
        session.execute(
            select(Unit.agency_id, func.count())
            .where(Unit.status.in_(sorted(DISPATCHABLE_STATUSES)))
            .group_by(Unit.agency_id)
        ).all()
    )
    out = []
    for agency in runtime.scenario.agencies:
        mine = [r for r in open_rows if r.agency_id == agency.id]
        late = [r for r in mine if r.status == "overdue" or _utc(r.notified_at) < deadline]
        out.append(
            AgencyOut(
                id=agency.id, name=agency.name, kind=agency.kind, unit_types=list(agency.owned_unit_types),
                source=agency.source, notified=len(mine), overdue=len(late),
                units_available=int(free.get(agency.id, 0)),
            )
        )
    return out


def public_status(session: Session, runtime: Runtime, token: str) -> PublicStatusOut:
    """The stage of a report in plain Bahasa Indonesia, for the caller; nothing personal.

    No coordinates, notes, unit ids, agency ids or caller data: only the stage, a sentence,
    the minutes until the first unit is expected, and when the report last changed.
    """
    row = session.execute(
        select(_INCIDENTS.c.id, _INCIDENTS.c.status, _INCIDENTS.c.recommendation, _INCIDENTS.c.updated_at)
        .where(_INCIDENTS.c.public_token == token)
    ).one_or_none()
    if row is None:
        raise NotFoundError("unknown status code; check the link you were given")
    updated = _utc(row.updated_at)
    if row.status == "closed":
        return PublicStatusOut(stage="selesai", message="Penanganan sudah selesai. Terima kasih.", eta_minutes=None,
                               updated_at=updated)
    if row.status == "cancelled":
        return PublicStatusOut(stage="dibatalkan", message="Laporan ini dibatalkan oleh petugas.", eta_minutes=None,
                               updated_at=updated)
    if row.status in ("on_scene", "transporting"):
        return PublicStatusOut(stage="di_lokasi", message="Petugas sudah tiba di lokasi.", eta_minutes=None,
                               updated_at=updated)
    if row.status in ("dispatched", "en_route"):
        minutes = _eta_minutes(session, runtime, row)
        when = f", perkiraan tiba {minutes} menit lagi" if minutes is not None else ""
        return PublicStatusOut(stage="dalam_perjalanan", message=f"Unit dalam perjalanan{when}.",
                               eta_minutes=minutes, updated_at=updated)
    kinds = _forwarded_kinds(session, runtime, int(row.id))
    if kinds:
        names = [PUBLIC_NAMES[k] for k in kinds]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " dan " + names[-1]
        return PublicStatusOut(stage="diteruskan", message=f"Laporan diterima dan diteruskan ke {listed}.",
                               eta_minutes=None, updated_at=updated)
    return PublicStatusOut(stage="diterima", message="Laporan Anda sudah diterima petugas 112.", eta_minutes=None,
                           updated_at=updated)


def _forwarded_kinds(session: Session, runtime: Runtime, incident_id: int) -> list[str]:
    rows = session.execute(
        select(_FORWARDS.c.agency_id, _FORWARDS.c.unit_types)
        .where(_FORWARDS.c.incident_id == incident_id)
        .order_by(_FORWARDS.c.id)
    ).all()
    agencies = agencies_by_id(runtime)
    senders = [agencies[r.agency_id].kind for r in rows if r.agency_id in agencies and r.unit_types]
    told = [agencies[r.agency_id].kind for r in rows if r.agency_id in agencies]
    told = [kind for kind in told if kind != "kominfo"]
    return list(dict.fromkeys(senders or told))


def _eta_minutes(session: Session, runtime: Runtime, row: Any) -> int | None:
    """Minutes until the first assigned unit is expected, from the recommendation's ETAs and dispatch time."""
    from geodispatch.api.models import Assignment

    assigned = session.execute(
        select(Assignment.unit_id, Assignment.assigned_at).where(Assignment.incident_id == row.id, Assignment.active)
    ).all()
    rec = row.recommendation or {}
    etas = dict(zip(rec.get("unit_ids") or [], rec.get("etas_s") or [], strict=False))
    now = utcnow()  # the clock that stamped assigned_at (the dispatch itself)
    best: float | None = None
    for a in assigned:
        eta = etas.get(a.unit_id)
        if eta is None or not math.isfinite(float(eta)):
            continue
        left = float(eta) - (now - _utc(a.assigned_at)).total_seconds()
        best = left if best is None else min(best, left)
    if best is None:
        return None
    return max(1, math.ceil(best / 60.0))


# ---------------------------------------------------------------- public rate limit
class RateLimiter:
    """At most ``limit`` requests per ``window_s`` seconds per client (sliding window, in memory).

    The public status page needs no key, so it is limited per client address: a token cannot
    be guessed (192 bits) but a flood of guesses should not cost the dispatchers' capacity.
    """

    def __init__(self, limit: int = 30, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Count a request of ``client``; raise :class:`RateLimitedError` over the limit."""
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > 10_000:
                self._hits.clear()
            hits = self._hits.setdefault(client, deque())
            while hits and now - hits[0] > self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                retry = max(1, math.ceil(self.window_s - (now - hits[0])))
                raise RateLimitedError(
                    f"too many status requests from this address; try again in {retry} s", retry_after_s=retry
                )
            hits.append(now)
