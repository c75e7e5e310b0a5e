"""internship hosts

Hosts post their own placements through a moderated public form and manage them through a private signed link
(``host_posted``, ``manage_key`` — the secret a new link replaces —, ``manage_link_sent_at``); registrations of
interest have a status the host and the fellow change (new / contacted / shortlisted / declined / offered) and
remember what the applicant was last told (issue 20 items 8 and 9, docs/internships.md).

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("internships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host_posted", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("manage_key", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("manage_link_sent_at", crm.models.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("internship_interests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "new",
                    "contacted",
                    "shortlisted",
                    "declined",
                    "offered",
                    name="intereststatus",
                    native_enum=False,
                    length=40,
                ),
                nullable=False,
                server_default="new",
            )
        )
        batch_op.add_column(sa.Column("status_changed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("notified_status", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("notified_at", crm.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("internship_interests", schema=None) as batch_op:
        batch_op.drop_column("notified_at")
        batch_op.drop_column("notified_status")
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("status")
    with op.batch_alter_table("internships", schema=None) as batch_op:
        batch_op.drop_column("manage_link_sent_at")
        batch_op.drop_column("host_posted")
        batch_op.drop_column("manage_key")
