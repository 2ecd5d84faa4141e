"""The synthetic island's pier, speedboat ambulance and vehicle ferry to the main island (SYNTHETIC).

The small island has its own roads and only a puskesmas; its people reach the main island's PSC,
RSUD and Damkar by boat, as on real Indonesian islands. The pier on each side is the road node
nearest the other island (the shortest crossing between the two road networks), and two boats
cross there, so the island is one crossing away instead of unreachable; ``ferries=False``
(``--no-ferries``) removes both again:

* "Speedboat Ambulans Laut Pulau Sintetis", a sea link that carries **ambulance crews only**
  (a stretcher and a crew, not a fire truck: ``carries`` in :mod:`geodispatch.network.sea`).
  50 km/h (27 knots, inside the 25-35 knots a small twin-outboard speedboat ambulance makes in
  calm water) and 5 minutes to board and cast off, at all hours.
* "Kapal Penyeberangan Pulau Sintetis", a vehicle ferry (highway class ``ferry``) that carries
  every unit type, at the project's planning defaults for ferries (20 km/h and 10 minutes'
  boarding, :data:`~geodispatch.network.sea.DEFAULT_BOAT_SPEED_KPH` /
  :data:`~geodispatch.network.sea.DEFAULT_BOARDING_S`): the way a Damkar truck gets across.

Every figure is made up like the rest of the synthetic regency, chosen to be plausible; none is
a measured figure of a real boat.

Why no boat covers the island within 15 minutes (measured on the default regency, seed 7, and
left so on purpose): the island's people are covered by the island's own puskesmas ambulance
(9,453 of 10,000 within 15 minutes), which reaches the island pier in 7.8 minutes by road. The
two piers are 9.5 km apart (16.4 minutes for the speedboat). Even a sea-ambulance post *at* the
mainland pier with a 35-knot boat and 2 minutes' boarding (10.8 minutes pier to pier; the "PSC
119 ambulans laut" posts of real island regencies) would reach only about 250 island people
within 15 minutes, all of them already covered by the island ambulance, and would never be the
fastest ambulance to anyone on the island (7.8 < 10.8). The people the island ambulance misses
live on the far side, 14-17 minutes by road from the island pier. Moving the island closer does
not change that. So within 15 minutes the island is covered by its own ambulance; the boats add
reach, not 15-minute coverage: the main island's ambulances behind the island's one, Damkar by
the ferry (an hour or more), and the island ambulance over to the mainland pier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geodispatch.network.graph import RoadNetwork
from geodispatch.network.sea import FerryWay
from geodispatch.synthetic._common import _source

BOAT_NAME = "Speedboat Ambulans Laut Pulau Sintetis"
"""Name of the synthetic island's sea link (the network's label says SYNTHETIC)."""
BOAT_SPEED_KPH = 50.0
"""Speed of the synthetic speedboat, km/h (made up)."""
BOARDING_MIN = 5.0
"""Minutes to board and berth the synthetic speedboat (made up)."""
BOAT_CARRIES: tuple[str, ...] = ("ambulance",)
"""Unit types the speedboat takes across: an ambulance crew and a stretcher, not a fire truck."""
FERRY_NAME = "Kapal Penyeberangan Pulau Sintetis"
"""Name of the synthetic vehicle ferry (same piers; project ferry defaults for speed and boarding)."""


def _boat_link(network: RoadNetwork, xy: np.ndarray, mass: np.ndarray, seed: int) -> pd.DataFrame:
    """The island's sea link as a one-row sea-link frame, between the two nearest road nodes.

    Parameters
    ----------
    network : RoadNetwork
        The synthetic roads (node ``i`` at ``xy[i]``).
    xy : ndarray, shape (n_nodes, 2)
        Node coordinates in the generator's local metric frame.
    mass : ndarray of int8
        0 for a node on the main island, 1 on the small island.
    seed : int
        The regency's seed (for the ``source`` attribute).
    """
    main = np.flatnonzero(mass == 0)
    island = np.flatnonzero(mass == 1)
    dist, nearest = cKDTree(xy[main]).query(xy[island])
    k = int(np.argmin(dist))
    a, b = int(main[nearest[k]]), int(island[k])
    frame = pd.DataFrame(
        [
            {
                "from_lon": float(network.lon[a]),
                "from_lat": float(network.lat[a]),
                "to_lon": float(network.lon[b]),
                "to_lat": float(network.lat[b]),
                "speed_kph": BOAT_SPEED_KPH,
                "boarding_min": BOARDING_MIN,
                "name": BOAT_NAME,
                "hours": "",
                "carries": ";".join(BOAT_CARRIES),
            }
        ]
    )
    frame.attrs["source"] = "SYNTHETIC: " + _source(seed)
    return frame


def _ferry(link: pd.DataFrame) -> FerryWay:
    """The island's vehicle ferry between the speedboat's two piers (carries every unit type)."""
    row = link.iloc[0]
    coords = np.array([[row["from_lon"], row["from_lat"]], [row["to_lon"], row["to_lat"]]], dtype=np.float64)
    return FerryWay(coords=coords, name=FERRY_NAME)
