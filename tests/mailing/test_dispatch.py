"""The outbox and the dispatcher: idempotency, consent and suppression at claim time, settlement, provider errors."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.domains import EXTENSIONS
from crm.mailing import claims, dispatch, suppression
from crm.mailing.outbox import InvalidAddress, MissingFooter, enqueue, enqueue_bulk
from crm.mailing.render import RenderedEmail
from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult
from crm.mailing.transports.local import LocalTransport
from crm.mailing.transports.sendgrid import SendGridTransport
from tests.mailing.fake_sendgrid import FakeSendGrid

NOW = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # later than any row a test creates
CTX = {
    "subject": "News",
    "intro": "Three new calls.",
    "items": [{"title": "Call", "summary": "S", "url": "https://x/1"}],
}


class Recording:
    name = "recording"

    def __init__(self, outcome=SendOutcome.SENT, retry_at=None):
        self.sent: list[OutgoingEmail] = []
        self.outcome = outcome
        self.retry_at = retry_at

    def send_many(self, emails):
        self.sent.extend(emails)
        return [SendResult(self.outcome, provider_message_id=f"p{e.outbox_id}", retry_at=self.retry_at) for e in emails]


def _bulk(db, app, to="ann@example.org", key="k1", mailing="funding_digest", subscription_id=None):
    return enqueue_bulk(
        db,
        app.state.renderer,
        app.state.signer,
        key=key,
        kind="funding_digest",
        to=to,
        template="subscription_notice",
        context=CTX,
        why="You subscribed to the funding-call digest.",
        mailing=mailing,
        subscription_id=subscription_id,
    )


def _sub(db, email="ann@example.org", status=m.SubscriptionStatus.ACTIVE, mailings=("funding_digest",)):
    sub = m.Subscription(email=email, status=status, mailings=list(mailings), topics=[], regions=[])
    db.add(sub)
    db.flush()
    return sub


def _status(db, msg_id):
    db.expire_all()
    return db.get(m.OutboxMessage, msg_id)


def test_same_idempotency_key_queues_once(db, app):
    assert _bulk(db, app) is not None
    assert _bulk(db, app) is None
    db.commit()
    assert db.scalar(select(func.count()).select_from(m.OutboxMessage)) == 1


def test_bulk_has_headers_and_footer(db, app):
    msg = _status(db, _bulk(db, app))
    assert msg.bulk and msg.mailing == "funding_digest"
    assert msg.headers["List-Unsubscribe"].startswith("<http") and "mailto:" in msg.headers["List-Unsubscribe"]
    assert msg.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.headers["List-Id"].startswith("<funding-digest.") and msg.headers["List-Id"].endswith(">")
    url = msg.headers["List-Unsubscribe"][1:].split(">", 1)[0]
    for body in (msg.html_body, msg.text_body):
        assert url in body and "/preferences/" in body and app.state.settings.mail_postal_address in body
        assert "You subscribed to the funding-call digest." in body


def test_bulk_without_footer_is_refused(db, app, monkeypatch):
    monkeypatch.setattr(app.state.renderer, "render", lambda name, ctx: RenderedEmail("s", "text", "<p>html</p>"))
    with pytest.raises(MissingFooter):
        _bulk(db, app)
    with pytest.raises(ValueError):
        enqueue_bulk(
            db,
            app.state.renderer,
            app.state.signer,
            key="x",
            kind="k",
            to="a@example.org",
            template="subscription_notice",
            context=CTX,
            why="",
            mailing=None,
        )


def test_header_injection_and_bad_addresses_refused(db, app):
    with pytest.raises(ValueError, match="newline"):
        enqueue(
            db,
            app.state.renderer,
            key="a",
            kind="k",
            to="a@example.org",
            to_name="A\r\nBcc: x@example.org",
            template="sign_in",
            context={"link": "l", "minutes": 1, "name": ""},
        )
    with pytest.raises(InvalidAddress, match="not a valid email"):
        enqueue(
            db,
            app.state.renderer,
            key="b",
            kind="k",
            to="not an address",
            template="sign_in",
            context={"link": "l", "minutes": 1, "name": ""},
        )
    msg_id = enqueue(
        db,
        app.state.renderer,
        key="c",
        kind="k",
        to="a@example.org",
        template="subscription_notice",
        context={
            **CTX,
            "subject": "Hi\r\nBcc: x@example.org",
            "why_text": "w",
            "preferences_url": "p",
            "unsubscribe_url": "u",
            "unsubscribe_all_url": "u",
        },
    )
    assert "\n" not in _status(db, msg_id).subject


def test_dispatch_rechecks_consent_and_suppression_at_claim_time(db, app, settings):
    active = _sub(db, "ann@example.org")
    paused = _sub(db, "bob@example.org", status=m.SubscriptionStatus.PAUSED)
    narrowed = _sub(db, "cy@example.org", mailings=("event_news",))
    ok = _bulk(db, app, "ann@example.org", "k-ann", subscription_id=active.id)
    p = _bulk(db, app, "bob@example.org", "k-bob", subscription_id=paused.id)
    n = _bulk(db, app, "cy@example.org", "k-cy", subscription_id=narrowed.id)
    bounced = _bulk(db, app, "dee@example.org", "k-dee")
    unsub_bulk = _bulk(db, app, "eve@example.org", "k-eve")
    unsub_transactional = enqueue(
        db,
        app.state.renderer,
        key="k-eve-t",
        kind="sign_in",
        to="eve@example.org",
        template="sign_in",
        context={"link": "l", "minutes": 15, "name": ""},
    )
    suppression.suppress(db, "dee@example.org", "bounce", "test")
    suppression.suppress(db, "eve@example.org", "unsubscribed", "test")
    db.commit()
    transport = Recording()
    stats = dispatch.drain(app.state.session_factory, transport, settings, NOW, renderers=EXTENSIONS.deferred_renderers)
    assert sorted(e.to for e in transport.sent) == ["ann@example.org", "eve@example.org"]
    assert stats.sent == 2 and stats.suppressed == 4
    assert _status(db, ok).status == m.OutboxStatus.SENT
    assert _status(db, unsub_transactional).status == m.OutboxStatus.SENT
    for msg_id, why in ((p, "paused"), (n, "no longer receives"), (bounced, "bounce"), (unsub_bulk, "unsubscribed")):
        row = _status(db, msg_id)
        assert row.status == m.OutboxStatus.SUPPRESSED and why in row.last_error


def test_outcomes_retry_failed_and_halt(db, app, settings):
    msg = _bulk(db, app)
    db.commit()
    reset = NOW + dt.timedelta(hours=2)
    dispatch.drain(
        app.state.session_factory,
        Recording(SendOutcome.RETRY, retry_at=reset),
        settings,
        NOW,
        renderers=EXTENSIONS.deferred_renderers,
    )
    row = _status(db, msg)
    assert row.status == m.OutboxStatus.RETRY and row.next_attempt_at >= reset and row.attempts == 1
    later = reset + dt.timedelta(seconds=1)
    dispatch.drain(
        app.state.session_factory,
        Recording(SendOutcome.FAILED),
        settings,
        later,
        renderers=EXTENSIONS.deferred_renderers,
    )
    assert _status(db, msg).status == m.OutboxStatus.FAILED


def test_backoff_grows_with_jitter_and_is_capped():
    delays = [(dispatch.backoff(n, NOW) - NOW).total_seconds() for n in range(1, 12)]
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60
    assert all(d <= 3600 for d in delays)


def test_lease_expiry_is_ambiguous_then_retry_without_event(db, app, settings):
    msg = _bulk(db, app)
    db.commit()
    factory = app.state.session_factory
    with factory() as s:
        claims.claim(s, NOW, 10, handed=True)  # as the dispatcher leaves it once its request went out
        s.commit()
    assert _status(db, msg).status == m.OutboxStatus.SENDING
    after_lease = NOW + dispatch.LEASE + dt.timedelta(seconds=1)
    with factory() as s:
        dispatch.settle(s, after_lease)
        s.commit()
    row = _status(db, msg)
    assert row.status == m.OutboxStatus.AMBIGUOUS
    with factory() as s:
        dispatch.settle(s, after_lease + dt.timedelta(minutes=14))
        s.commit()
    assert _status(db, msg).status == m.OutboxStatus.AMBIGUOUS
    with factory() as s:
        dispatch.settle(s, after_lease + dt.timedelta(minutes=16))
        s.commit()
    assert _status(db, msg).status == m.OutboxStatus.RETRY


def test_sendgrid_429_sets_next_attempt_from_reset_and_401_halts(db, app, settings):
    for i in range(3):
        _bulk(db, app, f"p{i}@example.org", f"k{i}")
    db.commit()
    reset = int((dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).timestamp())
    with FakeSendGrid() as fake:
        fake.script(("429", reset))
        s = settings.replace(sendgrid_api_url=fake.url, sendgrid_api_key="k", mail_rate_per_second=0.0)
        now = dt.datetime.now(dt.UTC)
        stats = dispatch.drain(
            app.state.session_factory, SendGridTransport(s), s, now, renderers=EXTENSIONS.deferred_renderers
        )
        assert stats.retried == 3 and fake.request_count == 1
        rows = db.scalars(select(m.OutboxMessage)).all()
        db.expire_all()
        rows = db.scalars(select(m.OutboxMessage)).all()
        assert all(r.status == m.OutboxStatus.RETRY for r in rows)
        assert all(r.next_attempt_at >= dt.datetime.fromtimestamp(reset, dt.UTC) for r in rows)
    for i in range(3, 6):
        enqueue(
            db,
            app.state.renderer,
            key=f"t{i}",
            kind="sign_in",
            to=f"t{i}@example.org",
            template="sign_in",
            context={"link": "l", "minutes": 15, "name": ""},
        )
    db.commit()
    with FakeSendGrid() as fake:
        fake.script(401)
        s = settings.replace(
            sendgrid_api_url=fake.url, sendgrid_api_key="k", mail_rate_per_second=0.0, sendgrid_concurrency=1
        )
        stats = dispatch.drain(
            app.state.session_factory,
            SendGridTransport(s),
            s,
            dt.datetime.now(dt.UTC),
            renderers=EXTENSIONS.deferred_renderers,
        )
        assert stats.halted and fake.request_count == 1


def test_local_transport_marks_sent(db, app, settings):
    msg = _bulk(db, app)
    db.commit()
    dispatch.drain(app.state.session_factory, LocalTransport(), settings, NOW, renderers=EXTENSIONS.deferred_renderers)
    row = _status(db, msg)
    assert row.status == m.OutboxStatus.SENT and row.provider_message_id == f"local-{msg}"


@pytest.mark.postgres
def test_two_postgres_dispatchers_never_claim_the_same_row(db, app):
    for i in range(100):
        db.add(m.OutboxMessage(idempotency_key=f"c{i}", kind="k", recipient=f"r{i}@example.org", next_attempt_at=NOW))
    db.commit()
    factory = app.state.session_factory
    first, second = factory(), factory()
    try:
        a = [r.id for r in claims.claim(first, NOW, 60)]  # holds its row locks: not committed yet
        b = [r.id for r in claims.claim(second, NOW, 100)]
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
    assert len(a) == 60 and len(b) == 40 and len(set(a) | set(b)) == 100


def test_halt_releases_the_prefetched_batch_unsent(db, app, settings):
    ids = [_bulk(db, app, f"h{i}@example.org", f"h{i}") for i in range(5)]
    db.commit()
    transport = Recording(SendOutcome.HALT)
    stats = dispatch.drain(
        app.state.session_factory,
        transport,
        settings.replace(outbox_batch_size=2),
        NOW,
        renderers=EXTENSIONS.deferred_renderers,
    )
    assert stats.halted and len(transport.sent) == 2
    rows = [_status(db, i) for i in ids]
    assert [r.status for r in rows[:2]] == [m.OutboxStatus.RETRY] * 2 and all(r.attempts == 1 for r in rows[:2])
    assert [r.status for r in rows[2:4]] == [m.OutboxStatus.RETRY] * 2 and all(r.attempts == 0 for r in rows[2:4])
    assert rows[4].status == m.OutboxStatus.QUEUED


def test_worker_job_dispatches_the_outbox(db, app, settings):
    """``mail.dispatch_outbox``, what the worker runs every few seconds, sends what is due through the runtime's
    transport with the manifest's deferred renderers."""
    from crm.mailing.jobs import dispatch_outbox
    from crm.runtime import Runtime

    msg_id = enqueue(
        db,
        app.state.renderer,
        key="k-job",
        kind="sign_in",
        to="ann@example.org",
        template="sign_in",
        context={"link": "l", "minutes": 15, "name": ""},
    )
    db.commit()
    rt = Runtime(settings, EXTENSIONS)
    try:
        dispatch_outbox(rt)
    finally:
        rt.engine.dispose()
    assert _status(db, msg_id).status == m.OutboxStatus.SENT
