"""Involvement (issue 18): paid and voluntary roles for people with lived experience, the lived experience network
that hears about them, researchers' consultation requests to involvement groups, and the record of who took part.

Everything about a person here is special-category data (it reveals lived experience of mental distress): the
network, expressions of interest and the record of involvement are private, never on a public page or the public
API, shown to the fellow (and a poster sees only the interest in their own opportunities). Each row that holds
what a person shared keeps the consent wording they agreed to and when. Money is in pence, time in minutes, so sums
are exact on both databases.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, Timestamped, link_table, str_enum, utcnow

__all__ = [
    "Commitment",
    "ConsultationAnswer",
    "ConsultationRecipient",
    "ConsultationRequest",
    "ConsultationStatus",
    "InvolvementInterest",
    "InvolvementInterestStatus",
    "InvolvementKind",
    "InvolvementOpportunity",
    "InvolvementRecord",
    "NetworkMember",
    "NetworkMemberStatus",
    "OpportunityStatus",
    "PaymentBasis",
    "PaymentPreference",
    "Recognition",
    "involvement_opportunity_topics",
    "network_member_regions",
    "network_member_topics",
]


class InvolvementKind(enum.StrEnum):
    ADVISORY_GROUP = "advisory-group"
    CONSULTATION = "consultation"
    CO_PRODUCTION = "co-production"
    COMMENTARY = "commentary"
    SPEAKING = "speaking"
    TRAINING = "training"

    @property
    def label(self) -> str:
        return {
            "advisory-group": "Advisory group member",
            "consultation": "Consultation on a research idea",
            "co-production": "Co-producing a study",
            "commentary": "Lived experience commentary or co-authorship",
            "speaking": "Speaking at an event",
            "training": "Training",
        }[self.value]


class Commitment(enum.StrEnum):
    """How much time a role asks for, in bands a filter can offer (the detail is in ``time_commitment``)."""

    ONE_OFF = "one-off"
    A_FEW_SESSIONS = "a-few-sessions"
    ONGOING = "ongoing"

    @property
    def label(self) -> str:
        return {
            "one-off": "One session",
            "a-few-sessions": "A few sessions",
            "ongoing": "Ongoing (months)",
        }[self.value]


class PaymentBasis(enum.StrEnum):
    HOUR = "hour"
    MEETING = "meeting"
    DAY = "day"
    TOTAL = "total"

    @property
    def label(self) -> str:
        return {"hour": "per hour", "meeting": "per meeting", "day": "per day", "total": "in total"}[self.value]


class OpportunityStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # sent through the public form, waiting for the fellow's approval
    PUBLISHED = "published"
    CLOSED = "closed"  # by its closing date (the job) or by its poster
    REJECTED = "rejected"


class InvolvementInterestStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    SELECTED = "selected"
    NOT_SELECTED = "not-selected"

    @property
    def label(self) -> str:
        return {"new": "New", "contacted": "Contacted", "selected": "Selected", "not-selected": "Not selected"}[
            self.value
        ]


class PaymentPreference(enum.StrEnum):
    """How a network member prefers to be paid: some people on benefits need vouchers or to volunteer."""

    PAID = "paid"
    VOUCHERS = "vouchers"
    VOLUNTEER = "volunteer"

    @property
    def label(self) -> str:
        return {"paid": "Paid", "vouchers": "Vouchers", "volunteer": "As a volunteer (expenses only)"}[self.value]


class NetworkMemberStatus(enum.StrEnum):
    PENDING = "pending"  # joined, confirmation link not yet used: never matched, never alerted
    ACTIVE = "active"


class ConsultationStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    CLOSED = "closed"  # past its answer-by date, or closed by the researcher; answers are refused after this


class ConsultationAnswer(enum.StrEnum):
    NONE = "none"  # not answered yet
    YES = "yes"
    NO = "no"
    QUESTIONS = "questions"

    @property
    def label(self) -> str:
        return {
            "none": "No answer yet",
            "yes": "Yes, we can help",
            "no": "No, not this time",
            "questions": "We have questions",
        }[self.value]


class Recognition(enum.StrEnum):
    NAMED_COAUTHOR = "named-co-author"
    COMMENTARY_AUTHOR = "commentary-author"
    ACKNOWLEDGED = "acknowledged"
    ANONYMOUS = "anonymous"  # by the person's choice

    @property
    def label(self) -> str:
        return {
            "named-co-author": "Named co-author",
            "commentary-author": "Commentary author",
            "acknowledged": "Acknowledged",
            "anonymous": "Anonymous, by choice",
        }[self.value]


involvement_opportunity_topics = link_table(
    "involvement_opportunity_topics", "opportunity_id", "involvement_opportunities", "topic"
)


class InvolvementOpportunity(Timestamped, Base):
    """A role for people with lived experience, public once published and until it closes."""

    __tablename__ = "involvement_opportunities"
    __table_args__ = (Index("ix_involvement_opportunities_public", "status", "closes_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(240), unique=True)
    kind: Mapped[InvolvementKind] = mapped_column(str_enum(InvolvementKind))
    # The organisation behind it (a university team, a charity, a funder); None for the fellow's own.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    summary: Mapped[str] = mapped_column(String(500), default="")
    lived_experience_sought: Mapped[str] = mapped_column(Text, default="")
    what_you_will_do: Mapped[str] = mapped_column(Text, default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"), index=True)
    online: Mapped[bool] = mapped_column(default=False)
    # Paid (an amount on a basis) or expenses only; expenses are covered in both cases when ``expenses_covered``.
    paid: Mapped[bool] = mapped_column(default=False)
    payment_pence: Mapped[int | None]
    payment_basis: Mapped[PaymentBasis | None] = mapped_column(str_enum(PaymentBasis))
    expenses_covered: Mapped[bool] = mapped_column(default=True)
    payment_note: Mapped[str] = mapped_column(String(500), default="")  # e.g. "vouchers available"
    commitment: Mapped[Commitment] = mapped_column(str_enum(Commitment), default=Commitment.ONE_OFF)
    time_commitment: Mapped[str] = mapped_column(String(200), default="")  # "two hours a month for a year"
    accessibility_support: Mapped[str] = mapped_column(Text, default="")
    how_to_express_interest: Mapped[str] = mapped_column(Text, default="")
    closing_date: Mapped[dt.date] = mapped_column(Date)
    # End of the closing date in Europe/London, in UTC: what the public list and the closing job compare with.
    closes_at: Mapped[dt.datetime]
    status: Mapped[OpportunityStatus] = mapped_column(
        str_enum(OpportunityStatus), default=OpportunityStatus.DRAFT, index=True
    )
    # The poster's contact for expressions of interest: private.
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Sent through the public form (/involvement/offer) without an account; the contact gets a signed manage link.
    public_posted: Mapped[bool] = mapped_column(default=False)
    manage_key: Mapped[str] = mapped_column(String(64), default="")  # "" = no manage link issued
    manage_link_sent_at: Mapped[dt.datetime | None]
    submitted_at: Mapped[dt.datetime | None]
    reviewed_at: Mapped[dt.datetime | None]
    review_note: Mapped[str] = mapped_column(String(1000), default="")
    published_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    # When the network's alert for it went out (None = not yet): the alert job's exactly-once mark.
    alerted_at: Mapped[dt.datetime | None]


class InvolvementInterest(Base):
    """An expression of interest: personal data, seen only by the fellow and the opportunity's poster."""

    __tablename__ = "involvement_interests"
    __table_args__ = (UniqueConstraint("opportunity_id", "email", name="uq_involvement_interests_opportunity_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("involvement_opportunities.id", ondelete="CASCADE"))
    # Set when a network member expressed interest (one click from an alert, or after the fellow's invitation).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("network_members.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    access_needs: Mapped[str] = mapped_column(Text, default="")
    consent_wording: Mapped[str] = mapped_column(String(500), default="")
    consented_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # "interest" (they asked) or "invited" (the fellow invited a matched network member, who said yes).
    source: Mapped[str] = mapped_column(String(20), default="interest")
    status: Mapped[InvolvementInterestStatus] = mapped_column(
        str_enum(InvolvementInterestStatus), default=InvolvementInterestStatus.NEW
    )
    status_changed_at: Mapped[dt.datetime | None]
    notified_status: Mapped[str] = mapped_column(String(40), default="")  # the decision they were last emailed
    notified_at: Mapped[dt.datetime | None]


network_member_topics = link_table("network_member_topics", "member_id", "network_members", "topic")
network_member_regions = link_table("network_member_regions", "member_id", "network_members", "region")


class NetworkMember(Timestamped, Base):
    """A member of the lived experience network: never public, never in the public API, shown only to the fellow.

    Alerts go through the subscription system: confirming membership adds the ``involvement`` mailing to the
    member's subscription (``subscription_id``), so consent, the preference centre and one-click unsubscribe are the
    ones every mailing has. Leaving the network erases this row.
    """

    __tablename__ = "network_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[NetworkMemberStatus] = mapped_column(
        str_enum(NetworkMemberStatus), default=NetworkMemberStatus.PENDING, index=True
    )
    # JSON lists of ``InvolvementKind`` and ``PaymentPreference`` values (short fixed vocabularies).
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    payment_preferences: Mapped[list[Any]] = mapped_column(default=list)
    online_ok: Mapped[bool] = mapped_column(default=True)
    access_needs: Mapped[str] = mapped_column(Text, default="")
    experience: Mapped[str] = mapped_column(Text, default="")  # optional, a few lines on experience and skills
    consent_wording: Mapped[str] = mapped_column(Text, default="")
    consented_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None]
    confirm_nonce: Mapped[int] = mapped_column(default=0)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="SET NULL"))
    last_involved_at: Mapped[dt.datetime | None]  # what the retention job measures inactivity from


