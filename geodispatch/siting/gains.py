"""What a siting run achieves on the network: marginal gains and who is covered before/after.

Compute only: the files are written by :mod:`geodispatch.siting.files`, the maps drawn by
:mod:`geodispatch.siting.maps`, the console table lives with the CLI.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from geodispatch.siting._matrix import CostMatrix
from geodispatch.siting.inputs import SitingProblem
from geodispatch.siting.result import SitingResult, marginal_gain_table

__all__ = ["coverage_status", "network_marginal_gain", "new_posts_in_table_order"]


def network_marginal_gain(
    problem: SitingProblem, result: SitingResult, threshold_s: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """Marginal gain of each new post with *unbounded* travel times.

    The model's matrix is bounded at the threshold, which is enough to choose the posts but
    not to measure mean response times; here the times from the chosen posts are recomputed
    without a bound (one search per post).

    Returns
    -------
    table : pandas.DataFrame
        :func:`~geodispatch.siting.result.marginal_gain_table` columns plus ``name``, ``lon``,
        ``lat`` (degrees) and ``mean_response_min``; ``covered_weight`` etc. are people.
    nearest : numpy.ndarray
        ``(2, n_demand)`` travel time (s) from the nearest post before and after.
    """
    sites = [int(i) for i in result.selected]
    times = np.asarray(problem.times(sites, None))
    weight = problem.weight
    if problem.unsnapped_population > 0:  # people far from every road: in the total, never covered
        times = np.hstack([times, np.full((len(sites), 1), np.inf)])
        weight = np.append(weight, problem.unsnapped_population)
    local = CostMatrix(times)
    n_fixed = result.fixed.size
    table, _ = marginal_gain_table(
        local,
        list(range(n_fixed, len(sites))),
        weight,
        list(range(n_fixed)),
        threshold_s,
    )
    lon, lat = problem.cand_lonlat
    pos = [None if pd.isna(s) else sites[int(s)] for s in table["site"]]
    table["site"] = pd.array(pos, dtype="Int64")
    table.insert(2, "name", [None if p is None else problem.cand_name[p] for p in pos])
    table.insert(3, "lon", [math.nan if p is None else float(lon[p]) for p in pos])
    table.insert(4, "lat", [math.nan if p is None else float(lat[p]) for p in pos])
    table["mean_response_min"] = table["mean_response_s"] / 60.0
    n_rows = problem.weight.size
    before = local.nearest_cost(list(range(n_fixed)))[:n_rows] if n_fixed else np.full(n_rows, np.inf)
    after = local.nearest_cost(list(range(len(sites))))[:n_rows]
    return table, np.vstack([before, after])


def coverage_status(nearest: np.ndarray, threshold_s: float) -> np.ndarray:
    """Status of each demand row: ``covered`` (before), ``newly covered`` or ``not covered``."""
    before = nearest[0] <= threshold_s
    after = nearest[1] <= threshold_s
    return np.where(before, "covered", np.where(after, "newly covered", "not covered"))


def new_posts_in_table_order(table: pd.DataFrame) -> np.ndarray:
    """Candidate indices of the new posts in the order of the marginal-gain table's steps.

    Maps and files number new posts by these steps, so a label "#k" is step k of the CSV.
    """
    return np.asarray([int(s) for s in table["site"].iloc[1:]], dtype=np.int64)
