"""What the SMTP transport puts on the wire is valid RFC 5322: real messages (a digest, an invitation and its
cancellation with their calendars, a transactional email) drained through the dispatcher into a local aiosmtpd
sink and read back with Python's email parser and as raw bytes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import re
from email import policy
from email.utils import parseaddr, parsedate_to_datetime

import pytest
from sqlalchemy import select

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods
from crm.domains import EXTENSIONS
from crm.events import audience, lifecycle
from crm.events.audience import AudienceFilter
from crm.mailing.dispatch import drain
from crm.mailing.outbox import enqueue
from crm.mailing.transports.base import OutgoingEmail, SendOutcome
from crm.mailing.transports.sendgrid import build_payload
from crm.mailing.transports.smtp import SMTPTransport
from tests import factories
from tests.digests import helpers as h
from tests.events import factories as f

REQUIRED = ("Date", "Message-ID", "From", "To", "Subject", "MIME-Version")
DATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
)
LONG_LINK = "https://example.org/very-long/" + "a" * 3000


def _raw_header(raw: bytes, name: str) -> str:
    """A header exactly as on the wire, unfolded (CRLF + space removed), never decoded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    match = re.search(rf"^{name}:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.MULTILINE | re.IGNORECASE)
    assert match, f"no {name} header"
    return re.sub(r"\r\n(?=[ \t])", "", match.group(1)).strip()


def _queue_every_kind(app, db, settings) -> None:
    # A weekly digest, rendered at dispatch.
    topic = h.topics(db)[0]
    h.call(db, factories.funder(db, "Invented Trust"), "Peer support & recovery", topic_ids=(topic.id,))
    h.subscription(db, "sam@example.org", name="Sam", topic_ids=(topic.id,))
    db.commit()
    engine.run_period(create_session_factory(db.get_bind()), settings, periods.parse(h.WEEK), now=h.NOW)
    # An event invitation (METHOD:REQUEST), then its cancellation (METHOD:CANCEL).
    e = f.event(db, app)
    factories.contact(db, organisation=factories.organisation(db, kind=m.OrgKind.VCSE), email="guest@example.org")
    db.commit()
    assert audience.send(db, f.mailer(app), None, e, AudienceFilter(org_kinds=("vcse",)), f.NOW).invited == 1
    assert lifecycle.cancel_event(db, f.mailer(app), None, e, f.NOW) == 1
    # A transactional email with a non-ASCII name and a 3,000-character line in both parts.
    enqueue(
        db,
        app.state.renderer,
        key="sign-in-zoe",
        kind="sign_in",
        to="zoe@example.org",
        to_name="Zoë Ångström",
        context={"link": LONG_LINK, "minutes": 15, "name": "Zoë"},
    )
    db.commit()


def test_digest_invitation_cancellation_and_sign_in_are_valid_rfc5322_on_the_wire(app, db, settings, smtp_sink):
    handler, port = smtp_sink
    _queue_every_kind(app, db, settings)
    kinds = dict(db.execute(select(m.OutboxMessage.id, m.OutboxMessage.kind)).all())
    assert sorted(kinds.values()) == ["digest", "event_cancel", "event_invitation", "sign_in"]
    smtp = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=port)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    transport = SMTPTransport(smtp)
    try:
        stats = drain(create_session_factory(db.get_bind()), transport, smtp, renderers=EXTENSIONS.deferred_renderers)
    finally:
        transport.close()
    assert stats.sent == 4 and len(handler.messages) == 4

    our_domain = parseaddr(settings.mail_from)[1].rsplit("@", 1)[1]
    seen: dict[str, email.message.EmailMessage] = {}
    message_ids = set()
    for envelope in handler.messages:
        raw = envelope.content
        msg = email.message_from_bytes(raw, policy=policy.default)
        kind = kinds[int(msg["X-CRM-Outbox-Id"])]
        seen[kind] = msg
        # Required headers, each exactly once.
        for name in REQUIRED:
            assert len(msg.get_all(name) or []) == 1, (kind, name)
        assert DATE.match(_raw_header(raw, "Date")), _raw_header(raw, "Date")
        assert started <= parsedate_to_datetime(msg["Date"]) <= dt.datetime.now(dt.UTC)
        assert re.fullmatch(rf"<[^<>@\s]+@{re.escape(our_domain)}>", _raw_header(raw, "Message-ID"))
        message_ids.add(msg["Message-ID"])
        assert msg["MIME-Version"] == "1.0"
        assert msg["From"].addresses[0].addr_spec == parseaddr(settings.mail_from)[1]
        assert msg["To"].addresses[0].addr_spec == envelope.rcpt_tos[0]
        assert msg["Subject"].strip()
        # Lines within 998 octets, CRLF line ends, 7-bit-safe headers.
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998, kind
        assert b"\n" not in raw.replace(b"\r\n", b"")
        assert raw.split(b"\r\n\r\n", 1)[0].isascii(), kind
        # Text before HTML in multipart/alternative.
        alternative = next(p for p in msg.walk() if p.get_content_type() == "multipart/alternative")
        types = [p.get_content_type() for p in alternative.iter_parts()]
        assert types[:2] == ["text/plain", "text/html"], (kind, types)
        # RFC 8058 on bulk mail only, the URIs written literally (never RFC 2047 encoded words).
        if kind == "sign_in":
            assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
            continue
        assert re.fullmatch(r"<https?://[^<>\s]+/u/[^<>\s]+>, <mailto:[^<>\s]+>", _raw_header(raw, "List-Unsubscribe"))
        assert _raw_header(raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert len(message_ids) == 4

    # The calendar part carries METHOD, equal to the calendar's own, and the .ics attachment has the same bytes.
    for kind, method in (("event_invitation", "REQUEST"), ("event_cancel", "CANCEL")):
        msg = seen[kind]
        alternative = next(p for p in msg.walk() if p.get_content_type() == "multipart/alternative")
        parts = list(alternative.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html", "text/calendar"]
        assert parts[2].get_param("method") == method
        assert f"\r\nMETHOD:{method}\r\n" in parts[2].get_content()
        ics = next(p for p in msg.walk() if p.get_filename() == "invite.ics")
        assert ics.get_content_type() == "application/ics"
        assert ics.get_payload(decode=True) == parts[2].get_payload(decode=True)
    assert not any(p.get_content_type() == "text/calendar" for p in seen["digest"].walk())

    # The long line survived a transfer encoding intact; the non-ASCII name was encoded and reads back.
    sign_in = seen["sign_in"]
    assert sign_in["To"].addresses[0].display_name == "Zoë Ångström"
    plain, html = (p for p in sign_in.walk() if p.get_content_maintype() == "text")
    assert LONG_LINK in plain.get_content() and LONG_LINK in html.get_content()
    assert plain["Content-Transfer-Encoding"] in {"quoted-printable", "base64"}

    # SendGrid writes Date and Message-ID itself: our payloads never carry either.
    for row in db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind != "digest")):
        out = OutgoingEmail(
            row.id,
            row.kind,
            row.recipient,
            row.recipient_name,
            row.subject,
            row.text_body or "",
            row.html_body or "",
            dict(row.headers),
            list(row.attachments),
            row.bulk,
        )
        headers = {k.lower() for k in build_payload(out, settings)["personalizations"][0].get("headers", {})}
        assert not headers & {"date", "message-id"}


ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:{}\r\nBEGIN:VEVENT\r\nUID:e@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


