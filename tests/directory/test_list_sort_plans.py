"""The public directory's "Newest first" and "Recently updated" read an index in order: no page sorts every public
organisation (migration 0031). (By name, ``ix_organisations_public_name`` or the name index serve it, as the
planner's statistics choose.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory import queries
from crm.listing import ListParams
from tests.directory.test_search_plan import add_organisations, captured_statements

INDEX_OF = {
    "newest": "ix_organisations_public_created",
    "updated": "ix_organisations_public_updated",
}


def list_statement(db: Session, params: ListParams) -> tuple[str, Any, Any]:
    """The SQL (and parameters) of the page's row query, as the list runs it, and the page."""
    captured, page = captured_statements(db, lambda: queries.list_organisations(db, params, public=True))
    ordered = [c for c in captured if "ORDER BY" in c[0] and "organisations" in c[0]]
    assert ordered, captured
    return ordered[-1][0], ordered[-1][1], page


def plan_of(db: Session, statement: str, parameters: Any) -> str:
    cursor = db.connection().connection.driver_connection.cursor()
    if db.get_bind().dialect.name == "sqlite":
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())
    # Sorting priced out: with an index that gives the order, PostgreSQL reads it; without one it must still sort.
    cursor.execute("SET LOCAL enable_sort = off")
    cursor.execute("SET LOCAL enable_incremental_sort = off")
    cursor.execute("EXPLAIN (COSTS OFF) " + statement, parameters)
    return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("sort", sorted(INDEX_OF))
def test_each_public_sort_reads_its_index_in_order_on_every_page(db, sort):
    add_organisations(db, [f"Group {n}" for n in range(30)])
    add_organisations(db, ["Hidden"] * 3, visibility=m.Visibility.PRIVATE)
    cursor = ""
    for _ in range(2):  # the first page, then a later one (its keyset cursor)
        params = ListParams(sort=sort, page_size=10, cursor=cursor)
        statement, parameters, page = list_statement(db, params)
        plan = plan_of(db, statement, parameters)
        assert INDEX_OF[sort] in plan, plan
        assert "TEMP B-TREE FOR ORDER BY" not in plan and "Sort" not in plan, plan
        assert page.items and page.next_cursor
        cursor = page.next_cursor
    db.rollback()
