"""Events: the server-push feed of the console (``GET /events``), one row per changed entity.

Each write transaction that changes units, incidents or stations appends, in the same
transaction, one row per changed entity with its new state (the JSON the API returns for it).
Ids grow in commit order (``AUTOINCREMENT`` on SQLite, whose writers are serialised; on
PostgreSQL the writer takes a transaction-level advisory lock just before inserting), so a
client that saw id N has seen every event up to N and resumes with ``Last-Event-ID: N``.

Revision ID: 0005_events
Revises: 0004_audit_hash_chain
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_events"
down_revision = "0004_audit_hash_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entity_type", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("events")
