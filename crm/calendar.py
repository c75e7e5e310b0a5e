"""Every .ics the app makes (deadline downloads, event invitations): the ``ics`` package, with its gaps fixed here.

``ics`` (a stack requirement, pinned ``<0.8``) writes each VEVENT's TEXT properties (SUMMARY, DESCRIPTION, LOCATION
with RFC 5545 escaping), its UTC DATE-TIMEs, STATUS and TRANSP. ``ics`` 0.7.3 gets the rest wrong, so this module:

1. writes ``VERSION, PRODID, CALSCALE, METHOD`` first (``ics`` writes METHOD after the VEVENT), and our PRODID;
2. writes DTSTAMP as the message's creation time in UTC (``ics`` writes it only from ``created``);
3. adds SEQUENCE when given (``ics`` has none);
4. writes calendar-address properties (ORGANIZER, ATTENDEE) with DQUOTE-quoted, RFC 6868 caret-escaped parameter
   values (``ics`` backslash-escapes parameters and crashes on ``rsvp=True``): ``address_property``;
5. writes all-day events as ``VALUE=DATE`` in Europe/London (``ics`` converts dates to UTC first: off by one in
   summer, ics-py#173), DTEND exclusive;
6. writes URL unescaped (a URI, not TEXT: ``ics`` backslash-escapes its commas), and turns CR and CRLF in text into
   a newline first (``ics`` writes a bare CR as ``\\r``, which RFC 5545 does not define);
7. folds lines at 75 octets without splitting a UTF-8 character and ends every line in CRLF, the last too
   (``ics`` does neither).

Times are UTC (``…Z``), so no VTIMEZONE is needed. ``build_calendar`` makes a published calendar (a download);
``calendar_text`` any METHOD (``crm.events.calendar.build_itip`` makes invitations and cancellations with it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import ics

PRODID = "-//Roundtable CRM//Calendar 1.0//EN"
LONDON = ZoneInfo("Europe/London")
CRLF = "\r\n"
LINE_OCTETS = 75
STATUSES = {"", "TENTATIVE", "CONFIRMED", "CANCELLED"}


@dataclasses.dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One VEVENT. Times are timezone-aware; ``ends_at`` defaults to ``duration_minutes`` after the start."""

    uid: str
    summary: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    duration_minutes: int = 30
    description: str = ""
    location: str = ""
    url: str = ""
    status: str = ""  # TENTATIVE, CONFIRMED, CANCELLED or "" (not written)
    sequence: int | None = None  # written when given (a scheduling message's revision)
    transparent: bool | None = True  # TRANSP: True = shows as free time, False = busy, None = not written
    all_day: bool = False  # the London dates of starts_at..ends_at, as VALUE=DATE
    properties: tuple[str, ...] = ()  # further content lines, unfolded (e.g. ``address_property`` lines)

    @property
    def end(self) -> dt.datetime:
        return self.ends_at or self.starts_at + dt.timedelta(minutes=self.duration_minutes)


def quote_param(value: str) -> str:
    """A parameter value: RFC 6868 caret-encode ^, newline and DQUOTE; DQUOTE-quote when it has , ; or :."""
    value = value.replace("^", "^^").replace("\r\n", "^n").replace("\n", "^n").replace("\r", "^n")
    value = value.replace('"', "^'")
    if any(c in value for c in ",;:") or value != value.strip():
        return f'"{value}"'
    return value


