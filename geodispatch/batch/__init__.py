"""Many regions at once as Dask tasks: ``geodispatch batch coverage``.

A manifest (:mod:`.manifest`) lists the regions; each job (:mod:`.jobs`) runs on a Dask worker
exactly what ``geodispatch coverage`` runs and writes ``DIR/<name>/`` atomically; the client
(:mod:`.run`) skips complete jobs, gathers one row per job and writes the national table and
map (:mod:`.national`). The cluster (:mod:`.cluster`) is a local one of worker processes or any
running Dask scheduler (``dask scheduler`` / ``dask worker``, dask-jobqueue, dask-kubernetes).
"""

from geodispatch.batch.jobs import CoverageOptions, run_coverage_job
from geodispatch.batch.manifest import Job, read_manifest
from geodispatch.batch.national import match_jobs, read_boundaries, write_national
from geodispatch.batch.run import BatchResult, run_batch_coverage

__all__ = [
    "BatchResult",
    "CoverageOptions",
    "Job",
    "match_jobs",
    "read_boundaries",
    "read_manifest",
    "run_batch_coverage",
    "run_coverage_job",
    "write_national",
]
