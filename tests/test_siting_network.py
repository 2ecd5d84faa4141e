"""Siting on a road network: inputs against networkx, the ``site`` CLI and notebook 02."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodispatch.errors import SitingError
from geodispatch.siting import mclp
from geodispatch.siting.inputs import build_siting_problem, candidate_grid, serves

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def regency():  # type: ignore[no-untyped-def]
    from geodispatch.synthetic import synthetic_regency

    return synthetic_regency()


def test_problem_aggregates_population_and_fixes_stations(regency) -> None:  # type: ignore[no-untyped-def]
    pop = regency.population
    prob = build_siting_problem(regency.network, pop, regency.stations, n_candidates=120)
    total = float(pop["population"].sum())
    assert prob.weight.sum() + prob.unsnapped_population == pytest.approx(total)
    spots = np.column_stack([prob.demand_snap.edge, prob.demand_snap.fraction])
    assert np.unique(spots, axis=0).shape[0] == prob.weight.size  # one row per spot on the road
    amb = [s for s in regency.stations if serves(s, "ambulance")]
    assert len(prob.fixed) == len(amb)
    assert all(prob.cand_kind[i] == "existing" for i in prob.fixed)
    sites = np.column_stack([prob.cand_snap.lon, prob.cand_snap.lat])
    assert np.unique(sites, axis=0).shape[0] == len(prob.cand_name)
    n_new = len(prob.cand_node) - len(prob.fixed)
    assert 60 <= n_new <= 120
    # p = 0 reproduces today's population coverage computed directly on the network
    today = mclp(prob.cost, 0, 900.0, prob.weight, fixed=prob.fixed)
    best = prob.times(prob.fixed, None)
    assert today.objective == pytest.approx(float(prob.weight[best.min(axis=0) <= 900.0].sum()))
    # one new post: the model's choice equals trying every candidate
    one = mclp(prob.cost, 1, 900.0, prob.weight, fixed=prob.fixed)
    # unbounded dense candidate times against the model's bounded sparse rows: a demand is
    # covered when today's posts or the candidate reach it
    every = prob.times(np.arange(len(prob.cand_node)), None)
    gains = []
    for i in range(len(prob.fixed), len(prob.cand_node)):
        nearest = np.minimum(best.min(axis=0), every[i])
        row = prob.cost.getrow(i)
        covered = best.min(axis=0) <= 900.0
        covered[row.indices[row.data <= 900.0]] = True
        np.testing.assert_array_equal(covered, nearest <= 900.0)
        gains.append(float(prob.weight[nearest <= 900.0].sum()))
    assert one.objective == pytest.approx(max(gains))


def test_candidate_grid_spreads_over_populated_nodes(regency) -> None:  # type: ignore[no-untyped-def]
    net = regency.network
    nodes = np.arange(0, net.n_nodes, 3)
    grid = candidate_grid(net, 50, nodes)
    assert 40 <= grid.size <= 50
    assert set(grid.tolist()) <= set(nodes.tolist())
    with pytest.raises(SitingError):
        candidate_grid(net, 0)


def test_problem_bad_inputs(regency) -> None:  # type: ignore[no-untyped-def]
    far = pd.DataFrame({"lon": [0.0], "lat": [0.0], "population": [10.0]})
    with pytest.raises(SitingError, match="within 1000 m"):
        build_siting_problem(regency.network, far, regency.stations)
    with pytest.raises(SitingError, match="columns lon, lat, population"):
        build_siting_problem(regency.network, far.drop(columns="population"))
    # a misspelt service matched no station, so the existing posts silently disappeared
    with pytest.raises(SitingError, match="unknown service 'ambulanse'"):
        build_siting_problem(regency.network, regency.population, regency.stations,
                             service="ambulanse")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geodispatch.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_site_cli_writes_outputs(tmp_path: Path) -> None:
    out = tmp_path / "site"
    done = _cli(
        "site", "synthetic", "--model", "mclp", "--new-posts", "2", "--minutes", "15",
        "--n-candidates", "150", "--out", str(out), cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    for name in ("sites.geojson", "marginal_gain.csv", "map.html", "map.png", "summary.json"):
        assert (out / name).stat().st_size > 0
    sites = json.loads((out / "sites.geojson").read_text())
    status = [f["properties"]["status"] for f in sites["features"]]
    assert status.count("new") == 2
    table = pd.read_csv(out / "marginal_gain.csv")
    assert list(table["step"]) == [0, 1, 2]
    assert (table["newly_covered_weight"].iloc[1:] >= 0).all()
    assert table["covered_share"].is_monotonic_increasing
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal" and summary["synthetic"] is True
    assert "existing" in done.stdout and "covered" in done.stdout


def test_site_cli_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    done = _cli("site", "synthetic", "--new-posts", "5000", "--out", str(tmp_path / "x"),
                cwd=tmp_path)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "candidate site(s) are available" in lines[0]
    assert not (tmp_path / "x").exists()
    from geodispatch.siting.run import run_siting

    with pytest.raises(SitingError, match="unknown model"):
        run_siting("synthetic", "nope", out=tmp_path / "y")
    with pytest.raises(SitingError, match="--minutes"):
        run_siting("synthetic", "mclp", minutes=-1, out=tmp_path / "y")
    assert not (tmp_path / "y").exists()


def test_candidates_from_file_and_from_region_stations(regency, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from geodispatch.siting.inputs import read_candidates

    net = regency.network
    picks = np.arange(10, net.n_nodes, net.n_nodes // 7)[:6]
    path = tmp_path / "sites.csv"
    pd.DataFrame(
        {"name": [f"lahan-{k}" for k in range(len(picks))], "lon": net.lon[picks],
         "lat": net.lat[picks]}
    ).to_csv(path, index=False)
    cands = read_candidates(str(path))
    prob = build_siting_problem(net, regency.population, regency.stations, candidates=cands)
    new = [i for i in range(len(prob.cand_node)) if prob.cand_kind[i] == "candidate"]
    assert [prob.cand_name[i] for i in new] == [f"lahan-{k}" for k in range(len(picks))]
    np.testing.assert_array_equal(prob.cand_node[new], picks)
    # fire posts: existing damkar posts are fixed, the other public buildings are candidates
    fire = build_siting_problem(
        net, regency.population, regency.stations, service="damkar", candidates="stations",
        extra_stations=regency.stations,
    )
    damkar = [s for s in regency.stations if serves(s, "damkar")]
    assert len(fire.fixed) == len(damkar)
    assert len(fire.cand_node) > len(fire.fixed)
    # a building far from every road is reported, not dropped silently
    from geodispatch.regions import Station

    far = Station(id="puskesmas-laut", type="puskesmas", lon=0.0, lat=0.0, source="test")
    fire_far = build_siting_problem(
        net, regency.population, regency.stations, service="damkar", candidates="stations",
        extra_stations=[*regency.stations, far],
    )
    assert len(fire_far.cand_node) == len(fire.cand_node)
    assert any("puskesmas-laut" in note for note in fire_far.notes)
    res = mclp(fire.cost, 2, 900.0, fire.weight, fixed=fire.fixed)
    assert res.status == "optimal" and res.new.size == 2


def test_map_numbers_new_posts_in_marginal_gain_order(tmp_path: Path) -> None:
    """map.html's "NEW #k" is the post of step k in marginal_gain.csv and sites.geojson.

    p-median picks its posts without a threshold, so its own order (by travel time) differs
    from the table's (by people newly covered); the maps must follow the written table.
    """
    import re

    from geodispatch.siting.run import run_siting

    out = tmp_path / "pm"
    run = run_siting("synthetic:3000", model="pmedian", new_posts=3, n_candidates=60,
                     time_limit_s=30, out=out)
    table = pd.read_csv(out / "marginal_gain.csv")
    by_step = dict(zip(table["step"].iloc[1:].astype(int), table["name"].iloc[1:], strict=True))
    html = (out / "map.html").read_text()
    labels = {int(k): name.strip() for k, name in re.findall(r"NEW #(\d+): ([^\"'<\\]+)", html)}
    assert labels == by_step
    sites = json.loads((out / "sites.geojson").read_text())["features"]
    steps = {f["properties"]["name"]: f["properties"]["step"] for f in sites
             if f["properties"]["status"] == "new"}
    assert {steps[name]: name for name in steps} == by_step
    # the case that matters: the model's own order is not the table's here
    assert [run.problem.cand_name[int(i)] for i in run.result.new] != [by_step[k] for k in (1, 2, 3)]


def test_summary_json_has_null_not_nan_for_a_missing_bound(regency, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A result without a proven bound (status "heuristic") still writes valid JSON (null)."""
    import dataclasses

    from geodispatch.siting.files import write_siting_outputs

    prob = build_siting_problem(regency.network, regency.population, regency.stations,
                                n_candidates=40)
    res = mclp(prob.cost, 1, 900.0, prob.weight, fixed=prob.fixed)
    res = dataclasses.replace(res, bound=float("nan"), gap=float("nan"), status="heuristic")
    write_siting_outputs(prob, res, tmp_path / "out", 900.0, "no bound")

    def reject(name: str) -> None:
        raise AssertionError(f"summary.json contains {name}")

    summary = json.loads((tmp_path / "out" / "summary.json").read_text(), parse_constant=reject)
    assert summary["bound"] is None and summary["gap"] is None
    assert summary["objective"] == pytest.approx(res.objective)


