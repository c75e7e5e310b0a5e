"""Answers from calendar apps: the iTIP ``METHOD:REPLY`` that Gmail's and Outlook's Yes / Maybe / No buttons email
to the organiser address, read from what SendGrid Inbound Parse posts, recorded exactly as an RSVP from the link.

Most invitees answer inside their calendar app, never opening our link; without this their answer was lost. A
REPLY counts only when it names an event we sent (its UID), an invitee of that event (the ATTENDEE address), and
comes from that same address (the From of the email), so nobody answers for someone else. Anything else is logged
and dropped: the provider gets a 200 either way, since retrying would not make it readable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.events import rsvp
from crm.events.mail import Mailer

log = logging.getLogger("crm.events.replies")

# A REPLY with its email is a few kB; SendGrid Inbound Parse caps messages at 30 MB including attachments.
MAX_INBOUND_BYTES = 10 * 1024 * 1024
ANSWERS = {"ACCEPTED": "yes", "TENTATIVE": "maybe", "DECLINED": "no"}
CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})


@dataclasses.dataclass(frozen=True, slots=True)
class ReplyLine:
    """One attendee's answer in a REPLY."""

    uid: str
    attendee: str  # lower-cased address
    partstat: str


@dataclasses.dataclass(slots=True)
class Outcome:
    recorded: int = 0
    unchanged: int = 0
    dropped: list[str] = dataclasses.field(default_factory=list)  # why each line or message was not recorded


def calendars_in(raw: bytes) -> list[str]:
    """Every calendar in an email: ``text/calendar`` parts and ``.ics`` attachments, transfer-decoded."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    found: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = (part.get_filename() or "").lower()
        if part.get_content_type() in CALENDAR_TYPES or filename.endswith(".ics"):
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            found.append(payload.decode(charset, errors="replace"))
    return found


def sender_of(raw: bytes) -> str:
    """The From address of an email, lower-cased ("" when it has none)."""
    message = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    addresses = getaddresses(message.get_all("From", []))
    return addresses[0][1].strip().lower() if addresses else ""


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line[1:]
        elif line:
            lines.append(line)
    return lines


def _split_property(line: str) -> tuple[str, dict[str, str], str]:
    """``NAME;P1=a;P2="b:c":value`` → (NAME, {P1: a, P2: b:c}, value), honouring quoted parameter values."""
    params: dict[str, str] = {}
    i, n, in_quotes, start, name = 0, len(line), False, 0, None
    key = ""
    while i < n:
        c = line[i]
        if c == '"':
            in_quotes = not in_quotes
        elif not in_quotes and c in ";:":
            piece = line[start:i]
            if name is None:
                name = piece.upper()
            elif key or "=" in piece:
                k, _, v = piece.partition("=")
                params[k.upper()] = v.strip('"')
            if c == ":":
                return name, params, line[i + 1 :]
            start = i + 1
        i += 1
    raise ValueError(f"not a content line: {line[:60]!r}")


def parse_reply(text: str) -> list[ReplyLine]:
    """The answers a ``METHOD:REPLY`` calendar carries; ``ValueError`` for any other method or a broken calendar."""
    lines = _unfold(text)
    if not lines or lines[0].strip().upper() != "BEGIN:VCALENDAR":
        raise ValueError("not an iCalendar object")
    method = next((v.strip().upper() for n, _, v in map(_split_property, lines) if n == "METHOD"), "")
    if method != "REPLY":
        raise ValueError(f"the calendar's METHOD is {method or 'missing'}, not REPLY")
    out: list[ReplyLine] = []
    uid, attendees, in_event = "", [], False
    for line in lines:
        name, params, value = _split_property(line)
        if name == "BEGIN" and value.strip().upper() == "VEVENT":
            uid, attendees, in_event = "", [], True
        elif name == "END" and value.strip().upper() == "VEVENT":
            out += [ReplyLine(uid, a, p) for a, p in attendees if uid]
            in_event = False
        elif in_event and name == "UID":
            uid = value.strip()
        elif in_event and name == "ATTENDEE":
            address = value.strip()
            if address.lower().startswith("mailto:"):
                address = address[7:]
            attendees.append((address.strip().lower(), params.get("PARTSTAT", "NEEDS-ACTION").upper()))
    if not out:
        raise ValueError("the REPLY names no event and attendee")
    return out


def record(session: Session, mailer: Mailer, raw: bytes, now: dt.datetime, sender: str = "") -> Outcome:
    """Record every answer in an inbound email as the attendee's RSVP (``source="calendar"``)."""
    outcome = Outcome()
    sender = (sender or sender_of(raw)).strip().lower()
    try:
        calendars = calendars_in(raw)
    except Exception as exc:  # an unparseable MIME body: dropped, never a 500
        outcome.dropped.append(f"unreadable email: {exc!r}"[:300])
        return _logged(outcome, sender)
    return record_calendars(session, mailer, calendars, sender, now)


def record_calendars(session: Session, mailer: Mailer, calendars: list[str], sender: str, now: dt.datetime) -> Outcome:
    """``record`` for calendars already taken out of the email (Inbound Parse's attachments, without raw MIME)."""
    outcome = Outcome()
    sender = sender.strip().lower()
    if not calendars:
        outcome.dropped.append("no calendar in the email")
        return _logged(outcome, sender)
    for text in calendars:
        try:
            lines = parse_reply(text)
        except ValueError as exc:
            outcome.dropped.append(str(exc))
            continue
        for line in lines:
            _apply(session, mailer, line, sender, now, outcome)
    return _logged(outcome, sender)


def _apply(session: Session, mailer: Mailer, line: ReplyLine, sender: str, now: dt.datetime, outcome: Outcome) -> None:
    answer = ANSWERS.get(line.partstat)
    if answer is None:
        outcome.dropped.append(f"PARTSTAT {line.partstat} is not an answer")
        return
    if not sender or line.attendee != sender:
        outcome.dropped.append(f"the answer for {line.attendee} was sent by {sender or 'nobody'}")
        return
    event_id = session.scalar(select(m.Event.id).where(m.Event.uid == line.uid))
    if event_id is None:
        outcome.dropped.append(f"no event has UID {line.uid[:120]}")
        return
    invitation = session.scalar(
        select(m.Invitation)
        .join(m.Contact, m.Contact.id == m.Invitation.contact_id)
        .where(m.Invitation.event_id == event_id, func.lower(m.Contact.email) == line.attendee)
    )
    if invitation is None:
        outcome.dropped.append(f"{line.attendee} is not invited to event {event_id}")
        return
    event = rsvp.lock_event(session, event_id)
    assert event is not None
    session.refresh(invitation)
    try:
        result = rsvp.apply_answer(session, mailer, event, invitation, answer, None, now, source="calendar")
    except rsvp.RsvpProblem as exc:
        outcome.dropped.append(f"{line.attendee}: {exc}")
        return
    if result.changed:
        outcome.recorded += 1
    else:
        outcome.unchanged += 1


def _logged(outcome: Outcome, sender: str) -> Outcome:
    if outcome.dropped:
        log.warning("calendar reply from %s: %s", sender or "unknown sender", "; ".join(outcome.dropped)[:1000])
    if outcome.recorded or outcome.unchanged:
        log.info("calendar reply from %s: %d recorded, %d unchanged", sender, outcome.recorded, outcome.unchanged)
    return outcome
