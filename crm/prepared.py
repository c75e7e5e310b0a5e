"""Statements built once per list shape and run straight through the database driver (issue 21.1).

A public list with a ``shape`` (``crm.listing.keyset_page``) has a finished statement per shape, sort and kind of
cursor; only the floor, the cursor and the limit change between requests. Running such a statement through
SQLAlchemy still cost every request the execution context, the result's metadata and a processor call per value
(together ~45% of the internships JSON list at 100,000 rows), for SQL that never changes. So each statement is
compiled once per database family into a ``DriverStatement``: its SQL text, its own parameters already processed
for the driver, the bind processors of the per-request parameters, and one converter per column. A request binds
the few values that move, runs the SQL on the connection's DBAPI cursor and reads rows positionally into light
named tuples: the same values Core rows would hold (enum members, UTC datetimes), by position or by name.

What stays as with Core: the statement runs on the session's connection (inside its transaction) or on a
connection of the caller's; the engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners are
called (statement counts in tests, the SQL capture of bench/web.py, ``crm.httpcache``'s write tracking); driver
errors are raised as SQLAlchemy's ``DBAPIError`` subclasses (``DataError`` is still a 400).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Enum
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from crm.models.base import UTCDateTime

# Finished statements by (shape, sort, kind of cursor, floor, database family): built once, bound per request.
_PREPARED: dict[Hashable, Any] = {}
PREPARED_MAX = 2000  # shapes include filter values: a crawler's endless combinations empty it, never grow it


def prepared(key: Hashable, build: Callable[[], Any]) -> Any:
    """The value kept for ``key``, built by ``build`` the first time (the cache is emptied when full)."""
    value = _PREPARED.get(key)
    if value is None:
        if len(_PREPARED) >= PREPARED_MAX:
            _PREPARED.clear()
        value = _PREPARED[key] = build()
    return value


@functools.lru_cache(maxsize=8192)
def _utc_from_text(value: str | None) -> dt.datetime | None:
    """SQLite's stored text to the aware UTC datetime ``UTCDateTime`` gives. Parsing the text with its offset
    appended is five times cheaper than parsing it naive and attaching UTC with ``replace``; kept (datetimes are
    immutable) because a page repeats its values: closing times fall on a few days, the sort value repeats one."""
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value + "+00:00")
    except ValueError:  # text written with an offset of its own
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def _utc_aware(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None or value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


def _converter(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """What turns the driver's value into the one a Core row holds: SQLAlchemy's own result processor for the
    dialect, except where a C-level equivalent exists: ``UTCDateTime`` (the decorator's two wrapper calls and
    ``replace`` were a third of a list row's processing) and enums (their lookup table's ``__getitem__``; an
    unknown value is a ``LookupError`` as with SQLAlchemy)."""
    if isinstance(type_, UTCDateTime):
        return _utc_from_text if dialect.name == "sqlite" else _utc_aware
    lookup = getattr(type_, "_object_lookup", None) if isinstance(type_, Enum) and type_.enum_class else None
    if isinstance(lookup, dict) and None in lookup:
        return lookup.__getitem__
    return type_.dialect_impl(dialect).result_processor(dialect, None)  # type: ignore[no-any-return]


@dataclasses.dataclass(frozen=True, slots=True)
class DriverStatement:
    """A Core select compiled once for one dialect, run on the DBAPI cursor with only its variable values bound."""

    sql: str
    positions: tuple[str, ...] | None  # the parameters' order for positional paramstyles (SQLite's ``?``)
    fixed: Mapping[str, Any]  # the statement's own parameters, processed for the driver
    processors: Mapping[str, Callable[[Any], Any]]  # bind processors of the per-request parameters
    row: Any  # the named tuple class of its rows
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column position, converter) where one is needed

    @classmethod
    def compile(cls, statement: Any, dialect: Dialect, placeholders: Mapping[str, Any]) -> DriverStatement:
        """``placeholders``: a value of the right type for each per-request parameter (never sent anywhere)."""
        compiled = statement.compile(dialect=dialect)
        state = compiled.construct_expanded_state(dict(placeholders))  # expanding IN lists become plain binds
        # the processors SQLAlchemy's own execution applies (default.py does the same merge)
        processors = {**compiled._bind_processors, **state.processors}
        fixed = {
            name: processors[name](value) if name in processors else value
            for name, value in state.parameters.items()
            if name not in placeholders
        }
        names = list(statement.selected_columns.keys())
        converters = []
        for position, column in enumerate(statement.selected_columns):
            convert = _converter(column.type, dialect)
            if convert is not None:
                converters.append((position, convert))
        return cls(
            sql=state.statement,
            positions=tuple(state.positiontup) if compiled.positional else None,
            fixed=fixed,
            processors={name: processors[name] for name in placeholders if name in processors},
            row=collections.namedtuple("Row", names, rename=True),  # type: ignore[misc]
            converters=tuple(converters),
        )

    def bind(self, values: Mapping[str, Any]) -> Any:
        given = dict(self.fixed)
        for name, value in values.items():
            process = self.processors.get(name)
            given[name] = process(value) if process is not None and value is not None else value
        if self.positions is None:
            return given
        return [given[name] for name in self.positions]

    def rows(self, connection: Connection, values: Mapping[str, Any]) -> list[Any]:
        """The statement's rows for ``values`` on ``connection``, as named tuples. Converted column by column with
        ``map`` (no Python loop per value)."""
        raw = run(connection, self.sql, self.bind(values))
        if not raw:
            return []
        make = functools.partial(tuple.__new__, self.row)
        if not self.converters:
            return list(map(make, raw))
        columns = list(zip(*raw, strict=True))
        for position, convert in self.converters:
            columns[position] = tuple(map(convert, columns[position]))
        return list(map(make, zip(*columns, strict=True)))

    def scalar(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        raw = run(connection, self.sql, self.bind(values))
        return raw[0][0] if raw else None


def run(connection: Connection, sql: str, parameters: Any) -> list[Any]:
    """One statement on the connection's DBAPI cursor, with the engine's cursor listeners around it."""
    cursor = connection.connection.cursor()
    try:
        dispatch = connection.dispatch
        for before in dispatch.before_cursor_execute:
            sql, parameters = before(connection, cursor, sql, parameters, None, False)
        try:
            cursor.execute(sql, parameters)
            rows = cursor.fetchall()
        except connection.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, parameters, exc, connection.dialect.loaded_dbapi.Error) from exc
        for after in dispatch.after_cursor_execute:
            after(connection, cursor, sql, parameters, None, False)
        return rows  # type: ignore[no-any-return]
    finally:
        cursor.close()


def driver_statement(key: Hashable, build: Callable[[], Any], dialect: Dialect, placeholders: Mapping[str, Any]) -> Any:
    """The ``DriverStatement`` for ``key`` (built and compiled the first time)."""
    return prepared(("driver", key), lambda: DriverStatement.compile(build(), dialect, placeholders))


@contextlib.contextmanager
def reading(session: Session | Connection) -> Iterator[Connection]:
    """The connection a list reads on: the one given; the session's, when it is in a transaction (its reads and
    writes so far); else one of its own for this read only, so a request that only reads neither begins nor
    commits a session transaction (~90 µs of a public list request)."""
    if isinstance(session, Connection):
        yield session
    elif session.in_transaction():
        yield session.connection()
    else:
        with session.get_bind().connect() as connection:
            yield connection
