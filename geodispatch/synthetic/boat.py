"""The synthetic island's pier and speedboat: a sea link to the main island (SYNTHETIC).

The small island has its own roads and only a puskesmas; its people reach the main island's PSC,
RSUD and Damkar by boat, as on real Indonesian islands. The pier on each side is the road node
nearest the other island (the shortest crossing between the two road networks), and the boat is
a sea link (:mod:`geodispatch.network.sea`), so the island is one crossing away instead of
unreachable; ``ferries=False`` (``--no-ferries``) removes it again.

The boat's figures are made up like everything else in the synthetic regency, but chosen to be
plausible: 50 km/h (27 knots, inside the 25-35 knots a small twin-outboard speedboat ambulance
makes in calm water; a planning assumption, not a measured figure) and 5 minutes to board a
stretcher and cast off, running at all hours.

Why the boat adds no one within 15 minutes (checked, not tuned): the island lies 9.0 km off the
main island's coast at their closest points and the two piers (nearest road nodes across the
water) are 9.5 km apart, so the crossing alone is 16.4 minutes. No other pier or boat fixes that:
the mainland post nearest the island (Puskesmas Sintetis 04, seed 7) is 14.5 km in a straight
line from the island's coast, 13.4 minutes even for a 35-knot boat leaving from its door with no
boarding, and 20.8 minutes by road from the mainland pier. Covering the island within 15 minutes
from the main island would take a new post at the mainland pier with a boat at the top of that
range (35 knots and 2 minutes' boarding: 10.8 minutes pier to pier), a siting choice for the
planner, not a fact of the regency. So the island is covered by its own puskesmas ambulance, and
the boat brings the main island's Damkar, RSUD and PSC within reach (an hour or more).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geodispatch.network.graph import RoadNetwork
from geodispatch.synthetic._common import _source

BOAT_NAME = "Speedboat Ambulans Laut Pulau Sintetis"
"""Name of the synthetic island's sea link (the network's label says SYNTHETIC)."""
BOAT_SPEED_KPH = 50.0
"""Speed of the synthetic speedboat, km/h (made up)."""
BOARDING_MIN = 5.0
"""Minutes to board and berth the synthetic speedboat (made up)."""
BOAT_CARRIES: tuple[str, ...] = ("ambulance",)
"""Unit types the speedboat takes across: an ambulance crew and a stretcher, not a fire truck."""


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
