"""``geodispatch batch simulate``: the replications of a simulation study as Dask tasks.

One task per policy and replication runs
:func:`~geodispatch.sim.simulate_replication` on a worker, which loads the study from the
:class:`~geodispatch.sim.run.SimulationSpec` (paths only travel through the scheduler; each
worker process builds the model once and keeps it for its next tasks). Replication ``r`` draws
from ``SeedSequence([seed, r])`` wherever it runs, so the results are those of
``geodispatch simulate`` with the same arguments, replication for replication.

Resume rules (as ``batch coverage``): every replication is written atomically to
``DIR/replications/<policy>-<move_up>-r<NNNN>.npz`` with a fingerprint of the study (its
arguments, except the number of replications and the policies, and the size and mtime of its
input files). A rerun skips the replications whose file is there with the same fingerprint
(asking for more replications reuses the ones done), unless ``--force``; a task that Dask
retries after a worker died does not redo a replication this run already wrote. When every
replication is there, the client writes what ``geodispatch simulate`` writes into
``DIR/simulation/`` (atomically).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from geodispatch.batch.cluster import check_cluster_args, dashboard_link, dask_client
from geodispatch.batch.jobs import one_line
from geodispatch.errors import GeodispatchError, OutputError, SimulationError
from geodispatch.sim.run import SimulationRun, SimulationSpec, load_study, write_outputs

REPLICATION_DIR = "replications"
"""Folder (inside the batch output) of the per-replication result files."""

RESULT_DIR = "simulation"
"""Folder (inside the batch output) of the files ``geodispatch simulate`` writes."""

_MODELS: dict[tuple[str, str], tuple[Any, Any]] = {}
"""Per worker process: (fingerprint, policy) -> (SimModel, CallSource) of the last study."""


@dataclass
class BatchSimulation:
    """What ``geodispatch batch simulate`` did.

    Attributes
    ----------
    run : SimulationRun
        The results, as ``geodispatch simulate`` returns them.
    computed, resumed : int
        Replications simulated now, and found complete on disk.
    out : Path
        The batch output folder.
    dashboard : str or None
        The Dask dashboard link, when the cluster had one.
    workers : int
        Workers of the cluster (0 when nothing had to be computed).
    """

    run: SimulationRun
    computed: int
    resumed: int
    out: Path
    dashboard: str | None = None
    workers: int = 0
    elapsed_s: dict[str, float] = field(default_factory=dict)


def study_fingerprint(spec: SimulationSpec) -> str:
    """A hash of what one replication's result depends on.

    The study's arguments except ``replications`` (replication ``r`` does not depend on how
    many there are) and ``policies`` (each policy has its own files), and the size and mtime of
    every input file.
    """
    args = asdict(spec)
    args.pop("replications")
    args.pop("policies")
    stats: dict[str, list[int] | None] = {}
    for path in spec.input_files():
        try:
            st = os.stat(path)
            stats[path] = [st.st_size, st.st_mtime_ns]
        except OSError:
            stats[path] = None
    text = json.dumps({"spec": args, "files": stats}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def replication_path(out_root: str | os.PathLike[str], policy: str, move_up: str, replication: int) -> Path:
    """Where one replication's result is stored."""
    return Path(out_root) / REPLICATION_DIR / f"{policy}-{move_up}-r{replication:04d}.npz"


def read_meta(path: Path) -> dict[str, Any] | None:
    """The ``meta`` header of a stored replication, None when absent or unreadable."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
    except (OSError, ValueError, KeyError):
        return None
    meta = header.get("meta")
    return meta if isinstance(meta, dict) else None


def _complete(meta: dict[str, Any] | None, fp: str, force: bool, run_id: str) -> bool:
    if meta is None or meta.get("fingerprint") != fp:
        return False
    return not force or meta.get("run_id") == run_id


def run_replication_task(
    spec: SimulationSpec, policy: str, replication: int, out_root: str, fp: str, force: bool = False, run_id: str = ""
) -> dict[str, Any]:
    """Simulate one replication on a worker and store it; return a small status dict.

    Never raises for a bad study: a failure is ``{"status": "error", "error": one line}``.
    """
    path = replication_path(out_root, policy, spec.move_up, replication)
    status = {"policy": policy, "replication": replication, "status": "ok", "error": "", "computed": False}
    meta = read_meta(path)
    if _complete(meta, fp, force, run_id):
        return {**status, "elapsed_s": (meta or {}).get("elapsed_s")}
    start = time.perf_counter()
    try:
        from geodispatch.sim import simulate_replication
        from geodispatch.sim.store import save_replication

        model, source = _study_model(spec, policy, fp)
        result = simulate_replication(model, source, spec.seed, replication)
        for stale in path.parent.glob(f".{path.name}.*"):  # a killed attempt's temporary file
            stale.unlink(missing_ok=True)
        elapsed = time.perf_counter() - start
        save_replication(result, path, meta={
            "fingerprint": fp, "run_id": run_id, "policy": policy, "replication": replication, "seed": spec.seed,
            "elapsed_s": round(elapsed, 3), "host": socket.gethostname(), "pid": os.getpid(),
        })  # fmt: skip
    except GeodispatchError as exc:
        return {**status, "status": "error", "error": one_line(str(exc))}
    except Exception as exc:  # a batch reports a broken task, it does not crash on it
        return {**status, "status": "error", "error": one_line(f"{type(exc).__name__}: {exc}")}
    return {**status, "computed": True, "elapsed_s": round(elapsed, 3)}


def _study_model(spec: SimulationSpec, policy: str, fp: str) -> tuple[Any, Any]:
    """The study's model and call source for ``policy``, built once per worker process."""
    key = (fp, policy)
    cached = _MODELS.get(key)
    if cached is None:
        _MODELS.clear()  # one study at a time: models of big regions are large
        study = load_study(spec)
        for name in spec.policies:
            _MODELS[(fp, name)] = study.model(name)
        cached = _MODELS[key]
    return cached


