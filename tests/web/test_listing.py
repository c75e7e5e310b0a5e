"""The shared keyset list pattern: stable paging in both directions, one statement per page."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm import models as m
from crm.listing import ListParams, SortOption, Sorts, count_capped, decode_cursor, keyset_page

SORTS = Sorts(
    SortOption("name", "Name", m.Topic.name),
    SortOption("-name", "Name, Z to A", m.Topic.name, descending=True),
)


def _walk(db, sort_key: str, size: int) -> list[str]:
    names, cursor = [], ""
    while True:
        page = _topics_page(db, sort_key, cursor=cursor, size=size)
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


def _topics_page(db, sort_key: str = "name", *, cursor: str = "", size: int = 3, floor: str | None = None):
    return keyset_page(
        db,
        select(m.Topic.id, m.Topic.name),
        sort=SORTS.pick(sort_key),
        id_column=m.Topic.id,
        cursor=cursor,
        page_size=size,
        floor=(m.Topic.name, floor) if floor is not None else None,
    )


def _walk_with_floor(db, sort_key: str, size: int, floor: str) -> tuple[list[str], list[str]]:
    """Forward to the end, then back to the start with the prev cursors: (forward names, backward names)."""
    forward, cursor, pages = [], "", []
    while True:
        page = _topics_page(db, sort_key, cursor=cursor, size=size, floor=floor)
        pages.append(page)
        forward.extend(r.name for r in page.items)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    backward, cursor = [], pages[-1].prev_cursor
    while cursor:
        page = _topics_page(db, sort_key, cursor=cursor, size=size, floor=floor)
        backward = [r.name for r in page.items] + backward
        cursor = page.prev_cursor
    return forward, backward


def test_floor_keeps_only_rows_above_it_in_both_directions_and_sorts(db):
    names = sorted(db.scalars(select(m.Topic.name)))
    floor = names[len(names) // 3]
    above = [n for n in names if n > floor]
    assert 0 < len(above) < len(names)
    forward, backward = _walk_with_floor(db, "name", 3, floor)
    assert forward == above and backward == above[: len(backward)] and backward == forward[: len(backward)]
    forward, _ = _walk_with_floor(db, "-name", 4, floor)
    assert forward == list(reversed(above))


def test_floor_below_the_cursor_is_left_out_so_the_database_has_one_lower_bound(db, count_queries):
    names = sorted(db.scalars(select(m.Topic.name)))
    first = _topics_page(db, floor=names[0])
    with count_queries() as q:
        second = _topics_page(db, cursor=first.next_cursor, floor=names[0])
    assert [r.name for r in second.items] == names[4:7]
    sql = q.statements[0]
    if db.get_bind().dialect.name == "sqlite":
        assert "UNION ALL" in sql and sql.count(">") == 2  # the cursor's tie (id > …), what lies beyond (name > …)
    else:
        assert "UNION" not in sql and sql.count(">") == 1  # (name, id) > (…, …)
    # A cursor whose value has fallen below the floor (a listing closed since) restarts at the floor instead.
    late = _topics_page(db, cursor=first.next_cursor, floor=names[5])
    assert [r.name for r in late.items] == names[6:9]


def test_a_cursor_with_a_naive_datetime_is_read_as_utc():
    from crm.listing import encode_cursor

    naive = encode_cursor("next", "closing", dt.datetime(2026, 1, 1, 12, 0), 7)
    direction, value, row_id = decode_cursor(naive, "closing")
    assert direction == "next"
    assert value == dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC) and row_id == 7


def _cursor(key: str, value) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(["next", key, value, 5]).encode()).decode().rstrip("=")


LISTS = [
    ("/internships", "closing"),
    ("/internships", "newest"),
    ("/api/v1/internships", "closing"),
    ("/funding-calls", "deadline"),
    ("/funding-calls", "-amount"),
    ("/api/v1/funding-calls", "deadline"),
    ("/organisations", "name"),
    ("/organisations", "newest"),
    ("/events", "soonest"),
]


def test_a_cursor_with_a_value_of_the_wrong_type_starts_again_instead_of_failing(client):
    for url, key in LISTS:
        for value in ["abc", 12, 1.5, True, [1, 2], {"d": "2026-01-01"}, {"dt": "nonsense"}, None]:
            response = client.get(f"{url}?sort={key}&cursor={_cursor(key, value)}")
            assert response.status_code == 200, (url, key, value)


def test_a_counted_page_says_how_many_match_and_stops_counting_at_the_cap(db, count_queries):
    topics = select(m.Topic.id, m.Topic.name)
    every = len(list(db.scalars(select(m.Topic.id))))
    with count_queries() as q:
        page = keyset_page(db, topics, sort=SORTS.default, id_column=m.Topic.id, page_size=3, count=True)
    assert q.count == 2 and page.total == every and not page.more_than_total
    second = keyset_page(
        db, topics, sort=SORTS.default, id_column=m.Topic.id, page_size=3, cursor=page.next_cursor, count=True
    )
    assert second.total == every  # the count is of the list, not of the page
    assert count_capped(db, topics, cap=5) == (5, True)
    assert count_capped(db, topics.where(m.Topic.name == "Carers"), cap=5) == (1, False)
    uncounted = keyset_page(db, topics, sort=SORTS.default, id_column=m.Topic.id, page_size=3)
    assert uncounted.total is None
