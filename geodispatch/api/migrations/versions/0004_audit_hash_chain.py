"""Audit log: hash chain, and append-only against ``INSERT OR REPLACE`` and ``TRUNCATE``.

Adds ``prev_hash`` and ``hash`` to ``audit_log`` and chains the existing rows in id order
(see :mod:`geodispatch.api.audit`). SQLite: a BEFORE INSERT trigger refuses a row whose id
exists (``INSERT OR REPLACE`` would otherwise delete the old row without firing the DELETE
trigger). PostgreSQL: a statement-level BEFORE TRUNCATE trigger (row triggers do not fire on
TRUNCATE), and UPDATE, DELETE and TRUNCATE on ``audit_log`` revoked from PUBLIC and from the
role running the migration (the application's role when it migrates at start-up; a superuser
keeps every right, so run the server as an ordinary role).

Revision ID: 0004_audit_hash_chain
Revises: 0003_agencies
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geodispatch.api.audit import GENESIS, row_hash

revision = "0004_audit_hash_chain"
down_revision = "0003_agencies"
branch_labels = None
depends_on = None

_SQLITE_NO_REPLACE = (
    "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
    "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id) "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
)
_SQLITE_NO_UPDATE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
)


def _chain_existing_rows() -> None:
    bind = op.get_bind()
    table = sa.table(
        "audit_log", *(sa.column(c) for c in ("id", "key_id", "role", "action", "entity_type", "entity_id")),
        sa.column("at", sa.DateTime(timezone=True)), sa.column("before", sa.JSON()), sa.column("after", sa.JSON()),
        sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()),
    )
    prev = GENESIS
    for row in bind.execute(sa.select(table).order_by(table.c.id)).all():
        digest = row_hash(prev, row)
        bind.execute(sa.update(table).where(table.c.id == row.id).values(prev_hash=prev, hash=digest))
        prev = digest


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER audit_log_no_update")
    else:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    op.execute("ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR(64)")
    op.execute("ALTER TABLE audit_log ADD COLUMN hash VARCHAR(64)")
    _chain_existing_rows()
    if sqlite:
        op.execute(_SQLITE_NO_UPDATE)
        op.execute(_SQLITE_NO_REPLACE)
    else:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC, CURRENT_USER")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_replace")
    else:
        op.execute("GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO CURRENT_USER")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    for column in ("hash", "prev_hash"):
        op.execute(f"ALTER TABLE audit_log DROP COLUMN {column}")
