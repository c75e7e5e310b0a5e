"""internships: listings in both directions, their topics and eligible career stages, registrations of interest

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "internships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=240), nullable=False),
        sa.Column("host_organisation_id", sa.Integer(), nullable=False),
        sa.Column(
            "direction",
            sa.Enum("researcher-to-vcse", "vcse-to-academic", name="internshipdirection", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column(
            "mode",
            sa.Enum("on-site", "hybrid", "remote", name="internshipmode", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("stipend_pence", sa.Integer(), nullable=True),
        sa.Column(
            "stipend_period",
            sa.Enum(
                "hour", "day", "week", "month", "year", "total", name="stipendperiod", native_enum=False, length=40
            ),
            nullable=True,
        ),
        sa.Column("hours_per_week", sa.Integer(), nullable=True),
        sa.Column("duration", sa.String(length=120), nullable=False),
        sa.Column("closing_date", sa.Date(), nullable=False),
        sa.Column("closes_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("apply_url", sa.String(length=500), nullable=False),
        sa.Column("apply_email", sa.String(length=320), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "published",
                "closed",
                "filled",
                name="internshipstatus",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("host_contact_name", sa.String(length=200), nullable=False),
        sa.Column("host_contact_email", sa.String(length=320), nullable=False),
        sa.Column("published_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=1000), nullable=False),
        sa.Column("reminder_sent_at", crm.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_internships_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["host_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_internships_host_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_internships_region_id_regions"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_internships")),
        sa.UniqueConstraint("slug", name=op.f("uq_internships_slug")),
    )
    with op.batch_alter_table("internships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_internships_host_organisation_id"), ["host_organisation_id"], unique=False)
        batch_op.create_index("ix_internships_public_closing", ["status", "closes_at", "id"], unique=False)
        batch_op.create_index("ix_internships_public_newest", ["status", "published_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_internships_region_id"), ["region_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_internships_status"), ["status"], unique=False)

    op.create_table(
        "internship_career_stages",
        sa.Column("internship_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["internship_id"],
            ["internships.id"],
            name=op.f("fk_internship_career_stages_internship_id_internships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("internship_id", "stage", name=op.f("pk_internship_career_stages")),
    )
    with op.batch_alter_table("internship_career_stages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_internship_career_stages_stage"), ["stage"], unique=False)

    op.create_table(
        "internship_interests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("internship_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("consent_wording", sa.String(length=500), nullable=False),
        sa.Column("consented_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["internship_id"],
            ["internships.id"],
            name=op.f("fk_internship_interests_internship_id_internships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_internship_interests")),
        sa.UniqueConstraint("internship_id", "email", name="uq_internship_interests_internship_email"),
    )
    with op.batch_alter_table("internship_interests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_internship_interests_email"), ["email"], unique=False)

    op.create_table(
        "internship_topics",
        sa.Column("internship_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["internship_id"],
            ["internships.id"],
            name=op.f("fk_internship_topics_internship_id_internships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_internship_topics_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("internship_id", "topic_id", name=op.f("pk_internship_topics")),
    )
    with op.batch_alter_table("internship_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_internship_topics_topic_id"), ["topic_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("internship_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_internship_topics_topic_id"))

    op.drop_table("internship_topics")
    with op.batch_alter_table("internship_interests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_internship_interests_email"))

    op.drop_table("internship_interests")
    with op.batch_alter_table("internship_career_stages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_internship_career_stages_stage"))

    op.drop_table("internship_career_stages")
    with op.batch_alter_table("internships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_internships_status"))
        batch_op.drop_index(batch_op.f("ix_internships_region_id"))
        batch_op.drop_index("ix_internships_public_newest")
        batch_op.drop_index("ix_internships_public_closing")
        batch_op.drop_index(batch_op.f("ix_internships_host_organisation_id"))

    op.drop_table("internships")
