"""The land of the synthetic regency: main island, small offshore island, river; town sites."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from geodispatch.synthetic._common import _REF_NODES, _REF_RADIUS_M

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------- land
@dataclass
class _Land:
    main: Any  # shapely Polygon, local frame (m)
    island: Any
    both: Any
    island_centre: np.ndarray
    river: Any  # full LineString from sea to sea, local frame
    river_x: np.ndarray  # river vertices in the rotated frame: y' = f(x') piecewise linear
    river_y: np.ndarray
    river_slope: float
    ex: np.ndarray  # rotated frame unit vectors (x' along the river)
    ey: np.ndarray

    def river_offset(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed vertical offset y' - f(x') from the river in the rotated frame (m)."""
        xr = x * self.ex[0] + y * self.ex[1]
        yr = x * self.ey[0] + y * self.ey[1]
        return yr - np.interp(xr, self.river_x, self.river_y)

    def river_distance_lb(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """A lower bound of the distance to the river (m)."""
        return np.abs(self.river_offset(x, y)) / math.sqrt(1.0 + self.river_slope**2)


def _radial_polygon(rng: np.random.Generator, radius: float, n_vertices: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """An irregular star-shaped coastline around the origin: smooth lobes plus small roughness."""
    theta = np.linspace(0.0, 2.0 * math.pi, n_vertices, endpoint=False)
    k = np.arange(2, 41)
    amp = np.where(k <= 6, rng.uniform(0.04, 0.13, k.size) / np.sqrt(k - 1.0), rng.uniform(0.0, 0.012, k.size))
    phase = rng.uniform(0.0, 2.0 * math.pi, k.size)
    rr = 1.0 + (amp[:, None] * np.cos(k[:, None] * theta[None, :] + phase[:, None])).sum(axis=0)
    rr = np.maximum(rr, 0.5) * radius
    return rr * np.cos(theta), rr * np.sin(theta)


def _make_land(rng: np.random.Generator, r0: float) -> _Land:
    """Main island, small island and a river crossing the main island (local frame, metres)."""
    mx, my = _radial_polygon(rng, r0)
    main = shapely.Polygon(np.column_stack([mx, my]))
    alpha = rng.uniform(0.0, math.pi)
    ex = np.array([math.cos(alpha), math.sin(alpha)])
    ey = np.array([-math.sin(alpha), math.cos(alpha)])
    # river y' = f(x') in the rotated frame: a function graph, so it never crosses itself
    step = min(100.0, r0 / 60.0)
    xr = np.arange(-2.0 * r0, 2.0 * r0 + step, step)
    lam1, lam2 = rng.uniform(1.2, 1.8) * r0, rng.uniform(0.4, 0.6) * r0
    lam3 = rng.uniform(2000.0, 3000.0) * min(1.0, r0 / _REF_RADIUS_M)
    yr = (
        rng.uniform(-0.12, 0.12) * r0
        + rng.uniform(0.06, 0.10) * r0 * np.sin(2 * math.pi * xr / lam1 + rng.uniform(0, 2 * math.pi))
        + 0.03 * r0 * np.sin(2 * math.pi * xr / lam2 + rng.uniform(0, 2 * math.pi))
        + 200.0 * min(1.0, r0 / _REF_RADIUS_M) * np.sin(2 * math.pi * xr / lam3 + rng.uniform(0, 2 * math.pi))
    )
    slope = float(np.max(np.abs(np.diff(yr) / np.diff(xr))))
    river = shapely.LineString(np.column_stack([xr * ex[0] + yr * ey[0], xr * ex[1] + yr * ey[1]]))
    # the small island lies off the coast on one side of the river's course, never on it
    side = 1.0 if rng.random() < 0.5 else -1.0
    d = ey * side
    ix, iy = _radial_polygon(rng, 0.16 * r0, 120)
    reach_main = float(np.max(mx * d[0] + my * d[1]))
    reach_island = float(np.max(-(ix * d[0] + iy * d[1])))
    centre = d * (reach_main + 0.3 * r0 + reach_island) + ex * rng.uniform(-0.3, 0.3) * r0
    island = shapely.Polygon(np.column_stack([ix + centre[0], iy + centre[1]]))
    both = shapely.MultiPolygon([main, island])
    shapely.prepare(main)
    shapely.prepare(island)
    shapely.prepare(both)
    return _Land(main, island, both, centre, river, xr, yr, slope, ex, ey)


def _sample_uniform(rng: np.random.Generator, poly: Any, n: int) -> np.ndarray:
    """``n`` points uniformly inside a (prepared) polygon, by vectorised rejection."""
    minx, miny, maxx, maxy = poly.bounds
    out: list[np.ndarray] = []
    have = 0
    ratio = max(poly.area / ((maxx - minx) * (maxy - miny)), 0.05)
    while have < n:
        m = int((n - have) / ratio * 1.2) + 16
        pts = np.column_stack([rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)])
        pts = pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]
        out.append(pts)
        have += len(pts)
    return np.concatenate(out)[:n]


