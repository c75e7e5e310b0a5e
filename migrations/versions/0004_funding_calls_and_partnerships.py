"""funding calls and partnerships

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _upgrade_funding()
    _upgrade_partnerships()


def downgrade() -> None:
    _downgrade_partnerships()
    _downgrade_funding()


def _upgrade_funding() -> None:
    op.create_table(
        "funding_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("title_normalised", sa.String(length=300), nullable=False),
        sa.Column("slug", sa.String(length=320), nullable=False),
        sa.Column("funder_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("eligibility", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("opens_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_deadline_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_deadline_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("amount_min", sa.Integer(), nullable=True),
        sa.Column("amount_max", sa.Integer(), nullable=True),
        sa.Column("requires_vcse_partner", sa.Boolean(), nullable=False),
        sa.Column("vcse_can_be_co_lead", sa.Boolean(), nullable=False),
        sa.Column("lead_must_be_academic", sa.Boolean(), nullable=False),
        sa.Column("lead_must_be_vcse", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("draft", "published", "closed", name="callstatus", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("published_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["funder_id"],
            ["organisations.id"],
            name=op.f("fk_funding_calls_funder_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_calls")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_funding_calls_external_ref")),
        sa.UniqueConstraint("slug", name=op.f("uq_funding_calls_slug")),
    )
    with op.batch_alter_table("funding_calls", schema=None) as batch_op:
        batch_op.create_index("ix_funding_calls_funder_title", ["funder_id", "title_normalised"], unique=False)
        batch_op.create_index("ix_funding_calls_status_last_deadline", ["status", "last_deadline_at"], unique=False)
        batch_op.create_index(
            "ix_funding_calls_status_next_deadline", ["status", "next_deadline_at", "id"], unique=False
        )
        batch_op.create_index("ix_funding_calls_status_published_at", ["status", "published_at"], unique=False)

    op.create_table(
        "funding_call_deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("due_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["funding_calls.id"],
            name=op.f("fk_funding_call_deadlines_call_id_funding_calls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_call_deadlines")),
    )
    with op.batch_alter_table("funding_call_deadlines", schema=None) as batch_op:
        batch_op.create_index("ix_funding_call_deadlines_call_due", ["call_id", "due_at"], unique=False)

    op.create_table(
        "funding_call_regions",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["funding_calls.id"],
            name=op.f("fk_funding_call_regions_call_id_funding_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_funding_call_regions_region_id_regions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("call_id", "region_id", name=op.f("pk_funding_call_regions")),
    )
    with op.batch_alter_table("funding_call_regions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funding_call_regions_region_id"), ["region_id"], unique=False)

    op.create_table(
        "funding_call_topics",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["funding_calls.id"],
            name=op.f("fk_funding_call_topics_call_id_funding_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_funding_call_topics_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("call_id", "topic_id", name=op.f("pk_funding_call_topics")),
    )
    with op.batch_alter_table("funding_call_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funding_call_topics_topic_id"), ["topic_id"], unique=False)


def _downgrade_funding() -> None:
    with op.batch_alter_table("funding_call_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_call_topics_topic_id"))
    op.drop_table("funding_call_topics")
    with op.batch_alter_table("funding_call_regions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_call_regions_region_id"))
    op.drop_table("funding_call_regions")
    with op.batch_alter_table("funding_call_deadlines", schema=None) as batch_op:
        batch_op.drop_index("ix_funding_call_deadlines_call_due")
    op.drop_table("funding_call_deadlines")
    with op.batch_alter_table("funding_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_funding_calls_status_published_at")
        batch_op.drop_index("ix_funding_calls_status_next_deadline")
        batch_op.drop_index("ix_funding_calls_status_last_deadline")
        batch_op.drop_index("ix_funding_calls_funder_title")
    op.drop_table("funding_calls")


def _upgrade_partnerships() -> None:
    op.create_table(
        "partnerships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "idea",
                "exploring",
                "proposal",
                "funded",
                "active",
                "completed",
                "paused",
                name="partnershipstage",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("funding_call_id", sa.Integer(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("academic_brings", sa.Text(), nullable=False),
        sa.Column("academic_gets", sa.Text(), nullable=False),
        sa.Column("vcse_brings", sa.Text(), nullable=False),
        sa.Column("vcse_gets", sa.Text(), nullable=False),
        sa.Column("next_step", sa.String(length=500), nullable=False),
        sa.Column("next_step_due", sa.Date(), nullable=True),
        sa.Column("last_activity_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stage_changed_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "nudged_health",
            sa.Enum("active", "quiet", "dormant", name="health", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["funding_call_id"],
            ["funding_calls.id"],
            name=op.f("fk_partnerships_funding_call_id_funding_calls"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnerships")),
    )
    with op.batch_alter_table("partnerships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partnerships_funding_call_id"), ["funding_call_id"], unique=False)
        batch_op.create_index("ix_partnerships_last_activity_at", ["last_activity_at"], unique=False)
        batch_op.create_index("ix_partnerships_next_step_due", ["next_step_due"], unique=False)
        batch_op.create_index("ix_partnerships_stage_id", ["stage", "id"], unique=False)

    op.create_table(
        "partnership_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("meeting", "call", "email", "event", "note", name="activitykind", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("occurred_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_partnership_activities_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_partnership_activities_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership_activities")),
    )
    with op.batch_alter_table("partnership_activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_partnership_activities_partnership_at", ["partnership_id", "occurred_at"], unique=False
        )

    op.create_table(
        "partnership_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.Enum("academic", "vcse", name="side", native_enum=False, length=40), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "organisation_id IS NOT NULL OR contact_id IS NOT NULL", name=op.f("ck_partnership_members_org_or_contact")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_partnership_members_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_partnership_members_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_partnership_members_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership_members")),
    )
    with op.batch_alter_table("partnership_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partnership_members_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_partnership_members_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index("ix_partnership_members_partnership", ["partnership_id", "side"], unique=False)

    op.create_table(
        "partnership_topics",
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_partnership_topics_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_partnership_topics_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("partnership_id", "topic_id", name=op.f("pk_partnership_topics")),
    )
    with op.batch_alter_table("partnership_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partnership_topics_topic_id"), ["topic_id"], unique=False)


def _downgrade_partnerships() -> None:
    with op.batch_alter_table("partnership_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partnership_topics_topic_id"))

    op.drop_table("partnership_topics")
    with op.batch_alter_table("partnership_members", schema=None) as batch_op:
        batch_op.drop_index("ix_partnership_members_partnership")
        batch_op.drop_index(batch_op.f("ix_partnership_members_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_partnership_members_contact_id"))

    op.drop_table("partnership_members")
    with op.batch_alter_table("partnership_activities", schema=None) as batch_op:
        batch_op.drop_index("ix_partnership_activities_partnership_at")

    op.drop_table("partnership_activities")
    with op.batch_alter_table("partnerships", schema=None) as batch_op:
        batch_op.drop_index("ix_partnerships_stage_id")
        batch_op.drop_index("ix_partnerships_next_step_due")
        batch_op.drop_index("ix_partnerships_last_activity_at")
        batch_op.drop_index(batch_op.f("ix_partnerships_funding_call_id"))

    op.drop_table("partnerships")
