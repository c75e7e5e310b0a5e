"""API shapes for /api/v1/events (msgspec Structs, documented in OpenAPI).

Public shapes carry no personal data; invitations (names, emails, answers) are only for admins and admin API keys.
Times are ISO 8601 with an offset; they are stored and returned in UTC.
"""

from __future__ import annotations

import datetime as dt

import msgspec


class EventOut(msgspec.Struct):
    id: int
    slug: str
    title: str
    url: str
    description: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    all_day: bool
    venue: str
    online_url: str
    capacity: int | None
    rsvp_deadline: dt.datetime | None
    status: str
    sequence: int
    uid: str
    host_organisation_id: int | None
    host_name: str | None
    funding_call_id: int | None
    allow_requests: bool
    vcse_min_percent: int | None
    accessibility: str = ""  # what people need to know to take part (step-free access, hearing loop…)
    # Only for admins:
    counts: dict[str, int] | None = None


class EventPage(msgspec.Struct):
    items: list[EventOut]
    next_cursor: str | None
    prev_cursor: str | None


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    """Create an event (a draft unless ``publish`` is true). Times need an offset, e.g. ``2026-06-01T09:30:00+01:00``."""

    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    description: str = ""
    accessibility: str = ""
    host_organisation_id: int | None = None
    funding_call_id: int | None = None
    all_day: bool = False
    venue: str = ""
    online_url: str = ""
    capacity: int | None = None
    rsvp_deadline: dt.datetime | None = None
    vcse_min_percent: int | None = None
    allow_requests: bool = False
    reminder_offsets_hours: list[int] = msgspec.field(default_factory=lambda: [168, 24])
    offer_hold_hours: int = 48
    offers_stop_hours: int = 24
    publish: bool = False


class EventPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Change some fields; absent fields keep their value. Changing the time or place of a published event sends
    an update (SEQUENCE + 1) to everyone invited who has not declined. ``action`` is ``publish`` or ``cancel``."""

    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    accessibility: str | msgspec.UnsetType = msgspec.UNSET
    starts_at: dt.datetime | msgspec.UnsetType = msgspec.UNSET
    ends_at: dt.datetime | msgspec.UnsetType = msgspec.UNSET
    all_day: bool | msgspec.UnsetType = msgspec.UNSET
    venue: str | msgspec.UnsetType = msgspec.UNSET
    online_url: str | msgspec.UnsetType = msgspec.UNSET
    capacity: int | msgspec.UnsetType | None = msgspec.UNSET
    rsvp_deadline: dt.datetime | msgspec.UnsetType | None = msgspec.UNSET
    vcse_min_percent: int | msgspec.UnsetType | None = msgspec.UNSET
    allow_requests: bool | msgspec.UnsetType = msgspec.UNSET
    host_organisation_id: int | msgspec.UnsetType | None = msgspec.UNSET
    funding_call_id: int | msgspec.UnsetType | None = msgspec.UNSET
    reminder_offsets_hours: list[int] | msgspec.UnsetType = msgspec.UNSET
    offer_hold_hours: int | msgspec.UnsetType = msgspec.UNSET
    offers_stop_hours: int | msgspec.UnsetType = msgspec.UNSET
    action: str | msgspec.UnsetType = msgspec.UNSET


class InvitationOut(msgspec.Struct):
    id: int
    contact_id: int
    name: str
    email: str | None
    organisation: str | None
    status: str
    vcse: bool
    responded_at: dt.datetime | None
    waitlisted_at: dt.datetime | None
    offer_expires_at: dt.datetime | None
    note: str
    attended: bool | None
    source: str


class InvitationList(msgspec.Struct):
    event_id: int
    counts: dict[str, int]
    items: list[InvitationOut]


class InvitationsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Invite people: directory contacts by id, a saved contact list, and/or email addresses (a new address becomes
    a private contact). The same rules as the audience page: nobody is invited twice, and suppressed or withdrawn
    addresses are left out (counted in ``excluded``). Repeating the request invites nobody new."""

    contact_ids: list[int] = msgspec.field(default_factory=list)
    list_id: int | None = None
    emails: list[str] = msgspec.field(default_factory=list)


class InvitationsSent(msgspec.Struct):
    invited: int  # invitations created by this request
    matched: int  # people the request named (before exclusions)
    excluded: dict[str, int]  # reason -> how many were left out (already-invited, unsubscribed, bounced, ...)
    queued_later: int  # invitations whose email the worker queues in the background (large requests)
