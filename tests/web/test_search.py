"""Full-text search of internships and funding calls (crm.search): words anywhere in the text, stemming, the last
word as a prefix, best match first, edits followed by the index, bounded statements, PostgreSQL on its index."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, text

from crm import models as m
from crm import search
from tests import factories
from tests.funding.helpers import make_call
from tests.internships.helpers import make_internship


def titles(html: str, section: str) -> list[str]:
    return re.findall(rf'<h2><a href="/{section}/[^"]+">([^<]+)</a></h2>', html)


def test_internship_words_in_the_description_are_found_stemmed_and_best_match_first(client, db):
    org = factories.organisation(db, "Riverside Collective")
    make_internship(db, org, title="Research assistant", description="Help us evaluate our befriending service.")
    make_internship(db, org, title="Befriending evaluation", description="Evaluate the befriending scheme.")
    make_internship(db, org, title="Gardening project", description="Outdoors, every week.")
    db.commit()
    page = client.get("/internships?q=evaluating")  # porter stemming: evaluating ~ evaluate
    assert titles(page.text, "internships") == ["Befriending evaluation", "Research assistant"]
    assert '<option value="relevance" selected>Best match</option>' in page.text
    closing = client.get("/internships?q=befriend&sort=closing")  # stemmed: befriend ~ befriending
    assert set(titles(closing.text, "internships")) == {"Befriending evaluation", "Research assistant"}
    assert titles(client.get("/internships?q=zebra").text, "internships") == []
    assert "Best match" not in client.get("/internships").text  # no search, no relevance sort


def test_internship_search_follows_edits_and_deletes(client, db):
    org = factories.organisation(db)
    listing = make_internship(db, org, title="Peer support", description="Weekly groups.")
    db.commit()
    assert titles(client.get("/internships?q=weekly").text, "internships") == ["Peer support"]
    listing.description = "Monthly groups."
    db.commit()
    assert titles(client.get("/internships?q=weekly").text, "internships") == []
    assert titles(client.get("/internships?q=monthly").text, "internships") == ["Peer support"]
    db.delete(listing)
    db.commit()
    assert titles(client.get("/internships?q=monthly").text, "internships") == []


def test_searching_costs_the_same_statements_as_listing(client, db, count_queries):
    org = factories.organisation(db)
    for n in range(25):
        make_internship(db, org, title=f"Carer research {n}", description="Carers and families.")
    db.commit()
    for size in (1, 10, 100):
        with count_queries() as q:
            page = client.get(f"/internships?q=carers&page_size={size}")
        assert page.status_code == 200 and q.count <= 4  # the page and its capped result count (crm.listing)
        assert "25 open internships" in page.text
        with count_queries() as q:
            api = client.get(f"/api/v1/internships?q=carers&page_size={size}")
        assert len(api.json()["items"]) == min(size, 25) and q.count <= 2  # hosts by name, then the page


def test_funding_search_finds_words_in_the_summary_and_the_full_page_fits_three_statements(client, db, count_queries):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    due = [("Full application", dt.datetime.now(dt.UTC) + dt.timedelta(days=30))]
    for title, summary in [
        ("Community grants", "Small grants for peer-led recovery groups."),
        ("Recovery research fund", "Research into recovery colleges."),
        ("Arts awards", "Creative projects."),
    ]:
        make_call(db, funder, title, now=dt.datetime.now(dt.UTC), deadlines=due, summary=summary)
    db.commit()
    page = client.get("/funding-calls?q=recovery")
    assert set(titles(page.text, "funding-calls")) == {"Community grants", "Recovery research fund"}
    assert titles(page.text, "funding-calls")[0] == "Recovery research fund"  # the title weighs more
    assert set(titles(client.get("/funding-calls?q=northfield").text, "funding-calls")) == {
        "Community grants",
        "Recovery research fund",
        "Arts awards",
    }  # the funder's name is part of a call's text
    with count_queries() as q:
        assert client.get("/funding-calls?q=grants&page_size=100").status_code == 200
    assert q.count <= 4  # with the result count


def test_short_last_word_is_not_a_prefix_and_symbols_are_not_syntax(db):
    assert search.matches(db, search.INTERNSHIPS, '"*:() AND OR NEAR') is not None  # words only, no syntax
    list(db.execute(select(search.matches(db, search.INTERNSHIPS, '"*:() AND OR NEAR').c.id)))
    assert search.matches(db, search.FUNDING_CALLS, "!!! ...") is None


@pytest.mark.postgres
def test_postgresql_answers_from_the_gin_indexes(db):
    db.execute(text("SET LOCAL enable_seqscan = off"))
    for index in (search.INTERNSHIPS, search.FUNDING_CALLS, search.ORGANISATIONS):
        plan = "\n".join(
            db.scalars(
                text(
                    f"EXPLAIN SELECT id FROM {index.table} WHERE {index.pg_document} @@ to_tsquery('english', 'carer')"
                )
            )
        )
        assert f"ix_{index.fts}" in plan, plan


def test_search_results_page_with_cursors_in_every_sort(client, db):
    org = factories.organisation(db)
    for n in range(25):
        make_internship(db, org, title=f"Carers study {n:02d}", description="Carers and families.", days=5 + n % 7)
    make_internship(db, org, title="Unrelated", description="Gardening.")
    db.commit()
    for sort in ("relevance", "closing", "newest"):
        seen, url = [], f"/api/v1/internships?q=carers&sort={sort}&page_size=10"
        while url:
            body = client.get(url).json()
            seen += [item["title"] for item in body["items"]]
            url = (
                f"/api/v1/internships?q=carers&sort={sort}&page_size=10&cursor={body['next_cursor']}"
                if body["next_cursor"]
                else None
            )
        assert sorted(seen) == [f"Carers study {n:02d}" for n in range(25)], sort  # each once, none missing
