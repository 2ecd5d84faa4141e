"""Batch coverage on a real Dask cluster: 2 local worker processes, and `dask scheduler` /
`dask worker` started as processes. Each region's outputs are compared with the single
`geodispatch coverage` run of the same region."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import REPO, child_env, shared_path

from geodispatch.batch import CoverageOptions, Job, match_jobs, read_boundaries, read_manifest, run_batch_coverage
from geodispatch.batch.cluster import dask_client
from geodispatch.batch.jobs import completed_row
from geodispatch.errors import InputError

distributed = pytest.importorskip("distributed")

STATIONS = REPO / "data" / "batch" / "stations" / "balikpapan_fire_posts.csv"
SAME_FILES = ("summary.json", "coverage_by_area.csv", "stations.csv", "isochrones.geojson", "surface.geojson",
              "hotspots.geojson")


def _manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _single_run(tmp: Path, source: str, stations: str | None, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """`geodispatch coverage` in this process; returns (exit code, stderr)."""
    from geodispatch import cli

    argv = ["geodispatch", "coverage", source, "--out", str(tmp)]
    if stations:
        argv += ["--stations", stations]
    monkeypatch.setattr(sys, "argv", argv)
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, ""


def _files(d: Path) -> dict[str, bytes]:
    return {f: (d / f).read_bytes() for f in SAME_FILES}


def test_batch_equals_single_runs_resumes_and_forces(
    tmp_path: Path, local_dask: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = shared_path("roads/klandasan_ilir_drive.graphml")
    corrupt = tmp_path / "inputs" / "corrupt.graphml"
    corrupt.parent.mkdir()
    corrupt.write_bytes(real.read_bytes()[:3000])  # cut mid-element: unparseable XML
    stations = tmp_path / "inputs" / "stations.csv"
    stations.write_bytes(STATIONS.read_bytes())
    manifest = _manifest(tmp_path / "inputs" / "m.csv", [
        {"name": "klandasan", "source": str(real), "stations": "stations.csv", "code": "64.71"},
        {"name": "broken", "source": "corrupt.graphml", "stations": "", "code": ""},  # relative to the manifest
        {"name": "sint-a", "source": "synthetic:300", "stations": "", "code": ""},
        {"name": "sint-b", "source": "synthetic:600", "stations": "", "code": ""},
    ])
    out = tmp_path / "out"
    boundaries = shared_path("boundaries/indonesia_kabupaten_kota.geojson")
    seen: list[str] = []
    res = run_batch_coverage(manifest, out, client=local_dask, boundaries=boundaries,
                             on_result=lambda r: seen.append(r["name"]))
    assert [r["name"] for r in res.rows] == ["klandasan", "broken", "sint-a", "sint-b"]
    assert sorted(seen) == sorted(r["name"] for r in res.rows)
    status = {r["name"]: r for r in res.rows}
    assert status["broken"]["status"] == "error" and "\n" not in status["broken"]["error"]
    assert not (out / "broken").exists() and not list(out.glob(".broken*"))
    assert (res.computed, res.resumed, res.failed) == (3, 0, 1)

    # each ok region = the single `geodispatch coverage` run, file for file
    sources = {"klandasan": (str(real), str(stations)), "sint-a": ("synthetic:300", None),
               "sint-b": ("synthetic:600", None)}
    for name, (source, st) in sources.items():
        assert status[name]["status"] == "ok", status[name]
        code, _ = _single_run(tmp_path / "single" / name, source, st, monkeypatch)
        assert code == 0
        assert _files(out / name) == _files(tmp_path / "single" / name), name
        summary = json.loads((out / name / "summary.json").read_text())
        assert status[name]["damkar_node_share_15"] == summary["services"]["damkar"]["node_share"]["15"]
    capsys.readouterr()
    code, _ = _single_run(tmp_path / "single" / "broken", str(corrupt), None, monkeypatch)
    assert code == 2
    assert capsys.readouterr().err.strip().replace("\n", " ").split() == ["error:", *status["broken"]["error"].split()]

    # national table and map
    national = pd.read_csv(out / "national.csv", keep_default_na=False)
    assert list(national["name"]) == ["klandasan", "broken", "sint-a", "sint-b"]
    assert list(national["status"]) == ["ok", "error", "ok", "ok"]
    assert national.loc[0, "boundary_code"] == "64.71" and national.loc[0, "boundary_name"] == "Kota Balikpapan"
    assert {n for n, _ in res.national.unmatched} == {"broken", "sint-a", "sint-b"}
    geo = json.loads((out / "national.geojson").read_text())
    assert [f["properties"]["code"] for f in geo["features"]] == ["64.71"]
    assert geo["features"][0]["properties"]["share_15min"] == status["klandasan"]["ambulance_node_share_15"]
    assert (out / "national.png").read_bytes()[:4] == b"\x89PNG"

    # a rerun recomputes nothing (the failed region is tried again)
    before = {n: (out / n / "summary.json").stat().st_mtime_ns for n in sources}
    markers = {n: (out / ".batch" / f"{n}.json").read_text() for n in sources}
    again = run_batch_coverage(manifest, out, client=local_dask, boundaries=boundaries)
    assert (again.computed, again.resumed, again.failed) == (0, 3, 1)
    assert {n: (out / n / "summary.json").stat().st_mtime_ns for n in sources} == before
    assert {n: (out / ".batch" / f"{n}.json").read_text() for n in sources} == markers
    assert [r["status"] for r in again.rows] == ["ok", "error", "ok", "ok"]
    assert pd.read_csv(out / "national.csv", keep_default_na=False).drop(columns=["computed", "elapsed_s"]).equals(
        national.drop(columns=["computed", "elapsed_s"]))

    # --force recomputes
    forced = run_batch_coverage(manifest, out, client=local_dask, force=True)
    assert (forced.computed, forced.resumed) == (3, 0)
    assert all(json.loads((out / ".batch" / f"{n}.json").read_text())["run_id"] !=
               json.loads(markers[n])["run_id"] for n in sources)
    assert _files(out / "sint-a") == _files(tmp_path / "single" / "sint-a")
    # other options (or a changed input file) make a region incomplete
    job = read_manifest(manifest)[2]
    assert completed_row(job, out, CoverageOptions()) is not None
    assert completed_row(job, out, CoverageOptions(minutes=(15.0,))) is None
    assert completed_row(job, out, CoverageOptions(station_types="ambulance")) is None
    klandasan = read_manifest(manifest)[0]
    assert completed_row(klandasan, out, CoverageOptions()) is not None
    stations.write_bytes(STATIONS.read_bytes() + b"\n")
    assert completed_row(klandasan, out, CoverageOptions()) is None


def test_killed_worker_job_is_retried_and_each_job_completes_once(tmp_path: Path, local_dask: Any) -> None:
    names = [f"sint-{n}" for n in (500, 600, 700, 800)]
    manifest = _manifest(tmp_path / "m.csv", [{"name": n, "source": f"synthetic:{n.split('-')[1]}", "stations": ""}
                                              for n in names])
    local_dask.wait_for_workers(2)
    pids = local_dask.run(os.getpid)
    killed: dict[str, Any] = {}

    def kill_one(row: dict[str, Any]) -> None:
        if killed:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = {w: keys for w, keys in local_dask.processing().items() if keys and w in pids}
            if busy:
                worker, keys = next(iter(busy.items()))
                time.sleep(1.0)  # let the job get going on the worker
                os.kill(pids[worker], signal.SIGKILL)
                # a job can finish in that second (a loaded machine): it is not a victim then
                done = {n for n in names if (tmp_path / "out" / ".batch" / f"{n}.json").exists()}
                killed.update(worker=worker, pid=pids[worker], keys=list(keys), done=done)
                return
            time.sleep(0.2)

    started = time.time()
    res = run_batch_coverage(manifest, tmp_path / "out", client=local_dask, on_result=kill_one)
    assert killed, "no worker was busy to be killed"
    assert [r["name"] for r in res.rows] == names
    assert [r["status"] for r in res.rows] == ["ok"] * 4, res.rows
    # every job was computed in this run (its marker is new); a job that finished on the worker
    # just before the kill is not computed again by Dask's retry, so the count may read 3
    for n in names:
        assert (tmp_path / "out" / ".batch" / f"{n}.json").stat().st_mtime >= started - 1
    assert res.computed in (3, 4)
    victims = [n for n in names if any(n in str(k) for k in killed["keys"]) and n not in killed["done"]]
    for n in names:
        marker = json.loads((tmp_path / "out" / ".batch" / f"{n}.json").read_text())
        if n in victims:  # the jobs the dead worker held were finished by another worker process
            assert marker["pid"] != killed["pid"]
        assert (tmp_path / "out" / n / "summary.json").is_file()
    national = pd.read_csv(tmp_path / "out" / "national.csv")
    assert sorted(national["name"]) == sorted(names) and (national["status"] == "ok").all()
    # the killed attempt left no half-written output behind
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".") and p.name != ".batch"]


def test_dask_scheduler_and_worker_processes(tmp_path: Path) -> None:
    real = shared_path("roads/klandasan_ilir_drive.graphml")
    manifest = _manifest(tmp_path / "m.csv", [
        {"name": "klandasan", "source": str(real), "stations": str(STATIONS)},
        {"name": "sint", "source": "synthetic:300", "stations": ""},
    ])
    env = child_env()
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(sched_file)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 120
        address = None
        while address is None and time.monotonic() < deadline:
            try:  # the scheduler writes the file in place: wait until it parses
                address = json.loads(sched_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        assert address, "dask scheduler did not start"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        out = tmp_path / "out"
        run = subprocess.run(
            [sys.executable, "-m", "geodispatch", "batch", "coverage", "--manifest", str(manifest), "--out", str(out),
             "--scheduler", address],
            env=env, capture_output=True, text=True, timeout=600,
        )
        assert run.returncode == 0, run.stderr
        national = pd.read_csv(out / "national.csv")
        assert list(national["status"]) == ["ok", "ok"]
        assert "2 regions (2 computed, 0 resumed, 0 failed)" in " ".join(run.stdout.split())
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    from geodispatch.coverage import coverage_from_source

    coverage_from_source(str(real), tmp_path / "single", stations=STATIONS)  # returns (scenario, report)
    assert _files(out / "klandasan") == _files(tmp_path / "single")


def test_sea_links_column_reaches_the_job_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest's ``sea_links`` file is added to the job's network, exactly as ``--sea-links``."""
    from geodispatch import cli
    from geodispatch.batch import run_coverage_job
    from geodispatch.synthetic import synthetic_regency

    towns = synthetic_regency(300).towns  # a boat between two mainland towns (ends on their roads)
    a, b = towns[~towns["island"]].iloc[:2].itertuples()
    boats = tmp_path / "inputs" / "boats.csv"
    boats.parent.mkdir()
    boats.write_text("from_lon,from_lat,to_lon,to_lat,speed_kph,boarding_min,name\n"
                     f"{a.lon},{a.lat},{b.lon},{b.lat},40,5,Speedboat Uji\n")
    bad = tmp_path / "inputs" / "bad.csv"
    bad.write_text("from_lon,from_lat,to_lon,speed_kph\n119.7,-7.3,119.8,40\n")
    jobs = read_manifest(_manifest(tmp_path / "inputs" / "m.csv", [
        {"name": "boat", "source": "synthetic:300", "stations": "", "sea_links": "boats.csv"},
        {"name": "road", "source": "synthetic:300", "stations": "", "sea_links": ""},
        {"name": "bad", "source": "synthetic:300", "stations": "", "sea_links": "bad.csv"},
    ]))
    assert jobs[0].sea_links == str(boats) and jobs[1].sea_links is None
    out = tmp_path / "out"
    rows = {job.name: run_coverage_job(job, str(out), CoverageOptions(minutes=(15.0,))) for job in jobs}
    assert rows["boat"]["status"] == rows["road"]["status"] == "ok"
    boat = json.loads((out / "boat" / "summary.json").read_text())["network"]
    road = json.loads((out / "road" / "summary.json").read_text())["network"]
    assert boat["edges"] == road["edges"] + 2  # the link, both ways
    assert rows["bad"]["status"] == "error" and "to_lat" in rows["bad"]["error"] and not (out / "bad").exists()
    # the job's outputs are those of `geodispatch coverage --sea-links` on the same region
    argv = ["geodispatch", "coverage", "synthetic:300", "--minutes", "15", "--sea-links", str(boats),
            "--out", str(tmp_path / "single")]
    monkeypatch.setattr(sys, "argv", argv)
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 0
    capsys.readouterr()
    assert _files(out / "boat") == _files(tmp_path / "single")


