"""The bytes MessageBuilder writes, read back with Python's email parser: for tricky inputs (non-ASCII names and
subjects, lines over 998 octets, mostly non-Latin text, a calendar, attachments, a body holding the boundary)
the structure is the one documented and every decoded header and part equals what was given."""

from __future__ import annotations

import base64
import email
import re
from email import policy
from email.message import EmailMessage

import pytest

from crm.mailing.transports.base import OutgoingEmail
from crm.mailing.transports.smtp_message import MessageBuilder
from crm.settings import Settings

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Roundtable//CRM//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
    "UID:evt-1@crm.example.org\r\nSUMMARY:Café à Zürich\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
LONG = "https://example.org/" + "a" * 3000
PDF = bytes(range(256)) * 40
UNSUBSCRIBE = (
    "<https://crm.example.org/u/"
    + "T" * 120
    + ">, <mailto:unsubscribe@example.org?subject=unsubscribe%20"
    + "T" * 60
    + ">"
)


def _email(**changes: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "outbox_id": 42,
        "kind": "k",
        "to": "zoe@example.org",
        "to_name": "Zoë Ångström-Çelik, PhD",
        "subject": "Ihre Einladung: Café-Treffen in Zürich — “Peer support” 🙂 " + "lang " * 30,
        "text": "Hallo Zoë,\n\n.a line starting with a dot\nFrom the start of a line\n" + LONG + "\nEnde.\n",
        "html": '<p>Hallo Zoë</p>\r\n<p><a href="' + LONG + '">link</a></p>\n',
        "headers": {"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        "attachments": [
            {"kind": "calendar", "method": "REQUEST", "content": ICS, "filename": "invite.ics"},
            {
                "kind": "file",
                "filename": "Résumé 2026.pdf",
                "type": "application/pdf",
                "content_b64": base64.b64encode(PDF).decode(),
            },
        ],
    }
    fields.update(changes)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


