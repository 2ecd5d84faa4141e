"""p-median: open ``p`` new sites to minimise the demand-weighted travel time.

Formulation
-----------
A plain ``x_ij / y_i`` MILP has ``|I| x |J|`` assignment variables and cannot prove the
optimum of an 800-vertex OR-Library instance in minutes. We use the *radius* formulation of
Elloumi (2010, "A tighter formulation of the p-median problem", J. Comb. Optim. 19:69-83):
for each demand ``j`` let ``L_j^1 < L_j^2 < ... < L_j^K`` be the distinct candidate distances
and ``z_j^k in [0, 1]`` mean "the nearest open site of ``j`` is farther than ``L_j^k``"::

    min  sum_j w_j (L_j^1 + sum_{k<K} (L_j^{k+1} - L_j^k) z_j^k)
    s.t. z_j^k + sum_{i: c_ij <= L_j^k} y_i >= 1      for all j, k
         sum_i y_i = p (+ fixed sites, y_i = 1),   y binary, z continuous.

Its LP relaxation equals the classic one, with ``sum_j K_j`` continuous variables instead of
``|I||J|``. We write each covering row in *ring* (incremental) form,
``z_j^k - z_j^{k-1} + sum_{i: c_ij = L_j^k} y_i >= 0`` (``z_j^0 = 1``), which has the same LP
optimum (``max(0, 1 - s)`` is 1-Lipschitz) but puts each ``y_i`` in one row per demand, so
the matrix has ``|I||J| + sum_j K_j`` non-zeros instead of ``sum_j sum_k |{i: c_ij <= L^k}|``.

Reductions: (1) a demand's distance never exceeds its nearest *fixed* site; (2) with ``p``
new sites among ``f`` free candidates at most ``f - p`` are closed, so the
``(f - p + 1)``-th nearest free candidate bounds the distance (Elloumi's reduction); levels
beyond the cap are dropped. Demand with zero weight is dropped.

Solver: the MIP goes to HiGHS (through OR-Tools ``model_builder``, shipped in the ortools
wheel). The model is an LP with few binaries and a near-integral relaxation: an LP-based
branch-and-cut with reduced-cost fixing and restarts (HiGHS) proves optimality fast, while
CP-SAT would need integer-scaled distances and does not exploit the tight LP as well. A
greedy + Teitz-Bart interchange solution gives the incumbent; a Lagrangian relaxation
(subgradient, Beasley 1993) then proves a bound and removes every candidate that cannot be in
a better solution, so the MIP is solved over a fraction of the candidates (on pmed35,
116 of 800). When the Lagrangian bound meets the incumbent no MIP is solved at all.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from geodispatch.errors import SitingError
from geodispatch.siting import heuristics as _heur
from geodispatch.siting._lagrange import lagrangian_p_median
from geodispatch.siting._milp import MilpData, build_model, solve_model
from geodispatch.siting._validate import (
    check_inputs,
)
from geodispatch.siting.result import SitingResult, marginal_gain_table, relative_gap

logger = logging.getLogger(__name__)

__all__ = ["p_median"]


def _median_objective(cost: np.ndarray, sites: list[int], weights: np.ndarray) -> float:
    if not sites:
        return math.inf
    near = cost[sites].min(axis=0)
    pos = weights > 0
    return float((near[pos] * weights[pos]).sum())


def build_p_median(
    cost: np.ndarray,
    p: int,
    weights: np.ndarray,
    fixed: list[int],
) -> tuple[MilpData, np.ndarray, dict[str, int]]:
    """Build the reduced radius formulation as array data.

    Parameters
    ----------
    cost : numpy.ndarray
        ``(n_cand, n_demand)`` costs, only demand with positive weight.
    p : int
        New sites to open (>= 1).
    weights : numpy.ndarray
        Positive demand weights.
    fixed : list of int
        Already open sites.

    Returns
    -------
    data : MilpData
        The model; variables ``0..n_free-1`` are ``y`` of the free candidates.
    free : numpy.ndarray
        Candidate index of each ``y`` variable.
    stats : dict
        Sizes before/after reduction.
    """
    n_cand, n_demand = cost.shape
    is_fixed = np.zeros(n_cand, dtype=bool)
    is_fixed[fixed] = True
    free = np.flatnonzero(~is_fixed)
    n_free = free.size
    cost_free = cost[free]
    order = np.argsort(cost_free, axis=0, kind="stable")
    dsorted = np.take_along_axis(cost_free, order, axis=0)
    cap_fixed = cost[fixed].min(axis=0) if fixed else np.full(n_demand, np.inf)
    cap_count = dsorted[n_free - p] if p >= 1 else np.full(n_demand, -np.inf)
    cap = np.minimum(cap_fixed, cap_count)

    row_parts: list[np.ndarray] = []
    col_parts: list[np.ndarray] = []
    val_parts: list[np.ndarray] = []
    row_lb: list[np.ndarray] = []
    z_obj: list[np.ndarray] = []
    offset = 0.0
    n_rows = 0
    n_z = 0
    full_levels = 0
    for j in range(n_demand):
        d = dsorted[:, j]
        cap_j = cap[j]
        if math.isfinite(cap_j):
            n_below = int(np.searchsorted(d, cap_j, side="left"))
            below = d[:n_below]
            change = np.flatnonzero(np.diff(below)) + 1 if n_below else np.empty(0, np.int64)
            starts = np.concatenate([[0], change]) if n_below else np.empty(0, np.int64)
            levels = np.append(below[starts], cap_j) if n_below else np.array([cap_j])
            ends = np.append(starts[1:], n_below) if n_below else starts
            n_rings = starts.size  # one ring constraint per level below the cap
        else:
            n_fin = int(np.isfinite(d).sum())
            fin = d[:n_fin]
            change = np.flatnonzero(np.diff(fin)) + 1
            starts = np.concatenate([[0], change])
            levels = fin[starts]
            ends = np.append(starts[1:], n_fin)
            n_rings = starts.size  # the last ring forces a finite distance
        full_levels += int(np.unique(d[np.isfinite(d)]).size)
        k_levels = levels.size
        w = weights[j]
        offset += w * levels[0]
        n_zj = k_levels - 1
        z_ids = n_free + n_z + np.arange(n_zj)
        if n_zj:
            z_obj.append(w * np.diff(levels))
        for k in range(n_rings):
            ring = order[starts[k] : ends[k], j]
            cols = [ring]
            vals = [np.ones(ring.size)]
            if k < n_zj:
                cols.append(np.array([z_ids[k]]))
                vals.append(np.array([1.0]))
            if k == 0:
                row_lb.append(np.array([1.0]))
            else:
                cols.append(np.array([z_ids[k - 1]]))
                vals.append(np.array([-1.0]))
                row_lb.append(np.array([0.0]))
            c = np.concatenate(cols)
            col_parts.append(c)
            val_parts.append(np.concatenate(vals))
            row_parts.append(np.full(c.size, n_rows))
            n_rows += 1
        n_z += n_zj
    # cardinality row: exactly p new sites
    col_parts.append(np.arange(n_free))
    val_parts.append(np.ones(n_free))
    row_parts.append(np.full(n_free, n_rows))
    row_lb.append(np.array([float(p)]))
    n_rows += 1
    n_vars = n_free + n_z
    matrix = sp.csr_matrix(
        (np.concatenate(val_parts), (np.concatenate(row_parts), np.concatenate(col_parts))),
        shape=(n_rows, n_vars),
    )
    rlb = np.concatenate(row_lb)
    rub = np.full(n_rows, np.inf)
    rub[-1] = float(p)
    obj = np.concatenate([np.zeros(n_free), *z_obj]) if z_obj else np.zeros(n_free)
    is_int = np.zeros(n_vars, dtype=bool)
    is_int[:n_free] = True
    data = MilpData(
        var_lb=np.zeros(n_vars),
        var_ub=np.ones(n_vars),
        obj=obj,
        is_int=is_int,
        matrix=matrix,
        row_lb=rlb,
        row_ub=rub,
        maximize=False,
        offset=offset,
    )
    stats = {
        "variables": n_vars,
        "constraints": n_rows,
        "nonzeros": int(matrix.nnz),
        "radius_levels": n_z + n_demand,
        "radius_levels_unreduced": full_levels,
        "demand": n_demand,
    }
    return data, free, stats


def p_median(
    cost: np.ndarray | sp.spmatrix,
    p: int,
    weights: Iterable[float] | np.ndarray | None = None,
    fixed: Iterable[int] | np.ndarray | None = None,
    time_limit_s: float | None = None,
    *,
    backend: str = "highs",
    heuristic_time_s: float | None = None,
) -> SitingResult:
    """Open ``p`` new sites minimising the total demand-weighted travel time.

    Parameters
    ----------
    cost : numpy.ndarray or scipy.sparse matrix
        ``(n_candidates, n_demand)`` travel times in seconds (any unit works; the objective
        is in the same unit x weight). ``inf`` (or an absent sparse entry) = unreachable.
    p : int
        Number of *new* sites to open, on top of ``fixed``.
    weights : array-like, optional
        Demand weights (e.g. population), default 1 each. Must be >= 0.
    fixed : array-like of int, optional
        Candidate indices already open (existing stations); they stay open.
    time_limit_s : float, optional
        Solver wall-clock limit in seconds. When hit, the best solution found is returned with
        ``status="feasible"`` and the proven gap.
    backend : {"highs", "scip"}
        MIP solver in the ortools wheel.
    heuristic_time_s : float, optional
        Budget for the interchange warm start (default: 10% of the time limit, at most 10 s).

    Returns
    -------
    SitingResult
        ``objective`` = sum over demand of weight x travel time to the nearest open site.

    Raises
    ------
    SitingError
        Bad input, or some weighted demand cannot be reached by any candidate, or no choice
        of ``p`` sites reaches every demand point.
    """
    start = time.perf_counter()
    inputs = check_inputs(cost, weights, fixed, time_limit_s, p, open_something=True, reachable_for="p-median")
    matrix, w_all, fixed_l, limit = inputs.matrix, inputs.weights, inputs.fixed, inputs.time_limit_s
    p = int(p)
    dense = matrix.dense()
    keep = w_all > 0
    c = dense[:, keep]
    w = w_all[keep]

    stats: dict[str, int | float] = {}
    if p == 0 or c.shape[1] == 0:
        new: list[int] = []
        status, bound, solver = "optimal", math.nan, "none"
        if p > 0:  # no weighted demand: any p sites are optimal
            new = [i for i in range(matrix.n_cand) if i not in fixed_l][:p]
        objective = _median_objective(c, fixed_l + new, w) if c.shape[1] else 0.0
        if not math.isfinite(objective):
            raise SitingError(
                "the fixed sites do not reach every demand point and p=0 adds none; raise p."
            )
        bound = objective
    else:
        allowed = np.ones(matrix.n_cand, dtype=bool)
        allowed[fixed_l] = False
        budget = heuristic_time_s
        if budget is None:
            budget = min(10.0, 0.1 * limit) if limit is not None else 10.0
        base = _heur.greedy(c, p, _heur.median_score(w), fixed_l, allowed)
        base = _heur.interchange(
            c, base, _heur.median_score(w), fixed_l, allowed, time_budget_s=budget
        )
        heur_obj = _median_objective(c, base, w)
        stats["heuristic_objective"] = heur_obj
        lag_budget = min(30.0, 0.25 * limit) if limit is not None else 30.0
        finite = c[np.isfinite(c)]
        integral = bool(np.all(finite == np.round(finite)) and np.all(w == np.round(w)))
        lag_bound = -math.inf
        forced: list[int] = []
        subset = np.arange(matrix.n_cand, dtype=np.int64)
        if math.isfinite(heur_obj):
            lag = lagrangian_p_median(
                c, w, p, fixed_l, heur_obj, time_budget_s=lag_budget, integral=integral
            )
            if lag.best_sites is not None and lag.upper < heur_obj:
                base = fixed_l + lag.best_sites
                heur_obj = _median_objective(c, base, w)
            # Lagrangian heuristic: local search from the relaxation's sites; with a better
            # incumbent the reduction tests remove more candidates, so run them again.
            if lag.bound_sites is not None and lag.bound < heur_obj:
                start_sites = fixed_l + lag.bound_sites
                improved = _heur.interchange(
                    c, start_sites, _heur.median_score(w), fixed_l, allowed,
                    time_budget_s=budget,
                )
                value = _median_objective(c, improved, w)
                if value < heur_obj - 1e-9 * max(1.0, abs(heur_obj)):
                    base, heur_obj = improved, value
                    lag = lagrangian_p_median(
                        c, w, p, fixed_l, heur_obj, time_budget_s=lag_budget, integral=integral
                    )
                    if lag.best_sites is not None and lag.upper < heur_obj:
                        base = fixed_l + lag.best_sites
                        heur_obj = _median_objective(c, base, w)
            lag_bound = lag.bound
            stats["lagrangian_bound"] = lag.bound
            stats["lagrangian_iterations"] = lag.iterations
            forced = np.flatnonzero(lag.force_open).tolist()
            subset = np.asarray(
                fixed_l + forced + [i for i in np.flatnonzero(lag.keep) if i not in forced],
                dtype=np.int64,
            )
            # every site of the incumbent survives the reduction (its bound is <= its cost)
            subset = np.union1d(subset, np.asarray(base, dtype=np.int64))
        stats["candidates_after_reduction"] = int(subset.size - len(fixed_l))
        solver = "lagrangian"
        sol = None
        if not lag_bound >= heur_obj - 1e-9 * max(1.0, abs(heur_obj)):
            local = {int(g): k for k, g in enumerate(subset)}
            sub_fixed = [local[i] for i in fixed_l + forced]
            data, free_local, stats_b = build_p_median(
                c[subset], p - len(forced), w, sub_fixed
            )
            free = subset[free_local]
            stats.update(stats_b)
            model = build_model(data)
            remaining = (
                None if limit is None else max(0.05, limit - (time.perf_counter() - start))
            )
            sol = solve_model(model, maximize=False, time_limit_s=remaining, backend=backend)
            solver = f"lagrangian+{sol.backend}"
            if sol.status == "infeasible" and not math.isfinite(heur_obj):
                raise SitingError(
                    f"no choice of {p} new site(s) reaches every demand point (some demand is "
                    "only reachable from candidates far apart); raise p or add candidates."
                )
        new = [x for x in base if x not in fixed_l]
        objective = heur_obj
        bound = lag_bound
        status = "optimal" if sol is None else "feasible"
        if sol is not None and sol.status == "infeasible":
            # the reduced problem holds no solution better than the incumbent
            status = "optimal"
        elif sol is not None:
            if sol.values is not None:
                chosen = [int(i) for i in free[sol.values[: free.size] > 0.5]]
                obj_mip = _median_objective(c, fixed_l + forced + chosen, w)
                if obj_mip <= objective:
                    new, objective = forced + chosen, obj_mip
            if sol.status == "optimal":
                status = "optimal"
            elif sol.status == "feasible":
                status = "feasible"
                # the restricted problem's bound is valid globally up to the incumbent
                if math.isfinite(sol.bound):
                    bound = max(bound, min(sol.bound, objective))
        if not math.isfinite(objective):
            raise SitingError(
                f"no choice of {p} new site(s) reaching every demand point was found within "
                f"the time limit ({limit} s); raise the time limit or p."
            )
        if status == "optimal":
            bound = objective
    table, order = marginal_gain_table(matrix, new, w_all, fixed_l, None)
    gap = relative_gap(objective, bound)
    if status == "optimal":
        gap = 0.0
    return SitingResult(
        model="p_median",
        selected=np.asarray(fixed_l + order, dtype=np.int64),
        new=np.asarray(order, dtype=np.int64),
        fixed=np.asarray(fixed_l, dtype=np.int64),
        objective=objective,
        bound=bound,
        gap=gap,
        status=status,
        solve_time_s=time.perf_counter() - start,
        solver=solver,
        marginal_gain=table,
        threshold=None,
        stats=stats,
    )
