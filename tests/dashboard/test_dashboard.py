"""Every dashboard number on hand-made data (both databases), the page, its charts and its statement count."""

from __future__ import annotations

import datetime as dt

from crm import models as m
from crm.dashboard import charts
from crm.dashboard import services as ds
from crm.mailing.transports import reports_delivery
from crm.settings import Settings
from tests import factories
from tests.conftest import sign_in_as
from tests.dashboard import factories as f
from tests.dashboard.factories import NOW, days

S = m.PartnershipStage


def test_deadlines_of_published_calls_in_the_next_six_weeks(db, settings):
    funder = factories.organisation(db, "Invented Funder", m.OrgKind.FUNDER)
    soon = f.call(db, funder, deadlines=[NOW + days(10), NOW + days(50)], title="Soon fund")
    f.call(db, funder, deadlines=[NOW - days(1)], title="Past fund")
    f.call(db, funder, status=m.CallStatus.DRAFT, deadlines=[NOW + days(5)], title="Draft fund")
    f.call(db, funder, deadlines=[NOW + days(41)], title="Edge fund")
    rows = ds.upcoming_deadlines(db, NOW)
    assert [(r.title, r.due_at) for r in rows] == [("Soon fund", NOW + days(10)), ("Edge fund", NOW + days(41))]
    assert rows[0].funder == "Invented Funder" and rows[0].call_id == soon.id


def test_partnerships_by_stage_and_health(db, settings):
    f.partnership(db, stage=S.IDEA, created=NOW - days(5))  # active
    f.partnership(db, stage=S.IDEA, created=NOW - days(100), last_activity=NOW - days(40))  # quiet
    f.partnership(db, stage=S.ACTIVE, created=NOW - days(300))  # dormant (no activity since creation)
    f.partnership(db, stage=S.COMPLETED, created=NOW - days(300))  # dormant but not live
    result = ds.partnerships_by_stage_and_health(db, NOW, settings)
    assert result.by_stage == {
        "idea": 2,
        "exploring": 0,
        "proposal": 0,
        "funded": 0,
        "active": 1,
        "completed": 1,
        "paused": 0,
    }
    assert result.by_health == {"active": 1, "quiet": 1, "dormant": 1}
    assert result.grid["idea"] == {"active": 1, "quiet": 1, "dormant": 0}
    assert result.grid["completed"]["dormant"] == 1
    assert result.total == 4


def test_partnerships_needing_attention(db, settings):
    fresh = f.partnership(db, created=NOW - days(2), title="Fresh")
    quiet = f.partnership(db, created=NOW - days(45), title="Quiet one")
    dormant = f.partnership(db, created=NOW - days(200), title="Dormant one")
    overdue = f.partnership(
        db, created=NOW - days(3), next_step="Send draft", next_step_due=dt.date(2026, 11, 20), title="Overdue one"
    )
    f.partnership(db, created=NOW - days(3), next_step="Later", next_step_due=dt.date(2026, 12, 20))
    f.partnership(db, stage=S.PAUSED, created=NOW - days(300))
    items, total = ds.partnerships_needing_attention(db, NOW, settings)
    assert total == 3
    assert [i["id"] for i in items] == [dormant.id, quiet.id, overdue.id]
    assert items[0]["health"] == "dormant" and items[0]["days_since_activity"] == 200
    assert items[1]["health"] == "quiet"
    assert items[2]["overdue"] is True and items[2]["health"] == "active"
    assert fresh.id not in [i["id"] for i in items]
    items, total = ds.partnerships_needing_attention(db, NOW, settings, limit=1)
    assert len(items) == 1 and total == 3


