"""Change stamps for HTTP caching: what lets an anonymous ``If-None-Match`` be answered 304 without a query.

Every table has a version in this process. A listener on every SQLAlchemy ``Engine`` notes the tables an
INSERT, UPDATE or DELETE names and bumps their versions when the statement runs, again when its transaction
commits (so an ETag handed out while a write was still uncommitted can never stand for the committed rows), and
once more when the DBAPI commit is over, which is also when other processes are told (``_committed``).
DDL, ``TRUNCATE`` and any write whose table cannot be read from its SQL bump everything. A page's ETag is a hash
of its URL, the versions of the tables it reads and the current ``WINDOW`` (below); see ``crm.web.httpcache``.

Why in process and not in the database: a stamp read from the database is one more statement per request, and
the 304 must cost less than the bare list (issue 21). Other processes' writes (the worker's jobs, a CLI import, a
second web process): with ``CRM_REDIS_URL`` set, every process publishes the tables of its committed writes
(``committed_listeners``) and applies the others' (``crm.web.stamps_bus``), so they bump the versions here
milliseconds later, still with no round trip on the request path. Without Redis, or for a message lost while
Redis was away, such a write is seen when the window turns, at most ``WINDOW`` seconds later. The window also
covers pages that change with the clock alone (a listing that closes, "closes in 2 days"). Each process has its
own ``BOOT`` prefix, so two processes never hand out equal ETags for different content.

Tags every process agrees on (``Shared``, with ``CRM_REDIS_URL``): the local versions above are this process's
counter, so their tags mean nothing elsewhere, and behind a round-robin proxy only one revalidation in P would be a
304. The bus also keeps a version per table in one Redis hash, raised with every publish, and each process holds a
copy (``Shared``): a tag made from that copy, without ``BOOT``, is the same in every process at the same versions.
A process uses it only while it can show its copy is complete (see ``Shared.etag``); otherwise it hands out the
per-process tag, as without Redis.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection, Hashable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Pool, event
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
_COMMITTED = "crm_httpcache_committed"  # tables of a commit whose DBAPI commit may still be running

# Called with the tables of every committed write of this process once its DBAPI commit is over (see ``_committed``):
# how other processes can be told (``crm.web.stamps_bus`` publishes them through Redis when ``CRM_REDIS_URL`` is set).
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
    """SQLAlchemy's commit event comes *before* the DBAPI commit: bump now (nothing read from here on stands for the
    old rows under a new tag for long), and again with the listeners once the commit is done (``_committed``)."""
    pending = conn.info.pop(_PENDING, None)
    if pending:
        bump(pending)
        conn.info.setdefault(_COMMITTED, set()).update(pending)


def _committed(info: dict[Any, Any]) -> None:
    """The connection's DBAPI commit is over (it began another transaction, rolled back or went back to the
    pool): bump again, since a page read between the first bump and the commit held the old rows under the new
    versions, and tell the listeners. Told earlier, another process could read the old rows under the versions
    the bus raised, and keep them as the new version's page (its stored answers) until the next write."""
    done = info.pop(_COMMITTED, None)
    if done:
        bump(done)
        for listener in committed_listeners:
            listener(frozenset(done))


def _on_begin(conn: Any) -> None:
    _committed(conn.info)


def _on_checkin(dbapi_connection: Any, record: Any) -> None:
    _committed(record.info)  # the same dict as the Connection's ``info``


def _on_rollback(conn: Any) -> None:
    """Bump again: a value ``remember`` read inside the transaction may hold the rows that were rolled back."""
    _committed(conn.info)
    pending = conn.info.pop(_PENDING, None)
    if pending:
        bump(pending)


def track_writes() -> None:
    """Listen on every engine of the process (idempotent): the web app's, the worker's and the CLI's."""
    if not event.contains(Engine, "after_cursor_execute", _after_execute):
        event.listen(Engine, "after_cursor_execute", _after_execute)
        event.listen(Engine, "commit", _on_commit)
        event.listen(Engine, "begin", _on_begin)
        event.listen(Engine, "rollback", _on_rollback)
        event.listen(Pool, "checkin", _on_checkin)


track_writes()


# -- Tags every process agrees on (with CRM_REDIS_URL: crm.web.stamps_bus keeps a Shared current) -----------------

LEASE = 3.0  # seconds a copy stays trusted after Redis last showed it complete (the bus's pings, every second)
ANY = "+"  # the shared hash's field raised by every publish: the stamp of EVERYTHING
ALL = EVERYTHING  # the field raised by DDL / TRUNCATE / unreadable writes: part of every shared stamp

shared_states: list[Shared] = []  # the running buses' copies (crm.web.httpcache looks one up only when non-empty)

_code: str | None = None


def code_version() -> str:
    """A digest of this checkout's code and templates: processes running different releases never agree on a tag,
    so during a rolling deploy no process answers 304 for a page another release rendered. Read once (~3 MB)."""
    global _code
    if _code is None:
        digest = hashlib.blake2b(digest_size=8)
        here = Path(__file__).resolve().parent
        for root in (here, here.parent / "templates"):
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        _code = digest.hexdigest()
    return _code


