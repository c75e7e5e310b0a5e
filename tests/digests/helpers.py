"""Factories for the digest tests: direct inserts (invented names only), independent of other domains' forms."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crm import models as m

# Wednesday 25 November 2026, 12:00 UTC: period 2026-W48 (due Monday 23 Nov 08:00 GMT) is 2 days late.
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
WEEK = "2026-W48"
_seq = itertools.count(1)


def topics(db: Session) -> list[m.Topic]:
    return list(db.scalars(select(m.Topic).order_by(m.Topic.id)))


def regions(db: Session) -> dict[str, int]:
    return {r.code: r.id for r in db.scalars(select(m.Region))}


def call(
    db: Session,
    funder: m.Organisation,
    title: str | None = None,
    *,
    topic_ids: tuple[int, ...] = (),
    region_ids: tuple[int, ...] = (),
    published_at: dt.datetime | None = None,
    deadline: dt.datetime | None = NOW + dt.timedelta(days=60),
    vcse: bool = False,
    amount: tuple[int | None, int | None] = (10_000, 50_000),
    status: m.CallStatus = m.CallStatus.PUBLISHED,
) -> m.FundingCall:
    n = next(_seq)
    title = title or f"Invented call {n}"
    c = m.FundingCall(
        title=title,
        title_normalised=title.lower(),
        slug=f"call-{n}",
        funder_id=funder.id,
        amount_min=amount[0],
        amount_max=amount[1],
        next_deadline_at=deadline,
        last_deadline_at=deadline,
        requires_vcse_partner=vcse,
        status=status,
        published_at=published_at or NOW - dt.timedelta(days=5),
    )
    db.add(c)
    db.flush()
    if topic_ids:
        db.execute(insert(m.funding_call_topics), [{"call_id": c.id, "topic_id": t} for t in topic_ids])
    if region_ids:
        db.execute(insert(m.funding_call_regions), [{"call_id": c.id, "region_id": r} for r in region_ids])
    return c


def event(db: Session, title: str | None = None, *, days: int = 10, published_at: dt.datetime | None = None) -> m.Event:
    n = next(_seq)
    e = m.Event(
        uid=f"evt-{n}@test",
        title=title or f"Invented meet-up {n}",
        slug=f"event-{n}",
        starts_at=NOW + dt.timedelta(days=days),
        ends_at=NOW + dt.timedelta(days=days, hours=2),
        venue="Invented Hall, Leeds",
        status=m.EventStatus.PUBLISHED,
        published_at=published_at or NOW - dt.timedelta(days=3),
    )
    db.add(e)
    db.flush()
    return e


def subscription(
    db: Session,
    email: str | None = None,
    *,
    mailings: tuple[str, ...] = ("funding_digest",),
    topic_ids: tuple[int, ...] = (),
    region_ids: tuple[int, ...] = (),
    funder_ids: tuple[int, ...] = (),
    only_vcse: bool = False,
    frequency: m.Frequency = m.Frequency.WEEKLY,
    status: m.SubscriptionStatus = m.SubscriptionStatus.ACTIVE,
    filters: dict[str, Any] | None = None,
    name: str = "",
) -> m.Subscription:
    n = next(_seq)
    s = m.Subscription(
        email=email or f"reader{n}@example.org",
        name=name or f"Reader {n}",
        mailings=list(mailings),
        funder_ids=list(funder_ids),
        only_vcse_partner_calls=only_vcse,
        filters=filters or {},
        frequency=frequency,
        status=status,
        confirmed_at=NOW - dt.timedelta(days=30) if status == m.SubscriptionStatus.ACTIVE else None,
    )
    db.add(s)
    db.flush()
    if topic_ids:
        db.execute(insert(m.subscription_topics), [{"subscription_id": s.id, "topic_id": t} for t in topic_ids])
    if region_ids:
        db.execute(insert(m.subscription_regions), [{"subscription_id": s.id, "region_id": r} for r in region_ids])
    return s


def digest_rows(db: Session) -> list[m.OutboxMessage]:
    return list(
        db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "digest").order_by(m.OutboxMessage.id))
    )