def test_upcoming_events_with_rsvp_counts_against_capacity(db, settings):
    e = f.event(db, starts=NOW + days(7), capacity=4, title="Round table")
    unlimited = f.event(db, starts=NOW + days(14), title="Open day")
    f.event(db, starts=NOW - days(1), title="Past")
    f.event(db, starts=NOW + days(3), status=m.EventStatus.DRAFT, title="Draft")
    st = m.InvitationStatus
    for status in (st.YES, st.YES, st.YES, st.MAYBE, st.NO, st.WAITLISTED, st.INVITED, st.INVITED):
        f.invite(db, e, factories.contact(db), status)
    rows = ds.upcoming_events(db, NOW)
    assert [r["title"] for r in rows] == ["Round table", "Open day"]
    first = rows[0]
    assert (first["yes"], first["maybe"], first["no"], first["waitlisted"], first["no_answer"]) == (3, 1, 1, 1, 2)
    assert first["capacity"] == 4 and first["free"] == 1 and first["percent_full"] == 75
    assert rows[1]["id"] == unlimited.id and rows[1]["yes"] == 0 and rows[1]["free"] is None


def test_mail_health_and_waiting_submissions(db, settings):
    o1 = f.outbox(db, "a@example.org", sent=NOW - days(1))
    f.outbox(db, "b@example.org", sent=NOW - days(2))
    f.outbox(db, "c@example.org", sent=NOW - days(40))
    f.outbox(db, "d@example.org", status=m.OutboxStatus.FAILED, sent=None, created=NOW - days(3))
    f.delivery(db, "delivered", "a@example.org", NOW - days(1), o1.id)
    f.delivery(db, "delivered", "b@example.org", NOW - days(2))
    f.delivery(db, "delivered", "c@example.org", NOW - days(31))
    f.delivery(db, "bounce", "e@example.org", NOW - days(5))
    f.delivery(db, "dropped", "g@example.org", NOW - days(5))
    f.delivery(db, "spamreport", "h@example.org", NOW - days(6))
    f.delivery(db, "open", "a@example.org", NOW - days(1))
    f.consent(db, "x@example.org", m.ConsentAction.UNSUBSCRIBE, NOW - days(3))
    f.consent(db, "y@example.org", m.ConsentAction.UNSUBSCRIBE_ALL, NOW - days(29))
    f.consent(db, "z@example.org", m.ConsentAction.UNSUBSCRIBE, NOW - days(31))
    f.consent(db, "w@example.org", m.ConsentAction.SUBSCRIBE, NOW - days(1))
    factories.organisation(db, review_status=m.ReviewStatus.SUBMITTED)
    factories.organisation(db, review_status=m.ReviewStatus.SUBMITTED)
    factories.organisation(db, review_status=m.ReviewStatus.REJECTED)
    host = factories.organisation(db)
    f.internship(db, host, status=m.InternshipStatus.SUBMITTED, published=None)
    f.internship(db, host)
    ev = f.event(db, starts=NOW + days(3))
    db.add(m.PlaceRequest(event_id=ev.id, name="Invented Asker", email="asker@example.org"))
    db.add(
        m.PlaceRequest(
            event_id=ev.id, name="Invented Other", email="other@example.org", status=m.PlaceRequestStatus.APPROVED
        )
    )
    db.flush()
    c = ds.counters(db, NOW)
    assert c.mail_health == {"Delivered": 2, "Bounced": 2, "Spam reports": 1, "Unsubscribes": 2}
    assert (c.sent, c.failed) == (2, 1)
    assert (c.organisations_submitted, c.internships_submitted, c.place_requests_pending) == (2, 1, 1)
    assert c.waiting_total == 4


def test_last_digest_run_provider_tolerates_a_missing_model(db, monkeypatch):
    monkeypatch.delattr(m, "DigestRun", raising=False)
    assert ds.last_digest_run(db) is None


def test_chart_is_accessible_svg_with_escaped_text():
    svg = str(charts.bar_chart("Mail <health>", [("Delivered", 5), ("Spam & junk", 0)], description="Last 30 days."))
    assert svg.startswith('<svg class="chart" role="img" aria-labelledby=')
    assert "<title" in svg and "Mail &lt;health&gt;" in svg
    assert "<desc" in svg and "Last 30 days. Delivered: 5; Spam &amp; junk: 0." in svg
    assert "<script" not in svg and "style=" not in svg


