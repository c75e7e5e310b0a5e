"""The impact report's numbers on hand-made data, its page, CSV, CLI and the monthly summary email."""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import select

from crm import models as m
from crm.dashboard import reports
from crm.dashboard.reports import Period
from tests import factories
from tests.conftest import sign_in_as
from tests.dashboard import factories as f
from tests.dashboard.factories import NOW, days

S = m.PartnershipStage
OCT = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
IN = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)
BEFORE = dt.datetime(2026, 9, 20, 12, tzinfo=dt.UTC)


def test_period_is_london_dates_inclusive():
    p = Period(dt.date(2026, 7, 1), dt.date(2026, 7, 31))
    assert p.since == dt.datetime(2026, 6, 30, 23, tzinfo=dt.UTC)  # BST
    assert p.until == dt.datetime(2026, 7, 31, 23, tzinfo=dt.UTC)
    assert Period.previous_month(NOW) == OCT
    period, errors = reports.parse_period("2026-10-05", "2026-10-01", NOW)
    assert errors == {"to": "The end date must be on or after the start date."} and period == OCT
    period, errors = reports.parse_period("nonsense", "", NOW)
    assert "from" in errors


def _data(db):
    london = factories.region(db, "London")
    north = factories.region(db, "North West")
    vcse_a = factories.organisation(db, "Invented Charity A", region_name="London")
    vcse_b = factories.organisation(db, "Invented Charity B", region_name="North West")
    vcse_c = factories.organisation(db, "Invented Charity C")  # no region
    factories.organisation(db, "Invented Charity Idle", region_name="London")
    uni = factories.organisation(db, "Invented University", m.OrgKind.ACADEMIC, region_name="London")
    funder = factories.organisation(db, "Invented Funder", m.OrgKind.FUNDER)
    call_oct = f.call(db, funder, deadlines=[dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC)])
    call_dec = f.call(db, funder, deadlines=[dt.datetime(2026, 12, 20, 12, tzinfo=dt.UTC)])
    # Partnerships: three started in October, one before.
    p1 = f.partnership(db, stage=S.PROPOSAL, created=IN, call=call_oct)
    f.partnership(db, stage=S.FUNDED, created=IN, call=call_oct)
    f.partnership(db, stage=S.IDEA, created=IN)
    f.partnership(
        db, stage=S.ACTIVE, created=BEFORE, call=call_oct, stage_changed=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    )
    f.partnership(db, stage=S.EXPLORING, created=BEFORE, call=call_oct)  # not yet a bid
    # Funded in November before its December deadline: submitted in November, not October.
    f.partnership(
        db, stage=S.FUNDED, created=BEFORE, call=call_dec, stage_changed=dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    )
    f.partnership(db, stage=S.PROPOSAL, created=BEFORE, call=call_dec)  # deadline still ahead: not submitted yet
    db.add(m.PartnershipMember(partnership_id=p1.id, side=m.Side.VCSE, organisation_id=vcse_a.id))
    db.add(m.PartnershipMember(partnership_id=p1.id, side=m.Side.ACADEMIC, organisation_id=uni.id))
    db.add(m.PartnershipActivity(partnership_id=p1.id, kind=m.ActivityKind.MEETING, occurred_at=IN))
    # Events: one held in October with 2 attended of 3 yes; one in September; one cancelled.
    held = f.event(db, starts=IN)
    person_b = factories.contact(db, organisation=vcse_b)
    f.invite(db, held, person_b, m.InvitationStatus.YES, attended=True)
    f.invite(db, held, factories.contact(db, organisation=uni), m.InvitationStatus.YES, attended=True)
    f.invite(db, held, factories.contact(db), m.InvitationStatus.YES, attended=False)
    f.invite(db, held, factories.contact(db), m.InvitationStatus.NO)
    f.event(db, starts=BEFORE)
    f.event(db, starts=IN, status=m.EventStatus.CANCELLED)
    # Internships: two posted in October (one by C), one filled in October, one posted before.
    f.internship(db, vcse_c, published=IN)
    f.internship(db, uni, published=IN)
    f.internship(db, vcse_a, status=m.InternshipStatus.FILLED, published=BEFORE, closed=IN)
    db.flush()
    return london, north


