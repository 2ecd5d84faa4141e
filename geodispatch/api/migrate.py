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
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)  # type: ignore[arg-type]
    logger.info("database schema at revision %s", revision)


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