def _unfolded(raw: bytes, name: str) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    match = re.search(rf"^{name}:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.MULTILINE | re.IGNORECASE)
    assert match, f"no {name} header"
    return re.sub(r"\r\n(?=[ \t])", "", match.group(1))[1:]


def _parse(raw: bytes) -> EmailMessage:
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert not msg.defects
    for name in ("Date", "Message-ID", "From", "To", "Subject", "MIME-Version"):
        assert len(msg.get_all(name) or []) == 1, name
    return msg  # type: ignore[return-value]


def _text(part: EmailMessage) -> str:
    return part.get_content().replace("\r\n", "\n")


def _same_lines(text: str) -> str:
    return text.replace("\r\n", "\n")


@pytest.mark.parametrize("eight_bit", [False, True])
def test_tricky_message_reads_back_as_given(eight_bit):
    given = _email()
    message_id, raw = MessageBuilder(Settings()).build(given, eight_bit=eight_bit)
    msg = _parse(raw)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    # Folded near 78 characters where the value allows (List-Unsubscribe's URIs cannot be cut).
    assert all(len(line) <= 78 for line in head.split(b"\r\n") if b"TTTT" not in line)

    assert msg["Subject"] == given.subject
    assert msg["To"].addresses[0].display_name == given.to_name
    assert msg["To"].addresses[0].addr_spec == given.to
    assert msg["Message-ID"] == message_id and message_id.endswith("@roundtable.example.org>")
    assert msg["X-CRM-Outbox-Id"] == "42"
    assert _unfolded(raw, "List-Unsubscribe") == UNSUBSCRIBE  # literal, never encoded words
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    assert msg.get_content_type() == "multipart/mixed"
    alternative, calendar_file, pdf = msg.iter_parts()
    plain, html, calendar = alternative.iter_parts()
    assert [p.get_content_type() for p in (plain, html, calendar)] == ["text/plain", "text/html", "text/calendar"]
    assert _text(plain) == _same_lines(given.text)
    assert _text(html) == _same_lines(given.html)
    # Lines over 998 octets are encoded, whatever the server takes; non-ASCII alone goes 8bit when it may.
    assert plain["Content-Transfer-Encoding"] in {"quoted-printable", "base64"}
    assert calendar.get_param("method") == "REQUEST" and calendar.get_content() == ICS
    assert calendar["Content-Transfer-Encoding"] == ("8bit" if eight_bit else "quoted-printable")
    assert calendar_file.get_content_type() == "application/ics" and calendar_file.get_filename() == "invite.ics"
    assert calendar_file.get_content() == ICS.encode("utf-8")
    assert pdf.get_content_type() == "application/pdf" and pdf.get_filename() == "Résumé 2026.pdf"
    assert pdf.get_content() == PDF


def test_plain_ascii_goes_7bit_and_text_alone_is_the_whole_message():
    name = 'Ann "The Boss" \\ Smith, Jr.'
    _, raw = MessageBuilder(Settings()).build(
        OutgoingEmail(42, "k", "ann@example.org", name, "Sign in", "Hello,\n\nYour link.\n", "")
    )
    msg = _parse(raw)
    assert msg.get_content_type() == "text/plain" and msg["Content-Transfer-Encoding"] == "7bit"
    assert _text(msg) == "Hello,\n\nYour link.\n"
    assert msg["To"].addresses[0].display_name == name
    assert msg["Subject"] == "Sign in"


def test_mostly_non_latin_text_is_base64_and_reads_back():
    greek = "Καλημέρα σας, αυτό είναι ένα μήνυμα.\n" * 40
    given = OutgoingEmail(1, "k", "a@example.org", "Δημήτρης", "Ενημέρωση " * 20, greek, "<p>" + greek + "</p>")
    _, raw = MessageBuilder(Settings()).build(given)
    msg = _parse(raw)
    plain, html = msg.iter_parts()
    assert plain["Content-Transfer-Encoding"] == "base64"
    assert _text(plain) == greek and _text(html) == "<p>" + greek + "</p>"
    assert msg["Subject"] == given.subject and msg["To"].addresses[0].display_name == "Δημήτρης"


def test_a_body_holding_the_boundary_cannot_end_its_part():
    builder = MessageBuilder(Settings())
    trap = f"before\n--{builder._alternative}\nContent-Type: text/html\n\n<p>forged</p>\n--{builder._alternative}--\n"
    given = OutgoingEmail(1, "k", "a@example.org", "", "s", trap, "<p>real</p>")
    _, raw = builder.build(given)
    plain, html = _parse(raw).iter_parts()
    assert _text(plain) == trap and _text(html) == "<p>real</p>"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"


def test_literal_encoded_word_text_and_long_words_read_back_exactly():
    subject = "Not an =?utf-8?q?encoded?= word " + "x" * 1200
    given = OutgoingEmail(1, "k", "a@example.org", "=?utf-8?q?Eve?=", subject, "t", "", headers={"X-Note": "ümlaut"})
    _, raw = MessageBuilder(Settings()).build(given)
    msg = _parse(raw)
    assert msg["Subject"] == subject and msg["To"].addresses[0].display_name == "=?utf-8?q?Eve?="
    assert msg["X-Note"] == "ümlaut"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"subject": "Hi\r\nBcc: victim@example.org"}, "newline"),
        ({"to_name": "Eve\nBcc: victim@example.org"}, "newline"),
        ({"to": "a@example.org\r\nBcc: b@example.org"}, "newline"),
        ({"to": "a@example.org>, <b@example.org"}, "not an address"),
        ({"headers": {"X-Note": "a\nBcc: victim@example.org"}}, "newline"),
        ({"headers": {"X-Bad Name": "v"}}, "not a header name"),
        ({"headers": {"Bcc": "victim@example.org"}}, "written by the transport"),
        ({"headers": {"List-Id": "<ä.example.org>"}}, "must be ASCII"),
        ({"headers": {"List-Unsubscribe": "<https://x/" + "a" * 1000 + ">"}}, "longer than 998"),
        ({"attachments": [{"kind": "file", "filename": "x", "type": "text/csv\r\nX: y", "content_b64": ""}]}, "media"),
    ],
)
def test_header_injection_and_invalid_headers_are_refused(changes, error):
    with pytest.raises(ValueError, match=error):
        MessageBuilder(Settings()).build(_email(**changes))
