"""Alerts of a published opportunity to the network: only active members who fit and whose subscription has the
involvement mailing, through the outbox as bulk mail with the stream's one-click unsubscribe, exactly once and
crash-safe; and the one-click "I'm interested" the alert carries."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from crm import models as m
from crm.db import create_session_factory
from crm.domains import EXTENSIONS
from crm.involvement import alerts, editing, network
from crm.involvement.network_jobs import send_alerts
from crm.involvement.rules import INTEREST_CONSENT_WORDING
from crm.mailing.consent import How
from crm.mailing.dispatch import drain
from crm.mailing.transports.base import SendOutcome, SendResult
from crm.runtime import Runtime
from tests import factories
from tests.conftest import post_form
from tests.involvement.network_helpers import join_and_confirm, join_form, link, outbox, path_of
from tests.involvement.opportunities_factory import make_opportunity


@pytest.fixture
def rt(settings):
    runtime = Runtime(settings)
    yield runtime
    runtime.engine.dispose()


class Capture:
    name = "capture"

    def __init__(self) -> None:
        self.sent = []

    def send_many(self, emails):
        self.sent.extend(emails)
        return [SendResult(SendOutcome.SENT, provider_message_id=f"x{e.outbox_id}") for e in emails]


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def _one_click(app, message: m.OutboxMessage) -> str:
    """POST the email's List-Unsubscribe URL without cookies, as a mailbox provider does (RFC 8058)."""
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.match(r"<(https?://[^>]+)>", message.headers["List-Unsubscribe"]).group(1)
    # The footer has its own link to the same stream (enqueue_bulk signs the token twice, so across a second boundary
    # the two differ in their timestamp only).
    assert "/u/" in message.text_body and "/u/" in message.html_body
    with TestClient(app, base_url="http://testserver.local") as fresh:
        r = fresh.post(
            path_of(url),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert r.status_code == 200 and "location" not in r.headers
    return r.text


def test_an_alert_goes_once_to_the_active_members_who_fit_and_want_it(client, db, rt) -> None:
    psychosis, carers = factories.topic(db, "Psychosis"), factories.topic(db, "Carers")
    db.commit()
    join_and_confirm(client, db, "fits@example.org", name="Fits", topics=[str(psychosis.id)])
    join_and_confirm(client, db, "open@example.org", name="Open")
    join_and_confirm(client, db, "elsewhere@example.org", topics=[str(carers.id)])
    join_and_confirm(client, db, "stopped@example.org")
    network.stop_alerts(db, "stopped@example.org", How(mechanism="test"))
    post_form(client, "/involvement/network", join_form("pending@example.org"))  # never confirmed
    opp = make_opportunity(db, topic_ids=[str(psychosis.id)], title="Crisis care advisory group")
    draft = make_opportunity(db, status=m.OpportunityStatus.DRAFT)
    past = make_opportunity(db, days=-2)
    db.commit()
    assert send_alerts(rt) == 2
    mails = outbox(db, "involvement_alert")
    assert sorted(x.recipient for x in mails) == ["fits@example.org", "open@example.org"]
    for mail in mails:
        sub = db.scalar(select(m.Subscription).where(m.Subscription.email == mail.recipient))
        assert mail.bulk and mail.mailing == "involvement" and mail.subscription_id == sub.id
        assert mail.idempotency_key.startswith(f"involvement:alert:{opp.id}:")
        assert mail.subject == "New opportunity: Crisis care advisory group"
        assert "/involvement/network/interested/" in mail.text_body and "/involvement/network/you/" in mail.text_body
        assert alerts.WHY in mail.text_body and "£25 per meeting, plus expenses" in mail.text_body
        assert mail.headers["List-Id"].startswith("<involvement.")
    db.expire_all()
    assert db.get(m.InvolvementOpportunity, opp.id).alerted_at is not None
    assert db.get(m.InvolvementOpportunity, draft.id).alerted_at is None
    assert db.get(m.InvolvementOpportunity, past.id).alerted_at is None
    # Exactly once: the next run finds nothing, and even a run that missed the claim could not queue them twice.
    assert send_alerts(rt) == 0
    db.get(m.InvolvementOpportunity, opp.id).alerted_at = None
    db.commit()
    assert send_alerts(rt) == 0 and _count(db, m.OutboxMessage) == len(outbox(db, "involvement_network_confirm")) + 2


def test_a_crash_while_queueing_leaves_the_opportunity_to_the_next_run(client, db, rt, monkeypatch) -> None:
    join_and_confirm(client, db, "one@example.org")
    opp = make_opportunity(db)
    db.commit()

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(alerts, "enqueue_bulk_many", broken)
    assert send_alerts(rt) == 0
    db.expire_all()
    assert db.get(m.InvolvementOpportunity, opp.id).alerted_at is None and outbox(db, "involvement_alert") == []
    monkeypatch.undo()
    assert send_alerts(rt) == 1 and len(outbox(db, "involvement_alert")) == 1


def test_the_alert_costs_the_same_statements_for_two_members_or_six(client, db, rt, count_queries) -> None:
    counts = []
    for n in (2, 6):
        for i in range(n - len(outbox(db, "involvement_network_confirm"))):
            join_and_confirm(client, db, f"member{n}-{i}@example.org")
        make_opportunity(db)
        db.commit()
        with count_queries(rt.engine) as q:
            assert send_alerts(rt) == n
        counts.append(q.count)
    assert counts[0] == counts[1], counts


def test_one_click_unsubscribe_stops_the_involvement_stream_and_a_queued_alert(app, client, db, rt, settings) -> None:
    join_and_confirm(client, db, "reader@example.org")
    join_and_confirm(client, db, "control@example.org")
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "reader@example.org"))
    sub.mailings = [*sub.mailings, "news"]
    make_opportunity(db)
    db.commit()
    send_alerts(rt)
    (first,) = outbox(db, "involvement_alert", "reader@example.org")
    drain(create_session_factory(db.get_bind()), Capture(), settings, renderers=EXTENSIONS.deferred_renderers)
    make_opportunity(db)
    db.commit()
    send_alerts(rt)  # a second alert queued, not yet sent
    page = _one_click(app, first)
    assert "Involvement opportunities" in page
    db.expire_all()
    sub = db.get(m.Subscription, sub.id)
    assert sub.mailings == ["news"] and sub.status == m.SubscriptionStatus.ACTIVE  # exactly that stream
    assert network.by_email(db, "reader@example.org").status == m.NetworkMemberStatus.ACTIVE  # still a member
    drain(create_session_factory(db.get_bind()), Capture(), settings, renderers=EXTENSIONS.deferred_renderers)
    statuses = sorted((x.recipient, x.status.value) for x in outbox(db, "involvement_alert"))
    assert statuses == [
        ("control@example.org", "sent"),
        ("control@example.org", "sent"),
        ("reader@example.org", "sent"),
        ("reader@example.org", "suppressed"),
    ]
    # A third opportunity: the reader is not even queued.
    make_opportunity(db)
    db.commit()
    assert send_alerts(rt) == 1


