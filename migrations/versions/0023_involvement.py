"""involvement

Issue 18, docs/involvement.md: involvement opportunities (with their topics) and the expressions of interest in them,
the lived experience network (members, their topics and regions), researchers' consultation requests to involvement
groups and each group's answer, and the record of involvement (hours, payments, expenses, recognition). New tables
only: nothing existing changes.

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import crm.models.base

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consultation_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("researcher_name", sa.String(length=200), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("project_summary", sa.Text(), nullable=False),
        sa.Column("feedback_wanted", sa.Text(), nullable=False),
        sa.Column("answer_by", sa.Date(), nullable=False),
        sa.Column("offer_payment", sa.String(length=300), nullable=False),
        sa.Column("offer_expenses", sa.Boolean(), nullable=False),
        sa.Column("offer_acknowledgement", sa.Boolean(), nullable=False),
        sa.Column("reply_email", sa.String(length=320), nullable=False),
        sa.Column("nudge_after_days", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("draft", "sent", "closed", name="consultationstatus", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("sent_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("what_changed", sa.Text(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("answer_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_consultation_requests_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_consultation_requests_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_requests")),
    )
    with op.batch_alter_table("consultation_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_requests_created_by_user_id"), ["created_by_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consultation_requests_status"), ["status"], unique=False)

    op.create_table(
        "involvement_opportunities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=240), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "advisory-group",
                "consultation",
                "co-production",
                "commentary",
                "speaking",
                "training",
                name="involvementkind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("lived_experience_sought", sa.Text(), nullable=False),
        sa.Column("what_you_will_do", sa.Text(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("payment_pence", sa.Integer(), nullable=True),
        sa.Column(
            "payment_basis",
            sa.Enum("hour", "meeting", "day", "total", name="paymentbasis", native_enum=False, length=40),
            nullable=True,
        ),
        sa.Column("expenses_covered", sa.Boolean(), nullable=False),
        sa.Column("payment_note", sa.String(length=500), nullable=False),
        sa.Column(
            "commitment",
            sa.Enum("one-off", "a-few-sessions", "ongoing", name="commitment", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("time_commitment", sa.String(length=200), nullable=False),
        sa.Column("accessibility_support", sa.Text(), nullable=False),
        sa.Column("how_to_express_interest", sa.Text(), nullable=False),
        sa.Column("closing_date", sa.Date(), nullable=False),
        sa.Column("closes_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "published",
                "closed",
                "rejected",
                name="opportunitystatus",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("public_posted", sa.Boolean(), nullable=False),
        sa.Column("manage_key", sa.String(length=64), nullable=False),
        sa.Column("manage_link_sent_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=1000), nullable=False),
        sa.Column("published_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("alerted_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_involvement_opportunities_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_involvement_opportunities_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_involvement_opportunities_region_id_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_involvement_opportunities")),
        sa.UniqueConstraint("slug", name=op.f("uq_involvement_opportunities_slug")),
    )
    with op.batch_alter_table("involvement_opportunities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_involvement_opportunities_created_by_user_id"), ["created_by_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_involvement_opportunities_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index("ix_involvement_opportunities_public", ["status", "closes_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_involvement_opportunities_region_id"), ["region_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_involvement_opportunities_status"), ["status"], unique=False)

    op.create_table(
        "network_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "active", name="networkmemberstatus", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("kinds", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column(
            "payment_preferences",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("online_ok", sa.Boolean(), nullable=False),
        sa.Column("access_needs", sa.Text(), nullable=False),
        sa.Column("experience", sa.Text(), nullable=False),
        sa.Column("consent_wording", sa.Text(), nullable=False),
        sa.Column("consented_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirm_nonce", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("last_involved_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_network_members_subscription_id_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_members")),
        sa.UniqueConstraint("email", name=op.f("uq_network_members_email")),
    )
    with op.batch_alter_table("network_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_network_members_status"), ["status"], unique=False)

    op.create_table(
        "consultation_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "answer",
            sa.Enum("none", "yes", "no", "questions", name="consultationanswer", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("answer_note", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(length=200), nullable=False),
        sa.Column("answered_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("nudged_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_consultation_recipients_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["consultation_requests.id"],
            name=op.f("fk_consultation_recipients_request_id_consultation_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_recipients")),
        sa.UniqueConstraint("request_id", "organisation_id", name="uq_consultation_recipients_org"),
    )
    with op.batch_alter_table("consultation_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_recipients_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "involvement_interests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("access_needs", sa.Text(), nullable=False),
        sa.Column("consent_wording", sa.String(length=500), nullable=False),
        sa.Column("consented_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "contacted",
                "selected",
                "not-selected",
                name="involvementintereststatus",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("status_changed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notified_status", sa.String(length=40), nullable=False),
        sa.Column("notified_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["network_members.id"],
            name=op.f("fk_involvement_interests_member_id_network_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["involvement_opportunities.id"],
            name=op.f("fk_involvement_interests_opportunity_id_involvement_opportunities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_involvement_interests")),
        sa.UniqueConstraint("opportunity_id", "email", name="uq_involvement_interests_opportunity_email"),
    )
    with op.batch_alter_table("involvement_interests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_involvement_interests_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_involvement_interests_member_id"), ["member_id"], unique=False)

    op.create_table(
        "involvement_opportunity_topics",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["involvement_opportunities.id"],
            name=op.f("fk_involvement_opportunity_topics_opportunity_id_involvement_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_involvement_opportunity_topics_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("opportunity_id", "topic_id", name=op.f("pk_involvement_opportunity_topics")),
    )
    with op.batch_alter_table("involvement_opportunity_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_involvement_opportunity_topics_topic_id"), ["topic_id"], unique=False)

    op.create_table(
        "involvement_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("consultation_request_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("partnership_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("person_name", sa.String(length=200), nullable=False),
        sa.Column("activity", sa.String(length=300), nullable=False),
        sa.Column("took_part_on", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("payment_pence", sa.Integer(), nullable=False),
        sa.Column("expenses_pence", sa.Integer(), nullable=False),
        sa.Column(
            "recognition",
            sa.Enum(
                "named-co-author",
                "commentary-author",
                "acknowledged",
                "anonymous",
                name="recognition",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consultation_request_id"],
            ["consultation_requests.id"],
            name=op.f("fk_involvement_records_consultation_request_id_consultation_requests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_involvement_records_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["network_members.id"],
            name=op.f("fk_involvement_records_member_id_network_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["involvement_opportunities.id"],
            name=op.f("fk_involvement_records_opportunity_id_involvement_opportunities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_involvement_records_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_involvement_records_partnership_id_partnerships"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_involvement_records")),
    )
    with op.batch_alter_table("involvement_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_involvement_records_consultation_request_id"), ["consultation_request_id"], unique=False
        )
        batch_op.create_index("ix_involvement_records_date", ["took_part_on", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_involvement_records_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_involvement_records_opportunity_id"), ["opportunity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_involvement_records_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_involvement_records_partnership_id"), ["partnership_id"], unique=False)

    op.create_table(
        "network_member_regions",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["network_members.id"],
            name=op.f("fk_network_member_regions_member_id_network_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_network_member_regions_region_id_regions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_id", "region_id", name=op.f("pk_network_member_regions")),
    )
    with op.batch_alter_table("network_member_regions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_network_member_regions_region_id"), ["region_id"], unique=False)

    op.create_table(
        "network_member_topics",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["network_members.id"],
            name=op.f("fk_network_member_topics_member_id_network_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_network_member_topics_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_id", "topic_id", name=op.f("pk_network_member_topics")),
    )
    with op.batch_alter_table("network_member_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_network_member_topics_topic_id"), ["topic_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("network_member_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_member_topics_topic_id"))

    op.drop_table("network_member_topics")
    with op.batch_alter_table("network_member_regions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_member_regions_region_id"))

    op.drop_table("network_member_regions")
    with op.batch_alter_table("involvement_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_involvement_records_partnership_id"))
        batch_op.drop_index(batch_op.f("ix_involvement_records_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_involvement_records_opportunity_id"))
        batch_op.drop_index(batch_op.f("ix_involvement_records_member_id"))
        batch_op.drop_index("ix_involvement_records_date")
        batch_op.drop_index(batch_op.f("ix_involvement_records_consultation_request_id"))

    op.drop_table("involvement_records")
    with op.batch_alter_table("involvement_opportunity_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_involvement_opportunity_topics_topic_id"))

    op.drop_table("involvement_opportunity_topics")
    with op.batch_alter_table("involvement_interests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_involvement_interests_member_id"))
        batch_op.drop_index(batch_op.f("ix_involvement_interests_email"))

    op.drop_table("involvement_interests")
    with op.batch_alter_table("consultation_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_recipients_organisation_id"))

    op.drop_table("consultation_recipients")
    with op.batch_alter_table("network_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_members_status"))

    op.drop_table("network_members")
    with op.batch_alter_table("involvement_opportunities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_involvement_opportunities_status"))
        batch_op.drop_index(batch_op.f("ix_involvement_opportunities_region_id"))
        batch_op.drop_index("ix_involvement_opportunities_public")
        batch_op.drop_index(batch_op.f("ix_involvement_opportunities_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_involvement_opportunities_created_by_user_id"))

    op.drop_table("involvement_opportunities")
    with op.batch_alter_table("consultation_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_requests_status"))
        batch_op.drop_index(batch_op.f("ix_consultation_requests_created_by_user_id"))

    op.drop_table("consultation_requests")