@pytest.mark.parametrize(
    ("headers", "attachments", "error"),
    [
        ({"Date": "Mon, 01 Jan 2001 00:00:00 +0000"}, [], "header Date is written by the transport"),
        ({"message-id": "<x@y>"}, [], "header message-id is written by the transport"),
        ({"List-Unsubscribe": "<https://x/u/é>"}, [], "must be ASCII"),
        (
            {},
            [{"kind": "calendar", "method": "CANCEL", "content": ICS.format("REQUEST")}],
            "METHOD (REQUEST) is not CANCEL",
        ),
        ({}, [{"kind": "calendar", "method": "PUBLISH", "content": ICS.format("PUBLISH")}], "REQUEST or CANCEL"),
        ({}, [{"kind": "zip", "content": "x"}], "unknown attachment kind"),
    ],
)
def test_a_message_that_would_be_invalid_fails_with_its_reason_and_sends_nothing(
    settings, smtp_sink, headers, attachments, error
):
    handler, port = smtp_sink
    bad = OutgoingEmail(1, "k", "a@example.org", "", "s", "t", "", headers=headers, attachments=attachments)
    good = OutgoingEmail(2, "k", "b@example.org", "", "s", "t", "")
    smtp = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=port)
    transport = SMTPTransport(smtp)
    try:
        first, second = transport.send_many([bad, good])
    finally:
        transport.close()
    assert first.outcome == SendOutcome.FAILED and error in first.error
    assert second.outcome == SendOutcome.SENT
    assert [env.rcpt_tos for env in handler.messages] == [["b@example.org"]]
