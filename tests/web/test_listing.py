"""The shared keyset list pattern: stable paging in both directions, one statement per page."""

from __future__ import annotations

from sqlalchemy import select

from crm import models as m
from crm.web.listing import ListParams, SortOption, Sorts, decode_cursor, keyset_page

SORTS = Sorts(
    SortOption("name", "Name", m.Topic.name),
    SortOption("-name", "Name, Z to A", m.Topic.name, descending=True),
)


def _walk(db, sort_key: str, size: int) -> list[str]:
    names, cursor = [], ""
    while True:
        page = keyset_page(
            db,
            select(m.Topic.id, m.Topic.name),
            sort=SORTS.pick(sort_key),
            id_column=m.Topic.id,
            cursor=cursor,
            page_size=size,
        )
        names.extend(r.name for r in page.items)
        if not page.next_cursor:
            return names
        cursor = page.next_cursor


def test_forward_walk_visits_every_row_once_in_order(db):
    expected = sorted(db.scalars(select(m.Topic.name)))
    assert _walk(db, "name", 5) == expected
    assert _walk(db, "-name", 7) == list(reversed(expected))


def test_previous_returns_the_same_page(db):
    first = keyset_page(db, select(m.Topic.id, m.Topic.name), sort=SORTS.default, id_column=m.Topic.id, page_size=4)
    second = keyset_page(
        db,
        select(m.Topic.id, m.Topic.name),
        sort=SORTS.default,
        id_column=m.Topic.id,
        cursor=first.next_cursor,
        page_size=4,
    )
    back = keyset_page(
        db,
        select(m.Topic.id, m.Topic.name),
        sort=SORTS.default,
        id_column=m.Topic.id,
        cursor=second.prev_cursor,
        page_size=4,
    )
    assert [r.name for r in back.items] == [r.name for r in first.items]
    assert first.prev_cursor is None and second.prev_cursor is not None


def test_one_statement_per_page_whatever_the_size(db, count_queries):
    for size in (1, 10, 100):
        with count_queries() as q:
            keyset_page(db, select(m.Topic.id, m.Topic.name), sort=SORTS.default, id_column=m.Topic.id, page_size=size)
        assert q.count == 1


def test_bad_cursor_and_params_fall_back_safely():
    assert decode_cursor("garbage!!", "name") is None
    params = ListParams.from_query(
        {"page_size": "100000", "q": "x" * 500, "sort": "nope", "topic": ["a", ""]},
        filter_names=["topic"],
        multi=["topic"],
    )
    assert params.page_size == 100 and len(params.q) == 200 and params.filters == {"topic": ["a"]}
    assert "topic=a" in params.query_string()
