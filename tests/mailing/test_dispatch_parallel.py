"""Several batches with the provider at once (``parallel_batches``, issue 15.5): every row is sent once and recorded,
a halt stops the batches beside it and releases the one prepared next, and the SendGrid transport claims one
request's worth per batch with its concurrency as the number of batches in flight."""

from __future__ import annotations

import datetime as dt
import threading
import time

from sqlalchemy import select

from crm import models as m
from crm.domains import EXTENSIONS
from crm.mailing import dispatch
from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult
from crm.mailing.transports.sendgrid import MAX_PERSONALIZATIONS, SendGridTransport, _Body
from tests.mailing.rows import queue_bulk

NOW = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def _rows(db, n: int) -> list[int]:
    return queue_bulk(db, n, "par", NOW)


def _rows_by_status(db, ids: list[int]) -> dict[m.OutboxStatus, list[int]]:
    db.expire_all()
    out: dict[m.OutboxStatus, list[int]] = {}
    for row_id, status in db.execute(
        select(m.OutboxMessage.id, m.OutboxMessage.status)
        .where(m.OutboxMessage.id.in_(ids))
        .order_by(m.OutboxMessage.id)
    ):
        out.setdefault(status, []).append(row_id)
    return out


class Parallel:
    """Takes up to three batches of two at once; each call waits a little so calls overlap, and counts how many
    ran at the same time. ``halt_on`` answers HALT for the batch holding that outbox id."""

    name = "parallel"
    preferred_claim = 2
    parallel_batches = 3

    def __init__(self, halt_on: int | None = None) -> None:
        self.halt_on = halt_on
        self.sent: list[int] = []
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def send_many(self, emails: list[OutgoingEmail], report=None) -> list[SendResult]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)
            halt = self.halt_on is not None and any(e.outbox_id == self.halt_on for e in emails)
            outcome = SendOutcome.HALT if halt else SendOutcome.SENT
            with self.lock:
                self.sent.extend(e.outbox_id for e in emails)
            results = [SendResult(outcome, provider_message_id=f"p{e.outbox_id}") for e in emails]
            if report is not None:
                report(list(zip(emails, results, strict=True)))
            return results
        finally:
            with self.lock:
                self.running -= 1


def test_batches_in_flight_at_once_each_send_every_row_once(db, app, settings):
    ids = _rows(db, 11)
    transport = Parallel()
    stats = dispatch.drain(
        app.state.session_factory,
        transport,
        settings.replace(outbox_batch_size=1),
        NOW,
        renderers=EXTENSIONS.deferred_renderers,
    )
    assert sorted(transport.sent) == ids  # each row once
    assert 2 <= transport.most <= 3  # batches overlapped, never more than the transport takes
    assert stats.sent == 11 and stats.claimed == 11
    assert _rows_by_status(db, ids) == {m.OutboxStatus.SENT: ids}


def test_a_halt_stops_the_batches_beside_it_and_releases_the_next_unsent(db, app, settings):
    ids = _rows(db, 12)
    transport = Parallel(halt_on=ids[0])
    stats = dispatch.drain(
        app.state.session_factory,
        transport,
        settings.replace(outbox_batch_size=1),
        NOW,
        renderers=EXTENSIONS.deferred_renderers,
    )
    assert stats.halted
    db.expire_all()
    rows = {
        r.id: (r.status, r.attempts)
        for r in db.execute(select(m.OutboxMessage.id, m.OutboxMessage.status, m.OutboxMessage.attempts))
    }
    reached = set(transport.sent)
    assert ids[0] in reached and len(reached) < 12  # the halt stopped the drain before the end
    # What reached the transport is recorded as its answer (sent, or due again after the halt), one attempt each.
    assert all(rows[i][1] == 1 and rows[i][0] in (m.OutboxStatus.SENT, m.OutboxStatus.RETRY) for i in reached)
    assert rows[ids[0]][0] == m.OutboxStatus.RETRY
    # The rest never went: released (due again, the attempt not counted) or never claimed; none left claimed.
    assert all(
        rows[i][1] == 0 and rows[i][0] in (m.OutboxStatus.RETRY, m.OutboxStatus.QUEUED) for i in set(ids) - reached
    )


def test_sendgrid_claims_one_request_per_batch_with_its_concurrency_in_flight(settings):
    transport = SendGridTransport(settings.replace(sendgrid_concurrency=3))
    assert transport.preferred_claim == MAX_PERSONALIZATIONS
    assert transport.parallel_batches == 3


def test_a_request_body_is_posted_as_its_bytes_and_formats_without_copying_them():
    """python_http_client formats its body for a debug line on every request: a 7.7 MB digest batch must not be
    turned into its repr (tens of milliseconds) for a log line nobody reads."""
    payload = b'{"personalizations": []}' + b" " * 8_000_000
    body = _Body(payload)
    posted = body.encode("utf-8")
    assert bytes(posted) == payload and len(body) == len(payload)
    started = time.perf_counter()
    line = f"PAYLOAD: {posted}"
    assert len(line) < 100 and time.perf_counter() - started < 0.01
