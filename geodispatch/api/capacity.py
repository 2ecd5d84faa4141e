"""Capacity apart for the planners: ``/coverage`` and ``/reach`` never take the dispatchers' threads.

The dispatch endpoints run on the server's worker threads (``max_threads``). The planner
queries, which can take seconds on a large network, run on a :class:`PlannerPool` of their
own: ``workers`` at a time, ``queue`` more waiting, and beyond that an immediate 429 ``busy``
with ``Retry-After`` instead of a queue that grows until dispatchers wait behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from geodispatch.errors import ServerBusyError

T = TypeVar("T")

PLANNER_WORKERS = 1
"""Planner queries computed at once (per server process)."""

PLANNER_QUEUE = 4
"""Planner queries allowed to wait for a planner thread; more are refused (429)."""


class PlannerPool:
    """A bounded pool of threads for expensive read-only queries.

    Parameters
    ----------
    workers : int
        Queries computed at once.
    queue : int
        Queries that may wait; one more is refused with :class:`ServerBusyError`.
    """

    def __init__(self, workers: int = PLANNER_WORKERS, queue: int = PLANNER_QUEUE) -> None:
        self.workers = int(workers)
        self.queue = int(queue)
        self._limiter: anyio.CapacityLimiter | None = None
        self._pending = 0  # touched only from the event loop

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a planner thread, or raise :class:`ServerBusyError` when full."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.workers)
        if self._pending >= self.workers + self.queue:
            raise ServerBusyError(
                f"{self._pending} planner queries are running or waiting (limit {self.workers + self.queue}); "
                "dispatch is not affected: retry this one in a few seconds"
            )
        self._pending += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        finally:
            self._pending -= 1
