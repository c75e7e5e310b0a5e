"""Issue 15 point 1: every bulk email's own one-click unsubscribe (RFC 8058) stops exactly its stream.

Each test sends one email of a kind, unsubscribes through that email's ``List-Unsubscribe`` header (a POST of
``List-Unsubscribe=One-Click`` without cookies, as Gmail and Yahoo do), runs the next period or send, and checks
nothing of that stream reaches the address while a control address (or the reader's other streams) still gets mail.
"""

from __future__ import annotations

import datetime as dt
import re

from litestar.testing import TestClient
from sqlalchemy import func, select

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods
from crm.digests.sections import DIGEST_MAILINGS
from crm.domains import EXTENSIONS
from crm.events import audience, sending
from crm.events.audience import AudienceFilter
from crm.mailing import compliance
from crm.mailing.dispatch import drain
from crm.mailing.transports.base import SendOutcome, SendResult
from tests import factories
from tests.digests import helpers as h
from tests.events import factories as ef
from tests.internships.helpers import make_internship

W48 = periods.parse(h.WEEK)
W49 = W48.next()


class Capture:
    name = "capture"

    def __init__(self) -> None:
        self.sent = []

    def send_many(self, emails):
        self.sent.extend(emails)
        return [SendResult(SendOutcome.SENT, provider_message_id=f"x{e.outbox_id}") for e in emails]


def _later() -> dt.datetime:
    """Event emails are queued due at the real clock's now (the events tests' NOW is in the past)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


def _factory(db):
    return create_session_factory(db.get_bind())


def _dispatch(db, settings, now) -> list:
    db.commit()
    transport = Capture()
    drain(_factory(db), transport, settings, now=now, renderers=EXTENSIONS.deferred_renderers)
    db.expire_all()
    return transport.sent


def _digests(db, settings, period, now) -> list:
    db.commit()
    engine.run_period(_factory(db), settings, period, now=now)
    return _dispatch(db, settings, now)


def _one_click(app, mail) -> str:
    """POST the email's own List-Unsubscribe https URL as a mailbox provider does; returns the page text."""
    header = mail.headers["List-Unsubscribe"]
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.match(r"<(https?://[^>]+)>", header).group(1)
    assert url in mail.text and url in mail.html  # the footer link is the same link
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    with TestClient(app, base_url="http://testserver.local") as fresh:
        r = fresh.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert r.status_code == 200 and "location" not in r.headers
    return r.text


def test_the_streams_mailings_are_the_digests(db) -> None:
    assert compliance.DIGEST_MAILINGS == DIGEST_MAILINGS


def test_digest_one_click_stops_every_later_digest_whatever_it_holds(app, db, settings) -> None:
    ts = h.topics(db)
    f = factories.funder(db)
    host = factories.organisation(db, "Invented Host")
    everything = ("funding_digest", "event_news", "internship_alerts")
    reader = h.subscription(db, "reader@example.org", topic_ids=(ts[0].id,), mailings=everything)
    control = h.subscription(db, "control@example.org", topic_ids=(ts[0].id,), mailings=everything)
    h.call(db, f, topic_ids=(ts[0].id,))
    h.event(db)
    make_internship(db, host, topics=(ts[0].name,), published_at=h.NOW - dt.timedelta(days=4))
    first = _digests(db, settings, W48, h.NOW)
    mine = [e for e in first if e.to == reader.email]
    assert len(mine) == 1 and len(first) == 2
    page = _one_click(app, mine[0])
    assert "the Roundtable digest" in page and "Unsubscribe from everything" in page and "/preferences/" in page
    # Next week: every section has something new again; the reader gets nothing, the control reader gets it.
    h.call(db, f, topic_ids=(ts[0].id,))
    h.event(db, days=12)
    make_internship(db, host, topics=(ts[0].name,), published_at=h.NOW - dt.timedelta(days=1))
    second = _digests(db, settings, W49, W49.due_at + dt.timedelta(hours=1))
    assert [e.to for e in second] == [control.email]
    assert "funding call" in second[0].subject and "event" in second[0].subject
    db.expire_all()
    sub = db.get(m.Subscription, reader.id)
    assert sub.status == m.SubscriptionStatus.UNSUBSCRIBED and sub.mailings == []
    # Exactly the digest: the address is not put on the suppression list (that is "everything", offered apart).
    assert db.scalar(select(func.count()).select_from(m.Suppression)) == 0
    everything = re.search(r'<form method="post" action="(/u/[^"]+)"', page).group(1)
    with TestClient(app, base_url="http://testserver.local") as browser:
        done = browser.post(everything, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "any more emails from Roundtable" in done.text
    db.expire_all()
    assert db.scalar(select(m.Suppression.address)) == reader.email


def test_a_digest_queued_before_the_click_is_not_sent(app, db, settings) -> None:
    ts = h.topics(db)
    f = factories.funder(db)
    reader = h.subscription(db, "reader@example.org", topic_ids=(ts[0].id,), mailings=("funding_digest", "event_news"))
    h.call(db, f, topic_ids=(ts[0].id,))
    h.event(db)
    first = _digests(db, settings, W48, h.NOW)
    h.call(db, f, topic_ids=(ts[0].id,))
    db.commit()
    engine.run_period(_factory(db), settings, W49, now=W49.due_at)  # queued, not yet dispatched
    _one_click(app, first[0])
    assert _dispatch(db, settings, W49.due_at + dt.timedelta(hours=1)) == []
    row = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.idempotency_key == f"digest:{reader.id}:{W49.key}"))
    assert row.status == m.OutboxStatus.SUPPRESSED


