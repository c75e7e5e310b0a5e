"""The public directory: search on both databases, filters, paging, organisation pages, "add your group"."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm import models as m
from crm import search
from crm.directory import organisations, queries
from crm.directory.contacts import add_affiliation
from crm.listing import ListParams
from tests import factories
from tests.conftest import post_form


def test_search_finds_name_and_description_words_on_both_databases(db):
    factories.organisation_via_form(
        db, "Riverside Voices", description="Peer support for people who hear voices", topics=["psychosis"]
    )
    factories.organisation_via_form(db, "Hillside Carers", description="Respite for unpaid carers")
    factories.organisation_via_form(db, "Hidden Group", description="Peer support", visibility="private")
    db.commit()
    page = queries.list_organisations(db, ListParams(q="peer"), public=True)
    assert [r.name for r in page.items] == ["Riverside Voices"]
    # Stemming and prefix on the last word; punctuation and query syntax are harmless.
    assert [r.name for r in queries.list_organisations(db, ListParams(q="carer"), public=True).items] == [
        "Hillside Carers"
    ]
    assert [r.name for r in queries.list_organisations(db, ListParams(q="River"), public=True).items] == [
        "Riverside Voices"
    ]
    for nasty in ['"', "a AND (", "NEAR(", "*", "'; DROP TABLE organisations; --", "x:*|!"]:
        queries.list_organisations(db, ListParams(q=nasty), public=True)
    # Updated text is searchable (triggers / expression index follow changes).
    org = db.scalar(select(m.Organisation).where(m.Organisation.name == "Hillside Carers"))
    organisations.update_organisation(db, None, org, {"description": "Now about gardening"})
    db.commit()
    assert queries.list_organisations(db, ListParams(q="respite"), public=True).items == []
    assert len(queries.list_organisations(db, ListParams(q="gardening"), public=True).items) == 1


def test_search_ranks_name_matches_first_and_caps_candidates(db):
    factories.organisation_via_form(db, "Alpha Group", description="We talk about psychosis")
    factories.organisation_via_form(db, "Psychosis Network", description="A network")
    db.commit()
    names = [r.name for r in queries.list_organisations(db, ListParams(q="psychosis"), public=True).items]
    assert names[0] == "Psychosis Network"
    capped = search.matches(db, search.ORGANISATIONS, "psychosis", cap=1)
    assert len(list(db.execute(select(capped.c.id)))) == 1
    assert search.matches(db, search.ORGANISATIONS, "!!!") is None


def test_filters_sorting_and_keyset_pages(client, db):
    for i in range(7):
        factories.organisation_via_form(
            db,
            f"Group {i:02d}",
            topics=["carers"] if i % 2 else [],
            region="london" if i < 3 else "wales",
            user_led=bool(i % 3 == 0),
            vcse_category="free-standing-organisation",
        )
    factories.organisation_via_form(db, "Awaiting Review", review_status=m.ReviewStatus.SUBMITTED)
    db.commit()
    r = client.get("/organisations?page_size=3&sort=name")
    assert r.status_code == 200
    assert "Group 00" in r.text and "Group 03" not in r.text and "Awaiting Review" not in r.text
    assert 'rel="next"' in r.text
    r = client.get("/organisations?topic=carers&region=wales")
    assert "Group 03" in r.text and "Group 05" in r.text and "Group 01" not in r.text
    r = client.get("/organisations?user_led=1&sort=-name")
    assert r.text.index("Group 06") < r.text.index("Group 03")
    r = client.get("/organisations?kind=academic")
    assert "No organisations match" in r.text
    # htmx asks for the results fragment only.
    r = client.get("/organisations?q=group", headers={"HX-Request": "true"})
    assert "<html" not in r.text and "Group 00" in r.text


def test_list_page_statement_count_is_flat_across_page_sizes(client, db, count_queries):
    """The page and its count: two statements without a search, one with (the count comes from the page's own
    materialised matches), whatever the page size."""
    for i in range(30):
        factories.organisation_via_form(db, f"Org {i}", topics=["carers", "psychosis"], region="london")
    db.commit()
    client.get("/organisations")  # the filter menus are read once, then kept until topics or regions change
    counts: dict[str, set[int]] = {"": set(), "org": set()}
    for size in (1, 10, 30):
        for q in counts:
            with count_queries() as c:
                r = client.get(f"/organisations?page_size={size}&q={q}", headers={"Cache-Control": "no-cache"})
            assert r.status_code == 200 and "30 organisations" in r.text
            counts[q].add(c.count)
    # the page alone: the count was read by the first request and is kept until organisations change
    assert counts == {"": {1}, "org": {1}}, counts


def test_the_public_list_is_built_once_per_set_of_filters(client, db, count_queries, monkeypatch):
    """Without a search the public list's statement is built once per set of filters as they apply (an unknown kind
    is no filter) and bound per request: the same pages again build nothing and show the same rows and counts."""
    for i in range(12):
        factories.organisation_via_form(db, f"Shaped {i:02d}", kind="academic" if i % 3 == 0 else "vcse")
    factories.organisation_via_form(db, "Shaped private", visibility="private")
    db.commit()
    built: list[bool] = []
    matching = queries.matching
    monkeypatch.setattr(queries, "matching", lambda *a, **k: built.append(k.get("public")) or matching(*a, **k))
    no_store = {"Cache-Control": "no-cache"}  # past the stored public answers: every request runs the handler
    pages = {
        "/organisations?sort=name&page_size=5": (12, [f"Shaped {i:02d}" for i in range(5)]),
        "/organisations?sort=name&kind=academic": (4, ["Shaped 00", "Shaped 03", "Shaped 06", "Shaped 09"]),
        "/organisations?sort=name&page_size=5&kind=nonsense": (12, [f"Shaped {i:02d}" for i in range(5)]),
    }
    client.get("/organisations?page_size=1&kind=vcse")  # the filter menus are read once, then kept
    built.clear()
    statements: list[int] = []
    for _ in range(2):
        for url, (total, names) in pages.items():
            with count_queries() as c:
                r = client.get(url, headers=no_store)
            assert re.findall(r'<h2><a href="/organisations/[^"]+">([^<]+)</a></h2>', r.text) == names, url
            assert f"{total} organisations" in r.text, url
            statements.append(c.count)
        if not built:
            break  # built by an earlier test in this process
        assert built.count(True) <= 2  # unfiltered (and the unknown kind) once, academic once
        built.clear()
    assert built == []
    # the page and its count; the unknown kind is the unfiltered list, whose count is kept (crm.httpcache.kept)
    assert statements[:3] == [2, 2, 1] and set(statements[3:]) <= {1}, statements


def test_organisation_page_never_shows_contacts(client, db):
    org = factories.organisation_via_form(
        db, "Open Door", description="<script>alert(1)</script>", public_email="hello@opendoor.example.org"
    )
    person = factories.contact_via_form(db, "Private Person", "private.person@example.org")
    add_affiliation(db, None, person, org, "Chair", True)
    db.commit()
    r = client.get(f"/organisations/{org.slug}")
    assert r.status_code == 200
    assert "hello@opendoor.example.org" in r.text
    assert "private.person@example.org" not in r.text and "Private Person" not in r.text
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text
    assert "private.person" not in client.get("/organisations").text
    api = client.get("/api/v1/organisations").text + client.get(f"/api/v1/organisations/{org.id}").text
    assert "private.person" not in api and "Private Person" not in api


def test_unapproved_and_private_organisations_are_not_public(client, db):
    hidden = factories.organisation_via_form(db, "Hidden", visibility="private")
    pending = factories.organisation_via_form(db, "Pending", review_status=m.ReviewStatus.SUBMITTED)
    db.commit()
    for org in (hidden, pending):
        assert client.get(f"/organisations/{org.slug}").status_code == 404
        assert client.get(f"/api/v1/organisations/{org.id}").status_code == 404
    assert client.get("/api/v1/organisations").json()["items"] == []


def test_add_your_group_creates_a_submission_and_keeps_values_on_error(client, db):
    r = post_form(
        client,
        "/add-your-group",
        {
            "name": "x" * 10_000,
            "kind": "vcse",
            "description": "Keep me",
            "submitter_name": "Sam",
            "submitter_email": "not-an-email",
        },
    )
    assert r.status_code == 400
    assert "Organisation name must be at most 300 characters" in r.text and "Keep me" in r.text
    assert "valid email" in r.text
    r = post_form(
        client,
        "/add-your-group",
        {
            "name": "Brand New <b>Group</b>",
            "kind": "vcse",
            "topics": ["carers"],
            "region": "wales",
            "submitter_name": "Sam",
            "submitter_email": "sam@example.org",
        },
    )
    assert r.status_code == 200 and "Thank you" in r.text and "<b>Group</b>" not in r.text
    org = db.scalar(select(m.Organisation).where(m.Organisation.name == "Brand New <b>Group</b>"))
    assert org.review_status == m.ReviewStatus.SUBMITTED and org.submitter_email == "sam@example.org"
    assert client.get(f"/organisations/{org.slug}").status_code == 404
    entry = db.scalar(
        select(m.AuditEntry).where(m.AuditEntry.entity == "organisation", m.AuditEntry.entity_id == org.id)
    )
    assert entry.action == "submitted"


def test_add_your_group_is_rate_limited(client, db):
    statuses = []
    for i in range(7):
        r = post_form(
            client,
            "/add-your-group",
            {"name": f"Group {i}", "kind": "vcse", "submitter_name": "Sam", "submitter_email": "sam@example.org"},
        )
        statuses.append(r.status_code)
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    assert db.scalar(select(m.func.count()).select_from(m.Organisation)) if hasattr(m, "func") else True
