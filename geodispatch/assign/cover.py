"""Coverage tie-break: keep the most people within the target time of a remaining unit.

Among choices whose ETAs are equal within a tolerance (default :data:`TIE_TOLERANCE_S`), prefer
the one that leaves the most population covered within the target time by the *remaining*
available units of the same type. A unit covers the population points whose nearest road node
is reached within the target from the unit's **base** (its home station, or its position when it
has none): units return to base after an incident, so the base is what coverage planning is
about. Reach sets are computed once per population table and target time (one bounded forward
search per distinct base) and kept by the network's :class:`~geodispatch.assign.eta.EtaEngine`,
which reuses them in every call given that engine.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geodispatch.assign.model import Slot
from geodispatch.errors import AssignmentError
from geodispatch.network.traveltime import point_travel_times

if TYPE_CHECKING:
    from geodispatch.assign.eta import EtaEngine
    from geodispatch.network.graph import RoadNetwork

TIE_TOLERANCE_S = 30.0
"""ETAs within this many seconds of each other count as equal for the coverage tie-break."""

MAX_POOL = 10
"""At most this many tied candidates per (incident, unit type) are compared."""

MAX_SLOTS = 3
"""Incidents needing more units than this of one type skip the tie-break (too many combinations)."""

_LOCK = threading.Lock()


class CoverageIndex:
    """Which population points each unit base reaches within the target time.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    population : DataFrame or mapping
        Columns/keys ``lon``, ``lat`` (degrees) and ``population`` (people).
    target_s : float
        Target response time, seconds.
    """

    def __init__(self, network: RoadNetwork, population: Any, target_s: float) -> None:
        try:
            lon = np.asarray(population["lon"], dtype=float)
            lat = np.asarray(population["lat"], dtype=float)
            weight = np.asarray(population["population"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise AssignmentError(
                "population must have lon, lat (degrees) and population (people) columns"
            ) from exc
        self.network = network
        self.target_s = float(target_s)
        self.weight = np.nan_to_num(weight, nan=0.0)
        self.node, _ = network.nearest_nodes(lon, lat)
        self.total = float(self.weight.sum())
        self._rows: dict[tuple[float, float], np.ndarray] = {}
        self._packed: dict[tuple[float, float], np.ndarray] = {}  # the same rows, 8 points a byte

    def _keys(self, lon: Any, lat: Any) -> list[tuple[float, float]]:
        """Cache keys of bases, computing the reach rows of new ones (batched searches)."""
        keys = [(round(float(x), 7), round(float(y), 7)) for x, y in zip(lon, lat, strict=True)]
        missing = sorted({k for k in keys if k not in self._rows})
        if missing:
            snap = self.network.snap([k[0] for k in missing], [k[1] for k in missing], strict=False)
            for start in range(0, len(missing), 32):
                part = slice(start, start + 32)
                sub = type(snap)(*(np.asarray(getattr(snap, f))[part] for f in snap.__dataclass_fields__))
                times = np.asarray(point_travel_times(self.network, sub, limit=self.target_s))
                for key, row in zip(missing[part], times, strict=True):
                    reach = row[self.node] <= self.target_s
                    self._rows[key] = reach
                    self._packed[key] = np.packbits(reach)
        return keys

    def prepare(self, lon: Any, lat: Any) -> None:
        """Compute the reach sets of these bases now (so later calls only look them up)."""
        self._keys(lon, lat)

    def reach(self, lon: Any, lat: Any, cols: np.ndarray | None = None) -> np.ndarray:
        """Boolean matrix (n_bases, n_population or len(cols)): base reaches the point in time."""
        keys = self._keys(lon, lat)
        width = len(self.weight) if cols is None else len(cols)
        if not keys:
            return np.zeros((0, width), dtype=bool)
        if cols is None:
            return np.vstack([self._rows[k] for k in keys])
        return np.vstack([self._rows[k][cols] for k in keys])

    def any_reach(self, lon: Any, lat: Any) -> np.ndarray:
        """Boolean vector (n_population,): some of the bases reaches the point in time.

        Equal to ``reach(lon, lat).any(axis=0)``, computed on the bit-packed rows (eight times
        less memory to sweep: the coverage tie-break asks it for every other unit of a type).
        """
        keys = self._keys(lon, lat)
        if not keys:
            return np.zeros(len(self.weight), dtype=bool)
        acc = self._packed[keys[0]].copy()
        for key in keys[1:]:
            np.bitwise_or(acc, self._packed[key], out=acc)
        return np.unpackbits(acc, count=len(self.weight)).view(bool)

    def covered(self, rows: np.ndarray) -> float:
        """People covered by at least one of the given reach rows."""
        if rows.shape[0] == 0:
            return 0.0
        return float(self.weight[rows.any(axis=0)].sum())


def coverage_index(network: RoadNetwork, population: Any, target_s: float, engine: EtaEngine | None = None
                   ) -> CoverageIndex:
    """The :class:`CoverageIndex` of a population table and target time.

    With an ``engine`` (:class:`~geodispatch.assign.eta.EtaEngine` of the same network) the index
    is built once and kept by the engine; without one a new index is built.
    """
    if engine is not None:
        return engine.check(network).coverage_index(population, target_s)
    return CoverageIndex(network, population, target_s)


def population_fingerprint(population: Any) -> tuple[int, float, float]:
    """A cheap key telling population tables apart (row count, people and longitude sums)."""
    try:
        return (
            len(population["population"]),
            float(np.nansum(np.asarray(population["population"], dtype=float))),
            float(np.nansum(np.asarray(population["lon"], dtype=float))),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AssignmentError("population must have lon, lat and population columns") from exc


@dataclass(frozen=True)
class TieBreak:
    """Outcome of a coverage tie-break for one incident and unit type.

    Attributes
    ----------
    units : tuple of int
        Chosen unit columns, aligned with the slots.
    covered_after : float
        People still covered by the remaining units of the type with this choice, counting only
        the people some candidate unit reaches (everyone else's coverage does not depend on the
        choice, so differences between choices are exact).
    covered_fastest : float
        The same with the fastest choice (before the tie-break).

    Both are NaN when nothing was compared: no other unit within the tolerance (most
    incidents), or more than :data:`MAX_SLOTS` slots.
    """

    units: tuple[int, ...]
    covered_after: float
    covered_fastest: float


def coverage_tiebreak(
    index: CoverageIndex,
    slot_fits: np.ndarray,
    chosen: Sequence[int],
    eta: np.ndarray,
    target_s: float,
    fleet: np.ndarray,
    free: np.ndarray,
    base_lon: np.ndarray,
    base_lat: np.ndarray,
    tolerance_s: float = TIE_TOLERANCE_S,
) -> TieBreak:
    """Re-choose the units of one incident's slots of one type to keep the most coverage.

    An alternative is admissible when it fills the same slots, reaches as many of them within
    the target, and its sorted ETAs are each at most ``tolerance_s`` above the sorted ETAs of
    the fastest choice. Among admissible alternatives the one leaving the most people covered
    by the remaining units wins; then the smaller ETA sum; then the fastest choice itself.

    Parameters
    ----------
    index : CoverageIndex
        Reach sets.
    slot_fits : ndarray of bool, shape (n_slots_of_type, n_units)
        Which units fit each slot.
    chosen : sequence of int
        The fastest choice, one unit column per slot (all filled).
    eta : ndarray, shape (n_units,)
        ETAs to this incident, seconds.
    target_s : float
        Target response time, seconds.
    fleet : ndarray of bool, shape (n_units,)
        Units of this type that count for coverage (dispatchable, not sent elsewhere).
    free : ndarray of bool, shape (n_units,)
        Units that may be chosen (dispatchable, not sent to another incident or slot).
    base_lon, base_lat : ndarray
        Base of every unit, degrees.
    tolerance_s : float
        ETA tolerance, seconds.
    """
    chosen = tuple(int(c) for c in chosen)
    fastest = np.sort(eta[list(chosen)])
    if len(chosen) > MAX_SLOTS:
        return TieBreak(chosen, float("nan"), float("nan"))
    within = int((fastest <= target_s).sum())
    limit = fastest[-1] + tolerance_s
    fit_any = slot_fits.any(axis=0)
    pool_mask = (free | np.isin(np.arange(len(eta)), chosen)) & fit_any & (eta <= limit)
    pool = np.flatnonzero(pool_mask)
    pool = pool[np.argsort(eta[pool], kind="stable")][:MAX_POOL]
    pool = np.union1d(pool, chosen)
    if len(pool) == len(set(chosen)):  # no other unit within the tolerance: nothing to compare
        return TieBreak(chosen, float("nan"), float("nan"))
    rest = np.flatnonzero(fleet & ~np.isin(np.arange(len(eta)), pool))
    # only population points the pool reaches can change; points only the rest reach do not matter
    touched = np.flatnonzero(index.any_reach(base_lon[pool], base_lat[pool]))
    rest_lonlat = zip(np.round(base_lon[rest], 7).tolist(), np.round(base_lat[rest], 7).tolist(), strict=True)
    rest_keys = sorted(set(rest_lonlat))
    always = index.any_reach([k[0] for k in rest_keys], [k[1] for k in rest_keys])[touched]
    cols = touched[~always]
    base_people = 0.0  # constant for every alternative, so it is left out of the comparison
    sub = index.reach(base_lon[pool], base_lat[pool], cols=cols)
    w = index.weight[cols]
    in_fleet = fleet[pool]

    def people_after(choice: tuple[int, ...]) -> float:
        keep = in_fleet & ~np.isin(pool, choice)
        return base_people + float(w[sub[keep].any(axis=0)].sum()) if keep.any() else base_people

    fastest_people = people_after(chosen)
    best = (fastest_people, -float(fastest.sum()), chosen)
    m = slot_fits.shape[0]
    for combo in itertools.permutations(pool.tolist(), m):
        if combo == chosen or not all(slot_fits[j, combo[j]] for j in range(m)):
            continue
        t = np.sort(eta[list(combo)])
        if (t > fastest + tolerance_s).any() or int((t <= target_s).sum()) < within:
            continue
        cand = (people_after(combo), -float(t.sum()), combo)
        if cand[:2] > best[:2]:
            best = cand
    return TieBreak(best[2], best[0], fastest_people)


def apply_tiebreak(
    index: Mapping[str, CoverageIndex],
    slots: Sequence[Slot],
    choice: list[int],
    eta: np.ndarray,
    fits: np.ndarray,
    remaining_s: np.ndarray,
    types: np.ndarray,
    dispatchable: np.ndarray,
    base_lon: np.ndarray,
    base_lat: np.ndarray,
    tolerance_s: float = TIE_TOLERANCE_S,
) -> dict[tuple[int, str], tuple[float, float, tuple[int, ...]]]:
    """Run :func:`coverage_tiebreak` for every incident and unit type of a solved batch.

    ``choice`` (unit column per slot, from the optimal solve) is changed in place.

    Parameters
    ----------
    index : mapping of str to CoverageIndex
        The reach sets of each unit type (on the network as that type travels it,
        :meth:`~geodispatch.network.graph.RoadNetwork.for_unit_type`; usually one index for all).
    slots : sequence of Slot
        Slots of the batch.
    choice : list of int
        Unit column per slot, -1 when unfilled (modified in place).
    eta : ndarray, shape (n_incidents, n_units)
        ETAs, seconds.
    fits : ndarray of bool, shape (n_slots, n_units)
        Unit may fill slot.
    remaining_s : ndarray, shape (n_incidents,)
        Time left of each incident's target, seconds.
    types : ndarray of str, shape (n_units,)
        Unit types.
    dispatchable : ndarray of bool, shape (n_units,)
        Units that may be sent.
    base_lon, base_lat : ndarray, shape (n_units,)
        Each unit's base (where it returns to), degrees.
    tolerance_s : float
        ETA tolerance, seconds.

    Returns
    -------
    dict
        ``(incident index, unit type) -> (people covered after, after the fastest choice, the
        fastest choice)`` for every group the tie-break looked at.
    """
    out: dict[tuple[int, str], tuple[float, float, tuple[int, ...]]] = {}
    groups: dict[tuple[int, str], list[int]] = {}
    for s, slot in enumerate(slots):
        groups.setdefault((slot.incident_index, slot.type), []).append(s)
    n_units = len(types)
    for (i, utype), members in groups.items():
        chosen = [choice[s] for s in members]
        if any(k < 0 for k in chosen):
            continue
        used = np.zeros(n_units, dtype=bool)
        used[[k for k in choice if k >= 0]] = True
        fleet = dispatchable & (types == utype) & (~used | np.isin(np.arange(n_units), chosen))
        free = dispatchable & ~used
        tb = coverage_tiebreak(
            index[utype], fits[members], chosen, eta[i], float(remaining_s[i]), fleet, free, base_lon, base_lat,
            tolerance_s,
        )
        if tb.units != tuple(chosen):
            for s, k in zip(members, tb.units, strict=True):
                choice[s] = k
        out[(i, utype)] = (tb.covered_after, tb.covered_fastest, tuple(chosen))
    return out
