"""event networking: who's going, introductions after the event, speed networking

Attendees opt in at RSVP to show their name to other attendees and to be introduced to people with complementary
interests (``invitations.share_with_attendees``, ``wants_introductions``, ``looking_for``); the proposed pairs the
fellow reviews (``event_introductions``); events of the speed-networking format (``events.speed_networking``).
Issue 20 item 5, docs/events.md.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("speed_networking", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("share_with_attendees", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("wants_introductions", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("looking_for", sa.String(length=500), nullable=False, server_default=""))
    op.create_table(
        "event_introductions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("first_invitation_id", sa.Integer(), nullable=False),
        sa.Column("second_invitation_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", crm.models.base.JSONType, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "proposed", "approved", "dismissed", "sent", name="introductionstatus", native_enum=False, length=40
            ),
            nullable=False,
        ),
        sa.Column("decided_by", sa.String(length=320), nullable=False),
        sa.Column("decided_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_introductions_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["first_invitation_id"],
            ["invitations.id"],
            name=op.f("fk_event_introductions_first_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["second_invitation_id"],
            ["invitations.id"],
            name=op.f("fk_event_introductions_second_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_introductions")),
        sa.UniqueConstraint(
            "event_id", "first_invitation_id", "second_invitation_id", name="uq_event_introductions_pair"
        ),
    )
    op.create_index(op.f("ix_event_introductions_event_id"), "event_introductions", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_table("event_introductions")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("looking_for")
        batch_op.drop_column("wants_introductions")
        batch_op.drop_column("share_with_attendees")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("speed_networking")
