"""Siting models against brute force on small random instances, plus bad input (offline)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from geodispatch.errors import CorruptFileError, SitingError, SourceNotFoundError
from geodispatch.siting import (
    SitingResult,
    lscp,
    mclp,
    mexclp,
    p_center,
    p_median,
    read_orlib_pmed,
)

# ---------------------------------------------------------------- brute-force references


def _instance(seed: int, n_cand: int = 9, n_dem: int = 16, unreachable: float = 0.15):
    rng = np.random.default_rng(seed)
    cost = np.round(rng.uniform(0, 100, (n_cand, n_dem)), 1)
    cost[rng.random(cost.shape) < unreachable] = np.inf
    weights = rng.integers(0, 20, n_dem).astype(float)
    weights[0] = 0.0  # a zero-weight point must not matter
    return cost, weights


def _subsets(n_cand: int, k: int, fixed: list[int]):
    free = [i for i in range(n_cand) if i not in fixed]
    for combo in itertools.combinations(free, k):
        yield list(fixed) + list(combo)


def _median_value(cost, w, sites):
    near = cost[sites].min(axis=0)
    pos = w > 0
    return float((near[pos] * w[pos]).sum())


def _cover_value(cost, w, sites, t):
    return float(w[cost[sites].min(axis=0) <= t].sum())


def _expected_value(cost, w, sites, t, q):
    n = (cost[sites] <= t).sum(axis=0)
    return float((w * (1 - q**n)).sum())


def _center_value(cost, w, sites):
    return float(cost[sites].min(axis=0)[w > 0].max())


def _check_result(res: SitingResult, fixed: list[int], p: int | None = None) -> None:
    assert list(res.selected[: len(fixed)]) == fixed, "fixed sites stay selected, first"
    assert set(fixed) <= set(res.selected.tolist())
    assert len(set(res.selected.tolist())) == res.selected.size
    if p is not None:
        assert res.new.size == p
    assert res.status == "optimal"
    assert res.gap == 0.0
    assert res.solve_time_s >= 0.0
    assert len(res.marginal_gain) == res.new.size + 1


SEEDS = [0, 1, 2, 3]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fixed", [[], [2]])
def test_p_median_equals_brute_force(seed: int, fixed: list[int]) -> None:
    cost, w = _instance(seed, unreachable=0.0 if seed % 2 else 0.1)
    # make every demand reachable from some candidate
    cost[0, ~np.isfinite(cost).any(axis=0)] = 50.0
    p = 3
    values = [_median_value(cost, w, s) for s in _subsets(cost.shape[0], p, fixed)]
    best = min(values)
    res = p_median(cost, p, w, fixed=fixed)
    _check_result(res, fixed, p)
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert _median_value(cost, w, res.selected.tolist()) == pytest.approx(res.objective)
    assert res.bound == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fixed", [[], [1, 4]])
def test_mclp_equals_brute_force(seed: int, fixed: list[int]) -> None:
    cost, w = _instance(seed)
    t, p = 35.0, 2
    best = max(_cover_value(cost, w, s, t) for s in _subsets(cost.shape[0], p, fixed))
    res = mclp(cost, p, t, w, fixed=fixed)
    _check_result(res, fixed, p)
    assert res.objective == pytest.approx(best)
    assert _cover_value(cost, w, res.selected.tolist(), t) == pytest.approx(best)
    table = res.marginal_gain
    assert table["covered_weight"].iloc[-1] == pytest.approx(best)
    assert table["newly_covered_weight"].iloc[1:].sum() == pytest.approx(
        best - table["covered_weight"].iloc[0]
    )
    # the sparse (bounded) form of the same matrix gives the same optimum
    rows, cols = np.nonzero(cost <= 60.0)
    sparse = sp.csr_matrix((cost[rows, cols], (rows, cols)), shape=cost.shape)
    assert mclp(sparse, p, t, w, fixed=fixed).objective == pytest.approx(best)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("q", [0.0, 0.3, 0.7])
def test_mexclp_equals_brute_force(seed: int, q: float) -> None:
    cost, w = _instance(seed)
    t, p, fixed = 40.0, 3, [0]
    best = max(_expected_value(cost, w, s, t, q) for s in _subsets(cost.shape[0], p, fixed))
    res = mexclp(cost, p, t, q, w, fixed=fixed)
    _check_result(res, fixed, p)
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert _expected_value(cost, w, res.selected.tolist(), t, q) == pytest.approx(best)
    if q == 0.0:  # no busy posts: expected coverage = plain coverage
        assert best == pytest.approx(mclp(cost, p, t, w, fixed=fixed).objective)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fixed", [[], [3]])
def test_p_center_equals_brute_force(seed: int, fixed: list[int]) -> None:
    cost, w = _instance(seed, unreachable=0.0)
    p = 3
    best = min(_center_value(cost, w, s) for s in _subsets(cost.shape[0], p, fixed))
    res = p_center(cost, p, w, fixed=fixed)
    _check_result(res, fixed, p)
    assert res.objective == pytest.approx(best)
    assert _center_value(cost, w, res.selected.tolist()) == pytest.approx(best)


@pytest.mark.parametrize("seed", SEEDS)
def test_lscp_covers_everything_and_no_smaller_set_does(seed: int) -> None:
    cost, w = _instance(seed, n_cand=10, n_dem=14, unreachable=0.0)
    t = 45.0
    res = lscp(cost, t, w)
    _check_result(res, [])
    chosen = res.selected.tolist()
    need = w > 0
    assert np.all(cost[chosen].min(axis=0)[need] <= t)
    assert res.objective == len(chosen)
    k = len(chosen)
    assert k >= 1
    for smaller in itertools.combinations(range(cost.shape[0]), k - 1):
        if smaller:
            assert not np.all(cost[list(smaller)].min(axis=0)[need] <= t)


@pytest.mark.parametrize("seed", SEEDS)
def test_lscp_partial_share_and_fixed(seed: int) -> None:
    cost, w = _instance(seed, n_cand=10, n_dem=14, unreachable=0.0)
    t, share, fixed = 30.0, 0.8, [5]
    total = w.sum()

    def ok(sites: list[int]) -> bool:
        return _cover_value(cost, w, sites, t) >= share * total - 1e-9

    best = next(
        k for k in range(0, 10) if any(ok(s) for s in _subsets(cost.shape[0], k, fixed))
    )
    res = lscp(cost, t, w, share=share, fixed=fixed)
    _check_result(res, fixed)
    assert res.objective == best
    assert ok(res.selected.tolist())


def test_lscp_with_fixed_sites_covering_almost_everyone_terminates() -> None:
    """Float sums made the weight still needed exceed what any candidate adds: the greedy
    warm start then looped forever on zero-gain sites. One post is needed and found."""
    import signal

    rng = np.random.default_rng(0)
    w = rng.random(20_000) * 100.0  # real-valued populations
    cost = np.full((2, w.size), np.inf)
    cost[0, 1:] = 10.0  # the existing post covers everyone but demand 0
    cost[1, 0] = 5.0  # only candidate 1 covers demand 0
    need = float(w.sum()) - float(w[cost[0] <= 10.0].sum())
    assert need * (1 - 1e-12) > w[0]  # the rounding case this test is about

    def too_slow(*_: object) -> None:
        raise TimeoutError("lscp did not finish: greedy loop without progress")

    old = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(30)
    try:
        res = lscp(cost, 10.0, w, fixed=[0])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert res.objective == 1 and res.new.tolist() == [1] and res.status == "optimal"


def test_threshold_is_inclusive_like_coverage() -> None:
    """A demand point exactly ``threshold`` seconds away is covered (coverage uses ``<=``)."""
    cost = np.array([[900.0, 900.5, np.inf], [np.inf, np.inf, 900.0]])
    w = np.array([1.0, 10.0, 100.0])
    rows, cols = np.nonzero(np.isfinite(cost))
    sparse = sp.csr_matrix((cost[rows, cols], (rows, cols)), shape=cost.shape)
    for c in (cost, sparse):
        assert mclp(c, 1, 900.0, w, fixed=[0]).objective == 101.0
        assert mexclp(c, 0, 900.0, 0.5, w, fixed=[0, 1]).objective == pytest.approx(50.5)
        with pytest.raises(SitingError, match="no candidate reaches 1 demand point"):
            lscp(c, 900.0, w)
        assert lscp(c, 900.0, np.array([1.0, 0.0, 100.0])).objective == 2


def test_mclp_p0_is_todays_coverage() -> None:
    cost, w = _instance(7)
    fixed, t = [0, 3], 30.0
    res = mclp(cost, 0, t, w, fixed=fixed)
    today = float(w[cost[fixed].min(axis=0) <= t].sum())
    assert res.objective == pytest.approx(today)
    assert res.new.size == 0 and list(res.selected) == fixed
    assert res.marginal_gain["covered_weight"].iloc[0] == pytest.approx(today)


def test_identical_demand_columns_are_merged_not_lost() -> None:
    cost, w = _instance(11)
    dup_cost = np.hstack([cost, cost[:, :5]])
    dup_w = np.concatenate([w, w[:5]])
    t, p = 35.0, 2
    best = max(_cover_value(dup_cost, dup_w, s, t) for s in _subsets(cost.shape[0], p, []))
    res = mclp(dup_cost, p, t, dup_w)
    assert res.objective == pytest.approx(best)
    assert res.stats["demand_rows"] < dup_cost.shape[1]


def test_marginal_gain_orders_greedily_and_tracks_response_time() -> None:
    cost = np.array([[0.0, 10.0, 100.0, 100.0], [100.0, 100.0, 0.0, 5.0]])
    w = np.array([1.0, 1.0, 5.0, 5.0])
    res = mclp(cost, 2, 20.0, w)
    table = res.marginal_gain
    assert table["site"].iloc[1] == 1  # covers 10 people first
    assert table["newly_covered_weight"].tolist()[1:] == [10.0, 2.0]
    assert table["mean_response_s"].iloc[2] == pytest.approx((10.0 + 25.0) / 12.0)
    assert table["unreachable_weight"].iloc[0] == 12.0


def test_time_limit_reports_honest_gap() -> None:
    rng = np.random.default_rng(5)
    pts = rng.uniform(0, 1000, (150, 2))
    cost = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    res = p_median(cost, 6, time_limit_s=0.3)
    assert res.status in {"optimal", "feasible"}
    assert res.bound <= res.objective + 1e-6
    if res.status == "feasible":
        assert res.gap == pytest.approx((res.objective - res.bound) / res.objective)
    else:
        assert res.gap == 0.0


# ---------------------------------------------------------------- bad input


def test_p_larger_than_candidates() -> None:
    cost, w = _instance(0, unreachable=0.0)
    with pytest.raises(SitingError, match=r"p=12 new sites .* only 9 candidate"):
        p_median(cost, 12, w)
    with pytest.raises(SitingError, match=r"only 7 candidate"):
        mclp(cost, 8, 30.0, w, fixed=[0, 1])


def test_no_candidates() -> None:
    with pytest.raises(SitingError, match="no candidate sites"):
        mclp(np.zeros((0, 5)), 1, 30.0)


def test_unreachable_demand_is_reported_with_weight() -> None:
    cost = np.array([[0.0, 10.0, np.inf], [10.0, 0.0, np.inf]])
    w = np.array([1.0, 2.0, 7.0])
    with pytest.raises(SitingError, match=r"1 demand point\(s\) with total weight 7 \(70.00%"):
        p_median(cost, 1, w)
    with pytest.raises(SitingError, match="demand 2"):
        p_center(cost, 1, w)
    res = mclp(cost, 1, 5.0, w)
    assert any("weight 7" in note for note in res.notes)


def test_negative_and_bad_weights() -> None:
    cost, _ = _instance(0)
    w = np.ones(cost.shape[1])
    w[3] = -2.0
    with pytest.raises(SitingError, match="negative"):
        mclp(cost, 1, 30.0, w)
    with pytest.raises(SitingError, match="one weight per demand"):
        mclp(cost, 1, 30.0, np.ones(3))


def test_infeasible_lscp_names_uncoverable_demand() -> None:
    cost = np.array([[0.0, 10.0, 99.0, 5.0], [10.0, 0.0, 98.0, 5.0]])
    with pytest.raises(SitingError, match=r"no candidate reaches 1 demand point.*: 2"):
        lscp(cost, 20.0)
    with pytest.raises(SitingError, match=r"share=0\.9"):
        lscp(cost, 20.0, share=0.9)


def test_other_bad_parameters() -> None:
    cost, w = _instance(0)
    with pytest.raises(SitingError, match="NaN"):
        mclp(np.array([[np.nan, 1.0]]), 1, 30.0)
    with pytest.raises(SitingError, match="negative travel times"):
        mclp(np.array([[-1.0, 1.0]]), 1, 30.0)
    with pytest.raises(SitingError, match="threshold"):
        mclp(cost, 1, -5.0, w)
    with pytest.raises(SitingError, match="busy_fraction"):
        mexclp(cost, 1, 30.0, 1.0, w)
    with pytest.raises(SitingError, match="fixed site 99"):
        mclp(cost, 1, 30.0, w, fixed=[99])
    with pytest.raises(SitingError, match="whole number"):
        mclp(cost, 1.5, 30.0, w)  # type: ignore[arg-type]


# ---------------------------------------------------------------- OR-Library reader


def test_read_orlib_last_duplicate_wins(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text(" 4 5 2 \n 1 2 10 \n 2 3 4\n 3 4 1\n 2 1 3\n 1 4 0\n")
    cost, p = read_orlib_pmed(path)
    assert p == 2
    expected = np.array(
        [[0, 3, 1, 0], [3, 0, 4, 3], [1, 4, 0, 1], [0, 3, 1, 0]], dtype=float
    )  # edge 1-2 is 3 (last), 1-4 is a zero-cost edge
    np.testing.assert_array_equal(cost, expected)


def test_read_orlib_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError):
        read_orlib_pmed(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("3 2 1\n1 2 5\n")
    with pytest.raises(CorruptFileError, match="announces 2 edges"):
        read_orlib_pmed(bad)
    bad.write_text("3 1 1\n1 7 5\n")
    with pytest.raises(CorruptFileError, match=r"outside 1\.\.3"):
        read_orlib_pmed(bad)
    assert math.isinf(read_orlib_pmed(_write(tmp_path, "3 1 1\n1 2 5\n"))[0][0, 2])


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ok.txt"
    path.write_text(text)
    return path


def test_sparse_explicit_zero_means_same_place() -> None:
    # a post on the demand node itself: stored 0 s must count as covered, absent = too far
    cost = sp.csr_matrix(
        (np.array([0.0, 5.0]), (np.array([0, 1]), np.array([0, 1]))), shape=(2, 2)
    )
    res = mclp(cost, 1, 1.0, np.array([10.0, 1.0]))
    assert res.objective == 10.0 and list(res.selected) == [0]
    assert lscp(cost, 5.0).objective == 2


def test_p_median_needs_sites_in_every_component() -> None:
    # two groups of demand reachable only from their own candidates: one post cannot do both
    inf = np.inf
    cost = np.array(
        [[0.0, 5.0, inf, inf], [5.0, 0.0, inf, inf], [inf, inf, 0.0, 3.0], [inf, inf, 3.0, 0.0]]
    )
    with pytest.raises(SitingError, match="reaches every demand point"):
        p_median(cost, 1)
    res = p_median(cost, 2)
    assert res.objective == 0.0 + 5.0 + 0.0 + 3.0 and res.status == "optimal"
    with pytest.raises(SitingError, match="reaches every demand point"):
        p_center(cost, 1)
    assert p_center(cost, 2).objective == 5.0
