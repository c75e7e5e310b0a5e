"""Every sort of the funding and partnership lists pages through all rows once, in order, on both databases."""

from __future__ import annotations

import datetime as dt

from crm import models as m
from crm.funding import queries as fq
from crm.listing import ListParams
from crm.partnerships import changes, queries, rules
from tests import factories
from tests.funding.helpers import NOW, make_call

DAY = dt.timedelta(days=1)


def walk(fetch, sort):
    seen, cursor = [], ""
    for _ in range(50):
        page = fetch(ListParams(sort=sort, cursor=cursor, page_size=2))
        seen.extend(r.id for r in page.items)
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor
    raise AssertionError("paging did not end")


def test_funding_sorts_page_through_everything(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    ids = [
        make_call(
            db, funder, f"Call {i}", deadlines=[("Full", NOW + (i + 1) * DAY)], amount_max=(i % 3) * 1000 or None
        ).id
        for i in range(7)
    ]
    db.flush()
    for public, sorts in ((True, fq.PUBLIC_SORTS), (False, fq.ADMIN_SORTS)):
        for key, _ in sorts.choices():
            seen = walk(lambda p, public=public: fq.list_calls(db, p, now=NOW, public=public), key)
            assert sorted(seen) == sorted(ids), key
    assert walk(lambda p: fq.list_calls(db, p, now=NOW), "deadline") == ids


def test_partnership_sorts_page_through_everything(db, settings):
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    charity = factories.organisation(db, "Aster Voices")
    ids = []
    for i in range(7):
        p = changes.create_partnership(
            db,
            None,
            rules.PartnershipInput(
                f"P {i}",
                members=[rules.MemberInput(m.Side.ACADEMIC, uni.id), rules.MemberInput(m.Side.VCSE, charity.id)],
                next_step="Call" if i % 2 else "",
                next_step_due=(NOW + i * DAY).date() if i % 2 else None,
            ),
            now=NOW - i * 10 * DAY,
        )
        if i % 3 == 0:
            changes.add_activity(db, None, p, kind=m.ActivityKind.NOTE, occurred_at=NOW - i * DAY, summary="x", now=NOW)
        ids.append(p.id)
    db.flush()
    for key, _ in queries.SORTS.choices():
        seen = walk(lambda p: queries.list_partnerships(db, p, now=NOW, settings=settings, actor=None), key)
        assert sorted(seen) == sorted(ids), key
