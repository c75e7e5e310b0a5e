"""Internships: placements for early career researchers with VCSE organisations and for VCSE staff with
academic teams, plus the (private) registrations of interest people leave on a listing."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, Date, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, Timestamped, link_table, str_enum, utcnow

__all__ = [
    "InterestStatus",
    "Internship",
    "InternshipDirection",
    "InternshipInterest",
    "InternshipMode",
    "InternshipStatus",
    "StipendPeriod",
    "internship_career_stages",
    "internship_topics",
]


class InternshipDirection(enum.StrEnum):
    RESEARCHER_TO_VCSE = "researcher-to-vcse"
    VCSE_TO_ACADEMIC = "vcse-to-academic"

    @property
    def label(self) -> str:
        return {
            "researcher-to-vcse": "Researcher placement in a VCSE organisation",
            "vcse-to-academic": "VCSE staff placement with an academic team",
        }[self.value]


class InternshipMode(enum.StrEnum):
    ON_SITE = "on-site"
    HYBRID = "hybrid"
    REMOTE = "remote"

    @property
    def label(self) -> str:
        return {"on-site": "On-site", "hybrid": "Hybrid", "remote": "Remote"}[self.value]


class StipendPeriod(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    TOTAL = "total"


class InternshipStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # waiting for the fellow's approval
    PUBLISHED = "published"
    CLOSED = "closed"
    FILLED = "filled"


class InterestStatus(enum.StrEnum):
    """Where a registration of interest stands, as the host or the fellow marks it."""

    NEW = "new"
    CONTACTED = "contacted"
    SHORTLISTED = "shortlisted"
    DECLINED = "declined"
    OFFERED = "offered"

    @property
    def label(self) -> str:
        return self.value.capitalize()


internship_topics = link_table("internship_topics", "internship_id", "internships", "topic")

internship_career_stages = Table(
    "internship_career_stages",
    Base.metadata,
    Column("internship_id", ForeignKey("internships.id", ondelete="CASCADE"), primary_key=True),
    Column("stage", String(40), primary_key=True, index=True),
)


class Internship(Timestamped, Base):
    __tablename__ = "internships"
    __table_args__ = (
        Index("ix_internships_public_closing", "status", "closes_at", "id"),
        Index("ix_internships_public_newest", "status", "published_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(240), unique=True)
    host_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    direction: Mapped[InternshipDirection] = mapped_column(str_enum(InternshipDirection))
    description: Mapped[str] = mapped_column(Text, default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"), index=True)
    mode: Mapped[InternshipMode] = mapped_column(str_enum(InternshipMode))
    paid: Mapped[bool] = mapped_column(default=False)
    # Money in pence so sums and comparisons are exact on both databases.
    stipend_pence: Mapped[int | None]
    stipend_period: Mapped[StipendPeriod | None] = mapped_column(str_enum(StipendPeriod))
    hours_per_week: Mapped[int | None]
    duration: Mapped[str] = mapped_column(String(120), default="")
    closing_date: Mapped[dt.date] = mapped_column(Date)
    # End of the closing date in Europe/London, in UTC: what the public list and the closing job compare with.
    closes_at: Mapped[dt.datetime]
    apply_url: Mapped[str] = mapped_column(String(500), default="")
    apply_email: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[InternshipStatus] = mapped_column(
        str_enum(InternshipStatus), default=InternshipStatus.DRAFT, index=True
    )
    # The host's contact for registrations of interest: private, never on public pages or the public API.
    host_contact_name: Mapped[str] = mapped_column(String(200), default="")
    host_contact_email: Mapped[str] = mapped_column(String(320), default="")
    published_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    submitted_at: Mapped[dt.datetime | None]
    reviewed_at: Mapped[dt.datetime | None]
    review_note: Mapped[str] = mapped_column(String(1000), default="")
    reminder_sent_at: Mapped[dt.datetime | None]
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Posted by the host through the public form (/internships/offer), without an account: on approval the host
    # contact gets the private manage link.
    host_posted: Mapped[bool] = mapped_column(default=False)
    # The secret inside the host's signed manage link: a new key revokes every link sent before; "" = none issued.
    manage_key: Mapped[str] = mapped_column(String(64), default="")
    manage_link_sent_at: Mapped[dt.datetime | None]


class InternshipInterest(Base):
    """A registration of interest: personal data, seen only by the fellow and the host organisation's editors."""

    __tablename__ = "internship_interests"
    __table_args__ = (UniqueConstraint("internship_id", "email", name="uq_internship_interests_internship_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    internship_id: Mapped[int] = mapped_column(ForeignKey("internships.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    consent_wording: Mapped[str] = mapped_column(String(500), default="")
    consented_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[InterestStatus] = mapped_column(str_enum(InterestStatus), default=InterestStatus.NEW)
    status_changed_at: Mapped[dt.datetime | None]
    # The last status the applicant was emailed about, and when ("" / None: never told).
    notified_status: Mapped[str] = mapped_column(String(40), default="")
    notified_at: Mapped[dt.datetime | None]
