"""The directory's organisation lists: the public and admin list pages, the API's list, their search, and the rows a
bulk action or an export selects. Every one of them goes through ``matching`` (or ``rows_query``), so a search is
found one way wherever the directory searches.

* A search starts from its matches (``crm.search``: at most ``MATCH_CAP``, the newest). On PostgreSQL each match
  looks its organisation up by primary key (``_pg_lookup``); on SQLite the FTS matches are joined by rowid. Joined the
  usual way on PostgreSQL, right after a seed or an import (no statistics), the planner walked every organisation
  comparing it with every match (up to 6.8 s at 20,000; bench/pg_search.py).
* A search page is one statement with its count: the filtered matches are materialised once (a CTE), the page is read
  from them and the count is a sub-select over the same rows, so the search is not run a second time for the count.
* The public list without a search is built once per set of filters (``shape=``, crm/listing.py) and read as Core;
  its count is kept until its tables are written (``counted_tables``).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, literal_column, select, true
from sqlalchemy.orm import Session

from crm import filter_choices as choices
from crm import models as m
from crm import search
from crm.directory.organisations import org_topic_names, public_condition
from crm.directory.taxonomy import linked_to
from crm.listing import COUNT_CAP, ListParams, Page, SortOption, Sorts, archive_filter, keyset_page

# What a list row shows, by column name (the table's, the search's lookup's, or the search page's CTE's).
SHOWN = ("id", "name", "slug", "kind", "vcse_category", "user_led", "lived_experience_led", "description", "website",
         "review_status", "visibility", "created_at")  # fmt: skip
SORTED_BY = ("name_normalised", "updated_at")  # besides created_at (shown) and the search's score


def _columns(o: Any, extra: Iterable[str] = ()) -> list[Any]:
    return [getattr(o, n) for n in (*SHOWN, *extra)] + [m.Region.name.label("region_name")]


def filtered(query: Select[Any], o: Any, params: ListParams, *, public: bool) -> Select[Any]:
    """The list's filters on the columns of ``o`` (the table, or the search's lookup); regions joined."""
    f = params.filters
    if public:
        query = query.where(public_condition(o))
    else:
        if f.get("status") in {s.value for s in m.ReviewStatus}:
            query = query.where(o.review_status == f["status"])
        if f.get("visibility") in {v.value for v in m.Visibility}:
            query = query.where(o.visibility == f["visibility"])
        query = archive_filter(query, o.archived_at, f.get("archived"))
    if f.get("kind") in {k.value for k in m.OrgKind}:
        query = query.where(o.kind == f["kind"])
    if f.get("category") in {c.value for c in m.VcseCategory}:
        query = query.where(o.vcse_category == f["category"])
    if f.get("topic"):
        query = query.where(linked_to(m.organisation_topics.c.organisation_id, o.id, f["topic"]))
    if f.get("region"):
        query = query.where(m.Region.slug == f["region"])
    if f.get("user_led"):
        query = query.where(o.user_led.is_(True))
    if f.get("lived_experience_led"):
        query = query.where(o.lived_experience_led.is_(True))
    return query


def _sorts(o: Any, score: Any) -> Sorts:
    options = [
        SortOption("name", "Name, A to Z", o.name_normalised),
        SortOption("-name", "Name, Z to A", o.name_normalised, descending=True),
        SortOption("newest", "Newest first", o.created_at, descending=True),
        SortOption("updated", "Recently updated", o.updated_at, descending=True),
    ]
    if score is not None:
        options.insert(0, SortOption("relevance", "Best match", score, descending=True))
    return Sorts(*options)


@functools.cache
def _table_sorts() -> Sorts:
    return _sorts(m.Organisation, None)


@functools.cache
def _searched_sorts() -> Sorts:
    return _table_sorts().with_relevance(literal_column("score"))


def offered_sorts(params: ListParams) -> Sorts:
    """The sorts a list's menu offers for ``params`` ("Best match" first while searching), without building its
    query; a page's own ``sorts`` are the same choices."""
    return _searched_sorts() if search.terms(params.q) else _table_sorts()


def _pg_lookup(found: Any) -> Any:
    """Each match's organisation by primary key: a LATERAL subquery fenced with ``OFFSET 0``, which the planner can
    neither flatten into a join nor push the filters into, so the plan is the same with statistics or without:
    matches first, one primary-key probe each, then filter, sort and page (tests/directory/test_search_plan.py)."""
    t = m.Organisation.__table__
    return select(t).where(t.c.id == found.c.id).offset(literal_column("0")).lateral("organisation")  # type: ignore[attr-defined]


