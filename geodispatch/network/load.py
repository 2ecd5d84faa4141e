"""Loading road networks from OpenStreetMap files and place queries into a :class:`RoadNetwork`.

This module knows roads only. ``geodispatch.load_network`` (in :mod:`geodispatch.scenario`) adds
the scenario sources on top (the embedded ``synthetic`` regency and region slugs from
``data/regions``) and hands everything else to :func:`load_network` here, which accepts:

* an OSM place query (``"Kabupaten Bantaeng, Sulawesi Selatan, Indonesia"``): downloaded with
  osmnx (``network_type="drive"``, ``retain_all=True`` because regencies have islands);
* a local ``.osm`` / ``.osm.xml`` / ``.osm.bz2`` file (osmnx ``graph_from_xml``);
* a local ``.osm.pbf`` extract (pyrosm), optionally clipped to a bounding box or polygon;
* an osmnx ``.graphml`` file;
* a ``.npz`` file written by :meth:`RoadNetwork.save` (fast reload).

Every loader keeps OpenStreetMap ferries (``route=ferry``) as sea edges joined to the roads at
their ends, and sea links from a file or DataFrame are added on top (``sea_links=``); see
:mod:`geodispatch.network.sea`. ``ferries=False`` gives the road-only network.

Downloads are cached on disk (``GEODISPATCH_CACHE_DIR`` or the user cache directory), so a
second run does not download again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geodispatch import settings
from geodispatch.errors import (
    CorruptFileError,
    DownloadError,
    InputError,
    NoRoadsError,
    SourceNotFoundError,
    UnsupportedFormatError,
)
from geodispatch.geometry import haversine_m
from geodispatch.network.graph import RoadNetwork
from geodispatch.network.sea import (
    DEFAULT_BOARDING_S,
    DEFAULT_BOAT_SPEED_KPH,
    FerryWay,
    add_sea_edges,
    check_boarding_s,
    check_speed_kph,
    ferries_from_frame,
    ferry_from_tags,
    read_sea_links,
)
from geodispatch.network.speeds import (
    FALLBACK_SPEED_KPH,
    congestion_factor,
    edge_speeds_kph,
    speed_table,
    travel_times_s,
)
from geodispatch.settings import cache_dir

log = logging.getLogger(__name__)

XML_SUFFIXES = (".osm", ".osm.xml", ".xml", ".osm.bz2")
PBF_SUFFIXES = (".osm.pbf", ".pbf")
SUPPORTED = ".osm, .osm.xml, .osm.bz2, .osm.pbf, .graphml, .npz"


def graph_to_network(
    graph: Any,
    name: str = "",
    speeds_kph: Mapping[str, float] | None = None,
    hour: int | None = None,
    congestion: Mapping[int, float] | None = None,
    ferries: bool = True,
    boat_speed_kph: float = DEFAULT_BOAT_SPEED_KPH,
    boarding_s: float = DEFAULT_BOARDING_S,
    extra_ferries: Sequence[FerryWay] = (),
) -> RoadNetwork:
    """Convert an osmnx-style MultiDiGraph (nodes with x/y in degrees) into a RoadNetwork.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        Directed road graph; edges may carry ``length`` (m), ``highway``, ``maxspeed`` and a
        shapely ``geometry`` from u to v.
    name : str
        Network name.
    speeds_kph : mapping, optional
        Speed overrides per highway class (km/h).
    hour : int, optional
        Hour of day for the congestion factor (free flow when None).
    congestion : mapping, optional
        Congestion factor per hour (defaults in :mod:`geodispatch.network.speeds`).
    ferries : bool
        Keep ferry edges (``route=ferry`` or ``highway=ferry``, e.g. in a GraphML exported with
        ferries) and ``extra_ferries`` as sea edges; False drops them.
    boat_speed_kph, boarding_s : float
        Crossing speed (km/h) and boarding time (s) of ferries; see :mod:`geodispatch.network.sea`.
    extra_ferries : sequence of FerryWay
        Ferry ways read apart from the graph (OSM XML and PBF files).

    Returns
    -------
    RoadNetwork
        Travel times come from the Indonesian speed profile, not from the graph; ferries cost
        boarding plus length / boat speed.

    Raises
    ------
    CorruptFileError
        When nodes lack x/y coordinates.
    NoRoadsError
        When the graph has no edges.
    """
    if ferries:
        check_speed_kph(boat_speed_kph)
        check_boarding_s(boarding_s)
    graph, graph_ferries = _split_ferries(graph)
    if graph.number_of_edges() == 0:
        raise NoRoadsError(f"{name or 'the network'} has no drivable road edges; choose a larger area or another file")
    node_keys = list(graph.nodes)
    index = {key: i for i, key in enumerate(node_keys)}
    try:
        lon = np.array([float(graph.nodes[k]["x"]) for k in node_keys])
        lat = np.array([float(graph.nodes[k]["y"]) for k in node_keys])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(
            f"{name or 'the graph'}: nodes need numeric 'x' (lon) and 'y' (lat) attributes; "
            "export the graph with osmnx (ox.save_graphml)"
        ) from exc
    try:
        ids = np.array([int(k) for k in node_keys], dtype=np.int64)
    except (TypeError, ValueError):
        ids = np.arange(len(node_keys), dtype=np.int64)
    us, vs, lengths, highways, maxspeeds = [], [], [], [], []
    geoms: list[Any] = []
    for a, b, data in graph.edges(data=True):
        us.append(index[a])
        vs.append(index[b])
        highways.append(data.get("highway"))
        maxspeeds.append(data.get("maxspeed"))
        geom = data.get("geometry")
        coords = np.asarray(geom.coords, dtype=float)[:, :2] if geom is not None else None
        geoms.append(coords)
        length = data.get("length")
        try:
            length = float(length)
        except (TypeError, ValueError):
            length = math.nan
        if not math.isfinite(length):
            ends = [[lon[index[a]], lat[index[a]]], [lon[index[b]], lat[index[b]]]]
            pts = coords if coords is not None else np.array(ends)
            length = float(haversine_m(pts[:-1, 0], pts[:-1, 1], pts[1:, 0], pts[1:, 1]).sum())
        lengths.append(length)
    speeds, classes, has_max = edge_speeds_kph(highways, maxspeeds, speeds_kph)
    times = travel_times_s(lengths, speeds, congestion_factor(hour, congestion))
    network = RoadNetwork.from_arrays(
        ids, lon, lat, us, vs, lengths, times, classes, has_max, geometries=geoms, name=name
    )
    if not ferries:
        return network
    return add_sea_edges(
        network, [*graph_ferries, *extra_ferries], boat_speed_kph=boat_speed_kph, boarding_s=boarding_s,
        snap_limit_m=settings.SNAP_LIMIT_M,
    )


def _values(value: Any) -> list[str]:
    """A tag value as a list of strings (osmnx merges tags of simplified ways into lists)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith("[") and text.endswith("]"):  # a list serialised into GraphML
        return [v.strip(" '\"") for v in text[1:-1].split(",")]
    return [text]


