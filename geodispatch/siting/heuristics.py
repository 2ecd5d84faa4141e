"""Constructive and local-search heuristics used as warm starts and incumbents.

* p-median: greedy addition (Kuehn-Hamburger) then a vertex-substitution interchange in the
  spirit of Teitz and Bart (1968): for each open site, find the best closed site to swap it
  with and apply the swap when it lowers the demand-weighted cost; repeat until no swap
  improves or the time budget runs out.
* covering (MCLP / MEXCLP / LSCP): greedy addition on covered (or expected covered) weight and
  the same interchange.
* p-center: greedy addition on the worst-served demand followed by interchange.

All functions take dense arrays (candidates x demand) and return candidate indices. They are
heuristics: the exact models in this package use them as incumbents and for reductions;
optimality is claimed only from a solver's proof.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = [
    "center_score",
    "cover_score",
    "expected_cover_score",
    "greedy",
    "interchange",
    "median_score",
]

#: A score maps a "state" (the sorted costs of the k nearest open sites per demand, shape
#: ``(..., k, n_demand)``) to the model's objective (lower is better).
Score = Callable[[np.ndarray], np.ndarray]


def median_score(weights: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Objective of a p-median state: sum of weight x nearest cost (lower is better).

    The returned function takes ``near`` of shape ``(..., k, n_demand)`` (sorted nearest
    costs) and returns the objective over the leading axes.
    """

    def score(near: np.ndarray) -> np.ndarray:
        return np.asarray((near[..., 0, :] * weights).sum(axis=-1))

    return score


def center_score(_weights: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Objective of a p-center state: the worst nearest cost (lower is better).

    Ties on the maximum are broken by the sum of nearest costs x 1e-9 so that the local
    search still moves on plateaus.
    """

    def score(near: np.ndarray) -> np.ndarray:
        first = near[..., 0, :]
        worst = first.max(axis=-1)
        finite = np.where(np.isfinite(first), first, 0.0)
        return np.asarray(worst + 1e-9 * finite.sum(axis=-1) / max(first.shape[-1], 1))

    return score


def cover_score(weights: np.ndarray, threshold: float) -> Callable[[np.ndarray], np.ndarray]:
    """Negative covered weight within ``threshold`` (lower is better)."""

    def score(near: np.ndarray) -> np.ndarray:
        return np.asarray(-((near[..., 0, :] <= threshold) * weights).sum(axis=-1))

    return score


def expected_cover_score(
    weights: np.ndarray, threshold: float, busy_fraction: float
) -> Callable[[np.ndarray], np.ndarray]:
    """Negative MEXCLP expected coverage ``sum w (1 - q^n)`` (lower is better).

    ``near`` must hold the ``k`` nearest costs with ``k`` = number of open sites, so that
    ``n`` (posts within ``threshold``) is exact.
    """

    def score(near: np.ndarray) -> np.ndarray:
        count = (near <= threshold).sum(axis=-2)
        return np.asarray(-((1.0 - busy_fraction**count) * weights).sum(axis=-1))

    return score


def _nearest(cost: np.ndarray, selected: list[int], k: int) -> np.ndarray:
    """Sorted ``k`` smallest costs per demand among ``selected`` rows, padded with inf."""
    n_demand = cost.shape[1]
    out = np.full((k, n_demand), np.inf)
    if selected:
        sub = np.sort(cost[selected], axis=0)
        take = min(k, sub.shape[0])
        out[:take] = sub[:take]
    return out


def _merge(near: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """States after adding each candidate row: shape ``(n_cand, k, n_demand)``."""
    k = near.shape[0]
    stacked = np.concatenate(
        [np.broadcast_to(near, (rows.shape[0], k, near.shape[1])), rows[:, None, :]], axis=1
    )
    return np.sort(stacked, axis=1)[:, :k, :]


def _best_addition(
    cost: np.ndarray, near: np.ndarray, pool: np.ndarray, score: Score, chunk: int
) -> tuple[int, float]:
    best_i, best_v = -1, np.inf
    for start in range(0, pool.size, chunk):
        block = pool[start : start + chunk]
        if near.shape[0] == 1:
            states = np.minimum(near[None, :, :], cost[block][:, None, :])
        else:
            states = _merge(near, cost[block])
        values = score(states)
        pos = int(np.argmin(values))
        if values[pos] < best_v:
            best_i, best_v = int(block[pos]), float(values[pos])
    return best_i, best_v


def _chunk_size(n_demand: int, k: int) -> int:
    return max(1, int(4_000_000 // max(n_demand * k, 1)))


def greedy(
    cost: np.ndarray,
    p: int,
    score: Score,
    fixed: list[int] | None = None,
    allowed: np.ndarray | None = None,
    k: int = 1,
) -> list[int]:
    """Greedy addition of ``p`` sites on top of ``fixed``.

    Parameters
    ----------
    cost : numpy.ndarray
        ``(n_cand, n_demand)`` costs (seconds or instance units; inf = unreachable).
    p : int
        Number of sites to add.
    score : callable
        ``score(states)`` maps states of shape ``(..., k, n_demand)`` (the ``k`` nearest
        open costs per demand, sorted) to objective values (lower is better).
    fixed : list of int, optional
        Sites that are open already.
    allowed : numpy.ndarray of bool, optional
        Candidates that may be added (default: all not fixed).
    k : int
        Number of nearest open costs kept per demand (1 except for MEXCLP).

    Returns
    -------
    list of int
        ``fixed`` followed by the added candidates in the order they were added.
    """
    fixed = list(fixed or [])
    selected = list(fixed)
    mask = np.ones(cost.shape[0], dtype=bool) if allowed is None else allowed.copy()
    mask[selected] = False
    near = _nearest(cost, selected, k)
    chunk = _chunk_size(cost.shape[1], k)
    for _ in range(p):
        pool = np.flatnonzero(mask)
        if pool.size == 0:
            break
        best_i, _ = _best_addition(cost, near, pool, score, chunk)
        selected.append(best_i)
        mask[best_i] = False
        near = _nearest(cost, selected, k)
    return selected


def interchange(
    cost: np.ndarray,
    selected: list[int],
    score: Score,
    fixed: list[int] | None = None,
    allowed: np.ndarray | None = None,
    k: int = 1,
    time_budget_s: float = 10.0,
) -> list[int]:
    """Vertex-substitution local search (Teitz-Bart style) on a selection.

    For each non-fixed open site in turn, evaluate swapping it with every allowed closed site
    (vectorised over candidates) and apply the best swap if it improves the objective.
    Passes repeat until a full pass brings no improvement or ``time_budget_s`` (seconds) is
    spent.

    Returns
    -------
    list of int
        The improved selection (fixed sites first, same length as ``selected``).
    """
    fixed_set = set(fixed or [])
    current = list(selected)
    mask = np.ones(cost.shape[0], dtype=bool) if allowed is None else allowed.copy()
    mask[current] = False
    chunk = _chunk_size(cost.shape[1], k)
    value = float(score(_nearest(cost, current, k)))
    deadline = time.perf_counter() + time_budget_s
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for pos, site in enumerate(list(current)):
            if site in fixed_set:
                continue
            if time.perf_counter() >= deadline:
                break
            rest = current[:pos] + current[pos + 1 :]
            near = _nearest(cost, rest, k)
            pool = np.flatnonzero(mask)
            if pool.size == 0:
                return current
            best_i, best_v = _best_addition(cost, near, pool, score, chunk)
            if best_v < value - 1e-9 * max(1.0, abs(value)):
                mask[site] = True
                mask[best_i] = False
                current[pos] = best_i
                value = best_v
                improved = True
    return current
