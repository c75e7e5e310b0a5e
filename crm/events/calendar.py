"""iTIP calendar messages (RFC 5545 / RFC 5546) for event invitations, updates and cancellations.

``build_itip()`` is the only way the application makes an ``.ics``. It uses the ``ics`` package (a stack
requirement) for what ``ics`` 0.7.3 does right, the VEVENT's TEXT properties (SUMMARY, DESCRIPTION, LOCATION, URL
with RFC 5545 escaping), its UTC DATE-TIMEs and STATUS, and closes the gaps ``ics`` leaves (see docs/events.md):

1. METHOD is written with the calendar properties, before the VEVENT (``ics`` writes it after);
2. DTSTAMP is always the message's creation time in UTC (``ics`` writes it only from ``created``);
3. SEQUENCE is added (``ics`` has none);
4. ORGANIZER and ATTENDEE are written here, with DQUOTE-quoted CN values and RFC 6868 caret escaping,
   ``RSVP=TRUE`` and ``ROLE=REQ-PARTICIPANT`` (``ics`` backslash-escapes parameters and crashes on ``rsvp=True``);
5. all-day events are ``VALUE=DATE`` in Europe/London (``ics`` converts dates to UTC first: off by one in summer);
6. lines are folded at 75 octets without splitting a UTF-8 character, and every line ends in CRLF, the last too;
7. our own PRODID and the stable UID are always passed; STATUS is CANCELLED for METHOD:CANCEL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from zoneinfo import ZoneInfo

import ics

PRODID = "-//Roundtable CRM//Networking events 1.0//EN"
LONDON = ZoneInfo("Europe/London")
CRLF = "\r\n"
METHODS = {"REQUEST", "CANCEL"}
PARTSTATS = {"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE"}


@dataclasses.dataclass(frozen=True, slots=True)
class Party:
    email: str
    name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class ItipMessage:
    """The ``.ics`` text and its METHOD, so the email always pairs them (``text/calendar; method=<METHOD>``)."""

    text: str
    method: str

    @property
    def content_type(self) -> str:
        return f"text/calendar; method={self.method}"

    def attachment(self, filename: str = "invite.ics") -> dict[str, str]:
        """The outbox attachment entry agreed with the mail transports (a calendar part plus an .ics file)."""
        return {"kind": "calendar", "method": self.method, "content": self.text, "filename": filename}


def quote_param(value: str) -> str:
    """A parameter value: RFC 6868 caret-encode ^, newline and DQUOTE; DQUOTE-quote when it has , ; or :."""
    value = value.replace("^", "^^").replace("\r\n", "^n").replace("\n", "^n").replace("\r", "^n")
    value = value.replace('"', "^'")
    if any(c in value for c in ",;:") or value != value.strip():
        return f'"{value}"'
    return value


def _address_line(name: str, params: list[tuple[str, str]], email: str) -> str:
    rendered = "".join(f";{key}={value}" for key, value in params)
    return f"{name}{rendered}:mailto:{email}"


def fold(line: str) -> list[str]:
    """Split one content line into physical lines of at most 75 octets, never inside a UTF-8 character."""
    out: list[str] = []
    current = ""
    size = 0
    limit = 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current = " "  # continuation lines start with one space, which counts towards their 75 octets
            size = 1
        current += char
        size += width
    out.append(current)
    return out


def _utc(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("calendar times must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _ics_event_lines(
    *,
    uid: str,
    summary: str,
    description: str,
    location: str,
    url: str,
    start: dt.datetime,
    end: dt.datetime,
    status: str,
) -> list[str]:
    """The VEVENT properties ``ics`` writes correctly (escaped TEXT values, UTC times, STATUS), unfolded."""
    event = ics.Event(
        name=summary,
        begin=start.astimezone(dt.UTC),
        end=end.astimezone(dt.UTC),
        uid=uid,
        description=description or None,
        location=location or None,
        url=url or None,
        status=status,
    )
    calendar = ics.Calendar(creator=PRODID)
    calendar.events.add(event)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = calendar.serialize()
    lines = text.replace("\r\n", "\n").split("\n")
    start_i = lines.index("BEGIN:VEVENT")
    end_i = lines.index("END:VEVENT")
    return [ln for ln in lines[start_i + 1 : end_i] if ln]


def build_itip(
    *,
    method: str,
    uid: str,
    sequence: int,
    summary: str,
    start: dt.datetime,
    end: dt.datetime,
    organizer: Party,
    attendee: Party,
    partstat: str = "NEEDS-ACTION",
    description: str = "",
    location: str = "",
    url: str = "",
    all_day: bool = False,
    now: dt.datetime | None = None,
) -> ItipMessage:
    """One iTIP message for one recipient (only that recipient is listed as ATTENDEE, for privacy)."""
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unsupported METHOD {method!r}")
    if partstat not in PARTSTATS:
        raise ValueError(f"unsupported PARTSTAT {partstat!r}")
    if end <= start and not all_day:
        raise ValueError("an event must end after it starts")
    if organizer.email.strip().lower() == attendee.email.strip().lower():
        raise ValueError("the ORGANIZER address must differ from the attendee's")
    for value in (uid, organizer.email, attendee.email):
        if any(c in value for c in "\r\n"):
            raise ValueError("newline in a calendar address or UID")
    now = now or dt.datetime.now(dt.UTC)
    status = "CANCELLED" if method == "CANCEL" else "CONFIRMED"
    props = _ics_event_lines(
        uid=uid,
        summary=summary,
        description=description,
        location=location,
        url=url,
        start=start,
        end=end,
        status=status,
    )
    if all_day:
        # ics converts dates to UTC first (ics-py#173); write the London calendar dates ourselves. DTEND is exclusive.
        first = start.astimezone(LONDON).date()
        last = end.astimezone(LONDON).date()
        if end.astimezone(LONDON).timetz().replace(tzinfo=None) != dt.time(0) or last <= first:
            last = last + dt.timedelta(days=1)
        props = [p for p in props if not p.startswith(("DTSTART", "DTEND"))]
        props += [f"DTSTART;VALUE=DATE:{first:%Y%m%d}", f"DTEND;VALUE=DATE:{last:%Y%m%d}"]
    props = [p for p in props if not p.startswith(("DTSTAMP", "SEQUENCE", "ORGANIZER", "ATTENDEE"))]
    organizer_params = [("CN", quote_param(organizer.name or organizer.email))]
    attendee_params = [
        ("CN", quote_param(attendee.name or attendee.email)),
        ("CUTYPE", "INDIVIDUAL"),
        ("ROLE", "REQ-PARTICIPANT"),
        ("PARTSTAT", partstat),
        ("RSVP", "TRUE"),
    ]
    vevent = [
        f"UID:{uid}",
        f"DTSTAMP:{_utc(now)}",
        f"SEQUENCE:{int(sequence)}",
        *sorted(p for p in props if not p.startswith("UID:")),
        _address_line("ORGANIZER", organizer_params, organizer.email),
        _address_line("ATTENDEE", attendee_params, attendee.email),
    ]
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        *vevent,
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    physical: list[str] = []
    for line in lines:
        physical.extend(fold(line))
    return ItipMessage(text=CRLF.join(physical) + CRLF, method=method)
