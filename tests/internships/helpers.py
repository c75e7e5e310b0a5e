"""Factories for internship tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import insert

from crm import models as m
from crm.accounts.services import create_session, ensure_user
from crm.internships.services import closes_at_for, london_today
from crm.web.auth import SESSION_COOKIE
from tests.factories import region_id, topic

_seq = itertools.count(1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_internship(
    db: Any,
    org: m.Organisation,
    *,
    title: str | None = None,
    days: int = 30,
    status: m.InternshipStatus = m.InternshipStatus.PUBLISHED,
    direction: m.InternshipDirection = m.InternshipDirection.RESEARCHER_TO_VCSE,
    mode: str = "remote",
    pence: int | None = None,
    period: str | None = "week",
    hours: int | None = 10,
    region: str | None = None,
    topics: tuple[str, ...] = (),
    stages: tuple[str, ...] = (),
    published_at: dt.datetime | None = None,
    description: str = "A placement.",
    contact_email: str = "host@example.org",
) -> m.Internship:
    title = title or f"Internship {next(_seq)}"
    closing = london_today(now()) + dt.timedelta(days=days)
    public = status in (m.InternshipStatus.PUBLISHED, m.InternshipStatus.CLOSED, m.InternshipStatus.FILLED)
    i = m.Internship(
        title=title,
        slug=title.lower().replace(" ", "-").replace("<", "").replace(">", "").replace("/", "") + f"-{next(_seq)}",
        host_organisation_id=org.id,
        direction=direction,
        description=description,
        region_id=region_id(db, region) if region else None,
        mode=m.InternshipMode(mode),
        paid=pence is not None,
        stipend_pence=pence,
        stipend_period=m.StipendPeriod(period) if pence is not None and period else None,
        hours_per_week=hours,
        closing_date=closing,
        closes_at=closes_at_for(closing),
        apply_url="https://example.org/apply",
        status=status,
        host_contact_name="Host Person",
        host_contact_email=contact_email,
        published_at=(published_at or now() - dt.timedelta(days=1)) if public else None,
    )
    db.add(i)
    db.flush()
    for name in topics:
        db.execute(insert(m.internship_topics).values(internship_id=i.id, topic_id=topic(db, name).id))
    for stage in stages:
        db.execute(insert(m.internship_career_stages).values(internship_id=i.id, stage=stage))
    return i


def sign_in(client: Any, db: Any, settings: Any, email: str, role: m.Role, org_id: int | None = None) -> m.User:
    user = ensure_user(db, email, role, name=email.split("@")[0].title())
    user.organisation_id = org_id
    cookie = create_session(db, user, settings)
    db.commit()
    client.cookies.set(SESSION_COOKIE, cookie)
    return user


def form_data(org_id: int, **overrides: Any) -> dict[str, Any]:
    closing = (london_today(now()) + dt.timedelta(days=20)).isoformat()
    data = {
        "title": "Research assistant with a peer support charity",
        "host_organisation_id": str(org_id),
        "direction": "researcher-to-vcse",
        "description": "Help evaluate a peer support service.",
        "mode": "hybrid",
        "paid": "1",
        "stipend_amount": "250",
        "stipend_period": "week",
        "hours_per_week": "15",
        "duration": "12 weeks",
        "closing_date": closing,
        "apply_url": "https://example.org/apply",
        "apply_email": "",
        "host_contact_name": "Host Person",
        "host_contact_email": "host@example.org",
        "intent": "publish",
    }
    data.update(overrides)
    return data
