"""Unit statuses ``at_hospital`` and ``returning``: the API speaks the engine's eight statuses.

The ambulance's hospital leg (``transporting`` -> ``at_hospital`` -> ``returning``) is what the
engine and the simulation already model; the API's CHECK constraints allowed only six statuses.
``at_hospital`` is an assigned status (the unit still has its incident); ``returning`` is free.

PostgreSQL drops and re-adds the two CHECK constraints of ``units``. SQLite cannot alter a
CHECK, so ``units`` is rebuilt (create, copy, drop, rename, re-index) inside the migration's
transaction; :func:`geodispatch.api.migrate.upgrade` turns SQLite's foreign-key enforcement off
around the migration (as SQLite's own table-rebuild procedure requires, since ``assignments``
refers to ``units``) and checks every foreign key before it commits.

Revision ID: 0006_unit_hospital_statuses
Revises: 0005_events
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_unit_hospital_statuses"
down_revision = "0005_events"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)

# The constraints as this revision creates them (frozen: see 0001_initial).
UNIT_STATUS_CHECK = (
    "status IN ('available', 'dispatched', 'en_route', 'on_scene', 'transporting', 'at_hospital', "
    "'returning', 'out_of_service')"
)
UNIT_INCIDENT_CHECK = (
    "(incident_id IS NULL) = (status NOT IN ('dispatched', 'en_route', 'on_scene', 'transporting', 'at_hospital'))"
)
OLD_UNIT_STATUS_CHECK = (
    "status IN ('available', 'dispatched', 'en_route', 'on_scene', 'transporting', 'out_of_service')"
)
OLD_UNIT_INCIDENT_CHECK = (
    "(incident_id IS NULL) = (status NOT IN ('dispatched', 'en_route', 'on_scene', 'transporting'))"
)
_COLUMNS = ("id, type, station_id, lon, lat, capabilities, status, incident_id, created_at, updated_at, "
            "position_time, home_lon, home_lat, agency_id")


def _rebuild_units_sqlite(status_check: str, incident_check: str) -> None:
    """Rebuild ``units`` with these CHECK constraints: same columns, keys and indexes."""
    op.create_table(
        "units_new",
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
        sa.Column("position_time", _TS, nullable=False, server_default=sa.text("'1970-01-01 00:00:00+00:00'")),
        sa.Column("home_lon", sa.Float(), nullable=True),
        sa.Column("home_lat", sa.Float(), nullable=True),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name="fk_units_station_id_stations"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_units_incident_id_incidents"),
        sa.CheckConstraint(status_check, name="ck_units_status"),
        sa.CheckConstraint(incident_check, name="ck_units_incident_matches_status"),
    )
    op.execute(f"INSERT INTO units_new ({_COLUMNS}) SELECT {_COLUMNS} FROM units")
    op.drop_index("ix_units_incident_id", "units")
    op.drop_index("ix_units_agency_id", "units")
    op.drop_table("units")
    op.rename_table("units_new", "units")
    op.create_index("ix_units_incident_id", "units", ["incident_id"])
    op.create_index("ix_units_agency_id", "units", ["agency_id"])


def _set_checks(status_check: str, incident_check: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_units_sqlite(status_check, incident_check)
        return
    op.drop_constraint("ck_units_status", "units", type_="check")
    op.drop_constraint("ck_units_incident_matches_status", "units", type_="check")
    op.create_check_constraint("ck_units_status", "units", status_check)
    op.create_check_constraint("ck_units_incident_matches_status", "units", incident_check)


def upgrade() -> None:
    _set_checks(UNIT_STATUS_CHECK, UNIT_INCIDENT_CHECK)


def downgrade() -> None:
    # Units in the new statuses have no place in the old vocabulary: at the hospital still works
    # the call (transporting), returning is free (available).
    op.execute("UPDATE units SET status = 'transporting' WHERE status = 'at_hospital'")
    op.execute("UPDATE units SET status = 'available' WHERE status = 'returning'")
    _set_checks(OLD_UNIT_STATUS_CHECK, OLD_UNIT_INCIDENT_CHECK)
