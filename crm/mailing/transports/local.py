"""The development transport: nothing leaves the machine; the outbox at /admin/mail is the mailbox."""

from __future__ import annotations

from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult


class LocalTransport:
    name = "local"

    def send_many(self, emails: list[OutgoingEmail]) -> list[SendResult]:
        return [SendResult(SendOutcome.SENT, provider_message_id=f"local-{e.outbox_id}") for e in emails]
