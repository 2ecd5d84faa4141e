"""Every unit's ETA to one incident from a single reverse bounded Dijkstra search.

The incident is snapped to its road edge and becomes a virtual node; one reverse search on the
transposed travel-time matrix (:func:`geodispatch.network.traveltime.point_search`) gives, for
every node ``x``, the time ``D[x]`` from ``x`` to the incident. A unit snapped part-way along
its edge ``a -> b`` at fraction ``g`` then has the exact ETA

``min( (1-g)·t(a->b) + D[b],  g·t(b->a) + D[a],  direct )``

where the second term needs the twin edge ``b -> a`` (two-way road; on a one-way road it is
allowed only when the unit stands exactly on ``a``) and *direct* covers a unit on the same road
as the incident, upstream of it in either direction. Off-road distances (a unit parked 20 m
from the road) are not added, like everywhere in geodispatch.

An :class:`EtaEngine` holds what repeated calls on one network reuse: the unit snaps (keyed by
exact lon/lat, so a fleet of 200 units that mostly sits at stations is snapped once; only moving
units are snapped again), recent incident searches, the search workspace and the coverage
indexes of the tie-break, and optionally a :class:`~geodispatch.network.ch.ContractionHierarchy`
of the network: with one, every incident search is a hierarchy query (exact times from every
node in one linear sweep, whatever the distance to the farthest unit) instead of a Dijkstra
search. The API server holds one for its network; a call without one builds a temporary engine
and reuses nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from geodispatch.assign.cover import CoverageIndex, population_fingerprint
from geodispatch.assign.model import Unit
from geodispatch.errors import AssignmentError, InputError, SnapError
from geodispatch.geometry import haversine_m
from geodispatch.network.ch import ContractionHierarchy, descend_path
from geodispatch.network.snap import DEFAULT_SNAP_DISTANCE_M, SnapResult
from geodispatch.network.traveltime import SearchWorkspace, point_search, point_search_until, point_seeds

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork

log = logging.getLogger(__name__)

_CACHE_MAX = 200_000
_POINT_SNAPS = 256
"""Points whose snap an engine remembers (see :meth:`EtaEngine.snap_point`)."""
_SEARCH_CACHE_BYTES = 100_000_000
"""Memory budget of an engine's cache of recent incident searches (LRU)."""


