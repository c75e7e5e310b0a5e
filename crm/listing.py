"""The one list pattern used by every list page and API list: filter, search, sort, keyset paging.

Keyset (cursor) paging keeps page 5,000 as cheap as page 1 and never needs an exact COUNT over a large table.
A cursor encodes the direction, the sort key and the last row's (sort value, id); it is opaque to users and
harmless if tampered with (a bad cursor just restarts at the first page).

Usage in a service::

    query = select(cols...).where(...filters...)
    page = fetch_page(session, query, params, SORTS, id_column=Org.id)

Each page costs exactly one SQL statement (page_size + 1 rows fetched to know whether there is a next page).

A public list passes ``shape=`` (what its query holds, e.g. the filter values) and a function building the query:
the finished statement is then built once per shape and bound per request (see ``keyset_page``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    Select,
    bindparam,
    func,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from crm.cursors import decode_cursor, encode_cursor
from crm.httpcache import kept
from crm.prepared import driver_statement, reading
from crm.validation import without_nul

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclasses.dataclass(frozen=True, slots=True)
class SortOption:
    key: str
    label: str
    column: ColumnElement[Any]
    descending: bool = False


class Sorts:
    """The sort options a list offers; the first is the default."""

    def __init__(self, *options: SortOption) -> None:
        self.options = {o.key: o for o in options}
        self.default = options[0]

    def pick(self, key: str | None) -> SortOption:
        return self.options.get(key or "", self.default)

    def choices(self) -> list[tuple[str, str]]:
        return [(o.key, o.label) for o in self.options.values()]

    def header(self, current: str, *keys: str) -> tuple[str, str]:
        """A sortable column header: (its ``aria-sort``, the sort its link asks for), ("", "") when the list offers
        none of ``keys``. ``keys`` are the column's sorts in the order clicks cycle through them (``"name", "-name"``):
        the header of the list's current sort links to the next one, any other header to its first."""
        offered = [k for k in keys if k in self.options]
        if not offered:
            return "", ""
        current = current if current in self.options else self.default.key
        if current not in offered:
            return "none", offered[0]
        state = "descending" if self.options[current].descending else "ascending"
        return state, offered[(offered.index(current) + 1) % len(offered)]

    def with_relevance(self, score: ColumnElement[Any] | None) -> Sorts:
        """While searching, "Best match" (the search score, highest first) comes first and is the default."""
        if score is None:
            return self
        return Sorts(SortOption("relevance", "Best match", score, descending=True), *self.options.values())


@dataclasses.dataclass(frozen=True, slots=True)
class ListParams:
    """What a list request asked for, parsed leniently from query parameters (bad values fall back)."""

    q: str = ""
    sort: str = ""
    cursor: str = ""
    page_size: int = DEFAULT_PAGE_SIZE
    filters: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_query(
        cls, query: Mapping[str, Any], filter_names: Sequence[str] = (), multi: Sequence[str] = ()
    ) -> ListParams:
        def first(name: str) -> str:
            value = query.get(name, "")
            if isinstance(value, list):
                value = value[0] if value else ""
            return str(without_nul(value)).strip()

        try:
            size = int(first("page_size") or DEFAULT_PAGE_SIZE)
        except ValueError:
            size = DEFAULT_PAGE_SIZE
        filters: dict[str, Any] = {}
        for name in filter_names:
            if name in multi:
                raw = query.get(name, [])
                values = raw if isinstance(raw, list) else [raw]
                cleaned = [str(v).strip() for v in without_nul(values) if str(v).strip()]
                if cleaned:
                    filters[name] = cleaned
            elif value := first(name):
                filters[name] = value[:200]
        return cls(
            q=first("q")[:200],
            sort=first("sort")[:40],
            cursor=first("cursor")[:500],
            page_size=max(1, min(MAX_PAGE_SIZE, size)),
            filters=filters,
        )

    def query_string(self, **overrides: Any) -> str:
        """The URL query for this list with some parameters changed (``None`` removes one)."""
        params: list[tuple[str, Any]] = []
        base: dict[str, Any] = {
            "q": self.q,
            "sort": self.sort,
            "page_size": self.page_size if self.page_size != DEFAULT_PAGE_SIZE else "",
        }
        base.update(self.filters)
        base.update(overrides)
        for key, value in base.items():
            if value is None or value == "" or value == []:
                continue
            if isinstance(value, list | tuple):
                params.extend((key, v) for v in value)
            else:
                params.append((key, value))
        return urlencode(params)


