"""The worker jobs (fixed clock), the demo data, every admin and public page rendering, list statement counts,
and the organisation-page sections."""

from __future__ import annotations

import datetime as dt

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from crm import models as m
from crm.events import demo, references, rsvp, sections
from crm.events import jobs as event_jobs
from crm.runtime import Runtime
from jobs.worker import register_jobs
from tests import factories
from tests.events import factories as f
from tests.events.factories import NOW

S = m.InvitationStatus


def test_jobs_register_with_explicit_ids(settings):
    scheduler = BackgroundScheduler()
    register_jobs(scheduler, Runtime(settings), event_jobs.JOBS)
    assert {j.id for j in scheduler.get_jobs()} == {
        "events.send_reminders",
        "events.waitlist_offers",
        "events.queue_pending",
    }


def test_reminder_and_offer_jobs_with_a_fixed_clock(app, db, settings):
    e = f.event(db, app, capacity=1, days=10)
    a, b = (f.invite(db, e, factories.contact(db)) for _ in range(2))
    mailer = f.mailer(app)
    for inv in (a, b):
        rsvp.apply_answer(db, mailer, rsvp.lock_event(db, e.id), inv, "yes", None, NOW)
    # a withdraws: b is offered the place, with 48 hours to accept.
    rsvp.apply_answer(db, mailer, rsvp.lock_event(db, e.id), a, "no", None, NOW)
    db.commit()
    ctx = Runtime(settings)
    try:
        assert event_jobs.waitlist_offers(ctx, NOW + dt.timedelta(hours=1)) == (0, 0)
        assert event_jobs.waitlist_offers(ctx, NOW + dt.timedelta(hours=49)) == (1, 0)  # lapsed, nobody else waiting
        db.expire_all()
        assert db.get(m.Invitation, b.id).status == S.LAPSED
        # b answers yes again later, the job offers the free place.
        rsvp.apply_answer(
            db, mailer, rsvp.lock_event(db, e.id), db.get(m.Invitation, b.id), "yes", None, NOW + dt.timedelta(hours=50)
        )
        db.commit()
        db.expire_all()
        assert db.get(m.Invitation, b.id).status == S.YES  # the place was free, so straight in
        assert event_jobs.send_reminders(ctx, e.starts_at - dt.timedelta(hours=100)) == 1
        assert event_jobs.send_reminders(ctx, e.starts_at - dt.timedelta(hours=99)) == 0
        assert event_jobs.send_reminders(ctx, e.starts_at - dt.timedelta(hours=23)) == 1
    finally:
        ctx.engine.dispose()
    keys = set(db.scalars(select(m.OutboxMessage.idempotency_key).where(m.OutboxMessage.kind == "event_reminder")))
    assert keys == {f"reminder:{e.id}:{b.contact_id}:168:0", f"reminder:{e.id}:{b.contact_id}:24:0"}


def _seed_demo(app, db, settings):
    vcse, uni = (
        factories.organisation(db, "Demo Hope Collective"),
        factories.organisation(db, "Demo University", kind=m.OrgKind.ACADEMIC),
    )
    factories.organisation(db, "Demo Trust", kind=m.OrgKind.FUNDER)
    for i in range(80):
        factories.contact(db, f"Demo Person {i}", organisation=vcse if i % 2 else uni)
    demo.seed(db, settings)
    db.commit()


def test_demo_data_and_every_page_renders(app, db, settings, admin_client):
    _seed_demo(app, db, settings)
    statuses = dict(db.execute(select(m.Event.title, m.Event.status)).all())
    assert list(statuses.values()).count(m.EventStatus.CANCELLED) == 1 and m.EventStatus.DRAFT in statuses.values()
    workshop = db.scalar(select(m.Event).where(m.Event.title.startswith("Co-production")))
    assert rsvp.answer_counts(db, workshop.id)["waitlisted"] >= 1 and rsvp.places(db, workshop, NOW).free == 0
    assert db.scalar(select(func.count()).select_from(m.Invitation).where(m.Invitation.attended.is_(True))) > 0
    for e in db.scalars(select(m.Event)):
        for path in ("", "/edit", "/audience?org_kind=vcse", "/attendance", "/cancel", "/answers", "/attendees.csv"):
            assert admin_client.get(f"/admin/events/{e.id}{path}").status_code == 200, (e.title, path)
        public = admin_client.get(f"/events/{e.slug}")
        assert public.status_code == (404 if e.status == m.EventStatus.DRAFT else 200)
    lst = db.scalar(select(m.ContactList))
    assert admin_client.get("/admin/contact-lists").status_code == 200
    assert admin_client.get(f"/admin/contact-lists/{lst.id}").status_code == 200
    for path in ("/admin/events", "/admin/events?status=published&when=upcoming", "/admin/events/new", "/events"):
        assert admin_client.get(path).status_code == 200


