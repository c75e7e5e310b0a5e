"""Issue 16, test / schedule / send: the rules (sending.py), the worker (jobs.py), queueing and the renderer at
dispatch (delivery.py), on both databases."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.campaigns import jobs, queueing, sending
from crm.campaigns.audience import Recipient
from crm.campaigns.audience_segment import Segment
from crm.db import create_session_factory
from crm.domains import EXTENSIONS
from crm.errors import FieldErrors
from crm.mailing import compliance
from crm.mailing.dispatch import drain
from crm.mailing.transports.sendgrid import SendGridTransport
from crm.mailing.transports.smtp_message import MessageBuilder
from crm.tokens import Signer
from tests import factories
from tests.conftest import post_form
from tests.digests import helpers as h
from tests.mailing.fake_sendgrid import FakeSendGrid
from tests.mailing.sendgrid_schema import validate_payload
from tests.mailing.test_unsubscribe_streams import _dispatch, _invite_everyone, _one_click

RENDERERS = EXTENSIONS.deferred_renderers

NEWS = m.Mailing.NEWS.value
BODY = "The **MRC call** is out.\n\nJoin our briefing on Thursday."


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def later() -> dt.datetime:
    return now() + dt.timedelta(minutes=1)


def campaign(db, *, subscribers=True, contacts=False, subject="The MRC call is out", **values) -> m.Campaign:
    seg = Segment(subscribers=subscribers, mailing=NEWS, contacts=contacts)
    c = m.Campaign(subject=subject, body=BODY, audience=seg.to_json(), sender_name="Dr Ada Fellow", **values)
    db.add(c)
    db.flush()
    return c


def reader(db, email: str, mailings=(NEWS,)) -> m.Subscription:
    return h.subscription(db, email, mailings=mailings, name=email.split("@")[0].title())


def count(db, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_send_now_uses_the_audience_at_send_time_and_records_it(db) -> None:
    reader(db, "ann@example.org")
    org = factories.organisation(db, "Invented Housing Trust")
    factories.contact(db, "Bea Contact", "bea@example.org", organisation=org)
    c = campaign(db, contacts=True)
    assert sending.audience_now(db, c).total == 2  # what the page showed
    reader(db, "cal@example.org")  # someone subscribes between the preview and the press
    result = sending.send_now(db, c, now())
    db.commit()
    assert result == sending.SendResult(started=True, queued=True, recipients=3)
    assert c.status == m.CampaignStatus.SENT and c.sent_at is not None and c.recipients == 3
    assert c.audience_summary["included"] == {"subscribers": 2, "contacts": 1}
    rows = db.scalars(select(m.CampaignRecipient).order_by(m.CampaignRecipient.email)).all()
    assert [(r.email, r.part, r.outbox_id is not None) for r in rows] == [
        ("ann@example.org", "subscribers", True),
        ("bea@example.org", "contacts", True),
        ("cal@example.org", "subscribers", True),
    ]
    outbox = db.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.recipient)).all()
    assert [(o.kind, o.idempotency_key, o.mailing, o.bulk, o.text_body) for o in outbox] == [
        ("campaign", f"campaign:{c.id}:ann@example.org", NEWS, True, None),
        ("campaign", f"campaign:{c.id}:bea@example.org", compliance.CONTACT_STREAM, True, None),
        ("campaign", f"campaign:{c.id}:cal@example.org", NEWS, True, None),
    ]
    # A second press (a double click, a second tab) changes nothing and queues nothing.
    again = sending.send_now(db, c, now())
    assert again.started is False and count(db, m.OutboxMessage) == 3


def test_two_presses_racing_start_one_send(db) -> None:
    reader(db, "ann@example.org")
    c = campaign(db)
    db.commit()
    other = create_session_factory(db.get_bind())()
    try:
        twin = other.get(m.Campaign, c.id)
        assert sending.send_now(db, c, now()).started is True
        db.commit()
        assert sending.send_now(other, twin, now()).started is False
        other.commit()
    finally:
        other.close()
    assert count(db, m.OutboxMessage) == 1


def test_refusals_say_what_is_wrong(db) -> None:
    c = campaign(db, subject="  ")
    with pytest.raises(FieldErrors) as no_subject:
        sending.send_now(db, c, now())
    assert "subject" in no_subject.value.errors
    c.subject = "Hello"
    with pytest.raises(FieldErrors) as nobody:  # nobody subscribed to news yet
        sending.send_now(db, c, now())
    assert "Nobody is in this audience" in nobody.value.errors["audience"]
    reader(db, "ann@example.org")
    with pytest.raises(FieldErrors) as past:
        sending.schedule(db, c, "2020-01-01T09:00", now())
    assert "has already passed" in past.value.errors["send_at"]
    with pytest.raises(FieldErrors) as garbled:
        sending.schedule(db, c, "next tuesday", now())
    assert "Enter the date and time" in garbled.value.errors["send_at"]
    assert c.status == m.CampaignStatus.DRAFT and count(db, m.OutboxMessage) == 0


def test_schedule_cancel_and_the_worker_sends_at_the_time(db) -> None:
    reader(db, "ann@example.org")
    c = campaign(db)
    at = sending.schedule(db, c, "2031-06-01T09:30", now())  # London summer time: 08:30 UTC
    assert at == dt.datetime(2031, 6, 1, 8, 30, tzinfo=dt.UTC) and c.status == m.CampaignStatus.SCHEDULED
    sending.cancel(db, c, now())
    assert c.status == m.CampaignStatus.DRAFT and c.send_at is None
    with pytest.raises(FieldErrors):
        sending.cancel(db, c, now())  # nothing to cancel twice
    sending.schedule(db, c, "2031-06-01T09:30", now())
    db.commit()
    factory = create_session_factory(db.get_bind())
    assert jobs.run_campaigns(factory, at - dt.timedelta(minutes=1)) == {}  # not yet
    assert jobs.run_campaigns(factory, at) == {c.id: 1}
    db.expire_all()
    assert db.get(m.Campaign, c.id).status == m.CampaignStatus.SENT
    assert jobs.run_campaigns(factory, at + dt.timedelta(minutes=1)) == {}  # nothing twice


def test_a_crash_after_the_first_batch_resumes_without_duplicates(db, monkeypatch) -> None:
    for i in range(7):
        reader(db, f"r{i}@example.org")
    c = campaign(db)
    assert sending.send_now(db, c, now()).started  # small: queued in the request; reset to test the worker
    db.execute(m.OutboxMessage.__table__.delete())
    db.execute(m.CampaignRecipient.__table__.delete())
    c.status, c.recipients = m.CampaignStatus.SENDING, 0
    db.commit()
    monkeypatch.setattr(queueing, "BATCH_SIZE", 3)

    def crash(batch: int) -> None:
        db.commit()
        if batch == 1:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        sending.run_send(db, c, now(), after_batch=crash)
    db.rollback()
    assert count(db, m.OutboxMessage) == 3 and db.get(m.Campaign, c.id).status == m.CampaignStatus.SENDING
    done = jobs.run_campaigns(create_session_factory(db.get_bind()), now())
    assert done == {c.id: 4}
    db.expire_all()
    assert count(db, m.OutboxMessage) == 7 == count(db, m.CampaignRecipient, m.CampaignRecipient.outbox_id.is_not(None))
    assert db.get(m.Campaign, c.id).recipients == 7


def test_dispatch_renders_each_email_for_its_stream(db, settings) -> None:
    reader(db, "ann@example.org")
    org = factories.organisation(db, "Invented Housing Trust")
    factories.contact(db, "Bea Contact", "bea@example.org", organisation=org)
    c = campaign(db, contacts=True, track_opens=True, track_clicks=True, publish_as_news=True)
    sending.send_now(db, c, now())
    sent = {e.to: e for e in _dispatch(db, settings, later())}
    assert set(sent) == {"ann@example.org", "bea@example.org"}
    for email, stream in (("ann@example.org", NEWS), ("bea@example.org", compliance.CONTACT_STREAM)):
        e = sent[email]
        assert e.kind == "campaign" and e.subject == "The MRC call is out" and "MRC call" in e.text
        assert e.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert e.headers["List-Id"].startswith(f"<{stream.replace('_', '-')}.")
        token = re.search(r"/u/([^>]+)>", e.headers["List-Unsubscribe"]).group(1)
        assert compliance.unsubscribe_payload(_signer(settings), token) == (email, stream)
        assert e.tracking == frozenset({"opens", "clicks"}) and e.from_name == "Dr Ada Fellow"
        assert "/news/" in e.html  # published as news: "View in your browser"
    stored = db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.recipient == "ann@example.org")).one()
    assert stored.status == m.OutboxStatus.SENT and "tracking" not in str(stored.parts.headers)
    # SMTP writes the campaign's sender name on From (the site's address).
    head = "\r\n".join(MessageBuilder(settings).headers(sent["ann@example.org"], "<x@example.org>"))
    assert re.search(r'^From: "Dr Ada Fellow" <hello@', head, re.M)


def _signer(settings):
    return Signer(settings)


def test_test_send_goes_to_the_admin_now(db, app) -> None:
    c = campaign(db)
    state = app.state
    assert sending.send_test(db, state.renderer, state.signer, c, email="fellow@example.org", name="Ada", now=now())
    row = db.scalars(select(m.OutboxMessage)).one()
    assert (row.kind, row.recipient, row.bulk) == ("campaign_test", "fellow@example.org", False)
    assert row.subject == "[Test] The MRC call is out" and "MRC call" in row.text_body
    assert c.status == m.CampaignStatus.DRAFT  # a test changes nothing of the campaign


def test_a_subscriber_who_unsubscribes_after_queueing_gets_nothing_and_is_left_out_next_time(app, db, settings):
    reader(db, "ann@example.org")
    reader(db, "bob@example.org")
    first = campaign(db)
    sending.send_now(db, first, now())
    mails = {e.to: e for e in _dispatch(db, settings, later())}
    second = campaign(db, subject="Second")
    sending.send_now(db, second, now())  # queued for both …
    db.commit()
    page = _one_click(app, mails["ann@example.org"])  # … then Ann clicks the first email's one-click link
    assert "News and announcements" in page
    assert [e.to for e in _dispatch(db, settings, later())] == ["bob@example.org"]
    third = campaign(db, subject="Third")
    sending.send_now(db, third, now())
    assert [
        r.email for r in db.scalars(select(m.CampaignRecipient).where(m.CampaignRecipient.campaign_id == third.id))
    ] == ["bob@example.org"]
    assert third.audience_summary["excluded"] == {"unsubscribed from these emails": 1}


def test_a_contact_who_unsubscribes_gets_no_campaign_but_still_event_invitations(app, db, settings) -> None:
    org = factories.organisation(db, "Invented Housing Trust")
    factories.contact(db, "Bea Contact", "bea@example.org", organisation=org)
    factories.contact(db, "Cy Contact", "cy@example.org", organisation=org)
    first = campaign(db, subscribers=False, contacts=True)
    sending.send_now(db, first, now())
    mails = {e.to: e for e in _dispatch(db, settings, later())}
    queued = campaign(db, subscribers=False, contacts=True, subject="Queued before the click")
    sending.send_now(db, queued, now())
    db.commit()
    page = _one_click(app, mails["bea@example.org"])
    assert "emails from the Roundtable fellow" in page and "event" in page
    assert count(db, m.Suppression) == 0  # not "everything"
    assert [e.to for e in _dispatch(db, settings, later())] == ["cy@example.org"]
    nxt = campaign(db, subscribers=False, contacts=True, subject="Next")
    sending.send_now(db, nxt, now())
    assert nxt.recipients == 1
    _invite_everyone(db, app, "Briefing on Thursday")
    assert sorted(e.to for e in _dispatch(db, settings, later()) if e.kind == "event_invitation") == [
        "bea@example.org",
        "cy@example.org",
    ]


def test_the_send_page_tests_confirms_sends_and_refuses(admin_client, db) -> None:
    reader(db, "ann@example.org")
    c = campaign(db)
    db.commit()
    url = f"/admin/campaigns/{c.id}/send"
    page = admin_client.get(url)
    assert page.status_code == 200 and "1 person would get this campaign" in page.text
    tested = post_form(admin_client, url + "/test", follow_redirects=False)
    assert tested.status_code == 303 and "done=tested" in tested.headers["location"]
    assert [r.kind for r in db.scalars(select(m.OutboxMessage))] == ["campaign_test"]
    past = post_form(admin_client, url + "/schedule", {"send_at": "2020-01-01T09:00"})
    assert past.status_code == 422 and "has already passed" in past.text and "There is a problem" in past.text
    confirm = admin_client.get(url + "/confirm")
    assert "Send to 1 person now?" in confirm.text and "Yes, send to 1 person now" in confirm.text
    sent = post_form(admin_client, url + "/now", follow_redirects=False)
    assert "done=queued&n=1" in sent.headers["location"]
    again = post_form(admin_client, url + "/now", follow_redirects=False)
    assert "done=already" in again.headers["location"]
    assert "nothing was sent twice" in admin_client.get(again.headers["location"]).text
    db.expire_all()
    assert count(db, m.OutboxMessage, m.OutboxMessage.kind == "campaign") == 1


def test_schedule_and_cancel_on_the_page(admin_client, db) -> None:
    reader(db, "ann@example.org")
    c = campaign(db)
    db.commit()
    url = f"/admin/campaigns/{c.id}/send"
    done = post_form(admin_client, url + "/schedule", {"send_at": "2031-06-01T09:30"})
    assert done.status_code == 200 and "Scheduled for" in done.text and "Cancel scheduled send" in done.text
    cancelled = post_form(admin_client, url + "/cancel")
    assert "The scheduled send is cancelled" in cancelled.text
    db.expire_all()
    assert db.get(m.Campaign, c.id).status == m.CampaignStatus.DRAFT


def test_2500_recipients_go_out_through_sendgrid_in_3_requests(db, settings) -> None:
    c = campaign(db, track_opens=True)
    people = [
        Recipient(f"p{i}@example.org", f"Person {i}", "contacts", None, None, compliance.CONTACT_STREAM, "Because.")
        for i in range(2500)
    ]
    c.status = m.CampaignStatus.SENDING
    queueing.queue_recipients(db, c.id, people, now())
    db.commit()
    with FakeSendGrid() as fake:
        transport = SendGridTransport(
            settings.replace(sendgrid_api_url=fake.url, sendgrid_api_key="SG.test", mail_rate_per_second=0.0)
        )
        try:
            stats = drain(create_session_factory(db.get_bind()), transport, settings, now=later(), renderers=RENDERERS)
        finally:
            transport.close()
    assert fake.request_count == 3 and fake.personalizations == 2500 and stats.sent == 2500
    for request in fake.requests:
        body = request["json"]
        validate_payload(body)
        assert body["tracking_settings"]["open_tracking"] == {"enable": True}
        assert body["tracking_settings"]["click_tracking"]["enable"] is False
        assert body["from"]["name"] == "Dr Ada Fellow"
        assert all(
            p["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for p in body["personalizations"]
        )


def test_queueing_costs_two_statements_per_1000_whatever_n(db, count_queries) -> None:
    c = campaign(db)
    c.status = m.CampaignStatus.SENDING
    db.flush()

    def people(start: int, n: int) -> list[Recipient]:
        return [
            Recipient(f"q{i}@example.org", "", "subscribers", None, None, NEWS, "Because.")
            for i in range(start, start + n)
        ]

    with count_queries() as small:
        queueing.queue_recipients(db, c.id, people(0, 2000), now())
    with count_queries() as large:
        queueing.queue_recipients(db, c.id, people(2000, 4000), now())
    assert (small.count, large.count) == (4, 8)
    with count_queries() as again:  # a resumed run: the same rows again insert nothing
        stats = queueing.queue_recipients(db, c.id, people(0, 6000), now())
    assert again.count == 12 and (stats.queued, stats.already) == (0, 6000)
    assert count(db, m.OutboxMessage) == 6000 == count(db, m.CampaignRecipient)


def test_a_refusal_on_a_sent_campaign_is_named_on_the_page(admin_client, db) -> None:
    reader(db, "ann@example.org")
    c = campaign(db)
    sending.send_now(db, c, now())
    db.commit()
    page = post_form(admin_client, f"/admin/campaigns/{c.id}/send/cancel")
    assert page.status_code == 422 and 'href="#f-campaign"' in page.text and 'id="f-campaign"' in page.text
    assert "not scheduled: nothing to cancel" in page.text


def test_an_audience_that_empties_before_the_send_leaves_a_draft_and_says_so(db, monkeypatch) -> None:
    leaving = reader(db, "ann@example.org")
    c = campaign(db)
    preview = sending.audience_now(db, c)  # Ann is there when the page is read …
    leaving.status = m.SubscriptionStatus.UNSUBSCRIBED  # … and gone when the send resolves the audience
    db.flush()
    monkeypatch.setattr(sending, "audience_now", lambda *_: preview)
    with pytest.raises(FieldErrors) as empty:
        sending.send_now(db, c, now())
    assert "Nobody was in the audience" in empty.value.errors["audience"]
    assert c.status == m.CampaignStatus.DRAFT and c.started_at is None and count(db, m.OutboxMessage) == 0
    assert c.audience_summary["note"] == sending.EMPTY_NOTE