class EtaEngine:
    """The ETA engine of one network: what repeated recommendations reuse, in one object.

    Holds the unit snaps already made (per snap limit), the most recent reverse searches to
    incidents (an LRU within :data:`_SEARCH_CACHE_BYTES`), the :class:`SearchWorkspace` they run
    in, and the coverage indexes of the tie-break (per population table and target time).
    Thread-safe. Pass it to :func:`snap_units`, :func:`incident_etas`,
    :func:`geodispatch.assign.recommend` ...; without one those build a temporary engine.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    hierarchy : ContractionHierarchy or bool, optional
        A contraction hierarchy of ``network`` (True: build one now, seconds on 100k nodes).
        With one, incident searches are hierarchy queries: a far incident costs one sweep
        over the nodes instead of a Dijkstra search out to the farthest unit. Same answers.
    """

    def __init__(self, network: RoadNetwork, hierarchy: ContractionHierarchy | bool | None = None) -> None:
        self.network = network
        if hierarchy is True:
            hierarchy = ContractionHierarchy.build(network)
        self.hierarchy: ContractionHierarchy | None = (
            hierarchy.check(network) if isinstance(hierarchy, ContractionHierarchy) else None
        )
        self.workspace = SearchWorkspace(network)
        self._lock = threading.Lock()
        self._unit_snaps: dict[float, dict[tuple[float, float], tuple[Any, ...]]] = {}
        self._searches: OrderedDict[Any, tuple[float, bool, np.ndarray, np.ndarray | None]] = OrderedDict()
        self._coverage: dict[Any, CoverageIndex] = {}
        self._coverage_last: tuple[Any, float, CoverageIndex] | None = None
        self._point_snaps: OrderedDict[tuple[float, float, float], SnapResult] = OrderedDict()
        self._views: dict[int, EtaEngine] = {}
        self._straight_speed: float | None = None
        self._closed: np.ndarray | None = None  # a view's edges closed on its parent's network

    def for_unit_type(self, unit_type: str) -> EtaEngine:
        """The engine of the network as units of ``unit_type`` travel it (self when no boat blocks them).

        See :meth:`RoadNetwork.for_unit_type`: a speedboat ambulance link carries no fire truck.
        The view has the same edges, so this engine's unit snaps serve it too; its searches are its own.
        """
        view = self.network.for_unit_type(unit_type)
        if view is self.network:
            return self
        with self._lock:
            engine = self._views.get(id(view))
            if engine is None or engine.network is not view:
                engine = EtaEngine(view)
                engine._unit_snaps = self._unit_snaps  # same edges: the same snaps
                self._views[id(view)] = engine
        return engine

    def start_hierarchy(self) -> threading.Thread:
        """Build a contraction hierarchy in a background thread; the engine uses it once built.

        Searches made meanwhile are Dijkstra searches (same answers). Returns the (daemon) thread.
        """
        def build() -> None:
            hierarchy = ContractionHierarchy.build(self.network)
            warm = hierarchy.times([0], [0.0], reverse=True)  # compile the query kernels here, not in a request
            descend_path(self.network.csr, warm, np.zeros(1, dtype=np.int64), np.zeros(1), 0)
            with self._lock:
                self.hierarchy = hierarchy
            log.info("contraction hierarchy of %s ready: %d shortcuts, %.1f s", self.network.label or "the network",
                     hierarchy.n_shortcuts, hierarchy.build_s)

        thread = threading.Thread(target=build, name="eta-hierarchy", daemon=True)
        thread.start()
        return thread

    def snap_point(self, lon: float, lat: float, max_distance_m: float = DEFAULT_SNAP_DISTANCE_M) -> SnapResult:
        """Snap one point (not strict: ``edge`` -1 beyond ``max_distance_m``), remembering the last
        :data:`_POINT_SNAPS` points: the API checks an incident's location and then recommends
        units for it, one snap for both. The result is shared: do not modify its arrays."""
        key = (float(lon), float(lat), float(max_distance_m))
        with self._lock:
            hit = self._point_snaps.get(key)
            if hit is not None:
                self._point_snaps.move_to_end(key)
                return hit
        snap = self.network.snap([key[0]], [key[1]], max_distance_m=key[2], strict=False)
        with self._lock:
            self._point_snaps[key] = snap
            while len(self._point_snaps) > _POINT_SNAPS:
                self._point_snaps.popitem(last=False)
        return snap

    def check(self, network: RoadNetwork) -> EtaEngine:
        """Return self after checking that it belongs to ``network``."""
        if network is not self.network:
            raise InputError("this EtaEngine was built for another RoadNetwork")
        return self

    def forget_searches(self) -> None:
        """Drop the cached incident searches (the next ETA of any incident searches afresh)."""
        with self._lock:
            self._searches.clear()
            views = list(self._views.values())
        for view in views:
            view.forget_searches()

    def coverage_index(self, population: Any, target_s: float) -> CoverageIndex:
        """The :class:`CoverageIndex` of a population table and target time, built once."""
        with self._lock:
            last = self._coverage_last
            if last is not None and last[0] is population and last[1] == float(target_s):
                return last[2]
        key = (population_fingerprint(population), float(target_s))
        with self._lock:
            index = self._coverage.get(key)
            if index is None:
                index = CoverageIndex(self.network, population, target_s)
                self._coverage[key] = index
            self._coverage_last = (population, float(target_s), index)
        return index


def engine_for(network: RoadNetwork, engine: EtaEngine | None) -> EtaEngine:
    """``engine`` checked against ``network``, or a new temporary engine when None."""
    return EtaEngine(network) if engine is None else engine.check(network)


@dataclass(frozen=True)
class Positions:
    """Where each unit is taken to be (arrays aligned with the unit list).

    Attributes
    ----------
    lon, lat : ndarray of float64
        Effective position, degrees.
    source : list of str
        ``reported`` (fresh report or fixed position), ``home_station`` (stale report, placed at
        its home station) or ``stale`` (stale report and no home station known: used as is).
    age_s : ndarray of float64
        Age of the report, seconds (NaN when the position has no timestamp).
    """

    lon: np.ndarray
    lat: np.ndarray
    source: list[str]
    age_s: np.ndarray


