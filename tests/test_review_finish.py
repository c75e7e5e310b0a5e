"""What the screenshot review of issue 22 fixed, where a test can see it: the outbox speaks in words (kinds and
statuses by name, a filter by kind, technical details folded away), and the admin header links back to the site."""

from __future__ import annotations

from sqlalchemy import select

from crm import models as m
from crm.mailing.outbox import enqueue
from tests.events.factories import event as f_event


def _queue(db, app, key: str, kind: str, template: str) -> int:
    context = {"link": "http://x/", "minutes": 15, "name": "Ada"}
    message_id = enqueue(
        db, app.state.renderer, key=key, kind=kind, to=f"{key}@example.org", template=template, context=context
    )
    db.commit()
    assert message_id is not None
    return message_id


def test_the_outbox_names_each_kind_and_filters_by_it(admin_client, app, db):
    _queue(db, app, "a", "sign_in", "sign_in")
    _queue(db, app, "b", "event_cancel", "sign_in")  # a kind whose template has another name
    page = admin_client.get("/admin/mail")
    assert page.status_code == 200
    assert ">Sign-in link</td>" in page.text and ">sign_in<" not in page.text
    assert '<option value="sign_in">Sign-in link</option>' in page.text
    assert '<option value="event_cancelled">Event cancelled</option>' in page.text
    assert ">Queued</span>" in page.text  # the status badge in words, not "queued"

    only = admin_client.get("/admin/mail", params={"kind": "sign_in"})
    assert "a@example.org" in only.text and "b@example.org" in only.text  # b's template is sign_in
    none = admin_client.get("/admin/mail", params={"kind": "event_offer"})
    assert "a@example.org" not in none.text and "No messages match these filters" in none.text


def test_a_message_page_keeps_the_technical_details_folded(admin_client, app, db):
    message_id = _queue(db, app, "c", "sign_in", "sign_in")
    row = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.id == message_id))
    page = admin_client.get(f"/admin/mail/{message_id}")
    assert page.status_code == 200
    assert "<dt>Kind</dt><dd>Sign-in link</dd>" in page.text
    assert "Not reported yet" in page.text and "no provider event yet" not in page.text
    assert "<dt>Last error</dt>" not in page.text  # shown only when there is one
    folded = page.text.split("<summary>Technical details</summary>", 1)
    assert len(folded) == 2 and row.idempotency_key in folded[1]


def test_the_admin_header_links_to_the_public_site(admin_client):
    page = admin_client.get("/admin")
    assert 'class="wrap header-row header-admin"' in page.text
    assert '<a href="/">Public site</a>' in page.text


def test_an_event_page_says_its_timings_in_words_and_folds_the_calendar_uid(admin_client, app, db):
    e = f_event(db, app, reminder_offsets_hours=[168, 24], offer_hold_hours=48, offers_stop_hours=24)
    db.commit()
    page = admin_client.get(f"/admin/events/{e.id}")
    assert page.status_code == 200
    assert "7 days and 24 hours before the start" in page.text and "168 h" not in page.text
    assert "held for 2 days; no offers in the last 24 hours" in page.text
    folded = page.text.split("<summary>Technical details</summary>", 1)
    assert len(folded) == 2 and e.uid in folded[1] and e.uid not in folded[0]


def test_a_subscriber_page_and_badges_use_words(admin_client, db):
    sub = m.Subscription(email="sam@example.org", name="Sam", mailings=["funding_digest"])
    db.add(sub)
    db.commit()
    page = admin_client.get(f"/admin/subscribers/{sub.id}")
    assert page.status_code == 200
    assert "<dd>All topics</dd>" in page.text and "<dd>The whole UK</dd>" in page.text
    assert ">No</dd>" in page.text and "<dd>Not confirmed</dd>" in page.text
    assert '<span class="badge badge-pending">Pending</span>' in page.text
    listing = admin_client.get("/admin/subscribers")
    assert '<span class="badge badge-pending">Pending</span>' in listing.text
