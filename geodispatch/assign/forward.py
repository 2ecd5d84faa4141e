"""Forwarding a report to the agencies (OPD) that act on it, and their acknowledgements.

A 112 call taker does not drive every unit: each report is forwarded to the agencies the SOP
names (Damkar for a fire, the PSC or the RSUD for the casualties, BPBD for every flood), each
agency acknowledges and dispatches its own units, and one agency commands. This module is the
pure logic of that workflow (no database, no clock of its own): which agencies a report goes
to, which of them commands, which unit belongs to which agency, and when an acknowledgement is
overdue. The API stores the result and the console shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from geodispatch.regions import Agency, Requirement, Workflow

FORWARD_STATUSES: tuple[str, ...] = ("notified", "acknowledged", "overdue", "escalated")
"""Status of one forward: ``notified`` (sent, no answer yet), ``acknowledged`` (the agency took
it), ``overdue`` (no answer within the region's ``ack_timeout_s``), ``escalated`` (the call
taker handed the overdue part to the commanding agency)."""

ALL_TYPES = "*"
"""Workflow key that applies to every incident type."""

DEFAULT_COMMAND_KINDS: dict[str, tuple[str, ...]] = {
    "kebakaran": ("damkar",),
    "banjir": ("bpbd",),
    "longsor": ("bpbd",),
    "medis": ("psc", "rsud", "dinkes", "puskesmas"),
    "kecelakaan": ("polisi", "psc", "rsud"),
    "penyelamatan": ("sar", "damkar", "bpbd"),
}
"""Agency kinds that command an incident type when the region's workflow names no commander
(the first kind with a forwarded agency wins; else the first forwarded agency)."""


@dataclass(frozen=True)
class Forward:
    """One agency a report is forwarded to.

    Attributes
    ----------
    agency_id : str
        The agency.
    unit_types : tuple of str
        Unit types the SOP asks this agency for (empty: informed only, e.g. BPBD or Kominfo).
    """

    agency_id: str
    unit_types: tuple[str, ...]


@dataclass(frozen=True)
class ForwardPlan:
    """Where a report goes.

    Attributes
    ----------
    forwards : tuple of Forward
        Agencies in SOP order, then those only notified, then the commander if not yet named.
    command : str or None
        The commanding agency.
    no_agency : tuple of str
        Unit types the SOP asks for that no agency of the region owns (the call taker must
        find them elsewhere: shown as a warning).
    """

    forwards: tuple[Forward, ...]
    command: str | None
    no_agency: tuple[str, ...] = ()


def agencies_for_unit_type(agencies: Sequence[Agency], unit_type: str) -> list[Agency]:
    """Agencies that own units of ``unit_type`` (in region order)."""
    return [a for a in agencies if unit_type in a.owned_unit_types]


def plan_forwards(
    incident_type: str,
    requirements: Sequence[Requirement],
    agencies: Sequence[Agency],
    workflow: Mapping[str, Workflow],
) -> ForwardPlan:
    """Which agencies a report of ``incident_type`` is forwarded to, and who commands.

    Parameters
    ----------
    incident_type : str
        The incident type (``kebakaran``).
    requirements : sequence of Requirement
        The SOP line of the incident (unit types and counts).
    agencies : sequence of Agency
        The region's agencies.
    workflow : mapping
        The region's workflow lines: ``"*"`` applies to every type, a type's own line adds to it;
        its ``command`` wins over the ``"*"`` one.

    Returns
    -------
    ForwardPlan
        Every agency owning a required unit type gets the unit types asked of it; the agencies a
        workflow line notifies are added without unit types. A region without agencies forwards
        nothing (the call taker dispatches directly, as before).
    """
    asked: dict[str, list[str]] = {}
    for req in requirements:
        for agency in agencies_for_unit_type(agencies, req.type):
            types = asked.setdefault(agency.id, [])
            if req.type not in types:
                types.append(req.type)
    lines = [line for key in (ALL_TYPES, incident_type) if (line := workflow.get(key)) is not None]
    for line in lines:
        for agency_id in line.notify:
            asked.setdefault(agency_id, [])
    forwards = tuple(Forward(agency_id, tuple(types)) for agency_id, types in asked.items())
    command = _commander(incident_type, forwards, agencies, lines)
    if command is not None and command not in asked:
        forwards += (Forward(command, ()),)  # the commanding agency is always told
    owned = {t for a in agencies for t in a.owned_unit_types}
    no_agency = tuple(dict.fromkeys(r.type for r in requirements if agencies and r.type not in owned))
    return ForwardPlan(forwards, command, no_agency)


def _commander(
    incident_type: str, forwards: Sequence[Forward], agencies: Sequence[Agency], lines: Sequence[Workflow]
) -> str | None:
    named = [line.command for line in lines if line.command is not None]
    if named:
        return named[-1]  # the type's own line wins over "*"
    by_id = {a.id: a for a in agencies}
    pairs = [(by_id[f.agency_id], f) for f in forwards if f.agency_id in by_id]
    for kind in DEFAULT_COMMAND_KINDS.get(incident_type, ()):
        for agency, _ in pairs:
            if agency.kind == kind:
                return agency.id
    senders = [agency for agency, f in pairs if f.unit_types]
    forwarded = [agency for agency, _ in pairs]
    return (senders or forwarded)[0].id if forwarded else None


def unit_agency(
    unit_type: str, agencies: Sequence[Agency], unit_agency_id: str | None = None, station_agency_id: str | None = None
) -> str | None:
    """The agency a unit belongs to: its own, else its station's, else the only owner of its type.

    Returns None when the region has no agencies or several agencies own the type and neither
    the unit nor its station says which (the region should say; the unit is then dispatched by
    the call taker only).
    """
    if unit_agency_id is not None:
        return unit_agency_id
    if station_agency_id is not None:
        return station_agency_id
    owners = agencies_for_unit_type(agencies, unit_type)
    return owners[0].id if len(owners) == 1 else None


def forward_status(status: str, notified_at: datetime, now: datetime, ack_timeout_s: float) -> str:
    """The status of a forward at ``now``: ``notified`` turns ``overdue`` after the timeout.

    Parameters
    ----------
    status : str
        Stored status (one of :data:`FORWARD_STATUSES`).
    notified_at, now : datetime
        When it was sent, and the current time (aware datetimes; the caller owns the clock).
    ack_timeout_s : float
        Seconds an agency has to acknowledge.
    """
    if status == "notified" and (now - notified_at).total_seconds() > ack_timeout_s:
        return "overdue"
    return status


def unit_types_of(forwards: Iterable[Forward]) -> set[str]:
    """All unit types asked of any agency in ``forwards``."""
    return {t for f in forwards for t in f.unit_types}
