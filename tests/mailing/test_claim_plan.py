"""The dispatcher's claim reads its rows through ``ix_outbox_due_order`` in the claim's order, on both databases.

Without that index PostgreSQL read the whole due backlog and sorted it under the lock step for every claim of 1,000
(414 ms with 180,000 queued). These tests read the plan, not a time: they fail if the claim sorts its rows or
reads the table instead of the partial index.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.orm import Session

from crm import models as m
from crm.mailing.claims import DUE_STATUSES, due_rows, ordered_read
from crm.models.outbox import DUE_ORDER_WHERE


@contextlib.contextmanager
def explained(engine: Engine) -> Iterator[None]:
    """Statements run inside become EXPLAIN of themselves (same SQL, same parameters)."""
    prefix = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "

    def rewrite(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> Any:
        return prefix + statement, parameters

    event.listen(engine, "before_cursor_execute", rewrite, retval=True)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", rewrite)


def queue(db: Session, n: int) -> None:
    now = dt.datetime.now(dt.UTC)
    statuses = [m.OutboxStatus.QUEUED, m.OutboxStatus.SENT, m.OutboxStatus.RETRY, m.OutboxStatus.FAILED]
    db.execute(
        insert(m.OutboxMessage),
        [
            {
                "idempotency_key": f"plan:{i}",
                "kind": "digest",
                "recipient": f"p{i}@example.org",
                "subject": "s",
                "status": statuses[i % 4],
                "next_attempt_at": now - dt.timedelta(seconds=i),
            }
            for i in range(n)
        ],
    )
    db.commit()
    db.connection().exec_driver_sql("ANALYZE outbox_messages")
    db.commit()


def test_the_partial_index_predicate_names_the_due_statuses():
    assert "status IN ({})".format(", ".join(f"'{s.value}'" for s in DUE_STATUSES)) == DUE_ORDER_WHERE


def claim_plan(db: Session, limit: int, *, costly_index: bool = False) -> str:
    """The plan of a claim of ``limit``, on a connection opened now, as a dispatcher's is: SQLite reads the statistics
    when a connection loads the schema, so a pooled connection that loaded them earlier may plan on older ones."""
    db.rollback()
    postgres = db.get_bind().dialect.name == "postgresql"
    engine = create_engine(db.get_bind().url)
    try:
        with Session(engine) as fresh:
            if costly_index and postgres:  # estimates that favour any other plan, as stale statistics did
                fresh.execute(text("SELECT set_config('random_page_cost', '1000', true)"))
            ordered_read(fresh)  # as claims.claim does first, in the same transaction
            with explained(engine):
                rows = fresh.execute(due_rows(dt.datetime.now(dt.UTC), limit, locking=postgres)).all()
    finally:
        engine.dispose()
    return "\n".join(str(row[-1]) for row in rows)


def assert_ordered_read(db: Session, plan: str) -> None:
    assert "ix_outbox_due_order" in plan, plan
    if db.get_bind().dialect.name == "postgresql":
        assert "Sort" not in plan and "Seq Scan" not in plan, plan
    else:
        assert "TEMP B-TREE" not in plan, plan  # SQLite's word for sorting rows the index did not order


def test_a_claim_reads_the_due_rows_in_index_order_without_sorting(db):
    # A claim of 10 out of 1,500 due rows: as a claim of 1,000 is out of a real backlog (hundreds of thousands). A
    # claim of most of a small table may rightly be read by a sequential scan, so that is not what is tested.
    queue(db, 3000)
    assert_ordered_read(db, claim_plan(db, 10))


def test_a_run_queued_after_the_statistics_were_taken_is_still_claimed_in_order(db):
    """A digest run queues its rows after the table was last analysed, when statistics said almost nothing was
    queued. With an index of every row by status, PostgreSQL then estimated ~1,000 due rows and sorted the whole
    backlog for each claim (seconds each at 600,000 queued): the claim must still read the partial index in order."""
    now = dt.datetime.now(dt.UTC)
    sent = [
        {
            "idempotency_key": f"old:{i}",
            "kind": "digest",
            "recipient": f"o{i}@example.org",
            "subject": "s",
            "status": m.OutboxStatus.SENT,
            "next_attempt_at": now - dt.timedelta(days=8),
        }
        for i in range(3000)
    ]
    db.execute(insert(m.OutboxMessage), sent)
    db.commit()
    db.connection().exec_driver_sql("ANALYZE outbox_messages")  # statistics: nothing queued
    db.commit()
    if db.get_bind().dialect.name == "postgresql":  # or none at all, as after a TRUNCATE (the benchmark's start)
        db.connection().exec_driver_sql("TRUNCATE outbox_messages CASCADE")
        db.commit()
    queued = [
        {
            "idempotency_key": f"run:{i}",
            "kind": "digest",
            "recipient": f"r{i}@example.org",
            "subject": "s",
            "next_attempt_at": now - dt.timedelta(seconds=i % 600),
        }
        for i in range(20_000)
    ]
    db.execute(insert(m.OutboxMessage), queued)
    db.commit()
    assert_ordered_read(db, claim_plan(db, 1000))
    # Whatever the estimates: with index reads priced 250 times higher, the claim still reads the index in order.
    assert_ordered_read(db, claim_plan(db, 1000, costly_index=True))
