"""The directory's search: the same rows, order and pages on both databases, and on PostgreSQL a plan that does not
depend on statistics (matches first, looked up by primary key; the newest matches found by walking the ids or
through the GIN index, whichever the words' share of the newest rows makes cheaper)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session

from crm import models as m
from crm import search
from crm.directory import queries
from crm.listing import ListParams, count_capped, encode_cursor
from tests import factories


def add_organisations(db: Session, descriptions: list[str], **columns: Any) -> list[int]:
    """One public organisation per description, in this order (ids ascending), in one statement."""
    start = db.scalar(select(m.Organisation.id).order_by(m.Organisation.id.desc()).limit(1)) or 0
    rows = [
        {
            "name": f"Group {start + n:04d}",
            "name_normalised": f"group {start + n:04d}",
            "slug": f"group-{start + n}",
            "kind": m.OrgKind.VCSE,
            "description": text_,
            **columns,
        }
        for n, text_ in enumerate(descriptions)
    ]
    db.execute(insert(m.Organisation), rows)
    db.commit()
    return list(db.scalars(select(m.Organisation.id).where(m.Organisation.slug.in_([r["slug"] for r in rows]))))


def every_page(db: Session, params: ListParams) -> list[Any]:
    rows, cursor = [], ""
    while True:
        page = queries.list_organisations(
            db,
            ListParams(q=params.q, sort=params.sort, page_size=7, cursor=cursor, filters=params.filters),
            public=True,
        )
        rows += page.items
        if not page.next_cursor:
            return rows
        cursor = page.next_cursor


def test_search_pages_are_complete_and_ordered_in_every_sort(db):
    add_organisations(db, [f"Peer support circle {'peer ' * (n % 4)}" for n in range(30)])
    add_organisations(db, ["Peer support, private"] * 3, visibility=m.Visibility.PRIVATE)
    add_organisations(db, ["Peer support led by its members"] * 4, user_led=True)
    add_organisations(db, ["Gardening"] * 5)
    for sort in ("relevance", "name", "-name", "newest"):
        rows = every_page(db, ListParams(q="peer", sort=sort))
        assert len(rows) == 34 and len({r.id for r in rows}) == 34, sort  # private and gardening left out
        keys = [(r.sort_value, r.id) for r in rows]
        assert keys == sorted(keys, reverse=sort in ("relevance", "-name", "newest")), sort
    best = every_page(db, ListParams(q="peer"))
    assert best[0].description.count("peer") == 3  # the description saying it most ranks first
    led = every_page(db, ListParams(q="peer", filters={"user_led": "yes"}))
    assert [r.description for r in led] == ["Peer support led by its members"] * 4


@contextlib.contextmanager
def statements(db: Session) -> Iterator[list[str]]:
    """The SQL statements run on the session's engine inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_search_page_and_its_count_are_one_statement(db):
    """The count comes from the same materialised matches as the page, on every page, with every filter; it equals
    what counting the matching rows on their own (as a bulk action selects them) finds and every page holds."""
    add_organisations(db, ["Carers meet weekly"] * 25)
    add_organisations(db, ["Carers, private"] * 2, visibility=m.Visibility.PRIVATE)
    add_organisations(db, ["Carers led by their members"] * 3, user_led=True)
    for filters, expected in (({}, 28), ({"user_led": "yes"}, 3)):
        for sort in ("", "name", "-name", "newest"):
            params = ListParams(q="carers", sort=sort, page_size=10, filters=filters)
            with statements(db) as seen:
                page = queries.list_organisations(db, params, public=True, count=True)
            assert len(seen) == 1 and "count(*)" in seen[0].lower(), seen
            assert page.total == expected and not page.more_than_total, (filters, sort)
            assert len(every_page(db, params)) == expected
            assert count_capped(db, queries.matching(db, params, public=True)[0]) == (expected, False)
            if page.next_cursor:  # a later page: still one statement, the same count
                with statements(db) as seen:
                    later = queries.list_organisations(db, params_at(params, page.next_cursor), public=True, count=True)
                assert len(seen) == 1 and later.total == expected and later.items
    with statements(db) as seen:
        none = queries.list_organisations(db, ListParams(q="astronomy"), public=True, count=True)
    assert len(seen) == 1 and none.items == [] and none.total == 0
    # A cursor beyond the last match (a stale link) finds no row to read the count from: it is counted on its own.
    stale = params_at(ListParams(q="carers"), encode_cursor("next", "relevance", -1.0, 0))
    with statements(db) as seen:
        past = queries.list_organisations(db, stale, public=True, count=True)
    assert past.items == [] and past.total == 28 and len(seen) == 2


def params_at(params: ListParams, cursor: str) -> ListParams:
    return ListParams(q=params.q, sort=params.sort, page_size=params.page_size, cursor=cursor, filters=params.filters)


