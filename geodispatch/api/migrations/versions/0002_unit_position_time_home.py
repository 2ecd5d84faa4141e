"""Units: when the position was reported (``position_time``) and the home position.

``position_time`` is NOT NULL with a constant server default (SQLite cannot add a column whose
default is ``CURRENT_TIMESTAMP`` to a table that has rows): a row written without a report time
counts as reported long ago, i.e. stale. Existing units get their ``updated_at`` (their last
position or status change, the best known bound on the report time). Their home is their
station's position when they have a station, otherwise unknown (null: a stale report is then
used as is and flagged).

Revision ID: 0002_unit_position_time_home
Revises: 0001_initial
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geodispatch.api.models import NEVER_REPORTED

revision = "0002_unit_position_time_home"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "units",
        sa.Column(
            "position_time",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text(f"'{NEVER_REPORTED}'"),
        ),
    )
    op.add_column("units", sa.Column("home_lon", sa.Float(), nullable=True))
    op.add_column("units", sa.Column("home_lat", sa.Float(), nullable=True))
    op.execute("UPDATE units SET position_time = updated_at")
    op.execute(
        "UPDATE units SET "
        "home_lon = (SELECT stations.lon FROM stations WHERE stations.id = units.station_id), "
        "home_lat = (SELECT stations.lat FROM stations WHERE stations.id = units.station_id) "
        "WHERE station_id IS NOT NULL"
    )


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (PostgreSQL, SQLite >= 3.35): no table rebuild
    for column in ("home_lat", "home_lon", "position_time"):
        op.execute(f"ALTER TABLE units DROP COLUMN {column}")
