"""Lagrangian relaxation of the p-median problem, used for bounds and variable fixing.

Relaxing the assignment rows ``sum_i x_ij = 1`` with multipliers ``lambda_j`` gives
(Beasley 1993, "Lagrangean heuristics for location problems", EJOR 65:383-399)::

    L(lambda) = sum_j lambda_j + sum of the p smallest rho_i (+ rho of fixed sites),
    rho_i = sum_j min(0, w_j c_ij - lambda_j),

a valid lower bound for every ``lambda``, improved by subgradient steps. For each candidate
``i`` the same quantities bound the best solution that opens ``i`` (or closes it); candidates
whose bound exceeds a known solution's cost cannot be in a better solution and are removed
before the exact MIP, which then has far fewer binaries. Everything is vectorised numpy over
the ``(n_cand, n_demand)`` matrix.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class LagrangeOutcome:
    """Result of the subgradient run.

    Attributes
    ----------
    bound : float
        Best Lagrangian lower bound (objective units).
    upper : float
        Best feasible objective seen (the start value or a better Lagrangian solution).
    best_sites : list of int
        Free sites of the solution achieving ``upper`` (None when the start one is best).
    keep : numpy.ndarray of bool
        Free candidates that may still be in a solution better than ``upper``.
    force_open : numpy.ndarray of bool
        Free candidates that every solution better than ``upper`` opens.
    iterations : int
        Subgradient iterations done.
    bound_sites : list of int
        Free sites chosen by the relaxation at the best bound (a good start for local search).
    """

    bound: float
    upper: float
    best_sites: list[int] | None
    keep: np.ndarray
    force_open: np.ndarray
    iterations: int
    bound_sites: list[int] | None = None
    multipliers: np.ndarray | None = None


def lagrangian_p_median(
    cost: np.ndarray,
    weights: np.ndarray,
    p: int,
    fixed: list[int],
    upper: float,
    *,
    time_budget_s: float = 10.0,
    max_iter: int = 5000,
    integral: bool = False,
    start: np.ndarray | None = None,
    step: float = 2.0,
) -> LagrangeOutcome:
    """Subgradient optimisation of the p-median Lagrangian dual with reduction tests.

    Parameters
    ----------
    cost : numpy.ndarray
        ``(n_cand, n_demand)`` costs, inf = unreachable; every demand reachable.
    weights : numpy.ndarray
        Positive demand weights.
    p : int
        New sites to open (>= 1) among the non-fixed candidates.
    fixed : list of int
        Sites that are open whatever happens.
    upper : float
        Objective of a known feasible solution.
    time_budget_s : float
        Wall-clock budget in seconds.
    max_iter : int
        Iteration cap.
    integral : bool
        True when every weighted cost is an integer, so bounds may be rounded up.
    start : numpy.ndarray, optional
        Initial multipliers (e.g. from an earlier run), length ``n_demand``.
    step : float
        Initial step factor of the subgradient method (halved when the bound stalls).
    """
    n_cand, _ = cost.shape
    wc = cost * weights[None, :]
    is_free = np.ones(n_cand, dtype=bool)
    is_free[fixed] = False
    free = np.flatnonzero(is_free)
    n_free = free.size
    # start: each demand's p-th... a standard choice is the second smallest weighted cost
    srt = np.sort(wc, axis=0)
    if start is not None:
        lam = np.asarray(start, dtype=np.float64).copy()
    else:
        lam = srt[min(1, n_cand - 1)].copy()
        lam[~np.isfinite(lam)] = srt[0][~np.isfinite(lam)]
    best_lam = lam.copy()
    best_bound = -math.inf
    lb_open = np.full(n_cand, -math.inf)  # bound if i is forced open
    lb_closed = np.full(n_cand, -math.inf)  # bound if i is forced closed
    best_sites: list[int] | None = None
    bound_sites: list[int] | None = None
    step_scale = step
    stall = 0
    deadline = time.perf_counter() + time_budget_s
    tol = 1e-9 * max(1.0, abs(upper))
    it = 0

    def done(bound: float) -> bool:
        if not math.isfinite(bound):
            return False
        b = math.ceil(bound - 1e-6) if integral else bound
        return b >= upper - tol

    for it in range(1, max_iter + 1):  # noqa: B007
        red = np.minimum(wc - lam[None, :], 0.0)
        rho = red.sum(axis=1)
        rho_free = rho[free]
        if p < n_free:
            part = np.argpartition(rho_free, p)
            chosen_pos = part[:p]
            next_rho = float(rho_free[part[p]])
        else:
            chosen_pos = np.arange(n_free)
            next_rho = math.inf
        chosen = free[chosen_pos]
        kth = float(rho_free[chosen_pos].max()) if p > 0 else math.inf
        value = float(lam.sum() + rho[fixed].sum() + rho_free[chosen_pos].sum())
        if best_bound == -math.inf or value > best_bound + 1e-12 * max(1.0, abs(best_bound)):
            best_bound = value
            bound_sites = chosen.tolist()
            best_lam = lam.copy()
            stall = 0
        else:
            stall += 1
        # reduction bounds valid for this lambda
        opened = value - kth + rho
        lb_open[free] = np.maximum(lb_open[free], opened[free])
        closed = value - rho + next_rho
        lb_closed[chosen] = np.maximum(lb_closed[chosen], closed[chosen])
        open_sites = np.concatenate([np.asarray(fixed, dtype=np.int64), chosen])
        # Lagrangian heuristic: the chosen sites are a feasible p-median solution
        near = cost[open_sites].min(axis=0)
        if np.all(np.isfinite(near)):
            obj = float((near * weights).sum())
            if obj < upper - tol:
                upper = obj
                best_sites = chosen.tolist()
                tol = 1e-9 * max(1.0, abs(upper))
        if done(best_bound) or time.perf_counter() > deadline:
            break
        served = (red[open_sites] < 0).sum(axis=0)
        grad = 1.0 - served
        norm = float((grad * grad).sum())
        if norm == 0.0:
            break  # lambda is optimal and the relaxed solution is feasible
        if stall >= 20:
            step_scale /= 2.0
            stall = 0
            if step_scale < 1e-5:
                break
        gap = max(upper - value, 1e-9 * max(1.0, abs(upper)))
        lam = lam + step_scale * gap / norm * grad
    margin = 1e-7 * max(1.0, abs(upper))
    keep = np.zeros(n_cand, dtype=bool)
    keep[free] = lb_open[free] <= upper + margin
    force = np.zeros(n_cand, dtype=bool)
    force[free] = lb_closed[free] > upper + margin
    bound = best_bound
    if integral and math.isfinite(bound):
        bound = float(math.ceil(bound - 1e-6))
    return LagrangeOutcome(
        bound=bound,
        upper=upper,
        best_sites=best_sites,
        keep=keep | force,
        force_open=force,
        iterations=it,
        bound_sites=bound_sites,
        multipliers=best_lam,
    )

