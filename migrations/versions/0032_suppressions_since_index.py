"""suppressions: an index for the admin list's "Newest first" (by the date shown, "Since")

The list sorted by id, but an address suppressed again after a lift keeps its row (and id) with a new date, so it
sat among older entries under a "Since" column marked as the sort. Sorting by ``created_at`` needs this index to
stay a keyset read of one page at any size. Plain ``create_index`` (no table rebuild).

Revision ID: 0032
Revises: 0031
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_suppressions_created", "suppressions", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_suppressions_created", table_name="suppressions")
