"""Change stamps for HTTP caching: what lets an anonymous ``If-None-Match`` be answered 304 without a query.

Every table has a version in this process. A listener on every SQLAlchemy ``Engine`` notes the tables an
INSERT, UPDATE or DELETE names and bumps their versions when the statement runs and again when its transaction
commits (so an ETag handed out while a write was still uncommitted can never stand for the committed rows).
DDL, ``TRUNCATE`` and any write whose table cannot be read from its SQL bump everything. A page's ETag is a hash
of its URL, the versions of the tables it reads and the current ``WINDOW`` (below); see ``crm.web.httpcache``.

Why in process and not in the database: a stamp read from the database is one more statement per request, and
the 304 must cost less than the bare list (issue 21). Other processes' writes (the worker's jobs, a CLI import, a
second web process): with ``CRM_REDIS_URL`` set, every process publishes the tables of its committed writes
(``committed_listeners``) and applies the others' (``crm.web.stamps_bus``), so they bump the versions here
milliseconds later, still with no round trip on the request path. Without Redis, or for a message lost while
Redis was away, such a write is seen when the window turns, at most ``WINDOW`` seconds later. The window also
covers pages that change with the clock alone (a listing that closes, "closes in 2 days"). Each process has its
own ``BOOT`` prefix, so two processes never hand out equal ETags for different content (and a tag is a 304 only
at the process that issued it).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

T = TypeVar("T")

WINDOW = 60  # seconds: how stale a page may be after another process wrote, or the clock moved on
BOOT = secrets.token_hex(4)
EVERYTHING = "*"  # a page that reads too many tables to name (the organisation page with every domain's sections)

_clock = itertools.count(1)  # next() is atomic under the GIL: two threads bumping at once both change the stamp
_versions: dict[str, int] = {}
_any = 0  # bumped by every write: the stamp of EVERYTHING
_all = 0  # bumped by DDL / TRUNCATE / unreadable writes: part of every stamp

_READS = ("SELECT", "VALUES", "PRAGMA", "SAVEPO", "RELEAS", "BEGIN", "SHOW", "SET ", "EXPLAI", "ROLLBA", "COMMIT")
_WRITE_TARGET = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+(?:ONLY\s+)?\"?(\w+)\"?",
    re.IGNORECASE,
)
_PENDING = "crm_httpcache_written"

# Called with the tables of every committed write of this process (after the local bump): how other processes
# can be told (``crm.web.stamps_bus`` publishes them through Redis when ``CRM_REDIS_URL`` is set).
committed_listeners: list[Callable[[frozenset[str]], None]] = []


def bump(tables: Iterable[str]) -> None:
    """Mark ``tables`` as changed (the engine listener calls this; tests and bulk loaders may too)."""
    global _any, _all
    _any = next(_clock)
    for table in tables:
        if table == EVERYTHING:
            _all = _any
        else:
            _versions[table] = _any


def stamp(tables: Iterable[str]) -> str:
    """The versions of ``tables`` as one short string: it changes whenever one of them is written."""
    parts = [str(_all)]
    for table in tables:
        parts.append(str(_any) if table == EVERYTHING else str(_versions.get(table, 0)))
    return ".".join(parts)


def window(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // WINDOW)


def etag(key: str, tables: Iterable[str], *, now: float | None = None) -> str:
    """A weak ETag for ``key`` (the URL and anything else the body depends on) at the tables' current versions."""
    digest = hashlib.blake2b(f"{key}|{stamp(tables)}|{window(now)}".encode(), digest_size=9).hexdigest()
    return f'W/"{BOOT}-{digest}"'


_memo: dict[tuple[str, str], tuple[str, Any]] = {}


def remember(session: Session, name: str, tables: Iterable[str], build: Callable[[Session], T]) -> T:
    """A small read every page repeats (a filter form's topics and regions), kept in this process until one of
    ``tables`` is written or the window turns. Kept per database (the tests run one app per database)."""
    key = (name, str(session.get_bind().url))
    version = f"{stamp(tables)}|{window()}"
    kept = _memo.get(key)
    if kept is not None and kept[0] == version:
        return kept[1]  # type: ignore[no-any-return]
    value = build(session)
    _memo[key] = (version, value)
    return value


_kept: dict[Hashable, tuple[str, Any]] = {}
KEPT_MAX = 2000  # keys hold filter values: a crawler's endless combinations empty it, never grow it


def kept(key: Hashable, tables: Iterable[str], build: Callable[[], T]) -> T:
    """``build()`` kept under ``key`` until one of ``tables`` is written or the window turns: what a page's ETag
    already assumes of its body. No tables: built every time. (A list's capped count: one index range of up to
    10,001 rows, 1.5 ms at 100,000 internships, the same for every page of the list.)"""
    tables = tuple(tables)
    if not tables:
        return build()
    version = f"{stamp(tables)}|{window()}"
    value = _kept.get(key)
    if value is not None and value[0] == version:
        return value[1]  # type: ignore[no-any-return]
    if len(_kept) >= KEPT_MAX:
        _kept.clear()
    result = build()
    _kept[key] = (version, result)
    return result


def written_tables(statement: str) -> set[str] | None:
    """The tables a statement writes: empty for reads, ``None`` when it changes something we cannot name."""
    head = statement.lstrip(" \t\r\n(")[:6].upper()  # "(SELECT ...) UNION (SELECT ...)" is a read too
    if head.startswith(_READS):
        return set()
    found = {name.lower() for name in _WRITE_TARGET.findall(statement)}
    if head.startswith("WITH"):
        return found  # a common table expression: a read unless it holds a write
    if head.startswith(("INSERT", "UPDATE", "DELETE", "REPLAC")):
        return found or None
    return None  # CREATE, ALTER, DROP, TRUNCATE, VACUUM...: assume everything changed


def _after_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    tables = written_tables(statement)
    if tables == set():
        return
    names = tables or {EVERYTHING}
    bump(names)
    conn.info.setdefault(_PENDING, set()).update(names)


def _on_commit(conn: Any) -> None:
    pending = conn.info.pop(_PENDING, None)
    if pending:
        bump(pending)
        for listener in committed_listeners:
            listener(frozenset(pending))


def _on_rollback(conn: Any) -> None:
    """Bump again: a value ``remember`` read inside the transaction may hold the rows that were rolled back."""
    pending = conn.info.pop(_PENDING, None)
    if pending:
        bump(pending)


def track_writes() -> None:
    """Listen on every engine of the process (idempotent): the web app's, the worker's and the CLI's."""
    if not event.contains(Engine, "after_cursor_execute", _after_execute):
        event.listen(Engine, "after_cursor_execute", _after_execute)
        event.listen(Engine, "commit", _on_commit)
        event.listen(Engine, "rollback", _on_rollback)


track_writes()
