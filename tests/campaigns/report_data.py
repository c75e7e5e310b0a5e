"""Campaigns as the sending job leaves them (campaign, recipients, outbox rows) and SendGrid webhook events about
them, made directly so the figures and API tests do not depend on the sending code."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from crm import models as m
from crm.mailing.compliance import CONTACT_STREAM
from crm.mailing.webhooks import process_events

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
_events = itertools.count(1)


@dataclasses.dataclass
class Sent:
    campaign: m.Campaign
    recipients: list[m.CampaignRecipient]
    outbox: list[m.OutboxMessage]


def campaign(
    db: Session,
    n: int,
    *,
    subject: str = "The MRC call is out",
    started: dt.datetime | None = START,
    status: m.CampaignStatus = m.CampaignStatus.SENT,
    track: bool = True,
    outbox_status: m.OutboxStatus = m.OutboxStatus.SENT,
    contacts: int = 0,
    contact_ids: list[int | None] | None = None,
    emails: list[str] | None = None,
) -> Sent:
    """A campaign sent to ``n`` addresses (the last ``contacts`` of them directory contacts), every outbox row in
    ``outbox_status``."""
    c = m.Campaign(
        subject=subject,
        body="Join our briefing on Thursday.",
        status=status,
        started_at=started,
        sent_at=started,
        recipients=n,
        track_opens=track,
        track_clicks=track,
        created_by="fellow@example.org",
    )
    db.add(c)
    db.flush()
    recipients, rows = [], []
    for i in range(n):
        is_contact = i >= n - contacts
        email = emails[i] if emails and i < len(emails) else f"reader{i}-{c.id}@example.org"
        contact_id = contact_ids[i] if contact_ids and i < len(contact_ids) else None
        o = m.OutboxMessage(
            idempotency_key=f"campaign:{c.id}:{email}",
            kind="campaign",
            template="campaign",
            context={"c": c.id},
            bulk=True,
            recipient=email,
            recipient_name=f"Reader {i}",
            mailing=CONTACT_STREAM if is_contact else m.Mailing.NEWS.value,
            contact_id=contact_id,
            status=outbox_status,
            sent_at=started if outbox_status == m.OutboxStatus.SENT else None,
            created_at=started or START,
        )
        rows.append(o)
    db.add_all(rows)
    db.flush()
    for i, o in enumerate(rows):
        recipients.append(
            m.CampaignRecipient(
                campaign_id=c.id,
                email=o.recipient,
                name=o.recipient_name,
                part=m.AudiencePart.CONTACTS if i >= n - contacts else m.AudiencePart.SUBSCRIBERS,
                contact_id=o.contact_id,
                outbox_id=o.id,
            )
        )
    db.add_all(recipients)
    db.flush()
    return Sent(c, recipients, rows)


def event(o: m.OutboxMessage, kind: str, at: dt.datetime, **extra: Any) -> dict[str, Any]:
    """One SendGrid event as the signed webhook posts it, with our ``crm_outbox_id`` from ``custom_args``."""
    return {
        "email": o.recipient,
        "timestamp": int(at.timestamp()),
        "event": kind,
        "sg_event_id": f"sg-{next(_events)}",
        "sg_message_id": f"msg-{o.id}.filter",
        "crm_outbox_id": str(o.id),
        **extra,
    }


def post_events(db: Session, events: list[dict[str, Any]]) -> int:
    """Through the webhook's own processing (stored once per sg_event_id, effects applied)."""
    return process_events(db, events, now=START + dt.timedelta(days=8))