class ConsultationRequest(Timestamped, Base):
    """A researcher's one request for feedback, sent to each chosen involvement group with a signed answer page."""

    __tablename__ = "consultation_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    researcher_name: Mapped[str] = mapped_column(String(200), default="")
    # The researcher's organisation (a university), shown to the groups.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    project_summary: Mapped[str] = mapped_column(Text, default="")  # in plain language
    feedback_wanted: Mapped[str] = mapped_column(Text, default="")
    answer_by: Mapped[dt.date] = mapped_column(Date)
    offer_payment: Mapped[str] = mapped_column(String(300), default="")  # "£50 per group session"
    offer_expenses: Mapped[bool] = mapped_column(default=False)
    offer_acknowledgement: Mapped[bool] = mapped_column(default=False)
    reply_email: Mapped[str] = mapped_column(String(320), default="")
    nudge_after_days: Mapped[int] = mapped_column(default=7)
    status: Mapped[ConsultationStatus] = mapped_column(
        str_enum(ConsultationStatus), default=ConsultationStatus.DRAFT, index=True
    )
    sent_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    outcome: Mapped[str] = mapped_column(Text, default="")
    what_changed: Mapped[str] = mapped_column(Text, default="")  # what changed in the research because of it
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    answer_key: Mapped[str] = mapped_column(String(64), default="")  # the secret inside the signed answer links


