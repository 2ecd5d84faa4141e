"""Evaluation harness: replay a day of incidents under each dispatch policy.

A seeded stream of incidents (non-homogeneous Poisson arrivals over a day, a mix of types and
priorities) is generated on a scenario (the synthetic regency by default) and replayed with
the same random draws under ``closest``, ``optimal`` and ``coverage_aware``. Units become busy
(turnout, travel, on-scene time, hospital transport for ambulances), then drive back to base,
so the policies' choices change who is free for the next calls.

Calibration
-----------
Type and priority mix, hour-of-day profile, calls per person, turnout, on-scene and
transport-to-available times come from one :class:`~geodispatch.inputs.calibration.Calibration`:
:func:`geodispatch.inputs.calibration.calibrate` on the DataSF calls file
(``../shared/data/incidents/``), or its built-in default. That module says exactly what is taken
from the file; the simulator (:mod:`geodispatch.sim`) reads the same calibration.

Simplifications (stated, not hidden): dispatch decisions are taken every ``cycle_s`` seconds (60
by default; the call-taking time) for all waiting incidents at once; a unit that clears a call
is available again at once ("returning", placed at the incident site) and reaches its base
after as long as its drive to the incident took; hospitals are not modelled (the transport
time comes from the data); an incident still short of units after ``max_wait_s`` (1 h) counts
its missing units as unmet and is closed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from geodispatch import settings
from geodispatch.assign.eta import EtaEngine
from geodispatch.assign.model import Incident, Unit, resolve_sop
from geodispatch.assign.recommend import POLICIES, solve
from geodispatch.errors import AssignmentError, InputError
from geodispatch.inputs.calibration import DEFAULT_CALIBRATION, Calibration
from geodispatch.regions import Requirement

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class StreamIncident:
    """One incident of a stream: time (s from the start), type, priority, place."""

    id: str
    time_s: float
    type: str
    priority: int
    lon: float
    lat: float


def incident_stream(
    scenario: Any,
    hours: float = 24.0,
    calls_per_day: float | None = None,
    seed: int = 0,
    calibration: Calibration | None = None,
    surge: tuple[float, float, float] | None = None,
) -> list[StreamIncident]:
    """A seeded incident stream on a scenario.

    Arrivals are a non-homogeneous Poisson process with the calibrated hour-of-day profile
    (thinning); places are population points drawn in proportion to their population (only
    points within the 1000 m snap limit of a road); type and priority follow the calibration.

    Parameters
    ----------
    scenario : Scenario
        Network and population.
    hours : float
        Length of the stream, hours.
    calls_per_day : float, optional
        Mean number of calls per day (default: the calibrated per-person rate times the
        scenario's population).
    seed : int
        Random seed.
    calibration : Calibration, optional
        Default: the built-in :data:`~geodispatch.inputs.calibration.DEFAULT_CALIBRATION`.
    surge : (start hour, duration hours, factor), optional
        Multiply the arrival rate by ``factor`` in that window (a storm, a Lebaran traffic
        peak): many simultaneous incidents, where dispatch policies differ most.
    """
    cal = calibration or DEFAULT_CALIBRATION
    pop = scenario.population
    if pop is None or not len(pop):
        raise InputError("the scenario has no population points to place incidents at")
    net = scenario.network
    lon = np.asarray(pop["lon"], dtype=float)
    lat = np.asarray(pop["lat"], dtype=float)
    weight = np.asarray(pop["population"], dtype=float)
    snap = net.snap(lon, lat, strict=False)
    weight = np.where(snap.ok, weight, 0.0)
    if weight.sum() <= 0:
        raise InputError("no population point lies within 1000 m of a road")
    rate_day = calls_per_day if calls_per_day is not None else cal.calls_per_person_day * float(weight.sum())
    rng = np.random.default_rng(seed)
    s0, s_len, s_factor = surge if surge is not None else (0.0, 0.0, 1.0)
    if s_factor < 1.0 or s_len < 0:
        raise InputError("surge needs a start hour, a non-negative duration and a factor >= 1")

    def intensity(t: float) -> float:
        boost = s_factor if s0 * 3600.0 <= t < (s0 + s_len) * 3600.0 else 1.0
        return float(cal.hourly[int(t // 3600) % 24]) * boost * rate_day / 86400.0

    peak = float(cal.hourly.max()) * max(s_factor, 1.0) * rate_day / 86400.0
    horizon = hours * 3600.0
    times = []
    t = 0.0
    while True:
        t += rng.exponential(1.0 / peak)
        if t >= horizon:
            break
        if rng.random() < intensity(t) / peak:
            times.append(t)
    kinds = list(cal.type_share)
    p_kind = np.asarray([cal.type_share[k] for k in kinds])
    out = []
    for j, t in enumerate(times):
        kind = kinds[int(rng.choice(len(kinds), p=p_kind / p_kind.sum()))]
        pr = np.asarray(cal.priority_share[kind])
        prio = int(rng.choice(3, p=pr / pr.sum())) + 1
        i = int(rng.choice(len(weight), p=weight / weight.sum()))
        out.append(StreamIncident(f"c{j:05d}", float(t), kind, prio, float(lon[i]), float(lat[i])))
    return out


@dataclass
class _SimUnit:
    unit: Unit
    free_at: float = 0.0  # busy until (s)
    home_at: float = 0.0  # back at base at (s)
    site: tuple[float, float] | None = None


@dataclass
class PolicyResult:
    """Outcome of one policy on one stream.

    Attributes
    ----------
    policy : str
    incidents : int
        Incidents in the stream.
    response_s : ndarray
        First-unit response time of each incident that got a unit (report -> arrival), seconds.
    response_p1_s : ndarray
        The same for priority-1 incidents.
    incidents_p1 : int
        Priority-1 incidents in the stream.
    slot_response_s : ndarray
        Every dispatched unit's response time, seconds.
    slots : int
        Units the SOP asked for in total.
    unmet : int
        Units never sent within the maximum wait.
    no_unit : int
        Incidents that never got any unit.
    wall_s : float
        Simulation wall time, seconds.
    """

    policy: str
    incidents: int
    response_s: np.ndarray
    response_p1_s: np.ndarray
    slot_response_s: np.ndarray
    slots: int
    unmet: int
    no_unit: int
    wall_s: float
    incidents_p1: int = 0
    target_s: float = settings.TARGET_RESPONSE_S

    def summary(self) -> dict[str, float]:
        """Share within target (first unit; all incidents, priority 1; all units), mean, p90.

        Shares count incidents that never got a unit as missed; means and p90 are over the
        incidents that got one.
        """
        n = max(self.incidents, 1)
        p1 = self.response_p1_s
        return {
            "incidents": self.incidents,
            "within_target": float((self.response_s <= self.target_s).sum()) / n,
            "p1_within_target": float((p1 <= self.target_s).sum()) / max(self.incidents_p1, 1),
            "p1_mean_response_s": float(p1.mean()) if len(p1) else float("nan"),
            "units_within_target": float((self.slot_response_s <= self.target_s).sum()) / max(self.slots, 1),
            "mean_response_s": float(self.response_s.mean()) if len(self.response_s) else float("nan"),
            "p90_response_s": float(np.percentile(self.response_s, 90)) if len(self.response_s) else float("nan"),
            "unmet_units": self.unmet,
            "no_unit_incidents": self.no_unit,
            "wall_s": self.wall_s,
        }


def simulate(
    scenario: Any,
    units: Sequence[Unit],
    stream: Sequence[StreamIncident],
    policy: str,
    seed: int = 0,
    calibration: Calibration | None = None,
    cycle_s: float = 60.0,
    max_wait_s: float = 3600.0,
    start: datetime | None = None,
) -> PolicyResult:
    """Replay a stream under one policy.

    Random service times are drawn per (incident, requirement line, copy) from a generator
    seeded by ``seed`` and those indices, so every policy sees the same draws.

    Parameters
    ----------
    scenario : Scenario
        Network, population, SOP and target time.
    units : sequence of Unit
        The fleet at the start (all at base).
    stream : sequence of StreamIncident
        Incidents by time.
    policy : str
        ``closest``, ``optimal`` or ``coverage_aware``.
    seed : int
        Seed of the service-time draws.
    calibration : Calibration, optional
        Service times (default: the built-in calibration).
    cycle_s : float
        Seconds between dispatch decisions.
    max_wait_s : float
        Longest an incident waits for missing units before they count as unmet, seconds.
    start : datetime, optional
        Clock time of stream time 0.
    """
    import time as _time

    if policy not in POLICIES:
        raise AssignmentError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    cal = calibration or DEFAULT_CALIBRATION
    start = start or datetime(2026, 1, 5, tzinfo=UTC)
    net = scenario.network
    target = float(scenario.target_response_s)
    sop = resolve_sop(scenario.sop or None)
    fleet = [_SimUnit(u) for u in units]
    order = sorted(stream, key=lambda s: s.time_s)
    index = {s.id: j for j, s in enumerate(order)}
    needs: dict[str, list[list[Any]]] = {}  # id -> [[Requirement, remaining], ...]
    first: dict[str, float] = {}
    slot_resp: list[float] = []
    unmet = 0
    total_slots = 0
    pending: list[StreamIncident] = []
    nxt = 0
    t = 0.0
    wall = _time.perf_counter()
    engine = EtaEngine(net)  # unit snaps, searches and the coverage index reused across decision rounds
    horizon = (order[-1].time_s if order else 0.0) + max_wait_s + cycle_s
    while t <= horizon and (nxt < len(order) or pending):
        while nxt < len(order) and order[nxt].time_s <= t:
            s = order[nxt]
            reqs = sop.get(s.type)
            if reqs is None:
                raise AssignmentError(f"stream incident type {s.type!r} is not in the SOP table")
            needs[s.id] = [[r, r.count] for r in reqs]
            total_slots += sum(r.count for r in reqs)
            pending.append(s)
            nxt += 1
        still = []
        for s in pending:
            if t - s.time_s > max_wait_s:
                unmet += sum(n for _, n in needs[s.id])
            else:
                still.append(s)
        pending = still
        now = start + timedelta(seconds=t)
        current = [_unit_state(su, t, start) for su in fleet]
        if pending and any(u.dispatchable for u in current):
            incs = [
                Incident(
                    s.id, s.type, s.priority, s.lon, s.lat,
                    reported_time=start + timedelta(seconds=s.time_s),
                    requirements=tuple(
                        Requirement(type=r.type, count=n, capabilities=r.capabilities) for r, n in needs[s.id] if n > 0
                    ),
                )
                for s in pending
            ]  # fmt: skip
            sol = solve(
                net, current, incs, sop, policy, population=scenario.population, target_s=target, now=now,
                engine=engine,
            )
            active = {s.id: [j for j, (_, n) in enumerate(needs[s.id]) if n > 0] for s in pending}
            for slot, k in zip(sol.slots, sol.choice, strict=True):
                if k < 0:
                    continue
                s = pending[slot.incident_index]
                line = active[s.id][slot.requirement_index]
                needs[s.id][line][1] -= 1
                rng = np.random.default_rng([seed, index[s.id], line, slot.copy])
                kind = "ambulance" if fleet[k].unit.type == "ambulance" else "other"
                eta = float(sol.eta[slot.incident_index, k])
                arrive = t + float(rng.choice(cal.turnout_s[kind])) + eta
                busy = float(rng.choice(cal.onscene_s[kind]))
                if kind == "ambulance" and rng.random() < cal.transport_share:
                    busy += float(rng.choice(cal.transport_to_available_s))
                su = fleet[k]
                su.free_at = arrive + busy
                su.home_at = su.free_at + eta
                su.site = (s.lon, s.lat)
                slot_resp.append(arrive - s.time_s)
                first[s.id] = min(first.get(s.id, math.inf), arrive - s.time_s)
            pending = [s for s in pending if any(n > 0 for _, n in needs[s.id])]
        t += cycle_s
    for s in pending:
        unmet += sum(n for _, n in needs[s.id])
    resp = np.asarray([first[s.id] for s in order if s.id in first])
    resp_p1 = np.asarray([first[s.id] for s in order if s.id in first and s.priority == 1])
    return PolicyResult(
        policy=policy,
        incidents=len(order),
        response_s=resp,
        response_p1_s=resp_p1,
        slot_response_s=np.asarray(slot_resp),
        slots=total_slots,
        unmet=unmet,
        no_unit=len(order) - len(first),
        wall_s=_time.perf_counter() - wall,
        incidents_p1=sum(1 for s in order if s.priority == 1),
        target_s=target,
    )


def _unit_state(su: _SimUnit, t: float, start: datetime) -> Unit:
    """The Unit as the dispatcher sees it at time ``t`` (s)."""
    u = su.unit
    if t < su.free_at:
        status, lon, lat, when = "on_scene", u.lon, u.lat, None
    elif t < su.home_at and su.site is not None:
        status, (lon, lat), when = "returning", su.site, start + timedelta(seconds=su.free_at)
    else:
        status, lon, lat, when = "available", u.home_lon or u.lon, u.home_lat or u.lat, None
    if status == u.status and lon == u.lon and lat == u.lat:
        return u
    return Unit(
        u.id, u.type, lon, lat, status=status, capabilities=u.capabilities, home_station=u.home_station,
        home_lon=u.home_lon, home_lat=u.home_lat, position_time=when,
    )  # fmt: skip


@dataclass
class Evaluation:
    """Results of every policy on the same stream."""

    results: dict[str, PolicyResult] = field(default_factory=dict)
    stream_size: int = 0
    calls_per_day: float = 0.0
    calibration_source: str = ""

    def table(self) -> list[dict[str, Any]]:
        """One row per policy (see :meth:`PolicyResult.summary`)."""
        return [{"policy": name, **r.summary()} for name, r in self.results.items()]


def evaluate(
    scenario: Any,
    units: Sequence[Unit] | None = None,
    policies: Sequence[str] = POLICIES,
    hours: float = 24.0,
    calls_per_day: float | None = None,
    seed: int = 0,
    calibration: Calibration | None = None,
    cycle_s: float = 60.0,
    surge: tuple[float, float, float] | None = None,
) -> Evaluation:
    """Generate one stream and replay it under each policy.

    Parameters
    ----------
    scenario : Scenario
        Network, stations, population.
    units : sequence of Unit, optional
        Fleet (default: every unit of the scenario's stations, at base).
    policies : sequence of str
        Policies to compare.
    hours, calls_per_day, seed, calibration, surge
        See :func:`incident_stream`.
    cycle_s : float
        Seconds between dispatch decisions.

    Returns
    -------
    Evaluation
    """
    from geodispatch.assign.model import units_from_stations

    cal = calibration or DEFAULT_CALIBRATION
    fleet = list(units) if units is not None else units_from_stations(scenario.stations)
    stream = incident_stream(
        scenario, hours=hours, calls_per_day=calls_per_day, seed=seed, calibration=cal, surge=surge
    )
    ev = Evaluation(stream_size=len(stream), calls_per_day=len(stream) * 24.0 / hours, calibration_source=cal.source)
    for policy in policies:
        ev.results[policy] = simulate(scenario, fleet, stream, policy, seed=seed, calibration=cal, cycle_s=cycle_s)
    return ev
