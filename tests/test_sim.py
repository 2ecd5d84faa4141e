"""The simulator: exact ETAs (recommend, networkx), unit and call invariants, Erlang C, move-up,
bad input, picklable replications."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_assign import _reference_etas, at, line_network, random_nets

from geodispatch.assign import Incident, Unit, recommend
from geodispatch.assign.eta import snap_incident, snap_units
from geodispatch.errors import InputError, SimulationError
from geodispatch.network import RoadNetwork
from geodispatch.scenario import Scenario, load_scenario
from geodispatch.sim import (
    CallTable,
    Hospital,
    build_model,
    calibrate,
    call_source,
    ci95,
    read_calls,
    simulate,
    simulate_replication,
)
from geodispatch.sim.calibration import DEFAULT_CALIBRATION
from geodispatch.sim.times import KeyPoints, Points

NO_DELAY = {"dispatch_delay_s": 0.0, "turnout_s": 0.0}


@pytest.fixture(scope="module")
def synthetic() -> Scenario:
    return load_scenario("synthetic")


def _table(rows: list[tuple[str, float, str, int, float, float]], **extra: object) -> CallTable:
    ids, times, types, prios, lons, lats = zip(*rows, strict=True)
    return CallTable(id=ids, time_s=times, type=types, priority=prios, lon=lons, lat=lats, **extra)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- exact times
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=random_nets(), data=st.data())
def test_key_point_times_equal_networkx(net: RoadNetwork, data: st.DataObject) -> None:
    """KeyPoints.to_points / from_points against networkx on edges split at the points."""
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    k = int(rng.integers(1, 4))
    e_key = rng.integers(0, net.n_edges, size=k)
    f_key = rng.choice([0.0, 0.3, 0.5, 1.0], size=k)
    lon_k = net.lon[net.edge_u[e_key]] * (1 - f_key) + net.lon[net.edge_v[e_key]] * f_key
    lat_k = net.lat[net.edge_u[e_key]] * (1 - f_key) + net.lat[net.edge_v[e_key]] * f_key
    e_c = int(rng.integers(0, net.n_edges))
    f_c = float(rng.choice([0.0, 0.25, 0.7, 1.0]))
    lon_c = float(net.lon[net.edge_u[e_c]] * (1 - f_c) + net.lon[net.edge_v[e_c]] * f_c)
    lat_c = float(net.lat[net.edge_u[e_c]] * (1 - f_c) + net.lat[net.edge_v[e_c]] * f_c)
    ksnap = net.snap(lon_k, lat_k)
    keys = KeyPoints(net, Points.from_snap(ksnap), ksnap)
    call = Points.from_snap(net.snap([lon_c], [lat_c]))
    # key point -> call: the key points play the units, the call the incident
    ref_to = _reference_etas(net, snap_incident(net, lon_c, lat_c), snap_units(net, lon_k, lat_k))
    np.testing.assert_allclose(keys.to_points(call)[:, 0], ref_to, rtol=1e-9, atol=1e-6)
    # call -> key point i: the call plays the unit, key point i the incident
    back, _ = keys.from_points(call)
    for i in range(k):
        ref = _reference_etas(net, snap_incident(net, lon_k[i], lat_k[i]), snap_units(net, [lon_c], [lat_c]))
        assert back[0, i] == pytest.approx(ref[0], rel=1e-9, abs=1e-6)


def test_lone_call_is_answered_in_the_recommended_eta(synthetic: Scenario) -> None:
    """Zero delays, one call at a time (a day apart): response = recommend's fastest ETA."""
    pop = synthetic.population.sample(12, random_state=3)
    kinds = ["medis", "kebakaran", "kecelakaan", "medis"] * 3
    rows = [
        (f"c{i}", i * 86400.0, kinds[i], 1, float(lon), float(lat))
        for i, (lon, lat) in enumerate(zip(pop["lon"], pop["lat"], strict=True))
    ]
    res = simulate(synthetic, _table(rows), **NO_DELAY)
    rep = res.replications[0]
    from geodispatch.assign import units_from_stations

    fleet = units_from_stations(synthetic.stations)
    for j, (cid, _, kind, prio, lon, lat) in enumerate(rows):
        rec = recommend(synthetic.network, fleet, Incident(cid, kind, prio, lon, lat))
        assert rep.response_s[j] == pytest.approx(min(rec.etas_s), rel=1e-12, abs=1e-6), cid
        # every unit sent arrives in the ETA recommend gives for the units it chooses (ties at
        # one station may swap identical units)
        arrivals = np.sort(rep.a_arrived_s[rep.a_call == j] - j * 86400.0)
        np.testing.assert_allclose(arrivals, np.sort(rec.etas_s), rtol=1e-12, atol=1e-6)


