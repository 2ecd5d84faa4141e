"""The domain vocabulary, in one place: station types, unit types, services, unit statuses.

Every layer (regions, the stages, the simulation, the API and its database constraints) reads
these tables, so "which stations send an ambulance" or "which statuses may be dispatched" has
one answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from geodispatch.regions import Station

StationType = Literal["psc", "ambulance", "damkar", "puskesmas", "rsud", "bpbd", "polisi", "pmi", "sar"]
UnitType = Literal["ambulance", "damkar", "rescue", "polisi", "bpbd", "pmi", "sar", "tagana", "satpolpp", "orari"]

STATION_TYPES: tuple[str, ...] = StationType.__args__  # type: ignore[attr-defined]
"""Kinds of station (building) a region lists."""
UNIT_TYPES: tuple[str, ...] = UnitType.__args__  # type: ignore[attr-defined]
"""Kinds of unit (vehicle / team); a service is named by its unit type. ``tagana`` is the Dinas
Sosial's disaster volunteers (Taruna Siaga Bencana), ``satpolpp`` the civil-service police,
``orari`` an amateur-radio relay team (communications where the phone network is down)."""

AgencyKind = Literal[
    "kominfo", "bpbd", "damkar", "rsud", "puskesmas", "dinkes", "polisi", "dinsos", "tagana", "satpolpp",
    "pmi", "sar", "orari", "psc",
]
AGENCY_KINDS: tuple[str, ...] = AgencyKind.__args__  # type: ignore[attr-defined]
"""Kinds of agency (OPD or partner) a 112 centre forwards reports to."""

AGENCY_KIND_UNIT_TYPES: dict[str, tuple[str, ...]] = {
    "kominfo": (),
    "bpbd": ("bpbd",),
    "damkar": ("damkar", "rescue"),
    "rsud": ("ambulance",),
    "puskesmas": ("ambulance",),
    "dinkes": ("ambulance",),
    "psc": ("ambulance",),
    "polisi": ("polisi",),
    "dinsos": ("tagana",),
    "tagana": ("tagana",),
    "satpolpp": ("satpolpp",),
    "pmi": ("pmi",),
    "sar": ("sar", "rescue"),
    "orari": ("orari",),
}
"""Unit types an agency of each kind owns when its entry lists none (a Damkar runs fire trucks and
rescue teams; the Kominfo runs the call centre and owns no units)."""

SERVICE_STATION_TYPES: dict[str, tuple[str, ...]] = {
    "ambulance": ("psc", "ambulance", "puskesmas", "rsud"),
    "damkar": ("damkar",),
    "rescue": ("sar", "bpbd", "damkar"),
    "bpbd": ("bpbd",),
    "polisi": ("polisi",),
    "pmi": ("pmi",),
    "sar": ("sar",),
    "tagana": (),
    "satpolpp": (),
    "orari": (),
}
"""Service (unit type) -> station types that host it when a station lists no units."""

UnitStatus = Literal[
    "available", "dispatched", "en_route", "on_scene", "transporting", "at_hospital", "returning", "out_of_service"
]
UNIT_STATUSES: tuple[str, ...] = UnitStatus.__args__  # type: ignore[attr-defined]
"""Every unit status: the dispatch cycle plus the hospital leg (``transporting`` -> ``at_hospital``
-> ``returning``) that ambulances and the simulation go through."""

ASSIGNED_UNIT_STATUSES: tuple[str, ...] = ("dispatched", "en_route", "on_scene", "transporting", "at_hospital")
"""Statuses in which a unit works an incident (it has an incident id)."""

DISPATCHABLE_STATUSES: frozenset[str] = frozenset({"available", "returning"})
"""Statuses in which a unit may be sent to a new incident (a returning unit is free)."""

PRIORITIES: tuple[int, ...] = (1, 2, 3)
"""Incident priorities: 1 = life-threatening, 2 = urgent, 3 = non-urgent."""


def known_services() -> tuple[str, ...]:
    """Service names a user may ask for: unit types, then station types (``serves`` also takes ``"all"``)."""
    return tuple(dict.fromkeys([*UNIT_TYPES, *STATION_TYPES]))


def service_unit_type(service: str) -> str:
    """The unit type that travels for a service: the service itself when it is a unit type,
    else the unit type its station type hosts (``puskesmas``, ``psc``, ``rsud`` -> ``ambulance``)."""
    if service in UNIT_TYPES:
        return service
    for unit_type, station_types in SERVICE_STATION_TYPES.items():
        if service in station_types:
            return unit_type
    return service


def serves(station: Station, service: str) -> bool:
    """True when ``station`` can send a unit of ``service``.

    Parameters
    ----------
    station : Station
        A station, with or without a unit list.
    service : str
        A unit type (``"ambulance"``: stations whose units include one, or, without a unit
        list, whose type hosts it per :data:`SERVICE_STATION_TYPES`), a station type that is not
        a unit type (``"puskesmas"``: stations of that type), or ``"all"``.
    """
    if service == "all":
        return True
    if service in STATION_TYPES and service not in UNIT_TYPES:
        return station.type == service
    if station.units:
        return any(u.type == service for u in station.units)
    return station.type in SERVICE_STATION_TYPES.get(service, (service,))
