"""Human-readable reasons: why a unit was chosen, or why not.

Each candidate gets a short machine-readable ``code`` and a sentence for the dispatcher.
Codes: ``chosen``, ``busy``, ``out_of_service``, ``wrong_type``, ``wrong_capability``,
``slower``, ``unreachable``, ``beyond_limit``, ``off_road``, ``assigned_elsewhere``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geodispatch.assign.model import Unit


def fmt_duration(seconds: float) -> str:
    """``6 min 12 s`` style duration; ``unreachable`` for inf."""
    if not math.isfinite(seconds):
        return "unreachable"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def fmt_distance(metres: float) -> str:
    """``4.3 km`` / ``850 m``."""
    if not math.isfinite(metres):
        return "-"
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


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


def round_or_none(x: float | None) -> float | None:
    """Round a float for JSON; inf/NaN/None -> None."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), 1)


def position_note(unit: Unit, source: str, age_s: float, snap_distance_m: float) -> str:
    """Remark about a unit's position (stale report, far from road), or empty."""
    notes = []
    if source == "home_station":
        home = unit.home_station or ""
        notes.append(f"position report {fmt_duration(age_s)} old: placed at home station {home}".rstrip())
    elif source == "stale":
        notes.append(f"position report {fmt_duration(age_s)} old and no home station known: last position used")
    if math.isfinite(snap_distance_m) and snap_distance_m > 200:
        notes.append(f"{fmt_distance(snap_distance_m)} from the nearest road")
    return "; ".join(notes)


def not_chosen_reason(
    unit: Unit,
    eta_s: float,
    needs: Sequence[tuple[str, tuple[str, ...]]],
    slowest_chosen: dict[str, tuple[str, float]],
    limit_s: float,
    off_road: bool,
    elsewhere: str | None,
) -> tuple[str, str]:
    """Code and sentence for a unit that was not sent.

    Parameters
    ----------
    unit : Unit
        The unit.
    eta_s : float
        Its ETA, seconds.
    needs : list of (type, capabilities)
        The incident's requirement lines.
    slowest_chosen : dict
        Per unit type, (unit id, ETA) of the slowest unit chosen of that type.
    limit_s : float
        Search bound, seconds.
    off_road : bool
        The unit's position could not be snapped to a road.
    elsewhere : str, optional
        Incident id the unit was sent to instead (batch assignment).
    """
    if unit.status == "out_of_service":
        return "out_of_service", "out of service"
    if not unit.dispatchable:
        extra = f", would be {fmt_duration(eta_s)} away" if math.isfinite(eta_s) else ""
        return "busy", f"busy ({unit.status.replace('_', ' ')}){extra}"
    if elsewhere is not None:
        return "assigned_elsewhere", f"sent to incident {elsewhere} instead"
    same_type = [caps for t, caps in needs if t == unit.type]
    if not same_type:
        wanted = ", ".join(sorted({t for t, _ in needs}))
        return "wrong_type", f"wrong type: {unit.type}, this incident needs {wanted}"
    if not any(set(caps) <= set(unit.capabilities) for caps in same_type):
        missing = sorted(set().union(*map(set, same_type)) - set(unit.capabilities))
        return "wrong_capability", f"lacks capability {', '.join(missing)}"
    if off_road:
        return "off_road", "position is farther than the snap limit from any road; cannot route"
    if not math.isfinite(eta_s):
        if math.isinf(limit_s):
            return "unreachable", "cannot reach the incident by road (another island or road network part)"
        return "beyond_limit", f"more than {fmt_duration(limit_s)} away"
    if unit.type in slowest_chosen:
        ref_id, ref_eta = slowest_chosen[unit.type]
        diff = eta_s - ref_eta
        if abs(diff) < 0.5:
            return "slower", f"as fast as {ref_id} ({fmt_duration(eta_s)}), a tie; the SOP needs no more {unit.type}"
        if diff >= 0:
            return "slower", f"slower by {fmt_duration(diff)} than {ref_id} ({fmt_duration(eta_s)})"
        return "slower", f"{fmt_duration(eta_s)} away, within the tie tolerance of {ref_id}; kept back"
    return "slower", f"{fmt_duration(eta_s)} away"