def test_unit_driving_home_is_sent_from_where_it_is() -> None:
    """On a line, a unit driving home is redirected: straight on to a call ahead on its road,
    else via its next junction."""
    net = line_network(6, spacing_m=500.0, speed_ms=10.0)  # nodes every 500 m, 50 s per edge
    station = at(net, 0, 100.0)  # 100 m east of node 0
    sc = Scenario("line", net)
    fleet = [Unit("a1", "ambulance", *station, home_station="s", home_lon=station[0], home_lat=station[1])]
    far = at(net, 5)  # 2500 m
    scene = {"on_scene_s": [300.0, 300.0], "transport": [0, 0]}

    def second_arrival(t2: float, where: tuple[float, float]) -> tuple[float, list[int]]:
        calls = _table([("c1", 0.0, "medis", 1, *far), ("c2", t2, "medis", 1, *where)], **scene)
        rep = simulate(sc, calls, units=fleet, hospitals=[], **NO_DELAY).replications[0]
        assert rep.first_arrival_s[0] == pytest.approx(240.0)  # 2400 m at 10 m/s
        return float(rep.first_arrival_s[1]), rep.a_from.tolist()

    # free at node 5 at 540 s, home at 780 s. A call at 1750 m after it is home: from the post
    arrival, sent = second_arrival(1000.0, at(net, 3, 250.0))
    assert arrival == pytest.approx(1000.0 + 165.0) and sent == [0, 0]
    # at 595 s it is at 1950 m heading west: a call at 1750 m is straight ahead (20 s)
    arrival, sent = second_arrival(595.0, at(net, 3, 250.0))
    assert arrival == pytest.approx(595.0 + 20.0) and sent == [0, 1]
    # a call behind it at 2250 m: on to node 3 (45 s), then back east 750 m (75 s)
    arrival, _ = second_arrival(595.0, at(net, 4, 250.0))
    assert arrival == pytest.approx(595.0 + 45.0 + 75.0)
    # at 545 s it is at 2450 m on its first leg (towards node 4, 45 s): a call at 2250 m is ahead
    arrival, _ = second_arrival(545.0, at(net, 4, 250.0))
    assert arrival == pytest.approx(545.0 + 20.0)


