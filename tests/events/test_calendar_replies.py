"""Answers from calendar apps (issue 20.1): the iTIP REPLY that Gmail's and Outlook's own Yes / Maybe / No buttons
email to the organiser address, posted by SendGrid Inbound Parse, counts exactly as an RSVP from the link."""

from __future__ import annotations

import base64
import datetime as dt
import quopri

import pytest
from sqlalchemy import select

from crm import models as m
from crm.events import replies
from tests import factories
from tests.events import factories as f

S = m.InvitationStatus
SECRET = "in-8d1f0c9b7a"


def _reply_ics(uid: str, email: str, partstat: str, *, prodid: str, mailto: str = "mailto") -> str:
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{prodid}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:REPLY",
        "BEGIN:VEVENT",
        "DTSTART:20270601T090000Z",
        "DTEND:20270601T110000Z",
        "DTSTAMP:20261206T101500Z",
        'ORGANIZER;CN="Roundtable events":mailto:hello@roundtable.example.org',
        f"UID:{uid}",
        # Folded as calendar apps fold: a CRLF and a space inside the long ATTENDEE line.
        f'ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};CN="Lovelace, Ada";X-NUM-GUES\r\n TS=0:{mailto}:{email}',
        "SEQUENCE:0",
        "STATUS:CONFIRMED",
        "SUMMARY:Funding call networking\\, London",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


def gmail_reply(uid: str, email: str, partstat: str = "ACCEPTED", sender: str | None = None) -> bytes:
    """As Gmail sends it: multipart/mixed; the calendar inline (7bit) in multipart/alternative and again as a
    base64 invite.ics attachment."""
    ics = _reply_ics(uid, email, partstat, prodid="-//Google Inc//Google Calendar 70.9054//EN")
    b64 = base64.encodebytes(ics.encode()).decode()
    text = base64.encodebytes(b"Ada Lovelace has accepted this invitation.").decode()
    return (
        f"From: Ada Lovelace <{sender or email}>\r\nTo: hello@roundtable.example.org\r\n"
        "Subject: Accepted: Funding call networking, London\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="000000000000a1"\r\n\r\n'
        '--000000000000a1\r\nContent-Type: multipart/alternative; boundary="000000000000b2"\r\n\r\n'
        '--000000000000b2\r\nContent-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{text}\r\n"
        '--000000000000b2\r\nContent-Type: text/calendar; charset="UTF-8"; method=REPLY\r\n'
        f"Content-Transfer-Encoding: 7bit\r\n\r\n{ics}\r\n"
        "--000000000000b2--\r\n"
        '--000000000000a1\r\nContent-Type: application/ics; name="invite.ics"\r\n'
        'Content-Disposition: attachment; filename="invite.ics"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
        "--000000000000a1--\r\n"
    ).encode()


def outlook_reply(uid: str, email: str, partstat: str = "DECLINED") -> bytes:
    """As Outlook sends it: multipart/alternative with a quoted-printable text/calendar; method=REPLY, MAILTO:."""
    ics = _reply_ics(uid, email.upper(), partstat, prodid="Microsoft Exchange Server 2010", mailto="MAILTO")
    qp = quopri.encodestring(ics.encode()).decode()
    return (
        f'From: "Lovelace, Ada" <{email}>\r\nTo: "Roundtable events" <hello@roundtable.example.org>\r\n'
        "Subject: Declined: Funding call networking, London\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="_000_DB9PR0"\r\n\r\n'
        '--_000_DB9PR0\r\nContent-Type: text/plain; charset="us-ascii"\r\n\r\nSorry, I cannot come.\r\n'
        '--_000_DB9PR0\r\nContent-Type: text/calendar; charset="utf-8"; method=REPLY\r\n'
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n"
        "--_000_DB9PR0--\r\n"
    ).encode()


@pytest.fixture
def inbound(app, monkeypatch):
    monkeypatch.setattr(app.state, "settings", app.state.settings.replace(inbound_secret=SECRET))
    return f"/webhooks/sendgrid/inbound/{SECRET}"


def _invited(app, db, email="ada@example.org", **values):
    e = f.event(db, app, now=dt.datetime.now(dt.UTC), **values)
    c = factories.contact(db, "Ada Lovelace", email=email)
    inv = f.invite(db, e, c)
    db.commit()
    return e, inv