def test_im_interested_in_one_click_from_the_alert(client, db, rt) -> None:
    member = join_and_confirm(client, db, "keen@example.org", name="Keen Person")
    opp = make_opportunity(db, title="Speak at our conference")
    db.commit()
    send_alerts(rt)
    url = link(outbox(db, "involvement_alert")[0], "/involvement/network/interested/")
    page = client.get(url)
    assert page.status_code == 200 and INTEREST_CONSENT_WORDING in page.text and "Keen Person" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert _count(db, m.InvolvementInterest) == 0  # a mail scanner's GET changes nothing
    r = post_form(client, url, {"note": "I would love to."})
    assert r.status_code == 200 and "We have told the team" in r.text
    db.expire_all()
    interest = db.scalar(select(m.InvolvementInterest))
    assert (interest.member_id, interest.email, interest.source, interest.note) == (
        member.id,
        "keen@example.org",
        "interest",
        "I would love to.",
    )
    assert interest.consent_wording == INTEREST_CONSENT_WORDING
    (told,) = outbox(db, "involvement_interest")
    assert told.recipient == "poster@example.org" and "Keen Person" in told.text_body
    assert "keen@example.org" not in told.text_body  # the poster sees the rest behind their sign-in
    # Twice: nothing lost, nothing doubled.
    again = post_form(client, url, {"note": ""})
    assert again.status_code == 200 and "You had already told them" in again.text
    assert (
        _count(db, m.InvolvementInterest) == 1 and db.scalar(select(m.InvolvementInterest.note)) == "I would love to."
    )
    assert "You have already told them" in client.get(url).text
    # Closed: a clear page, and what they typed is still there.
    editing.close(db, db.get(m.InvolvementOpportunity, opp.id), dt.datetime.now(dt.UTC))
    db.commit()
    closed = post_form(client, url, {"note": "Still keen"})
    assert closed.status_code == 409 and "has closed" in closed.text
    assert "has closed" in client.get(url).text


def test_the_interest_link_stops_when_the_member_has_left(client, db, rt, settings) -> None:
    member = join_and_confirm(client, db, "brief@example.org")
    make_opportunity(db)
    db.commit()
    send_alerts(rt)
    url = link(outbox(db, "involvement_alert")[0], "/involvement/network/interested/")
    post_form(client, path_of(network.leave_url(client.app.state.signer, settings.base_url, member)))
    r = client.get(url)
    assert r.status_code == 400 and "membership has ended" in r.text
    assert client.get(url[:-3] + "xyz").status_code == 400


@pytest.mark.postgres
def test_two_workers_at_once_alert_an_opportunity_once(client, db, rt) -> None:
    """The claim is a conditional UPDATE: a second worker's claim waits for the first transaction and then finds the
    opportunity already alerted, so nobody gets the alert twice even when the scheduler lock is lost."""
    join_and_confirm(client, db, "once@example.org")
    opp = make_opportunity(db)
    db.commit()
    first = rt.session_factory()
    second_result: list = []
    try:
        assert alerts.alert(first, rt.renderer, rt.signer, opp.id, dt.datetime.now(dt.UTC)) == 1  # not committed

        def second_worker() -> None:
            with rt.session_factory() as other:
                second_result.append(alerts.alert(other, rt.renderer, rt.signer, opp.id, dt.datetime.now(dt.UTC)))
                other.commit()

        thread = threading.Thread(target=second_worker)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting for the first worker's row lock
        first.commit()
        thread.join(timeout=10)
        assert second_result == [None]
    finally:
        first.close()
    assert len(outbox(db, "involvement_alert")) == 1
