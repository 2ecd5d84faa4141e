"""Agencies (OPD): forwards of each incident, the commanding agency, public status tokens,
units and keys bound to an agency, and the ``agency`` key role.

The role CHECK constraint changes: PostgreSQL drops and adds it; SQLite cannot alter a CHECK,
so ``api_keys`` is rebuilt (copy, drop, rename) inside the migration's transaction.

Revision ID: 0003_agencies
Revises: 0002_unit_position_time_home
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The constraints as this revision created them (frozen: see 0001_initial).
ROLE_CHECK = "role IN ('dispatcher', 'unit', 'planner', 'admin', 'agency')"
FORWARD_STATUS_CHECK = "status IN ('notified', 'acknowledged', 'overdue', 'escalated')"

revision = "0003_agencies"
down_revision = "0002_unit_position_time_home"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _api_keys_sqlite(role_check: str) -> None:
    op.create_table(
        "api_keys_new",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        sa.CheckConstraint(role_check, name="ck_api_keys_role"),
    )
    op.execute(
        "INSERT INTO api_keys_new (id, prefix, key_hash, role, unit_id, label, created_at, revoked_at) "
        "SELECT id, prefix, key_hash, role, unit_id, label, created_at, revoked_at FROM api_keys"
    )
    op.drop_table("api_keys")
    op.rename_table("api_keys_new", "api_keys")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _api_keys_sqlite(ROLE_CHECK)
    else:
        op.add_column("api_keys", sa.Column("agency_id", sa.String(64), nullable=True))
        op.drop_constraint("ck_api_keys_role", "api_keys", type_="check")
        op.create_check_constraint("ck_api_keys_role", "api_keys", ROLE_CHECK)
    op.add_column("units", sa.Column("agency_id", sa.String(64), nullable=True))
    op.create_index("ix_units_agency_id", "units", ["agency_id"])
    op.add_column("incidents", sa.Column("public_token", sa.String(64), nullable=True))
    op.add_column("incidents", sa.Column("command_agency_id", sa.String(64), nullable=True))
    op.create_index("uq_incidents_public_token", "incidents", ["public_token"], unique=True)
    op.create_table(
        "incident_forwards",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("unit_types", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("notified_at", _TS, nullable=False),
        sa.Column("acknowledged_at", _TS, nullable=True),
        sa.Column("escalated_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incident_forwards"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_forwards_incident_id_incidents"
        ),
        sa.CheckConstraint(FORWARD_STATUS_CHECK, name="ck_incident_forwards_status"),
    )
    op.create_index(
        "uq_incident_forwards_incident_agency", "incident_forwards", ["incident_id", "agency_id"], unique=True
    )
    op.create_index("ix_incident_forwards_agency_status", "incident_forwards", ["agency_id", "status"])


def downgrade() -> None:
    op.drop_table("incident_forwards")
    op.drop_index("uq_incidents_public_token", "incidents")
    op.drop_column("incidents", "command_agency_id")
    op.drop_column("incidents", "public_token")
    op.drop_index("ix_units_agency_id", "units")
    op.drop_column("units", "agency_id")
    old_roles = "role IN ('dispatcher', 'unit', 'planner', 'admin')"
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DELETE FROM api_keys WHERE role = 'agency'")
        _api_keys_sqlite(old_roles)  # rebuilt with the old check (agency_id column kept, unused)
    else:
        op.execute("DELETE FROM api_keys WHERE role = 'agency'")
        op.drop_constraint("ck_api_keys_role", "api_keys", type_="check")
        op.create_check_constraint("ck_api_keys_role", "api_keys", old_roles)
        op.drop_column("api_keys", "agency_id")