@dataclasses.dataclass(slots=True)
class Page:
    items: list[Any]
    next_cursor: str | None
    prev_cursor: str | None
    sort: SortOption
    page_size: int
    sorts: Sorts | None = None  # the choices this list offered (a search adds "Best match"), for the sort menu
    total: int | None = None  # how many rows match, up to COUNT_CAP (None: the list was not counted)
    more_than_total: bool = False  # more than COUNT_CAP match: shown as "10,000+"

    @property
    def is_first(self) -> bool:
        return self.prev_cursor is None


# Lists say how many results match, exactly up to this many: counting stops there, so a count costs at most this
# many index entries at any size (a full COUNT over a million rows would cost more than the page itself).
COUNT_CAP = 10_000
ARCHIVE_CHOICES = (("", "Current"), ("yes", "Archived"))


def archive_filter(query: Select[Any], column: Any, value: Any) -> Select[Any]:
    """An admin list's "Archive" filter: current records unless it asks for the archived ones ("yes") or both
    ("all", what a bulk action may select from) (issue 17.4)."""
    if value == "all":
        return query
    return query.where(column.isnot(None) if value == "yes" else column.is_(None))


def count_capped(session: Session, query: Select[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(matching rows up to ``cap``, whether there are more): one statement, ``query`` unordered."""
    n = session.scalar(select(func.count()).select_from(query.order_by(None).limit(cap + 1).subquery())) or 0
    return min(n, cap), n > cap


def keyset_page(
    session: Session | Connection,
    query: Select[Any] | Callable[[], Select[Any]],
    *,
    sort: SortOption,
    id_column: ColumnElement[Any],
    cursor: str = "",
    page_size: int = DEFAULT_PAGE_SIZE,
    sort_attr: str = "sort_value",
    floor: tuple[ColumnElement[Any], Any] | None = None,
    sorts: Sorts | None = None,
    count: bool = False,
    shape: Hashable | None = None,
    count_query: Callable[[], Select[Any]] | None = None,
    count_tables: tuple[str, ...] = (),
) -> Page:
    """One statement per page (two with ``count``: the capped number of matches, see ``count_capped``).
    ``query`` must not be ordered or limited yet.

    Rows carry the sort value as an extra labelled column (``sort_attr``) so the cursor can be built from it.

    ``floor=(column, value)`` keeps only rows whose ``column > value`` (open listings: ``closes_at > now``). Pass it
    here rather than as a filter: when the list walks that column upwards from a cursor above the floor, the floor
    is implied by the cursor and is left out, so the database has one lower bound and seeks straight to the page.
    With both, SQLite takes the floor as the index range and scans every row between it and the cursor, which
    made page 1,000 of the internships twenty times slower than page 1 at a million rows (docs/proof.md).

    ``shape``: a hashable name for everything ``query`` holds (the list and its filter values, never a value that
    changes by itself, like the clock): the finished statement is then built once per shape, sort and kind of
    cursor, with the floor, the cursor and the limit as bound parameters, and ``query`` may be a function that
    builds it (called only the first time). See ``_prepared_page`` and ``crm.prepared``.

    ``count_query``: the same rows without what only the page shows (the joins for names), for the count: at
    100,000 internships counting through the host join read 10,000 table rows (115 ms on SQLite), the ids alone
    one index range (3 ms). ``count_tables`` (with a shape): the count is kept until one of them is written or the
    window turns, as the page's ETag is (``crm.httpcache.kept``): every page of a list shares it.
    """
    if shape is not None:
        counted_by = count_query or query
        return _prepared_page(
            session,
            query,
            shape,
            sort,
            id_column,
            cursor,
            page_size,
            sort_attr,
            floor,
            sorts,
            count,
            counted_by,
            count_tables,
        )
    if callable(query):
        query = query()
    decoded = decode_cursor(cursor, sort.key) if cursor else None
    if decoded and not _fits(sort.column, decoded[1]):
        decoded = None  # a tampered cursor whose value is not of the sort column's type: start again
    direction = decoded[0] if decoded else "next"
    backwards = direction == "prev"
    ascending = sort.descending == backwards  # prev on a descending list walks ascending, and vice versa
    stmt = query.add_columns(sort.column.label(sort_attr))
    if floor is not None and not _floor_implied(floor, sort, decoded, ascending):
        stmt = stmt.where(floor[0] > _literal_like(floor[0], floor[1]))
    if decoded:
        bind = session.get_bind() if isinstance(session, Session) else session
        sqlite = bind.dialect.name == "sqlite"
        value = _literal_like(sort.column, decoded[1])
        page_stmt: Select[Any] | CompoundSelect = _after_cursor(
            stmt, sort, id_column, (value, decoded[2]), ascending, sort_attr, merge_tie=sqlite
        )
    else:
        page_stmt = stmt.order_by(*_direction((sort.column, id_column), ascending))
    rows = list(session.execute(page_stmt.limit(page_size + 1)))
    page = _page_of(rows, sort, decoded, page_size, sort_attr, sorts)
    if count:  # always the second statement, even when the page could tell: a list costs the same at any size
        counted = count_query() if count_query is not None else query
        if floor is not None:
            counted = counted.where(floor[0] > _literal_like(floor[0], floor[1]))
        page.total, page.more_than_total = count_capped(session, counted)
    return page


def _page_of(
    rows: list[Any],
    sort: SortOption,
    decoded: tuple[str, Any, int] | None,
    page_size: int,
    sort_attr: str,
    sorts: Sorts | None,
) -> Page:
    """The page and its cursors from the ``page_size + 1`` rows fetched (the extra row says there is more)."""
    backwards = bool(decoded) and decoded[0] == "prev"  # type: ignore[index]
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if backwards:
        rows.reverse()
    if rows and getattr(rows[0], "id", None) is None:
        raise ValueError("keyset_page needs an 'id' column in the selected rows")
    next_cursor = prev_cursor = None
    if rows:
        first, last = rows[0], rows[-1]
        if (has_more and not backwards) or (backwards and decoded):
            next_cursor = encode_cursor("next", sort.key, getattr(last, sort_attr), last.id)
        if (decoded and not backwards) or (backwards and has_more):
            prev_cursor = encode_cursor("prev", sort.key, getattr(first, sort_attr), first.id)
    return Page(
        items=rows, next_cursor=next_cursor, prev_cursor=prev_cursor, sort=sort, page_size=page_size, sorts=sorts
    )


def _prepared_page(
    session: Session | Connection,
    query: Select[Any] | Callable[[], Select[Any]],
    shape: Hashable,
    sort: SortOption,
    id_column: ColumnElement[Any],
    cursor: str,
    page_size: int,
    sort_attr: str,
    floor: tuple[ColumnElement[Any], Any] | None,
    sorts: Sorts | None,
    count: bool,
    count_query: Select[Any] | Callable[[], Select[Any]],
    count_tables: tuple[str, ...] = (),
) -> Page:
    """``keyset_page`` for a list with a ``shape``: the same statements, but each is built once and reused, so a
    request neither composes a select nor has SQLAlchemy walk it for its cache key (together ~30% of a public
    list request), and runs through the driver as a ``crm.prepared.DriverStatement`` (compiled once, rows read by
    position into named tuples holding what Core rows hold). The selected columns must be columns, not ORM
    entities. ``session`` may be a ``Connection``: a read that needs no session (the public API list)."""
    decoded = decode_cursor(cursor, sort.key) if cursor else None
    if decoded and not _fits(sort.column, decoded[1]):
        decoded = None
    ascending = sort.descending == (bool(decoded) and decoded[0] == "prev")  # type: ignore[index]
    use_floor = floor is not None and not _floor_implied(floor, sort, decoded, ascending)
    with reading(session) as connection:
        dialect = connection.dialect
        merge_tie = dialect.name == "sqlite"
        values: dict[str, Any] = {"kp_limit": page_size + 1}
        if use_floor:
            values["kp_floor"] = floor[1]  # type: ignore[index]
        if decoded:
            values["kp_value"], values["kp_id"] = decoded[1], decoded[2]

        def build() -> Any:
            stmt = (query() if callable(query) else query).add_columns(sort.column.label(sort_attr))
            if use_floor:
                stmt = stmt.where(floor[0] > bindparam("kp_floor", type_=floor[0].type))  # type: ignore[index]
            if not decoded:
                return stmt.order_by(*_direction((sort.column, id_column), ascending)).limit(
                    bindparam("kp_limit", type_=Integer)
                )
            bound = (bindparam("kp_value", type_=sort.column.type), bindparam("kp_id", type_=id_column.type))
            page_stmt = _after_cursor(stmt, sort, id_column, bound, ascending, sort_attr, merge_tie=merge_tie)
            return page_stmt.limit(bindparam("kp_limit", type_=Integer))

        key = (shape, sort.key, sort_attr, decoded[0] if decoded else "", use_floor, merge_tie)
        rows = driver_statement(key, build, dialect, values).rows(connection, values)
        page = _page_of(rows, sort, decoded, page_size, sort_attr, sorts)
        if count:

            def build_count() -> Any:
                counted = count_query() if callable(count_query) else count_query
                if floor is not None:
                    counted = counted.where(floor[0] > bindparam("kp_floor", type_=floor[0].type))
                return select(func.count()).select_from(counted.order_by(None).limit(COUNT_CAP + 1).subquery())

            bounds = {"kp_floor": floor[1]} if floor is not None else {}
            count_key = (shape, "count", floor is not None, merge_tie)
            counting = driver_statement(count_key, build_count, dialect, bounds)
            n = kept((count_key, connection.engine.url), count_tables, lambda: counting.scalar(connection, bounds) or 0)
            page.total, page.more_than_total = min(n, COUNT_CAP), n > COUNT_CAP
        return page


def fetch_page(
    session: Session | Connection,
    query: Select[Any] | Callable[[], Select[Any]],
    params: ListParams,
    sorts: Sorts,
    *,
    id_column: ColumnElement[Any],
    floor: tuple[ColumnElement[Any], Any] | None = None,
    count: bool = False,
    shape: Hashable | None = None,
    count_query: Callable[[], Select[Any]] | None = None,
    count_tables: tuple[str, ...] = (),
) -> Page:
    """The page a list request asked for: its sort (or the list's default), cursor and size, one statement (and
    one more with ``count``). ``shape``: see ``keyset_page``."""
    return keyset_page(
        session,
        query,
        sort=sorts.pick(params.sort),
        id_column=id_column,
        cursor=params.cursor,
        page_size=params.page_size,
        floor=floor,
        sorts=sorts,
        count=count,
        shape=shape,
        count_query=count_query,
        count_tables=count_tables,
    )


def _fits(column: ColumnElement[Any], value: Any) -> bool:
    """Whether a cursor's sort value can be bound to the sort column (else binding it would fail in the driver)."""
    if value is None:
        return True
    try:
        expected = column.type.python_type
        if expected is object and hasattr(column.type, "impl_instance"):  # a TypeDecorator: the stored type
            expected = column.type.impl_instance.python_type
    except NotImplementedError:
        return True
    if isinstance(value, bool):
        return expected is bool
    if issubclass(expected, enum.Enum):
        return isinstance(value, str)  # cursors carry an enum's value
    if expected is float:
        return isinstance(value, int | float)
    if expected is dt.date:
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return isinstance(value, expected)


def _direction(columns: Sequence[Any], ascending: bool) -> list[Any]:
    return [c.asc() if ascending else c.desc() for c in columns]


def _after_cursor(
    stmt: Select[Any],
    sort: SortOption,
    id_column: ColumnElement[Any],
    after: tuple[Any, Any],
    ascending: bool,
    sort_attr: str,
    *,
    merge_tie: bool,
) -> Select[Any] | CompoundSelect:
    """Rows after the cursor ``(value, id)`` in sort order, in the form each database seeks exactly.

    PostgreSQL (``merge_tie=False``): the row comparison ``(sort, id) > (value, id)``, one range over the index.
    SQLite (``merge_tie=True``) seeks that comparison on ``sort`` only and steps over every earlier row of the
    cursor's tie (at a million internships that close at the end of the same day, page 5,000 cost 0.12 ms against
    0.06 ms for page 1), so there it is the rest of the tie (``sort = value`` and ``id`` beyond) merged with what
    lies beyond ``value``: two exact seeks, 0.03 ms. PostgreSQL does not push the limit into such a union and
    sorted everything beyond the cursor (136 ms at page 500 of 200,000).
    """
    value, row_id = after  # the cursor's sort value and id, as literals or bound parameters
    if not merge_tie:
        bound = tuple_(sort.column, id_column), tuple_(value, row_id)
        after = bound[0] > bound[1] if ascending else bound[0] < bound[1]
        return stmt.where(after).order_by(*_direction((sort.column, id_column), ascending))
    tie, beyond = (id_column > row_id, sort.column > value) if ascending else (id_column < row_id, sort.column < value)
    # A compound's ORDER BY may only name its output columns by their labels (SQLite), hence the id's label.
    stmt = stmt.add_columns(id_column.label(f"{sort_attr}_id"))
    compound = union_all(stmt.where(sort.column == value, tie), stmt.where(beyond))
    columns = compound.selected_columns
    return compound.order_by(*_direction((columns[sort_attr], columns[f"{sort_attr}_id"]), ascending))


def _floor_implied(
    floor: tuple[ColumnElement[Any], Any], sort: SortOption, decoded: tuple[str, Any, int] | None, ascending: bool
) -> bool:
    """True when ``(sort, id) > cursor`` already guarantees ``floor column > floor value``."""
    if decoded is None or not ascending or floor[0] is not sort.column:
        return False
    value = decoded[1]
    try:
        return value is not None and value > floor[1]
    except TypeError:  # a tampered cursor with a value of another type: keep the floor
        return False


def _literal_like(column: ColumnElement[Any], value: Any) -> Any:
    from sqlalchemy import literal

    return literal(value, type_=column.type)