def test_internship_alerts_one_click_stops_them(app, db, settings) -> None:
    """A reader of internship alerts and event news whose digest held only internships this time (the link used
    to withdraw event news, the digest's first mailing, and the alerts kept coming)."""
    ts = h.topics(db)
    host = factories.organisation(db, "Invented Host")
    mailings = ("event_news", "internship_alerts")
    reader = h.subscription(db, "intern@example.org", topic_ids=(ts[0].id,), mailings=mailings)
    make_internship(db, host, title="First placement", topics=(ts[0].name,), published_at=h.NOW - dt.timedelta(days=4))
    first = _digests(db, settings, W48, h.NOW)
    assert [e.to for e in first] == [reader.email] and "First placement" in first[0].text
    _one_click(app, first[0])
    make_internship(db, host, title="Second placement", topics=(ts[0].name,), published_at=h.NOW)
    db.commit()
    stats = engine.run_period(_factory(db), settings, W49, now=W49.due_at + dt.timedelta(hours=1))
    assert stats.considered == 0 and stats.sent == 0
    assert _dispatch(db, settings, W49.due_at + dt.timedelta(hours=2)) == []


def test_old_digest_links_keep_working_and_stop_the_digest(app, db, settings) -> None:
    """Links sent before the digest stream named the digest's first mailing (``funding_digest``)."""
    ts = h.topics(db)
    f = factories.funder(db)
    reader = h.subscription(db, "old@example.org", topic_ids=(ts[0].id,), mailings=("funding_digest", "event_news"))
    h.call(db, f, topic_ids=(ts[0].id,))
    h.event(db)
    db.commit()
    old = app.state.signer.sign("unsubscribe", {"e": reader.email, "m": "funding_digest"})
    with TestClient(app, base_url="http://testserver.local") as fresh:
        assert "the Roundtable digest" in fresh.get(f"/u/{old}").text
        r = fresh.post(f"/u/{old}", content=b"List-Unsubscribe=One-Click", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and "the Roundtable digest" in r.text
    assert _digests(db, settings, W48, h.NOW) == []


def _invite_everyone(db, app, title, now=ef.NOW):
    e = ef.event(db, app, title=title, now=now)
    audience.send(db, ef.mailer(app), None, e, AudienceFilter(everyone=True), now)
    return e


def test_invitation_footer_stops_event_emails_for_a_contact(app, db, settings) -> None:
    guest = factories.contact(db, "Invited Guest", "guest@example.org")
    other = factories.contact(db, "Other Guest", "other@example.org")
    _invite_everyone(db, app, "First meet-up")
    first = _dispatch(db, settings, _later())
    mine = [e for e in first if e.to == guest.email]
    assert len(mine) == 1 and len(first) == 2
    page = _one_click(app, mine[0])
    assert "Event news" in page
    _invite_everyone(db, app, "Second meet-up")
    assert [e.to for e in _dispatch(db, settings, _later())] == [other.email]


def test_invitation_footer_of_a_subscriber_stops_event_emails_and_keeps_their_digest(app, db, settings) -> None:
    """A contact who also reads the funding digest (without event news): the footer stops event emails only."""
    ts = h.topics(db)
    guest = factories.contact(db, "Invited Reader", "reader@example.org")
    h.subscription(db, guest.email, topic_ids=(ts[0].id,), mailings=("funding_digest",))
    _invite_everyone(db, app, "First meet-up")
    first = _dispatch(db, settings, _later())
    assert [e.kind for e in first] == ["event_invitation"]
    _one_click(app, first[0])
    _invite_everyone(db, app, "Second meet-up")
    assert _dispatch(db, settings, _later()) == []
    h.call(db, factories.funder(db), topic_ids=(ts[0].id,))
    assert [e.to for e in _digests(db, settings, W48, h.NOW)] == [guest.email]


def test_event_news_reminder_one_click_stops_later_event_emails(app, db, settings) -> None:
    """Event news (reminders, updates) to a subscriber who also takes funding and event news in the digest."""
    ts = h.topics(db)
    guest = factories.contact(db, "Coming Guest", "coming@example.org")
    h.subscription(db, guest.email, topic_ids=(ts[0].id,), mailings=("funding_digest", "event_news"))
    e = ef.event(db, app, days=10)
    inv = ef.invite(db, e, guest)
    from crm.events import rsvp

    rsvp.apply_answer(db, ef.mailer(app), rsvp.lock_event(db, e.id), inv, "yes", None, ef.NOW)
    week = e.starts_at - dt.timedelta(hours=167)
    assert sending.queue_reminders(db, ef.mailer(app), week) == 1
    sent = [x for x in _dispatch(db, settings, _later()) if x.kind == "event_reminder"]
    assert len(sent) == 1
    page = _one_click(app, sent[0])
    assert "Event news" in page
    day = e.starts_at - dt.timedelta(hours=23)
    sending.queue_reminders(db, ef.mailer(app), day)
    assert _dispatch(db, settings, _later()) == []
    # Exactly that stream: the funding digest still comes.
    h.call(db, factories.funder(db), topic_ids=(ts[0].id,))
    assert [x.to for x in _digests(db, settings, W48, h.NOW)] == [guest.email]
