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
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select, text, update

from crm import models as m
from crm.domains import EXTENSIONS
from crm.mailing import claims, dispatch, settlement
from crm.mailing.recording import Batch, DispatchStats
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


def _deadlock(engine: Any, low: int, high: int, work: Callable[[], None]) -> list[Exception]:
    """Run ``work`` in a thread while a stalled writer holds ``high``; once ``work`` waits for it (holding ``low``),
    the stalled writer asks for ``low``: a cycle, which only ``work``'s server process detects (the stalled one's
    deadlock_timeout is 30 s), so ``work``'s transaction is the victim. The stalled writer then rolls back.
    What ``work`` raised, if anything."""
    table = m.OutboxMessage.__table__
    stalled = engine.connect()
    stalled.execute(text("SET deadlock_timeout = '30s'"))
    stalled.execute(update(table).where(table.c.id == high).values(subject="stalled"))
    failure: list[Exception] = []

    def run() -> None:
        try:
            work()
        except Exception as exc:  # the caller's assertion names it
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 20
    while _lock_waiter(engine) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _lock_waiter(engine) is not None, "the work never waited for the stalled writer's row"
    stalled.execute(update(table).where(table.c.id == low).values(subject="stalled"))
    stalled.rollback()
    stalled.close()
    thread.join(30)
    return failure


@pytest.fixture
def postgres(database: Any) -> None:
    if database.kind != "postgres":
        pytest.skip("row locks: SQLite locks the whole database, so two writers wait and never deadlock")


def test_a_settle_rolled_back_as_a_deadlocks_victim_runs_again_and_the_drain_goes_on(
    postgres, db, app, settings, caplog
):
    low, high = queue_bulk(db, 2, "dl", NOW)
    factory, engine = app.state.session_factory, app.state.engine
    with factory() as s:
        claims.claim(s, NOW, 2)  # claimed, never handed over, lease long expired at AFTER_LEASE
        s.commit()
    caplog.set_level(logging.WARNING, logger="crm.db")
    transport = Sent()
    drain = partial(dispatch.drain, factory, transport, settings, AFTER_LEASE, renderers=EXTENSIONS.deferred_renderers)

    assert not _deadlock(engine, low, high, drain)
    assert "running it again (2 of 3)" in caplog.text and "40P01" in caplog.text
    assert sorted(transport.ids) == [low, high]
    with factory() as s:
        statuses = set(s.scalars(select(m.OutboxMessage.status).where(m.OutboxMessage.id.in_([low, high]))))
    assert statuses == {m.OutboxStatus.SENT}


def test_a_hand_off_rolled_back_as_a_deadlocks_victim_runs_again_and_hands_the_batch_over(
    postgres, db, app, settings, caplog
):
    low, high = queue_bulk(db, 2, "dh", NOW)
    factory, engine = app.state.session_factory, app.state.engine
    with factory() as s:
        claimed = claims.claim(s, NOW, 2)
        s.commit()
    caplog.set_level(logging.WARNING, logger="crm.db")
    emails = [OutgoingEmail(r.id, r.kind, r.recipient, "", r.subject, "t", "<p>h</p>") for r in claimed]
    batch = Batch(DispatchStats(), emails, {r.id: 1 for r in claimed}, NOW, NOW + settlement.LEASE)

    assert not _deadlock(engine, low, high, partial(claims.hand_off, factory, batch, NOW))
    assert "running it again (2 of 3)" in caplog.text
    assert [e.outbox_id for e in batch.to_send] == [low, high]
    with factory() as s:
        errors = set(s.scalars(select(m.OutboxMessage.last_error).where(m.OutboxMessage.id.in_([low, high]))))
    assert errors == {settlement.HANDED}
