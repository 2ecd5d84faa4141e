"""The embedded synthetic regency: a made-up kabupaten generated deterministically in code.

``synthetic_regency(n_nodes, seed)`` builds, with vectorised numpy/scipy/shapely (no Python loop
over nodes or edges), a plausible small Indonesian regency that works on a fresh machine with no
network access and scales from a few hundred nodes (tests) to millions (benchmarks):

* **Land**: an irregular main island and one small offshore island, in the open Flores Sea
  around lon 119.8, lat -7.5 (about 90 km from the nearest real coast in the bundled kabupaten
  boundaries) so nobody mistakes it for a real place. The land is about 35 km across at the
  default 3,000 nodes and grows with ``sqrt(n_nodes)``, so road density stays constant.
* **Towns**: a few dense street grids (90-130 m blocks, rotated and jittered) with one-way street
  couplets in the core, ``tertiary`` / ``residential`` / ``living_street`` streets, a
  ``secondary`` main street and ``service`` driveways. The first town is the capital.
* **Rural roads**: hamlets and scattered junctions joined by a spanning tree of a Delaunay
  triangulation plus some loops: ``unclassified``, ``residential`` and ``track``; some are curved
  (polylines with intermediate points).
* **Arterials**: shortest routes between neighbouring towns (graph Voronoi of the towns on the
  candidate road graph), tagged ``trunk`` / ``primary`` / ``secondary``, with ``*_link`` ramps and
  some ``maxspeed`` tags.
* **A river** crossing the main island from coast to coast; no edge crosses it except a few
  bridges (:attr:`SyntheticRegency.bridge_edges`).
* **The small island** has its own road component and only a puskesmas.
* **Stations** (PSC 119, RSUD, puskesmas, ambulance posts, Damkar, BPBD, Polres/Polsek, PMI,
  SAR) with units, placed exactly on road nodes; **population points** denser in towns (about
  200,000 people at the default size, proportional to ``n_nodes``); **desa polygons** (a Voronoi
  tiling of the land) grouped into kecamatan.

Edge lengths are great-circle lengths of the polylines (haversine, metres); travel times come
from the Indonesian speed profile in :mod:`geodispatch.network.speeds`. Everything is labelled
synthetic: the network has ``synthetic=True`` (its label says SYNTHETIC), station sources say
``synthetic: geodispatch.synthetic seed=<seed>``, and the data frames carry
``attrs["source"]``.
"""

from geodispatch.synthetic._common import CENTRE_LAT, CENTRE_LON, MAX_NODES, MIN_NODES, NAME, TARGET_RESPONSE_S
from geodispatch.synthetic.regency import SyntheticRegency, synthetic_regency

__all__ = [
    "CENTRE_LAT",
    "CENTRE_LON",
    "MAX_NODES",
    "MIN_NODES",
    "NAME",
    "TARGET_RESPONSE_S",
    "SyntheticRegency",
    "synthetic_regency",
]
