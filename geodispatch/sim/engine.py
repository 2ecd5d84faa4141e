"""The discrete-event loop: one replication of a call table on a prepared model.

Each unit follows the real cycle: dispatched (turnout when it was resting at its station), drives
to the call (exact network time from where it is), on scene, takes the patient to the nearest
suitable hospital (ambulances, when the call transports), hands over, and is free again; free, it
drives back to its station (or, with ``dmexclp`` move-up, to the post that adds the most expected
coverage) and may be sent to a new call on the way. A call that finds no suitable free unit
waits; every time a call becomes ready or a unit becomes free, all waiting calls are decided
together by the assignment engine's policy (:mod:`geodispatch.assign`).

Model choices (stated, not hidden)
----------------------------------
* A unit resting at its station (or at a hospital the moment it is free) is sent from that exact
  point; a unit already driving first reaches the next junction of its route (or its station
  when on the station's own road), then takes the fastest path. It needs no turnout.
* Times on the road are those of the network (no congestion by hour; the network's speeds).
* Every ambulance of a call that transports takes a patient; other unit types never transport.
* A free unit that cannot drive back to any post of its type (a one-way trap) is an error, not a
  silent loss.
* A unit crosses only the boats that carry its type (a speedboat ambulance takes no fire truck):
  every time, route and position of a unit is on its type's view of the network
  (:class:`~geodispatch.sim.model.TravelView`), and so is an ambulance's drive to the hospital.
"""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodispatch.assign.cover import TIE_TOLERANCE_S, apply_tiebreak, coverage_index
from geodispatch.assign.greedy import solve_closest
from geodispatch.assign.model import Slot
from geodispatch.assign.optimize import solve_optimal
from geodispatch.errors import SimulationError
from geodispatch.network.traveltime import SearchWorkspace
from geodispatch.sim.calls import CallTable, generate_calls
from geodispatch.sim.model import PreparedCalls, SimModel, prepare_calls
from geodispatch.sim.times import EXIT_U, EXIT_V, Points

IDLE, TO_SCENE, ON_SCENE, TO_HOSPITAL, AT_HOSPITAL, DRIVING = range(6)
"""Unit states: resting at its post; driving to a call; on scene; driving to a hospital; handing
over; driving back to a post (free: may be sent on the way)."""

_READY, _ARRIVE, _SCENE_END, _AT_HOSPITAL, _HANDED_OVER, _HOME = range(6)

_BOUND_SLACK_S = 1e-6
"""Seconds of slack on lower bounds and search limits, so that rounding in a bound (sums of
floats in another order than the search's) never skips a unit that ties the threshold."""

_MAX_GAINS = 20_000
"""DMEXCLP gain vectors kept (one per configuration of posts held by free units; then cleared)."""

NODE_TABLE_BYTES = 256 * 2**20
"""Networks whose whole node-to-node time table fits in this many bytes (float64; about 5,800
nodes; one table per view of the network the fleet travels, see ``SimModel.views``) keep every
reverse search from a call's road end (``inf`` limit, reused by every later call at that node)
instead of a bounded search per decision: calls repeat their roads, so a year on a small regency
needs at most one search per node."""


@dataclass(frozen=True)
class CallSource:
    """Where a replication's calls come from (picklable).

    Either a fixed table (``prepared``, the same calls in every replication) or a generator
    (``calls_per_day`` for ``days``, optional ``surge``), drawn afresh per replication from the
    population points ``population``.
    """

    prepared: PreparedCalls | None = None
    calls_per_day: float = 0.0
    days: float = 0.0
    surge: tuple[float, float, float] | None = None
    population: Any = None