def effective_positions(units: Sequence[Unit], now: datetime, max_age_s: float) -> Positions:
    """Apply the stale-position rule: reports older than ``max_age_s`` fall back to home.

    Parameters
    ----------
    units : sequence of Unit
        The fleet.
    now : datetime
        Current time (aware, UTC).
    max_age_s : float
        Maximum age of a usable position report, seconds.
    """
    k = len(units)
    lon, lat, age = np.empty(k), np.empty(k), np.full(k, np.nan)
    source: list[str] = []
    for i, u in enumerate(units):
        lon[i], lat[i] = u.lon, u.lat
        src = "reported"
        if u.position_time is not None:
            age[i] = (now - u.position_time).total_seconds()
            if age[i] > max_age_s:
                if u.home_lon is not None and u.home_lat is not None:
                    lon[i], lat[i] = u.home_lon, u.home_lat
                    src = "home_station"
                else:
                    src = "stale"
        source.append(src)
    return Positions(lon, lat, source, age)


@dataclass(frozen=True)
class UnitSnaps:
    """Unit positions snapped to road edges (arrays aligned with the unit list).

    ``edge`` is -1 for a unit farther than the snap limit from any road. ``t_to_b`` is the time
    from the unit to the head ``b`` of its edge, ``t_to_a`` to the tail ``a`` against the edge
    direction (``inf`` on a one-way road unless the unit stands on ``a``).
    """

    edge: np.ndarray
    a: np.ndarray
    b: np.ndarray
    fraction: np.ndarray
    t_to_b: np.ndarray
    t_to_a: np.ndarray
    distance_m: np.ndarray


def snap_units(
    network: RoadNetwork,
    lon: np.ndarray,
    lat: np.ndarray,
    max_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
    engine: EtaEngine | None = None,
) -> UnitSnaps:
    """Snap unit positions, reusing the engine's earlier snaps.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    lon, lat : ndarray
        Unit positions, degrees.
    max_distance_m : float
        Units farther than this from any road are not snapped (``edge`` -1: unreachable), metres.
    engine : EtaEngine, optional
        The network's ETA engine, whose snaps are reused (a temporary one when omitted).

    Returns
    -------
    UnitSnaps
    """
    eng = engine_for(network, engine)
    keys = list(zip(np.asarray(lon, dtype=float).tolist(), np.asarray(lat, dtype=float).tolist(), strict=True))
    lock = eng._lock
    with lock:
        cache = eng._unit_snaps.setdefault(float(max_distance_m), {})
        missing = sorted({k for k in keys if k not in cache})
    if missing:
        snap = network.snap(
            [k[0] for k in missing], [k[1] for k in missing], max_distance_m=max_distance_m, strict=False
        )
        rows = _unit_rows(snap)
        with lock:
            if len(cache) + len(missing) > _CACHE_MAX:
                cache.clear()
            for key, row in zip(missing, rows, strict=True):
                cache[key] = row
    with lock:
        table = [cache[k] for k in keys]
    cols = list(zip(*table, strict=True)) if table else [()] * 7
    return UnitSnaps(
        edge=np.asarray(cols[0], dtype=np.int64),
        a=np.asarray(cols[1], dtype=np.int64),
        b=np.asarray(cols[2], dtype=np.int64),
        fraction=np.asarray(cols[3], dtype=np.float64),
        t_to_b=np.asarray(cols[4], dtype=np.float64),
        t_to_a=np.asarray(cols[5], dtype=np.float64),
        distance_m=np.asarray(cols[6], dtype=np.float64),
    )