class Shared:
    """This process's copy of one Redis namespace's table versions, and the tags made from it.

    The merge rule: a version never goes down. ``merge`` keeps the larger of ours and the message's, so messages
    that arrive late, twice or out of order (the publisher's own answer and its echo) never take a tag back to an
    older value. The ``epoch`` names one life of the Redis hash (Redis's run id and a random id kept in the hash): a
    restarted, restored or flushed Redis counts from lower numbers again, and a new epoch gives every tag a new
    prefix, so no old tag can come back; a copy from another epoch is replaced, not merged.

    This process's own commits (``committed``) put their tables in ``waiting`` until the copy holds the version
    their publish produced: meanwhile pages reading them get the per-process tag, which the commit already changed,
    so the writer's next page never carries the pre-write tag. Mutations hold ``lock``; requests only read.
    """

    def __init__(self) -> None:
        self.state: tuple[str | None, dict[str, int]] = (None, {})  # (tag prefix, versions): swapped as one
        self.epoch: str | None = None
        self.fresh_until = 0.0  # time.monotonic() up to which the copy is known complete (the bus's lease)
        self.waiting: dict[str, tuple[int, str | None, int]] = {}  # table -> (commit seq, epoch, version)
        self.seq = 0  # commits noted so far (the bus reads it with its pending tables)
        self.lock = threading.Lock()

    # -- the request path --------------------------------------------------------------------------------------

    def etag(self, key: str, tables: Collection[str], *, now: float | None = None) -> str | None:
        """The tag every process in sync gives ``key`` at these versions; ``None`` when this process cannot show it
        is in sync (never synced, Redis lost, no answer to the last pings, or its own write not yet shared)."""
        prefix, versions = self.state
        if prefix is None or time.monotonic() >= self.fresh_until:
            return None
        waiting = self.waiting
        if waiting and (ALL in waiting or EVERYTHING in tables or not waiting.keys().isdisjoint(tables)):
            return None
        parts = [str(versions.get(ALL, 0))]
        parts += [str(versions.get(ANY if table == EVERYTHING else table, 0)) for table in tables]
        digest = hashlib.blake2b(f"{key}|{'.'.join(parts)}|{window(now)}".encode(), digest_size=9).hexdigest()
        return f'W/"{prefix}-{digest}"'

    # -- kept current by the bus -------------------------------------------------------------------------------

    def merge(self, epoch: str, versions: dict[str, int]) -> list[str] | None:
        """Raise our versions to a message's; the tables that went up. ``None``: another epoch (resync)."""
        with self.lock:
            if epoch != self.epoch:
                return None
            current = self.state[1]
            raised = [t for t, v in versions.items() if v > current.get(t, 0)]
            for table in raised:
                current[table] = versions[table]
            self._settle()
            return raised

    def reset(self, epoch: str, versions: dict[str, int]) -> list[str]:
        """The whole hash as read after (re)subscribing: merged (never down) in the same epoch, else the copy is
        replaced. Tags are handed out again from here. Returns the tables that changed (``[EVERYTHING]`` for a new
        epoch)."""
        code = code_version()  # read once, before taking the lock
        with self.lock:
            prefix = "s" + hashlib.blake2b(f"{epoch}|{code}".encode(), digest_size=4).hexdigest()
            if epoch == self.epoch:
                current = dict(self.state[1])
                raised = [t for t, v in versions.items() if v > current.get(t, 0)]
                for table in raised:
                    current[table] = versions[table]
            else:
                self.epoch, current, raised = epoch, dict(versions), [EVERYTHING]
                # writes published in another epoch happened before this one began: every tag of it is newer
                self.waiting = {t: w for t, w in self.waiting.items() if w[1] in (None, epoch)}
            self.state = (prefix, current)
            self._settle()
            return raised

    def desync(self) -> None:
        """Redis lost: per-process tags until the next ``reset``."""
        self.fresh_until = 0.0
        with self.lock:
            self.state = (None, self.state[1])

    def committed(self, tables: Iterable[str]) -> int:
        """This process committed a write to ``tables``: they wait for their shared version. Returns its seq."""
        with self.lock:
            self.seq += 1
            waiting = dict(self.waiting)  # a new dict: requests read the old one meanwhile, never a half-made one
            for table in tables:
                waiting[table] = (self.seq, None, 0)
            self.waiting = waiting
            return self.seq

    def published(self, tables: Iterable[str], upto: int, epoch: str, versions: dict[str, int]) -> bool:
        """The publish of commits up to ``upto`` produced ``versions`` in ``epoch``: their tables now wait for the
        copy to reach those versions (a later commit of the same table keeps waiting for its own publish). False
        when ``epoch`` is not the copy's (the bus then resyncs)."""
        with self.lock:
            waiting = dict(self.waiting)
            for table in tables:
                entry = waiting.get(table)
                if entry is not None and entry[0] <= upto:
                    waiting[table] = (entry[0], epoch, versions.get(table, 0))
            self.waiting = waiting
            self._settle()
            return epoch == self.epoch

    def _settle(self) -> None:
        """Drop the waits the copy now satisfies (caller holds ``lock``)."""
        current = self.state[1]
        done = [
            t for t, (_, e, v) in self.waiting.items() if e is not None and e == self.epoch and current.get(t, 0) >= v
        ]
        if done:
            self.waiting = {t: w for t, w in self.waiting.items() if t not in done}
