"""API shapes for /api/v1/campaigns (msgspec Structs, documented in OpenAPI).

The audience has the shape it is stored in (``crm.campaigns.audience_segment.Segment.to_json``), with the parts
present when chosen: ``subscribers`` (people who subscribed: their consent) and ``contacts`` (directory contacts at
organisations: legitimate interest, an opt-out in every email), and ``exclude``. Ids that name nothing match
nobody. Times are ISO 8601 in UTC.

Figures from the provider (delivered, opened, clicked...) are ``null`` when the configured transport does not
report them (``delivery_reported`` is false): a zero would read as a fact.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

from crm.validation import MAX_ID  # record ids are PostgreSQL integers

RecordId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Ids = Annotated[list[RecordId], msgspec.Meta(max_length=1000)]
Words = Annotated[list[Annotated[str, msgspec.Meta(max_length=80)]], msgspec.Meta(max_length=50)]


class SubscribersPart(msgspec.Struct, forbid_unknown_fields=True):
    """Subscribers of one mailing (``news``, ``funding_digest``, ``internship_alerts``, ``event_news``), narrowed
    by their topics, regions and funders when given."""

    mailing: str = "news"
    topic_ids: Ids = msgspec.field(default_factory=list)
    region_ids: Ids = msgspec.field(default_factory=list)
    funder_ids: Ids = msgspec.field(default_factory=list)


class ContactsPart(msgspec.Struct, forbid_unknown_fields=True):
    """Directory contacts at approved organisations, narrowed by each group given (any value within a group)."""

    org_kinds: Words = msgspec.field(default_factory=list)
    vcse_categories: Words = msgspec.field(default_factory=list)
    led_by: Words = msgspec.field(default_factory=list)  # user_led, lived_experience_led
    region_ids: Ids = msgspec.field(default_factory=list)
    topic_ids: Ids = msgspec.field(default_factory=list)
    list_ids: Ids = msgspec.field(default_factory=list)
    partnership_ids: Ids = msgspec.field(default_factory=list)
    invited_event_ids: Ids = msgspec.field(default_factory=list)
    attended_event_ids: Ids = msgspec.field(default_factory=list)


class Exclusions(msgspec.Struct, forbid_unknown_fields=True):
    list_ids: Ids = msgspec.field(default_factory=list)
    invited_event_ids: Ids = msgspec.field(default_factory=list)
    attended_event_ids: Ids = msgspec.field(default_factory=list)
    organisation_ids: Ids = msgspec.field(default_factory=list)
    emails: Annotated[list[Annotated[str, msgspec.Meta(max_length=320)]], msgspec.Meta(max_length=5000)] = (
        msgspec.field(default_factory=list)
    )


class Audience(msgspec.Struct, forbid_unknown_fields=True):
    """Who the campaign goes to: at least one part. A person in both parts gets one email, as a subscriber."""

    subscribers: SubscribersPart | None = None
    contacts: ContactsPart | None = None
    exclude: Exclusions = msgspec.field(default_factory=Exclusions)


class CampaignIn(msgspec.Struct, forbid_unknown_fields=True):
    """Create a draft. ``body`` is Markdown (headings, lists, links, emphasis, images by https URL with alt text);
    a button needs both ``cta_label`` and an https ``cta_url``. Bad fields: 422 naming each."""

    subject: str
    body: str
    preheader: str = ""
    cta_label: str = ""
    cta_url: str = ""
    sender_name: str = ""
    track_opens: bool = False
    track_clicks: bool = False
    publish_as_news: bool = False
    audience: Audience | None = None


class CampaignPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Change some fields of a draft (or a scheduled campaign); absent fields keep their value. A campaign that
    has started sending is refused (409)."""

    subject: str | msgspec.UnsetType = msgspec.UNSET
    body: str | msgspec.UnsetType = msgspec.UNSET
    preheader: str | msgspec.UnsetType = msgspec.UNSET
    cta_label: str | msgspec.UnsetType = msgspec.UNSET
    cta_url: str | msgspec.UnsetType = msgspec.UNSET
    sender_name: str | msgspec.UnsetType = msgspec.UNSET
    track_opens: bool | msgspec.UnsetType = msgspec.UNSET
    track_clicks: bool | msgspec.UnsetType = msgspec.UNSET
    publish_as_news: bool | msgspec.UnsetType = msgspec.UNSET
    audience: Audience | msgspec.UnsetType = msgspec.UNSET


class CountOut(msgspec.Struct):
    people: int  # recipients with at least one such event
    events: int  # the events themselves (opens and clicks repeat)


class DayOut(msgspec.Struct):
    day: int  # 1..7: 24-hour periods from the start of sending
    start: dt.datetime
    delivered: int | None
    opened: int | None
    clicked: int | None


class LinkOut(msgspec.Struct):
    url: str
    people: int
    clicks: int


class FiguresOut(msgspec.Struct):
    delivery_reported: bool  # false: the transport does not report delivery and engagement (they are null)
    recipients: int
    queued: int
    waiting: int
    sent: int
    not_sent: int
    not_sent_by_status: dict[str, int]
    unsubscribed: int
    delivered: CountOut | None
    deferred: CountOut | None
    bounced: CountOut | None
    dropped: CountOut | None
    spam_reports: CountOut | None
    opened: CountOut | None  # also null when open tracking was off
    clicked: CountOut | None  # also null when click tracking was off
    days: list[DayOut] | None
    links: list[LinkOut] | None


class CampaignSummary(msgspec.Struct):
    id: int
    subject: str
    status: str
    send_at: dt.datetime | None
    sent_at: dt.datetime | None
    recipients: int | None  # queued once sending started, else the audience's size when last counted
    updated_at: dt.datetime


class CampaignPage(msgspec.Struct):
    items: list[CampaignSummary]
    next_cursor: str | None
    prev_cursor: str | None


class CampaignOut(msgspec.Struct):
    id: int
    subject: str
    preheader: str
    body: str
    cta_label: str
    cta_url: str
    sender_name: str
    track_opens: bool
    track_clicks: bool
    publish_as_news: bool
    status: str
    editable: bool
    audience: Audience
    audience_summary: dict[str, Any]
    send_at: dt.datetime | None
    started_at: dt.datetime | None
    sent_at: dt.datetime | None
    recipients: int
    news_url: str | None
    duplicated_from_id: int | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    figures: FiguresOut | None = None  # in GET /api/v1/campaigns/{id}


class SendOut(msgspec.Struct):
    started: bool
    queued: bool  # every recipient is in the outbox already (else the worker queues them within a minute)
    recipients: int
    campaign: CampaignOut
