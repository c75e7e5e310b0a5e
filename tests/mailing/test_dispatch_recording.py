"""Crash-safe recording (issue 15.3): each report is written as it comes, one statement each; a claimed batch is
only ambiguous once handed over; a row a provider event settled stays settled; claims are light Core rows."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from sqlalchemy import Row, event, insert, select

from crm import models as m
from crm.domains import EXTENSIONS
from crm.mailing import claims, dispatch, settlement, webhooks
from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult
from tests.mailing.rows import queue_bulk

NOW = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def _rows(db, n: int, prefix: str = "r") -> list[int]:
    return queue_bulk(db, n, prefix, NOW)


def _statuses(factory, ids) -> dict[int, m.OutboxStatus]:
    with factory() as s:
        return dict(
            s.execute(select(m.OutboxMessage.id, m.OutboxMessage.status).where(m.OutboxMessage.id.in_(ids))).all()
        )


class Reporting:
    """Reports in groups of two with distinct values per row, checking each group is in the database before the
    next is "sent"; optionally raises (a crash of the transport) after ``raise_after`` groups."""

    name = "reporting"

    def __init__(self, factory, engine, raise_after: int | None = None) -> None:
        self.factory, self.engine, self.raise_after = factory, engine, raise_after
        self.statements_per_report: list[int] = []
        self.seen_before_next: list[dict[int, m.OutboxStatus]] = []

    def send_many(self, emails: list[OutgoingEmail], report=None) -> list[SendResult]:
        outcomes = [SendOutcome.SENT, SendOutcome.FAILED, SendOutcome.RETRY]
        results = [
            SendResult(outcomes[i % 3], provider_message_id=f"p{e.outbox_id}", error=f"e{e.outbox_id}")
            for i, e in enumerate(emails)
        ]
        for start in range(0, len(emails), 2):
            if self.raise_after is not None and start // 2 == self.raise_after:
                raise RuntimeError("connection pool exploded")
            group = list(zip(emails[start : start + 2], results[start : start + 2], strict=True))
            updates: list[str] = []

            def count(conn, cursor, statement, *args, updates=updates):
                # the recording UPDATE (the next batch is being claimed on the same engine meanwhile)
                if statement.lstrip().upper().startswith("UPDATE") and "provider_message_id" in statement:
                    updates.append(statement)

            event.listen(self.engine, "before_cursor_execute", count)
            try:
                report(group)
            finally:
                event.remove(self.engine, "before_cursor_execute", count)
            self.statements_per_report.append(len(updates))
            self.seen_before_next.append(_statuses(self.factory, [e.outbox_id for e, _ in group]))
        return results


def test_each_report_is_written_at_once_in_one_statement_with_its_own_values(db, app, settings):
    ids = _rows(db, 6)
    factory = app.state.session_factory
    transport = Reporting(factory, app.state.engine)
    stats = dispatch.drain(factory, transport, settings, NOW, renderers=EXTENSIONS.deferred_renderers)
    assert transport.statements_per_report == [1, 1, 1]
    expected = {
        ids[0]: m.OutboxStatus.SENT,
        ids[1]: m.OutboxStatus.FAILED,
        ids[2]: m.OutboxStatus.RETRY,
        ids[3]: m.OutboxStatus.SENT,
        ids[4]: m.OutboxStatus.FAILED,
        ids[5]: m.OutboxStatus.RETRY,
    }
    # Already in the database while the transport was still sending the rest.
    assert [dict(seen) for seen in transport.seen_before_next] == [
        {i: expected[i] for i in ids[k : k + 2]} for k in (0, 2, 4)
    ]
    assert (stats.sent, stats.failed, stats.retried, stats.claimed) == (2, 2, 2, 6)
    db.expire_all()
    rows = {r.id: r for r in db.scalars(select(m.OutboxMessage))}
    assert all(rows[i].provider_message_id == f"p{i}" and rows[i].last_error == f"e{i}" for i in ids)
    assert all(rows[i].lease_until is None for i in ids)


def test_a_transport_that_dies_midway_keeps_what_it_reported(db, app, settings):
    ids = _rows(db, 6)
    factory = app.state.session_factory
    transport = Reporting(factory, app.state.engine, raise_after=1)
    stats = dispatch.drain(factory, transport, settings, NOW, renderers=EXTENSIONS.deferred_renderers)
    after = _statuses(factory, ids)
    assert [after[i] for i in ids] == [m.OutboxStatus.SENT, m.OutboxStatus.FAILED] + [m.OutboxStatus.AMBIGUOUS] * 4
    assert (stats.sent, stats.failed, stats.ambiguous) == (1, 1, 4)


def test_a_row_a_provider_event_settled_is_not_overwritten_by_a_late_report(db, app, settings):
    ids = _rows(db, 2)
    factory = app.state.session_factory

    class LateReport:
        name = "late"

        def send_many(self, emails, report=None):
            with factory() as s:  # the processed event arrives before the answer is recorded
                webhooks.process_events(
                    s, [{"event": "processed", "sg_event_id": "x1", "crm_outbox_id": str(ids[0])}], NOW
                )
                s.commit()
            results = [SendResult(SendOutcome.AMBIGUOUS, error="timed out")] * len(emails)
            report(list(zip(emails, results, strict=True)))
            return results

    dispatch.drain(factory, LateReport(), settings, NOW, renderers=EXTENSIONS.deferred_renderers)
    after = _statuses(factory, ids)
    assert after == {ids[0]: m.OutboxStatus.SENT, ids[1]: m.OutboxStatus.AMBIGUOUS}


def test_the_batch_claimed_ahead_is_marked_claimed_until_handed_over(db, app, settings):
    ids = _rows(db, 4)
    factory = app.state.session_factory
    seen: list[dict[int, str]] = []

    class Watching:
        name = "watching"

        def send_many(self, emails, report=None):
            if not seen:  # first batch: wait until the next one is claimed beside it
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    with factory() as s:
                        marks = dict(s.execute(select(m.OutboxMessage.id, m.OutboxMessage.last_error)).all())
                    if marks[ids[2]] == settlement.CLAIMED:
                        break
                    time.sleep(0.02)
                seen.append(marks)
            else:
                with factory() as s:
                    seen.append(dict(s.execute(select(m.OutboxMessage.id, m.OutboxMessage.last_error)).all()))
            return [SendResult(SendOutcome.SENT, provider_message_id="p")] * len(emails)

    stats = dispatch.drain(
        factory, Watching(), settings.replace(outbox_batch_size=2), NOW, renderers=EXTENSIONS.deferred_renderers
    )
    assert [seen[0][i] for i in ids] == [settlement.HANDED] * 2 + [settlement.CLAIMED] * 2
    assert [seen[1][i] for i in ids[2:]] == [settlement.HANDED] * 2  # handed over before its send
    assert stats.sent == 4 and set(_statuses(factory, ids).values()) == {m.OutboxStatus.SENT}


def test_after_a_crash_a_batch_never_handed_over_is_due_at_once_and_a_handed_one_waits(db, app, settings, caplog):
    handed_ids = _rows(db, 2, "h")
    factory = app.state.session_factory
    with factory() as s:
        claims.claim(s, NOW, 2, handed=True)
        s.commit()
    claimed_ids = _rows(db, 2, "c")
    with factory() as s:
        claims.claim(s, NOW, 2, handed=False)
        s.commit()
    caplog.set_level(logging.WARNING, logger="crm.mail.dispatch")
    after_lease = NOW + settlement.LEASE + dt.timedelta(seconds=1)
    no_webhook = settings.replace(mail_transport="sendgrid", sendgrid_api_key="k", sendgrid_webhook_public_key="")
    with factory() as s:
        assert dispatch.settle(s, after_lease, no_webhook) == (2, 2, 0)
        s.commit()
    db.expire_all()
    rows = {r.id: r for r in db.scalars(select(m.OutboxMessage))}
    assert all(rows[i].status == m.OutboxStatus.RETRY and rows[i].attempts == 0 for i in claimed_ids)
    assert all("before handing it to the provider" in rows[i].last_error for i in claimed_ids)
    assert all(rows[i].status == m.OutboxStatus.AMBIGUOUS and rows[i].attempts == 1 for i in handed_ids)
    assert all("waiting until" in rows[i].last_error for i in handed_ids)
    with factory() as s:
        assert dispatch.settle(s, after_lease + dispatch.SETTLE_AFTER - dt.timedelta(seconds=2), no_webhook)[2] == 0
        assert dispatch.settle(s, after_lease + dispatch.SETTLE_AFTER, no_webhook) == (0, 0, 2)
        s.commit()
    db.expire_all()
    for i in handed_ids:
        row = db.get(m.OutboxMessage, i)
        assert row.status == m.OutboxStatus.RETRY and "CRM_SENDGRID_WEBHOOK_PUBLIC_KEY" in row.last_error
    text = caplog.text
    assert f"{min(claimed_ids)}-{max(claimed_ids)}" in text and f"{min(handed_ids)}-{max(handed_ids)}" in text
    assert "Event Webhook is not configured" in text


def test_a_webhook_event_within_the_wait_settles_the_ambiguous_row_for_good(db, app, settings, caplog):
    ids = _rows(db, 2)
    factory = app.state.session_factory
    with factory() as s:
        claims.claim(s, NOW, 2, handed=True)
        dispatch.settle(s, NOW + settlement.LEASE + dt.timedelta(seconds=1))
        webhooks.process_events(s, [{"event": "dropped", "sg_event_id": "d", "crm_outbox_id": str(ids[0])}], NOW)
        s.commit()
    with factory() as s:
        assert dispatch.settle(s, NOW + settlement.LEASE + settlement.SETTLE_AFTER + dt.timedelta(minutes=1)) == (
            0,
            0,
            1,
        )
        s.commit()
    assert _statuses(factory, ids) == {ids[0]: m.OutboxStatus.SENT, ids[1]: m.OutboxStatus.RETRY}


def test_claims_are_light_core_rows(db, app):
    _rows(db, 3)
    with app.state.session_factory() as s:
        rows = claims.claim(s, NOW, 10)
        s.commit()
    assert len(rows) == 3 and all(isinstance(r, Row) for r in rows)
    assert {c for c in rows[0]._fields} >= {"id", "recipient", "context", "subscription_id", "mailing", "attempts"}


@pytest.mark.parametrize("accepts", [True, False])
def test_transports_with_and_without_report_are_recorded(db, app, settings, accepts):
    ids = _rows(db, 3)

    class Old:
        name = "old"

        def send_many(self, emails):
            return [SendResult(SendOutcome.SENT, provider_message_id="o")] * len(emails)

    class New(Old):
        def send_many(self, emails, report=None):
            results = super().send_many(emails)
            report(list(zip(emails[:1], results[:1], strict=True)))  # reports only some: the rest at the end
            return results

    factory = app.state.session_factory
    stats = dispatch.drain(factory, New() if accepts else Old(), settings, NOW, renderers=EXTENSIONS.deferred_renderers)
    assert stats.sent == 3 and set(_statuses(factory, ids).values()) == {m.OutboxStatus.SENT}


def test_a_report_is_written_while_the_next_batch_is_being_rendered(db, app, settings):
    """The claim commits before rendering, so on SQLite the write lock is free while the next batch renders and
    the batch in flight is recorded at once (before, its report waited for the whole preparation)."""
    import threading

    from crm.mailing.render import RenderedEmail

    db.execute(
        insert(m.OutboxMessage),
        [
            {"idempotency_key": f"slow{i}", "kind": "slow", "recipient": f"s{i}@example.org", "next_attempt_at": NOW}
            for i in range(4)
        ],
    )
    db.commit()
    rendering, reported = threading.Event(), threading.Event()
    waited: list[bool] = []

    def render(session, rows, settings, now):
        if any(r.id > 2 for r in rows):  # the batch prepared while the first is with the provider
            rendering.set()
            waited.append(reported.wait(timeout=5))
        return {r.id: (RenderedEmail(subject="s", text="t", html="<p>h</p>"), {}) for r in rows}

    class Reports:
        name = "reports"

        def send_many(self, emails, report=None):
            results = [SendResult(SendOutcome.SENT, provider_message_id="p")] * len(emails)
            if not rendering.is_set():  # the provider answers while the next batch is being rendered
                rendering.wait(timeout=5)
            report(list(zip(emails, results, strict=True)))
            reported.set()
            return results

    factory = app.state.session_factory
    stats = dispatch.drain(factory, Reports(), settings.replace(outbox_batch_size=2), NOW, renderers={"slow": render})
    assert waited == [True] and stats.sent == 4
