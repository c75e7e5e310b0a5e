"""iTIP messages (RFC 5546) for event invitations, updates and cancellations, one per recipient.

``build_itip()`` checks what an invitation must hold (a METHOD and PARTSTAT we support, an end after the start, an
ORGANIZER that is not the attendee) and writes one VEVENT through ``crm.calendar`` (the app's one iCalendar writer,
which fixes the ``ics`` package's gaps): the stable UID, SEQUENCE, STATUS CANCELLED for METHOD:CANCEL, and the
ORGANIZER and only this recipient as ATTENDEE (``RSVP=TRUE``, ``ROLE=REQ-PARTICIPANT``), for privacy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from crm.calendar import CalendarEvent, address_property, calendar_lines, fold_lines

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


@dataclasses.dataclass(frozen=True, slots=True)
class ItipTemplate:
    """One event's iTIP message with the attendee left out: built once per send, ``fill`` adds one recipient's
    ATTENDEE line (the VEVENT's last line) between the folded text before and after it."""

    method: str
    organizer: Party
    head: str
    tail: str

    def fill(self, attendee: Party, partstat: str = "NEEDS-ACTION") -> ItipMessage:
        if partstat not in PARTSTATS:
            raise ValueError(f"unsupported PARTSTAT {partstat!r}")
        if self.organizer.email.strip().lower() == attendee.email.strip().lower():
            raise ValueError("the ORGANIZER address must differ from the attendee's")
        line = address_property(
            "ATTENDEE",
            attendee.email,
            [
                ("CN", attendee.name or attendee.email),
                ("CUTYPE", "INDIVIDUAL"),
                ("ROLE", "REQ-PARTICIPANT"),
                ("PARTSTAT", partstat),
                ("RSVP", "TRUE"),
            ],
        )
        return ItipMessage(text=self.head + fold_lines([line]) + self.tail, method=self.method)


def itip_template(
    *,
    method: str,
    uid: str,
    sequence: int,
    summary: str,
    start: dt.datetime,
    end: dt.datetime,
    organizer: Party,
    description: str = "",
    location: str = "",
    url: str = "",
    all_day: bool = False,
    tentative: bool = False,
    now: dt.datetime | None = None,
) -> ItipTemplate:
    """The calendar of ``build_itip`` without its attendee (``ics`` builds the VEVENT once). ``tentative`` is the copy
    of someone on the waitlist: STATUS:TENTATIVE, so their calendar never shows a place they do not have."""
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unsupported METHOD {method!r}")
    if end <= start and not all_day:
        raise ValueError("an event must end after it starts")
    event = CalendarEvent(
        uid=uid,
        summary=summary,
        starts_at=start,
        ends_at=end,
        description=description,
        location=location,
        url=url,
        status="CANCELLED" if method == "CANCEL" else ("TENTATIVE" if tentative else "CONFIRMED"),
        sequence=sequence,
        transparent=None,
        all_day=all_day,
        properties=(address_property("ORGANIZER", organizer.email, [("CN", organizer.name or organizer.email)]),),
    )
    lines = calendar_lines([event], method=method, now=now or dt.datetime.now(dt.UTC))
    assert lines[-2:] == ["END:VEVENT", "END:VCALENDAR"]
    return ItipTemplate(method=method, organizer=organizer, head=fold_lines(lines[:-2]), tail=fold_lines(lines[-2:]))


def build_itip(*, attendee: Party, partstat: str = "NEEDS-ACTION", **event: Any) -> ItipMessage:
    """One iTIP message for one recipient (only that recipient is listed as ATTENDEE, for privacy).

    ``event`` takes ``itip_template``'s arguments (method, uid, sequence, summary, start, end, organizer, …)."""
    if partstat not in PARTSTATS:
        raise ValueError(f"unsupported PARTSTAT {partstat!r}")
    if event["organizer"].email.strip().lower() == attendee.email.strip().lower():
        raise ValueError("the ORGANIZER address must differ from the attendee's")
    return itip_template(**event).fill(attendee, partstat)