def _populate(db, n: int) -> None:
    funder = factories.organisation(db, kind=m.OrgKind.FUNDER)
    for i in range(n):
        c = f.call(db, funder, deadlines=[NOW + days(3 + i % 30)])
        f.partnership(
            db,
            stage=list(S)[i % 7],
            created=NOW - days(i * 7),
            call=c,
            next_step="Call back",
            next_step_due=dt.date(2026, 11, 1),
        )
        e = f.event(db, starts=dt.datetime.now(dt.UTC) + days(1 + i), capacity=10)
        f.invite(db, e, factories.contact(db), m.InvitationStatus.YES)
        o = f.outbox(db, f"p{i}@example.org", sent=dt.datetime.now(dt.UTC) - days(1))
        f.delivery(db, "delivered", f"p{i}@example.org", dt.datetime.now(dt.UTC) - days(1), o.id)
        factories.organisation(db, review_status=m.ReviewStatus.SUBMITTED)
    if hasattr(m, "DigestRun"):
        db.add(m.DigestRun(period=f"2026-W{n}", frequency="weekly", cutoff_at=NOW, started_at=NOW, sent=7 * n))
    db.commit()


def test_dashboard_page_renders_charts_tables_and_a_constant_number_of_statements(admin_client, db, count_queries):
    _populate(db, 2)
    with count_queries() as small:
        page = admin_client.get("/admin")
    assert page.status_code == 200
    html = page.text
    assert html.count('role="img"') == 4  # stages, health, mail, involvement hours by quarter
    assert "<title" in html and "<desc" in html
    assert "Partnerships by stage" in html and "Mail health, last 30 days" in html
    assert "Partnerships needing attention" in html and "Overdue" in html
    assert "Upcoming events" in html and "Waiting for your review" in html
    assert "2 organisations submitted" in html
    assert "Last digest run" in html and ("<dd>14</dd>" in html or not hasattr(m, "DigestRun"))
    _populate(db, 25)
    with count_queries() as large:
        page = admin_client.get("/admin")
    assert page.status_code == 200
    assert "27 organisations submitted" in page.text
    assert small.count == large.count
    assert large.count <= 9  # session lookup + six panels (five without digests) + two of involvement


def test_non_admins_see_a_welcome_not_the_dashboard(client, db, settings):
    sign_in_as(client, db, settings, "viewer@example.org", m.Role.VIEWER)
    page = client.get("/admin")
    assert page.status_code == 200
    assert "Welcome" in page.text and "Mail health" not in page.text


def test_dashboard_needs_sign_in(client):
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_last_digest_run_counts(db):
    if not hasattr(m, "DigestRun"):
        return
    assert ds.last_digest_run(db) == {}
    common = {"frequency": "weekly", "cutoff_at": NOW}
    db.add(m.DigestRun(period="2026-W46", started_at=NOW - days(14), sent=9, **common))
    db.add(
        m.DigestRun(
            period="2026-W47",
            started_at=NOW - days(7),
            sent=5,
            skipped_empty=3,
            already_sent=1,
            failed=2,
            status=m.DigestRunStatus.DONE,
            **common,
        )
    )
    db.add(m.DigestRun(period="2026-W48", started_at=NOW - days(1), sent=99, dry_run=True, **common))
    db.flush()
    run = ds.last_digest_run(db)
    assert (run["period"], run["sent"], run["skipped"], run["failed"], run["status"]) == ("2026-W47", 5, 4, 2, "done")
    assert run["when"] == NOW - days(7)


def test_delivery_figures_say_when_the_transport_cannot_report_them(admin_client, db, settings):
    assert settings.mail_transport == "local"
    _populate(db, 1)
    html = admin_client.get("/admin").text
    assert '<th scope="row">Delivered</th><td>Not reported</td>' in html
    assert "does not tell us whether an email was delivered" in html
    assert '<th scope="row">Unsubscribes</th><td>' in html and "Unsubscribes</th><td>Not reported" not in html


def test_only_sendgrid_with_its_webhook_reports_delivery():
    assert not reports_delivery(Settings(mail_transport="local"))
    assert not reports_delivery(Settings(mail_transport="smtp"))
    assert not reports_delivery(Settings(mail_transport="sendgrid"))
    assert reports_delivery(Settings(mail_transport="sendgrid", sendgrid_webhook_public_key="MFkw..."))