def test_the_newest_matches_are_found_by_walking_or_through_the_index(db, monkeypatch):
    """With ranges of 10 ids the walk crosses several of them; either way the candidates are exactly the newest."""
    monkeypatch.setattr(search, "SAMPLE", 10)
    ids = sorted(add_organisations(db, [("heron " if n % 3 == 0 and n < 80 else "") + "otter" for n in range(95)]))
    # Every row: walked. Not one of the newest ten rows, but 27 older ones: through the index.
    for word, matching in (("otter", ids), ("heron", ids[:80:3])):
        found = search.matches(db, search.ORGANISATIONS, word, cap=8)
        assert sorted(db.scalars(select(found.c.id)), reverse=True) == matching[::-1][:8], word


@pytest.mark.postgres
def test_postgresql_plan_without_statistics_starts_from_the_matches(db):
    add_organisations(db, [f"otter river {'heron' if n == 7 else ''}" for n in range(1500)])
    db.execute(text("DELETE FROM pg_statistic WHERE starelid = 'organisations'::regclass"))
    for word, walks in (("otter", True), ("heron", False)):
        plan = explain_search(db, word)
        assert "ix_organisations_public_name" not in plan and "Join Filter" not in plan, plan
        # The search runs once, for the page and its count: both read the materialised, filtered matches.
        assert plan.count("CTE c\n") == 1 and plan.count("CTE Scan on listed ") == 2, plan
        assert re.search(r"InitPlan \d+ .*\n\s+->  Aggregate .*\n\s+->  CTE Scan on listed ", plan), plan
        lines = [line.strip() for line in plan.splitlines()]
        outer = lines.index(next(line for line in lines if line.startswith("->  Nested Loop (")))
        assert lines[outer + 1].startswith("->  CTE Scan on c "), plan  # the matches drive the join
        lookup = next(line for line in lines if line.startswith("->  Subquery Scan on organisation "))
        assert "Index Scan using pk_organisations on organisations " in lines[lines.index(lookup) + 2], plan
        walk = next(line for line in lines if "Function Scan on generate_series ch" in line)
        gate = next(n for n, line in enumerate(lines) if line.startswith("One-Time Filter: (NOT"))
        index = next(line for line in lines[gate:] if " on organisations " in line)  # the branch run when no walk
        assert ("never executed" not in walk, "never executed" in index) == (walks, walks), plan
    db.rollback()


def captured_statements(db: Session, call: Callable[[], Any]) -> tuple[list[tuple[str, Any]], Any]:
    """Every statement (SQL and parameters) ``call()`` runs on the session's engine, and what it returned."""
    captured: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        captured.append((statement, parameters))

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        result = call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return captured, result


def explain_search(db: Session, word: str) -> str:
    captured, _ = captured_statements(
        db, lambda: queries.list_organisations(db, ListParams(q=word), public=True, count=True)
    )
    cursor = db.connection().connection.driver_connection.cursor()
    cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + captured[-1][0], captured[-1][1])
    return "\n".join(row[0] for row in cursor.fetchall())


def test_a_search_keeps_every_filter_and_shows_topics_and_region(db):
    for i in range(6):
        factories.organisation_via_form(
            db,
            f"Kingfisher Group {i}",
            description="Walks by the river",
            topics=["carers"] if i % 2 else [],
            region="london" if i < 3 else "wales",
        )
    factories.organisation_via_form(db, "Kingfisher Waiting", review_status=m.ReviewStatus.SUBMITTED)
    db.commit()
    filters = {"topic": "carers", "region": "wales"}
    rows = queries.list_organisations(db, ListParams(q="river", filters=filters), public=True).items
    assert sorted(r.name for r in rows) == ["Kingfisher Group 3", "Kingfisher Group 5"]
    assert {r.region_name for r in rows} == {"Wales"} and all("Carers" in (r.topic_names or "") for r in rows)
    admin = queries.list_organisations(db, ListParams(q="kingfisher", filters={"status": "submitted"}), public=False)
    assert [r.name for r in admin.items] == ["Kingfisher Waiting"]


def test_rows_query_reads_a_search_in_id_batches_with_extra_columns(db):
    """What the CSV export is to read (``queries.rows_query``): every row the list shows, with the named extra
    columns, kept to a selection by its id column and read in batches ordered by it, the search found as the list
    finds it."""
    ids = sorted(add_organisations(db, ["Kestrel watch"] * 7 + ["Swift watch"] * 2, postcode="SW1A 1AA"))
    params = ListParams(q="kestrel")
    query, id_column = queries.rows_query(db, params, public=True, extra=("postcode", "public_email"))
    batches, last = [], 0
    while rows := list(db.execute(query.where(id_column > last).order_by(id_column).limit(3))):
        batches.append([r.id for r in rows])
        last = rows[-1].id
        assert all(r.postcode == "SW1A 1AA" and r.topic_names is None for r in rows)
    assert batches == [ids[0:3], ids[3:6], ids[6:7]]
    listed = {r.id for r in every_page(db, params)}
    assert listed == set(ids[:7])
    chosen = list(db.scalars(select(query.where(id_column.in_(ids[1:3] + ids[7:])).subquery().c.id)))
    assert sorted(chosen) == ids[1:3]  # a selection outside the search stays outside
