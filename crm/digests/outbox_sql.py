"""The SQL a digest batch writes through the driver: the outbox rows (one multi-row ``INSERT … ON CONFLICT DO
NOTHING RETURNING``), the ledger rows, and a shard's progress. Plain tuples and pre-serialised JSON, no per-parameter
processing by SQLAlchemy: a run writes 100,000s of rows (``crm.digests.engine``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import msgspec

from crm import models as m

_encode = msgspec.json.Encoder()
OUTBOX_ROWS_PER_STATEMENT = 1000  # 10 parameters a row: within SQLite's 32,766 and PostgreSQL's 65,535
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


def outbox_sql(dialect: str, now: dt.datetime) -> Callable[[int], str]:
    """``INSERT … SELECT … FROM (VALUES (…), (…)) ON CONFLICT (idempotency_key) DO NOTHING RETURNING
    subscription_id`` for n rows, through the driver: plain tuples and pre-serialised JSON, no per-parameter
    processing by SQLAlchemy (100,000 rows a run). The VALUES rows carry only the 10 values that differ; what every
    digest row shares is written once, in the SELECT list (a row of literals each cost ~80 characters more SQL to
    parse, and to scan for ``crm.httpcache``'s write tracking, per row)."""
    n_values = len(_OUTBOX_VARIABLE)
    if dialect == "postgresql":
        names = [f"c{i}" for i in range(1, n_values + 1)]
        row = "(" + ", ".join(["%s"] * n_values) + ")"
        alias = f" AS v({', '.join(names)})"
        json_cast = "CAST({} AS JSONB)"
        literals = {
            "true": "TRUE",
            "now": f"CAST('{now.astimezone(dt.UTC).isoformat()}' AS TIMESTAMPTZ)",
            "empty_list": "CAST('[]' AS JSONB)",  # a SELECT list's literals are text unless cast
        }
    else:
        names = [f"column{i}" for i in range(1, n_values + 1)]
        row = "(" + ", ".join(["?"] * n_values) + ")"
        alias = ""
        json_cast = "{}"
        literals = {
            "true": "1",
            "now": f"'{now.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'",
            "empty_list": "'[]'",
        }
    columns = ", ".join([*_OUTBOX_VARIABLE, *(name for name, _ in _OUTBOX_CONSTANT)])
    picked = [
        json_cast.format(name) if column in ("headers", "context") else name
        for column, name in zip(_OUTBOX_VARIABLE, names, strict=True)
    ]
    selected = ", ".join([*picked, *(value.format(**literals) for _, value in _OUTBOX_CONSTANT)])
    table = m.OutboxMessage.__table__.name

    def sql(n: int) -> str:
        # "WHERE true": SQLite reads ON CONFLICT after a bare FROM as a join constraint.
        return (
            f"INSERT INTO {table} ({columns}) SELECT {selected} FROM (VALUES {', '.join([row] * n)}){alias} "
            "WHERE true ON CONFLICT (idempotency_key) DO NOTHING RETURNING subscription_id"
        )

    return sql


def ledger_sql(dialect: str) -> str:
    """The ledger rows of the digests a batch actually inserted, ``ON CONFLICT DO NOTHING``.

    PostgreSQL: ONE statement of three arrays (``unnest``) for the batch's ~8,000 rows, with what they share
    (period, run, time) bound once. As an executemany it was 8,000 executions of a one-row INSERT, each paying the
    executor's start and end: 0.34–0.40 s of server CPU per batch against 0.13–0.21 s (docs/scale.md).
    Parameters: subscription ids, item kinds, item ids (lists), period, run id, sent at.
    SQLite: an executemany of plain tuples (its per-row cost is a library call, not a round of the executor)."""
    table = m.DigestDelivery.__table__.name
    conflict = "ON CONFLICT (subscription_id, item_kind, item_id) DO NOTHING"
    columns = "(subscription_id, item_kind, item_id, period, run_id, sent_at)"
    if dialect == "postgresql":
        return (
            f"INSERT INTO {table} {columns} SELECT s, k, i, %s, %s, %s "
            "FROM unnest(CAST(%s AS INTEGER[]), CAST(%s AS VARCHAR[]), CAST(%s AS INTEGER[])) AS u(s, k, i) "
            f"{conflict}"
        )
    return f"INSERT INTO {table} {columns} VALUES (?, ?, ?, ?, ?, ?) {conflict}"


def write_ledger(
    conn: Any, dialect: str, statement: str, items: list[tuple[int, str, int]], period: str, run_id: Any, sent_at: Any
) -> None:
    """Write ``items`` (subscription id, item kind, item id) of one period and run with ``ledger_sql``'s
    statement: one statement on PostgreSQL, one executemany on SQLite."""
    if not items:
        return
    if dialect == "postgresql":
        sids, kinds, ids = (list(column) for column in zip(*items, strict=True))
        conn.exec_driver_sql(statement, (period, run_id, sent_at, sids, kinds, ids))
    else:
        conn.exec_driver_sql(statement, [(sid, kind, i, period, run_id, sent_at) for sid, kind, i in items])


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