def _split_ferries(graph: Any) -> tuple[Any, list[FerryWay]]:
    """Take the ferry edges (``route=ferry`` or ``highway=ferry``) out of a road graph.

    Each directed ferry edge becomes a one-way :class:`FerryWay` (osmnx stores a two-way way as
    two edges); nodes left without any road are removed. Returns the road graph and the ferries.
    """
    found = [
        (a, b, k, data)
        for a, b, k, data in graph.edges(keys=True, data=True)
        if "ferry" in _values(data.get("route")) or "ferry" in _values(data.get("highway"))
    ]
    if not found:
        return graph, []
    import networkx as nx

    roads = graph.copy()
    roads.remove_edges_from([(a, b, k) for a, b, k, _ in found])
    roads.remove_nodes_from(list(nx.isolates(roads)))
    out = []
    for a, b, _, data in found:
        geom = data.get("geometry")
        if geom is not None:
            coords = np.asarray(geom.coords, dtype=float)[:, :2]
        else:
            coords = np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in (a, b)], dtype=float)
        tags = {
            key: _values(data.get(key))[0]
            for key in ("name", "duration", "motor_vehicle", "motorcar")
            if _values(data.get(key))
        }
        osm_id = next(iter(_values(data.get("osmid"))), "0")
        ferry = ferry_from_tags(coords, tags, osm_id)
        out.append(FerryWay(ferry.coords, ferry.name, ferry.osm_id, 1, ferry.duration_s, ferry.carries))
    return roads, out


