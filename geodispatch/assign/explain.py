"""Human-readable reasons: why a unit was chosen, or why not, and the whole explained
:class:`~geodispatch.assign.results.Recommendation` built from a solve (:func:`explain`).

Each candidate gets a short machine-readable ``code`` and a sentence for the dispatcher.
Codes: ``chosen``, ``busy``, ``out_of_service``, ``wrong_type``, ``wrong_capability``,
``slower``, ``unreachable``, ``beyond_limit``, ``off_road``, ``assigned_elsewhere``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from geodispatch.assign.cover import TIE_TOLERANCE_S
from geodispatch.assign.eta import route_distance_m, route_geojson, route_pieces
from geodispatch.assign.model import Unit, requirements_for
from geodispatch.assign.results import Candidate, Recommendation, Solution
from geodispatch.network.sea import describe_crossings
from geodispatch.regions import Requirement

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork


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


def explain(
    network: RoadNetwork,
    sol: Solution,
    table: Mapping[str, tuple[Requirement, ...]],
    want_routes: bool,
    n_alternatives: int,
) -> Recommendation:
    """The explained :class:`~geodispatch.assign.results.Recommendation` of the one incident of ``sol``.

    Parameters
    ----------
    network : RoadNetwork
        The road network the solve ran on.
    sol : Solution
        A solve of one incident (:func:`geodispatch.assign.recommend.solve`).
    table : mapping
        The SOP: incident type -> requirement lines.
    want_routes : bool
        Include each chosen unit's route as GeoJSON.
    n_alternatives : int
        Next-best candidates explained per needed unit type.

    Returns
    -------
    Recommendation
        Chosen units with ETAs (s) and road distances (m), the reason for every candidate
        considered, the sea crossings in words, and the shortfall when the SOP cannot be met.
    """
    inc = sol.incidents[0]
    res = sol.searches[0]
    eta = sol.eta[0]
    chosen = [k for k in sol.choice if k >= 0]
    reqs = requirements_for(inc, table)
    needs: list[tuple[str, tuple[str, ...]]] = [(str(r.type), tuple(r.capabilities)) for r in reqs]
    pieces = [route_pieces(network, res, sol.snaps, k) for k in chosen]
    distances = [route_distance_m(network, p) for p in pieces]
    slowest: dict[str, tuple[str, float]] = {}
    for k in chosen:
        u = sol.units[k]
        if u.type not in slowest or eta[k] >= slowest[u.type][1]:
            slowest[u.type] = (u.id, float(eta[k]))

    coverage_note = None
    swapped_types = set()
    for (_, utype), (after, fastest_people, fastest_choice) in sol.tiebreaks.items():
        final = {sol.choice[s] for s, slot in enumerate(sol.slots) if slot.type == utype}
        if after > fastest_people and set(fastest_choice) != final:
            swapped_types.add(utype)
            ids = ", ".join(sol.units[k].id for k in fastest_choice)
            coverage_note = (
                f"{utype}: instead of the fastest ({ids}), chose a unit within {fmt_duration(TIE_TOLERANCE_S)} "
                f"of it that keeps {after - fastest_people:,.0f} more people within "
                f"{fmt_duration(sol.target_s)} of an available {utype}"
            )

    candidates: list[Candidate] = []
    reasons: dict[str, str] = {}
    for k, dist, route in zip(chosen, distances, pieces, strict=True):
        u = sol.units[k]
        note = position_note(u, sol.positions.source[k], float(sol.positions.age_s[k]), float(sol.snaps.distance_m[k]))
        caps = f" ({', '.join(u.capabilities)})" if u.capabilities else ""
        text = f"chosen: {u.type}{caps}, ETA {fmt_duration(float(eta[k]))}, {_route_words(network, route)}"
        if eta[k] > sol.remaining_s[0]:
            waited = sol.target_s - float(sol.remaining_s[0])
            suffix = f" after {fmt_duration(waited)} of waiting" if waited >= 1 else ""
            text += f" (beyond the {fmt_duration(sol.target_s)} target{suffix})"
        if u.type in swapped_types:
            text += "; chosen over an equally fast unit to keep coverage"
        if note:
            text += f"; {note}"
        candidates.append(
            Candidate(u.id, u.type, u.status, float(eta[k]), True, "chosen", text, sol.positions.source[k], dist)
        )
        reasons[u.id] = text

    needed_types = {t for t, _ in needs}
    picked = set(chosen)
    for utype in sorted(needed_types):
        pool = [k for k, u in enumerate(sol.units) if u.type == utype and k not in picked]
        pool.sort(key=lambda k: (eta[k], not sol.units[k].dispatchable, sol.units[k].id))
        slowest_eta = slowest[utype][1] if utype in slowest else math.inf
        # the next-best units, plus every busy unit that would have been faster than the chosen
        shown = pool[:n_alternatives] + [
            k for k in pool[n_alternatives:] if not sol.units[k].dispatchable and eta[k] < slowest_eta
        ]
        for k in shown:
            candidates.append(_not_chosen(sol, k, needs, slowest, res.limit_s, utype in swapped_types))
    # the closest unit of another type, when it is closer than everything chosen: explain why not
    others = [k for k, u in enumerate(sol.units) if u.type not in needed_types and u.dispatchable]
    if others:
        k = min(others, key=lambda k: eta[k])
        if np.isfinite(eta[k]) and (not chosen or eta[k] < min(eta[c] for c in chosen)):
            candidates.append(_not_chosen(sol, k, needs, slowest, res.limit_s, False))
    for c in candidates:
        reasons.setdefault(c.unit_id, c.reason)

    missing, shortfall = shortfall_of(sol, 0)
    return Recommendation(
        incident_id=inc.id,
        unit_ids=[sol.units[k].id for k in chosen],
        etas_s=[float(eta[k]) for k in chosen],
        distances_m=distances,
        shortfall=shortfall,
        missing=missing,
        reasons=reasons,
        candidates=candidates,
        routes=[route_geojson(network, p) for p in pieces] if want_routes else None,
        target_s=sol.target_s,
        search_limit_s=res.limit_s,
        coverage_note=coverage_note,
    )


def _route_words(network: RoadNetwork, pieces: list[tuple[int, float, float]]) -> str:
    """``"12.3 km by road"``, plus ``", via speedboat X, 25 min crossing"`` when the route crosses water."""
    sea = [e for e, _, _ in pieces if network.is_sea_edge[e]]
    road_m = route_distance_m(network, [p for p in pieces if not network.is_sea_edge[p[0]]])
    text = f"{road_m / 1000:.1f} km by road"
    return f"{text}, {describe_crossings(network, sea)}" if sea else text


def _not_chosen(
    sol: Solution,
    k: int,
    needs: list[tuple[str, tuple[str, ...]]],
    slowest: dict[str, tuple[str, float]],
    limit_s: float,
    coverage_swap: bool,
) -> Candidate:
    """Candidate record of a unit that was not sent."""
    u = sol.units[k]
    eta = float(sol.eta[0, k])
    code, text = not_chosen_reason(u, eta, needs, slowest, limit_s, bool(sol.snaps.edge[k] < 0), None)
    if code == "slower" and u.type in slowest and eta < slowest[u.type][1]:
        text = (
            f"{fmt_duration(eta)} away, within the tie tolerance; kept back to preserve coverage"
            if coverage_swap
            else f"{fmt_duration(eta)} away; not needed: the chosen set fills every slot at a lower total ETA"
        )
    note = position_note(u, sol.positions.source[k], float(sol.positions.age_s[k]), float(sol.snaps.distance_m[k]))
    if note:
        text += f"; {note}"
    return Candidate(u.id, u.type, u.status, eta, False, code, text, sol.positions.source[k])


def shortfall_of(sol: Solution, i: int) -> tuple[dict[str, int], str | None]:
    """Missing units per type of incident ``i`` of a solve, and the shortfall sentence (None when complete)."""
    need: dict[str, int] = {}
    got: dict[str, int] = {}
    for s, slot in enumerate(sol.slots):
        if slot.incident_index != i:
            continue
        need[slot.type] = need.get(slot.type, 0) + 1
        if sol.choice[s] >= 0:
            got[slot.type] = got.get(slot.type, 0) + 1
    missing = {t: n - got.get(t, 0) for t, n in need.items() if n > got.get(t, 0)}
    if not missing:
        return {}, None
    parts = [f"only {got.get(t, 0)} of {need[t]} {t} available" for t in missing]
    return missing, "; ".join(parts) + " - best partial answer sent; request mutual aid for the rest"
