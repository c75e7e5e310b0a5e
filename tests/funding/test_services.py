"""Funding-call rules, the close job and the calendar file."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from sqlalchemy import select

from crm import models as m
from crm.calendar import CalendarEvent, build_calendar, fold
from crm.funding import services as fs
from crm.funding.jobs import close_expired_calls
from crm.funding.labels import countdown
from crm.timefmt import local_input, parse_local
from tests import factories
from tests.funding.helpers import NOW, call_input, make_call

DAY = dt.timedelta(days=1)


def test_create_call_stores_deadline_bounds_and_audits(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    call = make_call(
        db,
        funder,
        deadlines=[("Outline", NOW + 10 * DAY), ("Full application", NOW + 40 * DAY)],
        topics=["Psychosis"],
        regions=["London"],
    )
    assert call.next_deadline_at == NOW + 10 * DAY and call.last_deadline_at == NOW + 40 * DAY
    assert call.status == m.CallStatus.PUBLISHED and call.published_at == NOW
    assert call.slug == "community-research-fund"
    again = make_call(db, funder)
    assert again.slug == "community-research-fund-2"
    entry = db.scalar(
        select(m.AuditEntry).where(m.AuditEntry.entity == "funding_call", m.AuditEntry.entity_id == call.id)
    )
    assert entry.action == "created" and entry.changes["topics"] == [None, ["Psychosis"]]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"deadlines": [("Full", NOW - DAY)]}, "deadlines"),
        ({"deadlines": []}, "deadlines"),
        ({"amount_min": 50_000, "amount_max": 10_000}, "amount_max"),
        ({"amount_min": -5}, "amount_min"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"lead_must_be_academic": True, "lead_must_be_vcse": True}, "lead_must_be_vcse"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_input_is_refused_with_a_field_message(db, kwargs, field):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    kwargs = dict(kwargs)
    title = kwargs.pop("title", "A call")
    data = call_input(db, funder, title, **kwargs)
    if "deadlines" in kwargs and not kwargs["deadlines"]:
        data.deadlines = []
    with pytest.raises(fs.CallError) as err:
        fs.create_call(db, None, data, now=NOW)
    assert field in err.value.errors


def test_existing_call_may_keep_a_past_deadline(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    call = make_call(db, funder, deadlines=[("Outline", NOW + DAY), ("Full", NOW + 20 * DAY)])
    later = NOW + 5 * DAY
    data = call_input(db, funder, "Renamed", deadlines=[("Outline", NOW + DAY), ("Full", NOW + 20 * DAY)])
    changes = fs.update_call(db, None, call, data, now=later)
    assert changes["title"] == ["Community research fund", "Renamed"]
    assert call.next_deadline_at == NOW + 20 * DAY  # the passed outline deadline is no longer "next"


def test_duplicate_external_reference_is_refused(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    make_call(db, funder, external_ref="NT-1")
    with pytest.raises(fs.CallError) as err:
        make_call(db, funder, "Other", external_ref="NT-1")
    assert "external_ref" in err.value.errors


def test_close_job_advances_next_deadline_and_closes_after_the_last(db, app, count_queries):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    two_stage = make_call(db, funder, "Two stage", deadlines=[("Outline", NOW + DAY), ("Full", NOW + 10 * DAY)])
    single = make_call(db, funder, "Single", deadlines=[("Full", NOW + 2 * DAY)])
    draft = make_call(db, funder, "Draft", status=m.CallStatus.DRAFT, deadlines=[("Full", NOW + DAY)])
    db.commit()

    class Ctx:
        session_factory = app.state.session_factory

    with count_queries() as q:
        assert close_expired_calls(Ctx, now=NOW + 3 * DAY) == {"closed": 1, "advanced": 1}
    assert q.count <= 6
    db.expire_all()
    assert db.get(m.FundingCall, single.id).status == m.CallStatus.CLOSED
    assert db.get(m.FundingCall, single.id).closed_at == NOW + 3 * DAY
    assert db.get(m.FundingCall, two_stage.id).status == m.CallStatus.PUBLISHED
    assert db.get(m.FundingCall, two_stage.id).next_deadline_at == NOW + 10 * DAY
    assert db.get(m.FundingCall, draft.id).status == m.CallStatus.DRAFT  # drafts are never closed by the job
    assert close_expired_calls(Ctx, now=NOW + 3 * DAY) == {"closed": 0, "advanced": 0}  # idempotent
    close_expired_calls(Ctx, now=NOW + 11 * DAY)
    db.expire_all()
    assert db.get(m.FundingCall, two_stage.id).status == m.CallStatus.CLOSED
    audit = db.scalars(select(m.AuditEntry.actor).where(m.AuditEntry.action == "closed")).all()
    assert audit == ["system", "system"]


def test_publish_refused_when_every_deadline_passed(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    call = make_call(db, funder, status=m.CallStatus.DRAFT, deadlines=[("Full", NOW + DAY)])
    with pytest.raises(fs.CallError):
        fs.set_status(db, None, call, m.CallStatus.PUBLISHED, now=NOW + 2 * DAY)
    fs.set_status(db, None, call, m.CallStatus.PUBLISHED, now=NOW)
    assert call.status == m.CallStatus.PUBLISHED


def test_countdown_words():
    assert countdown(NOW + dt.timedelta(days=12), NOW) == "12 days left"
    assert countdown(NOW + dt.timedelta(hours=3), NOW) == "Closes today"
    assert countdown(NOW + dt.timedelta(hours=20), NOW) == "1 day left (closes tomorrow)"
    assert countdown(NOW + dt.timedelta(days=30), NOW) == "30 days left (4 weeks)"
    assert countdown(NOW - DAY, NOW) == "Deadline passed"


def test_local_times_are_entered_in_london():
    summer = fs.parse_local_datetime("2027-06-01T17:00")
    assert summer == dt.datetime(2027, 6, 1, 16, 0, tzinfo=dt.UTC)  # BST
    winter = fs.parse_local_datetime("2027-01-10 12:00")
    assert winter == dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC)
    assert fs.parse_local_datetime("2027-06-01") == dt.datetime(2027, 6, 1, 22, 59, tzinfo=dt.UTC)
    assert local_input(summer) == "2027-06-01T17:00"
    assert parse_local("2027-06-01T17:00") == summer and parse_local("not a time") is None


def test_calendar_is_valid_icalendar_with_folding_and_crlf():
    long_title = "Réseau de recherche communautaire, santé mentale; " * 4
    raw = build_calendar(
        [
            CalendarEvent(uid="call-1-deadline-1@roundtable", summary=long_title, starts_at=NOW),
            CalendarEvent(uid="call-1-deadline-2@roundtable", summary="Full", starts_at=NOW + DAY, description="a\nb"),
        ],
        now=NOW,
    )
    text = raw.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:") and text.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert "\n" not in text.replace("\r\n", "")
    cal = icalendar.Calendar.from_ical(raw)
    events = cal.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == ["call-1-deadline-1@roundtable", "call-1-deadline-2@roundtable"]
    assert str(events[0]["SUMMARY"]) == long_title
    assert events[0]["DTSTAMP"].dt == NOW and events[1]["DTSTART"].dt == NOW + DAY
    assert str(events[1]["DESCRIPTION"]) == "a\nb"


def test_fold_never_splits_a_multibyte_character():
    line = "SUMMARY:" + "é" * 100
    folded = "\r\n".join(fold(line))
    for part in folded.split("\r\n"):
        assert len(part.encode()) <= 75
        part.encode().decode()  # valid UTF-8 on its own
    assert folded.replace("\r\n ", "") == line
