"""One of every timeline source for a contact (and so for its organisation), at known times."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
_seq = itertools.count(1)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def fellow(db: Session, email: str = "fellow@example.org", name: str = "Fellow") -> m.User:
    user = m.User(email=email, role=m.Role.ADMIN, name=name)
    db.add(user)
    db.flush()
    return user


def email(db: Session, contact: m.Contact, minute: int, subject: str = "Hello", events: tuple[str, ...] = ()) -> int:
    n = next(_seq)
    msg = m.OutboxMessage(
        idempotency_key=f"test:{n}",
        kind="notice",
        recipient=contact.email,
        recipient_name=contact.name,
        subject=subject,
        status=m.OutboxStatus.SENT,
        created_at=at(minute),
        sent_at=at(minute),
        delivery_status=events[-1] if events else "",
    )
    db.add(msg)
    db.flush()
    for i, event in enumerate(events):
        db.add(m.DeliveryEvent(sg_event_id=f"ev-{n}-{i}", event=event, email=contact.email, outbox_id=msg.id))
    return msg.id


def every_source(db: Session, contact: m.Contact, org: m.Organisation, user: m.User, base: int = 0) -> dict[str, Any]:
    """One item of each kind, a minute apart from ``base`` (the note is the newest)."""
    n = next(_seq)
    email(db, contact, base + 1, subject=f"Your funding digest {n}", events=("processed", "delivered", "open", "click"))
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == contact.email))
    if sub is None:
        sub = m.Subscription(email=contact.email, contact_id=contact.id, status=m.SubscriptionStatus.ACTIVE)
        db.add(sub)
        db.flush()
    db.add(
        m.ConsentEntry(
            subscription_id=sub.id,
            email=contact.email,
            action=m.ConsentAction.SUBSCRIBE,
            mechanism="web form",
            created_at=at(base + 2),
        )
    )
    event = m.Event(
        uid=f"evt-{n}@x",
        title=f"Carers' research café {n}",
        slug=f"cafe-{n}",
        starts_at=at(base - 60),
        ends_at=at(base + 5),
        status=m.EventStatus.PUBLISHED,
    )
    db.add(event)
    db.flush()
    inv = m.Invitation(
        event_id=event.id, contact_id=contact.id, status=m.InvitationStatus.YES, invited_at=at(base + 3), attended=True
    )
    db.add(inv)
    db.flush()
    db.add(m.RsvpResponse(invitation_id=inv.id, answer="yes", result="yes", at=at(base + 4)))
    job = m.Internship(
        title=f"Peer research placement {n}",
        slug=f"placement-{n}",
        host_organisation_id=org.id,
        direction=m.InternshipDirection.RESEARCHER_TO_VCSE,
        mode=m.InternshipMode.REMOTE,
        closing_date=dt.date(2026, 12, 31),
        closes_at=at(base + 100000),
    )
    db.add(job)
    db.flush()
    db.add(m.InternshipInterest(internship_id=job.id, name=contact.name, email=contact.email, created_at=at(base + 6)))
    p = m.Partnership(title=f"Co-produced study {n}")
    db.add(p)
    db.flush()
    db.add(m.PartnershipMember(partnership_id=p.id, side=m.Side.VCSE, organisation_id=org.id, contact_id=contact.id))
    db.add(
        m.PartnershipActivity(
            partnership_id=p.id, kind=m.ActivityKind.MEETING, occurred_at=at(base + 7), summary="Agreed the questions"
        )
    )
    db.add(
        m.AuditEntry(
            at=at(base + 8),
            actor="fellow@example.org",
            action="updated",
            entity="contact",
            entity_id=contact.id,
            summary=contact.name,
            changes={"job_title": ["", "Researcher"]},
        )
    )
    db.add(
        m.AuditEntry(
            at=at(base + 8),
            actor="fellow@example.org",
            action="imported",
            entity="organisation",
            entity_id=org.id,
            summary=org.name,
            changes={"name": [None, org.name]},
        )
    )
    db.add(
        m.TimelineTask(
            contact_id=contact.id,
            title=f"Send the consent form {n}",
            due_date=dt.date(2026, 11, 20),
            owner_id=user.id,
            created_at=at(base + 9),
        )
    )
    db.add(
        m.TimelineTask(
            organisation_id=org.id,
            title=f"Ask about the room {n}",
            due_date=dt.date(2026, 11, 20),
            owner_id=user.id,
            created_at=at(base + 9),
        )
    )
    db.add(
        m.TimelineNote(
            contact_id=contact.id, body=f"Prefers phone calls {n}", author="Fellow", created_at=at(base + 10)
        )
    )
    db.add(
        m.TimelineNote(
            organisation_id=org.id, body=f"Office moves in spring {n}", author="Fellow", created_at=at(base + 10)
        )
    )
    db.flush()
    return {"event": event, "job": job, "partnership": p}
