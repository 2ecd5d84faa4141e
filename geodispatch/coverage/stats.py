"""Coverage statistics: population covered, road length covered, and a table per area.

All times are seconds, thresholds are given in minutes (``minutes * 60`` seconds), distances
are metres. A point or node with time ``<= T`` is covered; unreachable is ``inf``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from geodispatch.coverage.isochrones import reached_pieces
from geodispatch.coverage.surface import (
    PreparedPopulation,
    _reverse_edges,
    _weighted_quantiles,
    group_order,
    grouped_weighted_quantile,
    subset_order,
)
from geodispatch.errors import CoverageError
from geodispatch.inputs.areas import assign_areas, check_areas_overlap, network_areas
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.snap import SnapResult


def _merge_intervals(
    group: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint intervals covering the union of ``[lo, hi]`` (within [0, 1]) per group.

    Returns
    -------
    group, lo, hi : ndarray
        Merged intervals sorted by group then start; touching intervals merge.
    """
    if len(group) == 0:
        return group[:0], lo[:0], hi[:0]
    order = np.lexsort((lo, group))
    g, a, b = group[order], lo[order], hi[order]
    shifted = b + 2.0 * g  # monotone across groups: running max stays within a group
    run = np.maximum.accumulate(shifted) - 2.0 * g
    starts = np.ones(len(g), dtype=bool)
    starts[1:] = (g[1:] != g[:-1]) | (a[1:] > run[:-1])
    first = np.flatnonzero(starts)
    return g[first], a[first], np.maximum.reduceat(b, first)


def _union_length(group: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_groups: int) -> np.ndarray:
    """Total length of the union of intervals ``[lo, hi]`` (within [0, 1]) per group."""
    g, a, b = _merge_intervals(group, lo, hi)
    return np.bincount(g, weights=b - a, minlength=n_groups)


def _intersection_length(sets: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], n_groups: int) -> np.ndarray:
    """Length per group covered by every one of ``sets`` (each: disjoint ``group, lo, hi``).

    A sweep over the interval ends: ``+1`` at a start, ``-1`` at an end; the stretch between
    two consecutive ends of a group is covered by all when the running count equals ``len(sets)``.
    """
    if not sets:
        return np.zeros(n_groups)
    g = np.concatenate([x for s in sets for x in (s[0], s[0])])
    pos = np.concatenate([x for s in sets for x in (s[1], s[2])])
    delta = np.concatenate([x for s in sets for x in (np.ones(len(s[0])), -np.ones(len(s[0])))])
    if len(g) == 0:
        return np.zeros(n_groups)
    order = np.lexsort((pos, g))
    g, pos, delta = g[order], pos[order], delta[order]
    count = np.cumsum(delta)  # each group sums to 0, so the running count restarts per group
    inside = (g[1:] == g[:-1]) & (count[:-1] == len(sets))
    return np.bincount(g[:-1][inside], weights=(pos[1:] - pos[:-1])[inside], minlength=n_groups)


