"""Siting inputs on a road network: candidates, demand and the candidate x demand times.

* **Demand**: population points are snapped to their nearest road edge, part-way along it,
  exactly as the coverage report snaps them (:mod:`geodispatch.demand`); points snapped to the
  same spot are merged into one demand row (their times are equal from every site, so who is
  covered does not change). Points farther than ``snap_distance_m`` from any road are reported
  and count as not covered, as in the coverage report.
* **Candidates**: existing stations that serve the service (fixed, they stay open), then new
  candidate sites: road nodes on a regular grid over the populated area (one node per cell,
  the populated node nearest the cell centre), a user file of lon/lat sites, or the region's
  other public buildings (e.g. puskesmas). Every site is snapped to its nearest road edge, as
  the coverage report snaps stations.
* **Travel times**: the time from each site to each person is
  :func:`geodispatch.demand.source_point_times`, the coverage report's per-person time from one
  source, so the baseline of a siting run (the existing posts alone) covers the same people as
  the coverage report for the same posts. With a bound (covering models) the matrix is a sparse
  CSR whose absent entries mean "farther than the bound"; p-median and p-center use an
  unbounded dense matrix.
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
from geodispatch.demand import point_terms, source_point_times, take_snap
from geodispatch.domain import SERVICE_STATION_TYPES, serves, service_unit_type
from geodispatch.errors import SitingError
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.sea import crossing_label
from geodispatch.network.snap import SnapResult
from geodispatch.regions import Station

logger = logging.getLogger(__name__)

__all__ = [
    "SitingProblem",
    "build_siting_problem",
    "candidate_grid",
    "read_candidates",
    "serves",
]



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
        The road node nearest each demand row's snapped spot (for candidate grids).
    weight : numpy.ndarray
        Population per demand row (people, as the input gives them: fractional when the
        population comes from a raster or spread polygons).
    cost : scipy.sparse.csr_matrix or numpy.ndarray
        Travel times in seconds from candidate to demand node; sparse when bounded (absent =
        beyond ``bound_s``), dense with ``inf`` when unbounded.
    bound_s : float
        Search bound used for ``cost`` (``inf`` = unbounded).
    unsnapped_population : float
        People of points farther than the snap distance from any road (not covered by any
        site, as in the coverage report; kept out of the models).
    population_points : int
        Number of input population points.
    cand_snap : SnapResult or None
        Each candidate snapped to its road edge (where its times start).
    demand_snap : SnapResult or None
        One snapped point per demand row (where its times end).
    demand_xy : numpy.ndarray or None
        ``(2, n_demand)`` people-weighted mean lon, lat of each row's points, degrees.
    travel_network : RoadNetwork or None
        The network the service's units travel (``network.for_unit_type``: boats that do not
        carry them left out; same nodes and edges); None means ``network``.
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
    cand_snap: SnapResult | None = None
    demand_snap: SnapResult | None = None
    demand_xy: np.ndarray | None = None
    travel_network: RoadNetwork | None = None

    @property
    def cand_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) of each candidate on its road."""
        if self.cand_snap is not None:
            return self.cand_snap.lon, self.cand_snap.lat
        return self.network.lon[self.cand_node], self.network.lat[self.cand_node]

    @property
    def demand_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) of each demand row (where its people live)."""
        if self.demand_xy is not None:
            return self.demand_xy[0], self.demand_xy[1]
        return self.network.lon[self.demand_node], self.network.lat[self.demand_node]

    @property
    def total_population(self) -> float:
        """Everyone in the input, people (demand rows plus the people far from any road)."""
        return float(self.weight.sum()) + self.unsnapped_population

    def times(self, sites: Sequence[int], bound_s: float | None = None) -> sp.csr_matrix | np.ndarray:
        """Travel times from candidates ``sites`` to every demand row, seconds (see ``cost``)."""
        if self.cand_snap is None or self.demand_snap is None:
            raise SitingError("this siting problem keeps no snapped sites; build it with build_siting_problem")
        idx = np.asarray(sites, dtype=np.int64)
        travel = self.travel_network if self.travel_network is not None else self.network
        return source_point_times(travel, take_snap(self.cand_snap, idx), self.demand_snap, bound_s)


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


def _snap(network: RoadNetwork, lon: np.ndarray, lat: np.ndarray, max_m: float) -> SnapResult:
    """Snap points to their nearest road edge, as the coverage report snaps stations and people."""
    return network.snap(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), max_distance_m=max_m,
                        strict=False)


def _merge_demand(snap: SnapResult, people: np.ndarray, lon: np.ndarray, lat: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group snapped points by their exact spot on the road (same edge, same fraction).

    Returns the index of one representative point per group, the people per group and the
    people-weighted mean lon/lat ``(2, n_groups)`` of each group's points.
    """
    ok = np.flatnonzero(snap.ok & (people > 0))
    key = np.column_stack([snap.edge[ok].astype(np.float64), snap.fraction[ok]])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    w = people[ok]
    weight = np.bincount(inverse, weights=w)
    safe = np.where(weight > 0, weight, 1.0)
    xy = np.vstack([np.bincount(inverse, weights=w * lon[ok]) / safe,
                    np.bincount(inverse, weights=w * lat[ok]) / safe])
    return ok[first], weight, xy


