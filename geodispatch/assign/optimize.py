"""Optimal unit-to-slot assignment for simultaneous incidents (OR-Tools min-cost flow).

Every incident's SOP requirements are expanded into *slots* (one per needed unit). A unit fits a
slot when its type matches and it has every capability the slot asks for. The objective is
lexicographic:

1. maximise the number of filled slots of priority-1 incidents;
2. then maximise the number of slots whose unit arrives within the target time, counted from
   the incident's report (so an incident that has already waited 10 of its 15 minutes has 5
   left; the target may be given per incident);
3. then minimise the priority-weighted sum of ETAs, where an unfilled slot counts as
   ``unfilled_penalty_s`` (at least 4 h and above every finite ETA), so filling a slot is always
   better than leaving it empty. Weights: :data:`~geodispatch.assign.model.PRIORITY_WEIGHT`.

**Solver and why.** Each unit serves at most one slot and each slot takes at most one unit, and
every objective level is a sum of per-(slot, unit) terms, so the problem is a maximum-weight
bipartite matching: totally unimodular, solved exactly in polynomial time by a network-flow
algorithm. We use OR-Tools ``SimpleMinCostFlow`` (source -> slot -> unit -> sink, plus a
slot -> sink "unfilled" arc), which is exact and takes milliseconds for 20 incidents and 200
units, where CP-SAT would spend far longer proving optimality of the same matching. The three
levels are folded into one integer cost with *provably dominating* weights: with ``S`` slots,
level-3 profit per slot ``w_p·(P - ETA)`` in deciseconds is at most ``L3 = 3·P``; level 2 gets
weight ``B = S·L3 + 1`` (more than any possible level-3 total) and level 1 weight
``A = S·(B + L3) + 1`` (more than any level-2-plus-3 total), so a solution better at a higher
level always has the higher total. ETAs enter level 3 rounded to 0.1 s; levels 1 and 2 use
the exact float ETAs (precomputed 0/1 flags), so they are exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from geodispatch.assign.model import PRIORITY_WEIGHT, Slot
from geodispatch.errors import AssignmentError

MIN_UNFILLED_PENALTY_S = 4 * 3600.0
"""Level-3 cost of an unfilled slot is at least this (s), and above every finite ETA."""

_INT_SAFE = 2**62 // 4096
"""Largest per-arc integer cost we allow (OR-Tools scales costs by the node count)."""


def unfilled_penalty_s(eta: np.ndarray) -> float:
    """Level-3 cost of an unfilled slot, seconds: max(4 h, largest finite ETA + 1 s)."""
    finite = eta[np.isfinite(eta)]
    top = float(finite.max()) + 1.0 if finite.size else 0.0
    return max(MIN_UNFILLED_PENALTY_S, top)


def slot_targets(slots: Sequence[Slot], target_s: float | np.ndarray) -> np.ndarray:
    """Target (s) of every slot from a scalar or a per-incident array of targets."""
    t = np.asarray(target_s, dtype=float)
    if t.ndim == 0:
        return np.full(len(slots), float(t))
    return t[np.asarray([s.incident_index for s in slots], dtype=np.int64)] if len(slots) else np.zeros(0)


def compatible(slots: Sequence[Slot], unit_types: Sequence[str], unit_caps: Sequence[tuple[str, ...]]) -> np.ndarray:
    """Boolean matrix (n_slots, n_units): the unit's type and capabilities fit the slot."""
    out = np.zeros((len(slots), len(unit_types)), dtype=bool)
    caps = [set(c) for c in unit_caps]
    for s, slot in enumerate(slots):
        need = set(slot.capabilities)
        for k, t in enumerate(unit_types):
            out[s, k] = t == slot.type and need <= caps[k]
    return out


def objective(
    slots: Sequence[Slot], choice: Sequence[int], eta: np.ndarray, target_s: float | np.ndarray, penalty_s: float
) -> tuple[int, int, float]:
    """The lexicographic objective of a slot -> unit choice (higher is better on each level).

    Parameters
    ----------
    slots : sequence of Slot
        The slots.
    choice : sequence of int
        Unit column per slot, -1 when unfilled.
    eta : ndarray, shape (n_incidents, n_units)
        ETAs, seconds.
    target_s : float or ndarray
        Target (s), scalar or one per incident (time left of the target response time).
    penalty_s : float
        Level-3 cost of an unfilled slot (see :func:`unfilled_penalty_s`).

    Returns
    -------
    (filled priority-1 slots, slots within target, -weighted ETA sum in seconds)
    """
    p1 = within = 0
    cost = 0.0
    targets = slot_targets(slots, target_s)
    for slot, k, tgt in zip(slots, choice, targets, strict=True):
        w = PRIORITY_WEIGHT[slot.priority]
        if k < 0:
            cost += w * penalty_s
            continue
        t = float(eta[slot.incident_index, k])
        p1 += slot.priority == 1
        within += t <= tgt
        cost += w * t
    return p1, within, -cost


