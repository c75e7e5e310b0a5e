"""Retention: dry-run listing first, then anonymisation of unconfirmed subscriptions and long-idle contacts."""

from __future__ import annotations

from sqlalchemy import func, select

from crm import models as m
from crm.privacy import retention
from tests import factories
from tests.conftest import post_form
from tests.dashboard import factories as f
from tests.dashboard.factories import NOW, days
from tests.privacy.test_erasure import find_everywhere

OLD = NOW - days(4 * 365)


def _old_contact(db, name, email, **kw):
    return factories.contact(db, name, email, created_at=OLD, updated_at=OLD, **kw)


def _data(db):
    f.subscription(
        db,
        "never.confirmed@example.org",
        status=m.SubscriptionStatus.PENDING,
        created=NOW - days(40),
        name="Invented Neverconfirmed",
    )
    f.consent(db, "never.confirmed@example.org", m.ConsentAction.SUBSCRIBE, NOW - days(40), ip="203.0.113.9")
    f.subscription(db, "recent.pending@example.org", status=m.SubscriptionStatus.PENDING, created=NOW - days(10))
    known = factories.contact(db, "Invented Known", "known@example.org")
    f.subscription(db, "known@example.org", status=m.SubscriptionStatus.PENDING, created=NOW - days(31))
    idle = _old_contact(db, "Invented Idleperson", "idle@example.org")
    with_org = _old_contact(
        db, "Invented Affiliated", "affiliated@example.org", organisation=factories.organisation(db)
    )
    invited = _old_contact(db, "Invented Invited", "invited@example.org")
    i = f.invite(db, f.event(db, starts=NOW - days(100)), invited, m.InvitationStatus.YES)
    i.created_at = NOW - days(120)
    subscribed = _old_contact(db, "Invented Subscribed", "subscribed@example.org")
    f.subscription(db, "subscribed@example.org", created=OLD)
    recent = factories.contact(
        db, "Invented Recent", "recent@example.org", created_at=NOW - days(400), updated_at=NOW - days(400)
    )
    db.flush()
    return {
        "known": known.id,
        "idle": idle.id,
        "with_org": with_org.id,
        "invited": invited.id,
        "subscribed": subscribed.id,
        "recent": recent.id,
    }


def test_dry_run_lists_and_changes_nothing(db, settings):
    ids = _data(db)
    result = retention.run(db, now=NOW, settings=settings, dry_run=True)
    plan = result["plan"]
    assert sorted(s.email for s in plan.subscriptions) == ["known@example.org", "never.confirmed@example.org"]
    assert [c.id for c in plan.contacts] == [ids["idle"]]
    assert (result["subscriptions"], result["contacts"]) == (2, 1)
    assert db.get(m.Contact, ids["idle"]).email == "idle@example.org"


def test_run_anonymises_what_the_plan_listed(db, settings):
    ids = _data(db)
    result = retention.run(db, now=NOW, settings=settings)
    assert (result["subscriptions"], result["contacts"]) == (2, 1)
    db.expire_all()
    assert find_everywhere(db, "never.confirmed@example.org", "Invented Neverconfirmed") == []
    assert find_everywhere(db, "idle@example.org", "Invented Idleperson") == []
    assert db.get(m.Contact, ids["idle"]).erased_at is not None
    # The known contact stays; only its unconfirmed subscription is anonymised.
    assert db.get(m.Contact, ids["known"]).email == "known@example.org"
    statuses = db.scalars(select(m.Subscription.email).where(m.Subscription.email == "known@example.org")).all()
    assert statuses == []
    for key in ("with_org", "invited", "subscribed", "recent"):
        assert db.get(m.Contact, ids[key]).erased_at is None, key
    assert db.scalar(select(m.Subscription.id).where(m.Subscription.email == "recent.pending@example.org"))
    # Retention does not suppress (they never asked us to stop; they may subscribe again).
    assert db.scalar(select(func.count()).select_from(m.Suppression)) == 0
    assert retention.plan(db, now=NOW, settings=settings).empty


def test_retention_years_is_a_setting(db, settings):
    ids = _data(db)
    longer = settings.replace(retention_contact_years=5)
    assert retention.plan(db, now=NOW, settings=longer).contacts == []
    shorter = settings.replace(retention_contact_years=1)
    assert ids["recent"] in [c.id for c in retention.plan(db, now=NOW, settings=shorter).contacts]


def test_retention_page_lists_then_runs(admin_client, db, settings):
    _data(db)
    db.commit()
    page = admin_client.get("/admin/privacy/retention")
    assert page.status_code == 200
    assert "never.confirmed@example.org" in page.text and "Invented Idleperson" in page.text
    done = post_form(admin_client, "/admin/privacy/retention", {}, follow_redirects=False)
    assert done.status_code == 303
    after = admin_client.get(done.headers["location"])
    assert "3 records anonymised" in after.text and "Invented Idleperson" not in after.text
    db.expire_all()
    assert db.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "retention")) is not None


def test_retention_job(app, db, settings):
    from crm.privacy.jobs import run_retention
    from crm.runtime import Runtime

    _data(db)
    db.commit()
    ctx = Runtime(settings)
    ctx.__dict__["session_factory"] = app.state.session_factory
    assert run_retention(ctx, now=NOW) == {
        "subscriptions": 2,
        "contacts": 1,
        "network_members": 0,
        "involvement_interests": 0,
        "network_joins": 0,
    }
    assert run_retention(ctx, now=NOW) == {
        "subscriptions": 0,
        "contacts": 0,
        "network_members": 0,
        "involvement_interests": 0,
        "network_joins": 0,
    }
