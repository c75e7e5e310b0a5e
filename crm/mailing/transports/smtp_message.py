"""SMTP message bytes from pre-built header templates and bodies encoded once.

The standard library's ``EmailMessage(policy.default)`` spent ~2.9 ms per 10 kB email (header objects, a policy
folder, a generator walking the tree), more than all the rest of our send path. A message we send has one fixed
shape, so it is written directly: the constant headers (From, Reply-To, MIME-Version) and each part's headers are
prepared once per transport, and every body is encoded once into CRLF lines.

What the bytes guarantee (tests/mailing/test_smtp_wire.py and test_smtp_message.py read them back):

- Date, Message-ID (our domain), From, To, Subject, MIME-Version always, each once; header lines ASCII and within
  998 octets, folded at spaces near 78 where the value allows it; a non-ASCII display name, subject or other
  unstructured value as RFC 2047 encoded words (UTF-8, base64, each word within 75 characters).
- RFC 8058 ``List-*`` headers written literally (they must stay readable URIs), so they must be ASCII.
- No header injection: a CR, LF or NUL in any header value (or a strange header name) refuses the message.
- Bodies: as they are when every line is within 998 octets (7bit when ASCII; 8bit when not and the server takes
  8BITMIME, as nearly every relay does: no encoding cost, readable source), else quoted-printable (mostly ASCII)
  or base64 (mostly not), so every line on the wire is within 998 octets. No part can contain a boundary: the
  boundaries start with ``=_``, which quoted-printable and base64 never produce, and a 7bit/8bit body that happens
  to contain one is sent quoted-printable instead.
- Structure: ``multipart/mixed`` → ``multipart/alternative`` (text/plain, text/html, then any
  ``text/calendar; method=…`` part) plus attachments (``invite.ics`` as ``application/ics`` with the same bytes,
  files as given). Without attachments the ``multipart/alternative`` is the message; with only text, text/plain.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import random
import re
import secrets
import time
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import quote, urlsplit

from crm.mailing.transports.base import OutgoingEmail
from crm.settings import Settings

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
# Written as given (RFC 8058 needs the ``<https://…>`` and ``<mailto:…>`` URIs literally), so ASCII only.
VERBATIM_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "list-id"})
CALENDAR_METHODS = frozenset({"REQUEST", "CANCEL"})
MAX_LINE = 998  # octets per line, CRLF excluded (RFC 5322 §2.1.1)
FOLD_AT = 78  # where a header is folded when it can be (RFC 5322 §2.1.1 "SHOULD")
WORD_BYTES = 39  # UTF-8 bytes per encoded word: "=?utf-8?b?" + 52 base64 characters + "?=" = 64 characters

_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII without the colon (RFC 5322 §2.2)
_ADDRESS = re.compile(r"[^\s<>(),;:\"\\@\x00-\x1f\x7f]+@[^\s<>(),;:\"\\@\x00-\x1f\x7f]+")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
_PLAIN_PHRASE = re.compile(r"[ -~]*")  # printable ASCII (a display name that can go in a quoted string)
_ASCII_BYTES = bytes(range(128))


def message_id_domain(settings: Settings) -> str:
    """Our domain for Message-ID: the From address's, else the site's host (never the machine's FQDN)."""
    address = parseaddr(settings.mail_from)[1]
    if "@" in address:
        return address.rsplit("@", 1)[1].lower()
    return urlsplit(settings.base_url).hostname or "localhost"


def _refuse_newlines(value: str, what: str) -> None:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError(f"newline in an email header value ({what})")


def encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words (UTF-8, base64), split between characters, each within 75 characters."""
    data = text.encode("utf-8")
    words: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never cut a character in two
            end -= 1
        words.append("=?utf-8?b?" + base64.b64encode(data[start:end]).decode("ascii") + "?=")
        start = end
    return words


def fold(name: str, value: str) -> str:
    """``Name: value`` with CRLF + space inserted before spaces so lines stay near 78 characters; unfolding (removing
    each CRLF) gives the value back exactly. Raises ``ValueError`` when a line would exceed 998 octets."""
    line = f"{name}: {value}"
    if len(line) <= FOLD_AT:
        return line
    words = value.split(" ")
    if "" in words:  # leading, trailing or repeated spaces: folding there could leave a blank line; keep whole
        lines = [line]
    else:
        lines = [f"{name}: {words[0]}"]
        for word in words[1:]:
            if len(lines[-1]) + 1 + len(word) <= FOLD_AT:
                lines[-1] += " " + word
            else:
                lines.append(" " + word)
    if any(len(x) > MAX_LINE for x in lines):
        raise ValueError(f"header {name} has an item longer than {MAX_LINE} octets")
    return "\r\n".join(lines)


def unstructured(name: str, value: str) -> str:
    """An unstructured header (Subject, X-…): literal when printable ASCII, else RFC 2047 encoded words."""
    _refuse_newlines(value, name)
    if _PLAIN_PHRASE.fullmatch(value) and "=?" not in value:
        try:
            return fold(name, value)
        except ValueError:
            pass  # one word too long to fit a line: encoded words split it
    return fold(name, " ".join(encoded_words(value))) if value else f"{name}: "


def address_header(name: str, display_name: str, address: str) -> str:
    """``Name: "Display" <address>``; a display name that is not printable ASCII goes as encoded words."""
    _refuse_newlines(display_name, f"{name} name")
    _refuse_newlines(address, f"{name} address")
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"{name} address {address!r} is not an address we can send to")
    if not display_name:
        return f"{name}: {address}"
    if _PLAIN_PHRASE.fullmatch(display_name) and "=?" not in display_name and len(display_name) <= 200:
        quoted = display_name.replace("\\", "\\\\").replace('"', '\\"')
        return f'{name}: "{quoted}" <{address}>'
    return fold(name, " ".join([*encoded_words(display_name), f"<{address}>"]))


def _lines(text: str) -> bytes:
    """UTF-8 with CRLF line ends (a bare CR or LF becomes CRLF)."""
    data = text.encode("utf-8")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data.replace(b"\n", b"\r\n")


def _lines_fit(data: bytes) -> bool:
    """Every CRLF line within 998 octets. Jumps from line start to the last LF within 1,000 bytes (a dozen ``rfind``
    calls for 10 kB instead of splitting into a few hundred lines)."""
    start, end = 0, len(data)
    while end - start > MAX_LINE:
        last = data.rfind(b"\n", start, start + MAX_LINE + 2)
        if last < 0:
            return False
        start = last + 1
    return True


def _base64_lines(data: bytes) -> bytes:
    """Base64 in 76-character CRLF lines (``base64.encodebytes`` cuts the same lines, in a slower Python loop)."""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


class MessageBuilder:
    """Writes the messages of one transport (one sender, one Message-ID domain, one pair of boundaries)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        from_name, self.envelope_from = parseaddr(settings.mail_from)
        self.domain = message_id_domain(settings)
        self._constant = "\r\n".join([address_header("From", from_name, self.envelope_from), "MIME-Version: 1.0"])
        # The site's Reply-To, unless a message names its own (an interest email: replies go to the applicant).
        self._reply_to = (
            address_header("Reply-To", *parseaddr(settings.mail_reply_to)) if settings.mail_reply_to else ""
        )
        token = secrets.token_hex(12)
        self._marker = f"=_{token}".encode("ascii")
        self._mixed = f"=_{token}.m"
        self._alternative = f"=_{token}.a"

    # --- bodies ------------------------------------------------------------------------------------------------

    def _encode(self, text: str, eight_bit: bool) -> tuple[str, bytes]:
        """(transfer encoding, body bytes in CRLF lines) for a text body: as it is (7bit, or 8bit when the server
        takes 8BITMIME) when every line fits and no boundary could be inside; else quoted-printable, or base64 for
        mostly non-ASCII text (smaller than ``=XX`` escapes)."""
        data = _lines(text)
        ascii_only = text.isascii()
        if (ascii_only or eight_bit) and _lines_fit(data) and b"\x00" not in data and self._marker not in data:
            return ("7bit" if ascii_only else "8bit"), data
        if not ascii_only and len(data.translate(None, _ASCII_BYTES)) * 4 > len(data):
            return "base64", _base64_lines(data)
        return "quoted-printable", binascii.b2a_qp(data, istext=True)

    def _text_part(self, subtype: str, text: str, eight_bit: bool, params: str = "") -> bytes:
        encoding, body = self._encode(text, eight_bit)
        head = f'Content-Type: text/{subtype}; charset="utf-8"{params}\r\nContent-Transfer-Encoding: {encoding}\r\n'
        return head.encode("ascii") + b"\r\n" + body

    def _multipart(self, subtype: str, boundary: str, parts: list[bytes]) -> bytes:
        head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode("ascii")
        delimiter = f"--{boundary}\r\n".encode("ascii")
        between = f"\r\n--{boundary}\r\n".encode("ascii")
        return head + delimiter + between.join(parts) + f"\r\n--{boundary}--".encode("ascii")

    def _attachment(self, item: dict[str, Any]) -> bytes:
        if item.get("kind") == "calendar":
            media_type, filename = "application/ics", item.get("filename") or "invite.ics"
            data = _lines(item["content"])
        elif item.get("kind") == "file":
            media_type, filename = item.get("type") or "application/octet-stream", item["filename"]
            data = base64.b64decode(item["content_b64"], validate=True)
            if "/" not in media_type:
                media_type += "/octet-stream"
        else:
            raise ValueError(f"unknown attachment kind {item.get('kind')!r}")
        if not _MEDIA_TYPE.fullmatch(media_type):
            raise ValueError(f"attachment type {media_type!r} is not a media type")
        _refuse_newlines(filename, "attachment filename")
        if _PLAIN_PHRASE.fullmatch(filename) and '"' not in filename and "\\" not in filename:
            disposition = f'attachment; filename="{filename}"'
        else:  # RFC 2231: UTF-8, percent-encoded
            disposition = f"attachment; filename*=utf-8''{quote(filename, safe='')}"
        head = "\r\n".join(
            [
                f"Content-Type: {media_type}",
                "Content-Transfer-Encoding: base64",
                fold("Content-Disposition", disposition),
            ]
        )
        return head.encode("ascii") + b"\r\n\r\n" + _base64_lines(data)

    # --- the message -------------------------------------------------------------------------------------------

    def _own_from(self, name: str) -> str:
        """From with the message's own display name (a campaign's sender name), the site's address."""
        _refuse_newlines(name, "sender name")
        return "\r\n".join([address_header("From", name, self.envelope_from), "MIME-Version: 1.0"])

    def headers(self, email: OutgoingEmail, message_id: str, now: dt.datetime | None = None) -> list[str]:
        lines = [
            f"Date: {format_datetime(now or dt.datetime.now(dt.UTC))}",
            self._own_from(email.from_name) if email.from_name else self._constant,
            address_header("To", email.to_name, email.to),
            unstructured("Subject", email.subject),
            f"Message-ID: {message_id}",
            f"X-CRM-Outbox-Id: {int(email.outbox_id)}",
        ]
        own_reply_to = next((v for k, v in email.headers.items() if k.lower() == "reply-to"), "")
        if own_reply_to:
            _refuse_newlines(own_reply_to, "Reply-To")
            lines.append(address_header("Reply-To", *parseaddr(own_reply_to)))
        elif self._reply_to:
            lines.append(self._reply_to)
        for name, value in email.headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a header name")
            if name.lower() == "reply-to":
                continue
            if name.lower() in TRANSPORT_HEADERS:
                raise ValueError(f"header {name} is written by the transport, not the outbox row")
            if name.lower() in VERBATIM_HEADERS:
                _refuse_newlines(value, name)
                if not value.isascii():
                    raise ValueError(f"header value must be ASCII: {value[:60]!r}")
                lines.append(fold(name, value))
            else:
                lines.append(unstructured(name, value))
        return lines

    def build(self, email: OutgoingEmail, eight_bit: bool = False, now: dt.datetime | None = None) -> tuple[str, bytes]:
        """(Message-ID, the message as CRLF bytes ready for DATA); ``eight_bit``: the server takes 8BITMIME, so
        non-ASCII bodies may go unencoded (``BODY=8BITMIME``). Raises ``ValueError`` (with the reason) for a
        message that would be invalid or unsafe; ``KeyError``/``TypeError``/``binascii.Error`` for a malformed
        attachment."""
        # Unique without a lookup: the outbox id, the time in ns and 40 random bits (make_msgid's is 80+ characters).
        message_id = f"<crm{int(email.outbox_id)}.{time.time_ns():x}.{random.getrandbits(40):x}@{self.domain}>"
        head = self.headers(email, message_id, now)
        alternatives = [self._text_part("plain", email.text or " ", eight_bit)]
        if email.html:
            alternatives.append(self._text_part("html", email.html, eight_bit))
        calendars = [item for item in email.attachments if item.get("kind") == "calendar"]
        for item in calendars:
            method = calendar_method(item)
            alternatives.append(self._text_part("calendar", item["content"], eight_bit, f"; method={method}"))
        body = (
            alternatives[0]
            if len(alternatives) == 1
            else self._multipart("alternative", self._alternative, alternatives)
        )
        if email.attachments:
            body = self._multipart("mixed", self._mixed, [body, *map(self._attachment, email.attachments)])
        message = "\r\n".join(head).encode("utf-8") + b"\r\n" + body  # UTF-8 only in an SMTPUTF8 address
        return message_id, message if message.endswith(b"\r\n") else message + b"\r\n"


def calendar_method(item: dict[str, Any]) -> str:
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
