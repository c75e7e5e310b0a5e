"""outbox status index: only the states that are not queued or sent

``ix_outbox_due (status, next_attempt_at)`` covered every row version. Two costs at the scale of a digest run:

- The claim's plan flipped. With statistics taken before a run queued its rows (or none, after a TRUNCATE),
  PostgreSQL estimated ~1,000 due rows and chose a bitmap scan of ``ix_outbox_due`` plus a sort of every due row
  (spilling to disk) over ``ix_outbox_due_order``'s ordered read of 1,000: at 600,000 queued each claim took
  seconds, and a run of 1,000,000 digests stalled its dispatchers (issue 21.3, bench/digests_workers.py).
- Every version of every row (queued, claimed, handed over, sent) added an entry to it.

Queued and retry rows are found through ``ix_outbox_due_order``; sent rows are most of the table and are read by
id. What still needs an index by status is the rest, the few rows in flight or needing attention: settling
(``sending`` past its lease, ``ambiguous``) and the admin outbox's status filter (newest first, by id).

Revision ID: 0029
Revises: 0028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep identical to crm.models.outbox.OTHER_STATES_WHERE.
WHERE = "status NOT IN ('queued', 'sent')"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_other_states",
        "outbox_messages",
        ["status", "id"],
        postgresql_where=sa.text(WHERE),
        sqlite_where=sa.text(WHERE),
    )
    op.drop_index("ix_outbox_due", table_name="outbox_messages")


def downgrade() -> None:
    op.create_index("ix_outbox_due", "outbox_messages", ["status", "next_attempt_at"])
    op.drop_index("ix_outbox_other_states", table_name="outbox_messages")
