"""The SQL a digest batch writes through the driver: the outbox rows (``INSERT … ON CONFLICT DO NOTHING
RETURNING``), the ledger rows, and a shard's progress. Plain tuples and pre-serialised JSON, no per-parameter
processing by SQLAlchemy: a run writes 100,000s of rows (``crm.digests.engine``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import msgspec

from crm import models as m
from crm.db import array_text

_encode = msgspec.json.Encoder()
OUTBOX_ROWS_PER_STATEMENT = 1000  # SQLite: 10 parameters a row, within its 32,766
_OUTBOX_VARIABLE = (
    "idempotency_key",
    "recipient",
    "recipient_name",
    "subject",
    "text_body",
    "html_body",
    "headers",
    "context",
    "subscription_id",
    "mailing",
)
_OUTBOX_CONSTANT = (
    ("kind", "'digest'"),
    ("bulk", "{true}"),
    ("attachments", "{empty_list}"),
    ("template", "'digest'"),
    ("status", f"'{m.OutboxStatus.QUEUED.value}'"),
    ("attempts", "0"),
    ("last_error", "''"),
    ("provider_message_id", "''"),
    ("delivery_status", "''"),
    ("next_attempt_at", "{now}"),
    ("created_at", "{now}"),
)


def json_text(value: Any) -> str:
    return _encode.encode(value).decode()


_PG_ARRAY_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "TEXT", "TEXT", "TEXT", "TEXT", "INTEGER", "VARCHAR")


def _pg_outbox_sql(now: dt.datetime) -> str:
    """``INSERT … SELECT … FROM unnest(…10 arrays…) ON CONFLICT (idempotency_key) DO NOTHING RETURNING
    subscription_id``: ONE short statement for a batch, whatever its size. As a multi-row VALUES list it had 10,000
    placeholders, which psycopg re-parsed on every batch (too long for its query cache: 12% of a worker's CPU) and
    PostgreSQL parsed and planned afresh; this one is prepared once per connection."""
    names = [f"c{i}" for i in range(1, len(_OUTBOX_VARIABLE) + 1)]
    arrays = ", ".join(f"CAST(%s AS {t}[])" for t in _PG_ARRAY_TYPES)
    literals = {
        "true": "TRUE",
        "now": f"CAST('{now.astimezone(dt.UTC).isoformat()}' AS TIMESTAMPTZ)",
        "empty_list": "CAST('[]' AS JSONB)",
    }
    return _insert_select(names, "CAST({} AS JSONB)", literals, f"unnest({arrays}) AS v({', '.join(names)})")


def _insert_select(names: list[str], json_cast: str, literals: dict[str, str], source: str) -> str:
    columns = ", ".join([*_OUTBOX_VARIABLE, *(name for name, _ in _OUTBOX_CONSTANT)])
    picked = [
        json_cast.format(name) if column in ("headers", "context") else name
        for column, name in zip(_OUTBOX_VARIABLE, names, strict=True)
    ]
    selected = ", ".join([*picked, *(value.format(**literals) for _, value in _OUTBOX_CONSTANT)])
    # "WHERE true": SQLite reads ON CONFLICT after a bare FROM as a join constraint.
    return (
        f"INSERT INTO {m.OutboxMessage.__table__.name} ({columns}) SELECT {selected} FROM {source} "
        "WHERE true ON CONFLICT (idempotency_key) DO NOTHING RETURNING subscription_id"
    )


def outbox_writer(dialect: str, now: dt.datetime) -> Callable[[Any, list[tuple[Any, ...]]], set[int]]:
    """A function that inserts a batch's outbox rows (tuples of the 10 values that differ, in ``_OUTBOX_VARIABLE``'s
    order) on a connection and returns the subscription ids it actually inserted (``ON CONFLICT DO NOTHING``: a
    rival builder's rows stay). Plain values and pre-serialised JSON through the driver, no per-parameter processing
    by SQLAlchemy (100,000s of rows a run). What every digest row shares is written once, in the SELECT list.

    PostgreSQL: one statement of arrays (``_pg_outbox_sql``). SQLite: ``INSERT … SELECT … FROM (VALUES (…), …)`` in
    chunks of ``OUTBOX_ROWS_PER_STATEMENT`` rows (SQLite has no arrays; its statements cost no round trip)."""
    if dialect == "postgresql":
        statement = _pg_outbox_sql(now)

        def write_pg(conn: Any, rows: list[tuple[Any, ...]]) -> set[int]:
            if not rows:
                return set()
            params = tuple(list(column) for column in zip(*rows, strict=True))
            return {r[0] for r in conn.exec_driver_sql(statement, params).fetchall()}

        return write_pg
    names = [f"column{i}" for i in range(1, len(_OUTBOX_VARIABLE) + 1)]
    row = "(" + ", ".join(["?"] * len(_OUTBOX_VARIABLE)) + ")"
    literals = {
        "true": "1",
        "now": f"'{now.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'",
        "empty_list": "'[]'",
    }

    def write_sqlite(conn: Any, rows: list[tuple[Any, ...]]) -> set[int]:
        inserted: set[int] = set()
        for start in range(0, len(rows), OUTBOX_ROWS_PER_STATEMENT):
            chunk = rows[start : start + OUTBOX_ROWS_PER_STATEMENT]
            statement = _insert_select(names, "{}", literals, f"(VALUES {', '.join([row] * len(chunk))})")
            params = tuple(value for r in chunk for value in r)
            inserted.update(r[0] for r in conn.exec_driver_sql(statement, params).fetchall())
        return inserted

    return write_sqlite


def ledger_writer(dialect: str) -> Callable[[Any, list[tuple[int, str]], str, Any, Any], None]:
    """A function that writes the ledger rows of the digests a batch actually inserted, ``ON CONFLICT DO NOTHING``:
    ``write(conn, rows, period, run_id, sent_at)`` with rows (subscription id, items text), one per digest.

    PostgreSQL: ONE statement of two arrays (``unnest``) for the batch, with what the rows share (period, run,
    time) bound once; the arrays go as PostgreSQL array text (``crm.db.array_text``). SQLite: an executemany of
    plain tuples (its per-row cost is a library call, not a round of the executor)."""
    table = m.DigestDelivery.__table__.name
    conflict = "ON CONFLICT (subscription_id, period) DO NOTHING"
    columns = "(subscription_id, items, period, run_id, sent_at)"
    if dialect == "postgresql":
        statement = (
            f"INSERT INTO {table} {columns} SELECT s, i, %s, %s, %s "
            "FROM unnest(CAST(%s AS INTEGER[]), CAST(%s AS TEXT[])) AS u(s, i) "
            f"{conflict}"
        )

        def write_pg(conn: Any, rows: list[tuple[int, str]], period: str, run_id: Any, sent_at: Any) -> None:
            if rows:
                sids, items = zip(*rows, strict=True)
                conn.exec_driver_sql(statement, (period, run_id, sent_at, array_text(sids), array_text(items)))

        return write_pg
    many = f"INSERT INTO {table} {columns} VALUES (?, ?, ?, ?, ?) {conflict}"

    def write_sqlite(conn: Any, rows: list[tuple[int, str]], period: str, run_id: Any, sent_at: Any) -> None:
        if rows:
            conn.exec_driver_sql(many, [(sid, items, period, run_id, sent_at) for sid, items in rows])

    return write_sqlite


def db_time(dialect: str, when: dt.datetime) -> Any:
    """A datetime as the driver takes it for a ``UTCDateTime`` column: SQLite stores naive UTC text."""
    return when if dialect == "postgresql" else when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def shard_progress_sql(dialect: str, *, done: bool) -> str:
    """Add a batch's counts to its shard and say which subscriptions they now cover (``built_through``); with
    ``done``, also mark it done (who, when) in the same statement.
    Parameters: considered, sent, skipped_empty, already_sent, failed, built_through, [worker, finished_at,] run_id,
    shard."""
    p = "%s" if dialect == "postgresql" else "?"
    counts = ", ".join(f"{c} = {c} + {p}" for c in ("considered", "sent", "skipped_empty", "already_sent", "failed"))
    finish = f", status = '{m.DigestShardStatus.DONE.value}', worker = {p}, finished_at = {p}" if done else ""
    return (
        f"UPDATE {m.DigestShard.__table__.name} SET {counts}, built_through = {p}{finish} "
        f"WHERE run_id = {p} AND shard = {p}"
    )
