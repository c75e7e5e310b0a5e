"""HTTP caching of anonymous reads (issue 21.1): ETag + Cache-Control on public lists, pages and feeds; a matching
If-None-Match is a 304 that runs no SQL; a write gives a new ETag; signed-in pages and forms are never cached
publicly."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from crm import httpcache
from crm import models as m
from tests import factories
from tests.conftest import sign_in_as
from tests.internships.helpers import make_internship

PUBLIC_URLS = [
    "/organisations",
    "/funding-calls",
    "/funding-calls/feed.xml",
    "/events",
    "/internships",
    "/internships/feed.xml",
    "/news",
    "/news/feed.xml",
    "/api/v1/organisations",
    "/api/v1/funding-calls",
    "/api/v1/events",
    "/api/v1/internships",
]


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_public_read_has_an_etag_and_a_304_runs_no_statement(client, count_queries, url):
    first = client.get(url)
    assert first.status_code == 200
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, no-cache"
    assert "Cookie" in first.headers["vary"]
    assert "set-cookie" not in first.headers  # a shared cache must never hand a visitor someone else's cookie
    with count_queries() as q:
        again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    assert q.count == 0


def test_a_write_gives_the_list_and_the_api_a_new_etag(client, db, count_queries):
    org = factories.organisation(db, "Etag Collective")
    listing = make_internship(db, org, title="Before the change")
    db.commit()
    html, api = client.get("/internships"), client.get("/api/v1/internships")
    db.execute(update(m.Internship).where(m.Internship.id == listing.id).values(title="After the change"))
    db.commit()
    for url, before in (("/internships", html), ("/api/v1/internships", api)):
        with count_queries() as q:
            after = client.get(url, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200
        assert "After the change" in after.text
        assert after.headers["etag"] != before.headers["etag"]
        assert q.count >= 1


def test_a_write_to_another_domain_keeps_the_etag(client, db):
    first = client.get("/internships")
    factories.funder(db, "Unrelated Funder")  # organisations are read by the internship list: new tag
    db.commit()
    assert client.get("/internships").headers["etag"] != first.headers["etag"]
    tag = client.get("/internships").headers["etag"]
    httpcache.bump(["campaigns"])  # news only
    assert client.get("/internships", headers={"If-None-Match": tag}).status_code == 304


def test_the_window_turning_gives_a_new_etag(monkeypatch):
    now = 1_000_000 * httpcache.WINDOW
    tag = httpcache.etag("/internships?", ("internships",), now=now)
    assert httpcache.etag("/internships?", ("internships",), now=now + 1) == tag
    assert httpcache.etag("/internships?", ("internships",), now=now + httpcache.WINDOW) != tag


def test_query_and_htmx_are_part_of_the_etag(client):
    plain = client.get("/internships").headers["etag"]
    assert client.get("/internships?sort=newest").headers["etag"] != plain
    fragment = client.get("/internships", headers={"HX-Request": "true"})
    assert fragment.headers["etag"] != plain
    assert "HX-Request" in fragment.headers["vary"]
    assert client.get("/internships", headers={"If-None-Match": plain, "HX-Request": "true"}).status_code == 200
    boosted = client.get("/internships", headers={"HX-Request": "true", "HX-Boosted": "true"})  # the whole page
    assert boosted.headers["etag"] not in (plain, fragment.headers["etag"])
    assert "<html" in boosted.text and "<html" not in fragment.text


def test_signed_in_pages_are_not_cached(client, db, settings, count_queries):
    anonymous = client.get("/internships").headers["etag"]
    sign_in_as(client, db, settings, "fellow-cache@example.org", m.Role.ADMIN)
    with count_queries() as q:
        page = client.get("/internships", headers={"If-None-Match": anonymous})
    assert page.status_code == 200
    assert "etag" not in page.headers
    assert "public" not in page.headers.get("cache-control", "")
    assert q.count >= 2


def test_api_keys_are_not_cached(client):
    tag = client.get("/api/v1/internships").headers["etag"]
    answer = client.get("/api/v1/internships", headers={"If-None-Match": tag, "Authorization": "Bearer crm_nope"})
    assert answer.status_code == 200
    assert "etag" not in answer.headers


def test_a_page_with_a_form_is_private_to_its_csrf_cookie(client, db, count_queries):
    org = factories.organisation(db, "Form Host")
    listing = make_internship(db, org, title="Has a form")
    db.commit()
    url = f"/internships/{listing.slug}"
    first = client.get(url)
    assert first.status_code == 200 and 'name="_csrf_token"' in first.text
    assert first.headers["cache-control"] == "private, no-cache"
    assert "crm_csrf" in first.headers["set-cookie"]  # the form needs it
    tag = first.headers["etag"]
    with count_queries() as q:
        assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    assert q.count == 0
    client.cookies.clear()  # another visitor, with another token in their cookie: their copy is not this one
    other = client.get(url, headers={"If-None-Match": tag, "Cookie": "crm_csrf=someone-else"})
    assert other.status_code == 200
    assert other.headers["etag"] != tag


def test_missing_pages_and_posts_are_not_cached(client):
    missing = client.get("/internships/no-such-listing")
    assert missing.status_code == 404
    assert "etag" not in missing.headers


def test_written_tables_reads_writes_and_ddl():
    assert httpcache.written_tables("SELECT * FROM internships") == set()
    assert httpcache.written_tables('UPDATE "internships" SET title=?') == {"internships"}
    assert httpcache.written_tables("INSERT OR IGNORE INTO topics (name) VALUES (?)") == {"topics"}
    assert httpcache.written_tables("WITH x AS (SELECT 1) DELETE FROM events WHERE id IN (SELECT 1)") == {"events"}
    assert httpcache.written_tables("TRUNCATE internships") is None
    assert httpcache.written_tables("WITH counted AS (SELECT 1) SELECT * FROM counted") == set()
    assert httpcache.written_tables("(SELECT id FROM topics) UNION ALL (SELECT id FROM regions)") == set()
    assert httpcache.written_tables("REPLACE INTO regions (id) VALUES (1)") == {"regions"}


def test_the_next_anonymous_visitor_gets_the_stored_answer_without_sql(client, db, count_queries):
    org = factories.organisation(db, "Store Host")
    make_internship(db, org, title="Stored listing")
    db.commit()
    first = client.get("/api/v1/internships")
    with count_queries() as q:
        again = client.get("/api/v1/internships")
    assert q.count == 0
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-security-policy"]  # security headers on stored answers too
    with count_queries() as q:
        reloaded = client.get("/api/v1/internships", headers={"Cache-Control": "no-cache"})
    assert q.count >= 1  # a reload asks the app itself
    assert reloaded.content == first.content


def test_pages_with_a_form_are_never_stored(client, db, count_queries):
    org = factories.organisation(db, "Unstored Host")
    listing = make_internship(db, org, title="Form page")
    db.commit()
    client.get(f"/internships/{listing.slug}")
    with count_queries() as q:
        client.get(f"/internships/{listing.slug}")
    assert q.count >= 1
