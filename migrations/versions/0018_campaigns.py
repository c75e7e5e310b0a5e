"""campaigns: the fellow's announcements, their audience at send time

Issue 16, "News and campaigns".

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS = ("draft", "scheduled", "sending", "sent", "cancelled")
PART = ("subscribers", "contacts")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("preheader", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("cta_label", sa.String(length=80), nullable=False),
        sa.Column("cta_url", sa.String(length=500), nullable=False),
        sa.Column("sender_name", sa.String(length=120), nullable=False),
        sa.Column("audience", crm.models.base.JSONType, nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUS, name="campaignstatus", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("send_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("audience_summary", crm.models.base.JSONType, nullable=False),
        sa.Column("track_opens", sa.Boolean(), nullable=False),
        sa.Column("track_clicks", sa.Boolean(), nullable=False),
        sa.Column("publish_as_news", sa.Boolean(), nullable=False),
        sa.Column("news_slug", sa.String(length=220), nullable=True),
        sa.Column("published_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("duplicated_from_id", sa.Integer(), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["duplicated_from_id"],
            ["campaigns.id"],
            name=op.f("fk_campaigns_duplicated_from_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("news_slug", name=op.f("uq_campaigns_news_slug")),
    )
    op.create_index("ix_campaigns_status_send_at", "campaigns", ["status", "send_at"], unique=False)
    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("part", sa.Enum(*PART, name="audiencepart", native_enum=False, length=20), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint("campaign_id", "email", name="uq_campaign_recipients_campaign_email"),
    )
    op.create_index("ix_campaign_recipients_outbox", "campaign_recipients", ["outbox_id"], unique=False)
    op.create_index("ix_campaign_recipients_subscription", "campaign_recipients", ["subscription_id"], unique=False)
    op.create_index("ix_campaign_recipients_contact", "campaign_recipients", ["contact_id"], unique=False)


def downgrade() -> None:
    op.drop_table("campaign_recipients")
    op.drop_table("campaigns")
