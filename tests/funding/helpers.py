"""Small factories shared by the funding and partnerships tests (invented names only)."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory.reference import slugify
from crm.funding import services as fs

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
_seq = itertools.count(1)


def topic(db: Session, name: str) -> m.Topic:
    return db.scalar(select(m.Topic).where(m.Topic.name == name))


def region(db: Session, name: str) -> m.Region:
    return db.scalar(select(m.Region).where(m.Region.name == name))


def org(
    db: Session,
    name: str,
    kind: m.OrgKind = m.OrgKind.VCSE,
    *,
    region_name: str | None = None,
    topics: list[str] = (),
    category: m.VcseCategory | None = None,
    user_led: bool = False,
    lived: bool = False,
    status: m.ReviewStatus = m.ReviewStatus.APPROVED,
) -> m.Organisation:
    o = m.Organisation(
        name=name,
        name_normalised=name.lower(),
        slug=f"{slugify(name)}-{next(_seq)}",
        kind=kind,
        vcse_category=category,
        user_led=user_led,
        lived_experience_led=lived,
        region_id=region(db, region_name).id if region_name else None,
        review_status=status,
    )
    db.add(o)
    db.flush()
    if topics:
        db.execute(
            m.organisation_topics.insert(),
            [{"organisation_id": o.id, "topic_id": topic(db, t).id} for t in topics],
        )
    return o


def call_input(
    db: Session,
    funder: m.Organisation,
    title: str = "Community research fund",
    *,
    deadlines: list[tuple[str, dt.datetime]] | None = None,
    topics: list[str] = (),
    regions: list[str] = (),
    **kwargs,
) -> fs.CallInput:
    return fs.CallInput(
        title=title,
        funder_id=funder.id,
        deadlines=[
            fs.DeadlineInput(label, due)
            for label, due in (deadlines or [("Full application", NOW + dt.timedelta(days=30))])
        ],
        topic_ids=[topic(db, t).id for t in topics],
        region_ids=[region(db, r).id for r in regions],
        **kwargs,
    )


def make_call(
    db: Session,
    funder: m.Organisation,
    title: str = "Community research fund",
    *,
    status=m.CallStatus.PUBLISHED,
    now=NOW,
    **kwargs,
) -> m.FundingCall:
    return fs.create_call(db, None, call_input(db, funder, title, **kwargs), now=now, status=status)
