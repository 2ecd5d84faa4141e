"""Population points and desa polygons of the synthetic regency (SYNTHETIC)."""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geodispatch.synthetic._common import _PEOPLE_PER_NODE, _geom_to_lonlat, _source, _to_lonlat
from geodispatch.synthetic.facilities import _Kecamatan
from geodispatch.synthetic.land import _Land, _Towns

log = logging.getLogger(__name__)


def _population(
    rng: np.random.Generator,
    towns: _Towns,
    land: _Land,
    xy: np.ndarray,
    mass: np.ndarray,
    is_town: np.ndarray,
    n_points: int,
    n_nodes: int,
    seed: int,
) -> pd.DataFrame:
    """Population points, denser in towns, all on land; ``population`` in people (float)."""
    total = _PEOPLE_PER_NODE * n_nodes
    n_town = round(0.40 * n_points)
    n_island = round(0.08 * n_points)
    n_rural = n_points - n_town - n_island
    main_towns = np.flatnonzero(~towns.island)
    rural_nodes = np.flatnonzero(~is_town & (mass == 0))
    island_nodes = np.flatnonzero(mass == 1)

    def town_draw(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w = towns.side[main_towns].astype(float) ** 2
        t = main_towns[rng.choice(len(main_towns), size=m, p=w / w.sum())]
        base = np.column_stack([towns.cx[t], towns.cy[t]])
        return base, rng.normal(0.0, 0.45, (m, 2)) * towns.radius[t][:, None], towns.radius[t]

    def node_draw(nodes: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        base = xy[nodes[rng.integers(0, len(nodes), m)]]
        return base, rng.normal(0.0, 150.0, (m, 2)), np.full(m, np.inf)

    groups = [
        (n_town, 0.50, land.main, town_draw),
        (n_rural, 0.45, land.main, None),
        (n_island, 0.05, land.island, None),
    ]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    shares = sum(share for m, share, _, _ in groups if m > 0)
    for gi, (m, share, poly, draw) in enumerate(groups):
        if m <= 0:
            continue
        nodes = rural_nodes if gi == 1 else island_nodes

        def sample(k: int, draw: Any = draw, nodes: np.ndarray = nodes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return draw(k) if draw is not None else node_draw(nodes, k)

        base, jitter, limit = sample(m)
        pts = base + jitter
        for _ in range(30):
            bad = ~shapely.contains_xy(poly, pts[:, 0], pts[:, 1]) | (np.hypot(*jitter.T) > 1.15 * limit)
            if not bad.any():
                break
            b2, j2, l2 = sample(int(bad.sum()))
            base[bad], jitter[bad], limit[bad] = b2, j2, l2
            pts = base + jitter
        else:
            bad = ~shapely.contains_xy(poly, pts[:, 0], pts[:, 1])
            pts[bad] = base[bad]  # node / town-centre positions are on land
        weight = rng.lognormal(0.0, 0.5, m)
        parts.append((pts, weight / weight.sum() * share / shares * total))
    pts = np.concatenate([p for p, _ in parts])
    lon, lat = _to_lonlat(pts[:, 0], pts[:, 1])
    df = pd.DataFrame({"lon": lon, "lat": lat, "population": np.concatenate([w for _, w in parts])})
    df.attrs["source"] = "SYNTHETIC: " + _source(seed)
    return df


def _areas(
    rng: np.random.Generator,
    land: _Land,
    xy: np.ndarray,
    mass: np.ndarray,
    is_town: np.ndarray,
    kec: _Kecamatan,
    n_nodes: int,
    seed: int,
) -> gpd.GeoDataFrame:
    """Desa polygons: a Voronoi tiling of each landmass from seeds (denser in towns), clipped to it."""
    n_desa = max(12, round(n_nodes / 50))
    n_island = max(2, round(n_desa * float(np.mean(mass == 1))))
    geoms: list[np.ndarray] = []
    kecs: list[np.ndarray] = []
    for m, poly, count in ((0, land.main, n_desa - n_island), (1, land.island, n_island)):
        town_nodes = np.flatnonzero(is_town & (mass == m))
        other = np.flatnonzero(~is_town & (mass == m))
        n_t = min(len(town_nodes), count // 2 if m == 0 else 0)
        seeds = np.concatenate(
            [rng.choice(town_nodes, n_t, replace=False), rng.choice(other, min(len(other), count - n_t), replace=False)]
        )
        sxy = xy[seeds]
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(sxy), extend_to=poly))
        pt_i, cell_i = shapely.STRtree(cells).query(shapely.points(sxy), predicate="within")
        cell_of = np.empty(len(seeds), dtype=np.int64)
        cell_of[pt_i] = cell_i
        geoms.append(shapely.intersection(cells[cell_of], poly))
        seats = np.flatnonzero(kec.mass == m)
        _, nearest = cKDTree(kec.xy[seats]).query(sxy)
        kecs.append(seats[nearest])
    geom = _geom_to_lonlat(np.concatenate(geoms))
    width = max(2, len(str(len(geom))))
    kec_idx = np.concatenate(kecs)
    gdf = gpd.GeoDataFrame(
        {
            "name": [f"Desa Sintetis {i + 1:0{width}d}" for i in range(len(geom))],
            "kecamatan": [kec.names[k] for k in kec_idx.tolist()],
        },
        geometry=geom,
        crs="EPSG:4326",
    )
    gdf.attrs["source"] = "SYNTHETIC: " + _source(seed)
    return gdf