def matching(
    session: Session, params: ListParams, *, public: bool, extra: Sequence[str] = (), topics: bool = True
) -> tuple[Select[Any], Sorts, Any]:
    """The list's rows for these filters and search, not yet sorted or paged: the query (with ``id``, what a row
    shows, ``extra`` columns of organisations by name, ``topic_names`` unless ``topics`` is false and, while
    searching, ``score``), its sorts, and the id column to page, select or batch by."""
    found = search.matches(session, search.ORGANISATIONS, params.q)
    if found is not None and session.get_bind().dialect.name == "postgresql":
        lookup = _pg_lookup(found)
        o: Any = lookup.c
        query = select(*_columns(o, extra)).select_from(found).join(lookup, true())
    else:
        o = m.Organisation
        query = select(*_columns(o, extra)).select_from(o)
        if found is not None:
            query = query.join(found, found.c.id == o.id)
    if topics:
        query = query.add_columns(org_topic_names(session, o.id).label("topic_names"))
    if found is not None:
        query = query.add_columns(found.c.score.label("score"))
    query = filtered(query.outerjoin(m.Region, m.Region.id == o.region_id), o, params, public=public)
    return query, (_sorts(o, found.c.score) if found is not None else _table_sorts()), o.id


def rows_query(
    session: Session, params: ListParams, *, public: bool, extra: Sequence[str] = ()
) -> tuple[Select[Any], Any]:
    """What an export of the list reads: every row it shows (with ``topic_names`` and the ``extra`` columns, named)
    and the id column to keep a selection (``id_column.in_(ids)``) or read in batches (``id_column > last``, ordered
    by it). A search starts from its matches, as on the list page."""
    query, _, id_column = matching(session, params, public=public, extra=extra)
    return query, id_column


def list_organisations(session: Session, params: ListParams, *, public: bool, count: bool = False) -> Page:
    """One statement per page whatever the page size (topics and region come in the same statement); ``count`` adds
    the capped number of matches: a second statement without a search, none with one (``_search_page``). The
    page's ``sorts`` are the choices the list offers (with "Best match" while searching)."""
    if search.terms(params.q):
        return _search_page(session, params, public=public, count=count)
    sorts = _table_sorts()
    common: dict[str, Any] = {
        "sort": sorts.pick(params.sort),
        "id_column": m.Organisation.id,
        "cursor": params.cursor,
        "page_size": params.page_size,
        "sorts": sorts,
        "count": count,
    }
    counted = lambda: _count_query(params, public=public)  # noqa: E731
    if not public:
        return keyset_page(session, matching(session, params, public=False)[0], count_query=counted, **common)
    return keyset_page(
        session,
        lambda: matching(session, params, public=True)[0],
        shape=("directory.public", _public_shape(params)),
        count_query=counted,
        count_tables=counted_tables(params),
        **common,
    )


def unknown_filters(db: Session | Connection, params: ListParams) -> dict[str, choices.Unknown]:
    """The public list's filters whose value its menus do not offer (``crm.filter_choices``: the page leaves them
    out and says so, the API answers 422). Topics and regions are read only when filtered by, and kept."""
    return choices.unknown_choices(
        params.filters,
        (
            choices.Menu("kind", "kind of organisation", {k.value for k in m.OrgKind}),
            choices.Menu("category", "group type", {c.value for c in m.VcseCategory}),
            choices.Menu("topic", "topic", choices.topic_slugs(db)),
            choices.Menu("region", "region", choices.region_slugs(db)),
        ),
    )


def counted_tables(params: ListParams) -> tuple[str, ...]:
    """The tables the public list's count reads for these filters (``_count_query``): it is kept until one of them is
    written or the window turns (``crm.httpcache.kept``), so it must name every one and, to be kept long, no other.
    The count is the same for every visitor (the public condition names no one)."""
    f = params.filters
    tables = ("organisations",)
    if f.get("topic"):
        tables += ("organisation_topics", "topics")
    if f.get("region"):
        tables += ("regions",)
    return tables


# What an API item shows besides a list row: the fields of ``crm.directory.schemas.Organisation``.
API_EXTRA = ("public_email", "postcode", "charity_number", "company_number", "updated_at")


def _api_rows() -> Select[Any]:
    o = m.Organisation
    columns = _columns(o, API_EXTRA)
    query = select(*columns, m.Region.slug.label("region_slug")).select_from(o)
    return query.outerjoin(m.Region, m.Region.id == o.region_id)


