"""The FastAPI application factory.

``create_app(source, db_url)`` loads the scenario (road network, stations, SOP) once, migrates
the database to the newest schema, and mounts one router per resource. Every error leaves as
``{"error": code, "detail": message}`` (see :mod:`geodispatch.api.errors`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI

from geodispatch import settings
from geodispatch.api import events as _events  # records the /events feed in every write
from geodispatch.api.db import Database
from geodispatch.api.deps import reject_unknown_query
from geodispatch.api.errors import BodySizeLimit, error_responses, install_error_handlers
from geodispatch.api.middleware import Deadline, RejectControlCharacters
from geodispatch.api.routers import (
    agencies,
    audit,
    events,
    health,
    incident_aids,
    incidents,
    keys,
    reach,
    region,
    stations,
    status,
    units,
)
from geodispatch.api.routers.console import mount_console
from geodispatch.api.runtime import DEFAULT_MAX_BODY_BYTES, DEFAULT_SNAP_LIMIT_M, Runtime
from geodispatch.api.timing import ServerTiming
from geodispatch.errors import InputError
from geodispatch.scenario import Scenario, load_scenario

logger = logging.getLogger(__name__)

DEFAULT_MAX_THREADS = 4
"""Requests processed at once by default (see ``create_app``)."""


def create_app(
    source: str | os.PathLike[str] | Scenario,
    db_url: str,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    migrate: bool = True,
    max_threads: int = DEFAULT_MAX_THREADS,
    overdue_sweep_s: float | None = None,
    ack_timeout_s: float | None = None,
    db_timeout_s: float | None = None,
    request_deadline_s: float | None = None,
    network_options: dict[str, Any] | None = None,
) -> FastAPI:
    """Build the dispatch API for one region.

    Parameters
    ----------
    source : str, path or Scenario
        What :func:`geodispatch.scenario.load_scenario` takes (``synthetic``, a region slug, a
        ``.graphml``/``.npz`` file...), or an already loaded scenario.
    db_url : str
        Database URL: ``sqlite:///FILE.db`` or ``postgresql+psycopg://USER@HOST:PORT/DB``.
    max_body_bytes : int
        Largest accepted request body, bytes (larger: 413).
    snap_limit_m : float
        Incidents and unit positions farther than this from a road are refused, metres; the
        engine snaps incidents and units with the same limit.
    migrate : bool
        Bring the database schema to the newest revision first.
    overdue_sweep_s : float, optional
        How often (seconds) forwards past their acknowledgement deadline are persisted as
        ``overdue`` and audited (default :data:`OVERDUE_SWEEP_S`; ``0`` turns the sweeper off,
        for tests that drive the clock themselves). Reads show overdue at once either way.
    ack_timeout_s : float, optional
        Seconds an agency has to acknowledge a forwarded report before it is overdue, instead of
        the region's ``ack_timeout_s`` (a drill, a test server).
    max_threads : int
        Requests handled at the same time (the rest wait in line). The work is CPU-bound
        Python: a few threads finish each request sooner than many threads sharing the GIL.
    db_timeout_s : float, optional
        Longest wait on the database before a 503 with ``Retry-After``, seconds (default
        :data:`geodispatch.settings.DB_TIMEOUT_S`).
    request_deadline_s : float, optional
        A request unanswered after this long gets 503 ``timeout``, seconds (default
        :data:`geodispatch.settings.REQUEST_DEADLINE_S`; 0 turns it off).
    network_options : dict, optional
        Passed to :func:`~geodispatch.scenario.load_scenario` with ``source`` (``ferries``,
        ``sea_links``: ``serve --no-ferries`` / ``--sea-links``); not with a loaded scenario.

    Returns
    -------
    fastapi.FastAPI
    """
    if isinstance(source, Scenario):
        if network_options:
            raise InputError("network_options apply when create_app loads the scenario; pass them to load_scenario")
        scenario = source
    else:
        scenario = load_scenario(source, **(network_options or {}))
    if ack_timeout_s is not None:
        if not 0 < ack_timeout_s <= 3600:
            raise InputError(f"the acknowledgement timeout must be 0 < seconds <= 3600, got {ack_timeout_s:g}")
        scenario = dataclasses.replace(scenario, ack_timeout_s=float(ack_timeout_s))
    db = Database(db_url, timeout_s=db_timeout_s)
    if migrate:
        db.upgrade()
    sweep_every = OVERDUE_SWEEP_S if overdue_sweep_s is None else float(overdue_sweep_s)
    runtime = Runtime(scenario=scenario, db=db, snap_limit_m=snap_limit_m)
    _events.register_runtime(runtime)
    _warm_up(runtime)
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = max_threads
        async with anyio.create_task_group() as tasks:
            if scenario.agencies and sweep_every > 0:
                tasks.start_soon(_sweep_overdue, runtime, sweep_every)
            yield
            tasks.cancel_scope.cancel()
        await events.stop_hub(runtime)
        db.dispose()

    app = FastAPI(
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
        title="geodispatch dispatch API",
        version=_version(),
        description=(
            f"Units, incidents and dispatch for {scenario.name}. Send `Authorization: Bearer <key>` "
            "(keys from `geodispatch keys create`). Coordinates are lon/lat degrees (EPSG:4326), times seconds."
        ),
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RejectControlCharacters)
    app.add_middleware(ServerTiming)
    deadline = settings.REQUEST_DEADLINE_S if request_deadline_s is None else request_deadline_s
    app.add_middleware(Deadline, seconds=deadline)
    for module in (health, stations, units, incidents, incident_aids, agencies, status, reach, audit, keys, region,
                   events):
        app.include_router(module.router, responses=error_responses(*_STATUSES[module.router.tags[0]]))
    _maybe_coverage(app)
    mount_console(app)
    logger.info("serving %s (%d nodes) on %r", scenario.name, scenario.network.n_nodes, db)
    _warn_without_keys(runtime)
    return app


OVERDUE_SWEEP_S = 5.0
"""How often the server marks forwards past their acknowledgement deadline ``overdue`` (seconds)."""


async def _sweep_overdue(runtime: Runtime, every_s: float = OVERDUE_SWEEP_S) -> None:
    """Every ``every_s`` seconds, persist and audit the forwards that became overdue."""
    from geodispatch.api.workflow import mark_overdue

    def sweep() -> None:
        with runtime.db.write() as session:
            mark_overdue(session, runtime)

    while True:
        await anyio.sleep(every_s)
        try:
            await anyio.to_thread.run_sync(sweep)
        except Exception:  # a database outage must not stop the sweeper: log and try again later
            logger.exception("marking overdue acknowledgements failed; retrying in %.0f s", every_s)


SERVE_ENV = "GEODISPATCH_SERVE"
"""Environment variable carrying ``create_app``'s arguments (JSON) to ``serve --workers`` processes."""


