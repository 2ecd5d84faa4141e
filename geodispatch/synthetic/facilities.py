"""Kecamatan seats and emergency-service stations with their units (SYNTHETIC)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geodispatch.network.graph import RoadNetwork
from geodispatch.regions import Agency, Station, UnitConfig, Workflow
from geodispatch.synthetic._common import _REF_NODES, SECONDARY, SERVICE, TRACK, _source
from geodispatch.synthetic.land import _Towns
from geodispatch.synthetic.roads import _unique

log = logging.getLogger(__name__)


@dataclass
class _Kecamatan:
    xy: np.ndarray  # seat coordinates (m)
    mass: np.ndarray  # landmass of each seat
    node: np.ndarray  # node index of each seat
    names: list[str]
    n_towns: int


def _town_name(i: int, island: bool) -> str:
    return "Pulau Sintetis" if island else f"Sintetis {i + 1:02d}"


def _kecamatan_seats(
    rng: np.random.Generator, towns: _Towns, xy: np.ndarray, mass: np.ndarray, is_town: np.ndarray,
    centres: np.ndarray, n_nodes: int,
) -> _Kecamatan:
    """Kecamatan seats: every town, then rural seats spread by farthest-point sampling."""
    n_kec = max(6, round(9 * n_nodes / _REF_NODES))
    n_rural = max(0, n_kec - len(towns))
    rural = np.flatnonzero(~is_town & (mass == 0))
    if len(rural) > 20_000:
        rural = np.sort(rng.choice(rural, 20_000, replace=False))
    main_towns = np.flatnonzero(~towns.island)
    mind, _ = cKDTree(xy[centres[main_towns]]).query(xy[rural])
    picked: list[int] = []
    for _ in range(min(n_rural, len(rural))):
        i = int(np.argmax(mind))
        picked.append(i)
        mind = np.minimum(mind, np.hypot(xy[rural, 0] - xy[rural[i], 0], xy[rural, 1] - xy[rural[i], 1]))
    seats = rural[np.asarray(picked, dtype=np.int64)]
    if len(seats):
        # farthest points sit on the coast: two Lloyd steps move each seat into the middle of its area
        fixed = xy[centres[main_towns]]
        for _ in range(2):
            _, owner = cKDTree(np.concatenate([fixed, xy[seats]])).query(xy[rural])
            owner -= len(fixed)
            mine = owner >= 0
            count = np.bincount(owner[mine], minlength=len(seats))
            mean = np.column_stack(
                [np.bincount(owner[mine], xy[rural[mine], c], minlength=len(seats)) for c in (0, 1)]
            ) / np.maximum(count, 1)[:, None]
            target = np.where(count[:, None] > 0, mean, xy[seats])
            _, nearest = cKDTree(xy[rural]).query(target)
            seats = rural[nearest]
        seats = _unique(seats)
    nodes = np.concatenate([centres, seats])
    width = max(2, len(str(len(nodes))))
    names: list[str] = []
    k = 0
    for i in range(len(nodes)):
        if i < len(towns) and towns.island[i]:
            names.append("Kecamatan Pulau Sintetis")
        else:
            k += 1
            names.append(f"Kecamatan Sintetis {k:0{width}d}")
    return _Kecamatan(xy[nodes], mass[nodes], nodes, names, len(towns))


_UNIT_ABBR = {"ambulance": "amb", "damkar": "dmk", "rescue": "rsc", "polisi": "pol", "bpbd": "bpbd", "pmi": "pmi",
              "sar": "sar"}


_AGENCIES: tuple[tuple[str, str, str, tuple[str, ...] | None], ...] = (
    ("syn-kominfo", "Diskominfo Sintetis (Call Center 112)", "kominfo", None),
    ("syn-psc", "PSC 119 Kabupaten Sintetis", "psc", None),
    ("syn-damkar", "Dinas Damkar Sintetis", "damkar", None),
    ("syn-bpbd", "BPBD Kabupaten Sintetis", "bpbd", ("bpbd", "rescue")),
    ("syn-polres", "Polres Sintetis", "polisi", None),
    ("syn-pmi", "PMI Kabupaten Sintetis", "pmi", None),
    ("syn-sar", "Pos SAR Sintetis", "sar", ("sar",)),
)
"""The synthetic regency's agencies: one per service it has, plus the 112 call centre (SYNTHETIC)."""

_STATION_AGENCY = {
    "psc": "syn-psc", "rsud": "syn-psc", "puskesmas": "syn-psc", "ambulance": "syn-psc", "damkar": "syn-damkar",
    "bpbd": "syn-bpbd", "polisi": "syn-polres", "pmi": "syn-pmi", "sar": "syn-sar",
}
"""Station type -> the synthetic agency that runs it (and owns its units)."""


def _agencies(seed: int) -> tuple[Agency, ...]:
    """The synthetic agencies (SYNTHETIC, labelled with the generator's source)."""
    return tuple(
        Agency(id=i, name=n, kind=k, unit_types=u, source=_source(seed))  # type: ignore[arg-type]
        for i, n, k, u in _AGENCIES
    )


def _workflow(seed: int) -> dict[str, Workflow]:
    """Synthetic forwarding rules: the call centre hears of every report; BPBD of every disaster."""
    src = _source(seed)
    disaster = Workflow(notify=("syn-bpbd",), command="syn-bpbd", source=src)
    return {"*": Workflow(notify=("syn-kominfo",), source=src), "banjir": disaster, "longsor": disaster}


