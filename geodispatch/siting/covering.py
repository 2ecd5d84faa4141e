"""Covering models: LSCP, MCLP and MEXCLP.

All three work on the 0/1 matrix "candidate ``i`` reaches demand ``j`` within the threshold",
taken from the (possibly sparse, bounded) cost matrix, so only pairs within the threshold are
ever stored.

Reductions shared by the three models:

* demand already covered by a fixed site (existing station) leaves MCLP and LSCP (its weight
  is a constant); MEXCLP keeps it with the count of fixed sites that cover it;
* demand with zero weight is dropped; demand no candidate covers is reported;
* demand points covered by exactly the same set of free candidates (and, for MEXCLP, the same
  number of fixed sites) are merged into one row with their summed weight. On a road network
  most nodes of a village share their cover set, so this shrinks the model by 1-2 orders of
  magnitude.

Solver: HiGHS MIP through OR-Tools ``model_builder`` for all three. The LP relaxations of
covering models are strong (MCLP's is often integral), the weights are real-valued
populations (CP-SAT would need them scaled to integers), HiGHS's presolve removes dominated
rows and columns of set-covering matrices, and it reports a proven dual bound for the gap.
A greedy solution is computed first and returned (with the solver's bound) if the solver
finds nothing within the time limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from geodispatch.errors import SitingError
from geodispatch.siting._matrix import CostMatrix
from geodispatch.siting._milp import MilpData, build_model, solve_model
from geodispatch.siting._validate import (
    check_inputs,
    check_threshold,
)
from geodispatch.siting.result import SitingResult, marginal_gain_table, relative_gap

__all__ = ["lscp", "mclp", "mexclp"]


@dataclass
class _Cover:
    """Reduced covering data.

    ``sets`` is a CSR matrix (aggregated demand x free candidate) of 0/1 entries; ``weight``
    the aggregated weights; ``fixed_count`` how many fixed sites cover each aggregated demand;
    ``free`` maps columns of ``sets`` to candidate indices.
    """

    sets: sp.csr_matrix
    weight: np.ndarray
    fixed_count: np.ndarray
    free: np.ndarray
    uncoverable: np.ndarray  # original demand indices nobody covers (positive weight)
    n_demand_in: int


def _prepare(
    matrix: CostMatrix,
    threshold: float,
    weights: np.ndarray,
    fixed: list[int],
    *,
    keep_fixed_covered: bool,
) -> _Cover:
    within = matrix.within(threshold)  # cand x demand
    is_fixed = np.zeros(matrix.n_cand, dtype=bool)
    is_fixed[fixed] = True
    free = np.flatnonzero(~is_fixed)
    by_demand = sp.csr_matrix(within.T)  # demand x cand
    fixed_count = (
        np.asarray(by_demand[:, fixed].sum(axis=1)).ravel() if fixed else np.zeros(
            matrix.n_demand
        )
    )
    free_sets = sp.csr_matrix(by_demand[:, free])
    free_sets.sort_indices()
    n_free_cover = np.diff(free_sets.indptr)
    uncoverable = np.flatnonzero((n_free_cover == 0) & (fixed_count == 0) & (weights > 0))
    keep = (weights > 0) & (n_free_cover > 0)
    if not keep_fixed_covered:
        keep &= fixed_count == 0
    rows = np.flatnonzero(keep)
    sets = free_sets[rows]
    counts = fixed_count[rows]
    w = weights[rows]
    # merge demand rows with identical cover sets (and identical fixed counts)
    if rows.size:
        rng = np.random.default_rng(12345)
        proj = rng.random((free.size, 2))
        keys = np.column_stack([sets @ proj, counts, np.diff(sets.indptr)])
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        merged_w = np.bincount(inverse, weights=w, minlength=first.size)
        sets = sets[first]
        counts = counts[first]
        w = merged_w
    return _Cover(
        sets=sp.csr_matrix(sets, dtype=np.float64),
        weight=np.asarray(w, dtype=np.float64),
        fixed_count=np.asarray(counts, dtype=np.int64),
        free=free,
        uncoverable=uncoverable,
        n_demand_in=matrix.n_demand,
    )


def _greedy_cover(cov: _Cover, p: int) -> list[int]:
    """Greedy max coverage: free-candidate columns of ``cov.sets`` (positions)."""
    uncovered = np.ones(cov.weight.size, dtype=bool)
    chosen: list[int] = []
    by_cand = sp.csr_matrix(cov.sets.T)
    for _ in range(p):
        gain = by_cand @ (cov.weight * uncovered)
        gain[chosen] = -1.0
        best = int(np.argmax(gain))
        if gain[best] < 0:
            break
        chosen.append(best)
        lo, hi = by_cand.indptr[best], by_cand.indptr[best + 1]
        uncovered[by_cand.indices[lo:hi]] = False
    return chosen


def _describe(idx: np.ndarray, weights: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in idx[:10]) + (" ..." if idx.size > 10 else "")
    return f"{idx.size} demand point(s) (weight {float(weights[idx].sum()):g}): {shown}"


def _finish(
    model: str,
    matrix: CostMatrix,
    weights: np.ndarray,
    fixed: list[int],
    new: list[int],
    objective: float,
    bound: float,
    status: str,
    solver: str,
    start: float,
    threshold: float,
    stats: dict[str, float | int],
    notes: list[str],
) -> SitingResult:
    table, order = marginal_gain_table(matrix, new, weights, fixed, threshold)
    if status == "optimal":
        bound = objective
    gap = 0.0 if status == "optimal" else relative_gap(objective, bound)
    return SitingResult(
        model=model,
        selected=np.asarray(fixed + order, dtype=np.int64),
        new=np.asarray(order, dtype=np.int64),
        fixed=np.asarray(fixed, dtype=np.int64),
        objective=float(objective),
        bound=float(bound),
        gap=gap,
        status=status,
        solve_time_s=time.perf_counter() - start,
        solver=solver,
        marginal_gain=table,
        threshold=threshold,
        stats=stats,
        notes=notes,
    )


def _covered_weight(matrix: CostMatrix, sites: list[int], w: np.ndarray, t: float) -> float:
    if not sites:
        return 0.0
    return float(w[matrix.nearest_cost(sites) <= t].sum())


def _expected_cover(
    matrix: CostMatrix, sites: list[int], w: np.ndarray, t: float, q: float
) -> float:
    if not sites:
        return 0.0
    count = np.zeros(matrix.n_demand)
    for i in sites:
        count += matrix.row(i) <= t
    return float((w * (1.0 - q**count)).sum())


def _status_of(sol_status: str) -> str:
    return {"optimal": "optimal", "feasible": "feasible"}.get(sol_status, "heuristic")


def mclp(
    cost: np.ndarray | sp.spmatrix,
    p: int,
    threshold: float,
    weights: Iterable[float] | np.ndarray | None = None,
    fixed: Iterable[int] | np.ndarray | None = None,
    time_limit_s: float | None = None,
    *,
    backend: str = "highs",
) -> SitingResult:
    """Maximal covering (Church and ReVelle 1974): ``p`` new sites covering the most demand.

    Parameters
    ----------
    cost : numpy.ndarray or scipy.sparse matrix
        ``(n_candidates, n_demand)`` travel times in seconds (inf / absent = unreachable).
    p : int
        Number of new sites, on top of ``fixed`` (``p=0`` gives today's coverage).
    threshold : float
        A demand point is covered when an open site reaches it within this many seconds
        (e.g. 900 s = 15 minutes).
    weights : array-like, optional
        Demand weights (population), default 1 each; must be >= 0.
    fixed : array-like of int, optional
        Existing stations (candidate indices) that stay open.
    time_limit_s : float, optional
        Solver limit in seconds; when hit the result has ``status="feasible"`` and the gap.
    backend : {"highs", "scip"}
        MIP solver.

    Returns
    -------
    SitingResult
        ``objective`` = weight covered within ``threshold`` by fixed + new sites; ``notes``
        report weight no candidate can cover.
    """
    start = time.perf_counter()
    inputs = check_inputs(cost, weights, fixed, time_limit_s, p)
    matrix, w_all, fixed_l, limit = inputs.matrix, inputs.weights, inputs.fixed, inputs.time_limit_s
    p = int(p)
    t = check_threshold(threshold)
    cov = _prepare(matrix, t, w_all, fixed_l, keep_fixed_covered=False)
    notes = []
    if cov.uncoverable.size:
        notes.append(
            "not coverable by any candidate within the threshold: "
            + _describe(cov.uncoverable, w_all)
        )
    base_cover = _covered_weight(matrix, fixed_l, w_all, t)
    stats: dict[str, float | int] = {
        "demand_rows": int(cov.weight.size),
        "demand_in": matrix.n_demand,
        "free_candidates": int(cov.free.size),
    }
    greedy_pos = _greedy_cover(cov, p)
    new = [int(cov.free[k]) for k in greedy_pos]
    # pad when every coverable demand is covered before p sites are used
    if len(new) < p:
        extra = [int(i) for i in cov.free if int(i) not in new][: p - len(new)]
        new += extra
    objective = _covered_weight(matrix, fixed_l + new, w_all, t)
    if p == 0 or cov.weight.size == 0:
        return _finish("mclp", matrix, w_all, fixed_l, new, objective, objective, "optimal",
                       "none", start, t, stats, notes)
    n_free = cov.free.size
    n_dem = cov.weight.size
    # variables: y (n_free, binary) then z (n_dem, continuous)
    sets = cov.sets
    coo = sets.tocoo()
    rows = np.concatenate([coo.row, np.arange(n_dem), np.full(n_free, n_dem)])
    cols = np.concatenate([coo.col, n_free + np.arange(n_dem), np.arange(n_free)])
    vals = np.concatenate([-np.ones(coo.nnz), np.ones(n_dem), np.ones(n_free)])
    a = sp.csr_matrix((vals, (rows, cols)), shape=(n_dem + 1, n_free + n_dem))
    row_lb = np.concatenate([np.full(n_dem, -np.inf), [float(p)]])
    row_ub = np.concatenate([np.zeros(n_dem), [float(p)]])
    is_int = np.zeros(n_free + n_dem, dtype=bool)
    is_int[:n_free] = True
    data = MilpData(
        var_lb=np.zeros(n_free + n_dem),
        var_ub=np.ones(n_free + n_dem),
        obj=np.concatenate([np.zeros(n_free), cov.weight]),
        is_int=is_int,
        matrix=a,
        row_lb=row_lb,
        row_ub=row_ub,
        maximize=True,
        offset=base_cover,
    )
    stats.update(variables=n_free + n_dem, constraints=n_dem + 1, nonzeros=int(a.nnz))
    remaining = None if limit is None else max(0.05, limit - (time.perf_counter() - start))
    sol = solve_model(build_model(data), maximize=True, time_limit_s=remaining, backend=backend)
    status = _status_of(sol.status)
    bound = sol.bound if math.isfinite(sol.bound) else math.nan
    if sol.values is not None:
        chosen = [int(cov.free[k]) for k in np.flatnonzero(sol.values[:n_free] > 0.5)]
        value = _covered_weight(matrix, fixed_l + chosen, w_all, t)
        if value >= objective:
            new, objective = chosen, value
    if status != "optimal" and math.isfinite(bound) and bound <= objective + 1e-9 * max(
        1.0, objective
    ):
        status = "optimal"
    return _finish("mclp", matrix, w_all, fixed_l, new, objective, bound, status, sol.backend,
                   start, t, stats, notes)


def lscp(
    cost: np.ndarray | sp.spmatrix,
    threshold: float,
    weights: Iterable[float] | np.ndarray | None = None,
    share: float = 1.0,
    fixed: Iterable[int] | np.ndarray | None = None,
    time_limit_s: float | None = None,
    *,
    backend: str = "highs",
) -> SitingResult:
    """Location set covering (Toregas et al. 1971): fewest new sites covering the demand.

    Parameters
    ----------
    cost : numpy.ndarray or scipy.sparse matrix
        ``(n_candidates, n_demand)`` travel times in seconds (inf / absent = unreachable).
    threshold : float
        Coverage threshold in seconds.
    weights : array-like, optional
        Demand weights (population), default 1 each; must be >= 0. Demand with weight 0
        does not need covering.
    share : float
        Fraction of the total weight that must be covered, in ``(0, 1]``; 1 = everyone.
    fixed : array-like of int, optional
        Existing stations that stay open (they cover for free and are not counted).
    time_limit_s : float, optional
        Solver limit in seconds.
    backend : {"highs", "scip"}
        MIP solver.

    Returns
    -------
    SitingResult
        ``objective`` = number of new sites.

    Raises
    ------
    SitingError
        When the required share cannot be covered by all candidates together; the message
        names the demand points no candidate covers.
    """
    start = time.perf_counter()
    inputs = check_inputs(cost, weights, fixed, time_limit_s)
    matrix, w_all, fixed_l, limit = inputs.matrix, inputs.weights, inputs.fixed, inputs.time_limit_s
    t = check_threshold(threshold)
    if not (0.0 < float(share) <= 1.0):
        raise SitingError(f"share must be in (0, 1], got {share!r}.")
    total = float(w_all.sum())
    cov = _prepare(matrix, t, w_all, fixed_l, keep_fixed_covered=False)
    base_cover = _covered_weight(matrix, fixed_l, w_all, t)
    required = float(share) * total
    coverable = base_cover + float(cov.weight.sum())
    if share >= 1.0 and cov.uncoverable.size:
        raise SitingError(
            "LSCP is infeasible: no candidate reaches "
            + _describe(cov.uncoverable, w_all)
            + f" within {t:g} s; add candidates near them, raise the threshold or lower share."
        )
    if coverable < required * (1 - 1e-12):
        raise SitingError(
            f"LSCP is infeasible: at most {coverable:g} of {total:g} weight "
            f"({100 * coverable / total:.2f}%) can be covered within {t:g} s but share={share:g}"
            " asks for more; uncoverable: " + _describe(cov.uncoverable, w_all)
        )
    stats: dict[str, float | int] = {
        "demand_rows": int(cov.weight.size),
        "demand_in": matrix.n_demand,
        "free_candidates": int(cov.free.size),
    }
    need = required - base_cover
    n_free = cov.free.size
    n_dem = cov.weight.size
    if need <= 1e-12 * max(1.0, total) or n_dem == 0:
        return _finish("lscp", matrix, w_all, fixed_l, [], 0.0, 0.0, "optimal", "none", start,
                       t, stats, [])
    # greedy incumbent: add the site covering the most uncovered weight until enough
    by_cand = sp.csr_matrix(cov.sets.T)
    uncovered = np.ones(n_dem, dtype=bool)
    greedy: list[int] = []
    got = 0.0
    while got < need * (1 - 1e-12):
        gain = by_cand @ (cov.weight * uncovered)
        best = int(np.argmax(gain))
        if gain[best] <= 0:  # all coverable demand covered; ``need`` was above it by rounding only
            break
        greedy.append(best)
        got += float(gain[best])
        lo, hi = by_cand.indptr[best], by_cand.indptr[best + 1]
        uncovered[by_cand.indices[lo:hi]] = False
    coo = cov.sets.tocoo()
    if share >= 1.0:
        a = sp.csr_matrix((np.ones(coo.nnz), (coo.row, coo.col)), shape=(n_dem, n_free))
        n_var = n_free
        row_lb = np.ones(n_dem)
        row_ub = np.full(n_dem, np.inf)
        obj = np.ones(n_free)
    else:
        rows = np.concatenate([coo.row, np.arange(n_dem), np.full(n_dem, n_dem)])
        cols = np.concatenate([coo.col, n_free + np.arange(n_dem), n_free + np.arange(n_dem)])
        vals = np.concatenate([-np.ones(coo.nnz), np.ones(n_dem), cov.weight])
        n_var = n_free + n_dem
        a = sp.csr_matrix((vals, (rows, cols)), shape=(n_dem + 1, n_var))
        row_lb = np.concatenate([np.full(n_dem, -np.inf), [need * (1 - 1e-12)]])
        row_ub = np.concatenate([np.zeros(n_dem), [np.inf]])
        obj = np.concatenate([np.ones(n_free), np.zeros(n_dem)])
    is_int = np.zeros(n_var, dtype=bool)
    is_int[:n_free] = True
    data = MilpData(np.zeros(n_var), np.ones(n_var), obj, is_int, a, row_lb, row_ub, False, 0.0)
    stats.update(variables=n_var, constraints=int(a.shape[0]), nonzeros=int(a.nnz))
    remaining = None if limit is None else max(0.05, limit - (time.perf_counter() - start))
    sol = solve_model(build_model(data), maximize=False, time_limit_s=remaining, backend=backend)
    new = [int(cov.free[k]) for k in greedy]
    objective = float(len(new))
    if sol.values is not None:
        chosen = [int(cov.free[k]) for k in np.flatnonzero(sol.values[:n_free] > 0.5)]
        if len(chosen) <= objective:
            new, objective = chosen, float(len(chosen))
    status = _status_of(sol.status)
    bound = math.ceil(sol.bound - 1e-6) if math.isfinite(sol.bound) else math.nan
    if status != "optimal" and math.isfinite(bound) and bound >= objective:
        status = "optimal"
    return _finish("lscp", matrix, w_all, fixed_l, new, objective, bound, status, sol.backend,
                   start, t, stats, [])


def mexclp(
    cost: np.ndarray | sp.spmatrix,
    p: int,
    threshold: float,
    busy_fraction: float,
    weights: Iterable[float] | np.ndarray | None = None,
    fixed: Iterable[int] | np.ndarray | None = None,
    time_limit_s: float | None = None,
    *,
    backend: str = "highs",
) -> SitingResult:
    """Maximum expected covering (Daskin 1983): ``p`` new posts maximising expected coverage.

    Each post is busy with probability ``q = busy_fraction``, independently; a demand point
    reached within ``threshold`` by ``n`` open posts is covered with probability ``1 - q^n``.
    With one post per site the model is::

        max  sum_j w_j [ (1 - q^{f_j}) + sum_{k=1..m_j} (1 - q) q^{f_j + k - 1} x_jk ]
        s.t. sum_k x_jk <= sum_{i free, c_ij <= t} y_i,   sum_i y_i = p,

    where ``f_j`` counts fixed posts covering ``j``. The coefficients fall with ``k``, so the
    LP uses the ``x_jk`` in order and integral ``y`` gives integral ``x``: ``x`` is continuous.

    Parameters
    ----------
    cost : numpy.ndarray or scipy.sparse matrix
        ``(n_candidates, n_demand)`` travel times in seconds.
    p : int
        Number of new posts on top of ``fixed``.
    threshold : float
        Coverage threshold in seconds.
    busy_fraction : float
        Probability that a post is busy, in ``[0, 1)`` (e.g. 0.2 for 20% utilisation).
    weights, fixed, time_limit_s, backend
        As in :func:`mclp`.

    Returns
    -------
    SitingResult
        ``objective`` = expected covered weight ``sum_j w_j (1 - q^{n_j})``.
    """
    start = time.perf_counter()
    inputs = check_inputs(cost, weights, fixed, time_limit_s, p)
    matrix, w_all, fixed_l, limit = inputs.matrix, inputs.weights, inputs.fixed, inputs.time_limit_s
    p = int(p)
    t = check_threshold(threshold)
    q = float(busy_fraction)
    if not (0.0 <= q < 1.0) or math.isnan(q):
        raise SitingError(f"busy_fraction must be in [0, 1), got {busy_fraction!r}.")
    cov = _prepare(matrix, t, w_all, fixed_l, keep_fixed_covered=True)
    notes = []
    if cov.uncoverable.size:
        notes.append(
            "not coverable by any candidate within the threshold: "
            + _describe(cov.uncoverable, w_all)
        )
    stats: dict[str, float | int] = {
        "demand_rows": int(cov.weight.size),
        "demand_in": matrix.n_demand,
        "free_candidates": int(cov.free.size),
    }
    # greedy incumbent on expected coverage (sparse): gain of i = sum_j w_j (1-q) q^{n_j}
    by_cand = sp.csr_matrix(cov.sets.T)
    n_now = cov.fixed_count.astype(np.float64).copy()
    greedy: list[int] = []
    for _ in range(p):
        gain = by_cand @ (cov.weight * (1 - q) * q**n_now)
        gain[greedy] = -1.0
        best = int(np.argmax(gain))
        if gain[best] < 0:
            break
        greedy.append(best)
        lo, hi = by_cand.indptr[best], by_cand.indptr[best + 1]
        n_now[by_cand.indices[lo:hi]] += 1
    new = [int(cov.free[k]) for k in greedy]
    if len(new) < p:
        new += [int(i) for i in cov.free if int(i) not in new][: p - len(new)]
    objective = _expected_cover(matrix, fixed_l + new, w_all, t, q)
    if p == 0 or cov.weight.size == 0:
        return _finish("mexclp", matrix, w_all, fixed_l, new, objective, objective, "optimal",
                       "none", start, t, stats, notes)
    n_free = cov.free.size
    n_dem = cov.weight.size
    m = np.minimum(np.diff(cov.sets.indptr), p)  # useful x_jk per demand row
    x_row = np.repeat(np.arange(n_dem), m)
    x_k = np.arange(m.sum()) - np.repeat(np.cumsum(m) - m, m)  # 0-based k within the row
    n_x = x_row.size
    coef = cov.weight[x_row] * (1 - q) * q ** (cov.fixed_count[x_row] + x_k)
    coo = cov.sets.tocoo()
    rows = np.concatenate([coo.row, x_row, np.full(n_free, n_dem)])
    cols = np.concatenate([coo.col, n_free + np.arange(n_x), np.arange(n_free)])
    vals = np.concatenate([-np.ones(coo.nnz), np.ones(n_x), np.ones(n_free)])
    a = sp.csr_matrix((vals, (rows, cols)), shape=(n_dem + 1, n_free + n_x))
    offset = float((w_all * (1 - q ** _fixed_counts(matrix, fixed_l, t))).sum())
    is_int = np.zeros(n_free + n_x, dtype=bool)
    is_int[:n_free] = True
    data = MilpData(
        var_lb=np.zeros(n_free + n_x),
        var_ub=np.ones(n_free + n_x),
        obj=np.concatenate([np.zeros(n_free), coef]),
        is_int=is_int,
        matrix=a,
        row_lb=np.concatenate([np.full(n_dem, -np.inf), [float(p)]]),
        row_ub=np.concatenate([np.zeros(n_dem), [float(p)]]),
        maximize=True,
        offset=offset,
    )
    stats.update(variables=n_free + n_x, constraints=n_dem + 1, nonzeros=int(a.nnz))
    remaining = None if limit is None else max(0.05, limit - (time.perf_counter() - start))
    sol = solve_model(build_model(data), maximize=True, time_limit_s=remaining, backend=backend)
    status = _status_of(sol.status)
    bound = sol.bound if math.isfinite(sol.bound) else math.nan
    if sol.values is not None:
        chosen = [int(cov.free[k]) for k in np.flatnonzero(sol.values[:n_free] > 0.5)]
        value = _expected_cover(matrix, fixed_l + chosen, w_all, t, q)
        if value >= objective:
            new, objective = chosen, value
    if status != "optimal" and math.isfinite(bound) and bound <= objective + 1e-9 * max(
        1.0, objective
    ):
        status = "optimal"
    return _finish("mexclp", matrix, w_all, fixed_l, new, objective, bound, status,
                   sol.backend, start, t, stats, notes)


def _fixed_counts(matrix: CostMatrix, fixed: list[int], t: float) -> np.ndarray:
    count = np.zeros(matrix.n_demand)
    for i in fixed:
        count += matrix.row(i) <= t
    return count