def _unit_rows(snap: SnapResult) -> list[tuple[Any, ...]]:
    """Per-point tuples (edge, a, b, fraction, t_to_b, t_to_a, distance_m) of a snap."""
    ok = snap.edge >= 0  # a unit exactly on an end node gets 0 s to it from the snap itself
    t_to_a, t_to_b = snap.time_to_u_s, snap.time_to_v_s
    return list(
        zip(
            snap.edge.tolist(),
            snap.u.tolist(),
            snap.v.tolist(),
            snap.fraction.tolist(),
            np.where(ok, t_to_b, np.inf).tolist(),
            np.where(ok, t_to_a, np.inf).tolist(),
            snap.distance_m.tolist(),
            strict=True,
        )
    )


def snap_incident(
    network: RoadNetwork,
    lon: float,
    lat: float,
    incident_id: str = "",
    max_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
    engine: EtaEngine | None = None,
) -> SnapResult:
    """Snap an incident's location (strict: off-network raises).

    A point snapped exactly onto the head node of a one-way road is that node: it can be
    reached from the node itself (time 0), not only by driving along the road.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    lon, lat : float
        Incident location, degrees (EPSG:4326).
    incident_id : str
        Named in the error message.
    max_distance_m : float
        Snap limit, metres (default 1000).
    engine : EtaEngine, optional
        The network's ETA engine: a point it snapped recently is not snapped again
        (:meth:`EtaEngine.snap_point`).

    Raises
    ------
    SnapError
        When the location is farther than ``max_distance_m`` from any road of the network.
    """
    if engine is not None:
        snap = engine.check(network).snap_point(lon, lat, max_distance_m)
    else:
        snap = network.snap([lon], [lat], max_distance_m=max_distance_m, strict=False)
    if snap.edge[0] < 0:
        raise SnapError(
            f"incident {incident_id} at lon={lon:.6f}, lat={lat:.6f} is {snap.distance_m[0]:.0f} m from the "
            f"nearest road of {network.label or 'the network'} (limit {max_distance_m:g} m); "
            "check the coordinates (lon/lat order) or that the incident lies in this region"
        )
    return snap  # a point exactly on an end node is that node: the snap already gives 0 s to it


EXIT_HEAD, EXIT_TAIL, EXIT_DIRECT, EXIT_NONE = 0, 1, 2, -1


@dataclass
class IncidentEtas:
    """ETAs of every unit to one incident, with the search tree for routes and distances.

    Attributes
    ----------
    eta_s : ndarray of float64
        Seconds; ``inf`` when unreachable or farther than ``limit_s``.
    exit : ndarray of int8
        How the fastest path leaves the unit's edge: :data:`EXIT_HEAD` (via b),
        :data:`EXIT_TAIL` (via a), :data:`EXIT_DIRECT` (same road), :data:`EXIT_NONE`.
    limit_s : float
        Search bound used, seconds (``inf`` = unbounded). Every ETA below it is exact and every
        unit marked ``inf`` is at least this far away (or unreachable when ``limit_s`` is inf).
    snap : SnapResult
        The incident's snap.
    node_time_s : ndarray
        Time from nodes to the incident, seconds: exact for every node the search settled (all
        nodes up to the farthest unit's road, or within ``limit_s``; every node when the
        engine holds a contraction hierarchy), ``inf`` elsewhere.
    predecessors : ndarray or None
        Reverse shortest-path tree (see :func:`point_search`); None after a hierarchy query,
        whose paths are read off ``node_time_s`` (:func:`route_pieces` does either).
    views : tuple of (ndarray of bool, RoadNetwork, IncidentEtas)
        Units answered by a search of their own network (a boat that carries some unit types
        only, see :meth:`RoadNetwork.for_unit_type`, lies on their fastest path): which units,
        the network they travel and that search. The other units are answered by the search of
        ``node_time_s`` and ``predecessors``. Empty when every unit is.
    """

    eta_s: np.ndarray
    exit: np.ndarray
    limit_s: float
    snap: SnapResult
    node_time_s: np.ndarray
    predecessors: np.ndarray | None
    views: tuple[tuple[np.ndarray, RoadNetwork, IncidentEtas], ...] = ()

    def for_unit(
        self, network: RoadNetwork, units: UnitSnaps, k: int
    ) -> tuple[RoadNetwork, IncidentEtas, UnitSnaps, int]:
        """Where unit ``k``'s route is read: its network, its search, the snaps of that search and
        its index in them (``network, self, units, k`` when every unit travels one network)."""
        for mask, view, res in self.views:
            if mask[k]:
                return view, res, _subset(units, mask), int(np.count_nonzero(mask[:k]))
        return network, self, units, k