def serve_environment(source: str, db_url: str, **options: Any) -> str:
    """The :data:`SERVE_ENV` value that gives every ``serve --workers`` process ``create_app(source,
    db_url, **options)`` (JSON; paths among the ``network_options`` become text)."""
    import json

    network = {k: (os.fspath(v) if isinstance(v, os.PathLike) else v)
               for k, v in (options.pop("network_options", None) or {}).items()}
    return json.dumps({"source": str(source), "db_url": db_url, **options, "network_options": network})


def app_from_env() -> FastAPI:
    """The app of one worker process of ``geodispatch serve --workers N`` (uvicorn factory).

    Each process loads the scenario and serves the same database; the parent migrated it
    first. Dispatch stays one-unit-one-incident across processes because the guarantees live in
    the database (SQLite's single writer, PostgreSQL row locks, the partial unique index), and
    audit appends are serialised there too.
    """
    import json
    import sys

    sys.setswitchinterval(0.001)
    return create_app(**json.loads(os.environ[SERVE_ENV]), migrate=False)


def _warm_up(runtime: Runtime) -> None:
    """Build the lazily made search structures now, not in the first dispatcher's request."""
    from sqlalchemy import select

    from geodispatch.api.models import Unit

    net = runtime.network
    _ = net.csr, net.csr_reverse, net.edge_tree
    with runtime.db.read() as session:
        rows = session.execute(select(Unit.lon, Unit.lat, Unit.home_lon, Unit.home_lat, Unit.type)).all()
    bases = [(r.home_lon, r.home_lat) if r.home_lon is not None else (r.lon, r.lat) for r in rows]
    runtime.prepare_positions([b[0] for b in bases], [b[1] for b in bases], [r.type for r in rows])
    _warm_engine(runtime)


