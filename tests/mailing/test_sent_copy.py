"""Issue 15.2: every email is on record exactly as sent, digests (rendered at dispatch) included."""

from __future__ import annotations

import datetime as dt

from markupsafe import escape
from sqlalchemy import event, update

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods
from crm.domains import EXTENSIONS
from crm.mailing import claims, dispatch
from crm.mailing.dispatch import drain
from crm.mailing.settlement import CLAIMED, HANDED
from crm.mailing.transports.base import SendOutcome, SendResult
from crm.privacy.erasure import erase
from crm.privacy.subjects import find_subject
from tests import factories
from tests.conftest import QueryCounter
from tests.digests import helpers as h

EMAIL = "sam@example.org"


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.sent = []

    def send_many(self, emails):
        self.sent.extend(emails)
        return [SendResult(SendOutcome.SENT, provider_message_id=f"x{e.outbox_id}") for e in emails]


def _dispatch_digest(db, settings):
    ts = h.topics(db)
    h.call(db, factories.funder(db, "Invented Trust"), "Peer support & <recovery> “café”", topic_ids=(ts[0].id,))
    h.event(db, "Autumn meet-up")
    sub = h.subscription(db, EMAIL, name="Sam", topic_ids=(ts[0].id,), mailings=("funding_digest", "event_news"))
    db.commit()
    factory = create_session_factory(db.get_bind())
    engine.run_period(factory, settings, periods.parse(h.WEEK), now=h.NOW)
    transport = Recording()
    assert drain(factory, transport, settings, now=h.NOW, renderers=EXTENSIONS.deferred_renderers).sent == 1
    db.expire_all()
    (row,) = h.digest_rows(db)
    assert row.text_body is None and row.html_body is None  # bodies were rendered at dispatch
    return sub, row, transport.sent[0]


def test_a_digest_is_shown_exactly_as_the_transport_received_it(admin_client, db, settings):
    sub, row, mail = _dispatch_digest(db, settings)
    assert mail.subject and mail.text and mail.html and mail.headers["List-Unsubscribe"]
    assert row.parts == m.EmailParts(mail.subject, mail.text, mail.html, mail.headers)
    assert row.subject == mail.subject

    outbox = admin_client.get("/admin/mail")
    assert outbox.status_code == 200 and str(escape(mail.subject)) in outbox.text
    page = admin_client.get(f"/admin/mail/{row.id}")
    assert page.status_code == 200
    assert f"<h1>{escape(mail.subject)}</h1>" in page.text
    assert f'<pre class="mail-text" tabindex="0">{escape(mail.text)}</pre>' in page.text
    for name, value in mail.headers.items():
        assert f"<code>{escape(name)}: {escape(value)}</code>" in page.text
    html = admin_client.get(f"/admin/mail/{row.id}/html")
    assert html.status_code == 200 and html.content == mail.html.encode()

    subscriber = admin_client.get(f"/admin/subscribers/{sub.id}")
    assert subscriber.status_code == 200 and str(escape(mail.subject)) in subscriber.text

    response = admin_client.get(f"/admin/privacy/export.json?email={EMAIL}")
    assert response.status_code == 200
    (sent,) = [e for e in response.json()["emails_sent"] if e["id"] == row.id]
    assert (sent["subject"], sent["text_body"], sent["html_body"], sent["headers"]) == (
        mail.subject,
        mail.text,
        mail.html,
        mail.headers,
    )
    assert admin_client.get(f"/admin/privacy/subject?email={EMAIL}").status_code == 200


def test_erasure_removes_the_stored_copy(db, settings):
    _sub, row, mail = _dispatch_digest(db, settings)
    assert row.sent_copy
    erase(db, find_subject(db, email=EMAIL), None, now=h.NOW)
    db.commit()
    db.expire_all()
    row = db.get(m.OutboxMessage, row.id)
    assert row.sent_copy is None and row.subject == "" and row.headers == {}
    assert row.parts == m.EmailParts("", None, None, {})
    assert mail.text not in str(row.parts)


def _claimed_digest(db, settings):
    """A digest built and claimed by ``_prepare`` (rendered, its copy packed), not yet handed over."""
    ts = h.topics(db)
    h.call(db, factories.funder(db, "Invented Trust"), "Peer support", topic_ids=(ts[0].id,))
    h.subscription(db, EMAIL, name="Sam", topic_ids=(ts[0].id,), mailings=("funding_digest",))
    db.commit()
    factory = create_session_factory(db.get_bind())
    engine.run_period(factory, settings, periods.parse(h.WEEK), now=h.NOW)
    batch = dispatch._prepare(factory, Recording(), settings, h.NOW, EXTENSIONS.deferred_renderers)
    (row,) = h.digest_rows(db)
    return factory, batch, row.id


def test_the_hand_off_stores_the_copy_with_the_handed_mark_in_one_statement(db, settings):
    factory, batch, row_id = _claimed_digest(db, settings)
    assert [c[2] for c in batch.copies] == [row_id]
    db.expire_all()
    assert db.get(m.OutboxMessage, row_id).sent_copy is None  # nothing written before the hand-off
    counter = QueryCounter()
    event.listen(db.get_bind(), "before_cursor_execute", counter)
    try:
        claims.hand_off(factory, batch, h.NOW)
    finally:
        event.remove(db.get_bind(), "before_cursor_execute", counter)
    writes = [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(writes) == (1 if db.get_bind().dialect.name == "postgresql" else 2)
    db.expire_all()
    row = db.get(m.OutboxMessage, row_id)
    (mail,) = batch.to_send
    assert row.last_error == HANDED and row.status == m.OutboxStatus.SENDING
    assert row.parts == m.EmailParts(mail.subject, mail.text, mail.html, mail.headers)


def test_a_row_taken_back_before_the_hand_off_is_neither_sent_nor_given_the_copy(db, settings, caplog):
    factory, batch, row_id = _claimed_digest(db, settings)
    # Its lease ran out and another dispatcher's settle() put it back in the queue, then claimed it again.
    db.execute(
        update(m.OutboxMessage)
        .where(m.OutboxMessage.id == row_id)
        .values(last_error=CLAIMED, lease_until=h.NOW + dt.timedelta(hours=1))
    )
    db.commit()
    claims.hand_off(factory, batch, h.NOW)
    assert batch.to_send == [] and "taken back before they were sent" in caplog.text
    db.expire_all()
    row = db.get(m.OutboxMessage, row_id)
    assert row.last_error == CLAIMED and row.sent_copy is None