def incident_etas(
    network: RoadNetwork,
    snap: SnapResult,
    units: UnitSnaps,
    limit_s: float,
    engine: EtaEngine | None = None,
    unit_types: Sequence[str] | None = None,
    hierarchy: bool = True,
) -> IncidentEtas:
    """ETA of every unit to one snapped incident, from one reverse bounded search.

    With ``unit_types``, a unit crosses only the sea links that carry its type (a Damkar truck
    does not ride the speedboat ambulance). One search on the whole network answers every unit
    whose fastest path there takes no boat closed to its type (the view of its type,
    :meth:`EtaEngine.for_unit_type`, has every edge of that path, and no faster one); only the
    units whose path may take such a boat get a search of their own view
    (:func:`_own_search_needed`). Same ETAs as one search per view.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    snap : SnapResult
        The incident's snap (one point).
    units : UnitSnaps
        Snapped unit positions.
    limit_s : float
        Search bound, seconds (``inf`` for none).
    engine : EtaEngine, optional
        The network's ETA engine, whose recent searches are reused (a temporary one when omitted).
    unit_types : sequence of str, optional
        Type of each unit (aligned with ``units``); without it every unit crosses every boat.
    hierarchy : bool
        Whether the search may be a query of the engine's contraction hierarchy (when it holds
        one). A bounded search that stops at the farthest unit is cheaper for a nearby incident;
        the hierarchy wins when the search must reach far (:func:`geodispatch.assign.recommend`
        asks for it once its first bound was not enough). Same answers either way.

    Returns
    -------
    IncidentEtas
    """
    eng = engine_for(network, engine)
    if unit_types is None or not network.sea_carries:
        return _incident_etas(eng, snap, units, limit_s, hierarchy)
    types = np.asarray(unit_types, dtype=object)
    if len(types) != len(units.edge):
        raise InputError(f"unit_types has {len(types)} entries for {len(units.edge)} units")
    groups: dict[int, tuple[EtaEngine, np.ndarray]] = {}
    for unit_type in dict.fromkeys(types.tolist()):
        sub = eng.for_unit_type(str(unit_type))
        mask = types == unit_type
        if id(sub) in groups:
            groups[id(sub)] = (sub, groups[id(sub)][1] | mask)
        else:
            groups[id(sub)] = (sub, mask)
    if len(groups) == 1:
        sub, _ = next(iter(groups.values()))
        res = _incident_etas(sub, snap, units, limit_s, hierarchy)
        if sub is eng:
            return res
        return dataclasses.replace(res, views=((np.ones(len(types), dtype=bool), sub.network, res),))
    base = _incident_etas(eng, snap, units, limit_s, hierarchy)  # every unit, every boat
    eta, exit_ = base.eta_s.copy(), base.exit.copy()
    views = []
    for sub, mask in groups.values():
        if sub is eng:
            continue
        own = mask & _own_search_needed(eng, sub, base, units)
        if own.any():
            res = _incident_etas(sub, snap, _subset(units, own), limit_s, hierarchy)
            eta[own] = res.eta_s
            exit_[own] = res.exit
            views.append((own, sub.network, res))
    return dataclasses.replace(base, eta_s=eta, exit=exit_, views=tuple(views))


