"""Partnership records: who works with whom (academic and VCSE sides), at which stage, and the activity log.

``last_activity_at`` is a stored copy of the latest activity's date, kept in sync by
``crm.partnerships.changes`` so lists filter and sort by health without a join. ``nudged_health`` remembers
the health last reported to the fellow, so the weekly nudge lists partnerships that *turned* quiet or dormant.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, Timestamped, link_table, str_enum, utcnow
from crm.models.directory import Contact, Organisation, Topic

__all__ = [
    "ActivityKind",
    "Health",
    "Partnership",
    "PartnershipActivity",
    "PartnershipMember",
    "PartnershipStage",
    "Side",
    "partnership_topics",
]


class PartnershipStage(enum.StrEnum):
    IDEA = "idea"
    EXPLORING = "exploring"
    PROPOSAL = "proposal"
    FUNDED = "funded"
    ACTIVE = "active"
    COMPLETED = "completed"
    PAUSED = "paused"


class Side(enum.StrEnum):
    ACADEMIC = "academic"
    VCSE = "vcse"


class ActivityKind(enum.StrEnum):
    MEETING = "meeting"
    CALL = "call"
    EMAIL = "email"
    EVENT = "event"
    NOTE = "note"


class Health(enum.StrEnum):
    ACTIVE = "active"
    QUIET = "quiet"
    DORMANT = "dormant"


partnership_topics = link_table("partnership_topics", "partnership_id", "partnerships", "topic")


class Partnership(Timestamped, Base):
    __tablename__ = "partnerships"
    __table_args__ = (
        Index("ix_partnerships_stage_id", "stage", "id"),
        Index("ix_partnerships_last_activity_at", "last_activity_at"),
        Index("ix_partnerships_next_step_due", "next_step_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    stage: Mapped[PartnershipStage] = mapped_column(str_enum(PartnershipStage), default=PartnershipStage.IDEA)
    funding_call_id: Mapped[int | None] = mapped_column(ForeignKey("funding_calls.id", ondelete="SET NULL"), index=True)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    # Reciprocity: what each side brings to and gets from the partnership.
    academic_brings: Mapped[str] = mapped_column(Text, default="")
    academic_gets: Mapped[str] = mapped_column(Text, default="")
    vcse_brings: Mapped[str] = mapped_column(Text, default="")
    vcse_gets: Mapped[str] = mapped_column(Text, default="")
    next_step: Mapped[str] = mapped_column(String(500), default="")
    next_step_due: Mapped[dt.date | None] = mapped_column(Date)
    last_activity_at: Mapped[dt.datetime | None]
    stage_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    nudged_health: Mapped[Health] = mapped_column(str_enum(Health), default=Health.ACTIVE)
    archived_at: Mapped[dt.datetime | None]  # out of the list, the board and the nudges, kept with its history

    members: Mapped[list[PartnershipMember]] = relationship(
        back_populates="partnership", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )
    activities: Mapped[list[PartnershipActivity]] = relationship(
        back_populates="partnership", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )
    topics: Mapped[list[Topic]] = relationship(secondary=partnership_topics, lazy="raise", order_by=Topic.name)


class PartnershipMember(Base):
    """An organisation and/or a contact on one side of a partnership, with a role (e.g. "Co-lead")."""

    __tablename__ = "partnership_members"
    __table_args__ = (
        CheckConstraint("organisation_id IS NOT NULL OR contact_id IS NOT NULL", name="org_or_contact"),
        Index("ix_partnership_members_partnership", "partnership_id", "side"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"))
    side: Mapped[Side] = mapped_column(str_enum(Side))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(200), default="")

    partnership: Mapped[Partnership] = relationship(back_populates="members", lazy="raise")
    organisation: Mapped[Organisation | None] = relationship(lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")


class PartnershipActivity(Base):
    __tablename__ = "partnership_activities"
    __table_args__ = (Index("ix_partnership_activities_partnership_at", "partnership_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"))
    kind: Mapped[ActivityKind] = mapped_column(str_enum(ActivityKind))
    occurred_at: Mapped[dt.datetime]
    summary: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    partnership: Mapped[Partnership] = relationship(back_populates="activities", lazy="raise")
