"""Funding calls: who funds what, by when, for whom, with which partner requirements.

``next_deadline_at`` / ``last_deadline_at`` are stored copies derived from the call's deadlines, kept in sync by
``crm.funding.services`` (on every save and by the hourly job), so public lists sort by nearest deadline with an
index and no join. ``next_deadline_at`` is the earliest deadline still in the future, or the last deadline once
all have passed (so it is never NULL for a call that has deadlines, which keyset paging needs).

Whom a call suits (issue 19): ``funding_type``, ``application_effort`` and four yes/no answers. Every one of them is
nullable and NULL means "not stated": a funder that says nothing about unregistered groups has not said "no", so
the answers are tri-state (``True`` / ``False`` / ``None``) rather than false by default. The rule built on them
("suits small user-led groups") is ``crm.funding.fit``.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, Timestamped, link_table, str_enum
from crm.models.directory import Organisation, Region, Topic

__all__ = [
    "ApplicationEffort",
    "CallStatus",
    "FundingCall",
    "FundingCallDeadline",
    "FundingType",
    "funding_call_regions",
    "funding_call_topics",
]


class CallStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"


class FundingType(enum.StrEnum):
    """What the money is for (the funder's own category). NULL on a call: not stated."""

    CORE = "core"
    PROJECT = "project"
    CAPACITY_BUILDING = "capacity-building"
    SMALL_GRANT = "small-grant"
    FELLOWSHIP_OR_TRAINING = "fellowship-or-training"
    IN_KIND = "in-kind"


class ApplicationEffort(enum.StrEnum):
    """How much work applying takes, as the fellow judges it. NULL on a call: not stated."""

    LIGHT = "light"
    STANDARD = "standard"
    HEAVY = "heavy"


funding_call_topics = link_table("funding_call_topics", "call_id", "funding_calls", "topic")

funding_call_regions = link_table("funding_call_regions", "call_id", "funding_calls", "region")


class FundingCall(Timestamped, Base):
    __tablename__ = "funding_calls"
    __table_args__ = (
        # Public list: published calls by nearest deadline (keyset on (next_deadline_at, id)).
        Index("ix_funding_calls_status_next_deadline", "status", "next_deadline_at", "id"),
        Index("ix_funding_calls_status_last_deadline", "status", "last_deadline_at"),
        Index("ix_funding_calls_status_published_at", "status", "published_at"),
        # De-duplication on import when there is no external reference.
        Index("ix_funding_calls_funder_title", "funder_id", "title_normalised"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    title_normalised: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(320), unique=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"))
    url: Mapped[str] = mapped_column(String(500), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    eligibility: Mapped[str] = mapped_column(Text, default="")
    # Lower-cased title, funder name, summary and eligibility: what the public search matches.
    search_text: Mapped[str] = mapped_column(Text, default="")
    opens_at: Mapped[dt.datetime | None]
    next_deadline_at: Mapped[dt.datetime | None]
    last_deadline_at: Mapped[dt.datetime | None]
    amount_min: Mapped[int | None]
    amount_max: Mapped[int | None]
    requires_vcse_partner: Mapped[bool] = mapped_column(default=False)
    vcse_can_be_co_lead: Mapped[bool] = mapped_column(default=False)
    lead_must_be_academic: Mapped[bool] = mapped_column(default=False)
    lead_must_be_vcse: Mapped[bool] = mapped_column(default=False)
    # Whom the call suits (NULL everywhere = not stated; see the module docstring and crm.funding.fit).
    funding_type: Mapped[FundingType | None] = mapped_column(str_enum(FundingType))
    application_effort: Mapped[ApplicationEffort | None] = mapped_column(str_enum(ApplicationEffort))
    open_to_unregistered: Mapped[bool | None]
    open_to_user_led: Mapped[bool | None]
    match_funding_required: Mapped[bool | None]
    lived_experience_payment: Mapped[bool | None]  # payment for lived-experience involvement allowed
    status: Mapped[CallStatus] = mapped_column(str_enum(CallStatus), default=CallStatus.DRAFT)
    published_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    external_ref: Mapped[str | None] = mapped_column(String(200), unique=True)

    funder: Mapped[Organisation] = relationship(lazy="raise")
    deadlines: Mapped[list[FundingCallDeadline]] = relationship(
        back_populates="call",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="FundingCallDeadline.due_at",
    )
    topics: Mapped[list[Topic]] = relationship(secondary=funding_call_topics, lazy="raise", order_by=Topic.name)
    regions: Mapped[list[Region]] = relationship(secondary=funding_call_regions, lazy="raise", order_by=Region.position)


class FundingCallDeadline(Base):
    """One stage deadline of a call (e.g. "Outline", "Full application"); ``due_at`` is UTC."""

    __tablename__ = "funding_call_deadlines"
    __table_args__ = (Index("ix_funding_call_deadlines_call_due", "call_id", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("funding_calls.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(120), default="")
    due_at: Mapped[dt.datetime]

    call: Mapped[FundingCall] = relationship(back_populates="deadlines", lazy="raise")
