"""The ``closest`` baseline: closest idle unit per slot, one incident at a time.

This is what a dispatcher does without an optimiser: take the incidents in the order they were
reported, and for each of its needed units send the closest free unit of the right type and
capabilities. It ignores priorities and the effect of one incident's choice on the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geodispatch.assign.model import Slot


def solve_closest(slots: Sequence[Slot], eta: np.ndarray, fits: np.ndarray, order: Sequence[int]) -> list[int]:
    """Greedy assignment in arrival order.

    Parameters
    ----------
    slots : sequence of Slot
        Slots of all incidents.
    eta : ndarray, shape (n_incidents, n_units)
        ETAs, seconds (``inf`` = cannot reach).
    fits : ndarray of bool, shape (n_slots, n_units)
        Unit may fill slot.
    order : sequence of int
        Incident indices in arrival order.

    Returns
    -------
    list of int
        Unit column per slot, -1 when no free unit fits.
    """
    choice = [-1] * len(slots)
    used = np.zeros(fits.shape[1], dtype=bool)
    by_incident: dict[int, list[int]] = {}
    for s, slot in enumerate(slots):
        by_incident.setdefault(slot.incident_index, []).append(s)
    for i in order:
        for s in by_incident.get(i, []):
            t = np.where(fits[s] & ~used, eta[i], np.inf)
            k = int(np.argmin(t)) if t.size else 0
            if t.size and np.isfinite(t[k]):
                choice[s] = k
                used[k] = True
    return choice
