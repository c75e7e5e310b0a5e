"""Taking back expired claims while another process writes the same rows (PostgreSQL row locks).

A crash trial in CI failed once on a deadlock: the dispatcher settling the killed one's expired claims locked rows
in one order while the killed one's server process, still finishing its last statement, locked them in another.
PostgreSQL rolls back one of the two; the settler must then run its transaction again, not stop the drain.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, text, update

from crm import models as m
from crm.domains import EXTENSIONS
from crm.mailing import claims, dispatch, settlement
from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult
from tests.mailing.rows import queue_bulk

NOW = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
AFTER_LEASE = NOW + settlement.LEASE + dt.timedelta(seconds=1)


class Sent:
    name = "sent"

    def __init__(self) -> None:
        self.ids: list[int] = []

    def send_many(self, emails: list[OutgoingEmail]) -> list[SendResult]:
        self.ids.extend(e.outbox_id for e in emails)
        return [SendResult(SendOutcome.SENT, provider_message_id=f"p{e.outbox_id}") for e in emails]


def _lock_waiter(engine: Any) -> int | None:
    """A server process of this database waiting for a row lock, if any."""
    with engine.connect() as conn:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        return conn.scalar(text(query))


def test_a_settle_rolled_back_as_a_deadlocks_victim_runs_again_and_the_drain_goes_on(
    database, db, app, settings, caplog
):
    if database.kind != "postgres":
        pytest.skip("row locks: SQLite locks the whole database, so two writers wait and never deadlock")
    low, high = queue_bulk(db, 2, "dl", NOW)
    factory, engine = app.state.session_factory, app.state.engine
    with factory() as s:
        claims.claim(s, NOW, 2)  # claimed, never handed over, lease long expired at AFTER_LEASE
        s.commit()
    caplog.set_level(logging.WARNING, logger="crm.db")
    table = m.OutboxMessage.__table__

    # A stalled dispatcher writes the same two rows, the higher id first; only the settler detects the deadlock.
    stalled = engine.connect()
    stalled.execute(text("SET deadlock_timeout = '30s'"))
    stalled.execute(update(table).where(table.c.id == high).values(subject="stalled"))
    transport, failure = Sent(), []

    def drain() -> None:
        try:
            dispatch.drain(factory, transport, settings, AFTER_LEASE, renderers=EXTENSIONS.deferred_renderers)
        except Exception as exc:  # the assertion below names it
            failure.append(exc)

    thread = threading.Thread(target=drain)
    thread.start()
    deadline = time.monotonic() + 20
    settler = None
    while settler is None and time.monotonic() < deadline:
        settler = _lock_waiter(engine)
        time.sleep(0.02)
    assert settler is not None, "the settler never waited for the stalled dispatcher's row"
    # The settler holds the lower id and waits for the higher; the stalled one now wants the lower: a cycle.
    stalled.execute(update(table).where(table.c.id == low).values(subject="stalled"))
    stalled.rollback()  # its hand-off failed: the rows are still the expired claims they were
    stalled.close()
    thread.join(30)

    assert not failure, failure
    assert "running it again (2 of 3)" in caplog.text and "40P01" in caplog.text
    assert sorted(transport.ids) == [low, high]
    with factory() as s:
        statuses = set(s.scalars(select(m.OutboxMessage.status).where(m.OutboxMessage.id.in_([low, high]))))
    assert statuses == {m.OutboxStatus.SENT}
