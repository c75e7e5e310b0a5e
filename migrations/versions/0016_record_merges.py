"""record merges: what each merge of two contacts or organisations changed, so it can be undone for 30 days

Issue 17.5, docs/directory.md "Merge".

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import crm.models.base

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "record_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("keep_id", sa.Integer(), nullable=False),
        sa.Column("drop_id", sa.Integer(), nullable=False),
        sa.Column("drop_name", sa.String(length=300), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("undone_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=320), nullable=False),
        sa.Column("undo_notes", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_record_merges_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_merges")),
    )
    with op.batch_alter_table("record_merges", schema=None) as batch_op:
        batch_op.create_index("ix_record_merges_keep", ["entity", "keep_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("record_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_record_merges_keep")
    op.drop_table("record_merges")
