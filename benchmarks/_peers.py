"""The real peers of the benchmarks, on our network: Valhalla (tiles built from an OSM export) and pandana.

* :func:`export_osm_pbf` writes a :class:`RoadNetwork` as an OSM PBF with pyosmium: one OSM way
  per road (a two-way edge pair is one way, a one-way edge a way tagged ``oneway=yes``), with
  the edge's polyline as way nodes and ``highway`` / ``maxspeed`` (our speed, km/h) tags.
* :class:`Valhalla` builds tiles from that file with ``valhalla_build_tiles`` (shipped by
  ``pyvalhalla-weekly`` in ``site-packages/valhalla/bin``) and answers through the Python
  bindings (``valhalla.Actor``). Valhalla applies its own speed model to the tags (it reads
  ``maxspeed`` but adds its own turn, junction and class costs), so its times differ from ours;
  :func:`jaccard` and the ETA correlation in the tables measure by how much.
* :func:`pandana_network` builds a pandana ``Network`` (contraction hierarchy) on our CSR
  travel times; its preprocessing is timed apart.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from geodispatch.network import RoadNetwork

_VALHALLA_CLASSES = {
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
    "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "service", "track", "road",
}


def export_osm_pbf(net: RoadNetwork, path: Path) -> Path:
    """Write the network as an OSM PBF (one way per road, our speeds as ``maxspeed``).

    Junction nodes get ids ``1..n_nodes`` (node index + 1); interior polyline vertices get ids
    after them. Returns ``path``.
    """
    import osmium

    n = net.n_nodes
    idx = np.arange(net.n_edges)
    twin = net.twin_edge
    keep = (twin < 0) | (idx < twin)
    offsets = net.geom_offsets
    kph = net.edge_length_m / np.maximum(net.edge_time_s, 1e-9) * 3.6
    path.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(path))
    try:
        for i in range(n):
            writer.add_node(osmium.osm.mutable.Node(id=i + 1, location=(float(net.lon[i]), float(net.lat[i]))))
        next_id = n + 1
        ways = []
        for e in np.flatnonzero(keep).tolist():
            lo, hi = int(offsets[e]), int(offsets[e + 1])
            refs = [int(net.edge_u[e]) + 1]
            for k in range(lo + 1, hi - 1):
                writer.add_node(
                    osmium.osm.mutable.Node(id=next_id, location=(float(net.geom_lon[k]), float(net.geom_lat[k])))
                )
                refs.append(next_id)
                next_id += 1
            refs.append(int(net.edge_v[e]) + 1)
            highway = str(net.edge_highway[e])
            tags = {"highway": highway if highway in _VALHALLA_CLASSES else "unclassified",
                    "maxspeed": str(max(5, round(float(kph[e]))))}
            if twin[e] < 0:
                tags["oneway"] = "yes"
            ways.append((refs, tags))
        for way_id, (refs, tags) in enumerate(ways, start=1):
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags))
    finally:
        writer.close()
    return path


class Valhalla:
    """Valhalla routing tiles built from our network, queried through its Python bindings.

    Parameters
    ----------
    net : RoadNetwork
        The network to export and tile.
    workdir : Path, optional
        Where the PBF, config and tiles go (a temporary directory by default).
    """

    def __init__(self, net: RoadNetwork, workdir: Path | None = None) -> None:
        import valhalla

        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="gd-valhalla-"))
        tiles = self.workdir / "tiles"
        tiles.mkdir(parents=True, exist_ok=True)
        pbf = export_osm_pbf(net, self.workdir / "network.osm.pbf")
        config = valhalla.get_config(tile_extract="", tile_dir=tiles)
        config_path = self.workdir / "valhalla.json"
        config_path.write_text(json.dumps(config))
        binary = Path(valhalla.__file__).parent / "bin" / "valhalla_build_tiles"
        subprocess.run(  # it writes duplicateways.txt into its working directory: keep that in workdir
            [str(binary), "-c", str(config_path), str(pbf)], check=True, capture_output=True, cwd=self.workdir
        )
        self.actor = valhalla.Actor(str(config_path))

    def isochrones(self, lon: float, lat: float, minutes: tuple[float, ...]) -> list[Any]:
        """Valhalla's ``isochrone`` polygons (shapely, lon/lat) for one location, ascending minutes."""
        import shapely

        req = {"locations": [{"lon": lon, "lat": lat}], "costing": "auto", "polygons": True,
               "contours": [{"time": float(m)} for m in minutes]}
        out = json.loads(self.actor.isochrone(json.dumps(req)))
        polys = {round(f["properties"]["contour"], 3): shapely.geometry.shape(f["geometry"]) for f in out["features"]}
        return [polys[round(float(m), 3)] for m in minutes]

    def times_to(self, lon: np.ndarray, lat: np.ndarray, to_lon: float, to_lat: float) -> np.ndarray:
        """Seconds from each point to one point (``sources_to_targets``), inf when Valhalla finds no route."""
        req = {"sources": [{"lon": float(x), "lat": float(y)} for x, y in zip(lon, lat, strict=True)],
               "targets": [{"lon": to_lon, "lat": to_lat}], "costing": "auto"}
        out = json.loads(self.actor.matrix(json.dumps(req)))
        rows = out["sources_to_targets"]
        return np.asarray([np.inf if r[0].get("time") is None else float(r[0]["time"]) for r in rows])


def pandana_network(net: RoadNetwork) -> Any:
    """pandana ``Network`` on our CSR travel times (fastest of parallel edges); building it builds its CH.

    No ``precompute(horizon)``: that caches a range query from every node (a million bounded
    searches on 1M nodes, and the >30 min "preprocessing" of the session-2 run); neither
    ``nodes_in_range`` nor ``shortest_path_lengths`` needs it, and our side precomputes nothing
    for those queries either.
    """
    import pandana
    import pandas as pd

    csr = net.csr
    rows = np.repeat(np.arange(net.n_nodes), np.diff(csr.indptr))
    nodes = pd.DataFrame({"x": net.lon, "y": net.lat}, index=np.arange(net.n_nodes))
    edges = pd.DataFrame({"from": rows, "to": csr.indices.astype(np.int64), "t": csr.data})
    return pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["t"]], twoway=False)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard index of two boolean masks (1.0 when both are empty)."""
    union = int((a | b).sum())
    return 1.0 if union == 0 else int((a & b).sum()) / union
