"""Involvement in the dashboard (hours and payments by quarter, groups consulted by category and region) and in the
impact report and its CSV, with flat statement counts."""

from __future__ import annotations

import csv
import datetime as dt
import io

from crm import models as m
from crm.dashboard import involvement, reports
from crm.dashboard.reports import Period
from tests import factories
from tests.dashboard.factories import NOW, days
from tests.involvement import records_builders as b

OPEN = m.VcseCategory.OPEN_CONSULTATIVE
PROJECT = m.VcseCategory.PROJECT_SPECIFIC


def _data(db, n: int = 1):
    """n copies of: a group that said yes (London, open consultative), a group that took part (no region, project
    specific), a group that said no, and records across three quarters."""
    for _ in range(n):
        yes = factories.organisation(db, region_name="London", vcse_category=OPEN)
        took_part = factories.organisation(db, vcse_category=PROJECT)
        said_no = factories.organisation(db, region_name="Wales", vcse_category=OPEN)
        request = b.consultation(db, sent_at=NOW - days(20))
        b.recipient(db, request, yes, answer=m.ConsultationAnswer.YES, answered_at=NOW - days(10))
        b.recipient(db, request, said_no, answer=m.ConsultationAnswer.NO, answered_at=NOW - days(10))
        member = b.member(db, f"figures{factories.organisation(db).id}@example.org", "Invented Figures")
        b.record(db, organisation_id=took_part.id, minutes=120, payment_pence=5000, took_part_on=dt.date(2026, 10, 5))
        b.record(
            db,
            member_id=member.id,
            person_name="Invented Figures",
            minutes=90,
            payment_pence=2500,
            expenses_pence=450,
            took_part_on=dt.date(2026, 11, 2),
        )
        b.record(db, member_id=member.id, person_name="Invented F.", minutes=30, took_part_on=dt.date(2026, 11, 3))
        b.record(
            db,
            person_name="",
            recognition=m.Recognition.ANONYMOUS,
            minutes=60,
            payment_pence=1000,
            took_part_on=dt.date(2026, 7, 15),
        )
        b.record(db, person_name="Invented Older", minutes=600, took_part_on=dt.date(2025, 6, 1))  # outside
    b.opportunity(db, published_at=NOW - days(5))
    db.flush()


def test_hours_and_payments_by_quarter(db):
    _data(db)
    quarters = involvement.by_quarter(db, NOW)
    assert [q.start for q in quarters] == [
        dt.date(2026, 1, 1),
        dt.date(2026, 4, 1),
        dt.date(2026, 7, 1),
        dt.date(2026, 10, 1),
    ]
    assert [q.minutes for q in quarters] == [0, 0, 60, 240]
    last = quarters[-1]
    assert (last.records, last.payment_pence, last.expenses_pence) == (3, 7500, 450)
    assert last.label == "2026 Q4 (Oct–Dec)" and last.hours == 4.0 and last.paid == "£75"


def test_groups_consulted_by_category_and_region(db):
    _data(db)
    groups = involvement.groups_consulted(db, NOW - days(365), NOW)
    assert groups.total == 2  # the group that said no is not consulted
    assert groups.by_category["Open consultative group"] == 1 and groups.by_category["Project-specific group"] == 1
    assert groups.by_region == {"London": 1, "No region": 1}
    # A group that both said yes and took part counts once.
    yes_id = db.query(m.ConsultationRecipient.organisation_id).filter_by(answer=m.ConsultationAnswer.YES).scalar()
    b.record(db, organisation_id=yes_id, took_part_on=dt.date(2026, 11, 1))
    assert involvement.groups_consulted(db, NOW - days(365), NOW).total == 2


def test_the_dashboard_shows_involvement_in_the_same_statements_at_any_size(admin_client, db, count_queries):
    _data(db, 1)
    db.commit()
    with count_queries() as small:
        page = admin_client.get("/admin")
    assert "Involvement by quarter" in page.text and "Groups consulted, last 12 months" in page.text
    assert "2 groups said yes to a consultation request or took part." in page.text
    assert "<td>4.0</td><td>£75</td><td>£4.50</td>" in page.text
    _data(db, 12)
    db.commit()
    with count_queries() as large:
        page = admin_client.get("/admin")
    assert "26 groups said yes" in page.text
    assert small.count == large.count


def test_the_impact_report_counts_involvement_in_its_period(admin_client, db, count_queries):
    _data(db)
    db.commit()
    report = reports.impact_report(db, Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)), now=NOW)
    inv = report.involvement
    assert (inv.records, inv.minutes, inv.payment_pence, inv.expenses_pence) == (2, 120, 2500, 450)
    assert inv.people == 1  # one network member, whatever name each record wrote
    assert inv.opportunities_published == 1 and inv.consultations_sent == 1
    assert report.groups_consulted.total == 1 and report.groups_consulted.by_region == {"London": 1}
    july = reports.impact_report(db, Period(dt.date(2026, 7, 1), dt.date(2026, 7, 31)), now=NOW).involvement
    assert (july.records, july.people) == (1, 0)  # anonymous: hours count, no person
    with count_queries() as q:
        page = admin_client.get("/admin/reports?from=2026-11-01&to=2026-11-30")
    assert "<h2>Involvement</h2>" in page.text and "Consultation requests sent" in page.text
    _data(db, 10)
    db.commit()
    with count_queries() as q_large:
        admin_client.get("/admin/reports?from=2026-11-01&to=2026-11-30")
    assert q.count == q_large.count
    rows = list(
        csv.reader(io.StringIO(admin_client.get("/admin/reports/impact.csv?from=2026-11-01&to=2026-11-30").text))
    )
    figures = {(r[2], r[3]): r[4] for r in rows[1:]}
    assert figures[("Involvement", "Records of involvement")] == "22"
    assert figures[("Involvement", "Paid to people (£, rounded)")] == "275"
    assert figures[("Groups consulted by region", "London")] == "11"
