"""The SMTP transport (aiosmtplib): one connection per batch, MIME built with the standard library.

Every message is valid RFC 5322 on the wire: Date, Message-ID (our domain), From, To, Subject and MIME-Version;
no line over 998 octets; RFC 8058 ``List-Unsubscribe`` URIs written literally (never RFC 2047-encoded).

Structure: ``multipart/mixed`` → ``multipart/alternative`` (text/plain, text/html, then any
``text/calendar; method=…`` part) plus attachments (``invite.ics`` as ``application/ics`` with the same bytes).

Outcomes: 2xx → sent; 5xx reply → failed; 4xx reply → retry; authentication refused → halt; cannot connect →
retry; connection lost or timed out after DATA began → ambiguous.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib

from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult
from crm.settings import Settings

log = logging.getLogger("crm.mail.smtp")


# Headers the transport writes itself: an outbox row may not carry them (a second Date or From is invalid RFC 5322).
TRANSPORT_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "sender",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "x-crm-outbox-id",
    }
)
CALENDAR_METHODS = frozenset({"REQUEST", "CANCEL"})
MAX_LINE = 998  # octets per line, CRLF excluded (RFC 5322 §2.1.1)
FOLD_AT = 78  # where a header is folded when it can be (RFC 5322 §2.1.1 "SHOULD")


class VerbatimHeader(UnstructuredHeader):
    """An ASCII header written as given, folded only after its own ``", "`` separators.

    The standard library folds a long unstructured header by turning it into RFC 2047 encoded words, which
    makes ``List-Unsubscribe`` unreadable to every mailbox provider (``=?utf-8?q?=3Chttps=3A//...``). RFC 8058
    needs the ``<https://…>`` and ``<mailto:…>`` URIs literally, so these headers bypass that folder.
    """

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        if not value.isascii():
            raise ValueError(f"header value must be ASCII: {value[:60]!r}")
        kwds["parse_tree"] = cls.value_parser(value)
        kwds["decoded"] = value

    def fold(self, *, policy: Policy) -> str:  # type: ignore[override]
        parts = str(self).split(", ")
        lines = [f"{self.name}: {parts[0]}"]
        for part in parts[1:]:
            if len(lines[-1]) + 2 + len(part) <= FOLD_AT:
                lines[-1] += ", " + part
            else:
                lines[-1] += ","
                lines.append(" " + part)
        if any(len(line) > MAX_LINE for line in lines):
            raise ValueError(f"header {self.name} has an item longer than {MAX_LINE} octets")
        return policy.linesep.join(lines) + policy.linesep  # type: ignore[attr-defined]


_REGISTRY = HeaderRegistry()
for _name in ("list-unsubscribe", "list-unsubscribe-post", "list-id", "x-crm-outbox-id"):
    _REGISTRY.map_to_type(_name, VerbatimHeader)
POLICY = SMTP.clone(header_factory=_REGISTRY)


def message_id_domain(settings: Settings) -> str:
    """Our domain for Message-ID: the From address's, else the site's host (never the machine's FQDN)."""
    address = parseaddr(settings.mail_from)[1]
    if "@" in address:
        return address.rsplit("@", 1)[1].lower()
    return urlsplit(settings.base_url).hostname or "localhost"


def _calendar_method(item: dict[str, Any]) -> str:
    """The part's METHOD parameter, which must equal the iCalendar object's METHOD (RFC 6047 §2.4)."""
    method = str(item.get("method", "REQUEST")).upper()
    if method not in CALENDAR_METHODS:
        raise ValueError(f"calendar method must be REQUEST or CANCEL, not {method!r}")
    inside = {
        line[len("METHOD:") :].strip().upper() for line in item["content"].splitlines() if line.startswith("METHOD:")
    }
    if inside != {method}:
        raise ValueError(f"the calendar's METHOD ({', '.join(sorted(inside)) or 'none'}) is not {method}")
    return method


def build_message(email: OutgoingEmail, settings: Settings, now: dt.datetime | None = None) -> EmailMessage:
    """One RFC 5322 message: Date, Message-ID (our domain), From, To, Subject, MIME-Version always present.

    Bodies get a transfer encoding that keeps every line within 998 octets (quoted-printable or base64 when a
    line is over 78 characters; aiosmtplib re-encodes 8-bit parts for a server without 8BITMIME); ``multipart/alternative`` holds text/plain, then text/html, then the
    ``text/calendar; method=…`` part; the same calendar also goes as an ``application/ics`` attachment.
    """
    for name in email.headers:
        if name.lower() in TRANSPORT_HEADERS:
            raise ValueError(f"header {name} is written by the transport, not the outbox row")
    msg = EmailMessage(policy=POLICY)
    from_name, from_addr = parseaddr(settings.mail_from)
    msg["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    msg["From"] = formataddr((from_name, from_addr))
    msg["To"] = Address(display_name=email.to_name, addr_spec=email.to) if email.to_name else email.to
    msg["Subject"] = email.subject
    if settings.mail_reply_to:
        msg["Reply-To"] = settings.mail_reply_to
    msg["Message-ID"] = make_msgid(idstring=f"crm{email.outbox_id}", domain=message_id_domain(settings))
    msg["X-CRM-Outbox-Id"] = str(email.outbox_id)
    for name, value in email.headers.items():
        msg[name] = value
    msg.set_content(email.text or " ")
    if email.html:
        msg.add_alternative(email.html, subtype="html")
    for item in email.attachments:
        if item.get("kind") == "calendar":
            msg.add_alternative(item["content"], subtype="calendar", params={"method": _calendar_method(item)})
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
        else:
            raise ValueError(f"unknown attachment kind {item.get('kind')!r}")
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
