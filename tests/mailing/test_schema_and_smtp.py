"""Every kind of email we send validates against SendGrid's official Mail Send schema; SMTP against aiosmtpd."""

from __future__ import annotations

import base64
import email
import socket
from email import policy

from sqlalchemy import select

from crm import models as m
from crm.mailing.outbox import enqueue, enqueue_bulk
from crm.mailing.transports.base import OutgoingEmail, SendOutcome
from crm.mailing.transports.sendgrid import build_payload, iter_payloads
from crm.mailing.transports.smtp import SMTPTransport
from crm.settings import Settings
from tests.mailing.sendgrid_schema import schema_errors, validate_payload

ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Roundtable//CRM//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:evt-1@crm.example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
NOTICE = {"subject": "News", "intro": "Hello", "items": [{"title": "T", "summary": "S", "url": "https://x"}]}


def _outgoing(row: m.OutboxMessage) -> OutgoingEmail:
    return OutgoingEmail(
        outbox_id=row.id,
        kind=row.kind,
        to=row.recipient,
        to_name=row.recipient_name,
        subject=row.subject,
        text=row.text_body or "",
        html=row.html_body or "",
        headers=dict(row.headers),
        attachments=list(row.attachments),
        bulk=row.bulk,
    )


def _every_kind(db, app) -> list[OutgoingEmail]:
    r, s = app.state.renderer, app.state.signer
    enqueue(
        db,
        r,
        key="a",
        kind="sign_in",
        to="a@example.org",
        to_name="Ann, Smith; Jr",
        template="sign_in",
        context={"link": "https://x/l", "minutes": 15, "name": "Ann"},
    )
    enqueue(
        db,
        r,
        key="b",
        kind="subscription_confirm",
        to="b@example.org",
        template="subscription_confirm",
        context={"name": "B", "confirm_url": "https://x/c", "mailings": ["Funding-call digest"], "hours": 48},
    )
    enqueue(
        db,
        r,
        key="c",
        kind="subscription_manage",
        to="c@example.org",
        template="subscription_manage",
        context={"name": "", "preferences_url": "https://x/p"},
    )
    for i in range(3):
        enqueue_bulk(
            db,
            r,
            s,
            key=f"d{i}",
            kind="funding_digest",
            to=f"d{i}@example.org",
            template="subscription_notice",
            context=NOTICE,
            why="You subscribed.",
            mailing="funding_digest",
        )
    for method in ("REQUEST", "CANCEL"):
        enqueue_bulk(
            db,
            r,
            s,
            key=f"e-{method}",
            kind="event_invite",
            to=f"e-{method.lower()}@example.org",
            template="subscription_notice",
            context=NOTICE,
            why="You are a contact.",
            mailing="event_news",
            attachments=[
                {
                    "kind": "calendar",
                    "method": method,
                    "content": ICS.replace("METHOD:REQUEST", f"METHOD:{method}"),
                    "filename": "invite.ics",
                }
            ],
        )
    enqueue(
        db,
        r,
        key="f",
        kind="report",
        to="f@example.org",
        template="subscription_manage",
        context={"name": "", "preferences_url": "https://x/p"},
        attachments=[
            {
                "kind": "file",
                "filename": "report.csv",
                "type": "text/csv",
                "content_b64": base64.b64encode(b"a,b\n").decode(),
            }
        ],
    )
    db.flush()
    return [_outgoing(row) for row in db.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id))]


def test_every_email_kind_validates_single_and_batched(db, app):
    settings = app.state.settings
    emails = _every_kind(db, app)
    for e in emails:
        payload = build_payload(e, settings)
        validate_payload(payload)
        assert payload["tracking_settings"]["subscription_tracking"]["enable"] is False
        assert payload["tracking_settings"]["click_tracking"] == {"enable": False, "enable_text": False}
        headers = payload["personalizations"][0].get("headers", {})
        assert ("List-Unsubscribe" in headers) == e.bulk
    payloads = list(iter_payloads(emails, settings))
    for payload in payloads:
        validate_payload(payload)
    assert any(len(p["personalizations"]) == 3 for p in payloads)  # the three digests went as one batch