def _covered_intervals(
    network: RoadNetwork, node_time_s: np.ndarray, limit_s: float, seeds: SnapResult | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Covered parts of each directed edge's road (fractions from its tail), merged per edge.

    A two-way road's parts reached along its twin are mirrored onto it, so an edge and its twin
    hold the same covered stretch of road, each in its own direction.
    """
    pieces = reached_pieces(network, node_time_s, limit_s, seeds=seeds, dedupe=False)
    twin = _reverse_edges(network)
    pe, ps, pf = pieces.edge, pieces.start, pieces.end
    ptwin = twin[pe]
    mirror = ptwin >= 0
    group = np.concatenate([pe, ptwin[mirror]])
    lo = np.clip(np.concatenate([ps, 1.0 - pf[mirror]]), 0.0, 1.0)
    hi = np.clip(np.concatenate([pf, 1.0 - ps[mirror]]), 0.0, 1.0)
    return _merge_intervals(group, lo, hi)


def _edge_metres(network: RoadNetwork, frac: np.ndarray) -> np.ndarray:
    """Covered fraction of each edge's road to metres; each direction of a two-way road carries half."""
    weight = np.where(_reverse_edges(network) >= 0, 0.5, 1.0)
    return np.minimum(frac, 1.0) * network.edge_length_m * weight


def road_covered_m(
    network: RoadNetwork, node_time_s: np.ndarray, limit_s: float, seeds: SnapResult | None = None
) -> np.ndarray:
    """Covered length of each directed edge's road, metres (partial edges count partially).

    A two-way road is covered from both ends (and from a station on it); its covered length
    is the union of those parts. For two-way roads each direction carries half the road's
    covered length, so ``sum()`` counts the road once (as :meth:`RoadNetwork.road_length_m`).

    Returns
    -------
    ndarray of float64, shape (n_edges,)
        Metres.
    """
    g, a, b = _covered_intervals(network, node_time_s, limit_s, seeds)
    return _edge_metres(network, np.bincount(g, weights=b - a, minlength=network.n_edges))


def road_covered_by_all_m(
    network: RoadNetwork,
    fields: Sequence[tuple[np.ndarray, SnapResult | None]],
    limit_s: float,
) -> np.ndarray:
    """Length of each directed edge's road that every time field reaches within ``limit_s``, metres.

    The combined rule (an ambulance AND a Damkar truck in time): per edge, the overlap of the
    services' covered stretches. Posts at opposite ends of a road each cover a part of it, and
    the overlap may be nothing; the smaller covered length would overstate it.

    Parameters
    ----------
    network : RoadNetwork
        Roads.
    fields : sequence of (node_time_s, seeds)
        Per service: travel time to each node, seconds, and its snapped stations.
    limit_s : float
        Threshold, seconds.

    Returns
    -------
    ndarray of float64, shape (n_edges,)
        Metres, counted as :func:`road_covered_m` (``sum()`` counts a road once).
    """
    sets = [_covered_intervals(network, t, limit_s, seeds) for t, seeds in fields]
    return _edge_metres(network, _intersection_length(sets, network.n_edges))


def road_share(network: RoadNetwork, node_time_s: np.ndarray, limit_s: float, seeds: SnapResult | None = None) -> float:
    """Share (0-1) of road length covered within ``limit_s`` seconds."""
    total = network.road_length_m()
    return float(road_covered_m(network, node_time_s, limit_s, seeds).sum() / total) if total > 0 else 0.0


def population_summary(
    population: np.ndarray, time_s: np.ndarray, minutes: Sequence[float], *, time_order: np.ndarray | None = None
) -> dict[str, Any]:
    """Population and share covered per threshold, with weighted median / p90 response.

    ``time_order`` is ``np.argsort(time_s, kind="stable")`` when the caller already has it.

    Returns
    -------
    dict
        ``population``, ``covered`` {minutes: people}, ``share`` {minutes: 0-1},
        ``median_s``, ``p90_s`` (``None`` when beyond reach) and ``unreachable`` people.
    """
    total = float(population.sum())
    covered = {m: float(population[time_s <= m * 60.0].sum()) for m in minutes}
    med, p90 = _weighted_quantiles(time_s, population, [0.5, 0.9], time_order)
    return {
        "population": round(total, 1),
        "covered": {m: round(c, 1) for m, c in covered.items()},
        "share": {m: (round(c / total, 4) if total > 0 else None) for m, c in covered.items()},
        "median_s": round(med, 1) if np.isfinite(med) else None,
        "p90_s": round(p90, 1) if np.isfinite(p90) else None,
        "unreachable": round(float(population[~np.isfinite(time_s)].sum()), 1),
    }


def area_table(
    network: RoadNetwork,
    areas: Any | None,
    service_times: dict[str, tuple[np.ndarray, np.ndarray | None]],
    minutes: Sequence[float],
    population: pd.DataFrame | None = None,
    road_covered: dict[str, np.ndarray] | None = None,
    *,
    prepared: PreparedPopulation | None = None,
    time_orders: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Per-area coverage table.

    Parameters
    ----------
    network : RoadNetwork
        Roads.
    areas : GeoDataFrame or None
        ``name`` + polygons, EPSG:4326; None gives one row per service for the whole network.
    service_times : dict service -> (node_time_s, point_time_s or None)
        Times per service (``combined`` included when asked).
    minutes : sequence of float
        Thresholds, minutes.
    population : DataFrame, optional
        ``lon, lat, population`` points aligned with the point times. Without population, the
        table weighs road nodes equally (columns ``population`` stay empty).
    road_covered : dict service -> ndarray (n_edges,), optional
        Covered metres per edge at the largest threshold, for ``road_km_covered``.
    prepared : PreparedPopulation, optional
        The same points as ``population``, prepared: the area of every point, node and edge is
        taken from its cache (computed once per areas content) instead of being assigned again.
    time_orders : dict service -> ndarray, optional
        ``np.argsort(point_time_s, kind="stable")`` per service when the caller already has it.

    Returns
    -------
    pandas.DataFrame
        One row per (area, service), every area included: ``area`` (and ``kecamatan`` when the
        areas carry it, see :func:`~geodispatch.inputs.add_kecamatan`), ``type, population,
        covered_<m>min, share_<m>min`` for each threshold, ``median_s, p90_s`` (weighted by
        population, or by node), ``worst_s, worst_lon, worst_lat`` (the slowest point; empty
        when unreachable and then ``unreachable`` counts it), ``road_km, road_km_covered`` and
        ``note`` (empty, or why an area has no figures: no road of the network inside it).
    """
    use_pop = population is not None and len(population) > 0
    if prepared is not None and use_pop and population is not None and (
        prepared.network is not network or len(prepared.frame) != len(population)
    ):
        raise CoverageError("the prepared population does not match these points or this network")
    cache = prepared if use_pop else None
    kecamatan: list[str] | None = None
    if areas is None:
        names = ["(whole network)"]
        has = np.array([True])
        node_area = np.zeros(network.n_nodes, dtype=np.int64)
        edge_area = np.zeros(network.n_edges, dtype=np.int64)
    else:
        names = areas["name"].astype(str).tolist()
        if "kecamatan" in areas.columns:
            kecamatan = areas["kecamatan"].astype(str).tolist()
        # each edge belongs to the area of its midpoint (from its geometry)
        node_area, edge_area = cache.network_areas(areas) if cache is not None else network_areas(network, areas)
        has = check_areas_overlap(network, areas, node_area)
    n_areas = len(names)
    twin = _reverse_edges(network)
    edge_len = network.edge_length_m * np.where(twin >= 0, 0.5, 1.0)
    road_km = np.bincount(np.maximum(edge_area, 0), weights=edge_len * (edge_area >= 0), minlength=n_areas) / 1000
    if population is not None and use_pop:
        lon_all, lat_all = population["lon"].to_numpy(), population["lat"].to_numpy()
        if areas is None:
            point_area = np.zeros(len(lon_all), dtype=np.int64)
        elif cache is not None:
            point_area = cache.point_area(areas)
        else:
            point_area = assign_areas(areas, lon_all, lat_all)
        weights = population["population"].to_numpy(dtype=float)
    else:
        point_area, weights, lon_all, lat_all = node_area, np.ones(network.n_nodes), network.lon, network.lat
    inside = point_area >= 0
    grp, w_in = point_area[inside], weights[inside]
    total = np.bincount(grp, weights=w_in, minlength=n_areas)
    # every area keeps its row: one with people but no road node inside (a small dusun between
    # junctions) has its people timed on their nearest road like everyone else; one outside the
    # network's extent says so in ``note`` (0 road km, its people, if any, not covered)
    sel = np.arange(n_areas)
    notes = np.where(has, "", np.where(road_km > 0, "no road junction inside", "no road of this network inside"))
    count = np.bincount(grp, minlength=n_areas)
    frames = []
    for service, (node_t, point_t) in service_times.items():
        times = point_t if (use_pop and point_t is not None) else node_t
        t_in = times[inside]
        cols: dict[str, Any] = {"area": [names[a] for a in sel]}
        if kecamatan is not None:
            cols["kecamatan"] = [kecamatan[a] for a in sel]
        cols |= {
            "type": service,
            "population": np.round(total[sel], 1) if use_pop else np.nan,
            "points": count[sel],
        }
        with np.errstate(invalid="ignore", divide="ignore"):
            for m in minutes:
                cov = np.bincount(grp, weights=w_in * (t_in <= m * 60.0), minlength=n_areas)[sel]
                cols[f"covered_{m:g}min"] = np.round(cov, 1)
                cols[f"share_{m:g}min"] = np.where(total[sel] > 0, np.round(cov / total[sel], 4), np.nan)
        vo = None
        if use_pop and point_t is not None and time_orders is not None and service in time_orders:
            vo = subset_order(time_orders[service], inside)
        order = group_order(grp, t_in, n_areas, vo)  # by area, then time (unreachable last): one sort for all
        quantiles = grouped_weighted_quantile(grp, t_in, w_in, [0.5, 0.9], n_areas, order=order)
        for val, name in zip(quantiles, ("median_s", "p90_s"), strict=True):
            cols[name] = np.where(np.isfinite(val[sel]), np.round(val[sel], 1), np.nan)
        finite = np.isfinite(t_in)
        cols["unreachable"] = np.round(np.bincount(grp, weights=w_in * ~finite, minlength=n_areas)[sel], 1)
        # worst reachable point per area: the last finite time of each area in that order
        # (equal times: the later point, as a stable sort of the reachable points alone gives)
        idx_in = np.flatnonzero(inside)
        n_finite = np.bincount(grp[finite], minlength=n_areas)
        starts = np.cumsum(count) - count
        with_finite = np.flatnonzero(n_finite > 0)
        j = idx_in[order[starts[with_finite] + n_finite[with_finite] - 1]]
        worst_s = np.full(n_areas, np.nan)
        worst_lon = np.full(n_areas, np.nan)
        worst_lat = np.full(n_areas, np.nan)
        worst_s[with_finite] = np.round(times[j], 1)
        worst_lon[with_finite] = np.round(lon_all[j], 6)
        worst_lat[with_finite] = np.round(lat_all[j], 6)
        cols["worst_s"], cols["worst_lon"], cols["worst_lat"] = worst_s[sel], worst_lon[sel], worst_lat[sel]
        cols["road_km"] = np.round(road_km[sel], 3)
        if road_covered is not None and service in road_covered:
            rc = road_covered[service]
            covered_km = np.bincount(np.maximum(edge_area, 0), weights=rc * (edge_area >= 0), minlength=n_areas) / 1000
            cols["road_km_covered"] = np.round(covered_km[sel], 3)
        else:
            cols["road_km_covered"] = np.nan
        cols["note"] = notes[sel]
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)
