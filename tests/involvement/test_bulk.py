"""Bulk actions on the involvement opportunity list (/admin/involvement), as on the other admin lists: the fellow
ticks rows (or the page, or every opportunity matching the filters) and closes the published ones, downloads a CSV
of the selection without personal data, or adds and removes a topic, each audited on the opportunity's history;
editors see no bulk form and may not post one."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from crm import models as m
from tests import factories
from tests.conftest import post_form
from tests.involvement.test_admin import academic_editor, interest, make

S = m.OpportunityStatus
URL = "/admin/involvement/bulk"


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def _status(db: Any, opp: m.InvolvementOpportunity) -> S:
    db.expire_all()
    return db.get(m.InvolvementOpportunity, opp.id).status


def test_the_list_offers_the_selection_to_the_fellow(admin_client: Any, db: Any) -> None:
    a = make(db, "Alder opportunity")
    factories.topic(db, "Peer support")
    db.commit()
    page = admin_client.get("/admin/involvement").text
    assert f'<form id="bulk" method="post" action="{URL}"' in page
    assert f'name="ids" value="{a.id}" form="bulk"' in page and 'name="all_page"' in page
    assert "Select Alder opportunity" in page  # each box is labelled for screen readers
    for label in ("Close (the published ones)", "Add a topic", "Remove a topic", "Download as CSV"):
        assert label in page
    assert ">Peer support</option>" in page
    first = page.split('<select id="bulk-action" name="action">', 1)[1].split("</option>", 1)[0]
    assert 'value="add_topic"' in first  # the preselected action changes nothing without a topic chosen
    fragment = admin_client.get("/admin/involvement?kind=training", headers={"hx-request": "true"}).text
    assert '<input type="hidden" name="query" value="kind=training" form="bulk">' in fragment


def test_closing_the_selection_closes_only_the_published_ones_audited(admin_client: Any, db: Any) -> None:
    open_one = make(db, "Open and ticked")
    also_open = make(db, "Open, not ticked")
    waiting = make(db, "Waiting and ticked", status=S.SUBMITTED)
    r = post_form(admin_client, URL, {"action": "close", "ids": [open_one.id, waiting.id]})
    assert r.status_code == 200, r.text
    assert "1 of 2 involvement opportunities closed" in r.text and "Only published ones close" in r.text
    assert _status(db, open_one) == S.CLOSED
    assert _status(db, also_open) == S.PUBLISHED and _status(db, waiting) == S.SUBMITTED
    entry = db.scalar(
        select(m.AuditEntry).where(m.AuditEntry.entity == "involvement_opportunity", m.AuditEntry.action == "close")
    )
    assert entry is not None and entry.entity_id == open_one.id and entry.changes == {"status": ["published", "closed"]}
    assert (
        "This opportunity has closed."
        in admin_client.get(f"/involvement/{db.get(m.InvolvementOpportunity, open_one.id).slug}").text
    )


def test_close_every_opportunity_matching_the_filters(admin_client: Any, db: Any) -> None:
    paid = [make(db, f"Paid role {n}") for n in range(3)]
    unpaid = make(db, "Expenses only role", paid="", payment_amount="")
    r = post_form(admin_client, URL, {"action": "close", "all_matching": "1", "query": "payment=paid&status=published"})
    assert r.status_code == 200 and "3 of 3 involvement opportunities closed" in r.text, r.text
    assert [_status(db, o) for o in paid] == [S.CLOSED] * 3
    assert _status(db, unpaid) == S.PUBLISHED
    assert 'href="/admin/involvement?payment=paid&amp;status=published"' in r.text  # back to the same list


def test_more_than_100_are_closed_only_after_confirming(admin_client: Any, db: Any) -> None:
    opps = [make(db, f"Many {n:03d}") for n in range(101)]
    form = {"action": "close", "ids": [o.id for o in opps]}
    r = post_form(admin_client, URL, form)
    assert "Close (the published ones): 101 involvement opportunities?" in r.text and "Many 000" in r.text
    assert _status(db, opps[0]) == S.PUBLISHED
    r = post_form(admin_client, URL, {**form, "confirm": "1"})
    assert "101 of 101 involvement opportunities closed" in r.text
    assert _status(db, opps[100]) == S.CLOSED


def test_the_csv_of_a_selection_has_no_personal_data(admin_client: Any, db: Any) -> None:
    a = make(db, "Alder CSV role", organisation=factories.organisation(db, "University of Alder", m.OrgKind.ACADEMIC))
    b = make(db, "Birch CSV role", status=S.SUBMITTED)
    c = make(db, "Cedar CSV role")
    interest(db, a, "Private Person", "private.person@example.org")
    r = post_form(admin_client, URL, {"action": "export", "ids": [a.id, b.id]})
    rows = _csv(r)
    assert [row["Title"] for row in rows] == ["Alder CSV role", "Birch CSV role"]
    assert rows[0] == {
        "Title": "Alder CSV role",
        "Kind": "Co-producing a study",
        "Status": "Published",
        "Organisation": "University of Alder",
        "Region": "",
        "Online": "yes",
        "Payment": "£20 per hour, plus expenses",
        "Closing date": a.closing_date.isoformat(),
        "Expressions of interest": "1",
    }
    assert rows[1]["Status"] == "Waiting for approval"
    text = r.content.decode("utf-8-sig")
    for private in ("Private Person", "private.person@example.org", "lead@uni.example.ac.uk", "Dr Team Lead"):
        assert private not in text
    assert c.title not in text


def test_a_topic_added_to_and_removed_from_the_selection_audited(admin_client: Any, db: Any) -> None:
    a, b = make(db, "Alder topic role"), make(db, "Birch topic role")
    other = make(db, "Zzz untouched role")
    carers = factories.topic(db, "Carers")
    db.commit()
    r = post_form(admin_client, URL, {"action": "add_topic", "topic": str(carers.id), "all_page": "1",
                                      "page_ids": [a.id, b.id]})  # fmt: skip
    assert r.status_code == 200 and "2 of 2 involvement opportunities changed" in r.text, r.text
    links = m.involvement_opportunity_topics
    having = set(db.scalars(select(links.c.opportunity_id).where(links.c.topic_id == carers.id)))
    assert having == {a.id, b.id} and other.id not in having
    r = post_form(admin_client, URL, {"action": "remove_topic", "topic": str(carers.id), "ids": [a.id]})
    assert "1 of 1 involvement opportunities changed: they no longer have the topic" in r.text
    entries = db.scalars(
        select(m.AuditEntry).where(m.AuditEntry.entity == "involvement_opportunity", m.AuditEntry.entity_id == a.id)
    ).all()
    changes = [e.changes for e in entries if "Bulk action" in (e.summary or "")]
    assert changes == [{"topics": [[], ["Carers"]]}, {"topics": [["Carers"], []]}]


def test_bad_selections_are_refused_with_a_message(admin_client: Any, db: Any) -> None:
    a = make(db, "Refusals role")
    r = post_form(admin_client, URL, {"action": "close", "ids": ["999999", "not a number"]})
    assert r.status_code == 422 and "Select at least one of the involvement opportunities." in r.text
    r = post_form(admin_client, URL, {"action": "archive", "ids": [a.id]})
    assert r.status_code == 422 and "Choose an action." in r.text
    r = post_form(admin_client, URL, {"action": "add_topic", "topic": "", "ids": [a.id]})
    assert r.status_code == 422 and "Choose a topic." in r.text
    assert _status(db, a) == S.PUBLISHED


def test_editors_get_no_bulk_form_and_may_not_post_one(client: Any, db: Any, settings: Any) -> None:
    editor = academic_editor(client, db, settings)
    mine = make(db, "Editor's own role", user=editor)
    page = client.get("/admin/involvement").text
    assert "Editor&#39;s own role" in page
    assert '<form id="bulk"' not in page and 'name="ids"' not in page
    assert post_form(client, URL, {"action": "close", "ids": [mine.id]}).status_code == 403
    assert _status(db, mine) == S.PUBLISHED


def test_the_bulk_form_costs_the_list_no_statement(admin_client: Any, db: Any, count_queries: Any) -> None:
    for n in range(3):
        make(db, f"Counted bulk role {n}")
    admin_client.get("/admin/involvement")
    with count_queries() as q:
        page = admin_client.get("/admin/involvement").text
    assert '<form id="bulk"' in page and q.count == 5
