"""map tally: the regional map's figures, counted by a job

Issue 19.1, docs/map.md: one row per measure, sub-key (kind, category or stage), topic (0: every topic) and region
(0: no region; -1: when the measure was counted). A new table only: nothing existing changes.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "map_tallies",
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("sub_key", sa.String(length=60), nullable=False),
        sa.Column("topic_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("region_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("measure", "sub_key", "topic_id", "region_id", name=op.f("pk_map_tallies")),
    )


def downgrade() -> None:
    op.drop_table("map_tallies")
