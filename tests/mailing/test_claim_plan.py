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

from sqlalchemy import Engine, create_engine, event, insert
from sqlalchemy.orm import Session

from crm import models as m
from crm.mailing.claims import DUE_STATUSES, due_rows
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


def test_a_claim_reads_the_due_rows_in_index_order_without_sorting(db):
    # A claim of 10 out of 1,500 due rows: as a claim of 1,000 is out of a real backlog (hundreds of thousands). A
    # claim of most of a small table may rightly be read by a sequential scan, so that is not what is tested.
    queue(db, 3000)
    postgres = db.get_bind().dialect.name == "postgresql"
    # A connection opened after ANALYZE, as a dispatcher's is: SQLite reads the statistics when a connection loads
    # the schema, so a pooled connection that loaded them before this test's ANALYZE may plan on older ones.
    db.rollback()
    engine = create_engine(db.get_bind().url)
    try:
        with explained(engine), engine.connect() as fresh:
            rows = fresh.execute(due_rows(dt.datetime.now(dt.UTC), 10, locking=postgres)).all()
    finally:
        engine.dispose()
    plan = "\n".join(str(row[-1]) for row in rows)
    assert "ix_outbox_due_order" in plan, plan
    if postgres:
        assert "Sort" not in plan and "Seq Scan" not in plan, plan
    else:
        assert "TEMP B-TREE" not in plan, plan  # SQLite's word for sorting rows the index did not order
