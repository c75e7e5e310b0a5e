"""Hand-made data for dashboard, report and privacy tests: direct model rows, invented names only."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from sqlalchemy.orm import Session

from crm import models as m

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
_n = itertools.count(1)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def call(
    db: Session,
    funder: m.Organisation,
    *,
    status: m.CallStatus = m.CallStatus.PUBLISHED,
    deadlines: list[dt.datetime] = (),
    title: str = "",
) -> m.FundingCall:
    n = next(_n)
    title = title or f"Invented Fund {n}"
    c = m.FundingCall(
        title=title,
        title_normalised=title.lower(),
        slug=f"invented-fund-{n}",
        funder_id=funder.id,
        status=status,
        next_deadline_at=min(deadlines) if deadlines else None,
        last_deadline_at=max(deadlines) if deadlines else None,
    )
    db.add(c)
    db.flush()
    for i, due in enumerate(deadlines):
        db.add(m.FundingCallDeadline(call_id=c.id, label=f"Stage {i + 1}", due_at=due))
    db.flush()
    return c


def partnership(
    db: Session,
    *,
    stage: m.PartnershipStage = m.PartnershipStage.EXPLORING,
    created: dt.datetime = NOW,
    last_activity: dt.datetime | None = None,
    next_step: str = "",
    next_step_due: dt.date | None = None,
    call: m.FundingCall | None = None,
    stage_changed: dt.datetime | None = None,
    title: str = "",
) -> m.Partnership:
    p = m.Partnership(
        title=title or f"Invented partnership {next(_n)}",
        stage=stage,
        created_at=created,
        updated_at=created,
        last_activity_at=last_activity,
        next_step=next_step,
        next_step_due=next_step_due,
        funding_call_id=call.id if call else None,
        stage_changed_at=stage_changed or created,
    )
    db.add(p)
    db.flush()
    return p


def event(
    db: Session,
    *,
    starts: dt.datetime,
    capacity: int | None = None,
    status: m.EventStatus = m.EventStatus.PUBLISHED,
    title: str = "",
) -> m.Event:
    n = next(_n)
    e = m.Event(
        uid=f"evt-{uuid.uuid4()}@test",
        title=title or f"Invented event {n}",
        slug=f"invented-event-{n}",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=capacity,
        status=status,
    )
    db.add(e)
    db.flush()
    return e


def invite(
    db: Session,
    e: m.Event,
    c: m.Contact,
    status: m.InvitationStatus = m.InvitationStatus.INVITED,
    attended: bool | None = None,
) -> m.Invitation:
    i = m.Invitation(event_id=e.id, contact_id=c.id, status=status, attended=attended, invited_at=NOW - days(10))
    db.add(i)
    db.flush()
    return i


def internship(
    db: Session,
    host: m.Organisation,
    *,
    status: m.InternshipStatus = m.InternshipStatus.PUBLISHED,
    published: dt.datetime | None = NOW,
    closed: dt.datetime | None = None,
    **kw,
) -> m.Internship:
    n = next(_n)
    i = m.Internship(
        title=f"Invented internship {n}",
        slug=f"invented-internship-{n}",
        host_organisation_id=host.id,
        direction=m.InternshipDirection.RESEARCHER_TO_VCSE,
        mode=m.InternshipMode.REMOTE,
        closing_date=(NOW + days(30)).date(),
        closes_at=NOW + days(30),
        status=status,
        published_at=published,
        closed_at=closed,
        **kw,
    )
    db.add(i)
    db.flush()
    return i


def outbox(
    db: Session,
    to: str,
    *,
    status: m.OutboxStatus = m.OutboxStatus.SENT,
    sent: dt.datetime | None = NOW,
    created: dt.datetime = NOW,
    **kw,
) -> m.OutboxMessage:
    o = m.OutboxMessage(
        idempotency_key=f"test:{uuid.uuid4()}",
        kind=kw.pop("kind", "test"),
        recipient=to,
        status=status,
        sent_at=sent,
        created_at=created,
        **kw,
    )
    db.add(o)
    db.flush()
    return o


def delivery(
    db: Session, event_name: str, email: str, when: dt.datetime, outbox_id: int | None = None, **kw
) -> m.DeliveryEvent:
    d = m.DeliveryEvent(
        sg_event_id=str(uuid.uuid4()),
        event=event_name,
        email=email,
        occurred_at=when,
        outbox_id=outbox_id,
        received_at=when,
        **kw,
    )
    db.add(d)
    db.flush()
    return d


def consent(
    db: Session,
    email: str,
    action: m.ConsentAction,
    when: dt.datetime,
    subscription: m.Subscription | None = None,
    **kw,
) -> m.ConsentEntry:
    c = m.ConsentEntry(
        email=email, action=action, created_at=when, subscription_id=subscription.id if subscription else None, **kw
    )
    db.add(c)
    db.flush()
    return c


def subscription(
    db: Session,
    email: str,
    *,
    status: m.SubscriptionStatus = m.SubscriptionStatus.ACTIVE,
    created: dt.datetime = NOW,
    **kw,
) -> m.Subscription:
    s = m.Subscription(
        email=email, status=status, created_at=created, updated_at=created, mailings=["funding_digest"], **kw
    )
    db.add(s)
    db.flush()
    return s