def test_calendar_parts_order_and_identical_bytes(db, app):
    invite = next(
        e for e in _every_kind(db, app) if e.kind == "event_invite" and e.attachments[0]["method"] == "REQUEST"
    )
    payload = build_payload(invite, app.state.settings)
    assert [c["type"] for c in payload["content"]] == ["text/plain", "text/html", "text/calendar; method=REQUEST"]
    [att] = payload["attachments"]
    assert att["type"] == "application/ics" and att["filename"] == "invite.ics"
    assert base64.b64decode(att["content"]) == payload["content"][2]["value"].encode()


def test_validator_catches_bad_payloads():
    bad = {
        "personalizations": [{"to": [{"email": "x"}], "custom_args": {"email": "a@b.org"}}],
        "subject": "s",
        "content": [{"type": "text/html", "value": "h"}, {"type": "text/calendar; charset=utf-8", "value": "c"}],
    }
    errors = " | ".join(schema_errors(bad))
    for expected in ("from", "text/plain", "crm_", "';'", "subscription tracking"):
        assert expected in errors


def test_smtp_transport_sends_mime_with_calendar(db, app, smtp_sink):
    sink, port = smtp_sink
    emails = [e for e in _every_kind(db, app) if e.kind in {"sign_in", "event_invite"}]
    transport = SMTPTransport(Settings(smtp_host="127.0.0.1", smtp_port=port))
    try:
        results = transport.send_many(emails)
    finally:
        transport.close()
    assert all(r.outcome == SendOutcome.SENT for r in results) and len(sink.messages) == len(emails)
    parsed = [email.message_from_bytes(env.content, policy=policy.default) for env in sink.messages]
    # Messages go out over several connections at once, so they arrive in any order: pick them by recipient.
    invite = next(p for p in parsed if p["To"].addresses[0].addr_spec == "e-request@example.org")
    assert invite["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    alternative = next(part for part in invite.walk() if part.get_content_type() == "multipart/alternative")
    types = [p.get_content_type() for p in alternative.iter_parts()]
    assert types == ["text/plain", "text/html", "text/calendar"]
    cal = [p for p in alternative.iter_parts()][2]
    assert cal.get_param("method") == "REQUEST"
    attachment = next(p for p in invite.walk() if p.get_filename() == "invite.ics")
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_payload(decode=True) == cal.get_payload(decode=True)
    sign_in = next(p for p in parsed if p["To"].addresses[0].addr_spec == "a@example.org")
    assert sign_in["To"].addresses[0].display_name == "Ann, Smith; Jr"


def test_smtp_connection_refused_is_retry():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    e = OutgoingEmail(outbox_id=1, kind="k", to="a@example.org", to_name="", subject="s", text="t", html="")
    transport = SMTPTransport(Settings(smtp_host="127.0.0.1", smtp_port=port), timeout=2)
    try:
        [result] = transport.send_many([e])
    finally:
        transport.close()
    assert result.outcome == SendOutcome.RETRY


def test_every_email_the_demo_queues_validates(db, settings):
    """Whatever the domains queue (digests, invitations, reminders, sign-in …), as single and batched payloads."""
    from crm.demo import seed_demo

    seed_demo(db, settings)
    db.flush()
    rows = db.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id)).all()
    emails = [_outgoing(r) for r in rows if r.text_body is not None or r.html_body is not None]
    for e in emails:
        validate_payload(build_payload(e, settings))
    for payload in iter_payloads(emails, settings):
        validate_payload(payload)


def test_smtp_transport_works_when_called_inside_an_event_loop(smtp_sink):
    import asyncio

    sink, port = smtp_sink
    e = OutgoingEmail(outbox_id=7, kind="k", to="a@example.org", to_name="", subject="s", text="t", html="")

    transport = SMTPTransport(Settings(smtp_host="127.0.0.1", smtp_port=port))

    async def inside() -> list:
        return transport.send_many([e])

    # A fresh thread, so a loop another test left behind in the main thread cannot interfere.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        [result] = pool.submit(lambda: asyncio.run(inside())).result()
    transport.close()
    assert result.outcome == SendOutcome.SENT and len(sink.messages) == 1
