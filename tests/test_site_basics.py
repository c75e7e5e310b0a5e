"""What every visitor's browser asks for: a site icon, and a description of each public page for search results."""

from __future__ import annotations

import html
import re

import pytest

from tests import factories

DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)">')
PUBLIC_PAGES = [
    "/",
    "/organisations",
    "/funding-calls",
    "/events",
    "/internships",
    "/news",
    "/privacy",
    "/subscribe",
    "/add-your-group",
    "/sign-in",
]


def test_the_site_icon_is_served_where_browsers_look_for_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.content.startswith(b"<svg") and b"</svg>" in response.content
    assert 'rel="icon" href="/favicon.ico"' in client.get("/").text


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_public_page_has_a_meta_description(client, path):
    page = client.get(path)
    assert page.status_code == 200
    [description] = DESCRIPTION.findall(page.text)
    assert 40 <= len(html.unescape(description)) <= 160


def test_a_record_page_is_described_by_its_own_words(client, db):
    org = factories.organisation(
        db, "Calm Waters Peer Support", description="Peer support groups for people who hear voices, in Leeds."
    )
    db.commit()
    page = client.get(f"/organisations/{org.slug}").text
    [description] = DESCRIPTION.findall(page)
    assert html.unescape(description) == "Peer support groups for people who hear voices, in Leeds."


PUBLIC_LISTS = ["/organisations", "/funding-calls", "/events", "/internships", "/news"]


@pytest.mark.parametrize("path", PUBLIC_LISTS)
def test_every_public_list_has_the_same_filter_form(client, path):
    plain = client.get(path).text
    assert plain.count('class="public-filters"') == 1
    assert 'id="f-q" name="q" type="search"' in plain and 'id="f-sort"' in plain
    assert 'class="filter-actions"><button type="submit">Show ' in plain
    assert "Clear filters" not in plain  # nothing to clear yet
    searched = client.get(path, params={"q": "nothing-matches-this"}).text
    assert f'<a href="{path}">Clear filters</a>' in searched


def test_a_public_list_says_how_many_results_match(client, db):
    for n in range(3):
        factories.organisation(db, f"Counted Peer Network {n}")
    db.commit()
    page = client.get("/organisations", params={"q": "counted", "page_size": 2}).text
    assert '<p class="result-count">3 organisations</p>' in page and 'rel="next"' in page
    one = client.get("/organisations", params={"q": "counted peer network 1"}).text
    assert '<p class="result-count">1 organisation</p>' in one
