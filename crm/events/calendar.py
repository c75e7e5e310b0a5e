"""iTIP messages (RFC 5546) for event invitations, updates and cancellations, one per recipient.

``build_itip()`` checks what an invitation must hold (a METHOD and PARTSTAT we support, an end after the start, an
ORGANIZER that is not the attendee) and writes one VEVENT through ``crm.calendar`` (the app's one iCalendar writer,
which fixes the ``ics`` package's gaps): the stable UID, SEQUENCE, STATUS CANCELLED for METHOD:CANCEL, and the
ORGANIZER and only this recipient as ATTENDEE (``RSVP=TRUE``, ``ROLE=REQ-PARTICIPANT``), for privacy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from crm.calendar import CalendarEvent, address_property, calendar_text

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
    event = CalendarEvent(
        uid=uid,
        summary=summary,
        starts_at=start,
        ends_at=end,
        description=description,
        location=location,
        url=url,
        status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
        sequence=sequence,
        transparent=None,
        all_day=all_day,
        properties=(
            address_property("ORGANIZER", organizer.email, [("CN", organizer.name or organizer.email)]),
            address_property(
                "ATTENDEE",
                attendee.email,
                [
                    ("CN", attendee.name or attendee.email),
                    ("CUTYPE", "INDIVIDUAL"),
                    ("ROLE", "REQ-PARTICIPANT"),
                    ("PARTSTAT", partstat),
                    ("RSVP", "TRUE"),
                ],
            ),
        ),
    )
    text = calendar_text([event], method=method, now=now or dt.datetime.now(dt.UTC))
    return ItipMessage(text=text, method=method)
