"""Networking events: the event, its invitations (one per contact), RSVP history, public place requests and
saved contact lists used as audiences."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, Timestamped, str_enum, utcnow

__all__ = [
    "ContactList",
    "ContactListMember",
    "Event",
    "EventStatus",
    "Introduction",
    "IntroductionStatus",
    "Invitation",
    "InvitationStatus",
    "PlaceRequest",
    "PlaceRequestStatus",
    "RsvpResponse",
]


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class InvitationStatus(enum.StrEnum):
    INVITED = "invited"  # no answer yet
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"
    WAITLISTED = "waitlisted"
    LAPSED = "lapsed"  # was offered a place from the waitlist and did not take it in time


class PlaceRequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class Event(Timestamped, Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_status_starts", "status", "starts_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable iCalendar UID, fixed at creation: ``evt-<uuid>@<host of base_url>``.
    uid: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(320), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # What a person needs to know to take part: step-free access, hearing loop, quiet room, captions.
    accessibility: Mapped[str] = mapped_column(Text, default="", server_default="")
    host_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    funding_call_id: Mapped[int | None] = mapped_column(ForeignKey("funding_calls.id", ondelete="SET NULL"), index=True)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    all_day: Mapped[bool] = mapped_column(default=False)
    venue: Mapped[str] = mapped_column(String(500), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int | None]
    rsvp_deadline: Mapped[dt.datetime | None]
    # Sector balance: at least this share (percent) of places is kept for VCSE staff.
    vcse_min_percent: Mapped[int | None]
    allow_requests: Mapped[bool] = mapped_column(default=False)
    # Speed networking format (issue 20.5): rounds of pairings that mix VCSE and academic attendees.
    speed_networking: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[EventStatus] = mapped_column(str_enum(EventStatus), default=EventStatus.DRAFT)
    # iTIP SEQUENCE: bumped on every change attendees' calendars must see (time, place, cancellation).
    sequence: Mapped[int] = mapped_column(default=0)
    reminder_offsets_hours: Mapped[list[Any]] = mapped_column(default=lambda: [168, 24])
    offer_hold_hours: Mapped[int] = mapped_column(default=48)
    offers_stop_hours: Mapped[int] = mapped_column(default=24)
    published_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("event_id", "contact_id", name="uq_invitations_event_contact"),
        Index("ix_invitations_event_status", "event_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    status: Mapped[InvitationStatus] = mapped_column(str_enum(InvitationStatus), default=InvitationStatus.INVITED)
    # Snapshot at invitation time: does this person work for a VCSE organisation (sector balance)?
    is_vcse: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(40), default="audience")
    invited_at: Mapped[dt.datetime | None]
    responded_at: Mapped[dt.datetime | None]
    waitlisted_at: Mapped[dt.datetime | None]
    offer_expires_at: Mapped[dt.datetime | None]
    attended: Mapped[bool | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Chosen at RSVP (issue 20.5), both off unless the person ticks them: show my name and organisation to other
    # attendees; introduce me after the event to people with complementary interests (and what I am looking for).
    share_with_attendees: Mapped[bool] = mapped_column(default=False, server_default=false())
    wants_introductions: Mapped[bool] = mapped_column(default=False, server_default=false())
    looking_for: Mapped[str] = mapped_column(String(500), default="", server_default="")


class IntroductionStatus(enum.StrEnum):
    PROPOSED = "proposed"  # the product's suggestion, waiting for the fellow
    APPROVED = "approved"  # the fellow agreed; the emails go out when she sends the approved ones
    DISMISSED = "dismissed"
    SENT = "sent"


class Introduction(Base):
    """A pair of attendees the product proposes to introduce after an event (both opted in); the fellow decides."""

    __tablename__ = "event_introductions"
    __table_args__ = (
        UniqueConstraint("event_id", "first_invitation_id", "second_invitation_id", name="uq_event_introductions_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    first_invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"))
    second_invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list[Any]] = mapped_column(default=list)  # why, in plain words
    status: Mapped[IntroductionStatus] = mapped_column(
        str_enum(IntroductionStatus), default=IntroductionStatus.PROPOSED
    )
    decided_by: Mapped[str] = mapped_column(String(320), default="")
    decided_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RsvpResponse(Base):
    """Every answer given, with its time and where it came from (the invitation holds the latest)."""

    __tablename__ = "rsvp_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(40), default="link")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PlaceRequest(Base):
    """Someone not invited asks for a place on the public page; the fellow approves or declines."""

    __tablename__ = "event_place_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    organisation_name: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[PlaceRequestStatus] = mapped_column(str_enum(PlaceRequestStatus), default=PlaceRequestStatus.PENDING)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]


class ContactList(Timestamped, Base):
    """A saved list of contacts, usable as an event audience."""

    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class ContactListMember(Base):
    __tablename__ = "contact_list_members"

    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
