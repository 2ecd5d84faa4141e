"""Status state machines of incidents and units.

Incident::

    open ──dispatch──► dispatched ─► en_route ─► on_scene ─► transporting ─► closed
      │                    │            │           └──────────────────────► closed
      └────────────────────┴────────────┴───────────┴─► cancelled

``open -> dispatched`` happens only through ``POST /incidents/{id}/dispatch``; closing or
cancelling releases every unit still assigned. When an incident moves to ``en_route`` or
``on_scene``, its units that are at an earlier stage move with it.

Unit (the engine's statuses, :data:`geodispatch.domain.UNIT_STATUSES`)::

    available ──dispatch──► dispatched ─► en_route ─► on_scene ─► transporting ─► at_hospital ─► returning
    returning ──dispatch──► dispatched            (a returning unit is free: it may take a new call)
    any assigned status, returning, out_of_service ─► available    (an assigned one is released)
    transporting, at_hospital ─► returning                          (released)
    available, returning ─► out_of_service

A unit is assigned (has an incident) exactly in :data:`ASSIGNED_UNIT_STATUSES`: ``dispatched``,
``en_route``, ``on_scene``, ``transporting`` and ``at_hospital``. Going to ``returning`` (on its
way back to base after the hospital handover) or ``available`` releases it from its incident. A
unit may be dispatched from :data:`DISPATCHABLE_STATUSES` (``available`` and ``returning``), the
same rule the engine and the simulation follow. ``out_of_service`` only from an unassigned
status (``available`` or ``returning``).
"""

from __future__ import annotations

from typing import Literal

from geodispatch.domain import ASSIGNED_UNIT_STATUSES, DISPATCHABLE_STATUSES, UNIT_STATUSES, UnitStatus
from geodispatch.errors import ConflictError, InputError

__all__ = [
    "ASSIGNED_UNIT_STATUSES",
    "DISPATCHABLE_STATUSES",
    "INCIDENT_STATUSES",
    "INCIDENT_TRANSITIONS",
    "RELEASING_UNIT_STATUSES",
    "TERMINAL_INCIDENT_STATUSES",
    "UNIT_STATUSES",
    "UNIT_TRANSITIONS",
    "IncidentStatus",
    "UnitStatus",
    "check_incident_transition",
    "check_unit_transition",
    "unit_follows",
]

IncidentStatus = Literal["open", "dispatched", "en_route", "on_scene", "transporting", "closed", "cancelled"]
INCIDENT_STATUSES: tuple[str, ...] = IncidentStatus.__args__  # type: ignore[attr-defined]
TERMINAL_INCIDENT_STATUSES: tuple[str, ...] = ("closed", "cancelled")
INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"cancelled"}),
    "dispatched": frozenset({"en_route", "on_scene", "cancelled"}),
    "en_route": frozenset({"on_scene", "cancelled"}),
    "on_scene": frozenset({"transporting", "closed", "cancelled"}),
    "transporting": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}

UNIT_TRANSITIONS: dict[str, frozenset[str]] = {
    "available": frozenset({"out_of_service"}),
    "dispatched": frozenset({"en_route", "on_scene", "available"}),
    "en_route": frozenset({"on_scene", "available"}),
    "on_scene": frozenset({"transporting", "available"}),
    "transporting": frozenset({"at_hospital", "returning", "available"}),
    "at_hospital": frozenset({"returning", "available"}),
    "returning": frozenset({"available", "out_of_service"}),
    "out_of_service": frozenset({"available"}),
}
"""Changes a unit may make by ``PATCH /units/{id}`` (``dispatched`` only through a dispatch)."""

RELEASING_UNIT_STATUSES: frozenset[str] = frozenset(UNIT_STATUSES) - frozenset(ASSIGNED_UNIT_STATUSES)
"""Statuses that end a unit's assignment when it reaches them from an assigned one."""

_STAGE = {name: i for i, name in enumerate(ASSIGNED_UNIT_STATUSES)}
"""Order of the assigned stages (for moving units along with their incident)."""


def _check(kind: str, statuses: tuple[str, ...], table: dict[str, frozenset[str]], current: str, new: str) -> None:
    if new not in statuses:
        raise InputError(f"unknown {kind} status {new!r}; use one of: {', '.join(statuses)}")
    if new == current:
        raise ConflictError(f"{kind} is already {current!r}", code="illegal_transition")
    allowed = table.get(current, frozenset())
    if new not in allowed:
        hint = ""
        if new == "dispatched":
            hint = "; dispatch units with POST /incidents/{id}/dispatch"
        elif not allowed:
            hint = f"; {current!r} is final"
        else:
            hint = f"; from {current!r} it may go to: {', '.join(sorted(allowed))}"
        article = "an" if kind[0] in "aeiou" else "a"
        raise ConflictError(f"{article} {kind} cannot go from {current!r} to {new!r}{hint}", code="illegal_transition")


def check_incident_transition(current: str, new: str) -> None:
    """Raise unless an incident may change from ``current`` to ``new``.

    Raises
    ------
    InputError
        For an unknown status name (HTTP 422).
    ConflictError
        For a change the state machine does not allow (HTTP 409, code ``illegal_transition``).
    """
    _check("incident", INCIDENT_STATUSES, INCIDENT_TRANSITIONS, current, new)


def check_unit_transition(current: str, new: str) -> None:
    """Raise unless a unit may change from ``current`` to ``new`` (see :func:`check_incident_transition`)."""
    _check("unit", UNIT_STATUSES, UNIT_TRANSITIONS, current, new)


def unit_follows(unit_status: str, incident_status: str) -> bool:
    """True when a unit at ``unit_status`` should move with its incident to ``incident_status``.

    Only ``en_route`` and ``on_scene`` carry units along, and only forward.
    """
    if incident_status not in ("en_route", "on_scene") or unit_status not in _STAGE:
        return False
    return _STAGE[unit_status] < _STAGE[incident_status]