def test_list_pages_cost_one_statement_per_page(app, db, settings, client, count_queries):
    _seed_demo(app, db, settings)
    for i in range(30):
        f.event(db, app, now=dt.datetime.now(dt.UTC), title=f"Extra event {i}")
    db.commit()
    with count_queries() as q:
        first = client.get("/events")
    assert first.status_code == 200 and q.count == 2  # the page and its capped result count
    with count_queries() as q:
        client.get("/api/v1/events?page_size=50")
    assert q.count == 1


def test_contact_lists_as_audience(app, db, admin_client):
    from tests.conftest import post_form

    people = [factories.contact(db, f"Listed {i}") for i in range(3)]
    e = f.event(db, app, now=dt.datetime.now(dt.UTC))
    db.commit()
    created = post_form(admin_client, "/admin/contact-lists", {"name": "Advisers"}, follow_redirects=False)
    list_id = int(created.headers["location"].rsplit("/", 1)[1])
    added = post_form(
        admin_client,
        f"/admin/contact-lists/{list_id}/members",
        {"emails": f"{people[0].email}, {people[1].email}\nstranger@example.org\nnot-an-email"},
    )
    assert "2 added." in added.text and "stranger@example.org" in added.text and "not-an-email" in added.text
    preview = admin_client.get(f"/admin/events/{e.id}/audience?list_id={list_id}")
    assert "2 people will be invited." in preview.text


def test_organisation_sections_and_references(app, db):
    host = factories.organisation(db, "Host Org")
    e = f.event(db, app, now=dt.datetime.now(dt.UTC), host_organisation_id=host.id)
    f.event(db, app, now=dt.datetime.now(dt.UTC), host_organisation_id=host.id, publish=False, title="Hidden draft")
    public = sections.public_sections(db, host.id)
    assert len(public) == 1 and [x.title for x in public[0].context["events"]] == [e.title]
    assert len(sections.admin_sections(db, host.id)[0].context["events"]) == 2
    assert references.references(db, host.id) == ["hosts 2 events"]
    assert references.references(db, factories.organisation(db).id) == []


def test_large_sends_are_finished_by_the_worker(app, db, settings, monkeypatch):
    from crm.events import audience, lifecycle
    from crm.events.audience import AudienceFilter

    monkeypatch.setattr(audience, "INLINE_LIMIT", 2)
    monkeypatch.setattr(lifecycle, "INLINE_LIMIT", 2)
    now = dt.datetime.now(dt.UTC)
    e = f.event(db, app, now=now)
    o = factories.organisation(db)
    for _ in range(5):
        factories.contact(db, organisation=o)
    result = audience.send(db, f.mailer(app), None, e, AudienceFilter(org_kinds=("vcse",)), now)
    db.commit()

    def kinds() -> dict[str, int]:
        return dict(db.execute(select(m.OutboxMessage.kind, func.count()).group_by(m.OutboxMessage.kind)).all())

    assert (result.invited, result.deferred, kinds()) == (5, 3, {"event_invitation": 2})
    ctx = Runtime(settings)
    try:
        assert event_jobs.queue_pending(ctx, now) == 3
        assert event_jobs.queue_pending(ctx, now) == 0
        assert kinds() == {"event_invitation": 5}
        moved = lifecycle.update_event(db, f.mailer(app), None, e, {"venue": "Another hall"}, now)
        db.commit()
        assert moved.notified == 5 and kinds()["event_update"] == 2
        assert event_jobs.queue_pending(ctx, now) == 3
        assert kinds() == {"event_invitation": 5, "event_update": 5}
        assert lifecycle.cancel_event(db, f.mailer(app), None, e, now) == 5
        db.commit()
        assert event_jobs.queue_pending(ctx, now) == 3 and event_jobs.queue_pending(ctx, now) == 0
    finally:
        ctx.engine.dispose()
    keys = set(db.scalars(select(m.OutboxMessage.idempotency_key).where(m.OutboxMessage.kind == "event_cancel")))
    assert len(keys) == 5 and all(k.endswith(":2") for k in keys)