def test_manifest_errors(tmp_path: Path) -> None:
    def bad(rows: list[dict[str, str]], match: str) -> None:
        with pytest.raises(InputError, match=match):
            read_manifest(_manifest(tmp_path / "m.csv", rows))

    bad([{"name": "a", "source": "synthetic"}], "missing column")
    bad([{"name": "a", "source": "synthetic", "stations": "", "stationz": ""}], "unknown column")
    bad([{"name": "a", "source": "synthetic", "stations": ""}] * 2, "duplicate name 'a'")
    bad([{"name": "../x", "source": "synthetic", "stations": ""}], "bad name")
    bad([{"name": ".hidden", "source": "synthetic", "stations": ""}], "bad name")
    bad([{"name": "a", "source": "", "stations": ""}], "empty source")
    (tmp_path / "empty.csv").write_text("name,source,stations\n")
    with pytest.raises(InputError, match="no jobs"):
        read_manifest(tmp_path / "empty.csv")
    (tmp_path / "sub").mkdir()
    jobs = read_manifest(_manifest(tmp_path / "sub" / "m.csv", [
        {"name": "a", "source": "roads/x.graphml", "stations": "st.csv"},
        {"name": "b", "source": "Kota Bontang, Indonesia", "stations": ""},
        {"name": "c", "source": "synthetic:500", "stations": ""},
    ]))
    assert jobs[0] == Job("a", str(tmp_path / "sub" / "roads" / "x.graphml"), stations=str(tmp_path / "sub" / "st.csv"))
    assert jobs[1].source == "Kota Bontang, Indonesia" and jobs[2].source == "synthetic:500"


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "m.csv", [{"name": "a", "source": "synthetic", "stations": ""}])
    base = [sys.executable, "-m", "geodispatch", "batch", "coverage", "--out", str(tmp_path / "o")]
    for args, text in (
        (["--manifest", str(tmp_path / "nope.csv")], "not found"),
        (["--manifest", str(manifest), "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"], "not both"),
        (["--manifest", str(manifest), "--minutes", "-5"], "minutes"),
        (["--manifest", str(manifest), "--boundaries", str(tmp_path / "none.geojson")], "boundaries file"),
    ):
        run = subprocess.run(base + args, env=child_env(), capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, (args, run.stderr)
        assert text in run.stderr and run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert not (tmp_path / "o" / "a").exists()


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"), dask_client("tcp://127.0.0.1:9",
                                                                                         timeout_s=2):
        pass


def test_boundary_matching() -> None:
    gdf = read_boundaries(shared_path("boundaries/indonesia_kabupaten_kota.geojson"))
    assert len(gdf) == 514
    jobs = [
        Job("a", "x.graphml", code="64.71"),
        Job("b", "x.graphml", code="6471"),  # BPS code, via data/regions/balikpapan.yaml
        Job("c", "bantaeng"),  # region slug
        Job("kota-balikpapan", "x.graphml"),  # full name
        Job("bontang", "x.graphml"),  # bare name, only Kota Bontang has it
        Job("bandung", "x.graphml"),  # Kabupaten Bandung and Kota Bandung
        Job("sintetis", "synthetic"),
        Job("d", "x.graphml", code="99.99"),
        Job("e", "x.graphml", code="9999"),
    ]
    m = match_jobs(jobs, gdf)
    assert [m[j.name].code for j in jobs] == ["64.71", "64.71", "73.03", "64.71", "64.74", None, None, None, None]
    assert "ambiguous" in m["bandung"].how and "Kota Bandung (32.73)" in m["bandung"].how
    assert m["c"].name == "Kabupaten Bantaeng"
    assert "not in the boundaries" in m["d"].how and "no region YAML" in m["e"].how