def run_batch_simulation(
    spec: SimulationSpec,
    out: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    on_start: Callable[[int, int, str | None], None] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> BatchSimulation:
    """Run a simulation study's replications as Dask tasks and write its outputs.

    Parameters
    ----------
    spec : SimulationSpec
        The study (the arguments of ``geodispatch simulate``).
    out : path
        Output folder: ``replications/`` (one file per policy and replication) and
        ``simulation/`` (``calls.csv``, ``assignments.csv``, ``summary.json``, maps). Workers
        write into it, so on a cluster every worker and this process must see it at the same path.
    scheduler, workers, client
        As :func:`geodispatch.batch.run_batch_coverage`.
    force : bool
        Recompute replications already stored.
    progress : callable, optional
        ``progress(message)`` while loading and writing.
    on_start : callable, optional
        ``on_start(to_run, resumed, dashboard_link)`` once the cluster is ready.
    on_result : callable, optional
        Called with each task's status dict as it finishes.

    Returns
    -------
    BatchSimulation

    Raises
    ------
    GeodispatchError
        Bad input (before any task runs); :class:`SimulationError` when replications failed
        (those that finished stay stored: a rerun resumes from them).
    """
    say = progress or (lambda _msg: None)
    if client is None:
        check_cluster_args(scheduler, workers)
    study = load_study(spec, say)  # every input error comes out here, before any task
    say("building the model")
    models = {policy: study.model(policy) for policy in spec.policies}
    root = Path(out).expanduser().resolve()
    try:
        (root / REPLICATION_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {root}: {exc.strerror or exc}; choose a writable --out") from exc
    fp = study_fingerprint(spec)
    todo: list[tuple[str, int]] = []
    resumed = 0
    for policy in spec.policies:
        for r in range(spec.replications):
            if not force and _complete(read_meta(replication_path(root, policy, spec.move_up, r)), fp, False, ""):
                resumed += 1
            else:
                todo.append((policy, r))
    outcome = BatchSimulation(run=SimulationRun(scenario=study.scenario, calibration=study.calibration),
                              computed=0, resumed=resumed, out=root)  # fmt: skip
    failed: list[dict[str, Any]] = []
    if todo:
        run_id = uuid.uuid4().hex
        if client is not None:
            failed = _run_on(client, spec, todo, root, fp, force, run_id, outcome, resumed, on_start, on_result)
        else:
            with dask_client(scheduler, workers) as own:
                failed = _run_on(own, spec, todo, root, fp, force, run_id, outcome, resumed, on_start, on_result)
    elif on_start is not None:
        on_start(0, resumed, None)
    if failed:
        first = failed[0]
        raise SimulationError(
            f"{len(failed)} of {len(todo)} replication(s) failed (first: {first['policy']} replication "
            f"{first['replication']}: {first['error']}); the {outcome.computed} finished are stored in "
            f"{root / REPLICATION_DIR}, rerun to resume"
        )
    from geodispatch.sim.store import load_replication

    say("collecting replications")
    for policy in spec.policies:
        model, _ = models[policy]
        reps = []
        for r in range(spec.replications):
            rep, meta = load_replication(replication_path(root, policy, spec.move_up, r))
            reps.append(rep)
            outcome.elapsed_s[f"{policy}-r{r}"] = float(meta.get("elapsed_s") or 0.0)
        outcome.run.results.append(study.result(model, reps))
    say("writing outputs")
    write_outputs(outcome.run, root / RESULT_DIR)
    return outcome


def _run_on(
    client: Any,
    spec: SimulationSpec,
    todo: list[tuple[str, int]],
    root: Path,
    fp: str,
    force: bool,
    run_id: str,
    outcome: BatchSimulation,
    resumed: int,
    on_start: Callable[[int, int, str | None], None] | None,
    on_result: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    """Submit the replications to ``client``; return the failed tasks' status dicts."""
    from distributed import as_completed

    outcome.dashboard = dashboard_link(client)
    outcome.workers = len(client.scheduler_info().get("workers", {}))
    if on_start is not None:
        on_start(len(todo), resumed, outcome.dashboard)
    futures = {}
    for policy, r in todo:
        fut = client.submit(run_replication_task, spec, policy, r, str(root), fp, force, run_id,
                            key=f"simulate-{policy}-r{r}-{run_id}", pure=False)  # fmt: skip
        futures[fut] = (policy, r)
    failed = []
    for fut in as_completed(list(futures)):
        policy, r = futures[fut]
        if fut.status == "finished":
            status = fut.result()
        else:  # the worker died too often (KilledWorker) or was lost
            exc = fut.exception()
            status = {"policy": policy, "replication": r, "status": "error", "computed": False,
                      "error": one_line(f"the task's worker failed ({type(exc).__name__}: {exc})")}  # fmt: skip
        fut.release()
        if status["status"] != "ok":
            failed.append(status)
        elif status["computed"]:
            outcome.computed += 1
        else:
            outcome.resumed += 1
        if on_result is not None:
            on_result(status)
    return failed