def _warm_engine(runtime: Runtime) -> None:
    """One throwaway recommendation between two road nodes, nothing stored.

    The search kernels are compiled on first use (numba: seconds on a fresh install, longer on
    a busy machine); without this the first dispatcher's ``POST /incidents`` pays for it and can
    run into the request timeout. A failure here is logged and the server starts anyway: the
    first real request then reports it as usual.
    """
    from geodispatch.assign import Incident as EngineIncident
    from geodispatch.assign import Unit as EngineUnit
    from geodispatch.assign import recommend
    from geodispatch.assign.model import requirements_for, resolve_sop

    scenario = runtime.scenario
    net = runtime.network
    try:
        sop = resolve_sop(scenario.sop or None)
        itype = next(iter(sop))
        lon, lat = net.lon, net.lat
        incident = EngineIncident(id="warm-up", type=itype, priority=1, lon=float(lon[0]), lat=float(lat[0]))
        needs = requirements_for(incident, sop)
        units = [EngineUnit(id=f"warm-up-{i}", type=req.type, lon=float(lon[-1]), lat=float(lat[-1]),
                            capabilities=tuple(req.capabilities)) for i, req in enumerate(needs)]
        recommend(net, units, incident, sop=scenario.sop or None, population=scenario.population,
                  target_s=scenario.target_response_s, snap_limit_m=runtime.snap_limit_m, engine=runtime.eta_engine)
    except Exception:  # never stop the server from starting; the first request will say what is wrong
        logger.warning("warming up the recommendation engine failed", exc_info=True)


def _warn_without_keys(runtime: Runtime) -> None:
    """There is no default key: say how to make the first one."""
    from sqlalchemy import func, select

    from geodispatch.api.models import ApiKey

    with runtime.db.read() as session:
        n_keys = session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None)))
    if not n_keys:
        logger.warning(
            "no API keys yet: every request except /health will get 401; make one with "
            "'geodispatch keys create --role admin --db <the same URL>'"
        )


_ALL = (400, 401, 403, 404, 409, 413, 422, 429, 503)
_STATUSES: dict[str, tuple[int, ...]] = {
    "health": (422, 503), "public": (404, 422, 429, 503), "queries": _ALL, "units": _ALL, "stations": _ALL,
    "incidents": _ALL, "agencies": _ALL, "audit": _ALL, "keys": _ALL, "map": _ALL, "events": _ALL,
}
"""Documented error statuses per router tag (every one of them can answer any of _ALL: a bad key,
a body too large, a database timeout...)."""


def _maybe_coverage(app: Any) -> None:
    """Mount ``GET /coverage`` when the coverage stage is installed."""
    import importlib

    try:
        coverage = importlib.import_module("geodispatch.api.routers.coverage")
    except ImportError as exc:  # pragma: no cover - depends on the coverage stage
        logger.warning("GET /coverage is not available: %s", exc)
        return
    app.include_router(coverage.router, responses=error_responses(*_ALL))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("geodispatch")
    except PackageNotFoundError:  # pragma: no cover
        return "0"
