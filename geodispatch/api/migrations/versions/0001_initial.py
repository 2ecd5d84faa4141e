"""Initial schema: API keys, stations, units, incidents, assignments, append-only audit log.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The constraints as this revision created them (frozen here: a revision describes its own
# schema, so later changes of the models' vocabulary go into new revisions, e.g. 0006).
ROLE_CHECK = "role IN ('dispatcher', 'unit', 'planner', 'admin')"
INCIDENT_STATUS_CHECK = (
    "status IN ('open', 'dispatched', 'en_route', 'on_scene', 'transporting', 'closed', 'cancelled')"
)
UNIT_STATUS_CHECK = (
    "status IN ('available', 'dispatched', 'en_route', 'on_scene', 'transporting', 'out_of_service')"
)
UNIT_INCIDENT_CHECK = (
    "(incident_id IS NULL) = (status NOT IN ('dispatched', 'en_route', 'on_scene', 'transporting'))"
)

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        sa.CheckConstraint(ROLE_CHECK, name="ck_api_keys_role"),
    )
    op.create_table(
        "stations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stations"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("recommendation", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.CheckConstraint(INCIDENT_STATUS_CHECK, name="ck_incidents_status"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "units",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name="fk_units_station_id_stations"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_units_incident_id_incidents"),
        sa.CheckConstraint(UNIT_STATUS_CHECK, name="ck_units_status"),
        sa.CheckConstraint(UNIT_INCIDENT_CHECK, name="ck_units_incident_matches_status"),
    )
    op.create_index("ix_units_incident_id", "units", ["incident_id"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("assigned_at", _TS, nullable=False),
        sa.Column("released_at", _TS, nullable=True),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_assignments"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_assignments_incident_id_incidents"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_assignments_unit_id_units"),
    )
    op.create_index("ix_assignments_incident_id", "assignments", ["incident_id"])
    op.create_index(
        "uq_assignments_active_unit",
        "assignments",
        ["unit_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity_type", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id"])
    _append_only_audit()


def _append_only_audit() -> None:
    """Triggers that reject UPDATE and DELETE on audit_log (append-only in the database)."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in ("audit_log", "assignments", "units", "incidents", "stations", "api_keys"):
        op.drop_table(table)