def _own_search_needed(
    engine: EtaEngine, view_engine: EtaEngine, base: IncidentEtas, units: UnitSnaps
) -> np.ndarray:
    """Units whose ETA on a view (some boats closed) may differ from theirs on the whole network.

    ``base`` is a search on the engine's whole network. A unit's ETA leaves its road through one
    end node ``x`` (or goes straight along the incident's road). When no fastest path from ``x``
    to the incident crosses a closed edge, the view has such a path with the same travel times
    and no faster one (its edges are a subset), so the view's search gives ``x`` the same time
    and the unit the same ETA and exit. With a Dijkstra tree the two searches give the same
    sums over the same paths, bit for bit; after a hierarchy query the times are the
    hierarchy's, exact like every other unit's.

    A closed edge ``u -> v`` is on a fastest path when the tree goes through it (Dijkstra:
    ``pred[u] == v``; conservative, a parallel open edge counts too) or when it is tight
    (hierarchy: ``time[v] + t(u->v) <= time[u]``, with a margin). A node ``x`` whose path goes
    through ``u`` is at least the great-circle distance ``d(x, u)`` over the network's fastest
    straight-line speed farther than ``u`` (:func:`_straight_line_speed`); a unit whose exit
    node is nearer than that to every such ``u`` keeps ``base``'s answer. An incident on a
    closed edge (or whose road's twin differs on the view) needs the view's search for everyone.

    Returns
    -------
    ndarray of bool
        One per unit: True when the unit needs the view's own search.
    """
    network, view = engine.network, view_engine.network
    everyone = np.ones(len(units.edge), dtype=bool)
    e = int(base.snap.edge[0])
    twin = int(network.twin_edge[e])
    if not np.isfinite(view.edge_time_s[e]) or twin != int(view.twin_edge[e]) or (
        twin >= 0 and not np.isfinite(view.edge_time_s[twin])
    ):
        return everyone
    closed = view_engine._closed
    if closed is None:
        closed = np.flatnonzero(np.isinf(view.edge_time_s) & np.isfinite(network.edge_time_s))
        view_engine._closed = closed
    u, v = network.edge_u[closed], network.edge_v[closed]
    time = base.node_time_s
    if base.predecessors is not None:
        tails = u[base.predecessors[u] == v]
    else:
        tu = time[u]
        tails = u[np.isfinite(tu) & (time[v] + network.edge_time_s[closed] <= tu + 1e-6 * np.maximum(1.0, tu))]
    if len(tails) == 0:
        return ~everyone
    head = base.exit == EXIT_HEAD
    via_node = head | (base.exit == EXIT_TAIL)
    x = np.where(head, units.b, units.a)[via_node]
    tx = time[x]
    speed = _straight_line_speed(engine)
    margin = 1e-4 * np.maximum(1.0, tx) + 1e-3  # float sums of long paths, the hierarchy's last bits
    near = np.ones(len(x), dtype=bool)
    for tail in np.unique(tails).tolist():
        gap = haversine_m(network.lon[x], network.lat[x], network.lon[tail], network.lat[tail]) / speed
        near &= tx + margin < time[tail] + gap
    out = np.zeros(len(units.edge), dtype=bool)
    out[via_node] = ~near
    return out


def _straight_line_speed(engine: EtaEngine) -> float:
    """The fastest straight-line speed of any edge of the engine's network, metres per second:
    the great-circle distance between its ends over its travel time (inf when an edge takes no
    time). No path covers a great-circle distance ``d`` in less than ``d`` over it."""
    speed = engine._straight_speed
    if speed is None:
        net = engine.network
        ok = np.isfinite(net.edge_time_s)
        gc = haversine_m(net.lon[net.edge_u[ok]], net.lat[net.edge_u[ok]], net.lon[net.edge_v[ok]],
                         net.lat[net.edge_v[ok]])
        t = net.edge_time_s[ok]
        if np.any((t <= 0) & (gc > 0)):
            speed = math.inf
        else:
            pos = t > 0
            speed = float(np.max(gc[pos] / t[pos])) * (1 + 1e-9) if pos.any() else math.inf
        engine._straight_speed = speed
    return speed


def _subset(units: UnitSnaps, mask: np.ndarray) -> UnitSnaps:
    """The unit snaps where ``mask`` is True."""
    return UnitSnaps(*(getattr(units, f)[mask] for f in UnitSnaps.__dataclass_fields__))


