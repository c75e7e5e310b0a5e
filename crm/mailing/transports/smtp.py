"""The SMTP transport (aiosmtplib): one connection per batch, MIME built with the standard library.

Structure: ``multipart/mixed`` → ``multipart/alternative`` (text/plain, text/html, then any
``text/calendar; method=…`` part) plus attachments (``invite.ics`` as ``application/ics`` with the same bytes).

Outcomes: 2xx → sent; 5xx reply → failed; 4xx reply → retry; authentication refused → halt; cannot connect →
retry; connection lost or timed out after DATA began → ambiguous.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from concurrent.futures import ThreadPoolExecutor
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

import aiosmtplib

from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult
from crm.settings import Settings

log = logging.getLogger("crm.mail.smtp")


def build_message(email: OutgoingEmail, settings: Settings) -> EmailMessage:
    msg = EmailMessage()
    from_name, from_addr = parseaddr(settings.mail_from)
    msg["From"] = formataddr((from_name, from_addr))
    msg["To"] = Address(display_name=email.to_name, addr_spec=email.to) if email.to_name else email.to
    msg["Subject"] = email.subject
    if settings.mail_reply_to:
        msg["Reply-To"] = settings.mail_reply_to
    domain = from_addr.rsplit("@", 1)[-1] if "@" in from_addr else None
    msg["Message-ID"] = make_msgid(idstring=f"crm{email.outbox_id}", domain=domain)
    msg["X-CRM-Outbox-Id"] = str(email.outbox_id)
    for name, value in email.headers.items():
        msg[name] = value
    msg.set_content(email.text or " ")
    if email.html:
        msg.add_alternative(email.html, subtype="html")
    for item in email.attachments:
        if item.get("kind") == "calendar":
            method = str(item.get("method", "REQUEST")).upper()
            ics = item["content"]
            msg.add_alternative(ics, subtype="calendar", params={"method": method})
    for item in email.attachments:
        if item.get("kind") == "calendar":
            msg.add_attachment(
                item["content"].encode("utf-8"),
                maintype="application",
                subtype="ics",
                filename=item.get("filename") or "invite.ics",
            )
        elif item.get("kind") == "file":
            maintype, _, subtype = (item.get("type") or "application/octet-stream").partition("/")
            msg.add_attachment(
                base64.b64decode(item["content_b64"]),
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=item["filename"],
            )
    return msg


class SMTPTransport:
    name = "smtp"

    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout

    def send_many(self, emails: list[OutgoingEmail]) -> list[SendResult]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._send_all(emails))
        # Called from inside an event loop (never block it): run the SMTP session on a thread of its own.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp") as pool:
            return pool.submit(asyncio.run, self._send_all(emails)).result()

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=self.timeout,
            start_tls=s.smtp_starttls,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
        )

    async def _send_all(self, emails: list[OutgoingEmail]) -> list[SendResult]:
        client = self._client()
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            log.critical("SMTP server refused our credentials: sending stopped for this tick")
            return [SendResult(SendOutcome.HALT, error=f"SMTP authentication refused: {exc}")] * len(emails)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return [SendResult(SendOutcome.RETRY, error=f"could not connect to the SMTP server: {exc}")] * len(emails)
        results: list[SendResult] = []
        try:
            for email in emails:
                result = await self._send_one(client, email)
                results.append(result)
                if result.outcome in {SendOutcome.AMBIGUOUS, SendOutcome.HALT} or not client.is_connected:
                    break
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
        results.extend(
            SendResult(SendOutcome.RETRY, error="not attempted: the SMTP connection was lost")
            for _ in range(len(emails) - len(results))
        )
        return results

    async def _send_one(self, client: aiosmtplib.SMTP, email: OutgoingEmail) -> SendResult:
        try:
            message = build_message(email, self.settings)
        except (ValueError, KeyError, TypeError) as exc:
            return SendResult(SendOutcome.FAILED, error=f"could not build the message: {exc}")
        try:
            await client.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            outcome = SendOutcome.RETRY if all(400 <= c < 500 for c in codes) else SendOutcome.FAILED
            return SendResult(outcome, error=f"recipient refused: {exc}")
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code in {530, 535}:
                return SendResult(SendOutcome.HALT, error=f"SMTP authentication refused: {exc}")
            outcome = SendOutcome.RETRY if 400 <= exc.code < 500 else SendOutcome.FAILED
            return SendResult(outcome, error=f"SMTP {exc.code}: {exc.message}")
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            return SendResult(SendOutcome.AMBIGUOUS, error=f"connection lost while sending ({exc}); will settle")
        return SendResult(SendOutcome.SENT, provider_message_id=str(message["Message-ID"]).strip("<>"))
