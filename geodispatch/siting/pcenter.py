"""Vertex p-center: open ``p`` new sites minimising the worst travel time to any demand.

Method: the optimal radius is one of the distinct finite costs. For a radius ``r`` the
decision problem "can ``p`` new sites (plus the fixed ones) reach every demand point within
``r``?" is a set-cover feasibility problem; we binary-search the sorted distinct costs
between a lower bound (every demand's nearest candidate, and the bound implied by the
greedy cover) and the radius of a greedy + interchange solution. This is the classic
radius / set-covering approach (Minieka 1970; Daskin 2000; Elloumi, Labbé and Pochet 2004
give the equivalent compact MIP).

Solver: each decision problem is a minimum set cover solved by HiGHS (OR-Tools
``model_builder``) with the objective bound ``p + 0.5``, so "more than ``p`` sites needed"
comes back as infeasible. We first used CP-SAT (the decision problem is a pure Boolean one:
a clause per demand point plus a cardinality constraint), but proving infeasibility just below
the optimal radius is where the time goes, and the set-cover LP bound does that far better
than clause learning: on pmed6 at radius 83 (optimum 84) CP-SAT needed 12-24 s, HiGHS 0.8 s.
Demand points with the same cover set are merged, and a greedy cover answers "feasible"
without calling the solver when it already fits in ``p`` sites.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from geodispatch.errors import SitingError
from geodispatch.siting import heuristics as _heur
from geodispatch.siting._milp import MilpData, build_model, solve_model
from geodispatch.siting._validate import (
    check_inputs,
)
from geodispatch.siting.result import SitingResult, marginal_gain_table, relative_gap

__all__ = ["p_center"]


def _cover_sets(cost_free: np.ndarray, radius: float, need: np.ndarray) -> list[tuple[int, ...]]:
    """Distinct cover sets (free-candidate positions) of the demand in ``need``."""
    within = cost_free[:, need] <= radius  # free x needed demand
    cols = sp.csc_matrix(within)
    sets = {
        tuple(cols.indices[cols.indptr[j] : cols.indptr[j + 1]].tolist())
        for j in range(cols.shape[1])
    }
    return sorted(sets, key=len)


def _greedy_set_cover(sets: list[tuple[int, ...]], n_free: int) -> list[int]:
    """Classic greedy set cover over demand ``sets`` (lists of candidate positions)."""
    if not sets:
        return []
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    cols = np.concatenate([np.asarray(s, dtype=np.int64) for s in sets])
    by_cand = sp.csr_matrix((np.ones(cols.size), (cols, rows)), shape=(n_free, len(sets)))
    uncovered = np.ones(len(sets))
    chosen: list[int] = []
    while uncovered.any():
        gain = by_cand @ uncovered
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        chosen.append(best)
        uncovered[by_cand.indices[by_cand.indptr[best] : by_cand.indptr[best + 1]]] = 0.0
    return chosen


def build_cover_decision(sets: list[tuple[int, ...]], n_free: int, p: int) -> MilpData:
    """Minimum set cover of the demand ``sets`` by free sites, as array MILP data.

    The objective counts sites; the caller passes ``p + 0.5`` as HiGHS's objective bound so
    that a cover larger than ``p`` is pruned at once (the decision "<= p sites?" is answered by
    infeasibility).
    """
    rows = np.repeat(np.arange(len(sets)), [len(x) for x in sets])
    cols = np.concatenate([np.asarray(x, dtype=np.int64) for x in sets])
    matrix = sp.csr_matrix((np.ones(cols.size), (rows, cols)), shape=(len(sets), n_free))
    return MilpData(
        var_lb=np.zeros(n_free),
        var_ub=np.ones(n_free),
        obj=np.ones(n_free),
        is_int=np.ones(n_free, dtype=bool),
        matrix=matrix,
        row_lb=np.ones(len(sets)),
        row_ub=np.full(len(sets), np.inf),
    )


def _decide(
    sets: list[tuple[int, ...]], n_free: int, p: int, time_limit_s: float | None
) -> tuple[str, list[int] | None, bool]:
    """Verdict ``"feasible"`` (with positions), ``"infeasible"`` or ``"unknown"``, and
    whether the MIP solver was called."""
    if any(len(s) == 0 for s in sets):
        return "infeasible", None, False
    greedy = _greedy_set_cover(sets, n_free)
    if len(greedy) <= p:
        return "feasible", greedy, False
    model = build_model(build_cover_decision(sets, n_free, p))
    sol = solve_model(
        model, maximize=False, time_limit_s=time_limit_s, objective_bound=p + 0.5
    )
    if sol.values is not None and sol.objective <= p + 0.5:
        return "feasible", [int(i) for i in np.flatnonzero(sol.values > 0.5)], True
    if sol.status == "infeasible" or (
        sol.status == "optimal" and sol.objective > p + 0.5
    ):
        return "infeasible", None, True
    if sol.status == "no_solution" and sol.bound > p + 0.5:
        return "infeasible", None, True
    return "unknown", None, True


def p_center(
    cost: np.ndarray | sp.spmatrix,
    p: int,
    weights: Iterable[float] | np.ndarray | None = None,
    fixed: Iterable[int] | np.ndarray | None = None,
    time_limit_s: float | None = None,
) -> SitingResult:
    """Open ``p`` new sites minimising the largest travel time to any demand point.

    Parameters
    ----------
    cost : numpy.ndarray or scipy.sparse matrix
        ``(n_candidates, n_demand)`` travel times in seconds (inf / absent = unreachable).
    p : int
        Number of new sites on top of ``fixed``.
    weights : array-like, optional
        Only used to ignore demand with weight 0 (p-center is unweighted); must be >= 0.
    fixed : array-like of int, optional
        Existing stations that stay open.
    time_limit_s : float, optional
        Total limit in seconds for the binary search; when hit the best radius found is
        returned with ``status="feasible"`` and ``bound`` = the smallest radius not proven
        infeasible.

    Returns
    -------
    SitingResult
        ``objective`` = worst travel time (seconds) from the nearest open site.
    """
    start = time.perf_counter()
    inputs = check_inputs(cost, weights, fixed, time_limit_s, p, open_something=True, reachable_for="p-center")
    matrix, w_all, fixed_l, limit = inputs.matrix, inputs.weights, inputs.fixed, inputs.time_limit_s
    p = int(p)
    dense = matrix.dense()
    need_mask = w_all > 0
    c = dense[:, need_mask]
    is_fixed = np.zeros(matrix.n_cand, dtype=bool)
    is_fixed[fixed_l] = True
    free = np.flatnonzero(~is_fixed)
    stats: dict[str, float | int] = {"decision_problems": 0, "mip_calls": 0}

    def radius_of(sites: list[int]) -> float:
        return float(c[sites].min(axis=0).max()) if c.shape[1] else 0.0

    if c.shape[1] == 0:
        new = [int(i) for i in free[:p]]
        objective, bound, status = 0.0, 0.0, "optimal"
    elif p == 0:
        new = []
        objective = radius_of(fixed_l)
        if not math.isfinite(objective):
            raise SitingError("the fixed sites do not reach every demand point and p=0; raise p.")
        bound, status = objective, "optimal"
    else:
        allowed = ~is_fixed
        score = _heur.center_score(np.ones(c.shape[1]))
        base = _heur.greedy(c, p, score, fixed_l, allowed)
        base = _heur.interchange(c, base, score, fixed_l, allowed, time_budget_s=5.0)
        new = [i for i in base if i not in fixed_l]
        objective = radius_of(base)
        fixed_near = c[fixed_l].min(axis=0) if fixed_l else np.full(c.shape[1], np.inf)
        lower = float(c.min(axis=0).max())
        radii = np.unique(c[np.isfinite(c)])
        radii = radii[(radii >= lower) & (radii <= objective)] if math.isfinite(objective) else (
            radii[radii >= lower]
        )
        lo, hi = 0, radii.size - 1  # the optimal radius is radii[k] for some k in [lo, hi]
        known = math.isfinite(objective)  # True when radii[hi] is achieved by `new`
        cost_free = c[free]
        status = "optimal"
        while lo < hi or not known:
            mid = (lo + hi) // 2
            r = float(radii[mid])
            need = np.flatnonzero(fixed_near > r)
            sets = _cover_sets(cost_free, r, need)
            remaining = None if limit is None else limit - (time.perf_counter() - start)
            if remaining is not None and remaining <= 0:
                status = "feasible"
                break
            stats["decision_problems"] += 1
            verdict, pos, used_solver = _decide(sets, free.size, p, remaining)
            stats["mip_calls"] += int(used_solver)
            if verdict == "feasible":
                assert pos is not None
                cand = fixed_l + [int(free[k]) for k in pos]
                cand += [int(i) for i in free if int(i) not in cand][: p - len(pos)]
                value = radius_of(cand)
                if not known or value < objective:
                    objective, new = value, [i for i in cand if i not in fixed_l]
                hi = int(np.searchsorted(radii, objective, side="left"))
                known = True
            elif verdict == "infeasible":
                lo = mid + 1
                if lo > radii.size - 1:
                    raise SitingError(
                        f"no choice of {p} new site(s) reaches every demand point; raise p."
                    )
            else:
                status = "feasible"
                break
        if not known:
            raise SitingError(
                f"p-center found no solution reaching every demand point within the time "
                f"limit ({limit} s); raise the time limit or p."
            )
        bound = float(radii[lo]) if status == "feasible" else objective
        if status == "feasible" and bound >= objective:
            status = "optimal"
    table, order = marginal_gain_table(matrix, new, w_all, fixed_l, None)
    gap = 0.0 if status == "optimal" else relative_gap(objective, bound)
    return SitingResult(
        model="p_center",
        selected=np.asarray(fixed_l + order, dtype=np.int64),
        new=np.asarray(order, dtype=np.int64),
        fixed=np.asarray(fixed_l, dtype=np.int64),
        objective=objective,
        bound=bound if status != "optimal" else objective,
        gap=gap,
        status=status,
        solve_time_s=time.perf_counter() - start,
        solver="highs",
        marginal_gain=table,
        threshold=None,
        stats=stats,
    )
