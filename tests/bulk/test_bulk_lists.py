"""Bulk select on the other admin lists (issue 17.4): subscribers, partnerships, funding calls, events and
internships offer the selection, a CSV of it, "all N matching", and (where records have topics) topic changes,
audited; editors who may see a list get no bulk actions."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from crm import models as m
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.dashboard import factories as rows

Make = Callable[[Any, str], Any]


def _subscriber(db: Any, name: str) -> Any:
    return rows.subscription(db, f"{name.lower().replace(' ', '.')}@example.org", name=name)


def _partnership(db: Any, name: str) -> Any:
    return rows.partnership(db, title=name)


def _call(db: Any, name: str) -> Any:
    return rows.call(db, factories.funder(db), deadlines=[rows.NOW + rows.days(20)], title=name)


def _event(db: Any, name: str) -> Any:
    return rows.event(db, starts=rows.NOW + rows.days(3), title=name)


def _internship(db: Any, name: str) -> Any:
    host = factories.organisation(db)
    slug = name.lower().replace(" ", "-")
    i = m.Internship(
        title=name,
        slug=slug,
        host_organisation_id=host.id,
        direction=m.InternshipDirection.RESEARCHER_TO_VCSE,
        mode=m.InternshipMode.REMOTE,
        closing_date=(rows.NOW + rows.days(30)).date(),
        closes_at=rows.NOW + rows.days(30),
        status=m.InternshipStatus.PUBLISHED,
        published_at=rows.NOW,
    )
    db.add(i)
    db.flush()
    return i


# url, make one record, label column in the CSV, the records' topic link table (None: no topics)
LISTS = [
    ("/admin/subscribers", _subscriber, "Email", m.subscription_topics),
    ("/admin/partnerships", _partnership, "Title", m.partnership_topics),
    ("/admin/funding-calls", _call, "Title", m.funding_call_topics),
    ("/admin/events", _event, "Title", None),
    ("/admin/internships", _internship, "Title", m.internship_topics),
]
IDS = [u.rsplit("/", 1)[1] for u, *_ in LISTS]


def _label(record: Any) -> str:
    return record.email if isinstance(record, m.Subscription) else record.title


@pytest.mark.parametrize(("url", "make", "column", "links"), LISTS, ids=IDS)
def test_a_ticked_selection_downloads_as_csv_and_the_page_offers_it(
    admin_client: Any, db: Any, url: str, make: Make, column: str, links: Any
) -> None:
    a, b, c = make(db, "Alder Bulk"), make(db, "Birch Bulk"), make(db, "Cedar Bulk")
    db.commit()
    page = admin_client.get(url).text
    assert f'<form id="bulk" method="post" action="{url}/bulk"' in page
    assert f'name="ids" value="{a.id}" form="bulk"' in page and 'name="all_page"' in page
    assert "Download as CSV" in page and (("Add a topic" in page) == (links is not None))
    r = post_form(admin_client, f"{url}/bulk", {"action": "export", "ids": [a.id, c.id]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row[column] for row in table] == sorted([_label(a), _label(c)])
    assert _label(b) not in r.text


@pytest.mark.parametrize(
    ("url", "make", "column", "links"), [x for x in LISTS if x[3] is not None], ids=IDS[:3] + IDS[4:]
)
def test_add_a_topic_to_every_matching_record_audited(
    admin_client: Any, db: Any, url: str, make: Make, column: str, links: Any
) -> None:
    a, b = make(db, "Alder Match"), make(db, "Birch Match")
    other = make(db, "Zzz Other")
    query = "q=Match"
    if url.endswith("internships"):  # the list's status filter (its search has its own tests)
        other.status = m.InternshipStatus.DRAFT
        query = "status=published"
    carers = factories.topic(db, "Carers")
    db.commit()
    r = post_form(
        admin_client,
        f"{url}/bulk",
        {"action": "add_topic", "topic": str(carers.id), "all_matching": "1", "query": query},
    )
    assert r.status_code == 200 and "2 of 2" in r.text, r.text
    owner = next(c for c in links.c if c.name != "topic_id")
    having = set(db.scalars(select(owner).where(links.c.topic_id == carers.id)))
    assert having == {a.id, b.id} and other.id not in having
    entries = db.scalars(select(m.AuditEntry).where(m.AuditEntry.entity_id == a.id, m.AuditEntry.action == "updated"))
    assert any(e.changes == {"topics": [[], ["Carers"]]} and "Bulk action" in e.summary for e in entries)


def test_events_have_no_topics_so_a_topic_change_is_refused(admin_client: Any, db: Any) -> None:
    e = _event(db, "Spring forum")
    topic = factories.topic(db, "Carers")
    db.commit()
    r = post_form(admin_client, "/admin/events/bulk", {"action": "add_topic", "topic": str(topic.id), "ids": [e.id]})
    assert r.status_code == 422 and "Choose an action" in r.text


def test_more_than_100_subscribers_are_changed_only_after_confirming(admin_client: Any, db: Any) -> None:
    subs = [_subscriber(db, f"Reader {i:03d}") for i in range(101)]
    topic = factories.topic(db, "Carers")
    db.commit()
    form = {"action": "add_topic", "topic": str(topic.id), "ids": [s.id for s in subs]}
    r = post_form(admin_client, "/admin/subscribers/bulk", form)
    assert "Add a topic: 101 subscribers?" in r.text and "reader.000@example.org" in r.text
    assert db.scalar(select(m.subscription_topics.c.subscription_id).limit(1)) is None
    r = post_form(admin_client, "/admin/subscribers/bulk", {**form, "confirm": "1"})
    assert "101 of 101 subscribers changed" in r.text


def test_editors_see_no_bulk_actions_and_may_not_post_them(client: Any, db: Any, settings: Any) -> None:
    host = factories.organisation(db, "Editor Host")
    job = rows.internship(db, host)
    db.commit()
    user = sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    user.organisation_id = host.id
    db.commit()
    page = client.get("/admin/internships")
    assert page.status_code == 200 and job.title in page.text
    assert '<form id="bulk"' not in page.text and 'name="ids"' not in page.text
    r = post_form(client, "/admin/internships/bulk", {"action": "export", "ids": [job.id]})
    assert r.status_code == 403