@dataclass
class ReplicationResult:
    """Everything one replication produced (plain arrays; picklable).

    Per call (aligned with ``calls``): ``ready_s`` (call received + dispatch delay),
    ``first_dispatch_s``, ``first_arrival_s``, ``cleared_s`` (last unit free), ``hospital``
    (index into the model's hospitals, -1 = none), ``unserved`` (units the SOP asked for that
    could never come: no unit of that type can reach the call), ``no_hospital`` (a transport
    was due but no suitable hospital is reachable). NaN where something did not happen.

    Per assignment (one row per unit sent): ``a_call``, ``a_unit``, ``a_dispatched_s``,
    ``a_from`` (0 resting at a post, 1 driving), ``a_arrived_s``, ``a_left_scene_s``,
    ``a_hospital_s`` (arrival at the hospital, NaN = no transport), ``a_free_s``, ``a_next_key``
    (post it drove to when free, -1 = sent straight to another call).

    Per unit: ``busy_s`` (dispatched -> free), ``driving_s`` (free, driving to a post),
    ``idle_s`` (resting at a post); their sum is ``horizon_s`` for every unit.
    """

    replication: int
    seed: int
    policy: str
    move_up: str
    calls: CallTable
    ready_s: np.ndarray
    first_dispatch_s: np.ndarray
    first_arrival_s: np.ndarray
    cleared_s: np.ndarray
    hospital: np.ndarray
    unserved: np.ndarray
    no_hospital: np.ndarray
    a_call: np.ndarray
    a_unit: np.ndarray
    a_dispatched_s: np.ndarray
    a_from: np.ndarray
    a_arrived_s: np.ndarray
    a_left_scene_s: np.ndarray
    a_hospital_s: np.ndarray
    a_free_s: np.ndarray
    a_next_key: np.ndarray
    busy_s: np.ndarray
    driving_s: np.ndarray
    idle_s: np.ndarray
    horizon_s: float
    relocations: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    wall_s: float = 0.0

    @property
    def response_s(self) -> np.ndarray:
        """Call received -> first unit on scene, seconds (NaN = never served)."""
        return self.first_arrival_s - self.calls.time_s

    @property
    def queued_s(self) -> np.ndarray:
        """Ready for dispatch -> first unit sent, seconds (waiting for a free unit)."""
        return self.first_dispatch_s - self.ready_s


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed sequence of one replication (independent streams per replication)."""
    return np.random.SeedSequence([int(seed), int(replication)])


def simulate_replication(model: SimModel, source: CallSource, seed: int, replication: int) -> ReplicationResult:
    """Run one replication; the result depends only on the arguments (picklable, no globals).

    Parameters
    ----------
    model : SimModel
        From :func:`~geodispatch.sim.model.build_model`.
    source : CallSource
        A fixed call table or a generator.
    seed : int
        Base seed of the study.
    replication : int
        Replication number; replication ``r`` draws from ``SeedSequence([seed, r])``.

    Returns
    -------
    ReplicationResult
    """
    import time

    wall = time.perf_counter()
    calls_seq, draws_seq = replication_seed(seed, replication).spawn(2)
    if source.prepared is not None:
        prepared = source.prepared
    else:
        table = generate_calls(
            source.population,
            source.days,
            source.calls_per_day,
            seed=int(calls_seq.generate_state(1)[0]),
            calibration=model.calibration,
            surge=source.surge,
        )
        prepared = prepare_calls(model, table)
    period = source.days * 86400.0 if source.prepared is None else 0.0
    run = _Run(model, prepared, np.random.default_rng(draws_seq))
    result = run.run(period)
    result.replication, result.seed = replication, seed
    result.wall_s = time.perf_counter() - wall
    return result


class _Run:
    """State of one replication."""

    def __init__(self, model: SimModel, prep: PreparedCalls, rng: np.random.Generator) -> None:
        self.m = model
        self.p = prep
        calls = prep.calls
        n, n_slots, k = len(calls), len(prep.slot_call), model.n_units
        cal = model.calibration
        # every random draw is made up front, per call and per slot, so policies compared with
        # the same seed see the same calls and the same service times
        if model.dispatch_delay_s is None:
            delay = rng.choice(cal.dispatch_delay_s, size=n) if n else np.zeros(0)
        else:
            delay = np.full(n, float(model.dispatch_delay_s))
        draw_transport = rng.random(n) < cal.transport_share
        self.transport = np.where(calls.transport >= 0, calls.transport == 1, draw_transport)
        is_amb = np.asarray([t == "ambulance" for t in prep.slot_type], dtype=bool)
        scene = np.empty(n_slots)
        turnout = np.empty(n_slots)
        for kind, mask in (("ambulance", is_amb), ("other", ~is_amb)):
            cnt = int(mask.sum())
            scene[mask] = rng.choice(cal.onscene_s[kind], size=cnt) if cnt else 0.0
            turnout[mask] = rng.choice(cal.turnout_s[kind], size=cnt) if cnt else 0.0
        fixed_scene = calls.on_scene_s[prep.slot_call] if n_slots else np.zeros(0)
        self.scene = np.where(np.isfinite(fixed_scene), fixed_scene, scene)
        self.turnout = turnout if model.turnout_s is None else np.full(n_slots, float(model.turnout_s))
        self.handover = rng.choice(cal.handover_s, size=n_slots) if n_slots else np.zeros(0)
        self.is_amb = is_amb
        self.ready = calls.time_s + delay
        self.slot_prio = calls.priority[prep.slot_call] if n_slots else np.zeros(0, dtype=np.int64)
        # per unit
        self.state = np.full(k, IDLE, dtype=np.int64)
        self.base = model.unit_home.copy()
        self.since = [0.0] * k
        self.bucket = [[0.0, 0.0, 0.0] for _ in range(k)]  # busy, driving, idle
        self.trip_id = np.zeros(k, dtype=np.int64)
        self.trip: list[tuple[Any, ...] | None] = [None] * k
        self.route_cache: dict[int, tuple[Any, ...]] = {}  # unit -> (trip id, route of that trip)
        self.routes: dict[tuple[int, int, int], tuple[list[int], list[float], list[float], list[int]]] = {}
        self.unit_slot = np.full(k, -1, dtype=np.int64)
        self.fit_mask: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self.search_cache: dict[tuple[int, int], np.ndarray] = {}  # (view, call) -> full reverse searches
        n_nodes = model.network.n_nodes
        table = 8 * n_nodes * n_nodes * len(model.views) <= NODE_TABLE_BYTES
        # per view (one unless some boat does not carry some of the fleet's types)
        self.to_node: list[dict[int, np.ndarray]] | None = [{} for _ in model.views] if table else None
        self.workspace = [SearchWorkspace(view.network) for view in model.views]
        self.unit_view = model.unit_view.tolist()
        self.scratch = np.full(model.network.n_nodes, np.inf)
        self.cover_f = {utype: c.astype(np.float64) for utype, c in model.cover.items()}
        self.gains: dict[tuple[str, tuple[int, ...]], list[float]] = {}  # DMEXCLP gains per held posts
        self.post_row = {utype: {int(key): r for r, key in enumerate(posts)} for utype, posts in model.posts.items()}
        self.type_units = {
            utype: np.flatnonzero(np.asarray(model.unit_type) == utype).tolist() for utype in set(model.unit_type)
        }
        self.call_simple = self._simple_calls().tolist()
        self.slot_call = prep.slot_call.tolist()  # read per event: plain lists
        self.slot_type = prep.slot_type
        self.scene_l, self.handover_l = self.scene.tolist(), self.handover.tolist()
        self.amb_transport = (is_amb & self.transport[prep.slot_call]).tolist() if n_slots else []
        self.call_hospital = [ct.hospital.tolist() for ct in prep.times]  # per view
        self.hospital_s = [ct.hospital_s.tolist() for ct in prep.times]
        # per call
        self.first_dispatch = np.full(n, np.nan)
        self.first_arrival = np.full(n, np.nan)
        self.cleared = np.full(n, np.nan)
        self.hospital = np.full(n, -1, dtype=np.int64)
        self.no_hospital = np.zeros(n, dtype=bool)
        self.left = np.zeros(n, dtype=np.int64)  # units still working the call
        self.unserved = np.zeros(n, dtype=np.int64)
        np.add.at(self.unserved, prep.slot_call[~prep.slot_servable], 1)
        # assignments, one row per slot (a slot is filled at most once)
        self.a_unit = np.full(n_slots, -1, dtype=np.int64)
        self.a_disp = np.full(n_slots, np.nan)
        self.a_from = np.full(n_slots, -1, dtype=np.int64)
        self.a_arr = np.full(n_slots, np.nan)
        self.a_left = np.full(n_slots, np.nan)
        self.a_hosp = np.full(n_slots, np.nan)
        self.a_free = np.full(n_slots, np.nan)
        self.a_next = np.full(n_slots, -1, dtype=np.int64)
        self.pending: dict[int, None] = {}  # slot ids waiting, in insertion order
        self.relocations: list[tuple[float, int, int, int]] = []
        self.heap: list[tuple[float, int, int, int, int]] = []
        self.seq = 0
        self.coverage: Any = None
        if model.policy == "coverage_aware":
            indexes = [coverage_index(view.network, model.population, model.target_s) for view in model.views]
            # reach sets on each unit type's own view (one index shared by all when there is one view)
            self.coverage = {t: indexes[v] for t, v in model.type_view.items()}
        first_slot = np.searchsorted(prep.slot_call, np.arange(n + 1)).tolist()
        servable = prep.slot_servable.tolist()
        self.ready_slots = [  # per call, the slots that go to the queue when it is ready
            [s for s in range(first_slot[j], first_slot[j + 1]) if servable[s]] for j in range(n)
        ]

    # ------------------------------------------------------------------ bookkeeping
    def push(self, t: float, kind: int, a: int, b: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, a, b))

    def set_state(self, k: int, state: int, t: float) -> None:
        old = self.state[k]
        group = 2 if old == IDLE else 1 if old == DRIVING else 0
        self.bucket[k][group] += t - self.since[k]
        self.since[k] = t
        self.state[k] = state

    def fits(self, utype: str, caps: tuple[str, ...]) -> np.ndarray:
        key = (utype, caps)
        mask = self.fit_mask.get(key)
        if mask is None:
            m = self.m
            mask = np.asarray(
                [m.unit_type[k] == utype and set(caps) <= set(m.unit_caps[k]) for k in range(m.n_units)], dtype=bool
            )
            self.fit_mask[key] = mask
        return mask

    # ------------------------------------------------------------------ main loop
    def run(self, period_s: float) -> ReplicationResult:
        calls = self.p.calls
        n = len(calls)
        # calls become ready in (time, index) order; they stay out of the event heap (it holds
        # only the units' events) and go first at equal times, as if pushed first
        order = np.lexsort((np.arange(n), self.ready))
        ready_t, ready_j = self.ready[order].tolist(), order.tolist()
        heap = self.heap = []
        self.seq = n
        t = 0.0
        i = 0
        while i < n or heap:
            if i < n and (not heap or ready_t[i] <= heap[0][0]):
                t, a = ready_t[i], ready_j[i]
                i += 1
                for s in self.ready_slots[a]:
                    self.pending[s] = None
                self.dispatch(t)
                continue
            t, _, kind, a, b = heapq.heappop(heap)
            if kind == _ARRIVE:
                j = self.slot_call[b]
                self.a_arr[b] = t
                if not t >= self.first_arrival[j]:  # NaN or later
                    self.first_arrival[j] = t
                self.set_state(a, ON_SCENE, t)
                self.push(t + self.scene_l[b], _SCENE_END, a, b)
            elif kind == _SCENE_END:
                j = self.slot_call[b]
                self.a_left[b] = t
                if self.amb_transport[b]:  # an ambulance of a call that transports
                    v = self.unit_view[a]
                    h = self.call_hospital[v][j]
                    if h >= 0:
                        self.hospital[j] = h
                        self.set_state(a, TO_HOSPITAL, t)
                        self.push(t + self.hospital_s[v][j], _AT_HOSPITAL, a, b)
                        continue
                    self.no_hospital[j] = True
                self.free(a, b, t, ("call", j))
            elif kind == _AT_HOSPITAL:
                self.a_hosp[b] = t
                self.set_state(a, AT_HOSPITAL, t)
                self.push(t + self.handover_l[b], _HANDED_OVER, a, b)
            elif kind == _HANDED_OVER:
                self.free(a, b, t, ("hospital", self.call_hospital[self.unit_view[a]][self.slot_call[b]]))
            elif kind == _HOME and self.trip_id[a] == b and self.state[a] == DRIVING:
                trip = self.trip[a]
                assert trip is not None
                self.base[a] = trip[0]
                self.trip[a] = None
                self.set_state(a, IDLE, t)
        horizon = max(t, period_s, calls.span_s)
        for k in range(self.m.n_units):
            self.set_state(k, int(self.state[k]), horizon)
        filled = self.a_unit >= 0
        p = self.p
        return ReplicationResult(
            replication=0,
            seed=0,
            policy=self.m.policy,
            move_up=self.m.move_up,
            calls=calls,
            ready_s=self.ready,
            first_dispatch_s=self.first_dispatch,
            first_arrival_s=self.first_arrival,
            cleared_s=self.cleared,
            hospital=self.hospital,
            unserved=self.unserved + self._never_served(),
            no_hospital=self.no_hospital,
            a_call=p.slot_call[filled],
            a_unit=self.a_unit[filled],
            a_dispatched_s=self.a_disp[filled],
            a_from=self.a_from[filled],
            a_arrived_s=self.a_arr[filled],
            a_left_scene_s=self.a_left[filled],
            a_hospital_s=self.a_hosp[filled],
            a_free_s=self.a_free[filled],
            a_next_key=self.a_next[filled],
            busy_s=np.asarray([b[0] for b in self.bucket], dtype=np.float64),
            driving_s=np.asarray([b[1] for b in self.bucket], dtype=np.float64),
            idle_s=np.asarray([b[2] for b in self.bucket], dtype=np.float64),
            horizon_s=float(horizon),
            relocations=np.asarray(self.relocations, dtype=float).reshape(-1, 4),
        )

    def _never_served(self) -> np.ndarray:
        """Slots still waiting when nothing is left to happen (reported, not dropped)."""
        out = np.zeros(len(self.p.calls), dtype=np.int64)
        if self.pending:
            np.add.at(out, self.p.slot_call[np.fromiter(self.pending, dtype=np.int64)], 1)
        return out

    # ------------------------------------------------------------------ a unit becomes free
    def free(self, k: int, s: int, t: float, origin: tuple[str, int]) -> None:
        j = self.slot_call[s]
        self.a_free[s] = t
        self.left[j] -= 1
        if self.left[j] == 0:
            self.cleared[j] = t
        self.unit_slot[k] = -1
        self.start_trip(k, t, origin, int(self.base[k]))
        self.set_state(k, DRIVING, t)
        if self.pending:
            self.dispatch(t)
        if self.state[k] != DRIVING:
            return  # sent straight to another call
        dest = int(self.base[k])
        if self.m.move_up == "dmexclp" and self.m.unit_type[k] in self.m.cover:
            dest = self.dmexclp(k, origin)
            if dest != int(self.base[k]):
                self.relocations.append((t, k, int(self.base[k]), dest))
                self.base[k] = dest
                self.start_trip(k, t, origin, dest)
        self.a_next[s] = dest
        trip = self.trip[k]
        assert trip is not None
        self.push(t + trip[2], _HOME, k, int(self.trip_id[k]))

    def start_trip(self, k: int, t: float, origin: tuple[str, int], dest: int) -> None:
        """Start driving unit ``k`` from a call or hospital to key point ``dest``."""
        m, p = self.m, self.p
        v = self.unit_view[k]
        ct, view = p.times[v], m.views[v]
        kind, idx = origin
        if kind == "call":
            dur, how, origin_key = float(ct.call_to_key[idx, dest]), int(ct.call_exit[idx, dest]), -1
            pts: Points | None = p.points
        else:
            dur, how = float(view.hosp_to_key[idx, dest]), int(view.hosp_exit[idx, dest])
            pts, origin_key = m.hosp_points, int(m.hospital_key[idx])
        if not math.isfinite(dur):
            posts = m.posts[m.unit_type[k]]
            times = ct.call_to_key[idx, posts] if kind == "call" else view.hosp_to_key[idx, posts]
            if not np.isfinite(times).any():
                raise SimulationError(
                    f"unit {m.unit_id[k]} cannot drive back to any {m.unit_type[k]} post from "
                    f"{'call ' + str(p.calls.id[idx]) if kind == 'call' else 'hospital ' + m.hospitals[idx].id} "
                    "(one-way roads with no way out); check the network around it"
                )
            dest = int(posts[int(np.argmin(times))])
            self.base[k] = dest
            self.start_trip(k, t, origin, dest)
            return
        assert pts is not None
        e = int(pts.edge[idx])
        if how == EXIT_V:
            x0, leg0, edge0 = int(pts.v[idx]), float(pts.to_v[idx]), e
        elif how == EXIT_U:
            x0, leg0, edge0 = int(pts.u[idx]), float(pts.to_u[idx]), int(m.network.twin_edge[e])
        else:
            x0, leg0, edge0 = -1, dur, -1
        self.trip_id[k] += 1
        self.trip[k] = (dest, t, dur, x0, leg0, origin_key, edge0)

    # ------------------------------------------------------------------ move-up
    def dmexclp(self, k: int, origin: tuple[str, int]) -> int:
        """Post that adds the most expected coverage given the other free units (DMEXCLP)."""
        m = self.m
        utype = m.unit_type[k]
        posts = m.posts[utype]
        row_of = self.post_row[utype]
        rows = []
        state, base = self.state.tolist(), self.base.tolist()
        for other in self.type_units[utype]:
            if other == k:
                continue
            if state[other] == IDLE:
                rows.append(row_of[base[other]])
            elif state[other] == DRIVING:
                trip = self.trip[other]
                assert trip is not None
                rows.append(row_of[trip[0]])
        # the gains depend only on which posts the other free units hold (whole counts: the
        # sum is exact in any order), and those configurations repeat: computed once each
        held = (utype, tuple(sorted(rows)))
        gain = self.gains.get(held)
        if gain is None:
            cover = m.cover[utype]
            counts = cover[rows].sum(axis=0, dtype=np.float64) if rows else np.zeros(cover.shape[1])
            q = m.busy_fraction[utype]
            gain = (self.cover_f[utype] @ (m.demand * (1.0 - q) * q**counts)).tolist()
            if len(self.gains) >= _MAX_GAINS:
                self.gains.clear()
            self.gains[held] = gain
        kind, idx = origin
        v = self.unit_view[k]
        to_posts = self.p.times[v].call_to_key[idx, posts] if kind == "call" else m.views[v].hosp_to_key[idx, posts]
        drive = to_posts.tolist()
        # the best reachable post (plain floats: a few posts), ties to the unit's own post, else
        # to the nearest of the tied ones (the first in post order among equally near ones)
        value = [g if d < math.inf else -math.inf for g, d in zip(gain, drive, strict=True)]
        best = max(value)
        floor = best - 1e-9 * max(abs(best), 1.0)
        ties = [i for i, v in enumerate(value) if v >= floor]
        home = int(self.base[k])
        if any(int(posts[i]) == home for i in ties):
            return home
        return int(posts[min(ties, key=lambda i: drive[i])])

    # ------------------------------------------------------------------ where a free unit is
    def position(self, k: int, t: float) -> tuple[int, int, float, int, float]:
        """Where a free unit is at time ``t``.

        Returns ``(key, node, seconds, edge, fraction)``: at (or ``seconds`` from) key point
        ``key``, or ``seconds`` from junction ``node`` (``key`` -1) while driving along directed
        ``edge`` at ``fraction`` of it (-1 when not known).
        """
        if self.state[k] == IDLE:
            return int(self.base[k]), -1, 0.0, -1, 0.0
        trip = self.trip[k]
        assert trip is not None
        dest, depart, dur, x0, leg0, origin_key, edge0 = trip
        tau = t - depart
        if tau <= 0.0 and origin_key >= 0:
            return origin_key, -1, 0.0, -1, 0.0
        if x0 < 0:
            return dest, -1, max(dur - tau, 0.0), -1, 0.0
        net = self.m.views[self.unit_view[k]].network
        if tau < leg0:
            rem = leg0 - tau
            return -1, x0, rem, edge0, 1.0 - rem / float(net.edge_time_s[edge0]) if edge0 >= 0 else 0.0
        left = dur - tau
        nodes, remaining, neg_remaining, edges = self._route(k, dest, x0)
        i = bisect.bisect_left(neg_remaining, -left)  # first node with remaining <= left
        if i >= len(nodes):
            return dest, -1, max(left, 0.0), -1, 0.0
        rem = max(left - remaining[i], 0.0)
        if i == 0:
            return -1, nodes[0], rem, -1, 0.0
        edge = edges[i - 1]
        frac = 1.0 - rem / float(net.edge_time_s[edge]) if edge >= 0 and net.edge_time_s[edge] > 0 else 1.0
        return -1, nodes[i], rem, edge, frac

    def _route(self, k: int, dest: int, x0: int) -> tuple[list[int], list[float], list[float], list[int]]:
        """The route of unit ``k``'s current trip from junction ``x0`` home, built once per trip.

        Nodes, seconds left from each to the destination (and their negatives, increasing, for
        bisection) and the edge into each node after the first (plain lists: read per event).
        """
        cached = self.route_cache.get(k)
        if cached is not None and cached[0] == self.trip_id[k]:
            return cached[1], cached[2], cached[3], cached[4]
        v = self.unit_view[k]
        route = self.routes.get((v, dest, x0))
        if route is None:  # trips from a hospital or a post repeat: build each route once
            view = self.m.views[v]
            nodes, remaining = view.keys.route(dest, x0)
            edges = view.network.edge_between(nodes[:-1], nodes[1:]).tolist() if len(nodes) > 1 else []
            route = (nodes.tolist(), remaining.tolist(), (-remaining).tolist(), edges)
            self.routes[(v, dest, x0)] = route
        self.route_cache[k] = (int(self.trip_id[k]), *route)
        return route

    # ------------------------------------------------------------------ a decision
    def dispatch(self, t: float) -> None:
        """Decide every waiting call at once with the policy (free units only)."""
        if not self.pending:
            return
        m, p = self.m, self.p
        slot_ids = list(self.pending)
        slot_call = self.slot_call
        first = slot_call[slot_ids[0]]
        if m.policy != "coverage_aware" and self.call_simple[first] and all(slot_call[s] == first for s in slot_ids):
            picks = self._decide_one(t, first, slot_ids)  # no free unit: no pick
        else:
            free = np.flatnonzero((self.state == IDLE) | (self.state == DRIVING))
            if len(free) == 0:
                return
            ids = np.asarray(slot_ids, dtype=np.int64)
            picks = self._decide_many(t, ids, p.slot_call[ids], free)
        for s, k, eta, from_post in picks:
            j = slot_call[s]
            delay = float(self.turnout[s]) if from_post else 0.0
            arrive = t + delay + eta
            del self.pending[s]
            self.a_unit[s], self.a_disp[s], self.a_from[s] = k, t, 0 if from_post else 1
            if not t >= self.first_dispatch[j]:
                self.first_dispatch[j] = t
            self.left[j] += 1
            self.unit_slot[k] = s
            self.trip_id[k] += 1
            self.trip[k] = None
            self.set_state(k, TO_SCENE, t)
            self.push(arrive, _ARRIVE, k, s)
        if self.search_cache:
            live = set(p.slot_call[np.fromiter(self.pending, dtype=np.int64)].tolist()) if self.pending else set()
            for vj in [vj for vj in self.search_cache if vj[1] not in live]:
                del self.search_cache[vj]

    def _simple_calls(self) -> np.ndarray:
        """Per call: no slot asks for capabilities (its lines are then one per unit type)."""
        p = self.p
        plain = np.asarray([not caps for caps in p.slot_caps], dtype=bool)
        bad = np.zeros(len(p.calls), dtype=bool)
        np.logical_or.at(bad, p.slot_call[~plain], True)
        return ~bad

    def _decide_one(self, t: float, j: int, slot_ids: list[int]) -> list[tuple[int, int, float, bool]]:
        """One waiting call whose lines ask for plain unit types (the common decision).

        For each unit type the lexicographic optimum (and the closest rule) is the ``need``
        fastest free units, ties to the lower unit index. Exact ETAs are needed only for units
        that could be among them: as in :meth:`etas`, a unit driving between junctions is
        searched only when a lower bound on its ETA is within the ``need``-th fastest known ETA
        of its type. Besides the bound through its destination post this also takes the
        landmark bounds through every key point (triangle inequality with the precomputed key
        times), so most searches are skipped; a skipped unit is slower than ``need`` others and
        the choice is the one :meth:`etas` + :func:`solve_optimal` would make.

        Returns
        -------
        list of (slot, unit, eta_s, from_post), in slot order.
        """
        m, p = self.m, self.p
        need: dict[str, list[int]] = {}
        for s in slot_ids:
            need.setdefault(self.slot_type[s], []).append(s)
        type_view = m.type_view
        cks: dict[int, list[float]] = {}  # the call's row of key times, per view
        state, base = self.state.tolist(), self.base.tolist()
        cands: dict[str, list[tuple[float, int, bool]]] = {}
        thr_of: dict[str, float] = {}
        # per view: type, unit, node, rem, eta along its road
        moving_of: dict[int, list[tuple[str, int, int, float, float]]] = {}
        for utype, slots in need.items():
            v = type_view.get(utype, 0)
            ck = cks.get(v)
            if ck is None:
                ck = cks[v] = p.times[v].call_key[j].tolist()
            found: list[tuple[float, int, bool]] = []
            for k in self.type_units.get(utype, ()):
                st = state[k]
                if st == IDLE:
                    e = ck[base[k]]
                    if e < math.inf:
                        found.append((e, k, True))
                    continue
                if st != DRIVING:
                    continue
                key, node, rem, edge, frac = self.position(k, t)
                if key >= 0:
                    e = rem + ck[key]
                    if e < math.inf:
                        found.append((e, k, False))
                else:
                    moving_of.setdefault(v, []).append(
                        (utype, k, node, rem, self._ahead_one(edge, frac, j) if edge >= 0 else math.inf)
                    )
            known = sorted(e for e, _, _ in found)
            thr_of[utype] = known[len(slots) - 1] if len(known) >= len(slots) else math.inf
            cands[utype] = found
        for v, moving in moving_of.items():  # a unit type's candidates all come from one view
            if self.to_node is not None:
                self._moving_exact(j, v, cks[v], moving, thr_of, cands)
                continue
            ct, keys = p.times[v], m.views[v].keys
            row = ct.call_key[j]
            nodes = np.asarray([mv[2] for mv in moving], dtype=np.int64)
            rems = np.asarray([mv[3] for mv in moving])
            thr = np.asarray([thr_of[mv[0]] for mv in moving])
            dests = np.asarray([int(self.trip[mv[1]][0]) for mv in moving], dtype=np.int64)  # type: ignore[index]
            with np.errstate(invalid="ignore"):
                lower = rems + np.maximum(row[dests] - keys.forward[dests, nodes], 0.0)  # as etas()
                want = (lower <= thr) & (thr > 0)
                if want.any():
                    landmark = np.fmax(
                        row[:, None] - keys.forward[:, nodes], keys.reverse[:, nodes] - ct.call_to_key[j][:, None]
                    )
                    lb = np.fmax.reduce(landmark, axis=0)
                    lb = np.where(np.isnan(lb), -np.inf, lb)
                    want &= rems + lb - _BOUND_SLACK_S <= thr
            via = np.full(len(moving), np.inf)
            if want.any():
                limit = max(float(np.max(thr[want] - rems[want])), 0.0) + _BOUND_SLACK_S
                to_call = self.times_to_call(v, j, limit, nodes[want])
                via[want] = np.where(to_call <= limit, rems[want] + to_call, np.inf)
            for (utype, k, _, _, ahead), w in zip(moving, via.tolist(), strict=True):
                e = min(ahead, w)
                if e < math.inf:
                    cands[utype].append((e, k, False))
        picks: dict[int, tuple[int, int, float, bool]] = {}
        for utype, slots in need.items():
            best = sorted(cands.get(utype, []), key=lambda c: (c[0], c[1]))[: len(slots)]
            for s, (e, k, from_post) in zip(slots, best, strict=False):
                picks[s] = (s, k, e, from_post)
        return [picks[s] for s in slot_ids if s in picks]

    def _moving_exact(
        self,
        j: int,
        v: int,
        ck: list[float],
        moving: list[tuple[str, int, int, float, float]],
        thr_of: dict[str, float],
        cands: dict[str, list[tuple[float, int, bool]]],
    ) -> None:
        """:meth:`_decide_one`'s units between junctions, with the node table (small networks).

        The exact time from a unit's next junction is a lookup, so the landmark bounds and the
        search limit are not needed: a unit they would skip (or find beyond the limit) is slower
        than the ``need``-th known ETA of its type and cannot be chosen either way. The first
        bound (through the unit's destination post, no slack) and ``thr > 0`` are kept as they
        are, so exactly the same units can be chosen, with the same sums. ``v``: the view of the
        units in ``moving``, ``ck`` the call's row of key times on it.
        """
        pts, forward = self.p.points, self.m.views[v].keys.forward
        to_u, to_v = self.node_times(v, int(pts.u[j])), self.node_times(v, int(pts.v[j]))
        from_u, from_v = float(pts.from_u[j]), float(pts.from_v[j])
        trip = self.trip
        for utype, k, node, rem, ahead in moving:
            thr = thr_of[utype]
            e = ahead
            if thr > 0:
                dest = trip[k][0]  # type: ignore[index]
                gap = ck[dest] - float(forward[dest, node])  # Python floats: inf - inf is nan, no warning
                if rem + (gap if gap > 0.0 or gap != gap else 0.0) <= thr:  # as np.maximum(gap, 0.0)
                    via = rem + min(float(to_u[node]) + from_u, float(to_v[node]) + from_v)
                    e = min(ahead, via)
            if e < math.inf:
                cands[utype].append((e, k, False))

    def _ahead_one(self, edge: int, frac: float, j: int) -> float:
        """:meth:`ahead` for one call (same arithmetic, plain floats)."""
        p, net = self.p, self.m.network
        ce = int(p.points.edge[j])
        twin = int(net.twin_edge[edge])
        f = float(p.points.fraction[j])
        if ce == edge:
            pos = f
        elif ce == twin:
            pos = 1.0 - f
        else:
            return math.inf
        return (pos - frac) * float(net.edge_time_s[edge]) if pos >= frac else math.inf

    def _decide_many(
        self, t: float, slot_ids: np.ndarray, call_of: np.ndarray, free: np.ndarray
    ) -> list[tuple[int, int, float, bool]]:
        """Every waiting call together with the policy (assignment engine); see :meth:`_decide_one`."""
        m, p = self.m, self.p
        calls, inc = np.unique(call_of, return_inverse=True)
        if len(calls) > 1:
            order_calls = np.lexsort((calls, self.ready[calls]))
            rank = np.empty(len(calls), dtype=np.int64)
            rank[order_calls] = np.arange(len(calls))
            inc = rank[inc]
            calls = calls[order_calls]
        lines = [(p.slot_type[s], p.slot_caps[s]) for s in slot_ids]
        fits = np.vstack([self.fits(*line)[free] for line in lines])
        usable = fits.any(axis=0)
        if not usable.any():
            return []
        free, fits = free[usable], fits[:, usable]
        per_type: dict[str, int] = {}
        for utype, _ in lines:
            per_type[utype] = per_type.get(utype, 0) + 1
        eta, from_post = self.etas(t, free, fits, inc, lines, calls, per_type)
        fits &= np.isfinite(eta[inc])
        simple = (
            len(calls) == 1 and m.policy != "coverage_aware" and len(per_type) == len(set(lines))
            and not any(caps for _, caps in lines)
        )  # fmt: skip
        if simple:
            # one call whose lines ask for distinct unit types without capabilities: the
            # lexicographic optimum (and the closest rule) is the k fastest fitting units per type
            choice = [-1] * len(slot_ids)
            row = eta[0]
            for utype, need in per_type.items():
                cols = np.flatnonzero(fits[lines.index((utype, ()))])
                best = cols[np.lexsort((cols, row[cols]))][:need]
                members = [i for i, line in enumerate(lines) if line[0] == utype]
                for i, col in zip(members, best.tolist(), strict=False):
                    choice[i] = int(col)
        else:
            slots = [
                Slot(int(inc[i]), int(p.slot_line[s]), int(p.slot_copy[s]), lines[i][0], lines[i][1],
                     int(self.slot_prio[s]))
                for i, s in enumerate(slot_ids)
            ]  # fmt: skip
            remaining = m.target_s - (t - p.calls.time_s[calls])
            if m.policy == "closest":
                prio = p.calls.priority[calls]
                order = sorted(range(len(calls)), key=lambda i: (int(prio[i]), i))
                choice = solve_closest(slots, eta, fits, order)
            else:
                choice = solve_optimal(slots, eta, fits, remaining)
                if self.coverage is not None and any(c >= 0 for c in choice):
                    bases = np.asarray([self._base_of(int(k)) for k in free])
                    apply_tiebreak(
                        self.coverage, slots, choice, eta, fits, remaining,
                        np.asarray([m.unit_type[int(k)] for k in free]), np.ones(len(free), dtype=bool),
                        m.key_lon[bases], m.key_lat[bases], TIE_TOLERANCE_S,
                    )  # fmt: skip
        return [
            (int(slot_ids[i]), int(free[col]), float(eta[inc[i], col]), bool(from_post[col]))
            for i, col in enumerate(choice)
            if col >= 0
        ]

    def etas(
        self,
        t: float,
        free: np.ndarray,
        fits: np.ndarray,
        inc: np.ndarray,
        lines: list[tuple[str, tuple[str, ...]]],
        calls: np.ndarray,
        per_type: dict[str, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        """ETA matrix (calls x free units) and which units rest at a post (turnout applies).

        Units at a post (or at a hospital the moment they are free) use the precomputed exact
        times. A unit between junctions gets an exact ETA only where it could matter: for each
        call and requirement line, with ``need`` = slots of that type in the batch, a unit slower
        than the ``need``-th fastest unit of known ETA (plus the tie tolerance) cannot change the
        optimum and stays ``inf``. A lower bound (triangle inequality through its destination
        post) skips most searches; the rest get one bounded search from the next junction.
        Every unit's times are on its own view of the network (boats that do not carry its type
        blocked); with one view, as here, the columns of a view are all columns.
        """
        m, p = self.m, self.p
        idle = self.state[free] == IDLE
        eta = np.full((len(calls), len(free)), np.inf)
        view_of = m.unit_view[free] if len(m.views) > 1 else None
        views = [0] if view_of is None else np.unique(view_of).tolist()
        if idle.any():
            for v in views:
                sel = idle if view_of is None else idle & (view_of == v)
                eta[:, sel] = p.times[v].call_key[calls][:, self.base[free[sel]]]
        moving: list[tuple[int, int, float]] = []
        unit_view = self.unit_view
        for c in np.flatnonzero(~idle).tolist():
            k = int(free[c])
            key, node, rem, edge, frac = self.position(k, t)
            if key >= 0:
                eta[:, c] = rem + p.times[unit_view[k]].call_key[calls, key]
            else:
                moving.append((c, node, rem))
                if edge >= 0:
                    eta[:, c] = self.ahead(edge, frac, calls)
        if not moving:
            return eta, idle
        tol = TIE_TOLERANCE_S if m.policy == "coverage_aware" else 0.0
        threshold = np.zeros((len(calls), len(free)))
        known = np.isfinite(eta)
        known[:, [c for c, _, _ in moving]] = False
        seen: set[tuple[int, str, tuple[str, ...]]] = set()
        for s, (utype, caps) in enumerate(lines):
            i = int(inc[s])
            if (i, utype, caps) in seen:
                continue
            seen.add((i, utype, caps))
            mask = fits[s]
            vals = np.sort(eta[i, mask & known[i]])
            need = per_type[utype]
            thr = float(vals[need - 1]) + tol if len(vals) >= need else math.inf
            threshold[i] = np.where(mask, np.maximum(threshold[i], thr), threshold[i])
        # which (call, moving unit) pairs could matter, by a lower bound through the unit's post
        all_m = np.arange(len(moving))
        for v in views:
            mine = all_m if view_of is None else all_m[view_of[[c for c, _, _ in moving]] == v]
            if not len(mine):
                continue
            group = [moving[i] for i in mine.tolist()]
            ct, forward = p.times[v], m.views[v].keys.forward
            nodes_m = np.asarray([node for _, node, _ in group], dtype=np.int64)
            rem_m = np.asarray([rem for _, _, rem in group])
            cols = np.asarray([c for c, _, _ in group], dtype=np.int64)
            dests = np.asarray([int(self.trip[int(free[c])][0]) for c in cols], dtype=np.int64)  # type: ignore[index]
            bound = threshold[:, cols]  # (calls, moving)
            with np.errstate(invalid="ignore"):
                lower = rem_m[None, :] + np.maximum(
                    ct.call_key[calls][:, dests] - forward[dests, nodes_m][None, :], 0.0
                )
            want = (lower <= bound) & (bound > 0)
            for i in np.flatnonzero(want.any(axis=1)).tolist():
                w = want[i]
                limit = max(float(np.max(bound[i, w] - rem_m[w])), 0.0)
                to_call = self.times_to_call(v, int(calls[i]), limit, nodes_m[w])
                via = np.where(to_call <= limit, rem_m[w] + to_call, np.inf)
                eta[i, cols[w]] = np.minimum(eta[i, cols[w]], via)
        return eta, idle

    def ahead(self, edge: int, frac: float, calls: np.ndarray) -> np.ndarray:
        """Seconds to calls on the unit's own road ahead of it (``inf`` for every other call)."""
        p, net = self.p, self.m.network
        ce = p.points.edge[calls]
        twin = int(net.twin_edge[edge])
        pos = np.where(ce == edge, p.points.fraction[calls], np.where(ce == twin, 1.0 - p.points.fraction[calls], -1.0))
        t_e = float(net.edge_time_s[edge])
        return np.where((pos >= frac) & ((ce == edge) | (ce == twin)), (pos - frac) * t_e, np.inf)

    def times_to_call(self, v: int, j: int, limit: float, nodes: np.ndarray) -> np.ndarray:
        """Seconds from each of ``nodes`` to call ``j`` on view ``v``, exact up to ``limit``: two reverse searches.

        Beyond ``limit`` a time is ``inf`` or some time beyond ``limit`` (callers keep only times
        within it). On a small network (:data:`NODE_TABLE_BYTES`) the whole search from each end
        of the call's road is kept per node (:meth:`node_times`). Otherwise one search to each
        end, stopped as soon as every node asked for is settled (the times are exact there); a
        full search (``limit`` inf, when too few units of known ETA fit) is kept while the call
        waits, so a call queued through many decisions is searched once.
        """
        p = self.p
        u, w = int(p.points.u[j]), int(p.points.v[j])
        from_u, from_v = float(p.points.from_u[j]), float(p.points.from_v[j])
        if self.to_node is not None:
            # the whole search from each end, kept per node: a settled node's time does not
            # depend on where a search stops, so these are the bounded searches' times (beyond
            # ``limit`` the sum stays beyond it: the callers drop it the same way)
            return np.minimum(self.node_times(v, u)[nodes] + from_u, self.node_times(v, w)[nodes] + from_v)
        cached = self.search_cache.get((v, j))
        if cached is not None:
            return cached[nodes]
        search = self.workspace[v].multi(True)
        if math.isinf(limit):
            both = np.full((2, self.m.network.n_nodes), np.inf)
            for r, end in enumerate((u, w)):
                reached, times, _, _, _ = search.run([end], [0.0], math.inf)
                both[r, reached] = times
            full = np.minimum(both[0] + from_u, both[1] + from_v)
            self.search_cache[(v, j)] = full
            return full[nodes]
        scratch = self.scratch
        part = []
        for end in (u, w):
            reached, times, _, _, _ = search.run([end], [0.0], limit, nodes)
            scratch[reached] = times
            part.append(scratch[nodes])
            scratch[reached] = np.inf
        return np.minimum(part[0] + from_u, part[1] + from_v)

    def node_times(self, v: int, node: int) -> np.ndarray:
        """Seconds from every node to ``node`` on view ``v`` (``inf`` = unreachable): one reverse search, kept."""
        assert self.to_node is not None
        table = self.to_node[v]
        row = table.get(node)
        if row is None:
            reached, times, _, _, _ = self.workspace[v].multi(True).run([node], [0.0], math.inf)
            row = np.full(self.m.network.n_nodes, np.inf)
            row[reached] = times
            table[node] = row
        return row

    def _base_of(self, k: int) -> int:
        if self.state[k] == DRIVING and self.trip[k] is not None:
            return int(self.trip[k][0])  # type: ignore[index]
        return int(self.base[k])