def retime(
    network: RoadNetwork,
    *,
    speeds_kph: Mapping[str, float] | None = None,
    hour: int | None = None,
    congestion: Mapping[int, float] | None = None,
) -> RoadNetwork:
    """The network with its travel times from the speed profile, for a free-flow network.

    A ferry or sea link keeps its crossing time (boats have no road speed or congestion); an
    edge whose speed came from a ``maxspeed`` tag keeps it; every other edge gets its highway
    class's speed with ``speeds_kph`` applied (as :func:`graph_to_network` does); all times are
    then multiplied by the congestion factor of ``hour``.

    Parameters
    ----------
    network : RoadNetwork
        A network timed at free flow with the default speed table (the synthetic regency).
    speeds_kph, hour, congestion
        As for :func:`load_network`.

    Returns
    -------
    RoadNetwork
        A new network (the input is not changed); the same object when no option is given.
    """
    if speeds_kph is None and hour is None and congestion is None:
        return network
    factor = congestion_factor(hour, congestion)
    table = speed_table(speeds_kph)
    kph = np.array([table.get(c, FALLBACK_SPEED_KPH) for c in network.highway_classes.tolist()], dtype=np.float64)
    class_time = travel_times_s(network.edge_length_m, kph[network.edge_highway_code])
    times = np.where(network.edge_has_maxspeed, network.edge_time_s, class_time) * factor
    times = np.where(network.is_sea_edge, network.edge_time_s, times)  # a crossing keeps its own time
    fields = {f.name: getattr(network, f.name) for f in dataclasses.fields(network) if f.init and f.name[0] != "_"}
    return RoadNetwork(**{**fields, "edge_time_s": times})


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (*PBF_SUFFIXES, *XML_SUFFIXES, ".graphml", ".npz"):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _read_graphml(path: Path) -> Any:
    import osmnx as ox

    try:
        return ox.load_graphml(path)
    except Exception as exc:  # osmnx/networkx raise many types for a broken file
        raise CorruptFileError(
            f"{path}: cannot read GraphML ({type(exc).__name__}: {exc}); re-export it with osmnx"
        ) from exc


def _split_osm_xml(path: Path, roads_out: Path) -> list[FerryWay]:
    """Copy an OSM XML file's ``highway`` ways and their nodes to ``roads_out``; return its ferry ways.

    osmnx's ``graph_from_xml`` turns *every* way into road (buildings, landuse, ferries) and every
    node into a graph node, so the file is filtered first: roads are the ways with a ``highway``
    tag that are not ferries, nodes those of the roads.
    """
    import bz2
    import xml.etree.ElementTree as ET

    opener = bz2.open if path.name.lower().endswith(".bz2") else open
    coords: dict[str, tuple[float, float]] = {}
    node_xml: dict[str, bytes] = {}
    road_xml: list[bytes] = []
    used: set[str] = set()
    ferry_ways: list[tuple[str, list[str], dict[str, str]]] = []
    with opener(path, "rb") as src:
        for _, elem in ET.iterparse(src, events=("end",)):
            if elem.tag == "node":
                node_id = elem.get("id", "")
                coords[node_id] = (float(elem.get("lon", "nan")), float(elem.get("lat", "nan")))
                node_xml[node_id] = ET.tostring(elem)
                elem.clear()
            elif elem.tag == "way":
                tags = {t.get("k", ""): t.get("v", "") for t in elem.findall("tag")}
                refs = [n.get("ref", "") for n in elem.findall("nd")]
                if tags.get("route") == "ferry":
                    ferry_ways.append((elem.get("id", "0"), refs, tags))
                elif "highway" in tags:
                    road_xml.append(ET.tostring(elem))
                    used.update(refs)
                elem.clear()
            elif elem.tag == "relation":
                elem.clear()
    with open(roads_out, "wb") as dst:  # only the nodes of roads: no isolated POI or building nodes
        dst.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
        dst.writelines(xml for node_id, xml in node_xml.items() if node_id in used)
        dst.writelines(road_xml)
        dst.write(b"</osm>\n")
    out = []
    for way_id, refs, tags in ferry_ways:
        pts = [coords[r] for r in refs if r in coords]  # nodes outside a clipped extract are absent
        out.append(ferry_from_tags(np.array(pts, dtype=float).reshape(-1, 2), tags, way_id))
    return out


