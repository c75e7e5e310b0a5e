"""Small factories shared by the funding and partnerships tests (invented names only)."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from crm import models as m
from crm.funding import services as fs
from tests.factories import region, topic

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
_seq = itertools.count(1)


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
