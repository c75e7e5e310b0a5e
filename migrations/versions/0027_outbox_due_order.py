"""outbox due order

The dispatcher claims ``ORDER BY next_attempt_at, id LIMIT 1000 FOR UPDATE SKIP LOCKED``. With only
``ix_outbox_due (status, next_attempt_at)`` PostgreSQL read every due row and sorted them all under the lock step
for each claim (LockRows sits between Limit and Sort, so no top-N sort): 414 ms per claim with 180,000 queued,
spilling to disk; a digest run of 1,000,000 queues that many and more. A partial index in the claim's order over
the rows that can still be claimed makes a claim read its 1,000 rows: 1.4 ms (issue 21.3, bench/digests_workers.py).

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep identical to crm.models.outbox.DUE_ORDER_WHERE.
WHERE = "status IN ('queued', 'retry')"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_due_order",
        "outbox_messages",
        ["next_attempt_at", "id"],
        postgresql_where=sa.text(WHERE),
        sqlite_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_due_order", table_name="outbox_messages")
