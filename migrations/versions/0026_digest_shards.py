"""digest shards

Issue 21.3, docs/mailing.md "Several workers": a digest run is cut into fixed ranges of subscription ids that
several workers build at once, each under a lock of its own; a shard's row says whether it is done, so a finished
shard whose last subscriptions had nothing new is never rebuilt. A new table only: nothing existing changes.

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_shards",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column(
            "status", sa.Enum("waiting", "done", name="digestshardstatus", native_enum=False, length=40), nullable=False
        ),
        sa.Column("worker", sa.String(length=80), nullable=False),
        sa.Column("considered", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("skipped_empty", sa.Integer(), nullable=False),
        sa.Column("already_sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("started_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["digest_runs.id"], name=op.f("fk_digest_shards_run_id_digest_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "shard", name=op.f("pk_digest_shards")),
    )


def downgrade() -> None:
    op.drop_table("digest_shards")