# ---------------------------------------------------------------------------------------- towns
@dataclass
class _Towns:
    cx: np.ndarray
    cy: np.ndarray
    side: np.ndarray  # grid side (nodes)
    spacing: np.ndarray  # block size, m
    rot: np.ndarray  # grid rotation, rad
    radius: np.ndarray  # m
    island: np.ndarray  # bool
    core: np.ndarray  # bool: one-way couplets allowed

    def __len__(self) -> int:
        return len(self.cx)


def _place_towns(rng: np.random.Generator, land: _Land, n_nodes: int, r0: float) -> _Towns:
    """Mainland towns (capital first, then by size) spread by farthest-point choice, plus the island village."""
    scale2 = n_nodes / _REF_NODES
    n_towns = max(3, round(5 * scale2))
    weights = np.concatenate([[2.2], np.sort(np.clip(rng.lognormal(0.0, 0.45, n_towns - 1), 0.4, 1.8))[::-1]])
    nodes = 0.415 * n_nodes * weights / weights.sum()
    side = np.maximum(4, np.round(np.sqrt(nodes / 0.80))).astype(np.int64)
    spacing = rng.uniform(95.0, 130.0, n_towns)
    radius = (side - 1) / 2.0 * spacing * 1.2
    cand = _sample_uniform(rng, land.main, max(2000, 24 * n_towns))
    coast = shapely.distance(shapely.points(cand), land.main.exterior)
    river = land.river_distance_lb(cand[:, 0], cand[:, 1])
    mind = np.full(len(cand), np.inf)
    alive = np.ones(len(cand), dtype=bool)
    noise = rng.uniform(0.35, 1.0, len(cand))
    centroid = np.array(land.main.centroid.coords[0])
    placed: list[int] = []  # candidate index of each town, biggest (the capital) first
    for t in range(n_towns):
        ok = alive & (coast >= radius[t] + 400.0) & (river >= radius[t] + 600.0)
        if not ok.any():
            log.debug("synthetic: room for only %d of %d towns", t, n_towns)
            break
        # the capital near the middle of the land, then each town far from the others
        score = -np.hypot(cand[:, 0] - centroid[0], cand[:, 1] - centroid[1]) if t == 0 else mind
        i = int(np.argmax(np.where(ok, score * noise, -np.inf)))
        placed.append(i)
        dist2 = (cand[:, 0] - cand[i, 0]) ** 2 + (cand[:, 1] - cand[i, 1]) ** 2
        np.minimum(mind, dist2, out=mind)
        alive &= dist2 >= (2.0 * radius[t] + 1500.0) ** 2  # later towns are no bigger than this one
    k = len(placed)
    cx, cy = cand[placed, 0], cand[placed, 1]
    # the island village
    isl_side = max(3, round(math.sqrt(0.02 * n_nodes / 0.8)))
    return _Towns(
        cx=np.array([*cx, land.island_centre[0]]),
        cy=np.array([*cy, land.island_centre[1]]),
        side=np.concatenate([side[:k], [isl_side]]),
        spacing=np.concatenate([spacing[:k], [100.0]]),
        rot=rng.uniform(0.0, math.pi / 2, k + 1),
        radius=np.concatenate([radius[:k], [(isl_side - 1) / 2.0 * 100.0 * 1.2]]),
        island=np.concatenate([np.zeros(k, dtype=bool), [True]]),
        core=np.concatenate([side[:k] >= 10, [False]]),
    )