def test_siting_baseline_equals_the_coverage_report(tmp_path: Path) -> None:
    """Step 0 of marginal_gain.csv covers exactly the people the coverage report covers.

    Both time every person the same way (snapped part-way along their road, stations too); the
    siting baseline used to tie people to their nearest road node and said 156,590 where the
    coverage report said 155,923 for the same ambulance posts at 15 minutes.
    """
    from geodispatch.coverage import run_coverage
    from geodispatch.scenario import load_scenario
    from geodispatch.siting.run import run_siting

    scenario = load_scenario("synthetic")
    report = run_coverage(scenario, minutes=[10, 15], station_types="ambulance")
    pop = report.summary["services"]["ambulance"]["population"]
    for minutes in (10, 15):
        run = run_siting("synthetic", "mclp", 1, minutes, n_candidates=60, out=tmp_path / f"s{minutes}")
        table = pd.read_csv(tmp_path / f"s{minutes}" / "marginal_gain.csv")
        assert round(float(table["covered_weight"].iloc[0]), 1) == pop["covered"][f"{minutes:g}"]
        assert round(float(table["covered_share"].iloc[0]), 4) == pop["share"][f"{minutes:g}"]
        assert run.problem.total_population == pytest.approx(pop["population"])
    # people far from every road count in the total and are never covered, in both
    far = pd.concat([scenario.population, pd.DataFrame({"lon": [119.0], "lat": [-7.0], "population": [500.0]})])
    report_far = run_coverage(scenario, minutes=[15], station_types="ambulance", population=far)
    prob = build_siting_problem(scenario.network, far, scenario.stations, n_candidates=40)
    res = mclp(prob.cost, 0, 900.0, prob.weight, fixed=prob.fixed)
    from geodispatch.siting.gains import network_marginal_gain

    table, _ = network_marginal_gain(prob, res, 900.0)
    far_pop = report_far.summary["services"]["ambulance"]["population"]
    assert round(float(table["covered_weight"].iloc[0]), 1) == far_pop["covered"]["15"]
    assert round(float(table["covered_share"].iloc[0]), 4) == far_pop["share"]["15"]
    assert float(table["unreachable_weight"].iloc[0]) >= 500.0


