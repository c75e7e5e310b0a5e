"""Rows of the involvement domain written straight through the models, for the records, privacy, dashboard and demo
tests (helper E). Organisations and contacts come from tests/factories.py."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from crm import models as m
from tests.dashboard.factories import NOW

_n = itertools.count(1)


def opportunity(
    db: Session,
    *,
    title: str = "",
    status: m.OpportunityStatus = m.OpportunityStatus.PUBLISHED,
    closes: dt.datetime = NOW + dt.timedelta(days=30),
    **kw: Any,
) -> m.InvolvementOpportunity:
    n = next(_n)
    o = m.InvolvementOpportunity(
        title=title or f"Invented opportunity {n}",
        slug=f"invented-opportunity-{n}",
        kind=kw.pop("kind", m.InvolvementKind.ADVISORY_GROUP),
        closing_date=closes.date(),
        closes_at=closes,
        status=status,
        **kw,
    )
    db.add(o)
    db.flush()
    return o


def member(
    db: Session,
    email: str,
    name: str,
    *,
    status: m.NetworkMemberStatus = m.NetworkMemberStatus.ACTIVE,
    created: dt.datetime = NOW,
    **kw: Any,
) -> m.NetworkMember:
    row = m.NetworkMember(
        email=email,
        name=name,
        status=status,
        created_at=created,
        updated_at=kw.pop("updated", created),
        consented_at=created,
        confirmed_at=created if status == m.NetworkMemberStatus.ACTIVE else None,
        consent_wording="I agree that Roundtable keeps what I share here to tell me about involvement.",
        **kw,
    )
    db.add(row)
    db.flush()
    return row


def interest(db: Session, opp: m.InvolvementOpportunity, email: str, name: str, **kw: Any) -> m.InvolvementInterest:
    row = m.InvolvementInterest(
        opportunity_id=opp.id, email=email, name=name, consent_wording="I agree.", created_at=NOW, **kw
    )
    db.add(row)
    db.flush()
    return row


def consultation(db: Session, *, title: str = "", **kw: Any) -> m.ConsultationRequest:
    row = m.ConsultationRequest(
        title=title or f"Invented consultation {next(_n)}",
        answer_by=kw.pop("answer_by", (NOW + dt.timedelta(days=14)).date()),
        status=kw.pop("status", m.ConsultationStatus.SENT),
        sent_at=kw.pop("sent_at", NOW - dt.timedelta(days=3)),
        **kw,
    )
    db.add(row)
    db.flush()
    return row


def recipient(db: Session, request: m.ConsultationRequest, org: m.Organisation, **kw: Any) -> m.ConsultationRecipient:
    row = m.ConsultationRecipient(request_id=request.id, organisation_id=org.id, sent_at=request.sent_at, **kw)
    db.add(row)
    db.flush()
    return row


def record(db: Session, *, activity: str = "", took_part_on: dt.date | None = None, **kw: Any) -> m.InvolvementRecord:
    row = m.InvolvementRecord(
        activity=activity or f"Invented activity {next(_n)}",
        took_part_on=took_part_on or NOW.date(),
        created_at=kw.pop("created_at", NOW),
        **kw,
    )
    db.add(row)
    db.flush()
    return row
