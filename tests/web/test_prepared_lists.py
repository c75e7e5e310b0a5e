"""Lists with a ``shape`` (issue 21.1): the statement is built once per shape and bound per request, and gives the
same pages, cursors and counts as the statement built on every request; menus are kept until their tables change."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm import listing
from crm import models as m
from crm.internships import api as internships_api
from crm.internships import queries
from crm.listing import ListParams
from tests import factories
from tests.internships.helpers import make_internship

NOW = dt.datetime.now(dt.UTC)


def _pages(db, sort: str, *, shaped: bool, size: int = 3, backwards_from: int = 2) -> list[list[int]]:
    """Walk forward page by page, then back from page ``backwards_from``: the ids of every page seen."""
    seen, cursor, prev = [], "", None
    sorts = queries.PUBLIC_SORTS
    for _ in range(10):
        params = ListParams(sort=sort, cursor=cursor, page_size=size)
        page = listing.fetch_page(
            db,
            queries._public_base,
            params,
            sorts,
            id_column=m.Internship.id,
            floor=(m.Internship.closes_at, NOW),
            count=True,
            shape=("test.internships", size) if shaped else None,
        )
        seen.append([r.id for r in page.items] + [page.total])
        if len(seen) == backwards_from:
            prev = page.prev_cursor
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    back = listing.fetch_page(
        db,
        queries._public_base(),
        ListParams(sort=sort, cursor=prev or "", page_size=size),
        sorts,
        id_column=m.Internship.id,
        floor=(m.Internship.closes_at, NOW),
        shape=("test.internships", size) if shaped else None,
    )
    return [*seen, [r.id for r in back.items]]


def test_a_shaped_list_pages_like_the_unshaped_one(db):
    org = factories.organisation(db, "Shape Host")
    for n in range(8):
        make_internship(db, org, title=f"Shaped {n}", days=10 + n % 3)  # ties on the closing date
    make_internship(db, org, title="Closed already", days=-2)  # below the floor
    db.commit()
    for sort in ("closing", "newest"):
        assert _pages(db, sort, shaped=True) == _pages(db, sort, shaped=False)
        assert _pages(db, sort, shaped=True)[0][-1] == 8  # the count: open listings only


def test_the_statement_is_built_once_per_shape(db):
    built = []

    def build():
        built.append(1)
        return select(m.Topic.id, m.Topic.name)

    sorts = listing.Sorts(listing.SortOption("name", "Name", m.Topic.name))
    for _ in range(3):
        page = listing.fetch_page(db, build, ListParams(page_size=5), sorts, id_column=m.Topic.id, shape="topics-5")
    assert len(built) == 1
    assert len(page.items) == 5


def test_public_api_rows_read_by_position_match_rows_read_by_name(client, db):
    org = factories.organisation(db, "Position Host")
    make_internship(db, org, title="Paid one", pence=25000, region="UKI")
    make_internship(db, org, title="Unpaid one")
    db.commit()
    page = queries.public_list(db, ListParams(), now=NOW)
    assert len(page.items) == 2
    for row in page.items:
        assert internships_api._out_card("https://x", row) == internships_api._out_row("https://x", row)


def test_filter_menus_are_kept_until_a_topic_changes(client, db, count_queries):
    client.get("/internships")
    with count_queries() as q:
        client.get("/internships?sort=newest")
    kept = q.count
    db.add(m.Topic(name="Brand new topic for menus", slug="brand-new-topic-for-menus"))
    db.commit()
    with count_queries() as q:
        page = client.get("/internships?sort=newest")
    assert "Brand new topic for menus" in page.text
    assert q.count == kept + 2  # the menus read again, once, and the count kept beside them (it reads topics)