def _area_names(areas: Any, lon: np.ndarray, lat: np.ndarray) -> list[str]:
    """The name of the area holding each point ("" outside every area or without areas)."""
    if areas is None or not len(areas):
        return [""] * len(lon)
    from geodispatch.inputs.areas import assign_areas

    which = assign_areas(areas, np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    names = areas["name"].astype(str).to_numpy()
    return [str(names[a]) if a >= 0 else "" for a in which]


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
    areas: Any = None,
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
    areas : geopandas.GeoDataFrame, optional
        Desa/kelurahan polygons (``name``): a grid candidate is named by the area it lies in,
        ``"Bonto Manai (grid-155)"``, so a planner reads a place, not only a number.

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
    psnap = _snap(network, lon, lat, snap_distance_m)
    ok = psnap.ok
    unsnapped = float(people[~ok].sum())
    rep, weight, demand_xy = _merge_demand(psnap, people, lon, lat)
    if rep.size == 0:
        raise SitingError(
            f"no population point lies within {snap_distance_m:g} m of a road; check "
            "that population and roads cover the same place."
        )
    demand_snap = take_snap(psnap, rep)
    demand_node = demand_snap.node
    notes = []
    # a post's units cross only the boats that carry them (a speedboat ambulance takes no fire truck)
    travel = network if service == "all" else network.for_unit_type(service_unit_type(service))
    sea = np.flatnonzero(network.is_sea_edge & np.isfinite(travel.edge_time_s))
    if len(sea):
        crossings = sorted({crossing_label(network, e) for e in sea.tolist()})
        notes.append(
            f"travel times cross the sea by {', '.join(crossings)}: a post on an island competes with the boat "
            "(compare with --no-ferries, or a faster boat with --sea-links)"
        )
    if unsnapped > 0:
        notes.append(
            f"{unsnapped:,.0f} people ({int((~ok).sum())} points) are farther than "
            f"{snap_distance_m:g} m from any road: not covered by any post, as in the coverage report."
        )

    names: list[str] = []
    kinds: list[str] = []
    lons: list[float] = []
    lats: list[float] = []
    fixed_st = [s for s in stations if serves(s, service)]
    if fixed_st:
        s_snap = _snap(network, np.array([s.lon for s in fixed_st]), np.array([s.lat for s in fixed_st]),
                       snap_distance_m)
        for st, good in zip(fixed_st, s_snap.ok, strict=True):
            if not good:
                notes.append(f"station {st.id} is farther than {snap_distance_m:g} m from a road")
                continue
            names.append(st.name or st.id)
            kinds.append("existing")
            lons.append(st.lon)
            lats.append(st.lat)
    fixed = list(range(len(names)))
    new: list[tuple[str, float, float]] = []
    if isinstance(candidates, pd.DataFrame):
        c_lon = candidates["lon"].to_numpy(float)
        c_lat = candidates["lat"].to_numpy(float)
        c_ok = _snap(network, c_lon, c_lat, snap_distance_m).ok
        new = [
            (str(n), float(x), float(y))
            for n, x, y, good in zip(candidates["name"], c_lon, c_lat, c_ok, strict=True)
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
        o_ok = _snap(network, np.array([s.lon for s in others]), np.array([s.lat for s in others]),
                     snap_distance_m).ok
        new = [(s.name or s.id, s.lon, s.lat) for s, good in zip(others, o_ok, strict=True) if good]
        if len(new) < len(others):
            off = [s.id for s, good in zip(others, o_ok, strict=True) if not good]
            notes.append(
                f"{len(off)} station(s) are farther than {snap_distance_m:g} m from a road and "
                f"were not used as candidates: {', '.join(off[:10])}"
            )
    elif candidates in (None, "grid"):
        grid = candidate_grid(network, n_candidates, demand_node)
        place = _area_names(areas, network.lon[grid], network.lat[grid])
        new = [(f"{where} (grid-{k + 1})" if where else f"grid-{k + 1}", float(network.lon[nd]), float(network.lat[nd]))
               for k, (nd, where) in enumerate(zip(grid, place, strict=True))]
    else:
        raise SitingError(
            f"candidates must be a DataFrame, 'grid' or 'stations', got {candidates!r}."
        )
    for name, x, y in new:
        names.append(name)
        kinds.append("candidate")
        lons.append(x)
        lats.append(y)
    cand_snap = _snap(network, np.array(lons), np.array(lats), snap_distance_m)
    # one site per spot on the road: a candidate on an existing post or an earlier candidate adds
    # nothing (existing posts come first, so they are the ones kept)
    spot = np.round(np.column_stack([cand_snap.lon, cand_snap.lat]), 7)
    _, first = np.unique(spot, axis=0, return_index=True)
    keep = np.zeros(len(names), dtype=bool)
    keep[first] = True
    keep[fixed] = True
    dropped = [names[i] for i in np.flatnonzero(~keep)]
    if dropped:
        notes.append(
            f"{len(dropped)} candidate site(s) lie on the same road spot as an existing post or an "
            f"earlier candidate and were merged with it: {', '.join(dropped[:10])}"
        )
    kept = np.flatnonzero(keep)
    names = [names[i] for i in kept]
    kinds = [kinds[i] for i in kept]
    cand_snap = take_snap(cand_snap, kept)
    if len(names) == len(fixed):
        raise SitingError("there are no candidate sites for new posts; give candidates.")
    cost = source_point_times(travel, cand_snap, demand_snap, bound_s, terms=point_terms(network, demand_snap))
    return SitingProblem(
        network=network,
        cand_node=cand_snap.node,
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
        cand_snap=cand_snap,
        demand_snap=demand_snap,
        demand_xy=demand_xy,
        travel_network=travel,
    )
