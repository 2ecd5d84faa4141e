"""Siting inputs on a road network: candidates, demand and the candidate x demand times.

* **Demand**: population points (lon/lat/population) are attached to their nearest road node
  (KD-tree on the network's metric coordinates; points farther than ``snap_distance_m`` from
  any node are reported, not used) and aggregated per node, so a regency of a million points
  becomes one demand row per populated node. The travel time to a point is that to its node.
* **Candidates**: existing stations that serve the service (fixed, they stay open), then new
  candidate sites: road nodes on a regular grid over the populated area (one node per cell,
  the populated node nearest the cell centre), a user file of lon/lat sites, or the region's
  other public buildings (e.g. puskesmas).
* **Travel times**: forward bounded Dijkstra *from* each candidate node (a post drives out to
  the demand; one-way streets respected) with the foundation's
  :func:`geodispatch.network.traveltime.travel_times`, in chunks of sources, keeping only
  entries within the bound: a sparse CSR (candidates x demand nodes) whose absent entries mean
  "farther than the bound". Covering models need nothing beyond the threshold; p-median and
  p-center use an unbounded (dense) matrix.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from geodispatch import settings
from geodispatch.domain import SERVICE_STATION_TYPES, serves
from geodispatch.errors import SitingError
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.sea import crossing_label
from geodispatch.network.traveltime import travel_times
from geodispatch.regions import Station

logger = logging.getLogger(__name__)

__all__ = [
    "SitingProblem",
    "build_siting_problem",
    "candidate_grid",
    "read_candidates",
    "serves",
    "site_times",
]

_CHUNK = 64  # Dijkstra sources per batch (64 x n_nodes float64 in memory at once)


@dataclass
class SitingProblem:
    """A siting problem on a road network, ready for the models.

    Attributes
    ----------
    network : RoadNetwork
        The roads.
    cand_node : numpy.ndarray
        Road node index of each candidate (existing stations first).
    cand_name : list of str
        Label of each candidate (station name, file name/id or ``grid-<k>``).
    cand_kind : list of str
        ``"existing"`` or ``"candidate"``.
    fixed : list of int
        Candidate indices of the existing stations (kept open).
    demand_node : numpy.ndarray
        Road node index of each demand row.
    weight : numpy.ndarray
        Population per demand row (people).
    cost : scipy.sparse.csr_matrix or numpy.ndarray
        Travel times in seconds from candidate to demand node; sparse when bounded (absent =
        beyond ``bound_s``), dense with ``inf`` when unbounded.
    bound_s : float
        Search bound used for ``cost`` (``inf`` = unbounded).
    unsnapped_population : float
        Population of points farther than the snap distance from any road node (not used).
    population_points : int
        Number of input population points.
    """

    network: RoadNetwork
    cand_node: np.ndarray
    cand_name: list[str]
    cand_kind: list[str]
    fixed: list[int]
    demand_node: np.ndarray
    weight: np.ndarray
    cost: Any
    bound_s: float
    unsnapped_population: float = 0.0
    population_points: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def cand_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) of each candidate's road node."""
        return self.network.lon[self.cand_node], self.network.lat[self.cand_node]

    @property
    def demand_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) of each demand node."""
        return self.network.lon[self.demand_node], self.network.lat[self.demand_node]


def site_times(
    network: RoadNetwork, sources: np.ndarray, targets: np.ndarray, bound_s: float | None
) -> sp.csr_matrix | np.ndarray:
    """Travel times from ``sources`` to ``targets`` (road node indices), seconds.

    Forward searches (from each source node out along one-way streets), in chunks of
    sources so memory stays at ``_CHUNK x n_nodes`` floats.

    Parameters
    ----------
    network : RoadNetwork
        The roads.
    sources, targets : numpy.ndarray of int
        Node indices.
    bound_s : float or None
        Search bound in seconds; None = unbounded.

    Returns
    -------
    scipy.sparse.csr_matrix or numpy.ndarray
        With a bound: CSR ``(len(sources), len(targets))`` storing only entries within the
        bound (explicit zeros kept: a source on the target node). Without: dense with inf.
    """
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    bounded = bound_s is not None and math.isfinite(bound_s)
    dense = None if bounded else np.full((sources.size, targets.size), np.inf)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for start in range(0, sources.size, _CHUNK):
        block = sources[start : start + _CHUNK]
        times = travel_times(network, block, limit=bound_s if bounded else None)[:, targets]
        if dense is not None:
            dense[start : start + block.size] = times
            continue
        r, c = np.nonzero(np.isfinite(times))
        rows.append(r + start)
        cols.append(c)
        vals.append(times[r, c])
    if dense is not None:
        return dense
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(sources.size, targets.size),
    )


def candidate_grid(
    network: RoadNetwork, n_candidates: int, demand_node: np.ndarray | None = None
) -> np.ndarray:
    """About ``n_candidates`` road nodes spread on a regular grid.

    The populated area's bounding box (or the whole network) is cut into square cells whose
    size is searched so that the number of occupied cells is close to ``n_candidates``; each
    occupied cell gives the node nearest its centre. Only nodes of populated places (when
    ``demand_node`` is given) are eligible, so posts land on roads people use.

    Returns
    -------
    numpy.ndarray
        Sorted unique node indices (at most ``n_candidates``).
    """
    if n_candidates <= 0:
        raise SitingError(f"the number of grid candidates must be positive, got {n_candidates}.")
    nodes = np.unique(demand_node) if demand_node is not None else np.arange(network.n_nodes)
    xy = network.node_xy[nodes]
    if nodes.size <= n_candidates:
        return np.sort(nodes)
    lo, hi = 1.0, float(np.ptp(xy, axis=0).max()) + 1.0
    best: np.ndarray = nodes[:0]
    for _ in range(40):
        size = math.sqrt(lo * hi)
        cell = np.floor((xy - xy.min(axis=0)) / size).astype(np.int64)
        key = cell[:, 0] * 1_000_003 + cell[:, 1]
        centre = (cell + 0.5) * size + xy.min(axis=0)
        d2 = ((xy - centre) ** 2).sum(axis=1)
        order = np.lexsort((d2, key))
        first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
        if first.size > n_candidates:
            lo = size
        else:
            hi = size
            best = nodes[first]
            if first.size >= 0.95 * n_candidates:
                break
    return np.sort(best)


def read_candidates(path: str) -> pd.DataFrame:
    """Candidate sites from a CSV (``lon,lat`` and optional ``id``/``name``) or point GeoJSON.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``lon``, ``lat`` (degrees).
    """
    from geodispatch.inputs import check_lonlat, read_table

    df = read_table(path, "candidates")
    check_lonlat(df, str(path))
    if df.empty:
        raise SitingError(f"{path}: the candidate file has no sites; list at least one lon,lat.")
    label = next((c for c in ("name", "nama", "id") if c in df.columns), None)
    names = (
        df[label].astype(str).tolist() if label else [f"site-{k + 1}" for k in range(len(df))]
    )
    return pd.DataFrame({"name": names, "lon": df["lon"].astype(float), "lat": df["lat"]})


def _snap_nodes(
    network: RoadNetwork, lon: np.ndarray, lat: np.ndarray, max_m: float
) -> tuple[np.ndarray, np.ndarray]:
    node, dist = network.nearest_nodes(lon, lat)
    return node, dist <= max_m


def build_siting_problem(
    network: RoadNetwork,
    population: pd.DataFrame,
    stations: Sequence[Station] = (),
    *,
    service: str = "ambulance",
    candidates: pd.DataFrame | str | None = None,
    n_candidates: int = 300,
    extra_stations: Iterable[Station] = (),
    bound_s: float | None = settings.TARGET_RESPONSE_S,
    snap_distance_m: float = settings.SNAP_LIMIT_M,
) -> SitingProblem:
    """Assemble candidates, demand and travel times for a siting model.

    Parameters
    ----------
    network : RoadNetwork
        The roads.
    population : pandas.DataFrame
        ``lon``, ``lat`` (degrees) and ``population`` (people, >= 0).
    stations : sequence of Station
        Existing stations; those serving ``service`` become fixed candidates.
    service : str
        ``"ambulance"`` (PSC 119 posts), ``"damkar"`` (fire posts) or ``"all"``.
    candidates : DataFrame, ``"grid"``, ``"stations"`` or None
        New candidate sites: a DataFrame ``name, lon, lat``; ``"grid"`` / None for
        ``n_candidates`` road nodes on a grid over the populated area; ``"stations"`` for the
        region's other stations (``extra_stations``, e.g. puskesmas without the service).
    n_candidates : int
        Grid size target.
    extra_stations : iterable of Station
        Buildings that could host a new post (used with ``candidates="stations"``).
    bound_s : float or None
        Travel-time bound in seconds for the matrix (the coverage threshold for covering
        models); None = unbounded dense matrix (p-median, p-center).
    snap_distance_m : float
        Population points and sites farther than this from any road node are not used.

    Returns
    -------
    SitingProblem
    """
    if service != "all" and service not in SERVICE_STATION_TYPES:
        # an unknown name would match no station: the existing posts would silently vanish
        raise SitingError(
            f"unknown service {service!r}; use one of {', '.join([*SERVICE_STATION_TYPES, 'all'])}."
        )
    for col in ("lon", "lat", "population"):
        if col not in population.columns:
            raise SitingError(f"population needs columns lon, lat, population; {col!r} missing.")
    lon = population["lon"].to_numpy(float)
    lat = population["lat"].to_numpy(float)
    people = population["population"].to_numpy(float)
    if people.size == 0:
        raise SitingError("the population has no points; give population points.")
    if np.any(people < 0) or not np.all(np.isfinite(people)):
        raise SitingError("population values must be finite and >= 0.")
    node, ok = _snap_nodes(network, lon, lat, snap_distance_m)
    unsnapped = float(people[~ok].sum())
    weight_per_node = np.bincount(node[ok], weights=people[ok], minlength=network.n_nodes)
    demand_node = np.flatnonzero(weight_per_node > 0)
    if demand_node.size == 0:
        raise SitingError(
            f"no population point lies within {snap_distance_m:g} m of a road node; check "
            "that population and roads cover the same place."
        )
    weight = weight_per_node[demand_node]
    notes = []
    if network.has_sea:
        sea = np.flatnonzero(network.is_sea_edge)
        crossings = sorted({crossing_label(network, e) for e in sea.tolist()})
        notes.append(
            f"travel times cross the sea by {', '.join(crossings)}: a post on an island competes with the boat "
            "(compare with --no-ferries, or a faster boat with --sea-links)"
        )
    if unsnapped > 0:
        notes.append(
            f"{unsnapped:,.0f} people ({int((~ok).sum())} points) are farther than "
            f"{snap_distance_m:g} m from any road node and were left out."
        )

    names: list[str] = []
    kinds: list[str] = []
    nodes: list[int] = []
    fixed_st = [s for s in stations if serves(s, service)]
    if fixed_st:
        s_node, s_ok = _snap_nodes(
            network,
            np.array([s.lon for s in fixed_st]),
            np.array([s.lat for s in fixed_st]),
            snap_distance_m,
        )
        for st, nd, good in zip(fixed_st, s_node, s_ok, strict=True):
            if not good:
                notes.append(f"station {st.id} is farther than {snap_distance_m:g} m from a road")
                continue
            names.append(st.name or st.id)
            kinds.append("existing")
            nodes.append(int(nd))
    fixed = list(range(len(nodes)))
    taken = set(nodes)
    if isinstance(candidates, pd.DataFrame):
        c_node, c_ok = _snap_nodes(
            network, candidates["lon"].to_numpy(float), candidates["lat"].to_numpy(float),
            snap_distance_m,
        )
        new = [
            (str(n), int(nd))
            for n, nd, good in zip(candidates["name"], c_node, c_ok, strict=True)
            if good
        ]
        if len(new) < len(candidates):
            notes.append(f"{len(candidates) - len(new)} candidate site(s) are off the roads.")
    elif candidates == "stations":
        others = [s for s in extra_stations if not serves(s, service)]
        if not others:
            raise SitingError(
                f"the region lists no other stations that could host a {service} post; use "
                "grid candidates or a candidate file."
            )
        o_node, o_ok = _snap_nodes(
            network, np.array([s.lon for s in others]), np.array([s.lat for s in others]),
            snap_distance_m,
        )
        new = [(s.name or s.id, int(nd)) for s, nd, good in zip(others, o_node, o_ok,
                                                               strict=True) if good]
        if len(new) < len(others):
            off = [s.id for s, good in zip(others, o_ok, strict=True) if not good]
            notes.append(
                f"{len(off)} station(s) are farther than {snap_distance_m:g} m from a road and "
                f"were not used as candidates: {', '.join(off[:10])}"
            )
    elif candidates in (None, "grid"):
        grid = candidate_grid(network, n_candidates, demand_node)
        new = [(f"grid-{k + 1}", int(nd)) for k, nd in enumerate(grid)]
    else:
        raise SitingError(
            f"candidates must be a DataFrame, 'grid' or 'stations', got {candidates!r}."
        )
    for name, nd in new:
        if nd in taken:
            continue
        taken.add(nd)
        names.append(name)
        kinds.append("candidate")
        nodes.append(nd)
    if len(nodes) == len(fixed):
        raise SitingError("there are no candidate sites for new posts; give candidates.")
    cand_node = np.asarray(nodes, dtype=np.int64)
    cost = site_times(network, cand_node, demand_node, bound_s)
    return SitingProblem(
        network=network,
        cand_node=cand_node,
        cand_name=names,
        cand_kind=kinds,
        fixed=fixed,
        demand_node=demand_node,
        weight=weight,
        cost=cost,
        bound_s=math.inf if bound_s is None else float(bound_s),
        unsnapped_population=unsnapped,
        population_points=int(people.size),
        notes=notes,
    )
