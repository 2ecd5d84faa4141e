"""The dispatcher's part of ``geodispatch demo``: two sample calls and the recommendations.

A house fire (kebakaran, priority 1) in the most populated place of the scenario, then a medical
call (medis, priority 2) a few kilometres away while the fire's units are en route, with the
fleet of the scenario's stations: the reasons show what a dispatcher sees on a normal day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from geodispatch.assign.eta import EtaEngine
from geodispatch.assign.explain import fmt_distance, fmt_duration
from geodispatch.assign.model import Incident, Unit, units_from_stations
from geodispatch.assign.recommend import recommend
from geodispatch.assign.results import Recommendation


def _sample_points(scenario: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """(most populated point, the most populated point 1.5-4 km from it) on the main island."""
    net = scenario.network
    pop = scenario.population
    if pop is not None and len(pop):
        lon = np.asarray(pop["lon"], dtype=float)
        lat = np.asarray(pop["lat"], dtype=float)
        w = np.asarray(pop["population"], dtype=float)
    else:
        lon, lat, w = net.lon, net.lat, np.ones(net.n_nodes)
    comp = net.component_labels[net.nearest_nodes(lon, lat)[0]]
    main = comp == 0
    lon, lat, w = lon[main], lat[main], w[main]
    busiest = int(np.argmax(w))
    x, y = net.to_metric(lon, lat)
    d = np.hypot(x - x[busiest], y - y[busiest])
    ring = np.flatnonzero((d >= 1500) & (d <= 4000))
    second = int(ring[np.argmax(w[ring])]) if len(ring) else int(np.argsort(d)[len(d) // 2])
    return (float(lon[busiest]), float(lat[busiest])), (float(lon[second]), float(lat[second]))


def demo_incidents(scenario: Any, now: datetime) -> list[Incident]:
    """The two sample incidents of the demo."""
    (fx, fy), (mx, my) = _sample_points(scenario)
    return [
        Incident("demo-fire", "kebakaran", 1, fx, fy, reported_time=now, description="house fire"),
        Incident("demo-medis", "medis", 2, mx, my, reported_time=now, description="fall, conscious"),
    ]


def recommendation_lines(title: str, inc: Incident, rec: Recommendation) -> list[str]:
    """Console lines for one recommendation."""
    lines = [f"{title}: {inc.type} priority {inc.priority} at lon {inc.lon:.5f}, lat {inc.lat:.5f}"]
    for uid, eta, dist in zip(rec.unit_ids, rec.etas_s, rec.distances_m, strict=True):
        lines.append(f"  send {uid:<22} ETA {fmt_duration(eta):>12}  {fmt_distance(dist):>8}")
    if rec.shortfall:
        lines.append(f"  SHORTFALL: {rec.shortfall}")
    if rec.coverage_note:
        lines.append(f"  coverage: {rec.coverage_note}")
    lines.append("  why:")
    for uid, text in rec.reasons.items():
        lines.append(f"    {uid}: {text}")
    return lines


def demo_lines(scenario: Any, now: datetime | None = None) -> list[str]:
    """Recommendations for a sample fire and a sample medical call, as printable lines.

    Parameters
    ----------
    scenario : Scenario
        With network, stations (and units), population and target time.
    now : datetime, optional
        Clock for the sample calls (default: the wall clock).

    Returns
    -------
    list of str
    """
    if not scenario.stations or not any(s.units for s in scenario.stations):
        return ["dispatch: this scenario has no stations with units; nothing to recommend"]
    now = now or datetime.now(UTC)
    units = units_from_stations(scenario.stations)
    fire, medis = demo_incidents(scenario, now)
    sop = scenario.sop or None
    target = float(scenario.target_response_s)
    lines = []
    if scenario.synthetic:
        lines.append("Dispatch recommendations (SYNTHETIC regency, made-up calls)")
    engine = EtaEngine(scenario.network)  # both calls share snaps and the coverage index
    rec = recommend(
        scenario.network, units, fire, sop, population=scenario.population, target_s=target, now=now, engine=engine
    )
    lines += recommendation_lines("Sample fire", fire, rec)
    # the ambulance that went to the fire is busy now; the medical call gets the next one
    busy = set(rec.unit_ids)
    fleet = [
        Unit(**{**u.__dict__, "status": "en_route"}) if u.id in busy else u  # type: ignore[arg-type]
        for u in units
    ]
    rec2 = recommend(
        scenario.network, fleet, medis, sop, population=scenario.population, target_s=target, now=now, engine=engine
    )
    lines += recommendation_lines("Sample medical call (fire units now en route)", medis, rec2)
    return lines