def _read_xml(path: Path) -> tuple[Any, list[FerryWay]]:
    import tempfile
    import xml.etree.ElementTree as ET

    import osmnx as ox

    with tempfile.TemporaryDirectory(prefix="geodispatch-osm-") as tmp:
        roads = Path(tmp) / "roads.osm"
        try:
            ferries = _split_osm_xml(path, roads)
        except (ET.ParseError, ValueError, OSError, EOFError) as exc:
            raise CorruptFileError(
                f"{path}: cannot read OSM XML ({type(exc).__name__}: {exc}); check the file is a complete .osm export"
            ) from exc
        try:
            return ox.graph_from_xml(roads, simplify=True, retain_all=True), ferries
        except Exception as exc:
            empty = type(exc).__name__ in ("InsufficientResponseError", "GraphSimplificationError")
            if empty or "no graph nodes" in str(exc):
                raise NoRoadsError(f"{path}: no drivable roads found in this OSM file") from exc
            raise CorruptFileError(
                f"{path}: cannot read OSM XML ({type(exc).__name__}: {exc}); check the file is a complete .osm export"
            ) from exc


def _read_pbf(path: Path, bbox: Any = None, polygon: Any = None, ferries: bool = True) -> tuple[Any, list[FerryWay]]:
    try:
        from pyrosm import OSM
    except ImportError as exc:  # pragma: no cover - pyrosm is a core dependency
        raise UnsupportedFormatError("reading .osm.pbf needs pyrosm; pip install pyrosm") from exc
    clip = polygon if polygon is not None else (list(bbox) if bbox is not None else None)
    try:
        osm = OSM(str(path), bounding_box=clip)
        nodes, edges = osm.get_network(network_type="driving", nodes=True)
    except Exception as exc:
        raise CorruptFileError(f"{path}: cannot read OSM PBF ({type(exc).__name__}: {exc}); check the extract") from exc
    if edges is None or len(edges) == 0:
        raise NoRoadsError(f"{path}: no drivable roads in this extract (or inside the clip area)")
    found: list[FerryWay] = []
    if ferries:
        try:
            frame = osm.get_data_by_custom_criteria(
                custom_filter={"route": ["ferry"]}, filter_type="keep", keep_nodes=False, keep_relations=False
            )
        except Exception as exc:
            raise CorruptFileError(f"{path}: cannot read the ferries of the extract ({exc})") from exc
        found = ferries_from_frame(frame)
    try:
        graph = osm.to_graph(nodes, edges, graph_type="networkx", retain_all=True, osmnx_compatible=True)
    except Exception as exc:
        raise CorruptFileError(f"{path}: cannot build a graph from the PBF roads ({exc})") from exc
    return graph, found


def _download_place(query: str) -> Any:
    import osmnx as ox

    ox.settings.cache_folder = str(cache_dir() / "osmnx")
    ox.settings.use_cache = True
    try:
        roads = ox.graph_from_place(query, network_type="drive", retain_all=True, simplify=True)
    except Exception as exc:
        kind = type(exc).__name__
        not_found = "Insufficient" in kind or "Nominatim" in str(exc) or "geocode" in str(exc).lower()
        if not_found or isinstance(exc, (TypeError, ValueError)):
            raise SourceNotFoundError(
                f"OpenStreetMap found no area or no drivable roads for {query!r} ({exc}); "
                "check the place name (e.g. 'Kabupaten Bantaeng, Sulawesi Selatan, Indonesia')"
            ) from exc
        raise DownloadError(
            f"downloading {query!r} from OpenStreetMap failed ({kind}: {exc}); "
            "check the internet connection, or pass a local .osm.pbf / .graphml file"
        ) from exc
    return _with_downloaded_ferries(roads, query)


def _with_downloaded_ferries(roads: Any, query: str) -> Any:
    """Add the place's ``route=ferry`` ways to a downloaded road graph.

    A second osmnx query with a custom filter; ferries often reach beyond the place's polygon, so
    edges with one end inside are kept (``truncate_by_edge``). The ferry edges are marked
    ``route=ferry``: :func:`graph_to_network` turns them into sea edges. No ferry in the area is
    normal.
    """
    import networkx as nx
    import osmnx as ox

    try:
        boats = ox.graph_from_place(
            query, custom_filter='["route"="ferry"]', retain_all=True, simplify=True, truncate_by_edge=True
        )
    except Exception as exc:
        if "Insufficient" in type(exc).__name__ or "no graph nodes" in str(exc).lower():
            return roads  # the area has no ferry
        raise DownloadError(
            f"downloading the ferries of {query!r} from OpenStreetMap failed ({type(exc).__name__}: {exc}); "
            "retry, or load the roads without ferries (--no-ferries)"
        ) from exc
    for _, _, data in boats.edges(data=True):
        data["route"] = "ferry"
        data.pop("highway", None)
    return nx.compose(roads, boats)


