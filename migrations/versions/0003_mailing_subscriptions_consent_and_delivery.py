"""mailing subscriptions consent and delivery

Subscriptions (double opt-in) with topics and regions, the append-only consent log, SendGrid delivery
events, and the outbox columns the dispatcher needs to re-check consent and settle ambiguous sends.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import crm.models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sg_event_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("sg_message_id", sa.String(length=300), nullable=False),
        sa.Column("bounce_type", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("occurred_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("received_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_events")),
        sa.UniqueConstraint("sg_event_id", name=op.f("uq_delivery_events_sg_event_id")),
    )
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_events_event"), ["event"], unique=False)
        batch_op.create_index("ix_delivery_events_outbox", ["outbox_id"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation_name", sa.String(length=300), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column(
            "mailings", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "funder_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("only_vcse_partner_calls", sa.Boolean(), nullable=False),
        sa.Column(
            "filters", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "frequency", sa.Enum("weekly", "monthly", name="frequency", native_enum=False, length=40), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "paused",
                "unsubscribed",
                "bounced",
                "complained",
                name="subscriptionstatus",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("consent_version", sa.String(length=40), nullable=False),
        sa.Column("confirmed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirm_nonce", sa.Integer(), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_subscriptions_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_subscriptions_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("email", name=op.f("uq_subscriptions_email")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index("ix_subscriptions_status", ["status", "id"], unique=False)

    op.create_table(
        "consent_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "subscribe",
                "confirm",
                "preferences",
                "pause",
                "resume",
                "unsubscribe",
                "unsubscribe_all",
                "bounce",
                "complaint",
                "admin",
                name="consentaction",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("mechanism", sa.String(length=80), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("consent_version", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column(
            "mailings", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("topics", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column(
            "regions", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("detail", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_consent_entries_subscription_id_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_entries")),
    )
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_entries_email"), ["email"], unique=False)
        batch_op.create_index("ix_consent_entries_subscription", ["subscription_id", "id"], unique=False)

    op.create_table(
        "subscription_regions",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_subscription_regions_region_id_regions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_regions_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscription_id", "region_id", name=op.f("pk_subscription_regions")),
    )
    with op.batch_alter_table("subscription_regions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_regions_region_id"), ["region_id"], unique=False)

    op.create_table(
        "subscription_topics",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_topics_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_subscription_topics_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("subscription_id", "topic_id", name=op.f("pk_subscription_topics")),
    )
    with op.batch_alter_table("subscription_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_topics_topic_id"), ["topic_id"], unique=False)

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mailing", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("delivered_at", crm.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("delivery_status")
        batch_op.drop_column("mailing")

    with op.batch_alter_table("subscription_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_topics_topic_id"))

    op.drop_table("subscription_topics")
    with op.batch_alter_table("subscription_regions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_regions_region_id"))

    op.drop_table("subscription_regions")
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_entries_subscription")
        batch_op.drop_index(batch_op.f("ix_consent_entries_email"))

    op.drop_table("consent_entries")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_status")
        batch_op.drop_index(batch_op.f("ix_subscriptions_contact_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_events_outbox")
        batch_op.drop_index(batch_op.f("ix_delivery_events_event"))

    op.drop_table("delivery_events")