def _incident_etas(
    eng: EtaEngine, snap: SnapResult, units: UnitSnaps, limit_s: float, hierarchy: bool = True
) -> IncidentEtas:
    """:func:`incident_etas` on the engine's network, every unit alike."""
    network = eng.network
    ok = units.edge >= 0
    targets = np.concatenate([units.a[ok & np.isfinite(units.t_to_a)], units.b[ok & np.isfinite(units.t_to_b)]])
    node_time, pred = _cached_search(eng, snap, limit_s, targets, hierarchy)
    ok = units.edge >= 0
    a = np.where(ok, units.a, 0)
    b = np.where(ok, units.b, 0)
    via_b = np.where(ok, units.t_to_b + node_time[b], np.inf)
    via_a = np.where(ok, units.t_to_a + node_time[a], np.inf)
    direct = _direct_times(network, snap, units)
    stack = np.vstack([via_b, via_a, direct])
    best = np.argmin(stack, axis=0)
    eta = stack[best, np.arange(stack.shape[1])]
    eta = np.where(eta <= limit_s, eta, np.inf)
    exit_ = np.where(np.isfinite(eta), best, EXIT_NONE).astype(np.int8)
    return IncidentEtas(eta, exit_, limit_s, snap, node_time, pred)


def _cached_search(
    engine: EtaEngine, snap: SnapResult, limit_s: float, targets: np.ndarray, use_hierarchy: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Reverse search to a snapped point that stops once every target node is settled.

    The units' road ends are the targets: a far rural incident costs a search out to the
    farthest unit, not a sweep of the whole regency. A recent search of the same point is
    reused when it answers exactly: it ran out with a bound at least ``limit_s`` (every node
    within the bound is settled), or it settled every target of this call. So re-asking for a
    waiting incident - a dispatcher re-running the recommendation, or the next decision round
    of a queue - costs no new search. With a contraction hierarchy the search is one hierarchy
    query giving every node's time (complete and unbounded: it answers any later limit).
    """
    network = engine.network
    key = (int(snap.edge[0]), float(snap.fraction[0]), float(snap.time_from_u_s[0]), float(snap.time_from_v_s[0]))
    cache = engine._searches
    pred: np.ndarray | None
    with engine._lock:
        hit = cache.get(key)
        if hit is not None:
            bound, complete, node_time, pred = hit
            if (complete and bound >= limit_s) or np.isfinite(node_time[targets]).all():
                cache.move_to_end(key)
                return node_time, pred
    hierarchy = engine.hierarchy if use_hierarchy else None
    if hierarchy is not None:
        seeds, seed_time = point_seeds(snap, 0, reverse=True)
        node_time = hierarchy.times(seeds, seed_time, reverse=True)
        pred, complete, limit_s = None, True, math.inf  # every node's exact time: answers any later limit
    else:
        node_time, pred, complete = point_search_until(
            network, snap, 0, targets, limit=None if math.isinf(limit_s) else limit_s, reverse=True,
            workspace=engine.workspace,
        )
    size = max(16, _SEARCH_CACHE_BYTES // (12 * max(network.n_nodes, 1)))
    with engine._lock:
        cache[key] = (limit_s, complete, node_time, pred)
        cache.move_to_end(key)
        while len(cache) > size:
            cache.popitem(last=False)
    return node_time, pred


def _direct_times(network: RoadNetwork, snap: SnapResult, units: UnitSnaps) -> np.ndarray:
    """Times of units on the incident's own road that reach it without leaving the road."""
    out = np.full(len(units.edge), np.inf)
    e = int(snap.edge[0])
    f = float(snap.fraction[0])
    twin = int(network.twin_edge[e])
    on_e = units.edge == e
    on_twin = (units.edge == twin) if twin >= 0 else np.zeros_like(on_e)
    same = on_e | on_twin
    if not same.any():
        return out
    p = np.where(on_e, units.fraction, 1.0 - units.fraction)  # position along e's direction
    t_e = float(network.edge_time_s[e])
    along = np.where(same & (p <= f), (f - p) * t_e, np.inf)
    if twin >= 0:
        t_tw = float(network.edge_time_s[twin])
        back = np.where(same & (p >= f), (p - f) * t_tw, np.inf)
        along = np.minimum(along, back)
    return np.where(same, along, out)


def _path_nodes(network: RoadNetwork, res: IncidentEtas, start: int) -> list[int]:
    """Nodes from ``start`` to the incident's virtual node ``n_nodes`` (inclusive).

    Walks the reverse tree of a Dijkstra search; after a hierarchy query (no tree) follows the
    road edges whose times match ``node_time_s``, and falls back to a search with a tree in the
    (tie-bound) case where that walk finds no way.
    """
    n_nodes = network.n_nodes
    pred = res.predecessors
    if pred is None:
        seeds, seed_time = point_seeds(res.snap, 0, reverse=True)
        nodes = descend_path(network.csr, res.node_time_s, seeds, seed_time, start)
        if nodes is not None:
            return [*nodes, n_nodes]
        _, pred = point_search(network, res.snap, 0, reverse=True)  # pragma: no cover - exact ties only
    path = [start]
    node = start
    for _ in range(n_nodes + 1):
        if node == n_nodes:
            return path
        node = int(pred[node])
        if node < 0:
            raise AssignmentError("internal: broken shortest-path tree")  # pragma: no cover
        path.append(node)
    raise AssignmentError("internal: cycle in shortest-path tree")  # pragma: no cover


def route_pieces(
    network: RoadNetwork, res: IncidentEtas, units: UnitSnaps, k: int
) -> list[tuple[int, float, float]]:
    """The fastest route of unit ``k`` as (edge, from fraction, to fraction) pieces.

    Returns an empty list when the unit has no finite ETA. The pieces index ``network``'s edges
    (a unit-type view of it, :meth:`RoadNetwork.for_unit_type`, has the same edges).
    """
    network, res, units, k = res.for_unit(network, units, k)
    how = int(res.exit[k])
    if how == EXIT_NONE:
        return []
    e_inc, f_inc = int(res.snap.edge[0]), float(res.snap.fraction[0])
    ue, g = int(units.edge[k]), float(units.fraction[k])
    if how == EXIT_DIRECT:
        p = g if ue == e_inc else 1.0 - g
        if p <= f_inc:
            return [(e_inc, p, f_inc)]
        twin = int(network.twin_edge[e_inc])
        return [(twin, 1.0 - p, 1.0 - f_inc)]
    pieces: list[tuple[int, float, float]] = []
    if how == EXIT_HEAD:
        start = int(units.b[k])
        if g < 1.0:
            pieces.append((ue, g, 1.0))
    else:
        start = int(units.a[k])
        if g > 0.0:
            twin_u = int(network.twin_edge[ue])
            if twin_u >= 0:
                pieces.append((twin_u, 1.0 - g, 1.0))
    nodes = _path_nodes(network, res, start)
    inner = nodes[:-1]
    if len(inner) > 1:
        edges = network.edge_between(inner[:-1], inner[1:])
        pieces.extend((int(x), 0.0, 1.0) for x in edges)
    last = inner[-1]
    if last == int(res.snap.u[0]):
        pieces.append((e_inc, 0.0, f_inc))
    else:
        twin = int(network.twin_edge[e_inc])
        pieces.append((twin, 0.0, 1.0 - f_inc))
    return [p for p in pieces if p[2] > p[1]]


def route_distance_m(network: RoadNetwork, pieces: list[tuple[int, float, float]]) -> float:
    """Road distance of a route given as pieces, metres."""
    return float(sum(network.edge_length_m[e] * (t - f) for e, f, t in pieces))


def route_geojson(network: RoadNetwork, pieces: list[tuple[int, float, float]]) -> dict[str, Any] | None:
    """The route as a GeoJSON LineString (lon/lat degrees), None when empty."""
    if not pieces:
        return None
    from shapely.ops import substring

    geoms = network.edge_geometries(metric=True)
    xs: list[float] = []
    ys: list[float] = []
    for e, f, t in pieces:
        line = geoms[e]
        if f > 0.0 or t < 1.0:
            line = substring(line, f, t, normalized=True)
        coords = np.asarray(line.coords) if line.geom_type == "LineString" else np.asarray([line.coords[0]] * 2)
        start = 1 if xs else 0
        xs.extend(coords[start:, 0].tolist())
        ys.extend(coords[start:, 1].tolist())
    lon, lat = network.to_lonlat(np.asarray(xs), np.asarray(ys))
    return {
        "type": "LineString",
        "coordinates": [[round(float(x), 7), round(float(y), 7)] for x, y in zip(lon, lat, strict=True)],
    }
