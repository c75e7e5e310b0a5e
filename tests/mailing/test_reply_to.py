"""A message may name its own Reply-To (a host's interest email: replies go to the applicant); every other message
keeps the site's. Both transports, read back from what they send."""

from __future__ import annotations

import dataclasses
from email import message_from_bytes, policy

from crm.mailing.transports.base import OutgoingEmail, SendOutcome
from crm.mailing.transports.sendgrid import batchable, build_payload
from crm.mailing.transports.smtp import SMTPTransport
from tests.mailing.sendgrid_schema import validate_payload

OWN = "Ada Lovelace <ada@example.org>"


def _emails() -> list[OutgoingEmail]:
    return [
        OutgoingEmail(1, "internship_interest", "host@example.org", "Host", "New interest", "t", "<p>h</p>",
                      headers={"Reply-To": OWN}),
        OutgoingEmail(2, "sign_in", "b@example.org", "", "Sign in", "t", ""),
    ]  # fmt: skip


def test_smtp_writes_the_messages_own_reply_to_once_and_the_sites_otherwise(settings, smtp_sink):
    handler, port = smtp_sink
    smtp = dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=port, mail_reply_to="Roundtable <hello@roundtable.example.org>"
    )
    transport = SMTPTransport(smtp)
    try:
        results = transport.send_many(_emails())
    finally:
        transport.close()
    assert [r.outcome for r in results] == [SendOutcome.SENT, SendOutcome.SENT]
    own, site = (message_from_bytes(env.original_content, policy=policy.default) for env in handler.messages)
    assert own.get_all("Reply-To") == [OWN]
    assert site.get_all("Reply-To") == ["Roundtable <hello@roundtable.example.org>"]


def test_sendgrid_takes_the_reply_to_out_of_the_headers(settings):
    own, site = _emails()
    payload = build_payload(own, dataclasses.replace(settings, mail_reply_to="hello@roundtable.example.org"))
    validate_payload(payload)
    assert payload["reply_to"] == {"email": "ada@example.org", "name": "Ada Lovelace"}
    assert "Reply-To" not in payload["personalizations"][0].get("headers", {})
    bulk_with_own = dataclasses.replace(own, bulk=True)
    assert not batchable(bulk_with_own)  # a batch has one Reply-To for all: such a message goes alone
    assert build_payload(site, settings).get("reply_to") in (None, {"email": settings.mail_reply_to})
