"""Schema migrations: Alembic ``upgrade head`` on an engine, from the packaged revisions."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
"""The packaged Alembic script directory (``env.py`` and ``versions/``)."""


def _config(connection: object) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (default: the newest).

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Target database.
    revision : str
        Alembic revision id, or ``head``.
    """
    _run(engine, "upgrade", revision)
    logger.info("database schema at revision %s", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database behind ``engine`` back to ``revision`` (an Alembic revision id)."""
    _run(engine, "downgrade", revision)
    logger.info("database schema at revision %s", revision)


def _run(engine: Engine, direction: str, revision: str) -> None:
    """Run Alembic ``upgrade``/``downgrade`` in one transaction.

    On SQLite, foreign-key enforcement is off for the migration (set on the raw connection,
    before the transaction: SQLite ignores the pragma inside one) because a CHECK change
    rebuilds a table other tables refer to (SQLite's documented table-rebuild procedure);
    every foreign key is checked before the commit, and enforcement is back on afterwards.
    """
    from alembic import command

    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                getattr(command, direction)(_config(connection), revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration to {revision} would break foreign keys: {broken[:5]}")
        finally:
            if sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest packaged revision id."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    if head is None:  # pragma: no cover - packaging error
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head