def test_candidates_on_an_existing_post_or_an_earlier_candidate_are_merged_and_reported(regency) -> None:  # type: ignore[no-untyped-def]
    """A candidate on the road spot of an existing post (or of an earlier candidate) adds nothing:
    it is merged with the earlier site and named in the notes, never a second column of equal times."""
    net = regency.network
    post = next(s for s in regency.stations if serves(s, "ambulance"))
    spare = int(np.arange(10, net.n_nodes, net.n_nodes // 7)[2])
    cands = pd.DataFrame({
        "name": ["di-pos", "lahan-a", "lahan-a-lagi", "lahan-b"],
        "lon": [post.lon, net.lon[spare], net.lon[spare], net.lon[spare + 1]],
        "lat": [post.lat, net.lat[spare], net.lat[spare], net.lat[spare + 1]],
    })
    prob = build_siting_problem(net, regency.population, regency.stations, candidates=cands)
    new = [prob.cand_name[i] for i in range(len(prob.cand_name)) if prob.cand_kind[i] == "candidate"]
    assert new == ["lahan-a", "lahan-b"]
    note = next(n for n in prob.notes if "same road spot" in n)
    assert "2 candidate site(s)" in note and "di-pos" in note and "lahan-a-lagi" in note


def test_grid_candidates_are_named_by_the_desa_they_lie_in(regency) -> None:  # type: ignore[no-untyped-def]
    """A proposed site reads as a place ("Desa X (grid-12)"), checked point-in-polygon one by one."""
    from shapely.geometry import Point

    prob = build_siting_problem(regency.network, regency.population, regency.stations, n_candidates=60,
                                areas=regency.areas)
    grid = [i for i, kind in enumerate(prob.cand_kind) if kind == "candidate"]
    named = 0
    for i in grid:
        node = prob.cand_node[i]
        here = Point(regency.network.lon[node], regency.network.lat[node])
        areas = zip(regency.areas["name"], regency.areas.geometry, strict=True)
        holders = [str(n) for n, g in areas if g.contains(here)]
        label = prob.cand_name[i]
        if holders:
            assert label.startswith(f"{holders[0]} (grid-") and label.endswith(")"), label
            named += 1
        else:
            assert label.startswith("grid-"), label
    assert named >= len(grid) // 2  # the synthetic desa cover the populated land
    bare = build_siting_problem(regency.network, regency.population, regency.stations, n_candidates=60)
    assert all(bare.cand_name[i].startswith("grid-") for i in grid)
