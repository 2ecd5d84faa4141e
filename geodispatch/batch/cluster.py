"""Connecting to Dask: a local cluster of worker processes, or an existing scheduler.

Batch jobs are CPU-bound Python and numba: each worker is one process with one thread, so
``--workers N`` means N regions at a time.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from geodispatch.errors import InputError

log = logging.getLogger(__name__)


def default_workers() -> int:
    """Worker processes of a local cluster by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def check_cluster_args(scheduler: str | None, workers: int | None) -> None:
    """Raise :class:`InputError` for both ``scheduler`` and ``workers``, or a worker count below 1."""
    if scheduler and workers is not None:
        raise InputError("give --scheduler or --workers, not both (the cluster's workers are started with it)")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, timeout_s: float = 60.0) -> Iterator[Any]:
    """A ``distributed.Client`` on ``scheduler``, or on a local cluster of ``workers`` processes.

    Parameters
    ----------
    scheduler : str, optional
        Scheduler address (``tcp://host:8786``) or a scheduler file (JSON written by
        ``dask scheduler --scheduler-file``).
    workers : int, optional
        Worker processes of the local cluster (default :func:`default_workers`); not allowed
        with ``scheduler``.
    timeout_s : float
        How long to wait for the scheduler and for a first worker, seconds.

    Raises
    ------
    InputError
        Both ``scheduler`` and ``workers``, a non-positive worker count, or a scheduler that
        cannot be reached or has no worker within ``timeout_s``.
    """
    from distributed import Client, LocalCluster

    check_cluster_args(scheduler, workers)
    if scheduler:
        kwargs: dict[str, Any] = {"timeout": timeout_s}
        if scheduler.endswith(".json") and os.path.isfile(scheduler):
            kwargs["scheduler_file"] = scheduler
        else:
            kwargs["address"] = scheduler
        try:
            client = Client(**kwargs)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it with "
                             "'dask scheduler' or check the address") from exc
        try:
            try:
                client.wait_for_workers(1, timeout=timeout_s)
            except TimeoutError as exc:
                raise InputError(f"the Dask scheduler at {scheduler} has no worker after {timeout_s:g} s; start "
                                 f"some with 'dask worker {scheduler}'") from exc
            yield client
        finally:
            client.close()
        return
    n = workers if workers is not None else default_workers()
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0" if _has_bokeh() else None,
        silence_logs=logging.ERROR,
    )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard URL when the scheduler serves one (it needs bokeh), else None."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # an unreachable scheduler has no dashboard to show
        return None
    return str(client.dashboard_link) if "dashboard" in services else None
