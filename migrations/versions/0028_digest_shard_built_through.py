"""digest shard built through

Issue 21.3: a shard row's counts now say which subscriptions they cover. ``built_through`` is the highest
subscription id whose counts are in the row, written in the same statement as the counts, so a worker that takes
over a dead builder's shard resumes right after it and counts nothing twice (resuming after the ledger's last
subscription re-counted the dead builder's trailing subscriptions that had nothing new). One column with a default.

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("digest_shards", sa.Column("built_through", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("digest_shards") as batch:
        batch.drop_column("built_through")
