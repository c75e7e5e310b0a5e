"""archive: organisations, contacts and partnerships can be archived

Kept with their history, left out of the admin lists (unless asked for), the public directory, audiences, the
partnership board and the nudges (issue 17.4). Plain ADD COLUMN, not batch mode: on SQLite a batch rebuild would
drop the organisations' full-text triggers.

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("organisations", "contacts", "partnerships")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("archived_at", crm.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("archived_at")