def _stations(
    rng: np.random.Generator,
    network: RoadNetwork,
    edge_cls: np.ndarray,
    towns: _Towns,
    kec: _Kecamatan,
    centres: np.ndarray,
    xy: np.ndarray,
    mass: np.ndarray,
    seed: int,
) -> tuple[Station, ...]:
    """Stations of every type with their units, each exactly on a well-connected road node."""
    _, scc = connected_components(network.csr, directed=True, connection="strong")
    good = (edge_cls != SERVICE) & (edge_cls != TRACK)
    good_node = np.zeros(network.n_nodes, dtype=bool)
    good_node[network.edge_u[good]] = True
    good_node[network.edge_v[good]] = True
    eligible = good_node & ((scc == scc[centres[0]]) | (scc == scc[centres[-1]]))
    art = edge_cls <= SECONDARY
    art_node = np.zeros(network.n_nodes, dtype=bool)
    art_node[network.edge_u[art]] = True
    trees: dict[tuple[int, bool], tuple[cKDTree, np.ndarray]] = {}
    for m in (0, 1):
        for on_art in (False, True):
            idx = np.flatnonzero(eligible & (mass == m) & (art_node if on_art else True))
            if len(idx):
                trees[(m, on_art)] = (cKDTree(xy[idx]), idx)
    used: set[int] = set()

    def pick(target: np.ndarray, m: int, on_art: bool = False) -> int:
        tree, idx = trees.get((m, on_art)) or trees[(m, False)]
        k = min(32, len(idx))
        _, near = tree.query(target, k=k)
        for j in np.atleast_1d(near):
            if int(idx[j]) not in used:
                used.add(int(idx[j]))
                return int(idx[j])
        return int(idx[np.atleast_1d(near)[0]])

    source = _source(seed)
    counters: dict[str, int] = {}
    out: list[Station] = []

    def add(kind: str, name: str, node: int, units: list[tuple[str, tuple[str, ...]]]) -> None:
        counters[kind] = counters.get(kind, 0) + 1
        sid = f"{kind}-{counters[kind]:02d}"
        per: dict[str, int] = {}
        unit_list = []
        for utype, caps in units:
            per[utype] = per.get(utype, 0) + 1
            unit_list.append(UnitConfig(id=f"{sid}-{_UNIT_ABBR[utype]}-{per[utype]}", type=utype, capabilities=caps))  # type: ignore[arg-type]
        out.append(
            Station(
                id=sid,
                name=name,
                type=kind,  # type: ignore[arg-type]
                lon=float(network.lon[node]),
                lat=float(network.lat[node]),
                source=source,
                units=tuple(unit_list),
                agency=_STATION_AGENCY[kind],
            )
        )

    def near_centre(t: int, spread: float) -> np.ndarray:
        ang = rng.uniform(0, 2 * math.pi)
        return np.array([towns.cx[t], towns.cy[t]]) + spread * towns.radius[t] * rng.uniform(0, 1) * np.array(
            [math.cos(ang), math.sin(ang)]
        )

    als, bls = ("ALS",), ("BLS",)
    add("psc", "PSC 119 Kabupaten Sintetis", pick(near_centre(0, 0.15), 0),
        [("ambulance", als), ("ambulance", als), ("ambulance", bls)])
    add("rsud", "RSUD Kabupaten Sintetis", pick(near_centre(0, 0.4), 0), [("ambulance", als), ("ambulance", bls)])
    add("damkar", "Pos Damkar Induk Sintetis", pick(near_centre(0, 0.4), 0, on_art=True),
        [("damkar", ("water_tender",)), ("damkar", ("water_tender",)), ("rescue", ("extrication",))])
    add("bpbd", "BPBD Kabupaten Sintetis", pick(near_centre(0, 0.5), 0),
        [("bpbd", ("evacuation", "water_rescue")), ("rescue", ("extrication",))])
    add("polisi", "Polres Sintetis", pick(near_centre(0, 0.4), 0), [("polisi", ("patrol",)), ("polisi", ("patrol",))])
    add("pmi", "PMI Kabupaten Sintetis", pick(near_centre(0, 0.5), 0), [("pmi", bls)])
    add("sar", "Pos SAR Sintetis", pick(near_centre(0, 0.6), 0), [("sar", ("water_rescue", "search"))])
    main_towns = np.flatnonzero(~towns.island)
    for t in main_towns.tolist():
        short = kec.names[t].removeprefix("Kecamatan ")
        add("puskesmas", f"Puskesmas {short}", pick(near_centre(t, 0.3), 0), [("ambulance", bls)])
        if t > 0:
            add("polisi", f"Polsek {short}", pick(near_centre(t, 0.3), 0), [("polisi", ("patrol",))])
        if t % 3 == 1:
            add("damkar", f"Pos Damkar Sektor {short}", pick(near_centre(t, 0.3), 0, on_art=True),
                [("damkar", ("water_tender",))])
    n_amb = 0
    for j, i in enumerate(range(kec.n_towns, len(kec.node))):
        short = kec.names[i].removeprefix("Kecamatan ")
        add("puskesmas", f"Puskesmas {short}", pick(kec.xy[i], 0), [("ambulance", bls)])
        if j % 2 == 0:
            add("ambulance", f"Pos Ambulans 119 {short}", pick(kec.xy[i], 0, on_art=True), [("ambulance", bls)])
            n_amb += 1
    if n_amb == 0 and len(main_towns) > 1:
        mid = (np.array([towns.cx[0], towns.cy[0]]) + np.array([towns.cx[1], towns.cy[1]])) / 2.0
        add("ambulance", "Pos Ambulans 119 Sintetis", pick(mid, 0, on_art=True), [("ambulance", bls)])
    isl = int(np.flatnonzero(towns.island)[0])
    add("puskesmas", "Puskesmas Pulau Sintetis", pick(near_centre(isl, 0.2), 1), [("ambulance", bls)])
    return tuple(out)