def test_impact_report_numbers(db):
    _data(db)
    r = reports.impact_report(db, OCT, now=NOW)
    assert r.partnerships_started == 3
    assert r.started_by_stage == {
        "idea": 1,
        "exploring": 0,
        "proposal": 1,
        "funded": 1,
        "active": 0,
        "completed": 0,
        "paused": 0,
    }
    assert (r.bids_submitted, r.bids_funded) == (3, 2)
    assert (r.events_held, r.event_attendance, r.event_yes) == (1, 2, 3)
    assert (r.internships_posted, r.internships_filled) == (2, 1)
    assert r.vcse_by_region == {"London": 1, "North West": 1, "No region": 1}
    assert r.vcse_engaged == 3
    nov = reports.impact_report(db, Period(dt.date(2026, 11, 1), dt.date(2026, 12, 31)), now=NOW)
    assert (nov.bids_submitted, nov.bids_funded) == (1, 1)  # the December proposal is not submitted before NOW
    empty = reports.impact_report(db, Period(dt.date(2025, 1, 1), dt.date(2025, 1, 31)), now=NOW)
    assert empty.partnerships_started == 0 and empty.vcse_by_region == {} and empty.bids_submitted == 0


def test_events_in_the_future_are_not_held_yet(db):
    e = f.event(db, starts=NOW + days(2))
    f.invite(db, e, factories.contact(db), m.InvitationStatus.YES)
    r = reports.impact_report(db, Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)), now=NOW)
    assert r.events_held == 0 and r.event_yes == 0


def test_report_page_and_csv(admin_client, db, count_queries):
    _data(db)
    db.commit()
    with count_queries() as q:
        page = admin_client.get("/admin/reports?from=2026-10-01&to=2026-10-31")
    assert page.status_code == 200
    assert "1 October 2026 to 31 October 2026" in page.text
    assert 'role="img"' in page.text and "VCSE organisations engaged, by region" in page.text
    assert q.count <= 9  # the session and the report's eight statements
    bad = admin_client.get("/admin/reports?from=2026-13-01")
    assert bad.status_code == 200 and "Enter a date like" in bad.text
    response = admin_client.get("/admin/reports/impact.csv?from=2026-10-01&to=2026-10-31")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "impact-2026-10-01-to-2026-10-31.csv" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["period_from", "period_to", "section", "measure", "value"]
    assert ["2026-10-01", "2026-10-31", "Joint bids", "Funded", "2"] in rows
    assert ["2026-10-01", "2026-10-31", "VCSE organisations engaged by region", "London", "1"] in rows


def test_reports_are_for_admins_only(client, db, settings):
    sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    assert client.get("/admin/reports").status_code == 403


def test_monthly_summary_goes_to_every_admin_once_per_month(app, db, settings):
    _data(db)
    db.add_all(
        [
            m.User(email="fellow@example.org", name="Invented Fellow", role=m.Role.ADMIN),
            m.User(email="second@example.org", name="Second Admin", role=m.Role.ADMIN),
            m.User(email="gone@example.org", role=m.Role.ADMIN, is_active=False),
            m.User(email="editor@example.org", role=m.Role.EDITOR),
        ]
    )
    db.flush()
    renderer = app.state.renderer
    assert reports.send_monthly_summary(db, renderer, settings, now=NOW) == 2
    assert reports.send_monthly_summary(db, renderer, settings, now=NOW + days(2)) == 0  # same month: no repeat
    rows = db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "monthly_summary")).all()
    assert sorted(r.recipient for r in rows) == ["fellow@example.org", "second@example.org"]
    msg = rows[0]
    assert msg.idempotency_key.startswith("monthly-summary:2026-10:")
    assert "October 2026" in msg.subject
    assert "Joint bids: Funded: 2" in msg.text_body
    assert "/admin/reports?from=2026-10-01&to=2026-10-31" in msg.text_body


def test_monthly_summary_job(app, db, settings):
    from crm.dashboard.jobs import monthly_summary
    from crm.runtime import Runtime

    db.add(m.User(email="fellow@example.org", role=m.Role.ADMIN))
    db.commit()
    ctx = Runtime(settings)
    ctx.__dict__["session_factory"] = app.state.session_factory
    assert monthly_summary(ctx, now=NOW) == 1
    assert monthly_summary(ctx, now=NOW) == 0


def test_jobs_are_registered_with_explicit_ids(settings):
    from apscheduler.schedulers.background import BackgroundScheduler

    from crm.dashboard import jobs as dashboard_jobs
    from crm.privacy import jobs as privacy_jobs
    from crm.runtime import Runtime
    from jobs.worker import register_jobs

    scheduler = BackgroundScheduler()
    register_jobs(scheduler, Runtime(settings), [*privacy_jobs.JOBS, *dashboard_jobs.JOBS])
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"privacy.retention", "dashboard.monthly_summary"}
    assert str(jobs["dashboard.monthly_summary"].trigger.timezone) == "Europe/London"
    assert "day='1'" in str(jobs["dashboard.monthly_summary"].trigger)
    assert "day_of_week='sun'" in str(jobs["privacy.retention"].trigger)
