"""Per-test isolation that empties only what was written, instead of every table before every test.

Before each test the database must hold the reference data and nothing else. Two sources say which tables differ:

* a listener on the ``Engine`` class records the table named by every INSERT, UPDATE, DELETE or REPLACE sent to a
  test database, whichever engine sent it (the app's, a test's, a job's ``WorkerContext``, a CLI command's): it is
  what finds a renamed topic, or a table whose insert was rolled back but whose id sequence moved on;
* one probe statement lists the tables that hold rows and the reference tables whose row count changed, which also
  finds rows written outside this process (a ``crm`` subprocess) or by any means the listener does not parse.

Only those tables are emptied, children first (SQLite's FTS5 triggers and PostgreSQL's generated tsvector columns
follow their base rows), their id sequences restart as ``TRUNCATE ... RESTART IDENTITY`` did, and the reference data
is added again only when a reference table was among them. A test that changed nothing costs one probe.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, event, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from crm import models as m

# The table a write statement names; over-matches ("FOR UPDATE SKIP", "DO UPDATE SET") are dropped because only
# names of tables in the test database are kept.
_WRITTEN = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?"
    r'(?:"?\w+"?\.)?"?(\w+)',
    re.IGNORECASE,
)


def _database_key(url: URL) -> tuple[Any, ...]:
    return (url.get_backend_name(), url.host, url.port, url.database)


class WriteTracker:
    """Which tables each watched database was written to since its last reset (thread-safe enough: set updates)."""

    def __init__(self) -> None:
        self._written: dict[tuple[Any, ...], set[str]] = {}
        self._by_engine: weakref.WeakKeyDictionary[Engine, set[str] | None] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._listening = False

    def watch(self, url: URL) -> set[str]:
        with self._lock:
            written = self._written.setdefault(_database_key(url), set())
            self._by_engine = weakref.WeakKeyDictionary()  # engines seen before now may point at this database
            if not self._listening:
                event.listen(Engine, "before_cursor_execute", self._record)
                self._listening = True
        return written

    def unwatch(self, url: URL) -> None:
        with self._lock:
            self._written.pop(_database_key(url), None)
            self._by_engine = weakref.WeakKeyDictionary()

    def written(self, engine: Engine) -> set[str] | None:
        try:
            return self._by_engine[engine]
        except KeyError:
            written = self._written.get(_database_key(engine.url))
            self._by_engine[engine] = written
            return written

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        written = self.written(conn.engine)
        if written is not None:
            written.update(name.lower() for name in _WRITTEN.findall(statement))


TRACKER = WriteTracker()


def _cleanable_tables(engine: Engine) -> list[str]:
    """Every table of the schema, children before parents (alembic_version and FTS5 shadow tables excluded)."""
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    ordered = [t.name for t in reversed(m.Base.metadata.sorted_tables) if t.name in names]
    return ordered + sorted(n for n in names if n not in ordered and not n.startswith("sqlite_") and "_fts" not in n)


def _delete_rows(conn: Connection, tables: list[str]) -> None:
    """Children first, foreign keys on (SQLite checks them at commit). Switching them off, as the old clean did,
    left the pooled SQLite connection without them: ``PRAGMA foreign_keys=ON`` is ignored inside a transaction."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")  # ends with the transaction
    for table in tables:
        conn.exec_driver_sql(f'DELETE FROM "{table}"')


def clean_database(engine: Engine) -> None:
    """Empty every table (reference data included); the next ``Isolation.reset`` puts the reference data back."""
    tables = _cleanable_tables(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            _delete_rows(conn, tables)
    written = TRACKER.written(engine)
    if written is not None:
        written.update(tables)


@dataclasses.dataclass
class Isolation:
    """The clean-up of one test database; ``reset()`` before each test that uses it."""

    engine: Engine
    seed: Callable[[Session], None]
    written: set[str] = dataclasses.field(init=False)
    tables: list[str] = dataclasses.field(init=False)
    reference: dict[str, int] = dataclasses.field(default_factory=dict)  # table -> rows of reference data
    sequences: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # PostgreSQL: table -> owned sequences
    probe: Any = None

    def __post_init__(self) -> None:
        self.written = TRACKER.watch(self.engine.url)
        self.tables = _cleanable_tables(self.engine)
        self.written.update(self.tables)  # the first reset empties everything (migrations may have added rows)
        if self.engine.dialect.name == "postgresql":
            self.sequences = self._owned_sequences()

    def close(self) -> None:
        TRACKER.unwatch(self.engine.url)

    def reset(self) -> None:
        dirty = {t for t in self.written if t in self.tables}
        if self.probe is not None:
            with self.engine.connect() as conn:
                dirty.update(conn.execute(self.probe).scalars())
        if not dirty:
            return
        order = [t for t in self.tables if t in dirty]
        sequences = [s for t in order for s in self.sequences.get(t, ())]
        with self.engine.begin() as conn:
            _delete_rows(conn, order)
            if sequences:  # what TRUNCATE ... RESTART IDENTITY did: ids start at 1 again
                conn.execute(text("SELECT " + ", ".join(f"setval('{s}', 1, false)" for s in sequences)))
            if self.probe is None or not dirty.isdisjoint(self.reference):
                with Session(bind=conn) as session:
                    self.seed(session)
                    session.flush()
        self.written.clear()
        if self.probe is None:
            self._build_probe()

    def _build_probe(self) -> None:
        with self.engine.connect() as conn:
            counts = {t: conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one() for t in self.tables}
        self.reference = {t: n for t, n in counts.items() if n}
        self.probe = text(
            " UNION ALL ".join(
                f"SELECT '{t}' WHERE (SELECT count(*) FROM \"{t}\") <> {self.reference[t]}"
                if t in self.reference
                else f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")"
                for t in self.tables
            )
        )

    def _owned_sequences(self) -> dict[str, list[str]]:
        query = text(
            "SELECT t.relname, quote_ident(n.nspname) || '.' || quote_ident(s.relname) "
            "FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_namespace n ON n.oid = s.relnamespace JOIN pg_class t ON t.oid = d.refobjid "
            "WHERE d.deptype IN ('a', 'i') AND n.nspname = current_schema()"
        )
        owned: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for table, sequence in conn.execute(query):
                owned.setdefault(table, []).append(sequence)
        return owned
