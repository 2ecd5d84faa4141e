"""The result object every siting model returns, and the marginal-gain table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geodispatch.siting._matrix import CostMatrix

__all__ = ["SitingResult", "marginal_gain_table", "relative_gap"]


def relative_gap(objective: float, bound: float) -> float:
    """Relative optimality gap ``|objective - bound| / max(|objective|, 1e-9)``.

    Returns 0 when both are equal (including both zero) and nan when either is nan.
    """
    if math.isnan(objective) or math.isnan(bound):
        return math.nan
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-9)


@dataclass
class SitingResult:
    """Outcome of a siting model.

    Attributes
    ----------
    model : str
        ``"p_median"``, ``"mclp"``, ``"lscp"``, ``"p_center"`` or ``"mexclp"``.
    selected : numpy.ndarray
        Candidate (row) indices of every open site: the fixed ones first, then the new ones in
        the order of the marginal-gain table.
    new : numpy.ndarray
        Candidate indices of the sites added by the model (in marginal-gain order).
    fixed : numpy.ndarray
        Candidate indices that were open from the start (existing stations).
    objective : float
        Objective of ``selected``, recomputed from the cost matrix: weighted travel time sum
        (p-median, cost units x weight), covered weight (MCLP), number of new sites (LSCP),
        worst travel time (p-center, cost units), expected covered weight (MEXCLP).
    bound : float
        Best bound proven by the solver (lower bound when minimising, upper when maximising).
    gap : float
        Relative gap between ``objective`` and ``bound``; 0 means proven optimal.
    status : str
        ``"optimal"`` (proven), ``"feasible"`` (time limit hit, gap reported honestly) or
        ``"heuristic"`` (the solver produced no incumbent; the warm-start heuristic's solution
        is returned with whatever bound is known).
    solve_time_s : float
        Wall-clock seconds for reductions, heuristics and the solver.
    solver : str
        Which engine proved the result (e.g. ``"highs"``, ``"cp-sat"``).
    marginal_gain : pandas.DataFrame
        One row per step: step 0 = fixed sites only, then one new site at a time (greedy order
        among the chosen sites), with ``site``, ``covered_weight``, ``newly_covered_weight``,
        ``covered_share``, ``mean_response_s``, ``delta_mean_response_s``,
        ``unreachable_weight``. Coverage columns are nan when there is no threshold.
    threshold : float or None
        Coverage threshold in cost units (seconds), when the model has one.
    stats : dict
        Model size and reduction figures (variables, constraints, removed demand, ...).
    notes : list of str
        Human-readable remarks (e.g. weight unreachable from every candidate).
    """

    model: str
    selected: np.ndarray
    new: np.ndarray
    fixed: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    solve_time_s: float
    solver: str
    marginal_gain: pd.DataFrame
    threshold: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def proven_optimal(self) -> bool:
        """True when the solver proved optimality (gap 0)."""
        return self.status == "optimal"

    def summary(self) -> str:
        """One line: model, status, objective, bound, gap and time."""
        return (
            f"{self.model}: {self.status}, objective {self.objective:.6g}, bound "
            f"{self.bound:.6g}, gap {100 * self.gap:.3g}%, {self.selected.size} sites "
            f"({self.new.size} new), {self.solve_time_s:.2f} s with {self.solver}"
        )


def _state(matrix: CostMatrix, sites: list[int], weights: np.ndarray) -> np.ndarray:
    return matrix.nearest_cost(sites) if sites else np.full(weights.size, np.inf)


def marginal_gain_table(
    matrix: CostMatrix,
    new: list[int],
    weights: np.ndarray,
    fixed: list[int] | None = None,
    threshold: float | None = None,
) -> tuple[pd.DataFrame, list[int]]:
    """Order new sites greedily and tabulate what each one adds.

    Starting from the fixed sites, repeatedly pick among the remaining new sites the one that
    newly covers the most weight within ``threshold`` (ties, or no threshold: the largest drop
    in total weighted travel time).

    Parameters
    ----------
    matrix : CostMatrix
        Candidate x demand costs (seconds).
    new : list of int
        Sites chosen by a model (candidate indices).
    weights : numpy.ndarray
        Demand weights (e.g. population), length ``n_demand``.
    fixed : list of int, optional
        Sites open before any new one.
    threshold : float, optional
        Coverage threshold (seconds); None = coverage columns are nan.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``step, site, covered_weight, newly_covered_weight, covered_share,
        mean_response_s, delta_mean_response_s, unreachable_weight``. ``mean_response_s`` is
        the weight-averaged travel time to the nearest open site over the demand some open
        site reaches (nan when none); ``unreachable_weight`` is the weight no open site
        reaches.
    order : list of int
        ``new`` in the greedy order used by the table.
    """
    fixed = list(fixed or [])
    total = float(weights.sum())
    remaining = list(new)
    order: list[int] = []
    best = _state(matrix, fixed, weights)

    def figures(dist: np.ndarray) -> tuple[float, float, float]:
        reach = np.isfinite(dist)
        reach_w = float(weights[reach].sum())
        mean = float((dist[reach] * weights[reach]).sum() / reach_w) if reach_w > 0 else math.nan
        covered = float(weights[dist <= threshold].sum()) if threshold is not None else math.nan
        return covered, mean, total - reach_w

    rows: list[tuple[Any, ...]] = []
    covered, mean, unreach = figures(best)
    rows.append((0, None, covered, math.nan, covered / total if total else math.nan, mean,
                 math.nan, unreach))
    step = 0
    while remaining:
        step += 1
        keys = []
        for site in remaining:
            dist = np.minimum(best, matrix.row(site))
            cov = float(weights[dist <= threshold].sum()) if threshold is not None else 0.0
            reach = np.isfinite(dist)
            wsum = float((dist[reach] * weights[reach]).sum())
            keys.append((-cov, -float(weights[reach].sum()), wsum))
        pick = remaining.pop(int(min(range(len(keys)), key=lambda i: keys[i])))
        order.append(pick)
        best = np.minimum(best, matrix.row(pick))
        prev_cov, prev_mean = covered, mean
        covered, mean, unreach = figures(best)
        rows.append(
            (
                step,
                pick,
                covered,
                covered - prev_cov,
                covered / total if total else math.nan,
                mean,
                mean - prev_mean,
                unreach,
            )
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "step",
            "site",
            "covered_weight",
            "newly_covered_weight",
            "covered_share",
            "mean_response_s",
            "delta_mean_response_s",
            "unreachable_weight",
        ],
    )
    table["site"] = table["site"].astype("Int64")
    return table, order