def api_public_page(connection: Connection, params: ListParams) -> tuple[Page, dict[int, list[str]]]:
    """The public API list: its page with every field an item shows, and each listed organisation's topic slugs.
    Read on ``connection`` without a session (the cheap path of anonymous GETs, ``crm.web.httpcache``): the page
    and the topics, two statements, the page built once per set of filters (``shape``); a search is the list's
    search page (in a session on the connection, rolled back after) and its rows by id, three. The handler loaded
    the same items as ORM objects with their topics and region: four statements."""
    if search.terms(params.q):
        with Session(bind=connection) as own:
            page = _search_page(own, params, public=True, count=False)
        ids = [r.id for r in page.items]
        rows = {r.id: r for r in connection.execute(_api_rows().where(m.Organisation.id.in_(ids)))} if ids else {}
        page.items = [rows[i] for i in ids if i in rows]
    else:
        sorts = _table_sorts()
        page = keyset_page(
            connection,
            lambda: filtered(_api_rows(), m.Organisation, params, public=True),
            sort=sorts.pick(params.sort),
            id_column=m.Organisation.id,
            cursor=params.cursor,
            page_size=params.page_size,
            sorts=sorts,
            shape=("directory.api", _public_shape(params)),
        )
    return page, topic_slugs(connection, [r.id for r in page.items])


def topic_slugs(connection: Connection, ids: list[int]) -> dict[int, list[str]]:
    """Each organisation's topic slugs in the order of ``Organisation.topics`` (by topic name, which is unique): one
    statement, none without ids."""
    if not ids:
        return {}
    link = m.organisation_topics.c
    found: dict[int, list[str]] = {}
    query = (
        select(link.organisation_id, m.Topic.slug)
        .join(m.Topic, m.Topic.id == link.topic_id)
        .where(link.organisation_id.in_(ids))
        .order_by(m.Topic.name)
    )
    for org_id, slug in connection.execute(query):
        found.setdefault(org_id, []).append(slug)
    return found


def _public_shape(params: ListParams) -> Hashable:
    """Everything the public list's statement depends on: the filters as they are applied (an unknown kind or
    category is ignored, any "yes" is yes), so equal lists share one statement."""
    f = params.filters
    return (
        f.get("kind") if f.get("kind") in {k.value for k in m.OrgKind} else "",
        f.get("category") if f.get("category") in {c.value for c in m.VcseCategory} else "",
        f.get("topic") or "",
        f.get("region") or "",
        bool(f.get("user_led")),
        bool(f.get("lived_experience_led")),
    )


def _count_query(params: ListParams, *, public: bool) -> Select[Any]:
    """The list's ids alone, for its count (regions joined only to filter by one). Measured on SQLite at 20,000: no
    faster than counting the page's query (the planner drops the unused columns), but one shape for the count."""
    o = m.Organisation
    query = select(o.id)
    if params.filters.get("region"):
        query = query.outerjoin(m.Region, m.Region.id == o.region_id)
    return filtered(query, o, params, public=public)


def _search_page(session: Session, params: ListParams, *, public: bool, count: bool) -> Page:
    """A search page and its count in one statement: the filtered matches (at most ``MATCH_CAP``, without their
    topics) are materialised once as ``listed``; the page is sorted and cut from it with its topics, and the count is
    ``(SELECT count(*) FROM listed)`` on every row. Counted separately, the count ran the search a second time.
    A page after a cursor that holds no row (a stale cursor) counts in a statement of its own."""
    rows, _, _ = matching(session, params, public=public, extra=SORTED_BY, topics=False)
    listed = rows.cte("listed").prefix_with("MATERIALIZED")
    sorts = _sorts(listed.c, listed.c.score)
    columns = [listed.c[n] for n in (*SHOWN, "region_name")]
    columns.append(org_topic_names(session, listed.c.id).label("topic_names"))
    counted = select(func.count()).select_from(listed)
    if count:
        columns.append(counted.scalar_subquery().label("matched"))
    page = keyset_page(
        session,
        select(*columns),
        sort=sorts.pick(params.sort),
        id_column=listed.c.id,
        cursor=params.cursor,
        page_size=params.page_size,
        sorts=sorts,
    )
    if count:
        stale = not page.items and params.cursor
        n = page.items[0].matched if page.items else (session.scalar(counted) or 0) if stale else 0
        page.total, page.more_than_total = min(n, COUNT_CAP), n > COUNT_CAP
    return page
