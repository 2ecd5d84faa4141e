"""Running a batch: skip what is complete, submit the rest to Dask, collect rows, write the national files."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geodispatch.batch.cluster import dashboard_link, dask_client
from geodispatch.batch.jobs import CoverageOptions, completed_row, error_row, one_line, run_coverage_job
from geodispatch.batch.manifest import Job, read_manifest
from geodispatch.batch.national import NationalOutputs, write_national
from geodispatch.errors import OutputError

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """What a batch did.

    Attributes
    ----------
    rows : list of dict
        One ``national.csv`` row per job, in manifest order.
    computed, resumed, failed : int
        Jobs run now, jobs skipped because their outputs were complete, jobs with an error.
    national : NationalOutputs
        The national files and the unmatched jobs.
    dashboard : str or None
        The Dask dashboard link, when the cluster had one.
    """

    rows: list[dict[str, Any]]
    computed: int
    resumed: int
    failed: int
    national: NationalOutputs
    dashboard: str | None = None
    workers: int = 0
    notes: list[str] = field(default_factory=list)


def run_batch_coverage(
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: CoverageOptions | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
    force: bool = False,
    boundaries: str | os.PathLike[str] | None = None,
    map_service: str = "ambulance",
    map_minutes: float | None = None,
    on_start: Callable[[int, int, str | None], None] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> BatchResult:
    """Run ``geodispatch coverage`` for every region of a manifest as Dask tasks.

    Parameters
    ----------
    manifest : path
        The manifest CSV (see :mod:`geodispatch.batch.manifest`).
    out : path
        Output folder: ``<name>/`` per job, ``national.csv`` (and with ``boundaries``
        ``national.geojson``, ``national.png``). Workers write into it, so on a cluster it must
        be a folder every worker and this process see at the same path.
    options : CoverageOptions, optional
        Options shared by every job (default: those of ``geodispatch coverage``).
    scheduler : str, optional
        Address or scheduler file of a running Dask scheduler.
    workers : int, optional
        Worker processes of the local cluster started when no scheduler or client is given.
    client : distributed.Client, optional
        Use this client (tests, notebooks); neither ``scheduler`` nor ``workers`` then.
    force : bool
        Recompute jobs whose outputs are complete.
    boundaries : path, optional
        Kabupaten/kota polygons for ``national.geojson`` / ``national.png``.
    map_service : str
        Service whose share is mapped.
    map_minutes : float, optional
        Threshold of the mapped share (default 15 when among the thresholds, else the largest).
    on_start : callable, optional
        ``on_start(jobs_to_run, jobs_resumed, dashboard_link)`` once the cluster is ready.
    on_result : callable, optional
        Called with each job's row as it finishes (resumed jobs first).

    Returns
    -------
    BatchResult

    Raises
    ------
    InputError, SourceNotFoundError, CorruptFileError
        A bad manifest, options or boundaries file, or an unreachable scheduler (before any job
        runs; a bad region is an error row, not an exception).
    OutputError
        When ``out`` cannot be written.
    """
    from geodispatch.coverage.isochrones import check_minutes
    from geodispatch.coverage.stations import parse_services

    opts = options or CoverageOptions()
    opts = CoverageOptions(
        minutes=check_minutes(opts.minutes),
        station_types=",".join(parse_services(opts.station_types)),
        per_station=opts.per_station,
        combined=opts.combined,
        offroad_m=float(opts.offroad_m),
    )
    jobs = read_manifest(manifest)
    mapped_minutes = map_minutes if map_minutes is not None else (15.0 if 15.0 in opts.minutes else opts.minutes[-1])
    if boundaries is not None:  # check the file before hours of work, not after
        from geodispatch.batch.national import read_boundaries

        read_boundaries(boundaries)
    root = Path(out).expanduser().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {root}: {exc.strerror or exc}; choose a writable --out") from exc

    rows: dict[str, dict[str, Any]] = {}
    todo: list[Job] = []
    for job in jobs:
        row = None if force else completed_row(job, root, opts)
        if row is None:
            todo.append(job)
        else:
            rows[job.name] = row
    resumed = len(rows)
    result = BatchResult(rows=[], computed=0, resumed=resumed, failed=0,
                         national=NationalOutputs(csv=root / "national.csv"))
    if todo:
        run_id = uuid.uuid4().hex
        if client is not None:
            _run_on(client, todo, root, opts, force, run_id, rows, result, on_start, on_result, resumed)
        else:
            with dask_client(scheduler, workers) as own:
                _run_on(own, todo, root, opts, force, run_id, rows, result, on_start, on_result, resumed)
    elif on_start is not None:
        on_start(0, resumed, None)
    if on_result is not None and not todo:
        for job in jobs:
            on_result(rows[job.name])
    result.rows = [rows[j.name] for j in jobs]
    result.computed = sum(1 for r in result.rows if r["computed"] and r["status"] == "ok")
    result.failed = sum(1 for r in result.rows if r["status"] != "ok")
    result.national = write_national(result.rows, jobs, root, boundaries, map_service, mapped_minutes)
    result.rows = result.national.rows
    return result


def _run_on(
    client: Any,
    todo: list[Job],
    root: Path,
    opts: CoverageOptions,
    force: bool,
    run_id: str,
    rows: dict[str, dict[str, Any]],
    result: BatchResult,
    on_start: Callable[[int, int, str | None], None] | None,
    on_result: Callable[[dict[str, Any]], None] | None,
    resumed: int,
) -> None:
    """Submit ``todo`` to ``client`` and gather one row per job as they finish."""
    from distributed import as_completed

    result.dashboard = dashboard_link(client)
    result.workers = len(client.scheduler_info().get("workers", {}))
    if on_start is not None:
        on_start(len(todo), resumed, result.dashboard)
    if on_result is not None:
        for row in rows.values():
            on_result(row)
    futures = {}
    for job in todo:
        # pure=False: a rerun is a new task; the key names the job on the dashboard
        fut = client.submit(run_coverage_job, job, str(root), opts, force, run_id, key=f"coverage-{job.name}-{run_id}",
                            pure=False)
        futures[fut] = job
    for fut in as_completed(list(futures)):
        job = futures[fut]
        if fut.status == "finished":
            row = fut.result()
        else:  # the task itself failed: its worker died too often (KilledWorker) or was lost
            exc = fut.exception()
            row = error_row(job, one_line(f"the job's worker failed ({type(exc).__name__}: {exc}); "
                                          "it may run out of memory or crash the interpreter"))
        rows[job.name] = row
        fut.release()
        if on_result is not None:
            on_result(row)