def _post_raw(client, url, raw: bytes):
    return client.post(url, data={"email": raw.decode("utf-8", errors="replace"), "from": "x", "to": "y"})


def test_a_gmail_yes_counts_as_an_rsvp_and_is_confirmed(app, db, client, inbound):
    e, inv = _invited(app, db)
    response = _post_raw(client, inbound, gmail_reply(e.uid, "ada@example.org", "ACCEPTED"))
    assert response.status_code == 200
    # The calendar is both inline and attached: one answer recorded, the second copy changes nothing.
    assert response.json()["recorded"] == 1 and response.json()["unchanged"] == 1
    db.expire_all()
    assert db.get(m.Invitation, inv.id).status == S.YES
    answers = list(db.scalars(select(m.RsvpResponse).where(m.RsvpResponse.invitation_id == inv.id)))
    assert [(a.answer, a.source) for a in answers] == [("yes", "calendar")]
    assert db.scalar(select(m.OutboxMessage.kind).where(m.OutboxMessage.kind == "event_confirmation"))
    # The same REPLY again (providers retry): nothing changes.
    again = _post_raw(client, inbound, gmail_reply(e.uid, "ada@example.org", "ACCEPTED"))
    assert again.json()["recorded"] == 0 and again.json()["unchanged"] == 2


def test_an_outlook_no_in_quoted_printable_counts(app, db, client, inbound):
    e, inv = _invited(app, db)
    response = _post_raw(client, inbound, outlook_reply(e.uid, "ada@example.org", "DECLINED"))
    assert response.json()["recorded"] == 1
    db.expire_all()
    assert db.get(m.Invitation, inv.id).status == S.NO


def test_the_same_answer_from_attachments_without_raw_mime(app, db, client, inbound):
    e, inv = _invited(app, db)
    ics = _reply_ics(e.uid, "ada@example.org", "TENTATIVE", prodid="-//Apple Inc.//iOS 18//EN")
    response = client.post(
        inbound,
        data={"from": "Ada Lovelace <ada@example.org>", "attachments": "1"},
        files={"attachment1": ("invite.ics", ics.encode(), "text/calendar")},
    )
    assert response.status_code == 200 and response.json()["recorded"] == 1
    db.expire_all()
    assert db.get(m.Invitation, inv.id).status == S.MAYBE


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda e: gmail_reply("evt-unknown@elsewhere", "ada@example.org"), "no event has UID"),
        (lambda e: gmail_reply(e.uid, "someone@example.org"), "is not invited"),
        (lambda e: gmail_reply(e.uid, "ada@example.org", sender="mallory@example.org"), "was sent by"),
        (lambda e: gmail_reply(e.uid, "ada@example.org", partstat="DELEGATED"), "is not an answer"),
        (lambda e: b"From: ada@example.org\r\nSubject: hi\r\n\r\nJust text", "no calendar"),
        (lambda e: b"\xff\xfe not an email at all", "no calendar"),
    ],
)
def test_unknown_or_malformed_replies_are_dropped_with_a_reason_never_a_500(app, db, client, inbound, make, why):
    e, inv = _invited(app, db)
    response = _post_raw(client, inbound, make(e))
    assert response.status_code == 200
    assert response.json()["recorded"] == 0 and any(why in d for d in response.json()["dropped"])
    db.expire_all()
    assert db.get(m.Invitation, inv.id).status == S.INVITED


def test_a_request_that_is_not_a_reply_is_dropped():
    request = _reply_ics("evt-1@x", "ada@example.org", "ACCEPTED", prodid="x").replace("METHOD:REPLY", "METHOD:REQUEST")
    with pytest.raises(ValueError, match="not REPLY"):
        replies.parse_reply(request)


def test_the_endpoint_needs_its_secret_and_refuses_huge_bodies(app, db, client, inbound):
    assert client.post("/webhooks/sendgrid/inbound/wrong", data={"email": "x"}).status_code == 404
    too_big = b"x" * (replies.MAX_INBOUND_BYTES + 1)
    assert client.post(inbound, content=too_big, headers={"content-type": "text/plain"}).status_code == 413


def test_without_a_secret_the_endpoint_does_not_exist(client):
    assert client.post("/webhooks/sendgrid/inbound/anything", data={"email": "x"}).status_code == 404
