"""The closing job and the host reminder, called directly with a fixed clock."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, insert, select

from crm import models as m
from crm.internships import services
from crm.internships.jobs import JOBS, close_expired_internships, remind_hosts
from crm.runtime import Runtime
from jobs.worker import register_jobs
from tests import factories
from tests.conftest import post_form
from tests.internships.helpers import make_internship

S = m.InternshipStatus


def test_closing_job_closes_at_the_closing_moment_and_keeps_the_page(client, db, settings, count_queries):
    org = factories.organisation(db)
    due = make_internship(db, org, title="Due", days=0)
    later = make_internship(db, org, title="Later", days=3)
    db.commit()
    at_close = due.closes_at
    ctx = Runtime(settings)
    assert close_expired_internships(ctx, now=at_close - dt.timedelta(seconds=1)) == 0
    with count_queries(ctx.engine) as q:
        assert close_expired_internships(ctx, now=at_close) == 1
    assert q.count <= 6  # select, update, audit insert (+ transaction bookkeeping)
    db.expire_all()
    assert db.get(m.Internship, due.id).status == S.CLOSED and db.get(m.Internship, later.id).status == S.PUBLISHED
    assert close_expired_internships(ctx, now=at_close) == 0  # idempotent
    page = client.get(f"/internships/{due.slug}")
    assert page.status_code == 200 and "no longer takes applications" in page.text
    audit = db.scalar(select(m.AuditEntry).where(m.AuditEntry.entity_id == due.id, m.AuditEntry.action == "close"))
    assert audit.actor == "system"
    ctx.engine.dispose()


def test_reminder_a_week_before_closing_is_sent_once(client, db, settings):
    org = factories.organisation(db, "Reminder Org")
    soon = make_internship(db, org, title="Soon", days=6, contact_email="soon@example.org")
    far = make_internship(db, org, title="Far", days=20)
    filled = make_internship(db, org, title="Filled", days=5, status=S.FILLED)
    db.commit()
    ctx = Runtime(settings)
    now = soon.closes_at - dt.timedelta(days=6, hours=12)
    assert remind_hosts(ctx, now=now) == 1
    assert remind_hosts(ctx, now=now) == 0
    assert remind_hosts(ctx, now=now + dt.timedelta(days=1)) == 0
    mails = db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "internship_reminder")).all()
    assert len(mails) == 1 and mails[0].recipient == "soon@example.org" and "Soon" in mails[0].subject
    assert far and filled
    # Changing the closing date re-arms the reminder; the outbox key is per closing date.
    internship = db.get(m.Internship, soon.id)
    db.refresh(internship)
    assert internship.reminder_sent_at is not None
    # The emailed link asks with a button and marks the listing filled on POST.
    link = re.search(r"(/internships/[^\s?]+/host\?token=\S+)", mails[0].text_body).group(1)
    page = client.get(link)
    assert page.status_code == 200 and "Yes, mark it as filled" in page.text
    db.expire_all()
    assert db.get(m.Internship, soon.id).status == S.PUBLISHED  # GET changes nothing
    token = link.split("token=")[1]
    done = post_form(client, f"/internships/{soon.slug}/host", {"token": token, "answer": "filled"})
    assert done.status_code == 200 and "now marked as filled" in done.text
    db.expire_all()
    assert db.get(m.Internship, soon.id).status == S.FILLED
    assert (
        post_form(client, f"/internships/{soon.slug}/host", {"token": "forged", "answer": "filled"}).status_code == 400
    )
    ctx.engine.dispose()


def test_reminder_rearms_when_closing_date_changes(db, settings, app):
    org = factories.organisation(db)
    internship = make_internship(db, org, days=5)
    db.commit()
    now = internship.closes_at - dt.timedelta(days=5)
    renderer, signer = app.state.renderer, app.state.signer
    assert services.send_closing_reminders(db, renderer, signer, settings.base_url, now=now) == 1
    data = services.current_data(db, internship)
    data.closing_date = internship.closing_date + dt.timedelta(days=2)
    from crm.web.auth import Principal

    fellow = Principal(id=0, email="f@example.org", name="F", role=m.Role.ADMIN, organisation_id=None, via="session")
    services.update_internship(db, fellow, internship, data, now=now)
    assert internship.reminder_sent_at is None
    assert services.send_closing_reminders(db, renderer, signer, settings.base_url, now=now + dt.timedelta(days=2)) == 1
    assert db.scalar(select(func.count(m.OutboxMessage.id)).where(m.OutboxMessage.kind == "internship_reminder")) == 2


def test_jobs_register_with_explicit_ids(settings):
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="Europe/London")
    register_jobs(scheduler, Runtime(settings), JOBS)
    assert {j.id for j in scheduler.get_jobs()} == {"internships.close_expired", "internships.remind_hosts"}


def test_closing_job_works_through_a_large_backlog_in_chunks(db, settings, count_queries):
    """After downtime thousands may be due at once: every one closes, in bounded IN lists, each audited once."""
    org = factories.organisation(db)
    template = make_internship(db, org, title="Backlog", days=0)
    columns = ("host_organisation_id", "direction", "description", "mode", "paid", "closing_date", "closes_at")
    rows = [
        {
            **{c: getattr(template, c) for c in columns},
            "title": f"Backlog {n}",
            "slug": f"bulk-backlog-{n}",
            "status": S.PUBLISHED,
            "host_contact_name": "Host",
            "host_contact_email": "host@example.org",
        }
        for n in range(2_300)
    ]
    db.execute(insert(m.Internship), rows)
    db.commit()
    ctx = Runtime(settings)
    with count_queries(ctx.engine) as q:
        assert close_expired_internships(ctx, now=template.closes_at) == 2_301
    assert q.count <= 1 + 2 * 3 + 3  # one select, then an update and an audit insert per 1,000 (+ bookkeeping)
    open_left = select(func.count()).select_from(m.Internship).where(m.Internship.status == S.PUBLISHED)
    assert db.scalar(open_left) == 0
    audits = select(func.count()).select_from(m.AuditEntry).where(m.AuditEntry.action == "close")
    assert db.scalar(audits) == 2_301
    ctx.engine.dispose()
