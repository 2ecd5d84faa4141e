"""What the assignment engine answers: a :class:`Recommendation` for one incident, an
:class:`Assignment` per incident of a batch, and the :class:`Solution` behind both (units,
slots, ETAs, choices) that the pipeline (:mod:`geodispatch.assign.recommend`) builds and the
explanations (:mod:`geodispatch.assign.explain`) read."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodispatch.assign.eta import IncidentEtas, Positions, UnitSnaps
from geodispatch.assign.model import Incident, Slot, Unit


def round_or_none(x: float | None) -> float | None:
    """Round a float for JSON; inf/NaN/None -> None."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), 1)


@dataclass
class Candidate:
    """One unit considered for an incident, with the reason for the decision.

    Attributes
    ----------
    unit_id, type, status : str
        The unit.
    eta_s : float
        ETA to the incident, seconds (``inf`` when unreachable or beyond the search).
    chosen : bool
        Whether it was sent.
    code : str
        Reason code (see module docstring).
    reason : str
        The reason in words.
    position : str
        ``reported``, ``home_station`` (stale report replaced by the home station) or ``stale``.
    distance_m : float or None
        Road distance along the fastest route, metres (chosen units only).
    """

    unit_id: str
    type: str
    status: str
    eta_s: float
    chosen: bool
    code: str
    reason: str
    position: str = "reported"
    distance_m: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (inf -> None)."""
        return {
            "unit_id": self.unit_id,
            "type": self.type,
            "status": self.status,
            "eta_s": round_or_none(self.eta_s),
            "chosen": self.chosen,
            "code": self.code,
            "reason": self.reason,
            "position": self.position,
            "distance_m": round_or_none(self.distance_m),
        }


@dataclass
class Recommendation:
    """Units recommended for one incident.

    Attributes
    ----------
    incident_id : str
        The incident.
    unit_ids : list of str
        Units to send, in SOP order.
    etas_s : list of float
        Their ETAs, seconds.
    distances_m : list of float
        Road distance of each one's fastest route, metres.
    shortfall : str or None
        What the SOP asks for that cannot be sent, e.g. ``only 1 of 2 damkar available``.
    missing : dict
        Unit type -> number of units missing.
    reasons : dict
        Unit id -> why it was (or was not) chosen; chosen units first, then the next-best.
    candidates : list of Candidate
        The same as structured records.
    routes : list of dict or None
        GeoJSON LineString of each chosen unit's route, when asked for.
    target_s : float
        Target response time used, seconds.
    search_limit_s : float
        Bound of the ETA search, seconds (inf = unbounded).
    coverage_note : str or None
        What the coverage tie-break changed, if anything.
    """

    incident_id: str
    unit_ids: list[str]
    etas_s: list[float]
    distances_m: list[float]
    shortfall: str | None
    missing: dict[str, int]
    reasons: dict[str, str]
    candidates: list[Candidate]
    routes: list[dict[str, Any] | None] | None
    target_s: float
    search_limit_s: float
    coverage_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (inf -> None)."""
        return {
            "incident_id": self.incident_id,
            "unit_ids": list(self.unit_ids),
            "etas_s": [round_or_none(x) for x in self.etas_s],
            "distances_m": [round_or_none(x) for x in self.distances_m],
            "shortfall": self.shortfall,
            "missing": dict(self.missing),
            "reasons": dict(self.reasons),
            "candidates": [c.to_dict() for c in self.candidates],
            "routes": self.routes,
            "target_s": self.target_s,
            "search_limit_s": round_or_none(self.search_limit_s),
            "coverage_note": self.coverage_note,
        }


@dataclass
class Assignment:
    """Units assigned to one incident of a batch.

    Attributes
    ----------
    incident_id : str
        The incident.
    unit_ids : list of str
        Units sent, in SOP order.
    etas_s : list of float
        Their ETAs, seconds.
    priority : int
        The incident's priority.
    shortfall : str or None
        What could not be sent.
    missing : dict
        Unit type -> number missing.
    """

    incident_id: str
    unit_ids: list[str]
    etas_s: list[float]
    priority: int
    shortfall: str | None = None
    missing: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (inf -> None)."""
        return {
            "incident_id": self.incident_id,
            "unit_ids": list(self.unit_ids),
            "etas_s": [round_or_none(x) for x in self.etas_s],
            "priority": self.priority,
            "shortfall": self.shortfall,
            "missing": dict(self.missing),
        }


@dataclass
class Solution:
    """Everything a solve produced (for recommend, assign, evaluation and tests)."""

    units: list[Unit]
    incidents: list[Incident]
    slots: list[Slot]
    eta: np.ndarray
    fits: np.ndarray
    choice: list[int]
    searches: list[IncidentEtas]
    positions: Positions
    snaps: UnitSnaps
    target_s: float
    remaining_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tiebreaks: dict[tuple[int, str], tuple[float, float, tuple[int, ...]]] = field(default_factory=dict)