class ConsultationRecipient(Base):
    """One group a request went to, and its answer."""

    __tablename__ = "consultation_recipients"
    __table_args__ = (UniqueConstraint("request_id", "organisation_id", name="uq_consultation_recipients_org"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("consultation_requests.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), default="")  # the group's public address when sent
    answer: Mapped[ConsultationAnswer] = mapped_column(str_enum(ConsultationAnswer), default=ConsultationAnswer.NONE)
    answer_note: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(200), default="")
    answered_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    nudged_at: Mapped[dt.datetime | None]  # the one nudge to a group that has not answered


class InvolvementRecord(Base):
    """Who took part in what: hours, payments, expenses and how they are recognised. Private (the fellow's)."""

    __tablename__ = "involvement_records"
    __table_args__ = (Index("ix_involvement_records_date", "took_part_on", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("involvement_opportunities.id", ondelete="SET NULL"), index=True
    )
    consultation_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultation_requests.id", ondelete="SET NULL"), index=True
    )
    # A group that took part (a consultation), or the organisation the person took part through.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    partnership_id: Mapped[int | None] = mapped_column(ForeignKey("partnerships.id", ondelete="SET NULL"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("network_members.id", ondelete="SET NULL"), index=True)
    person_name: Mapped[str] = mapped_column(String(200), default="")  # "" for a group, or anonymous by choice
    activity: Mapped[str] = mapped_column(String(300))  # what they did, in a line
    took_part_on: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(default=0)
    payment_pence: Mapped[int] = mapped_column(default=0)
    expenses_pence: Mapped[int] = mapped_column(default=0)
    recognition: Mapped[Recognition] = mapped_column(str_enum(Recognition), default=Recognition.ACKNOWLEDGED)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
