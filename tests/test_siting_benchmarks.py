"""Siting models on classic data sets from ../shared/data (skipped when it is absent).

* OR-Library pmed1-pmed5: p-median reaches the known optimum exactly (optima.csv) and
  p-center the known optimal radius (pcenter_optima.csv).
* Swain's 55-node set and Daskin's 49/88-node sets: LSCP and MCLP compared with brute force
  over all subsets (small p) and with an independent solver (scipy.optimize.milp on the
  textbook formulation). No literature numbers are typed in here.
"""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from geodispatch.siting import lscp, mclp, p_center, p_median, read_orlib_pmed
from tests.conftest import shared_path

pytestmark = pytest.mark.shared


def _optima(name: str, column: str) -> dict[str, float]:
    with shared_path(f"benchmarks/pmed/{name}").open() as fh:
        return {row["instance"]: float(row[column]) for row in csv.DictReader(fh)}


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_pmed_p_median_known_optimum(k: int) -> None:
    cost, p = read_orlib_pmed(shared_path(f"benchmarks/pmed/pmed{k}.txt"))
    res = p_median(cost, p, time_limit_s=60)
    assert res.status == "optimal"
    assert res.objective == _optima("optima.csv", "optimum")[f"pmed{k}"]
    assert cost[res.selected].min(axis=0).sum() == res.objective
    assert res.selected.size == p


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_pmed_p_center_known_optimum(k: int) -> None:
    cost, p = read_orlib_pmed(shared_path(f"benchmarks/pmed/pmed{k}.txt"))
    res = p_center(cost, p, time_limit_s=60)
    assert res.status == "optimal"
    assert res.objective == _optima("pcenter_optima.csv", "pcenter_optimum")[f"pmed{k}"]
    assert cost[res.selected].min(axis=0).max() == res.objective


# ---------------------------------------------------------------- Swain / Daskin


def _swain() -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(shared_path("benchmarks/swain55/swain55.csv"))
    xy = df[["x", "y"]].to_numpy(float)
    cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    return cost, df["demand"].to_numpy(float)


def _daskin(n: int) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(shared_path(f"benchmarks/daskin/daskin_{n}_nodes.csv"))
    lon, lat = np.radians(df["lon"].to_numpy(float)), np.radians(df["lat"].to_numpy(float))
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    km = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    return km, df["demand1"].to_numpy(float)


def _brute_mclp(cost: np.ndarray, w: np.ndarray, p: int, t: float) -> float:
    within = cost <= t
    best = 0.0
    for combo in itertools.combinations(range(cost.shape[0]), p):
        best = max(best, float(w[within[list(combo)].any(axis=0)].sum()))
    return best


def _scipy_mclp(cost: np.ndarray, w: np.ndarray, p: int, t: float) -> float:
    """Textbook MCLP (y_i binary, z_j continuous) solved by scipy's own HiGHS binding."""
    n, m = cost.shape
    a = (cost <= t).T.astype(float)  # m x n
    obj = np.concatenate([np.zeros(n), -w])
    cover = sp.hstack([-sp.csr_matrix(a), sp.identity(m)])
    card = sp.hstack([sp.csr_matrix(np.ones((1, n))), sp.csr_matrix((1, m))])
    res = milp(
        obj,
        constraints=[LinearConstraint(cover, -np.inf, 0), LinearConstraint(card, p, p)],
        integrality=np.concatenate([np.ones(n), np.zeros(m)]),
        bounds=Bounds(0, 1),
    )
    assert res.status == 0
    return float(-res.fun)


def _scipy_lscp(cost: np.ndarray, t: float) -> int:
    n = cost.shape[0]
    a = sp.csr_matrix((cost <= t).T.astype(float))
    res = milp(
        np.ones(n),
        constraints=[LinearConstraint(a, 1, np.inf)],
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
    )
    assert res.status == 0
    return round(res.fun)


@pytest.mark.parametrize(("p", "t"), [(1, 10.0), (2, 10.0), (3, 8.0), (3, 15.0)])
def test_swain_mclp_brute_force(p: int, t: float) -> None:
    cost, w = _swain()
    best = _brute_mclp(cost, w, p, t)
    res = mclp(cost, p, t, w)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best)


@pytest.mark.parametrize(("p", "t"), [(5, 8.0), (8, 5.0), (4, 15.0)])
def test_swain_mclp_independent_solver(p: int, t: float) -> None:
    cost, w = _swain()
    res = mclp(cost, p, t, w)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(_scipy_mclp(cost, w, p, t))


@pytest.mark.parametrize("t", [5.0, 8.0, 12.0, 20.0])
def test_swain_lscp(t: float) -> None:
    cost, w = _swain()
    res = lscp(cost, t, w)
    assert res.status == "optimal"
    assert np.all(cost[res.selected].min(axis=0) <= t)
    assert res.objective == _scipy_lscp(cost, t)
    k = int(res.objective)
    if k <= 4:  # brute force: no smaller set covers everyone
        for combo in itertools.combinations(range(55), k - 1):
            assert not np.all(cost[list(combo)].min(axis=0) <= t)


@pytest.mark.parametrize("n", [49, 88])
def test_daskin_mclp_and_lscp(n: int) -> None:
    km, pop = _daskin(n)
    for p, t in [(2, 800.0), (3, 500.0)]:
        res = mclp(km, p, t, pop)
        assert res.status == "optimal"
        assert res.objective == pytest.approx(_brute_mclp(km, pop, p, t), rel=1e-12)
    res = mclp(km, 6, 600.0, pop)
    assert res.objective == pytest.approx(_scipy_mclp(km, pop, 6, 600.0), rel=1e-9)
    cover = lscp(km, 1000.0, pop)
    assert cover.status == "optimal"
    assert cover.objective == _scipy_lscp(km, 1000.0)
    assert np.all(km[cover.selected].min(axis=0) <= 1000.0)
