"""After a yes: a "you have a place" email with the calendar updated (PARTSTAT=ACCEPTED, same UID and SEQUENCE);
someone on the waitlist never holds a calendar that says they are confirmed (issue 20.2)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm import models as m
from crm.events import guests, rsvp
from crm.mailing.transports.base import OutgoingEmail
from crm.mailing.transports.sendgrid import build_payload
from tests import factories
from tests.events import factories as f
from tests.events.factories import NOW
from tests.events.test_calendar import parse, raw_checks
from tests.mailing.sendgrid_schema import validate_payload

S = m.InvitationStatus


def _confirmations(db) -> list[m.OutboxMessage]:
    return list(
        db.scalars(
            select(m.OutboxMessage).where(m.OutboxMessage.kind == "event_confirmation").order_by(m.OutboxMessage.id)
        )
    )


def _answer(db, app, e, inv, value, now=NOW):
    return rsvp.apply_answer(db, f.mailer(app), rsvp.lock_event(db, e.id), inv, value, None, now)


def test_a_yes_is_confirmed_with_the_calendar_showing_them_as_coming(app, db, settings):
    e = f.event(db, app, capacity=5)
    person = factories.contact(db, name="Ada Lovelace", email="ada@example.org")
    inv = f.invite(db, e, person)
    assert _answer(db, app, e, inv, "yes").status == S.YES
    [mail] = _confirmations(db)
    assert mail.recipient == "ada@example.org" and mail.subject == f"You have a place: {e.title}"
    assert "You have a place at this event" in mail.text_body and "/rsvp/" in mail.text_body
    [calendar] = mail.attachments
    assert calendar["method"] == "REQUEST"
    unfolded = raw_checks(calendar["content"], "REQUEST")
    _, vevent = parse(calendar["content"])
    assert str(vevent["UID"]) == e.uid and int(vevent["SEQUENCE"]) == e.sequence  # the same event, not a new one
    assert str(vevent["STATUS"]) == "CONFIRMED"
    attendee = next(line for line in unfolded if line.startswith("ATTENDEE"))
    assert "PARTSTAT=ACCEPTED" in attendee and "ada@example.org" in attendee
    email = OutgoingEmail(
        outbox_id=mail.id,
        kind=mail.kind,
        to=mail.recipient,
        to_name=mail.recipient_name,
        subject=mail.subject,
        text=mail.text_body,
        html=mail.html_body,
        headers=dict(mail.headers),
        attachments=list(mail.attachments),
        bulk=mail.bulk,
    )
    validate_payload(build_payload(email, settings))
    # The same yes again confirms nothing new; no, then yes again, confirms again.
    _answer(db, app, e, inv, "yes")
    assert len(_confirmations(db)) == 1
    _answer(db, app, e, inv, "no", now=NOW + dt.timedelta(minutes=1))
    _answer(db, app, e, inv, "yes", now=NOW + dt.timedelta(minutes=2))
    assert len(_confirmations(db)) == 2


def test_the_waitlist_gets_no_confirmation_and_a_tentative_calendar_until_a_place_is_accepted(app, db):
    e = f.event(db, app, capacity=1)
    first, second = factories.contact(db), factories.contact(db, email="waiting@example.org")
    inv_first, inv_second = f.invite(db, e, first), f.invite(db, e, second)
    _answer(db, app, e, inv_first, "yes")
    assert _answer(db, app, e, inv_second, "yes").status == S.WAITLISTED
    assert [c.recipient for c in _confirmations(db)] == [first.email]
    text = guests.current_ics(db, f.mailer(app), e, inv_second, second, NOW)
    _, vevent = parse(text)
    assert str(vevent["STATUS"]) == "TENTATIVE" and "STATUS:CONFIRMED" not in text
    assert "PARTSTAT=TENTATIVE" in text.replace("\r\n ", "")
    # The place frees up, is offered and accepted: now it is confirmed, by email and in the calendar.
    _answer(db, app, e, inv_first, "no", now=NOW + dt.timedelta(minutes=1))
    offer = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.kind == "event_offer"))
    token = offer.text_body.split("/waitlist-offer/")[1].split()[0]
    rsvp.accept_offer(db, f.mailer(app), token, NOW + dt.timedelta(hours=1))
    assert [c.recipient for c in _confirmations(db)] == [first.email, "waiting@example.org"]
    accepted = guests.current_ics(db, f.mailer(app), e, inv_second, second, NOW + dt.timedelta(hours=1))
    assert "STATUS:CONFIRMED" in accepted and "PARTSTAT=ACCEPTED" in accepted.replace("\r\n ", "")


def test_demo_and_approved_requests_are_not_sent_a_confirmation(app, db):
    e = f.event(db, app)
    inv = f.invite(db, e, factories.contact(db))
    rsvp.apply_answer(db, f.mailer(app), rsvp.lock_event(db, e.id), inv, "yes", None, NOW, source="demo")
    assert _confirmations(db) == []
