"""Models of the mailing domain: subscriptions (double opt-in), the append-only consent log, provider events.

A ``Subscription`` is one row per subscriber email address (lower-cased, unique). What it receives is the
set ``mailings`` (a JSON list of ``Mailing`` values) narrowed by topics, regions, funders and ``filters``.
Only ``status == active`` subscriptions receive bulk mail; the dispatcher re-checks this at claim time for
every outbox row that carries a ``subscription_id``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, Timestamped, link_table, str_enum, utcnow
from crm.models.directory import Region, Topic

__all__ = [
    "ConsentAction",
    "ConsentEntry",
    "DeliveryEvent",
    "Frequency",
    "Mailing",
    "Subscription",
    "SubscriptionStatus",
    "subscription_regions",
    "subscription_topics",
]


class Mailing(enum.StrEnum):
    FUNDING_DIGEST = "funding_digest"
    INTERNSHIP_ALERTS = "internship_alerts"
    EVENT_NEWS = "event_news"
    NEWS = "news"  # news and announcements: the fellow's campaigns published as news (issue 16)
    INVOLVEMENT = "involvement"  # alerts of involvement opportunities to lived experience network members (issue 18)

    @property
    def label(self) -> str:
        return MAILING_LABELS[self]


MAILING_LABELS = {
    Mailing.FUNDING_DIGEST: "Funding-call digest",
    Mailing.INTERNSHIP_ALERTS: "Internship alerts",
    Mailing.EVENT_NEWS: "Event news",
    Mailing.NEWS: "News and announcements",
    Mailing.INVOLVEMENT: "Involvement opportunities",
}


class Frequency(enum.StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class SubscriptionStatus(enum.StrEnum):
    PENDING = "pending"  # signed up, confirmation link not yet used: receives nothing
    ACTIVE = "active"  # confirmed (double opt-in): receives its mailings
    PAUSED = "paused"  # chose to pause: receives nothing until resumed
    UNSUBSCRIBED = "unsubscribed"  # withdrew consent for everything
    BOUNCED = "bounced"  # hard bounce: address suppressed
    COMPLAINED = "complained"  # spam report: address suppressed


class ConsentAction(enum.StrEnum):
    SUBSCRIBE = "subscribe"
    CONFIRM = "confirm"
    PREFERENCES = "preferences"
    PAUSE = "pause"
    RESUME = "resume"
    UNSUBSCRIBE = "unsubscribe"  # from one mailing (``mailings`` lists what was withdrawn) or from all
    UNSUBSCRIBE_ALL = "unsubscribe_all"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    ADMIN = "admin"


subscription_topics = link_table("subscription_topics", "subscription_id", "subscriptions", "topic")

subscription_regions = link_table("subscription_regions", "subscription_id", "subscriptions", "region")


class Subscription(Timestamped, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    organisation_name: Mapped[str] = mapped_column(String(300), default="")
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    # A JSON list of ``Mailing`` values, e.g. ["funding_digest", "event_news"]. See ``crm.mailing.subscriptions``.
    mailings: Mapped[list[Any]] = mapped_column(default=list)
    # Funder organisation ids the subscriber wants calls from (empty = any funder).
    funder_ids: Mapped[list[Any]] = mapped_column(default=list)
    only_vcse_partner_calls: Mapped[bool] = mapped_column(default=False)
    # Extra per-mailing filters, keyed by mailing, e.g. {"internship_alerts": {"paid_only": true}}.
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    frequency: Mapped[Frequency] = mapped_column(str_enum(Frequency), default=Frequency.WEEKLY)
    status: Mapped[SubscriptionStatus] = mapped_column(str_enum(SubscriptionStatus), default=SubscriptionStatus.PENDING)
    consent_version: Mapped[str] = mapped_column(String(40), default="")
    confirmed_at: Mapped[dt.datetime | None]
    unsubscribed_at: Mapped[dt.datetime | None]
    # Raised whenever a new confirmation is sent, so an older confirmation link stops working.
    confirm_nonce: Mapped[int] = mapped_column(default=0)

    topics: Mapped[list[Topic]] = relationship(secondary=subscription_topics, lazy="raise", order_by=Topic.name)
    regions: Mapped[list[Region]] = relationship(secondary=subscription_regions, lazy="raise", order_by=Region.position)

    @property
    def is_receiving(self) -> bool:
        return self.status == SubscriptionStatus.ACTIVE

    def wants(self, mailing: str) -> bool:
        return self.status == SubscriptionStatus.ACTIVE and mailing in (self.mailings or [])


class ConsentEntry(Base):
    """Append-only: who, when, how (form URL, IP, user agent), what they were told (version), what it covers.

    Rows are never updated or deleted by the application (enforced by ORM events below); a withdrawal is a new row.
    """

    __tablename__ = "consent_entries"
    __table_args__ = (Index("ix_consent_entries_subscription", "subscription_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    action: Mapped[ConsentAction] = mapped_column(str_enum(ConsentAction))
    # How: "web form", "one-click header", "email link", "admin", "provider webhook", "import".
    mechanism: Mapped[str] = mapped_column(String(80), default="")
    source_url: Mapped[str] = mapped_column(String(500), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str] = mapped_column(String(320), default="subscriber")
    consent_version: Mapped[str] = mapped_column(String(40), default="")
    channel: Mapped[str] = mapped_column(String(20), default="email")
    mailings: Mapped[list[Any]] = mapped_column(default=list)
    topics: Mapped[list[Any]] = mapped_column(default=list)  # topic slugs
    regions: Mapped[list[Any]] = mapped_column(default=list)  # region slugs
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


@event.listens_for(ConsentEntry, "before_update")
def _consent_is_append_only(mapper: Any, connection: Any, target: ConsentEntry) -> None:
    raise ValueError("consent entries are append-only")


@event.listens_for(ConsentEntry, "before_delete")
def _consent_is_never_deleted(mapper: Any, connection: Any, target: ConsentEntry) -> None:
    raise ValueError("consent entries are append-only")


class DeliveryEvent(Base):
    """One SendGrid Event Webhook event, stored once per ``sg_event_id``."""

    __tablename__ = "delivery_events"
    __table_args__ = (Index("ix_delivery_events_outbox", "outbox_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sg_event_id: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    outbox_id: Mapped[int | None]
    sg_message_id: Mapped[str] = mapped_column(String(300), default="")
    bounce_type: Mapped[str] = mapped_column(String(40), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[dt.datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
