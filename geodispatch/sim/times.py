"""Exact travel times between the simulation's fixed places and any point, computed once.

Units start from, return to and are relocated between a few fixed places (stations, posts,
hospitals: the *key points*). One forward and one reverse point search per key point (each key
point a virtual node on its road, as in :func:`geodispatch.network.traveltime.point_search`)
give every time the simulator needs without a search per event:

* key point -> call: ``min(F[u] + from_u, F[v] + from_v, same road)`` with ``F`` the key point's
  forward times and ``u -> v`` the call's road (``from_u`` = time from ``u`` to the call along it);
* call or hospital -> key point: ``min(to_v + R[v], to_u + R[u], same road)`` with ``R`` the
  reverse times, which also hold the route back (the reverse search's tree), so a unit driving
  home can be followed and sent from where it is.

Only a unit that is sent to a new call while driving needs a search of its own (from the next
junction on its route): :meth:`KeyPoints.node_times`, bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from geodispatch.network.traveltime import point_search, point_travel_times, sparse_travel_times, travel_times

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork
    from geodispatch.network.snap import SnapResult

EXIT_V, EXIT_U, EXIT_DIRECT = 0, 1, 2
"""How a drive from a point to a key point leaves the point's road: via its head ``v``, its
tail ``u``, or along the road itself (both on the same road)."""


@dataclass(frozen=True)
class Points:
    """Snapped points (arrays, one entry per point).

    ``from_u``/``from_v``: seconds from the edge's tail/head to the point along the road (``inf``
    when the road is one-way the other way); ``to_v``/``to_u``: from the point to the head/tail.
    """

    edge: np.ndarray
    u: np.ndarray
    v: np.ndarray
    fraction: np.ndarray
    from_u: np.ndarray
    from_v: np.ndarray
    to_u: np.ndarray
    to_v: np.ndarray
    distance_m: np.ndarray

    @classmethod
    def from_snap(cls, snap: SnapResult) -> Points:
        """Points of a snap (unsnapped points keep edge -1 and infinite times)."""
        ok = snap.edge >= 0

        def t(a: np.ndarray) -> np.ndarray:
            return np.where(ok, np.asarray(a, dtype=np.float64), np.inf)

        return cls(
            edge=np.asarray(snap.edge, dtype=np.int64),
            u=np.where(ok, snap.u, 0).astype(np.int64),
            v=np.where(ok, snap.v, 0).astype(np.int64),
            fraction=np.asarray(snap.fraction, dtype=np.float64),
            from_u=t(snap.time_from_u_s),
            from_v=t(snap.time_from_v_s),
            to_u=t(snap.time_to_u_s),
            to_v=t(snap.time_to_v_s),
            distance_m=np.asarray(snap.distance_m, dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.edge)

    def subset(self, index: np.ndarray) -> Points:
        """The points at ``index`` (positions)."""
        return Points(*(getattr(self, f)[index] for f in Points.__dataclass_fields__))


def same_road_times(network: RoadNetwork, src: Points, dst: Points) -> np.ndarray:
    """Times between points on the same road without leaving it, shape (len(src), len(dst)).

    ``inf`` where the two points are on different roads or the road is one-way against the
    direction of travel. (The exact rule of :mod:`geodispatch.assign.eta` for a unit on the
    incident's own road.)
    """
    out = np.full((len(src), len(dst)), np.inf)
    if len(src) == 0 or len(dst) == 0:
        return out
    twin = network.twin_edge
    e = dst.edge
    tw = np.where(e >= 0, twin[np.maximum(e, 0)], -1)
    on_e = (src.edge[:, None] == e[None, :]) & (e[None, :] >= 0)
    on_twin = (src.edge[:, None] == tw[None, :]) & (tw[None, :] >= 0)
    same = on_e | on_twin
    if not same.any():
        return out
    i, j = np.nonzero(same)
    p = np.where(on_e[i, j], src.fraction[i], 1.0 - src.fraction[i])  # position along dst's edge
    f = dst.fraction[j]
    t_e = network.edge_time_s[e[j]]
    along = np.where(p <= f, (f - p) * t_e, np.inf)
    has_twin = tw[j] >= 0
    t_tw = network.edge_time_s[np.maximum(tw[j], 0)]
    back = np.where(has_twin & (p >= f), (p - f) * t_tw, np.inf)
    out[i, j] = np.minimum(along, back)
    return out


class KeyPoints:
    """Forward and reverse exact times of the key points (stations, posts, hospitals).

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    points : Points
        The key points, snapped (every one must be on the network).

    Attributes
    ----------
    forward : ndarray, shape (k, n_nodes)
        Seconds from key point ``i`` to every node.
    reverse : ndarray, shape (k, n_nodes)
        Seconds from every node to key point ``i``.
    next_hop : ndarray of int32, shape (k, n_nodes + 1)
        Next node on the fastest path from a node to key point ``i`` (``n_nodes`` = the key
        point itself; negative where unreachable).
    """

    def __init__(self, network: RoadNetwork, points: Points, snap: SnapResult) -> None:
        self.network = network
        self.points = points
        k = len(points)
        n = network.n_nodes
        self.forward = np.asarray(point_travel_times(network, snap), dtype=np.float64).reshape(k, n)
        self.reverse = np.empty((k, n))
        self.next_hop = np.empty((k, n + 1), dtype=np.int32)
        for i in range(k):
            self.reverse[i], self.next_hop[i] = point_search(network, snap, i, reverse=True)

    def __len__(self) -> int:
        return len(self.points)

    def to_points(self, dst: Points) -> np.ndarray:
        """Seconds from each key point to each point, shape (k, len(dst)) (``inf`` = no way)."""
        ok = dst.edge >= 0
        via_u = self.forward[:, dst.u] + dst.from_u[None, :]
        via_v = self.forward[:, dst.v] + dst.from_v[None, :]
        out = np.minimum(np.minimum(via_u, via_v), same_road_times(self.network, self.points, dst))
        out[:, ~ok] = np.inf
        return out

    def from_points(self, src: Points) -> tuple[np.ndarray, np.ndarray]:
        """Seconds from each point to each key point, and how the drive leaves the point's road.

        Returns
        -------
        time_s : ndarray, shape (len(src), k)
        exit : ndarray of int8, shape (len(src), k)
            :data:`EXIT_V`, :data:`EXIT_U` or :data:`EXIT_DIRECT`.
        """
        ok = src.edge >= 0
        via_v = src.to_v[:, None] + self.reverse[:, src.v].T
        via_u = src.to_u[:, None] + self.reverse[:, src.u].T
        direct = same_road_times(self.network, src, self.points)
        stack = np.stack([via_v, via_u, direct])
        exit_ = np.argmin(stack, axis=0).astype(np.int8)
        out = np.take_along_axis(stack, exit_[None].astype(np.int64), axis=0)[0]
        out[~ok, :] = np.inf
        return out, exit_

    def route(self, key: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Nodes of the fastest path from node ``start`` to key point ``key`` and the time left.

        Returns
        -------
        nodes : ndarray of int64
            ``start`` first; the key point itself is not included.
        remaining_s : ndarray of float64
            Seconds from each node to the key point (decreasing).
        """
        n = self.network.n_nodes
        hop = self.next_hop[key]
        nodes = [start]
        node = start
        for _ in range(n):
            node = int(hop[node])
            if node == n or node < 0:
                break
            nodes.append(node)
        arr = np.asarray(nodes, dtype=np.int64)
        return arr, self.reverse[key, arr]

    def node_times(self, node: int, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Nodes reached from ``node`` within ``limit`` seconds and their times (bounded search).

        ``limit`` may be ``inf`` (a full search).
        """
        if math.isinf(limit):
            t = travel_times(self.network, [node])[0]
            reached = np.flatnonzero(np.isfinite(t))
            return reached, t[reached]
        m = sparse_travel_times(self.network, [node], limit)
        return m.indices.astype(np.int64), m.data.astype(np.float64)
