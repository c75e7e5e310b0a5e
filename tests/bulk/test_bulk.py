"""Bulk select and actions on the admin organisation and contact lists (issue 17.4)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlalchemy import event, select

from crm import models as m
from tests import factories
from tests.conftest import post_form


def _topic_names(db: Any, org_id: int) -> set[str]:
    return set(
        db.scalars(
            select(m.Topic.name)
            .join(m.organisation_topics, m.organisation_topics.c.topic_id == m.Topic.id)
            .where(m.organisation_topics.c.organisation_id == org_id)
        )
    )


def test_the_lists_offer_a_selection_and_the_actions(admin_client: Any, db: Any) -> None:
    org = factories.organisation(db, "Select Me Trust")
    factories.contact(db, "Pick Me", organisation=org)
    db.add(m.ContactList(name="Autumn round", description=""))
    db.commit()
    page = admin_client.get("/admin/organisations").text
    assert f'name="ids" value="{org.id}" form="bulk"' in page and 'name="all_page"' in page
    assert '<form id="bulk" method="post" action="/admin/organisations/bulk"' in page and "_csrf_token" in page
    assert "Add a topic" in page and "Remove a topic" in page and "Download as CSV" in page
    contacts_page = admin_client.get("/admin/contacts").text
    assert "Add to a contact list" in contacts_page and "Autumn round" in contacts_page
    fragment = admin_client.get("/admin/contacts", headers={"hx-request": "true"}).text
    assert 'name="ids"' in fragment and '<form id="bulk"' not in fragment  # the form stays on the page


def test_add_and_remove_a_topic_on_the_ticked_organisations_audited(admin_client: Any, db: Any) -> None:
    a, b, c = (factories.organisation(db, n) for n in ("Alpha Group", "Beta Group", "Gamma Group"))
    carers = factories.topic(db, "Carers")
    db.commit()
    r = post_form(
        admin_client, "/admin/organisations/bulk", {"action": "add_topic", "topic": str(carers.id), "ids": [a.id, b.id]}
    )
    assert r.status_code == 200 and "2 of 2 organisations changed" in r.text
    db.expire_all()
    assert "Carers" in _topic_names(db, a.id) and "Carers" in _topic_names(db, b.id)
    assert "Carers" not in _topic_names(db, c.id)
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.entity == "organisation", m.AuditEntry.entity_id == a.id))
    assert entry.actor == "fellow@example.org" and entry.changes == {"topics": [[], ["Carers"]]}
    assert "Bulk action" in entry.summary
    r = post_form(
        admin_client,
        "/admin/organisations/bulk",
        {"action": "remove_topic", "topic": str(carers.id), "ids": [a.id, c.id]},
    )
    assert "1 of 2 organisations changed" in r.text
    db.expire_all()
    assert "Carers" not in _topic_names(db, a.id) and "Carers" in _topic_names(db, b.id)


def test_refusals_change_nothing(admin_client: Any, db: Any) -> None:
    org = factories.organisation(db)
    db.commit()
    r = post_form(admin_client, "/admin/organisations/bulk", {"action": "add_topic", "topic": "1"})
    assert r.status_code == 422 and "Select at least one" in r.text
    r = post_form(admin_client, "/admin/organisations/bulk", {"action": "add_topic", "topic": "", "ids": [org.id]})
    assert r.status_code == 422 and "Choose a topic" in r.text
    r = post_form(admin_client, "/admin/organisations/bulk", {"action": "drop_table", "ids": [org.id]})
    assert r.status_code == 422 and "Choose an action" in r.text
    r = post_form(
        admin_client, "/admin/organisations/bulk", {"action": "add_topic", "topic": "x", "ids": ["x", "9e99"]}
    )
    assert r.status_code == 422
    assert admin_client.post("/admin/organisations/bulk", data={"action": "export", "ids": org.id}).status_code == 403
    assert db.scalar(select(m.AuditEntry.id).where(m.AuditEntry.entity == "organisation")) is None


def test_contacts_join_a_contact_list_once(admin_client: Any, db: Any) -> None:
    people = [factories.contact(db, f"Person {i}", email=None if i == 0 else "") for i in range(3)]
    lst = m.ContactList(name="Panel", description="")
    db.add(lst)
    db.flush()
    db.add(m.ContactListMember(list_id=lst.id, contact_id=people[1].id))
    db.commit()
    r = post_form(
        admin_client,
        "/admin/contacts/bulk",
        {"action": "add_to_list", "list": str(lst.id), "ids": [p.id for p in people]},
    )
    assert r.status_code == 200 and "2 of 3 contacts added" in r.text  # one without an address joins too
    db.expire_all()
    members = set(db.scalars(select(m.ContactListMember.contact_id).where(m.ContactListMember.list_id == lst.id)))
    assert members == {p.id for p in people}
    assert db.scalar(
        select(m.AuditEntry.summary).where(m.AuditEntry.entity == "contact_list", m.AuditEntry.entity_id == lst.id)
    ).startswith("2 added")


def test_export_the_selection_as_csv(admin_client: Any, db: Any) -> None:
    org = factories.organisation(db, "Wanted Org")
    factories.organisation(db, "Unwanted Org")
    keep = factories.contact(db, "=Wanted Person", organisation=org)
    factories.contact(db, "Unwanted Person")
    db.commit()
    r = post_form(admin_client, "/admin/organisations/bulk", {"action": "export", "ids": [org.id]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert [row[0] for row in rows[1:]] == ["Wanted Org"]
    r = post_form(admin_client, "/admin/contacts/bulk", {"action": "export", "ids": [keep.id]})
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "contact_name" and [row[0] for row in rows[1:]] == ["'=Wanted Person"]


def test_select_all_on_the_page(admin_client: Any, db: Any) -> None:
    orgs = [factories.organisation(db, f"Paged {i:02}") for i in range(25)]
    carers = factories.topic(db, "Carers")
    db.commit()
    page = admin_client.get("/admin/organisations").text  # 20 a page
    page_ids = re.findall(r'name="page_ids" value="(\d+)"', page)
    assert len(page_ids) == 20
    r = post_form(
        admin_client,
        "/admin/organisations/bulk",
        {"action": "add_topic", "topic": str(carers.id), "all_page": "1", "page_ids": page_ids, "ids": [orgs[0].id]},
    )
    assert "20 of 20 organisations changed" in r.text


def test_more_than_100_records_are_changed_only_after_confirming(admin_client: Any, db: Any) -> None:
    for i in range(120):
        factories.organisation(db, f"Many {i:03}", kind=m.OrgKind.ACADEMIC)
    factories.organisation(db, "Not academic")
    carers = factories.topic(db, "Carers")
    db.commit()
    page = admin_client.get("/admin/organisations?kind=academic").text
    assert "Select all 120 organisations matching the filters" in page
    query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
    form = {"action": "add_topic", "topic": str(carers.id), "all_matching": "1", "query": query}
    r = post_form(admin_client, "/admin/organisations/bulk", form)
    assert r.status_code == 200 and "Add a topic: 120 organisations?" in r.text and "Many 000" in r.text
    assert "and 110 more" in r.text and 'name="confirm" value="1"' in r.text
    db.expire_all()
    assert db.scalar(select(m.AuditEntry.id).where(m.AuditEntry.entity == "organisation")) is None
    r = post_form(admin_client, "/admin/organisations/bulk", {**form, "confirm": "1"})
    assert "120 of 120 organisations changed" in r.text
    db.expire_all()
    entries = db.scalars(select(m.AuditEntry.entity_id).where(m.AuditEntry.entity == "organisation")).all()
    assert len(entries) == 120
    other = db.scalar(select(m.Organisation.id).where(m.Organisation.name == "Not academic"))
    assert "Carers" not in _topic_names(db, other)


def test_all_matching_a_search_selects_what_the_list_shows_found_the_lists_way(admin_client: Any, db: Any) -> None:
    """ "Select all matching" with a search reads the same matches as the list page (``crm.directory.queries.matching``):
    on PostgreSQL each match looks its organisation up by primary key (a LATERAL subquery), never the search joined
    to the whole table."""
    otters = [factories.organisation(db, f"Otter Trust {i}", description="River walks") for i in range(5)]
    factories.organisation(db, "Otter Archive", archived_at=otters[0].created_at)  # the list shows current ones
    factories.organisation(db, "Heron Society", description="River walks")
    carers = factories.topic(db, "Carers")
    db.commit()
    page = admin_client.get("/admin/organisations?q=otter&page_size=2").text
    assert "Select all 5 organisations matching the filters" in page
    query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
    seen: list[str] = []
    engine = db.get_bind()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        form = {"action": "add_topic", "topic": str(carers.id), "all_matching": "1", "query": query}
        r = post_form(admin_client, "/admin/organisations/bulk", form)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert r.status_code == 200 and "5 of 5 organisations changed" in r.text, r.text
    db.expire_all()
    assert all("Carers" in _topic_names(db, o.id) for o in otters)
    archived, heron = (
        db.scalar(select(m.Organisation.id).where(m.Organisation.name == n)) for n in ("Otter Archive", "Heron Society")
    )
    assert not _topic_names(db, archived) and not _topic_names(db, heron)
    searched = [s for s in seen if "organisations_matches" in s]
    assert len(searched) == 1, searched  # the selection's ids; the records are then read by id
    if engine.dialect.name == "postgresql":
        assert "JOIN LATERAL" in searched[0] and "organisations_matches.id = organisations.id" not in searched[0]
