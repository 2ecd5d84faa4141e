"""One batch job, as it runs on a Dask worker: resume check, the coverage run, its national row.

A job is small and picklable (a :class:`~geodispatch.batch.manifest.Job` of paths and a
:class:`CoverageOptions`): the worker reads the files itself, nothing large passes through the
scheduler. :func:`run_coverage_job` never raises for a bad region: any failure becomes an
``error`` row with a one-line message.

Completion is recorded in ``DIR/.batch/<name>.json`` (a *marker*) written atomically after the
region's folder ``DIR/<name>/`` has been renamed into place. A job is complete when its marker
holds the same fingerprint (job, options and the size and mtime of every input file) and its
folder has ``summary.json``; a worker killed between the two leaves no marker, so the job is
simply run again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from geodispatch.batch.manifest import Job
from geodispatch.coverage.isochrones import DEFAULT_MINUTES, DEFAULT_OFFROAD_M
from geodispatch.errors import GeodispatchError
from geodispatch.output import atomic_file

log = logging.getLogger(__name__)

MARKER_DIR = ".batch"
"""Folder (inside the batch output) of the per-job completion markers."""


@dataclass(frozen=True)
class CoverageOptions:
    """The ``geodispatch coverage`` options every job of a batch shares (thresholds in minutes)."""

    minutes: tuple[float, ...] = DEFAULT_MINUTES
    station_types: str = "ambulance,damkar"
    per_station: bool = False
    combined: bool = False
    offroad_m: float = DEFAULT_OFFROAD_M


def one_line(message: str, limit: int = 500) -> str:
    """Collapse a message onto one line (and cut it at ``limit`` characters)."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fingerprint(job: Job, options: CoverageOptions) -> str:
    """A hash of what a job's outputs depend on: the job, the options and its input files' stat."""
    stats: dict[str, list[int] | None] = {}
    for path in job.input_files():
        try:
            st = os.stat(path)
            stats[path] = [st.st_size, st.st_mtime_ns]
        except OSError:
            stats[path] = None
    text = json.dumps({"job": asdict(job), "options": asdict(options), "files": stats}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def marker_path(out_root: str | os.PathLike[str], name: str) -> Path:
    """Where a job's completion marker lives."""
    return Path(out_root) / MARKER_DIR / f"{name}.json"


def read_marker(out_root: str | os.PathLike[str], name: str) -> dict[str, Any] | None:
    """The job's marker when it exists and its outputs are in place, else None."""
    path = marker_path(out_root, name)
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (Path(out_root) / name / "summary.json").is_file():
        return None
    return marker if isinstance(marker, dict) else None


def completed_row(job: Job, out_root: str | os.PathLike[str], options: CoverageOptions) -> dict[str, Any] | None:
    """The national row of a job whose outputs are complete for these options, else None."""
    marker = read_marker(out_root, job.name)
    if marker is None or marker.get("fingerprint") != fingerprint(job, options):
        return None
    try:
        summary = json.loads((Path(out_root) / job.name / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary_row(job, summary, elapsed_s=marker.get("elapsed_s"), computed=False)


def summary_row(job: Job, summary: dict[str, Any], elapsed_s: float | None, computed: bool) -> dict[str, Any]:
    """One ``national.csv`` row of a finished job, from its ``summary.json`` figures.

    Per service and threshold ``<service>_population_share_<m>`` (None without population),
    ``<service>_road_share_<m>`` and ``<service>_node_share_<m>`` (fractions 0..1).
    """
    row = _base_row(job, "ok", "", elapsed_s, computed)
    row["nodes"] = summary.get("network", {}).get("nodes")
    row["road_km"] = summary.get("network", {}).get("road_km")
    row["population_total"] = summary.get("population_total")
    minutes = [f"{m:g}" for m in summary.get("minutes", [])]
    for service, info in summary.get("services", {}).items():
        pop = info.get("population") or {}
        for m in minutes:
            row[f"{service}_population_share_{m}"] = (pop.get("share") or {}).get(m)
            row[f"{service}_road_share_{m}"] = info.get("road_share", {}).get(m)
            row[f"{service}_node_share_{m}"] = info.get("node_share", {}).get(m)
    return row


def error_row(job: Job, message: str, elapsed_s: float | None = None) -> dict[str, Any]:
    """The ``national.csv`` row of a failed job."""
    return _base_row(job, "error", one_line(message), elapsed_s, True)


def _base_row(job: Job, status: str, error: str, elapsed_s: float | None, computed: bool) -> dict[str, Any]:
    return {
        "name": job.name,
        "status": status,
        "error": error,
        "source": job.source,
        "computed": computed,
        "elapsed_s": None if elapsed_s is None else round(float(elapsed_s), 3),
    }


def _remove_partial(out_root: Path, name: str) -> None:
    """Remove temporary folders an earlier, killed attempt of this job left next to its output."""
    for stale in out_root.glob(f".{name}.*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def run_coverage_job(
    job: Job, out_root: str, options: CoverageOptions, force: bool = False, run_id: str = ""
) -> dict[str, Any]:
    """Run one region exactly as ``geodispatch coverage`` does; return its ``national.csv`` row.

    Parameters
    ----------
    job : Job
        The region (paths only; the worker reads the files).
    out_root : str
        The batch output folder (shared by the client and every worker); the region's files
        go to ``out_root/<name>/``.
    options : CoverageOptions
        Thresholds and the other coverage options.
    force : bool
        Recompute even when complete outputs exist (except those written by this same batch
        run, ``run_id``, so a retried task never computes twice).
    run_id : str
        Identifier of the batch run.

    Returns
    -------
    dict
        ``status`` ``ok`` with the shares, or ``error`` with a one-line ``error``; never raises
        for a bad region.
    """
    from geodispatch.coverage import coverage_from_source

    root = Path(out_root)
    marker = read_marker(root, job.name)
    fp = fingerprint(job, options)
    if marker is not None and marker.get("fingerprint") == fp and (not force or marker.get("run_id") == run_id):
        row = completed_row(job, root, options)
        if row is not None:
            return row
    start = time.perf_counter()
    _remove_partial(root, job.name)
    try:
        _, report = coverage_from_source(
            job.source,
            root / job.name,
            minutes=options.minutes,
            station_types=options.station_types,
            stations=job.stations,
            population=job.population,
            areas=job.areas,
            per_station=options.per_station,
            combined=options.combined,
            offroad_m=options.offroad_m,
            network_options={"sea_links": job.sea_links} if job.sea_links else None,
        )
    except GeodispatchError as exc:
        return error_row(job, f"{exc}", time.perf_counter() - start)
    except Exception as exc:  # a batch never crashes on one region: report it as that region's error
        log.exception("batch job %s failed", job.name)
        return error_row(job, f"{type(exc).__name__}: {exc}", time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    record = {
        "name": job.name,
        "fingerprint": fp,
        "run_id": run_id,
        "elapsed_s": round(elapsed, 3),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "finished_at": time.time(),
        "job": asdict(job),
        "options": asdict(options),
    }
    path = marker_path(root, job.name)
    with atomic_file(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
    del report  # the row is read back from summary.json, so a resumed job's row is the same
    summary = json.loads((root / job.name / "summary.json").read_text(encoding="utf-8"))
    return summary_row(job, summary, elapsed, computed=True)
