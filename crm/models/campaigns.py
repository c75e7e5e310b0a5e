"""Campaigns (issue 16): announcements and newsletters the fellow writes and sends to an audience she chooses.

A ``Campaign`` holds what the fellow wrote (subject, preheader, Markdown body, an optional call to action, the
sender name), the audience as she defined it (``audience``: a segment definition, see ``crm.campaigns.audience``),
and its life: draft → scheduled → sending → sent (or cancelled). Once sending starts it is never edited again.

``CampaignRecipient`` is the audience *as it was at send time*: one row per address the campaign was queued for,
with which part of the audience it came from (subscribers under their consent, directory contacts under legitimate
interest) and the outbox row that carries it. The outbox rows store no bodies: the dispatcher renders them from
the campaign (``crm.campaigns.render``), and keeps the copy it sent, like a digest's.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, Timestamped, str_enum, utcnow

__all__ = ["AudiencePart", "Campaign", "CampaignRecipient", "CampaignStatus"]


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # send_at set; the worker starts it then (cancel returns it to draft)
    SENDING = "sending"  # the audience is being resolved and queued; resumable after a crash
    SENT = "sent"  # every recipient is in the outbox (delivery then follows the outbox)
    CANCELLED = "cancelled"


class AudiencePart(enum.StrEnum):
    SUBSCRIBERS = "subscribers"  # people who subscribed (consent)
    CONTACTS = "contacts"  # directory contacts at organisations (legitimate interest, opt-out in every email)


class Campaign(Timestamped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_status_send_at", "status", "send_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    preheader: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown, rendered by crm.campaigns.markdown
    cta_label: Mapped[str] = mapped_column(String(80), default="")
    cta_url: Mapped[str] = mapped_column(String(500), default="")
    sender_name: Mapped[str] = mapped_column(String(120), default="")
    # The segment definition the fellow built (crm.campaigns.audience.Segment as JSON).
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[CampaignStatus] = mapped_column(str_enum(CampaignStatus), default=CampaignStatus.DRAFT)
    send_at: Mapped[dt.datetime | None]  # when scheduled (UTC); shown and entered in Europe/London
    started_at: Mapped[dt.datetime | None]  # sending began (the audience was resolved from here)
    sent_at: Mapped[dt.datetime | None]  # every recipient queued
    recipients: Mapped[int] = mapped_column(default=0)  # queued for this campaign
    # What the send resolved: counts per part and per reason left out ({"included": {...}, "excluded": {...}}).
    audience_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # SendGrid's own open and click tracking for this campaign (tracking_settings); nothing hand-made.
    track_opens: Mapped[bool] = mapped_column(default=False)
    track_clicks: Mapped[bool] = mapped_column(default=False)
    # Published as news: the public /news archive and feed, the "view in browser" link, the digest's News section.
    publish_as_news: Mapped[bool] = mapped_column(default=False)
    news_slug: Mapped[str | None] = mapped_column(String(220), unique=True)
    published_at: Mapped[dt.datetime | None]
    created_by: Mapped[str] = mapped_column(String(320), default="")
    duplicated_from_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))


class CampaignRecipient(Base):
    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "email", name="uq_campaign_recipients_campaign_email"),
        Index("ix_campaign_recipients_outbox", "outbox_id"),
        Index("ix_campaign_recipients_subscription", "subscription_id"),
        Index("ix_campaign_recipients_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # lower-cased
    name: Mapped[str] = mapped_column(String(200), default="")
    part: Mapped[AudiencePart] = mapped_column(str_enum(AudiencePart, 20))
    subscription_id: Mapped[int | None]
    contact_id: Mapped[int | None]
    outbox_id: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