def load_place(query: str, cache_key: str | None = None, refresh: bool = False, **speed_options: Any) -> RoadNetwork:
    """Download the drive network of an OSM place query with osmnx, cached on disk.

    Parameters
    ----------
    query : str
        OSM place query ("Kabupaten Bantaeng, Sulawesi Selatan, Indonesia").
    cache_key : str, optional
        Readable prefix of the cache file name (default: a slug of the query).
    refresh : bool
        Download again even when a cached copy exists.
    **speed_options
        ``speeds_kph``, ``hour``, ``congestion``, ``boat_speed_kph``, ``boarding_s`` as for
        :func:`graph_to_network`. The cached network holds the place's ferries.

    Returns
    -------
    RoadNetwork
    """
    cache_key = cache_key or _slug(query)
    # "sea-1": cached networks hold the place's ferries (older caches without them are not reused)
    digest = hashlib.sha1(repr((query, "sea-1", sorted(speed_options.items(), key=str))).encode()).hexdigest()[:10]
    path = cache_dir() / "networks" / f"{cache_key}-{digest}.npz"
    if path.exists() and not refresh:
        log.info("loading cached network %s", path)
        try:
            return RoadNetwork.load(path)
        except CorruptFileError:
            log.warning("cached network %s is unreadable or from an older version; downloading again", path)
    log.info("downloading %r from OpenStreetMap", query)
    network = graph_to_network(_download_place(query), name=query, **speed_options)
    network.save(path)
    return network


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "place"


def load_network(
    source: str | os.PathLike[str],
    *,
    speeds_kph: Mapping[str, float] | None = None,
    hour: int | None = None,
    congestion: Mapping[int, float] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: Any = None,
    refresh: bool = False,
    ferries: bool = True,
    boat_speed_kph: float = DEFAULT_BOAT_SPEED_KPH,
    boarding_s: float = DEFAULT_BOARDING_S,
    sea_links: str | os.PathLike[str] | Any = None,
) -> RoadNetwork:
    """Load a road network from any supported source.

    Parameters
    ----------
    source : str or path
        See the module docstring.
    speeds_kph : mapping, optional
        Speed overrides (km/h per highway class); a region's own overrides apply first.
    hour : int, optional
        Hour of day (0-23) for the congestion factor; free flow when None.
    congestion : mapping, optional
        Congestion factor per hour, overriding the region's and the default table.
    bbox : (min_lon, min_lat, max_lon, max_lat), optional
        Clip a ``.osm.pbf`` extract to this box (degrees).
    polygon : shapely Polygon, optional
        Clip a ``.osm.pbf`` extract to this polygon (lon/lat).
    refresh : bool
        Download again even when a cached copy exists.
    ferries : bool
        Keep the source's sea edges: OSM ``route=ferry`` ways (every loader) and the crossings a
        saved ``.npz`` holds. False gives the road-only network (``sea_links`` are still added).
    boat_speed_kph : float
        Crossing speed of OSM ferries without a ``duration`` tag, km/h
        (default :data:`geodispatch.network.sea.DEFAULT_BOAT_SPEED_KPH`, reasons there).
    boarding_s : float
        Boarding and berthing time added to each OSM ferry crossing, seconds
        (default :data:`geodispatch.network.sea.DEFAULT_BOARDING_S`).
    sea_links : path or pandas.DataFrame, optional
        Sea links (speedboats) to add: a CSV file or a DataFrame as read by
        :func:`geodispatch.network.sea.read_sea_links`. With ``hour``, links closed at that hour
        are left out.

    Returns
    -------
    RoadNetwork
        Sea edges have highway class ``ferry`` or ``sea_link``.

    Raises
    ------
    SourceNotFoundError, UnsupportedFormatError, CorruptFileError, NoRoadsError, DownloadError
        With a message that says what to do.
    InputError, SnapError
        On a boat speed <= 0, a sea-link file with missing columns or a link end far from roads.
    """
    if ferries:
        check_speed_kph(boat_speed_kph)
        check_boarding_s(boarding_s)
    links = read_sea_links(sea_links) if sea_links is not None else None
    network = _load_roads(
        source, speeds_kph=speeds_kph, hour=hour, congestion=congestion, bbox=bbox, polygon=polygon,
        refresh=refresh, ferries=ferries, boat_speed_kph=boat_speed_kph, boarding_s=boarding_s,
    )
    return apply_sea_options(network, ferries=ferries, links=links, hour=hour)


