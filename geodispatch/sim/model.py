"""What a simulation runs on, prepared once: fleet, key points, hospitals, times, options.

:func:`build_model` turns a scenario, a fleet and the options into a :class:`SimModel` (plain
arrays plus the network: picklable, so replications can run as separate tasks), and
:func:`prepare_calls` adds one call table's exact times (key point -> call, call -> key point,
nearest hospital), vectorised, with no search per call.

Boats that carry only some unit types (``RoadNetwork.sea_carries``: a speedboat ambulance takes
no fire truck) are honoured by giving each group of unit types that travel the same
:meth:`~geodispatch.network.graph.RoadNetwork.for_unit_type` view its own times
(:class:`TravelView`, :class:`CallTimes`); a network whose boats carry every unit type, or a
fleet that every boat carries, has one view, the network itself.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodispatch import settings
from geodispatch.assign.model import Unit, check_units, resolve_sop
from geodispatch.errors import SimulationError
from geodispatch.regions import Requirement
from geodispatch.sim.calibration import DEFAULT_CALIBRATION, Calibration, check_calibration
from geodispatch.sim.calls import CallTable
from geodispatch.sim.times import KeyPoints, Points

log = logging.getLogger(__name__)

POLICIES: tuple[str, ...] = ("optimal", "closest", "coverage_aware")
"""Dispatch policies of the assignment engine (``optimal`` is the default)."""

MOVE_UP: tuple[str, ...] = ("none", "dmexclp")
"""Move-up rules: return to the home station, or dynamic MEXCLP."""


@dataclass(frozen=True)
class Hospital:
    """A hospital patients are taken to.

    ``accepts`` lists the incident types it takes (empty = every type).
    """

    id: str
    name: str
    lon: float
    lat: float
    accepts: tuple[str, ...] = ()


@dataclass
class TravelView:
    """The network as some of the fleet's unit types travel it, and its key-point times.

    Attributes
    ----------
    network : RoadNetwork
        ``network.for_unit_type(t)`` of its unit types (the boats that do not carry them
        blocked; the network itself when every boat carries them).
    types : tuple of str
        The fleet's unit types that travel this view.
    keys : KeyPoints
        Exact times of the key points on this view.
    hosp_to_key, hosp_exit : ndarray, shape (n_hospitals, n_keys)
        Seconds from each hospital to each key point and how the drive leaves its road.
    """

    network: Any
    types: tuple[str, ...]
    keys: KeyPoints
    hosp_to_key: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    hosp_exit: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int8))


@dataclass
class SimModel:
    """Everything fixed across replications (see :func:`build_model`).

    Attributes
    ----------
    network : RoadNetwork
        The scenario's network (snaps; every unit's travel is on its view in ``views``).
    views : list of TravelView
        One per distinct view the fleet's unit types travel (usually one).
    unit_view : ndarray of int64
        Index into ``views`` of each unit.
    type_view : dict
        Unit type -> index into ``views`` (every type of the fleet).
    key_id, key_name : list of str
        Station id / hospital id and display name of each key point.
    key_lon, key_lat : ndarray
        Key point positions, degrees.
    unit_id, unit_type : list of str
    unit_caps : list of tuple of str
    unit_home : ndarray of int64
        Key point of each unit's home station.
    hospital_key : ndarray of int64
        Key point of each hospital.
    hospitals : list of Hospital
    posts : dict
        Unit type -> key points that may base that type (move-up candidates).
    sop : dict
        Incident type -> requirement lines.
    policy, move_up : str
    target_s : float
        Target response time, seconds.
    dispatch_delay_s, turnout_s : float or None
        Fixed delays, seconds; None = drawn from the calibration.
    calibration : Calibration
    cover : dict
        Unit type -> boolean (n_posts, n_demand) matrix: post reaches demand point within target.
    demand : ndarray
        People at each demand point (population points on the network).
    busy_fraction : dict
        Unit type -> busy probability used by DMEXCLP.
    moveup_types : tuple of str
        Unit types the move-up rule applies to.
    population : DataFrame or None
        For the ``coverage_aware`` tie-break.
    snap_limit_m : float
    hosp_points : Points
        The hospitals' snaps.
    """

    network: Any
    views: list[TravelView]
    unit_view: np.ndarray
    type_view: dict[str, int]
    key_id: list[str]
    key_name: list[str]
    key_lon: np.ndarray
    key_lat: np.ndarray
    unit_id: list[str]
    unit_type: list[str]
    unit_caps: list[tuple[str, ...]]
    unit_home: np.ndarray
    hospital_key: np.ndarray
    hospitals: list[Hospital]
    posts: dict[str, np.ndarray]
    sop: dict[str, tuple[Requirement, ...]]
    policy: str
    move_up: str
    target_s: float
    dispatch_delay_s: float | None
    turnout_s: float | None
    calibration: Calibration
    cover: dict[str, np.ndarray] = field(default_factory=dict)
    demand: np.ndarray = field(default_factory=lambda: np.zeros(0))
    busy_fraction: dict[str, float] = field(default_factory=dict)
    moveup_types: tuple[str, ...] = ("ambulance",)
    population: Any = None
    snap_limit_m: float = settings.SNAP_LIMIT_M
    hosp_points: Points | None = None

    @property
    def n_units(self) -> int:
        """Units in the fleet."""
        return len(self.unit_id)

    def view_of(self, unit_type: str) -> TravelView:
        """The travel view of a unit type (a type not in the fleet: the first view)."""
        return self.views[self.type_view.get(unit_type, 0)]


@dataclass
class CallTimes:
    """A call table's exact times on one :class:`TravelView` (see :func:`prepare_calls`).

    Attributes
    ----------
    call_key : ndarray, shape (n_calls, n_keys)
        Seconds from each key point to each call.
    call_to_key : ndarray, shape (n_calls, n_keys)
        Seconds from each call to each key point.
    call_exit : ndarray of int8, shape (n_calls, n_keys)
        How that drive leaves the call's road.
    hospital : ndarray of int64
        Index (into ``model.hospitals``) of the nearest suitable hospital by road on this view,
        -1 = none reachable.
    hospital_s : ndarray
        Seconds to it (inf = none).
    """

    call_key: np.ndarray
    call_to_key: np.ndarray
    call_exit: np.ndarray
    hospital: np.ndarray
    hospital_s: np.ndarray


@dataclass
class PreparedCalls:
    """A call table with its exact times and slots (see :func:`prepare_calls`).

    Attributes
    ----------
    calls : CallTable
    points : Points
        The calls snapped to their roads.
    times : list of CallTimes
        The calls' times on each of the model's views (aligned with ``model.views``).
    slot_call, slot_line, slot_copy : ndarray of int64
        One row per unit a call needs (SOP lines expanded).
    slot_type : list of str
    slot_caps : list of tuple of str
    slot_servable : ndarray of bool
        False when no unit of the fleet can ever reach the call for that slot.
    """

    calls: CallTable
    points: Points
    times: list[CallTimes]
    slot_call: np.ndarray
    slot_line: np.ndarray
    slot_copy: np.ndarray
    slot_type: list[str]
    slot_caps: list[tuple[str, ...]]
    slot_servable: np.ndarray


def _key(lon: float, lat: float) -> tuple[float, float]:
    return (round(float(lon), 7), round(float(lat), 7))


def build_model(
    scenario: Any,
    units: Sequence[Unit] | None = None,
    hospitals: Sequence[Hospital] | None = None,
    *,
    policy: str = "optimal",
    move_up: str = "none",
    dispatch_delay_s: float | None = None,
    turnout_s: float | None = None,
    calibration: Calibration | None = None,
    busy_fraction: float | None = None,
    moveup_types: Sequence[str] = ("ambulance",),
    expected_calls_per_day: float | None = None,
    snap_limit_m: float = settings.SNAP_LIMIT_M,
) -> SimModel:
    """Prepare a simulation: snap bases and hospitals, search from each once, coverage for move-up.

    Parameters
    ----------
    scenario : Scenario
        Network, stations (their units are the fleet unless ``units`` is given), population,
        SOP, target time.
    units : sequence of Unit, optional
        The fleet; each unit is based at its home station (``home_lon``/``home_lat``, else its
        position).
    hospitals : sequence of Hospital, optional
        Default: the scenario's stations of type ``rsud``.
    policy : {"optimal", "closest", "coverage_aware"}
    move_up : {"none", "dmexclp"}
    dispatch_delay_s, turnout_s : float, optional
        Fixed call-taking delay and turnout, seconds (default: drawn from the calibration).
    calibration : Calibration, optional
        Default :data:`~geodispatch.sim.calibration.DEFAULT_CALIBRATION`.
    busy_fraction : float, optional
        DMEXCLP's probability that a unit is busy (default: estimated per unit type from the
        expected workload).
    moveup_types : sequence of str
        Unit types moved up by ``dmexclp`` (others always return home).
    expected_calls_per_day : float, optional
        Used for the busy-fraction estimate (default: the calibrated rate x population).
    snap_limit_m : float
        Bases, hospitals and calls farther than this from a road are refused, metres.

    Raises
    ------
    SimulationError
        Unknown policy or move-up rule, no units, a base or hospital off the network, bad
        delays.
    """
    from geodispatch.assign.model import units_from_stations

    if policy not in POLICIES:
        raise SimulationError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    if move_up not in MOVE_UP:
        raise SimulationError(f"unknown move-up rule {move_up!r}; use one of {', '.join(MOVE_UP)}")
    for name, value in (("dispatch delay", dispatch_delay_s), ("turnout", turnout_s)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise SimulationError(f"{name} must be a non-negative number of seconds, got {value!r}")
    if busy_fraction is not None and not 0.0 <= busy_fraction < 1.0:
        raise SimulationError(f"busy fraction must be in [0, 1), got {busy_fraction!r}")
    cal = check_calibration(calibration or DEFAULT_CALIBRATION)
    net = scenario.network
    fleet = list(units) if units is not None else units_from_stations(scenario.stations)
    if not fleet:
        raise SimulationError("no units to simulate: the scenario's stations have none; pass a units file")
    check_units(fleet)
    if hospitals is None:
        hospitals = [Hospital(s.id, s.name or s.id, s.lon, s.lat) for s in scenario.stations if s.type == "rsud"]
    hospitals = list(hospitals)
    station_name = {s.id: (s.name or s.id) for s in scenario.stations}

    key_index: dict[tuple[float, float], int] = {}
    key_lon: list[float] = []
    key_lat: list[float] = []
    key_id: list[str] = []
    key_name: list[str] = []

    def add_key(lon: float, lat: float, kid: str, name: str) -> int:
        k = _key(lon, lat)
        if k not in key_index:
            key_index[k] = len(key_lon)
            key_lon.append(float(lon))
            key_lat.append(float(lat))
            key_id.append(kid)
            key_name.append(name)
        return key_index[k]

    home = []
    for u in fleet:
        lon = u.home_lon if u.home_lon is not None else u.lon
        lat = u.home_lat if u.home_lat is not None else u.lat
        sid = u.home_station or f"base of {u.id}"
        home.append(add_key(lon, lat, sid, station_name.get(sid, sid)))
    hospital_key = [add_key(h.lon, h.lat, h.id, h.name) for h in hospitals]
    lon_a, lat_a = np.asarray(key_lon), np.asarray(key_lat)
    snap = net.snap(lon_a, lat_a, max_distance_m=snap_limit_m, strict=False)
    far = np.flatnonzero(snap.edge < 0)
    if len(far):
        names = ", ".join(f"{key_id[i]} ({snap.distance_m[i]:.0f} m)" for i in far[:5])
        raise SimulationError(
            f"{len(far)} station(s)/hospital(s) farther than {snap_limit_m:g} m from any road: {names}; "
            "check their lon/lat or that they lie in this region"
        )
    points = Points.from_snap(snap)
    unit_type = [u.type for u in fleet]
    # one view per distinct set of boats the fleet's types may not take (for_unit_type builds
    # each once and returns the network itself for a type every boat carries)
    view_nets: list[Any] = []
    view_types: list[list[str]] = []
    type_view: dict[str, int] = {}
    for t in dict.fromkeys(unit_type):
        view_net = net.for_unit_type(t)
        v = next((i for i, other in enumerate(view_nets) if other is view_net), len(view_nets))
        if v == len(view_nets):
            view_nets.append(view_net)
            view_types.append([])
        view_types[v].append(t)
        type_view[t] = v
    views = [
        TravelView(view_net, tuple(types), KeyPoints(view_net, points, snap))
        for view_net, types in zip(view_nets, view_types, strict=True)
    ]
    home_a = np.asarray(home, dtype=np.int64)
    posts = {t: np.unique(home_a[[j for j, ut in enumerate(unit_type) if ut == t]]) for t in set(unit_type)}
    model = SimModel(
        network=net,
        views=views,
        unit_view=np.asarray([type_view[t] for t in unit_type], dtype=np.int64),
        type_view=type_view,
        key_id=key_id,
        key_name=key_name,
        key_lon=lon_a,
        key_lat=lat_a,
        unit_id=[u.id for u in fleet],
        unit_type=unit_type,
        unit_caps=[tuple(u.capabilities) for u in fleet],
        unit_home=home_a,
        hospital_key=np.asarray(hospital_key, dtype=np.int64),
        hospitals=hospitals,
        posts=posts,
        sop=resolve_sop(scenario.sop or None),
        policy=policy,
        move_up=move_up,
        target_s=float(scenario.target_response_s),
        dispatch_delay_s=dispatch_delay_s,
        turnout_s=turnout_s,
        calibration=cal,
        moveup_types=tuple(moveup_types),
        population=scenario.population,
        snap_limit_m=snap_limit_m,
    )
    if hospitals:
        model.hosp_points = points.subset(model.hospital_key)
        for view in views:  # an ambulance takes its patient over the boats its type may use
            view.hosp_to_key, view.hosp_exit = view.keys.from_points(model.hosp_points)
    no_people = scenario.population is None or not len(scenario.population)
    if (move_up == "dmexclp" or policy == "coverage_aware") and no_people:
        raise SimulationError(f"{move_up if move_up != 'none' else policy} needs population points")
    if move_up == "dmexclp":
        _prepare_coverage(model, scenario.population, busy_fraction, expected_calls_per_day)
    return model


def _prepare_coverage(
    model: SimModel, population: Any, busy_fraction: float | None, calls_per_day: float | None
) -> None:
    """Demand points, post coverage within the target and busy fractions for DMEXCLP."""
    net = model.network
    lon = np.asarray(population["lon"], dtype=float)
    lat = np.asarray(population["lat"], dtype=float)
    weight = np.nan_to_num(np.asarray(population["population"], dtype=float), nan=0.0)
    snap = net.snap(lon, lat, max_distance_m=model.snap_limit_m, strict=False)
    ok = (snap.edge >= 0) & (weight > 0)
    pts = Points.from_snap(snap)
    sel = np.flatnonzero(ok)
    sub = pts.subset(sel)
    view_times: dict[int, np.ndarray] = {}  # (n_keys, n_demand) per view
    model.demand = weight[sel]
    cal = model.calibration
    total_people = float(weight[sel].sum())
    per_day = calls_per_day if calls_per_day is not None else cal.calls_per_person_day * total_people
    for t in model.moveup_types:
        if t not in model.posts:
            continue
        v = model.type_view[t]
        if v not in view_times:
            view_times[v] = model.views[v].keys.to_points(sub)
        times = view_times[v]
        model.cover[t] = times[model.posts[t]] <= model.target_s
        if busy_fraction is not None:
            model.busy_fraction[t] = float(busy_fraction)
            continue
        # offered load / units: expected slots of this type per second x mean time busy (turnout,
        # on scene, handover, plus the drive there and back from the nearest post to a demand point)
        per_call = 0.0
        for kind, share in cal.type_share.items():
            reqs = model.sop.get(kind, ())
            per_call += share * sum(r.count for r in reqs if r.type == t)
        per_call /= max(sum(cal.type_share.values()), 1e-12)
        nearest = times[model.posts[t]].min(axis=0)
        finite = np.isfinite(nearest)
        drive = float(np.average(nearest[finite], weights=model.demand[finite])) if finite.any() else 0.0
        busy_s = cal.mean_service_s("ambulance" if t == "ambulance" else "other") + 2.0 * drive
        n_units = sum(1 for ut in model.unit_type if ut == t)
        q = per_day * per_call / 86400.0 * busy_s / max(n_units, 1)
        model.busy_fraction[t] = float(min(max(q, 0.01), 0.95))


def prepare_calls(model: SimModel, calls: CallTable) -> PreparedCalls:
    """Snap a call table and compute its exact times to and from every key point.

    Raises
    ------
    SimulationError
        Calls farther than the snap limit from any road, or of a type not in the SOP table.
    """
    net = model.network
    unknown = sorted(set(calls.type.tolist()) - set(model.sop))
    if unknown:
        raise SimulationError(
            f"unknown incident type(s) {', '.join(map(repr, unknown))} in the calls; known types: "
            f"{', '.join(sorted(model.sop))} (add it to the region's sop: table)"
        )
    snap = net.snap(calls.lon, calls.lat, max_distance_m=model.snap_limit_m, strict=False)
    far = np.flatnonzero(snap.edge < 0)
    if len(far):
        ids = ", ".join(str(calls.id[j]) for j in far[:5])
        raise SimulationError(
            f"{len(far)} call(s) farther than {model.snap_limit_m:g} m from any road of "
            f"{net.label or 'the network'} (e.g. {ids}); check the coordinates (lon/lat order) or drop calls "
            "outside the region"
        )
    pts = Points.from_snap(snap)
    times = [_call_times(model, view, calls, pts) for view in model.views]
    slot_call: list[int] = []
    slot_line: list[int] = []
    slot_copy: list[int] = []
    slot_type: list[str] = []
    slot_caps: list[tuple[str, ...]] = []
    for j, kind in enumerate(calls.type.tolist()):
        for r, req in enumerate(model.sop[kind]):
            for c in range(req.count):
                slot_call.append(j)
                slot_line.append(r)
                slot_copy.append(c)
                slot_type.append(req.type)
                slot_caps.append(tuple(req.capabilities))
    slot_call_a = np.asarray(slot_call, dtype=np.int64)
    servable = np.zeros(len(slot_call), dtype=bool)
    for (utype, caps), idx in _group(slot_type, slot_caps).items():
        fit_units = [
            k for k in range(model.n_units) if model.unit_type[k] == utype and set(caps) <= set(model.unit_caps[k])
        ]
        if not fit_units:
            continue
        bases = np.unique(np.concatenate([model.posts.get(utype, np.zeros(0, np.int64)), model.unit_home[fit_units]]))
        call_key = times[model.type_view[utype]].call_key
        reach = np.isfinite(call_key[slot_call_a[idx]][:, bases]).any(axis=1)
        servable[idx] = reach
    prepared = PreparedCalls(
        calls=calls,
        points=pts,
        times=times,
        slot_call=slot_call_a,
        slot_line=np.asarray(slot_line, dtype=np.int64),
        slot_copy=np.asarray(slot_copy, dtype=np.int64),
        slot_type=slot_type,
        slot_caps=slot_caps,
        slot_servable=servable,
    )
    return prepared


def _call_times(model: SimModel, view: TravelView, calls: CallTable, pts: Points) -> CallTimes:
    """The calls' times to and from every key point on one view, and their nearest hospitals."""
    to_call = view.keys.to_points(pts)
    call_to_key, call_exit = view.keys.from_points(pts)
    n = len(calls)
    hospital = np.full(n, -1, dtype=np.int64)
    hospital_s = np.full(n, np.inf)
    if model.hospitals:
        t_h = call_to_key[:, model.hospital_key]  # (n_calls, n_hospitals)
        for h, hosp in enumerate(model.hospitals):
            if hosp.accepts:
                t_h[~np.isin(calls.type, list(hosp.accepts)), h] = np.inf
        best = np.argmin(t_h, axis=1)
        best_t = t_h[np.arange(n), best]
        hospital = np.where(np.isfinite(best_t), best, -1)
        hospital_s = best_t
    return CallTimes(np.ascontiguousarray(to_call.T), call_to_key, call_exit, hospital, hospital_s)


def _group(types: Sequence[str], caps: Sequence[tuple[str, ...]]) -> dict[tuple[str, tuple[str, ...]], np.ndarray]:
    out: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for i, key in enumerate(zip(types, caps, strict=True)):
        out.setdefault(key, []).append(i)
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}