def test_node_table_answers_as_the_bounded_searches(synthetic: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small networks keep whole searches per node (engine.NODE_TABLE_BYTES); the answers must be
    exactly those of the bounded search per decision."""
    from geodispatch.sim import engine

    used = []
    exact = engine._Run._moving_exact

    def counted(self: object, *args: object) -> None:
        used.append(1)
        exact(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine._Run, "_moving_exact", counted)
    runs = {}
    for budget in (engine.NODE_TABLE_BYTES, 0):
        monkeypatch.setattr(engine, "NODE_TABLE_BYTES", budget)
        runs[budget] = simulate(synthetic, days=2, calls_per_day=200, move_up="dmexclp", seed=3).replications[0]
    assert len(used) > 5  # units redirected on their way home, decided with the table
    fast, slow = runs.values()
    for name in ("first_arrival_s", "first_dispatch_s", "a_unit", "a_from", "a_arrived_s", "a_free_s", "busy_s"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
    np.testing.assert_array_equal(fast.relocations, slow.relocations)


# ---------------------------------------------------------------------------- invariants
@pytest.fixture(scope="module")
def busy_run(synthetic: Scenario) -> object:
    return simulate(synthetic, days=1.5, calls_per_day=300, move_up="dmexclp", replications=2, seed=5)


def test_no_unit_works_two_calls_and_every_call_is_served_once(busy_run: object) -> None:
    res = busy_run
    for rep in res.replications:  # type: ignore[attr-defined]
        assert len(rep.calls) > 350
        for k in range(res.model.n_units):  # type: ignore[attr-defined]
            mine = rep.a_unit == k
            start, end = rep.a_dispatched_s[mine], rep.a_free_s[mine]
            order = np.argsort(start)
            assert (start[order][1:] >= end[order][:-1]).all(), "a unit worked two calls at once"
            assert (end >= start).all()
        # every slot the SOP asks for is filled exactly once or reported as never sent
        need = np.asarray([sum(r.count for r in res.model.sop[t]) for t in rep.calls.type])  # type: ignore[attr-defined]
        got = np.bincount(rep.a_call, minlength=len(rep.calls))
        np.testing.assert_array_equal(got + rep.unserved, need)
        served = got > 0
        assert np.isfinite(rep.first_arrival_s[served]).all()
        assert np.isnan(rep.first_arrival_s[~served]).all()
        assert (rep.response_s[served] > 0).all()
        assert (rep.queued_s[served] >= 0).all()


def test_time_is_conserved_per_unit(busy_run: object) -> None:
    for rep in busy_run.replications:  # type: ignore[attr-defined]
        total = rep.busy_s + rep.driving_s + rep.idle_s
        np.testing.assert_allclose(total, rep.horizon_s, rtol=1e-12, atol=1e-6)
        busy = np.bincount(rep.a_unit, weights=rep.a_free_s - rep.a_dispatched_s, minlength=len(total))
        np.testing.assert_allclose(rep.busy_s, busy, rtol=1e-9, atol=1e-6)
        assert rep.horizon_s >= 2 * 86400.0


def test_move_up_never_sends_a_busy_unit(busy_run: object) -> None:
    res = busy_run
    moved = 0
    for rep in res.replications:  # type: ignore[attr-defined]
        for t, k, src, dst in rep.relocations.tolist():
            k = int(k)
            mine = rep.a_unit == k
            assert src != dst
            # it moves at the moment it becomes free, and is never inside a call at that time
            assert np.isclose(rep.a_free_s[mine], t).any()
            inside = (rep.a_dispatched_s[mine] < t - 1e-9) & (rep.a_free_s[mine] > t + 1e-9)
            assert not inside.any()
            assert int(dst) in res.model.posts[res.model.unit_type[k]].tolist()  # type: ignore[attr-defined]
            moved += 1
    assert moved > 0


def test_nothing_moves_without_calls(synthetic: Scenario) -> None:
    res = simulate(synthetic, days=1, calls_per_day=0, move_up="dmexclp", replications=2)
    for rep in res.replications:
        assert len(rep.calls) == 0 and len(rep.relocations) == 0
        np.testing.assert_allclose(rep.idle_s, 86400.0)
        assert (rep.busy_s == 0).all() and (rep.driving_s == 0).all()


def test_dmexclp_choice_is_the_brute_force_best(synthetic: Scenario) -> None:
    """The post chosen maximises sum_i d_i cover_si (1-q) q^n_i, recomputed independently."""
    from geodispatch.sim.engine import IDLE, _Run
    from geodispatch.sim.model import prepare_calls

    model = build_model(synthetic, move_up="dmexclp")
    prep = prepare_calls(model, _table([("c", 0.0, "medis", 1, float(synthetic.population.lon[0]),
                                         float(synthetic.population.lat[0]))]))  # fmt: skip
    run = _Run(model, prep, np.random.default_rng(0))
    amb = [k for k in range(model.n_units) if model.unit_type[k] == "ambulance"]
    rng = np.random.default_rng(1)
    posts = model.posts["ambulance"]
    for trial in range(5):
        busy = rng.choice(amb, size=len(amb) // 2, replace=False)
        run.state[:] = IDLE
        run.state[busy] = 2
        k = int(busy[0])
        choice = run.dmexclp(k, ("call", 0))
        q = model.busy_fraction["ambulance"]
        cover = model.cover["ambulance"]
        n = np.zeros(cover.shape[1])
        for other in amb:
            if other != k and run.state[other] == IDLE:
                n += cover[list(posts).index(int(run.base[other]))]
        # only posts it can drive to from where it is (the island's post is not)
        reach = np.isfinite(prep.times[model.type_view["ambulance"]].call_to_key[0, posts])
        gains = [float((model.demand * cover[r] * (1 - q) * q**n).sum()) if reach[r] else -1.0
                 for r in range(len(posts))]  # fmt: skip
        assert gains[list(posts).index(choice)] == pytest.approx(max(gains), rel=1e-9), trial


# ---------------------------------------------------------------------------- queueing theory
def _erlang_c(c: int, lam: float, mu: float) -> tuple[float, float]:
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait, p_wait / (c * mu - lam)


def test_erlang_c_with_zero_travel() -> None:
    """One station, c units, Poisson calls at the station, exponential service: M/M/c."""
    net = line_network(5)
    station = at(net, 2, 200.0)
    c, mean_service, lam = 2, 600.0, 1.0 / 500.0  # rho = 0.6
    fleet = [
        Unit(f"a{i}", "ambulance", *station, home_station="s", home_lon=station[0], home_lat=station[1])
        for i in range(c)
    ]
    sc = Scenario("mmc", net)
    p_wait, waits = [], []
    for r in range(8):
        rng = np.random.default_rng(100 + r)
        n = 2500
        times = np.cumsum(rng.exponential(1 / lam, size=n))
        calls = CallTable(
            id=[f"c{i}" for i in range(n)], time_s=times, type=["medis"] * n, priority=[1] * n,
            lon=[station[0]] * n, lat=[station[1]] * n, on_scene_s=rng.exponential(mean_service, size=n),
            transport=np.zeros(n, dtype=np.int8),
        )  # fmt: skip
        rep = simulate(sc, calls, units=fleet, hospitals=[], **NO_DELAY).replications[0]
        np.testing.assert_allclose(rep.first_arrival_s, rep.first_dispatch_s, rtol=0, atol=1e-9)  # no travel
        keep = slice(n // 10, None)  # warm-up: the system starts empty
        q = rep.queued_s[keep]
        p_wait.append(float((q > 1e-9).mean()))
        waits.append(float(q.mean()))
    exact_p, exact_w = _erlang_c(c, lam, 1 / mean_service)
    for name, values, exact in (("P(wait)", p_wait, exact_p), ("mean wait", waits, exact_w)):
        ci = ci95(values)["ci95"]
        assert ci[0] <= exact <= ci[1], f"{name}: Erlang C {exact:.4f} outside the 95% CI {ci}"


# ---------------------------------------------------------------------------- replications
def test_replication_as_a_task_equals_the_loop(synthetic: Scenario) -> None:
    res = simulate(synthetic, days=1, calls_per_day=150, replications=2, seed=11, move_up="dmexclp")
    model = pickle.loads(pickle.dumps(res.model))
    source = pickle.loads(pickle.dumps(call_source(model, synthetic, days=1, calls_per_day=150)))
    for r, rep in enumerate(res.replications):
        again = simulate_replication(model, source, 11, r)
        np.testing.assert_array_equal(again.calls.time_s, rep.calls.time_s)
        np.testing.assert_array_equal(again.first_arrival_s, rep.first_arrival_s)
        np.testing.assert_array_equal(again.a_unit, rep.a_unit)
    a, b = res.replications
    assert len(a.calls) != len(b.calls) or not np.array_equal(a.calls.time_s, b.calls.time_s)


def test_summary_has_confidence_intervals(busy_run: object) -> None:
    s = busy_run.summary()  # type: ignore[attr-defined]
    f = s["figures"]["within_target"]
    assert f["n"] == 2 and f["ci95"][0] <= f["mean"] <= f["ci95"][1]
    assert set(s["by_priority"]) <= {"1", "2", "3"} and "medis" in s["by_type"]
    assert all(0 <= u["mean"] <= 1 for u in s["utilisation"].values())
    assert ci95([0.5])["ci95"] is None and ci95([1.0, 1.0])["ci95"] == [1.0, 1.0]


# ---------------------------------------------------------------------------- bad input
def test_call_outside_the_network_is_refused(synthetic: Scenario) -> None:
    calls = _table([("ok", 0.0, "medis", 1, float(synthetic.population.lon[0]), float(synthetic.population.lat[0])),
                    ("far", 10.0, "medis", 1, 100.0, 0.0)])  # fmt: skip
    with pytest.raises(SimulationError, match=r"1 call\(s\) farther than 1000 m.*far"):
        simulate(synthetic, calls)


def test_unknown_incident_type_is_refused(synthetic: Scenario) -> None:
    lon, lat = float(synthetic.population.lon[0]), float(synthetic.population.lat[0])
    with pytest.raises(SimulationError, match=r"unknown incident type.*'gempa'"):
        simulate(synthetic, _table([("a", 0.0, "gempa", 1, lon, lat)]))


def test_calls_file_errors(tmp_path: Path) -> None:
    p = tmp_path / "calls.csv"
    p.write_text("id,time,type,priority,lon,lat\na,60,medis,1,119.9,-5.5\nb,30,medis,1,119.9,-5.5\n")
    with pytest.raises(InputError, match=r"calls.csv: times out of order at call b"):
        read_calls(p)
    p.write_text("id,time,type,priority,lon,lat\na,60,medis,4,119.9,-5.5\n")
    with pytest.raises(InputError, match="priority"):
        read_calls(p)
    p.write_text("id,time,type,lon,lat\na,60,medis,119.9,-5.5\n")
    with pytest.raises(InputError, match="missing column"):
        read_calls(p)
    p.write_text("id,time,type,priority,lon,lat\na,yesterday,medis,1,119.9,-5.5\n")
    with pytest.raises(InputError, match="ISO 8601"):
        read_calls(p)
    p.write_text(
        "id,time,type,priority,lon,lat,on_scene_min,transport\n"
        "a,2026-01-05T08:00:00+07:00,medis,1,119.9,-5.5,20,yes\nb,2026-01-05T09:30:00+07:00,medis,2,119.9,-5.5,,\n"
    )
    calls = read_calls(p)
    assert calls.time_s.tolist() == [3600.0, 9000.0]  # from midnight UTC of the first call's day
    assert calls.on_scene_s[0] == 1200.0 and np.isnan(calls.on_scene_s[1])
    assert calls.transport.tolist() == [1, -1]


def test_hospital_unreachable_is_counted_not_dropped() -> None:
    net = line_network(11, island=True)
    station = at(net, 0)
    fleet = [Unit("a1", "ambulance", *station, home_station="s", home_lon=station[0], home_lat=station[1])]
    island_hospital = Hospital("rs-pulau", "RS Pulau", float(net.lon[11]), float(net.lat[11]))
    calls = _table([("c1", 0.0, "medis", 1, *at(net, 5)), ("c2", 9000.0, "medis", 1, *at(net, 7))],
                   transport=[1, 0])  # fmt: skip
    res = simulate(Scenario("line", net), calls, units=fleet, hospitals=[island_hospital], **NO_DELAY)
    rep = res.replications[0]
    assert rep.no_hospital.tolist() == [True, False]
    assert np.isfinite(rep.first_arrival_s).all()
    assert any("no reachable suitable hospital" in n for n in res.notes)


def test_call_no_unit_can_reach_is_reported() -> None:
    net = line_network(11, island=True)
    station = at(net, 0)
    fleet = [Unit("a1", "ambulance", *station, home_station="s", home_lon=station[0], home_lat=station[1])]
    calls = _table([("land", 0.0, "medis", 1, *at(net, 5)), ("isle", 10.0, "medis", 1, float(net.lon[12]),
                    float(net.lat[12]))], transport=[0, 0])  # fmt: skip
    res = simulate(Scenario("line", net), calls, units=fleet, hospitals=[], **NO_DELAY)
    rep = res.replications[0]
    assert rep.unserved.tolist() == [0, 1] and np.isnan(rep.response_s[1])
    assert res.summary()["figures"]["within_target"]["mean"] == pytest.approx(0.5)
    assert any("lacked units" in n for n in res.notes)


def test_bad_options(synthetic: Scenario) -> None:
    with pytest.raises(SimulationError, match="unknown policy"):
        simulate(synthetic, days=1, policy="nearest")
    with pytest.raises(SimulationError, match="move-up"):
        simulate(synthetic, days=1, move_up="always")
    with pytest.raises(SimulationError, match="replications"):
        simulate(synthetic, days=1, replications=0)
    with pytest.raises(SimulationError, match="either a calls table or days"):
        simulate(synthetic)
    with pytest.raises(SimulationError, match="turnout"):
        simulate(synthetic, days=1, turnout_s=-5.0)


# ---------------------------------------------------------------------------- calibration
def test_calibration_from_the_sf_week_matches_the_built_in_figures() -> None:
    from conftest import shared_path

    cal = calibrate(shared_path("incidents/sf_fire_calls_2016-12-31_to_2017-01-07.csv"))
    d = DEFAULT_CALIBRATION
    for name, a, b in (
        ("dispatch delay", cal.dispatch_delay_s, d.dispatch_delay_s),
        ("ambulance on scene", cal.onscene_s["ambulance"], d.onscene_s["ambulance"]),
        ("other on scene", cal.onscene_s["other"], d.onscene_s["other"]),
        ("ambulance turnout", cal.turnout_s["ambulance"], d.turnout_s["ambulance"]),
        ("other turnout", cal.turnout_s["other"], d.turnout_s["other"]),
        ("handover", cal.handover_s, d.handover_s),
    ):
        assert np.median(a) == pytest.approx(np.median(b), rel=0.06), name
    assert cal.transport_share == pytest.approx(d.transport_share, abs=0.01)
    for kind, share in d.type_share.items():
        assert cal.type_share[kind] == pytest.approx(share, abs=0.01), kind
    assert cal.calls_per_person_day == pytest.approx(d.calls_per_person_day, rel=0.05)
    assert "3,5" in cal.source or "calls kept" in cal.source


def test_calibration_file_errors(tmp_path: Path) -> None:
    from geodispatch.errors import CorruptFileError, SourceNotFoundError

    with pytest.raises(SourceNotFoundError):
        calibrate(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(CorruptFileError, match="DataSF"):
        calibrate(bad)


# ---------------------------------------------------------------------------- CLI
def _cli(*args: str, cwd: Path) -> object:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "geodispatch", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900
    )


def test_cli_simulate_writes_every_output(tmp_path: Path) -> None:
    import json

    import pandas as pd

    out = tmp_path / "sim"
    proc = _cli(
        "simulate", "synthetic", "--days", "1", "--calls-per-day", "120", "--replications", "2",
        "--policy", "optimal", "--policy", "closest", "--move-up", "dmexclp", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr  # type: ignore[attr-defined]
    assert "SYNTHETIC" in proc.stdout and "closest" in proc.stdout  # type: ignore[attr-defined]
    for name in ("calls.csv", "assignments.csv", "summary.json", "map.html", "map.png", "response_times.png"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert [r["policy"] for r in summary["comparison"]] == ["optimal", "closest"]
    assert summary["comparison"][0]["within_target"]["ci95"] is not None
    calls = pd.read_csv(out / "calls.csv")
    assert set(calls["replication"]) == {0, 1} and set(calls["policy"]) == {"optimal", "closest"}
    assignments = pd.read_csv(out / "assignments.csv")
    assert {"call_id", "unit_id", "replication", "dispatched_at_s", "arrived_at_s", "free_at_s"} <= set(assignments)


def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    calls = tmp_path / "calls.csv"
    calls.write_text("id,time,type,priority,lon,lat\na,60,medis,1,119.9,-5.5\nb,30,medis,1,119.9,-5.5\n")
    out = tmp_path / "never"
    proc = _cli("simulate", "synthetic", "--calls", str(calls), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2  # type: ignore[attr-defined]
    assert proc.stderr.strip().count("\n") == 0 and "times out of order" in proc.stderr  # type: ignore[attr-defined]
    assert not out.exists()
    proc = _cli("simulate", "synthetic", "--days", "1", "--policy", "nearest", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2 and "unknown policy" in proc.stderr  # type: ignore[attr-defined]
    assert not out.exists()


# ---------------------------------------------------------------------------- boats and unit types
def _island_people(scenario: Scenario, unit_type: str) -> np.ndarray:
    """Population rows a ``unit_type`` reaches more slowly than the whole network's boats would
    take it (the synthetic island, which the speedboat ambulance serves and a truck may not ride)."""
    net, view = scenario.network, scenario.network.for_unit_type(unit_type)
    pop = scenario.population
    node, _ = net.nearest_nodes(pop["lon"], pop["lat"])
    start, _ = net.nearest_nodes([scenario.stations[0].lon], [scenario.stations[0].lat])
    return np.flatnonzero(view.travel_times(start)[0, node] > net.travel_times(start)[0, node] + 60.0)


def test_a_fleet_the_speedboat_does_not_carry_runs_as_on_its_own_view(synthetic: Scenario) -> None:
    """Damkar trucks only: the simulation on the whole network equals, call for call, the one on
    ``network.for_unit_type("damkar")`` (which has no speedboat left for them)."""
    import dataclasses

    from geodispatch.assign import units_from_stations

    fleet = [u for u in units_from_stations(synthetic.stations) if u.type == "damkar"]
    island = _island_people(synthetic, "damkar")
    assert len(island) > 20  # the speedboat would be their fastest way
    rng = np.random.default_rng(2)
    rows = np.concatenate([rng.choice(island, 8, replace=False), rng.choice(len(synthetic.population), 16)])
    pop = synthetic.population.iloc[rows]
    # a fire every 40 minutes: trucks are often driving home when the next one comes
    calls = _table([(f"k{i}", i * 2400.0, "kebakaran", 1, float(lon), float(lat))
                    for i, (lon, lat) in enumerate(zip(pop["lon"], pop["lat"], strict=True))])  # fmt: skip
    view = dataclasses.replace(synthetic, network=synthetic.network.for_unit_type("damkar"))
    for policy in ("optimal", "coverage_aware"):
        whole, own = (simulate(s, calls, units=fleet, policy=policy, seed=3).replications[0] for s in (synthetic, view))
        assert np.isfinite(whole.first_arrival_s[:8]).all() and (whole.a_from == 1).any()
        for name in ("first_arrival_s", "first_dispatch_s", "cleared_s", "unserved", "a_unit", "a_from",
                     "a_arrived_s", "a_free_s", "a_next_key", "busy_s", "driving_s"):  # fmt: skip
            np.testing.assert_array_equal(getattr(whole, name), getattr(own, name), err_msg=f"{policy} {name}")


def test_the_ambulance_takes_the_speedboat_and_the_truck_the_ferry(synthetic: Scenario) -> None:
    """A fire on the island: the ambulance crosses by speedboat (and takes the patient back by
    it), the Damkar trucks by the slower vehicle ferry; every time as the dispatcher's ETA."""
    net = synthetic.network
    station = next(s for s in synthetic.stations if s.id == "damkar-01")
    home = {"home_station": station.id, "home_lon": station.lon, "home_lat": station.lat}
    fleet = [Unit("amb", "ambulance", station.lon, station.lat, **home)]  # type: ignore[arg-type]
    fleet += [Unit(f"dmk{i}", "damkar", station.lon, station.lat, **home) for i in range(2)]  # type: ignore[arg-type]
    rsud = next(s for s in synthetic.stations if s.type == "rsud")
    place = synthetic.population.iloc[int(_island_people(synthetic, "damkar")[0])]
    lon, lat = float(place["lon"]), float(place["lat"])
    calls = _table([("api", 0.0, "kebakaran", 1, lon, lat)], on_scene_s=[600.0], transport=[1])
    res = simulate(synthetic, calls, units=fleet, hospitals=[Hospital(rsud.id, rsud.id, rsud.lon, rsud.lat)],
                   **NO_DELAY)  # fmt: skip
    rep = res.replications[0]
    arrived = dict(zip((fleet[k].id for k in rep.a_unit), rep.a_arrived_s.tolist(), strict=True))
    rec = recommend(net, fleet, Incident("api", "kebakaran", 1, lon, lat))
    eta = dict(zip(rec.unit_ids, rec.etas_s, strict=True))
    assert set(arrived) == set(eta) == {"amb", "dmk0", "dmk1"}
    for uid in arrived:
        assert arrived[uid] == pytest.approx(eta[uid], rel=1e-12, abs=1e-6), uid
    assert arrived["dmk0"] > arrived["amb"] + 600.0  # the ferry, not the speedboat
    assert "Speedboat" in rec.reasons["amb"] and "Speedboat" not in rec.reasons["dmk0"]
    # the patient goes back over the speedboat: the drive equals an ambulance's ETA from the scene
    j = int(np.flatnonzero(rep.a_unit == 0)[0])
    back = recommend(net, [Unit("x", "ambulance", lon, lat)], Incident("rs", "medis", 1, rsud.lon, rsud.lat))
    assert rep.a_hospital_s[j] - rep.a_left_scene_s[j] == pytest.approx(back.etas_s[0], rel=1e-12, abs=1e-6)
    assert not any("cross every boat" in n for n in res.notes)
