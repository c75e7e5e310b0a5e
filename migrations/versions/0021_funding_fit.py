"""funding calls say whom they suit: funding type, application effort and four yes/no/not-stated answers

``funding_calls`` gains ``funding_type`` (core, project, capacity-building, small-grant, fellowship-or-training,
in-kind), ``application_effort`` (light, standard, heavy), ``open_to_unregistered``, ``open_to_user_led``,
``match_funding_required`` and ``lived_experience_payment``. Every column is nullable and existing calls keep NULL,
which pages show as "Not stated" (a tri-state answer, not "no"). Issue 19 section 2, docs/funding.md.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNDING_TYPES = ("core", "project", "capacity-building", "small-grant", "fellowship-or-training", "in-kind")
EFFORTS = ("light", "standard", "heavy")
ANSWERS = ("open_to_unregistered", "open_to_user_led", "match_funding_required", "lived_experience_payment")


def _columns() -> list[sa.Column]:
    return [
        sa.Column("funding_type", sa.Enum(*FUNDING_TYPES, name="fundingtype", native_enum=False, length=40)),
        sa.Column("application_effort", sa.Enum(*EFFORTS, name="applicationeffort", native_enum=False, length=40)),
        *(sa.Column(name, sa.Boolean(), nullable=True) for name in ANSWERS),
    ]


def upgrade() -> None:
    # Plain ADD COLUMN (no batch "move and copy" on SQLite, which would drop the triggers that keep the calls'
    # full-text index of 0010 in step).
    for column in _columns():
        op.add_column("funding_calls", column)


def downgrade() -> None:
    for column in reversed(_columns()):
        op.drop_column("funding_calls", column.name)
