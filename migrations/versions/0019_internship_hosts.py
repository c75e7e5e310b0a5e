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


# Plain ADD / DROP COLUMN, never batch mode: on SQLite a batch "move and copy" recreates the table, which would drop
# the triggers that keep the internships' full-text index (migration 0010).
_INTERNSHIPS = [
    sa.Column("host_posted", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("manage_key", sa.String(length=64), nullable=False, server_default=""),
    sa.Column("manage_link_sent_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
]
_STATUSES = ("new", "contacted", "shortlisted", "declined", "offered")
_INTERESTS = [
    sa.Column(
        "status",
        sa.Enum(*_STATUSES, name="intereststatus", native_enum=False, length=40),
        nullable=False,
        server_default="new",
    ),
    sa.Column("status_changed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column("notified_status", sa.String(length=40), nullable=False, server_default=""),
    sa.Column("notified_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
]


def upgrade() -> None:
    for column in _INTERNSHIPS:
        op.add_column("internships", column)
    for column in _INTERESTS:
        op.add_column("internship_interests", column)


def downgrade() -> None:
    for column in reversed(_INTERESTS):
        op.drop_column("internship_interests", column.name)
    for column in reversed(_INTERNSHIPS):
        op.drop_column("internships", column.name)
