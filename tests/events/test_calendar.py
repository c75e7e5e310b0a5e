"""The .ics of an invitation, an update and a cancellation: icalendar parses them cleanly, plus raw-text checks."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from crm.calendar import fold, quote_param
from crm.events.calendar import Party, build_itip

ORG = Party("rsvp@events.example.org", "Roundtable Events, London")
ALICE = Party("alice@example.org", "Smith, Alice: VCSE; lead")
START = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)


def raw_checks(text: str, method: str) -> list[str]:
    assert text.endswith("\r\n")
    physical = text[:-2].split("\r\n")
    for line in physical:
        assert "\n" not in line and "\r" not in line
        assert len(line.encode("utf-8")) <= 75, line
        line.encode("utf-8").decode("utf-8")  # no split character
    assert text.index(f"METHOD:{method}\r\n") < text.index("BEGIN:VEVENT")
    assert physical[:3] == ["BEGIN:VCALENDAR", "VERSION:2.0", physical[2]] and physical[2].startswith(
        "PRODID:-//Roundtable"
    )
    unfolded = text.replace("\r\n ", "").split("\r\n")
    vevent = unfolded[unfolded.index("BEGIN:VEVENT") : unfolded.index("END:VEVENT")]
    assert sum(ln.startswith("UID:") for ln in vevent) == 1
    assert sum(ln.startswith("DTSTAMP:") for ln in vevent) == 1
    assert next(ln for ln in vevent if ln.startswith("DTSTAMP:")).endswith("Z")
    assert text.count("BEGIN:VEVENT") == 1
    return unfolded


def parse(text: str):
    cal = Calendar.from_ical(text)
    for component in cal.walk():
        assert component.errors == [], component.errors
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def make(method="REQUEST", sequence=0, **kw):
    args = dict(
        method=method,
        uid="evt-1234@crm.example.org",
        sequence=sequence,
        summary="Café networking, funding call: mental health; " + "é" * 40,
        start=START,
        end=START + dt.timedelta(hours=2),
        organizer=ORG,
        attendee=ALICE,
        description="A long description " * 10 + "\nwith a second line",
        location="Friends Room, 1 Example Street; London",
        url="https://crm.example.org/events/x",
        now=dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC),
    )
    args.update(kw)
    return build_itip(**args)


def test_invitation_is_valid_request():
    msg = make()
    assert msg.method == "REQUEST" and msg.content_type == "text/calendar; method=REQUEST"
    unfolded = raw_checks(msg.text, "REQUEST")
    cal, ev = parse(msg.text)
    assert str(cal["VERSION"]) == "2.0" and str(cal["METHOD"]) == "REQUEST"
    assert str(cal["PRODID"]).startswith("-//Roundtable CRM")
    assert str(ev["UID"]) == "evt-1234@crm.example.org" and int(ev["SEQUENCE"]) == 0
    assert ev.decoded("DTSTART") == START and ev.decoded("DTEND") == START + dt.timedelta(hours=2)
    assert "DTSTART:20260601T093000Z" in unfolded and "DTEND:20260601T113000Z" in unfolded
    assert ev.decoded("DTSTAMP").tzinfo is not None and str(ev["STATUS"]) == "CONFIRMED"
    assert str(ev["SUMMARY"]).startswith("Café networking, funding call: mental health; ")
    organizer = ev["ORGANIZER"]
    assert str(organizer) == "mailto:rsvp@events.example.org" and organizer.params["CN"] == "Roundtable Events, London"
    attendees = ev.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert len(attendees) == 1
    a = attendees[0]
    assert str(a) == "mailto:alice@example.org" and str(a) != str(organizer)
    assert a.params["PARTSTAT"] == "NEEDS-ACTION" and a.params["RSVP"] == "TRUE"
    assert a.params["ROLE"] == "REQ-PARTICIPANT" and a.params["CN"] == "Smith, Alice: VCSE; lead"
    # Parameter values with , ; : are DQUOTE-quoted.
    assert 'ORGANIZER;CN="Roundtable Events, London":mailto:rsvp@events.example.org' in unfolded
    assert any(ln.startswith('ATTENDEE;CN="Smith, Alice: VCSE; lead";') for ln in unfolded)


def test_update_keeps_uid_bumps_sequence_and_resets_partstat():
    first = make(now=dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC))
    later = make(
        sequence=1,
        start=START + dt.timedelta(hours=1),
        end=START + dt.timedelta(hours=3),
        now=dt.datetime(2026, 5, 2, 12, tzinfo=dt.UTC),
    )
    raw_checks(later.text, "REQUEST")
    _, a = parse(first.text)
    _, b = parse(later.text)
    assert a["UID"] == b["UID"] and int(b["SEQUENCE"]) == int(a["SEQUENCE"]) + 1
    assert b.decoded("DTSTAMP") > a.decoded("DTSTAMP")
    assert b.get("ATTENDEE").params["PARTSTAT"] == "NEEDS-ACTION"


def test_cancellation_is_valid_cancel():
    msg = make(method="CANCEL", sequence=2)
    assert msg.content_type == "text/calendar; method=CANCEL"
    raw_checks(msg.text, "CANCEL")
    cal, ev = parse(msg.text)
    assert str(cal["METHOD"]) == "CANCEL" and str(ev["STATUS"]) == "CANCELLED" and int(ev["SEQUENCE"]) == 2
    assert ev.get("ORGANIZER") and ev.get("ATTENDEE") and ev.get("DTSTART")


def test_all_day_event_uses_london_dates_not_utc():
    london_midnight = dt.datetime(2025, 5, 31, 23, 0, tzinfo=dt.UTC)  # 1 June 00:00 BST
    msg = make(start=london_midnight, end=london_midnight + dt.timedelta(days=1), all_day=True)
    unfolded = raw_checks(msg.text, "REQUEST")
    assert "DTSTART;VALUE=DATE:20250601" in unfolded and "DTEND;VALUE=DATE:20250602" in unfolded
    _, ev = parse(msg.text)
    assert ev.decoded("DTSTART") == dt.date(2025, 6, 1)


def test_folding_never_splits_a_multibyte_character():
    line = "SUMMARY:" + "ü€😀" * 40
    parts = fold(line)
    assert all(len(p.encode()) <= 75 for p in parts)
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == line


def test_parameter_quoting_and_caret_encoding():
    assert quote_param("Alice") == "Alice"
    assert quote_param("Smith, Alice") == '"Smith, Alice"'
    assert quote_param('Say "hi"\nbye') == "Say ^'hi^'^nbye"


def test_refuses_organizer_equal_to_attendee_and_end_before_start():
    with pytest.raises(ValueError):
        make(attendee=Party("rsvp@events.example.org", "Me"))
    with pytest.raises(ValueError):
        make(end=START - dt.timedelta(hours=1))
