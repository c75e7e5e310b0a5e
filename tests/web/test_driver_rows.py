"""Shaped lists read through the driver (crm/prepared.py, issue 21.1): the rows hold what Core rows hold, the
engine's listeners see each statement, a read outside a transaction begins none, driver errors are SQLAlchemy's."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy.exc import DBAPIError

from crm import listing, prepared
from crm import models as m
from crm.internships import queries
from crm.listing import ListParams
from tests import factories
from tests.internships.helpers import make_internship

NOW = dt.datetime.now(dt.UTC)


def _seed(db) -> None:
    org = factories.organisation(db, "Driver Rows Host")
    make_internship(db, org, title="Paid weekly", pence=25000, region="UKI", topics=("Carers",), days=9)
    make_internship(db, org, title="Unpaid", days=9)  # a tie on the closing date
    make_internship(db, org, title="Paid no period", pence=1000, period=None, hours=None, days=20)
    make_internship(db, org, title="Long", days=40, mode="hybrid", topics=("Carers",))
    make_internship(db, org, title="Gone", days=-3)  # below the floor


def _page(db, params: ListParams, *, shaped: bool) -> listing.Page:
    filters = queries.Filters.from_mapping(params.filters)
    return listing.fetch_page(
        db,
        lambda: queries.apply_filters(queries._public_base(), filters, now=NOW),
        params,
        queries.PUBLIC_SORTS,
        id_column=m.Internship.id,
        floor=(m.Internship.closes_at, NOW),
        count=True,
        shape=("test.driver-rows", filters) if shaped else None,
    )


def _walk(db, params: ListParams, *, shaped: bool) -> list[tuple]:
    """Every row of every page, forward, with its values and their types, and each page's count."""
    seen, cursor = [], ""
    for _ in range(10):
        page = _page(db, dataclasses.replace(params, cursor=cursor), shaped=shaped)
        seen += [(tuple(r), tuple(type(v) for v in r), page.total) for r in page.items]
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor
    return seen


@pytest.mark.parametrize(
    "filters",
    [{}, {"topic": ["carers"]}, {"paid": "paid"}, {"mode": ["hybrid", "remote"], "topic": ["carers", "peer-support"]}],
)
@pytest.mark.parametrize("sort", ["closing", "newest"])
def test_driver_rows_hold_what_core_rows_hold(db, filters, sort):
    _seed(db)
    db.commit()
    params = ListParams(sort=sort, page_size=2, filters=filters)
    driver = _walk(db, params, shaped=True)
    assert driver == _walk(db, params, shaped=False)
    assert driver  # every filter here matches something
    first = driver[0][0]
    row = _page(db, params, shaped=True).items[0]
    assert row.closes_at.tzinfo is dt.UTC and isinstance(row.closing_date, dt.date)
    assert isinstance(row.status, m.InternshipStatus) and isinstance(row.paid, bool)
    assert first == tuple(row)


def test_each_driver_statement_is_seen_by_the_engines_listeners(db, count_queries):
    _seed(db)
    db.commit()
    with count_queries() as q:
        page = _page(db, ListParams(page_size=2), shaped=True)
    assert len(q.statements) == 2  # the page and its count
    assert q.statements[0].lstrip().upper().startswith("SELECT") and "internships" in q.statements[0]
    assert page.total == 4


def test_a_read_outside_a_transaction_begins_none_and_one_inside_sees_its_writes(db):
    _seed(db)
    db.commit()
    assert not db.in_transaction()
    assert _page(db, ListParams(), shaped=True).total == 4
    assert not db.in_transaction()  # read on a pooled connection of its own: nothing to commit
    make_internship(db, factories.organisation(db, "Uncommitted Host"), title="Not committed yet")
    assert db.in_transaction()
    titles = [r.title for r in _page(db, ListParams(page_size=10), shaped=True).items]
    assert "Not committed yet" in titles  # read on the session's connection, inside its transaction
    db.rollback()


def test_driver_errors_are_sqlalchemys(db):
    engine = db.get_bind()
    with pytest.raises(DBAPIError), engine.connect() as connection:
        prepared.run(connection, "SELECT no_such_column FROM topics", [] if engine.name == "sqlite" else {})


def test_the_public_list_reads_on_a_plain_connection_with_a_search_too(db):
    _seed(db)
    db.commit()
    with db.get_bind().connect() as connection:
        plain = queries.public_list(connection, ListParams(page_size=10), now=NOW)
        searched = queries.public_list(connection, ListParams(q="weekly"), now=NOW)
    assert len(plain.items) == 4
    assert [r.title for r in searched.items] == ["Paid weekly"]


def test_a_kept_count_is_read_once_per_list_and_again_after_a_write(db, count_queries):
    _seed(db)
    db.commit()
    first = queries.public_list(db, ListParams(page_size=1), now=NOW, count=True)
    with count_queries() as q:
        second = queries.public_list(db, ListParams(page_size=1, cursor=first.next_cursor), now=NOW, count=True)
    assert first.total == second.total == 4
    assert len(q.statements) == 1  # the page; its count kept from the first page
    make_internship(db, factories.organisation(db, "Later Host"), title="Later")
    db.commit()
    with count_queries() as q:
        after = queries.public_list(db, ListParams(page_size=1), now=NOW, count=True)
    assert after.total == 5 and len(q.statements) == 2