def solve_optimal(
    slots: Sequence[Slot], eta: np.ndarray, fits: np.ndarray, target_s: float | np.ndarray
) -> list[int]:
    """Lexicographically optimal assignment of units to slots.

    Parameters
    ----------
    slots : sequence of Slot
        Slots of all incidents.
    eta : ndarray, shape (n_incidents, n_units)
        ETA of each unit to each incident, seconds (``inf`` = cannot reach).
    fits : ndarray of bool, shape (n_slots, n_units)
        Unit may fill slot (type, capability, dispatchable).
    target_s : float or ndarray
        Target (s), scalar or one per incident.

    Returns
    -------
    list of int
        Unit column per slot, -1 when the slot stays unfilled.
    """
    from ortools.graph.python import min_cost_flow

    n_slots, n_units = fits.shape
    if n_slots == 0:
        return []
    rows = np.asarray([s.incident_index for s in slots], dtype=np.int64)
    slot_eta = eta[rows]  # (n_slots, n_units)
    usable = fits & np.isfinite(slot_eta)
    penalty = unfilled_penalty_s(slot_eta[usable]) if usable.any() else MIN_UNFILLED_PENALTY_S
    pen_ds = math.ceil(penalty * 10)
    l3 = 3 * pen_ds
    big_b = n_slots * l3 + 1
    big_a = n_slots * (big_b + l3) + 1
    top = big_a + big_b + l3
    if top > _INT_SAFE:
        raise AssignmentError(
            f"{n_slots} slots in one batch are too many to solve at once; split the incidents into smaller batches"
        )
    weights = np.asarray([PRIORITY_WEIGHT[s.priority] for s in slots], dtype=np.int64)
    is_p1 = np.asarray([s.priority == 1 for s in slots], dtype=np.int64)
    s_idx, k_idx = np.nonzero(usable)
    if len(s_idx) == 0:
        return [-1] * n_slots
    t = slot_eta[s_idx, k_idx]
    eta_ds = np.minimum(np.rint(t * 10).astype(np.int64), pen_ds - 1)
    within = (t <= slot_targets(slots, target_s)[s_idx]).astype(np.int64)
    profit = is_p1[s_idx] * big_a + within * big_b + weights[s_idx] * (pen_ds - eta_ds)
    cost_arc = top - profit  # >= 0; the unfilled arc costs `top`

    source, sink = 0, 1 + n_slots + n_units
    smcf = min_cost_flow.SimpleMinCostFlow()
    slot_node = 1 + np.arange(n_slots)
    unit_node = 1 + n_slots + np.arange(n_units)
    tails = np.concatenate([np.full(n_slots, source), slot_node[s_idx], slot_node, unit_node])
    heads = np.concatenate([slot_node, unit_node[k_idx], np.full(n_slots, sink), np.full(n_units, sink)])
    costs = np.concatenate([np.zeros(n_slots, np.int64), cost_arc, np.full(n_slots, top), np.zeros(n_units, np.int64)])
    caps = np.ones(len(tails), dtype=np.int64)
    first_pair = n_slots
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = n_slots, -n_slots
    smcf.set_nodes_supplies(np.arange(sink + 1), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:  # pragma: no cover - the network is always feasible
        raise AssignmentError(f"assignment solver failed with status {status}")
    flows = smcf.flows(np.arange(first_pair, first_pair + len(s_idx)))
    choice = [-1] * n_slots
    for j in np.flatnonzero(flows > 0):
        choice[int(s_idx[j])] = int(k_idx[j])
    return choice


def solve_lexicographic_cpsat(
    slots: Sequence[Slot],
    eta: np.ndarray,
    fits: np.ndarray,
    target_s: float | np.ndarray,
    time_limit_s: float = 60.0,
) -> list[int]:
    """The same optimum by three sequential CP-SAT solves (independent cross-check).

    Level by level: maximise level 1, fix it as a constraint, maximise level 2, fix it, then
    minimise the level-3 cost (ETAs in 0.1 s, unfilled slots at the penalty). Slower than
    :func:`solve_optimal`; used by the tests and the benchmark to confirm its optimality.

    Returns
    -------
    list of int
        Unit column per slot, -1 when unfilled.

    Raises
    ------
    AssignmentError
        When CP-SAT does not prove optimality within ``time_limit_s`` per level.
    """
    from ortools.sat.python import cp_model

    n_slots, n_units = fits.shape
    if n_slots == 0:
        return []
    rows = np.asarray([s.incident_index for s in slots], dtype=np.int64)
    slot_eta = eta[rows]
    usable = fits & np.isfinite(slot_eta)
    penalty = unfilled_penalty_s(slot_eta[usable]) if usable.any() else MIN_UNFILLED_PENALTY_S
    pen_ds = math.ceil(penalty * 10)
    model = cp_model.CpModel()
    x = {(s, k): model.new_bool_var(f"x{s}_{k}") for s, k in zip(*np.nonzero(usable), strict=True)}
    filled = []
    for s in range(n_slots):
        vars_s = [v for (a, _), v in x.items() if a == s]
        model.add_at_most_one(vars_s)
        filled.append(sum(vars_s))
    for k in range(n_units):
        vars_k = [v for (_, b), v in x.items() if b == k]
        if len(vars_k) > 1:
            model.add_at_most_one(vars_k)
    level1 = sum(v for (s, _), v in x.items() if slots[s].priority == 1)
    targets = slot_targets(slots, target_s)
    level2 = sum(v for (s, k), v in x.items() if slot_eta[s, k] <= targets[s])
    weights = [PRIORITY_WEIGHT[s.priority] for s in slots]
    level3 = sum(
        weights[s] * (min(round(float(slot_eta[s, k]) * 10), pen_ds - 1) - pen_ds) * v for (s, k), v in x.items()
    ) + sum(weights[s] * pen_ds for s in range(n_slots))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    for level, maximise in ((level1, True), (level2, True), (level3, False)):
        if isinstance(level, int):
            continue
        model.clear_objective()
        if maximise:
            model.maximize(level)
        else:
            model.minimize(level)
        status = solver.solve(model)
        if status != cp_model.OPTIMAL:
            raise AssignmentError(f"CP-SAT did not prove optimality (status {solver.status_name(status)})")
        best = round(solver.objective_value)
        model.add(level == best)
    choice = [-1] * n_slots
    for (s, k), v in x.items():
        if solver.value(v):
            choice[s] = int(k)
    return choice
