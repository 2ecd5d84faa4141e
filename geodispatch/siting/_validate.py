"""Boundary checks shared by the siting models; every failure is a SitingError."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from geodispatch.errors import SitingError
from geodispatch.siting._matrix import CostMatrix, as_cost_matrix


def check_weights(weights: Iterable[float] | np.ndarray | None, n_demand: int) -> np.ndarray:
    """Demand weights as a float array (default: all 1); non-negative and finite."""
    if weights is None:
        return np.ones(n_demand)
    arr = np.asarray(weights, dtype=np.float64).reshape(-1)
    if arr.size != n_demand:
        raise SitingError(
            f"weights has {arr.size} values but there are {n_demand} demand points "
            "(columns of cost); give one weight per demand point."
        )
    if not np.all(np.isfinite(arr)):
        raise SitingError("weights contain NaN or inf; give finite demand weights.")
    negative = np.flatnonzero(arr < 0)
    if negative.size:
        raise SitingError(
            f"{negative.size} demand weight(s) are negative (first: demand {int(negative[0])} "
            f"= {arr[negative[0]]:g}); weights such as population must be >= 0."
        )
    return arr


def check_fixed(fixed: Iterable[int] | np.ndarray | None, n_cand: int) -> list[int]:
    """Fixed (already open) candidate indices, validated and de-duplicated in order."""
    if fixed is None:
        return []
    out: list[int] = []
    for value in np.asarray(list(fixed) if not isinstance(fixed, np.ndarray) else fixed).ravel():
        if not isinstance(value, Integral | np.integer) and not float(value).is_integer():
            raise SitingError(f"fixed site {value!r} is not an integer candidate index.")
        index = int(value)
        if index < 0 or index >= n_cand:
            raise SitingError(
                f"fixed site {index} is not a candidate index (valid: 0..{n_cand - 1})."
            )
        if index not in out:
            out.append(index)
    return out


def check_p(p: int, n_cand: int, fixed: list[int], *, name: str = "p") -> int:
    """Number of new sites: an integer in ``0..(candidates not fixed)``."""
    if isinstance(p, bool) or not isinstance(p, Integral | np.integer):
        raise SitingError(f"{name} must be a whole number of new sites, got {p!r}.")
    p = int(p)
    free = n_cand - len(fixed)
    if p < 0:
        raise SitingError(f"{name}={p} is negative; ask for 0 or more new sites.")
    if p > free:
        raise SitingError(
            f"{name}={p} new sites asked for but only {free} candidate site(s) are available "
            f"({n_cand} candidates, {len(fixed)} already open); lower {name} or add candidates."
        )
    return p


def check_threshold(threshold: float) -> float:
    """Coverage threshold in seconds: finite and >= 0."""
    if not isinstance(threshold, Real) or not math.isfinite(float(threshold)) or threshold < 0:
        raise SitingError(
            f"threshold must be a finite number of seconds >= 0, got {threshold!r}."
        )
    return float(threshold)


def check_time_limit(time_limit_s: float | None) -> float | None:
    """Time limit in seconds (None = none); must be positive when given."""
    if time_limit_s is None:
        return None
    if not math.isfinite(float(time_limit_s)) or time_limit_s <= 0:
        raise SitingError(f"time_limit_s must be a positive number of seconds, got {time_limit_s!r}.")
    return float(time_limit_s)


def unreachable_demand(matrix: CostMatrix, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Demand points (with positive weight) that no candidate reaches, and their weight."""
    idx = np.flatnonzero(~np.isfinite(matrix.column_min()) & (weights > 0))
    return idx, float(weights[idx].sum())


def require_reachable(matrix: CostMatrix, weights: np.ndarray, model: str) -> None:
    """Raise when some weighted demand cannot be reached from any candidate."""
    idx, lost = unreachable_demand(matrix, weights)
    if idx.size:
        total = float(weights.sum())
        shown = ", ".join(str(int(i)) for i in idx[:10]) + (" ..." if idx.size > 10 else "")
        raise SitingError(
            f"{idx.size} demand point(s) with total weight {lost:g} ({100 * lost / total:.2f}% "
            f"of {total:g}) cannot be reached from any candidate (demand {shown}); {model} "
            "needs every demand point reachable: add candidates there or drop those points."
        )


@dataclass(frozen=True)
class CheckedInputs:
    """The validated inputs every siting model starts from.

    Attributes
    ----------
    matrix : CostMatrix
        Travel times, seconds.
    weights : numpy.ndarray
        Demand weights (>= 0, finite).
    fixed : list of int
        Sites already open (candidate indices).
    p : int or None
        New sites asked for (None when the model takes no ``p``).
    time_limit_s : float or None
        Solver limit, seconds.
    """

    matrix: CostMatrix
    weights: np.ndarray
    fixed: list[int]
    p: int | None
    time_limit_s: float | None


def check_inputs(
    cost: Any,
    weights: Iterable[float] | np.ndarray | None,
    fixed: Iterable[int] | np.ndarray | None,
    time_limit_s: float | None,
    p: int | None = None,
    *,
    open_something: bool = False,
    reachable_for: str | None = None,
) -> CheckedInputs:
    """Validate the arguments the siting models share, in one order and with one set of messages.

    Parameters
    ----------
    cost, weights, fixed, time_limit_s, p
        As the models take them (``p=None`` for models without it, e.g. LSCP).
    open_something : bool
        Refuse ``p=0`` with no fixed site (nothing would be open: p-median, p-center).
    reachable_for : str, optional
        Model name: require every weighted demand point reachable from some candidate.

    Raises
    ------
    SitingError
        Naming the first bad argument.
    """
    matrix = as_cost_matrix(cost)
    w_all = check_weights(weights, matrix.n_demand)
    fixed_l = check_fixed(fixed, matrix.n_cand)
    p_checked = None if p is None else check_p(p, matrix.n_cand, fixed_l)
    limit = check_time_limit(time_limit_s)
    if open_something and p_checked == 0 and not fixed_l:
        raise SitingError("p=0 with no fixed sites opens nothing; ask for at least one site.")
    if reachable_for is not None:
        require_reachable(matrix, w_all, reachable_for)
    return CheckedInputs(matrix, w_all, fixed_l, p_checked, limit)
