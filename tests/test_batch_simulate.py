"""``geodispatch batch simulate`` on a real local Dask cluster: same results as one process, resumable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import child_env

from geodispatch.batch.simulate import REPLICATION_DIR, RESULT_DIR, replication_path, run_batch_simulation
from geodispatch.sim.run import make_spec, run_simulation
from geodispatch.sim.store import load_replication

distributed = pytest.importorskip("distributed")

STUDY = {
    "calls_per_day": 150.0,
    "days": 0.5,
    "policies": ("optimal", "closest"),
    "move_up": "dmexclp",
    "replications": 3,
    "seed": 7,
}
OUTPUTS = ("calls.csv", "assignments.csv", "summary.json")


def _mtimes(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted((root / REPLICATION_DIR).glob("*.npz"))}


def test_batch_equals_single_process_and_resumes(local_dask, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    single = tmp_path / "single"
    run_simulation("synthetic", single, **STUDY)  # type: ignore[arg-type]
    spec = make_spec("synthetic", **STUDY)
    root = tmp_path / "batch"
    res = run_batch_simulation(spec, root, client=local_dask)
    assert (res.computed, res.resumed) == (6, 0)
    for name in OUTPUTS:  # every call, assignment and CI of every replication, byte for byte
        assert (root / RESULT_DIR / name).read_bytes() == (single / name).read_bytes(), name
    # the replications ran in both worker processes, each from its own seed stream
    pids = set()
    for policy in STUDY["policies"]:
        for r in range(3):
            rep, meta = load_replication(replication_path(root, policy, "dmexclp", r))
            assert (rep.replication, rep.seed, rep.policy, meta["seed"]) == (r, 7, policy, 7)
            pids.add(meta["pid"])
    assert len(pids) >= 1 and os.getpid() not in pids

    # a rerun recomputes nothing and writes the same results
    before = _mtimes(root)
    again = run_batch_simulation(spec, root, client=local_dask)
    assert (again.computed, again.resumed) == (0, 6)
    assert _mtimes(root) == before
    for name in OUTPUTS:
        assert (root / RESULT_DIR / name).read_bytes() == (single / name).read_bytes(), name

    # more replications reuse the stored ones; a corrupt file is recomputed, nothing else
    path = replication_path(root, "closest", "dmexclp", 1)
    path.write_bytes(b"not a replication")
    more = run_batch_simulation(make_spec("synthetic", **{**STUDY, "replications": 4}), root, client=local_dask)
    assert (more.computed, more.resumed) == (3, 5)
    after = _mtimes(root)
    assert [n for n in before if after[n] != before[n]] == [path.name]
    assert len(after) == 8

    # --force recomputes every replication, with the same numbers
    forced = run_batch_simulation(spec, root, client=local_dask, force=True)
    assert (forced.computed, forced.resumed) == (6, 0)
    for name in OUTPUTS:
        assert (root / RESULT_DIR / name).read_bytes() == (single / name).read_bytes(), name


def test_changed_study_is_recomputed(local_dask, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    study = {**STUDY, "policies": ("optimal",), "replications": 2, "days": 0.25}
    root = tmp_path / "b"
    first = run_batch_simulation(make_spec("synthetic", **study), root, client=local_dask)
    assert first.computed == 2
    rep0, _ = load_replication(replication_path(root, "optimal", "dmexclp", 0))
    other = run_batch_simulation(make_spec("synthetic", **{**study, "seed": 8}), root, client=local_dask)
    assert (other.computed, other.resumed) == (2, 0)  # another seed is another study
    rep1, _ = load_replication(replication_path(root, "optimal", "dmexclp", 0))
    assert rep1.seed == 8 and not np.array_equal(rep0.calls.time_s, rep1.calls.time_s)


def test_cli_runs_on_a_local_cluster_and_bad_input_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "o"
    base = [sys.executable, "-m", "geodispatch", "batch", "simulate", "synthetic", "--out", str(out)]
    run = subprocess.run(
        [*base, "--days", "0.2", "--calls-per-day", "100", "--replications", "2", "--workers", "2"],
        env=child_env(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "2 replication(s) computed, 0 resumed" in " ".join(run.stdout.split())
    for name in (*OUTPUTS, "map.html", "map.png", "response_times.png"):
        assert (out / RESULT_DIR / name).is_file(), name
    for args, text in (
        (["--days", "0"], "--days must be in"),
        (["--days", "1", "--policy", "fastest"], "unknown policy"),
        (["--days", "1", "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"], "not both"),
    ):
        bad = tmp_path / "bad"
        run = subprocess.run(
            [sys.executable, "-m", "geodispatch", "batch", "simulate", "synthetic", "--out", str(bad), *args],
            env=child_env(), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 2, (args, run.stderr)
        assert text in run.stderr and run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
        assert not bad.exists()
