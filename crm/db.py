"""Engine and session factory.

We use the *synchronous* SQLAlchemy engine everywhere (web, jobs, CLI). Measured on this class of machine,
aiosqlite adds 250-450 µs per statement and an async ORM list endpoint reached 12% of raw sqlite3, while
sync Core reached 81% (docs/architecture.md, "Sync engine"). Handlers run in Litestar's thread pool.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crm.settings import Settings, SettingsError

T = TypeVar("T")
log = logging.getLogger("crm.db")
IN_LIST_CHUNK = 1000  # ids per IN (...) list: far below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters


def batched(items: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    """Slices of ``items`` for IN lists, so a job with a large backlog never passes too many bound parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def create_db_engine(settings: Settings) -> Engine:
    try:
        url = make_url(settings.database_url)
    except Exception as exc:
        raise SettingsError(f"CRM_DATABASE_URL is not a valid database URL: {exc}") from exc
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    # JIT off for our connections: every statement here is short, and the planner's cost estimates for the
    # digest batch (correlated aggregates, cost ~900,000) crossed jit_above_cost, so each batch of 1,000
    # subscribers paid 0.5-1.9 s of JIT compilation for an 80 ms execution (issue 21.3, bench/digests_workers.py).
    # A URL that sets ``options`` itself keeps its own.
    connect_args = {} if "options" in url.query else {"options": "-c jit=off"}
    # JSONB values are decoded by psycopg as they arrive; msgspec's decoder instead of the standard library's, since
    # the dispatcher reads a JSONB context with every digest it claims (a million a run).
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args=connect_args,
        json_deserializer=msgspec.json.decode,
    )


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextlib.contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """The transaction boundary (web requests, jobs and the CLI): commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# PostgreSQL aborts one transaction of a deadlock (40P01) or a serialization conflict (40001) and expects it to be
# run again: nothing it did was kept.
RETRYABLE_STATES = frozenset({"40P01", "40001"})


def retrying(factory: sessionmaker[Session], work: Callable[[Session], T], *, attempts: int = 3) -> T:
    """``work`` in a unit of work, run again (up to ``attempts`` in all) when PostgreSQL chose its transaction as a
    deadlock's victim. Two processes that lock the same rows in different orders deadlock (a dispatcher taking back
    expired claims while a stalled one hands the same rows over); PostgreSQL rolls one back after
    ``deadlock_timeout`` and the other goes on, so running the victim again finds the rows free. ``work`` must be
    safe to repeat, as a rolled-back transaction is."""
    for attempt in range(1, attempts + 1):
        try:
            with unit_of_work(factory) as session:
                return work(session)
        except OperationalError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state not in RETRYABLE_STATES or attempt == attempts:
                raise
            log.warning(
                "transaction rolled back by PostgreSQL (%s), running it again (%d of %d)", state, attempt + 1, attempts
            )
    raise AssertionError("unreachable")  # the loop returns or raises


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def analyze(session: Session, *tables: str) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load (a seed, an import): until autovacuum gets there,
    a table it believes empty gets plans that are right for ten rows and ruinous for twenty thousand (a directory
    search took 3.1-3.9 s; bench/pg_search.py). ANALYZE runs inside the transaction and sees its own rows. SQLite
    plans well without statistics, so nothing is done there. No table names: every table."""
    if is_postgres(session):
        for table in tables or ("",):
            session.execute(text(f"ANALYZE {table}".strip()))


def insert_ignore(dialect: str, table: Any, index_elements: list[str]) -> Any:
    """An INSERT that skips rows whose ``index_elements`` already exist (``ON CONFLICT DO NOTHING``)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    return insert(table)


def array_text(values: tuple[Any, ...] | list[Any]) -> str | list[Any]:
    """PostgreSQL's text form of an array, built in one join, for a parameter the statement casts (``CAST(%s AS
    INTEGER[])``): psycopg adapts a list element by element in Python (a ledger batch, a claim's ids, a hand-off's
    subjects: thousands of elements). Ints as they are (``{3,1,2}``); strings double-quoted with their backslashes
    and double quotes escaped, which is all a quoted element needs (commas, braces, spaces and ``NULL`` stand as
    they are), None as NULL. Anything else (floats, a mix of ints and strings) goes as a list, adapted by psycopg."""
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    if all(v is None or type(v) is str for v in values):
        return "{" + ",".join("NULL" if v is None else '"' + _escaped(v) + '"' for v in values) + "}"
    return list(values)


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"') if ("\\" in value or '"' in value) else value
