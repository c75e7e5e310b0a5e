"""timeline notes and tasks

Notes and tasks the fellow adds to a contact or an organisation, shown on its timeline; overdue tasks go in the
weekly nudge (issue 17.3, docs/directory.md "Timeline, notes and tasks").

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ONE_RECORD = "(contact_id IS NULL) <> (organisation_id IS NULL)"


def _owner_columns(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_ONE_RECORD, name=op.f(f"ck_{table}_one_record")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f(f"fk_{table}_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f(f"fk_{table}_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "timeline_notes",
        *_owner_columns("timeline_notes"),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_timeline_notes_author_id_users"), ondelete="SET NULL"
        ),
    )
    with op.batch_alter_table("timeline_notes", schema=None) as batch_op:
        batch_op.create_index("ix_timeline_notes_contact", ["contact_id", "created_at"], unique=False)
        batch_op.create_index("ix_timeline_notes_organisation", ["organisation_id", "created_at"], unique=False)

    op.create_table(
        "timeline_tasks",
        *_owner_columns("timeline_tasks"),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("done_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_timeline_tasks_owner_id_users"), ondelete="SET NULL"
        ),
    )
    with op.batch_alter_table("timeline_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_timeline_tasks_contact", ["contact_id", "created_at"], unique=False)
        batch_op.create_index("ix_timeline_tasks_organisation", ["organisation_id", "created_at"], unique=False)
        batch_op.create_index("ix_timeline_tasks_owner_open", ["owner_id", "done_at", "due_date"], unique=False)
        batch_op.create_index("ix_timeline_tasks_open_due", ["done_at", "due_date"], unique=False)


def downgrade() -> None:
    op.drop_table("timeline_tasks")
    op.drop_table("timeline_notes")