def apply_sea_options(
    network: RoadNetwork, ferries: bool = True, links: Any = None, hour: int | None = None
) -> RoadNetwork:
    """Apply ``ferries=False`` (drop the network's own sea edges) and add sea links.

    Parameters
    ----------
    network : RoadNetwork
        A loaded network (from any source, the synthetic regency included).
    ferries : bool
        False drops the ferry and sea-link edges the network came with.
    links : path or DataFrame, optional
        Sea links to add (:func:`geodispatch.network.sea.read_sea_links`).
    hour : int, optional
        Hour of the day: links closed then are left out.

    Returns
    -------
    RoadNetwork
    """
    if not ferries:
        network = network.without_sea()
    if links is not None:
        network = add_sea_edges(network, links=read_sea_links(links), hour=hour, snap_limit_m=settings.SNAP_LIMIT_M)
    return network


def _load_roads(
    source: str | os.PathLike[str],
    *,
    speeds_kph: Mapping[str, float] | None,
    hour: int | None,
    congestion: Mapping[int, float] | None,
    bbox: tuple[float, float, float, float] | None,
    polygon: Any,
    refresh: bool,
    ferries: bool,
    boat_speed_kph: float,
    boarding_s: float,
) -> RoadNetwork:
    """The source's network with its own sea edges; see :func:`load_network`."""
    text = str(source).strip()
    if not text:
        raise InputError("no network source given; pass a place name or a road network file")
    if text == "synthetic" or text.startswith("synthetic:"):
        raise InputError(
            f"{text!r} is a scenario source, not a file or place: use geodispatch.load_network "
            "(geodispatch.scenario), which also knows region slugs"
        )
    options: dict[str, Any] = {"speeds_kph": speeds_kph, "hour": hour, "congestion": congestion}
    boats: dict[str, Any] = {"boat_speed_kph": boat_speed_kph, "boarding_s": boarding_s}
    path = Path(text).expanduser()
    suffix = _suffix(path)
    looks_like_file = path.exists() or suffix in (*XML_SUFFIXES, *PBF_SUFFIXES, ".graphml", ".npz") or os.sep in text
    if looks_like_file:
        if not path.exists():
            raise SourceNotFoundError(f"file not found: {path}")
        if path.is_dir():
            raise UnsupportedFormatError(f"{path} is a directory; pass a road network file ({SUPPORTED})")
        if (bbox is not None or polygon is not None) and suffix not in PBF_SUFFIXES:
            raise InputError(f"{path.name}: bbox and polygon clip a .osm.pbf extract only; clip this file before")
        if suffix == ".npz":
            if any(v is not None for v in options.values()):
                raise InputError(
                    f"{path.name}: an .npz network keeps the travel times it was built with; speed options "
                    "(speeds_kph, hour, congestion) apply to the road file it came from (.graphml, .osm, .osm.pbf)"
                )
            return RoadNetwork.load(path)
        if suffix == ".graphml":
            return graph_to_network(_read_graphml(path), name=place_name(path), ferries=ferries, **options, **boats)
        if suffix in XML_SUFFIXES:
            graph, found = _read_xml(path)
            return graph_to_network(
                graph, name=place_name(path), ferries=ferries, extra_ferries=found, **options, **boats
            )
        if suffix in PBF_SUFFIXES:
            graph, found = _read_pbf(path, bbox, polygon, ferries=ferries)
            return graph_to_network(
                graph, name=place_name(path), ferries=ferries, extra_ferries=found, **options, **boats
            )
        raise UnsupportedFormatError(f"unsupported file type {path.name!r}; use one of {SUPPORTED}")
    if bbox is not None or polygon is not None:
        raise InputError("bbox and polygon clip a .osm.pbf extract only, not a place query")
    return load_place(text, refresh=refresh, **options, **boats)


_OSMNX_NETWORK_TYPES = ("drive_service", "all_private", "drive", "walk", "bike", "all")


def place_name(path: Path) -> str:
    """A human name for a road file: ``simpl_balikpapan_kota_drive.graphml`` -> ``Balikpapan Kota``.

    The file name is all a road file says about its place (osmnx writes no place name into a
    graphml); the osmnx ``simpl_`` prefix, the network type suffix (``_drive``, ``_walk``, ...) and
    ``-latest`` (Geofabrik) are dropped, separators become spaces and each word is capitalised.
    """
    stem = path.name.split(".")[0]
    stem = stem.removeprefix("simpl_").removesuffix("-latest")
    for kind in _OSMNX_NETWORK_TYPES:
        if stem.endswith(f"_{kind}"):
            stem = stem[: -len(kind) - 1]
            break
    words = stem.replace("_", " ").replace("-", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words) or path.name
