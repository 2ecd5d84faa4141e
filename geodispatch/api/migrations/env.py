"""Alembic environment: runs on the connection handed over by ``geodispatch.api.migrate``.

Used programmatically only (``geodispatch serve`` and ``geodispatch keys create`` migrate the
database to the newest revision before they use it).
"""

from __future__ import annotations

from alembic import context

from geodispatch.api.models import Base

target_metadata = Base.metadata


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("geodispatch migrations run through geodispatch.api.migrate.upgrade(engine)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