def address_property(name: str, email: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """A calendar-address content line (``ORGANIZER;CN="…":mailto:…``); ``params`` values are raw text, quoted here
    (CN) or already plain tokens (PARTSTAT=ACCEPTED…)."""
    if any(c in email for c in "\r\n"):
        raise ValueError("newline in a calendar address")
    rendered = "".join(f";{key}={quote_param(value)}" for key, value in params)
    return f"{name}{rendered}:mailto:{email}"


def fold(line: str) -> list[str]:
    """Split one content line into physical lines of at most 75 octets, never inside a UTF-8 character."""
    out: list[str] = []
    current = ""
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > LINE_OCTETS:
            out.append(current)
            current = " "  # continuation lines start with one space, which counts towards their 75 octets
            size = 1
        current += char
        size += width
    out.append(current)
    return out


def utc_stamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("calendar times must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str | None:
    return value.replace("\r\n", "\n").replace("\r", "\n") or None


def _ics_lines(event: CalendarEvent) -> list[str]:
    """The VEVENT properties ``ics`` writes correctly (escaped TEXT, UTC times, STATUS, TRANSP), unfolded."""
    vevent = ics.Event(
        name=_text(event.summary),
        begin=event.starts_at.astimezone(dt.UTC),
        end=event.end.astimezone(dt.UTC),
        uid=event.uid,
        description=_text(event.description),
        location=_text(event.location),
        status=event.status or None,
        transparent=event.transparent,
    )
    calendar = ics.Calendar(creator=PRODID)
    calendar.events.add(vevent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = calendar.serialize()
    lines = text.replace("\r\n", "\n").split("\n")
    body = lines[lines.index("BEGIN:VEVENT") + 1 : lines.index("END:VEVENT")]
    return [ln for ln in body if ln and not ln.startswith(("UID:", "DTSTAMP", "SEQUENCE"))]


def event_lines(event: CalendarEvent, *, now: dt.datetime) -> list[str]:
    """One VEVENT, unfolded: UID, DTSTAMP, SEQUENCE first, then ``ics``'s properties (fixed), then ``properties``."""
    if event.status not in STATUSES:
        raise ValueError(f"unsupported STATUS {event.status!r}")
    if any(c in event.uid for c in "\r\n"):
        raise ValueError("newline in a calendar UID")
    props = _ics_lines(event)
    if event.all_day:
        first = event.starts_at.astimezone(LONDON).date()
        end = event.end.astimezone(LONDON)
        last = end.date()
        if end.timetz().replace(tzinfo=None) != dt.time(0) or last <= first:
            last += dt.timedelta(days=1)  # DTEND is exclusive: the day after the last day
        props = [p for p in props if not p.startswith(("DTSTART", "DTEND"))]
        props += [f"DTSTART;VALUE=DATE:{first:%Y%m%d}", f"DTEND;VALUE=DATE:{last:%Y%m%d}"]
    url = event.url.replace("\r", "").replace("\n", "")
    if url:
        props.append(f"URL:{url}")
    head = [f"UID:{event.uid}", f"DTSTAMP:{utc_stamp(now)}"]
    if event.sequence is not None:
        head.append(f"SEQUENCE:{int(event.sequence)}")
    return ["BEGIN:VEVENT", *head, *sorted(props), *event.properties, "END:VEVENT"]


def fold_lines(lines: Iterable[str]) -> str:
    """Content lines folded (``fold``), each ending in CRLF; an ASCII line is cut by slicing (the same result)."""
    out: list[str] = []
    for line in lines:
        if not line.isascii():
            out += fold(line)
        elif len(line) <= LINE_OCTETS:
            out.append(line)
        else:
            step = LINE_OCTETS - 1  # a continuation line's leading space counts
            out.append(line[:LINE_OCTETS])
            out += [" " + line[i : i + step] for i in range(LINE_OCTETS, len(line), step)]
    return CRLF.join(out) + CRLF


def calendar_lines(events: Iterable[CalendarEvent], *, method: str, now: dt.datetime, name: str = "") -> list[str]:
    """The unfolded content lines of ``calendar_text``."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", f"METHOD:{method.upper()}"]
    if name:
        lines.append("X-WR-CALNAME:" + ics.utils.escape_string(_text(name) or ""))
    for event in events:
        lines += event_lines(event, now=now)
    lines.append("END:VCALENDAR")
    return lines


def calendar_text(events: Iterable[CalendarEvent], *, method: str, now: dt.datetime, name: str = "") -> str:
    """A VCALENDAR with these events (in order), folded, CRLF line ends; ``name`` becomes X-WR-CALNAME."""
    return fold_lines(calendar_lines(events, method=method, now=now, name=name))


def build_calendar(events: Iterable[CalendarEvent], *, now: dt.datetime, name: str = "") -> bytes:
    """A published calendar (METHOD:PUBLISH) to download, UTF-8 encoded."""
    return calendar_text(events, method="PUBLISH", now=now, name=name).encode("utf-8")
