"""Retention covers involvement: idle or never-confirmed network members are removed (the involvement mailing
withdrawn, no suppression), expressions of interest in long-closed opportunities are anonymised."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from crm import models as m
from crm.involvement import network
from crm.privacy import retention
from crm.privacy.involvement import INTEREST_KEEP_DAYS
from tests.conftest import post_form
from tests.dashboard import factories as f
from tests.dashboard.factories import NOW, days
from tests.involvement import records_builders as b
from tests.involvement.network_helpers import join_form
from tests.privacy.test_erasure import find_everywhere

OLD = NOW - days(4 * 365)


def _data(db):
    idle = b.member(db, "idle.member@example.org", "Invented Idlemember", created=OLD, access_needs="BSL")
    sub = f.subscription(db, "idle.member@example.org", created=OLD)
    sub.mailings = ["funding_digest", "involvement"]
    only = b.member(db, "only.alerts@example.org", "Invented Onlyalerts", created=OLD)
    only_sub = f.subscription(db, "only.alerts@example.org", created=OLD)
    only_sub.mailings = ["involvement"]
    involved = b.member(db, "recently.involved@example.org", "Invented Involved", created=OLD)
    involved.last_involved_at = NOW - days(30)
    never = b.member(
        db,
        "never.confirmed@example.org",
        "Invented Neverconfirmed",
        status=m.NetworkMemberStatus.PENDING,
        created=NOW - days(40),
    )
    waiting = b.member(
        db,
        "just.joined@example.org",
        "Invented Justjoined",
        status=m.NetworkMemberStatus.PENDING,
        created=NOW - days(5),
    )
    record = b.record(db, member_id=idle.id, person_name="Invented Idlemember", minutes=60, note="Chaired")
    long_closed = b.opportunity(db, status=m.OpportunityStatus.CLOSED, closes=NOW - days(INTEREST_KEEP_DAYS + 10))
    recently_closed = b.opportunity(db, status=m.OpportunityStatus.CLOSED, closes=NOW - days(30))
    old_interest = b.interest(
        db, long_closed, "old.interest@example.org", "Invented Oldinterest", note="Me", access_needs="Quiet room"
    )
    new_interest = b.interest(db, recently_closed, "new.interest@example.org", "Invented Newinterest")
    db.flush()
    return {
        "idle": idle.id,
        "only": only.id,
        "involved": involved.id,
        "never": never.id,
        "waiting": waiting.id,
        "record": record.id,
        "old_interest": old_interest.id,
        "new_interest": new_interest.id,
        "sub": sub.id,
        "only_sub": only_sub.id,
    }


def test_dry_run_lists_members_and_interests_and_changes_nothing(db, settings):
    ids = _data(db)
    result = retention.run(db, now=NOW, settings=settings, dry_run=True)
    plan = result["plan"]
    assert sorted(r.id for r in plan.members) == sorted([ids["idle"], ids["only"], ids["never"]])
    assert [r.id for r in plan.interests] == [ids["old_interest"]]
    assert result["network_members"] == 3 and result["involvement_interests"] == 1
    assert db.scalar(select(func.count()).select_from(m.NetworkMember)) == 5


def test_run_removes_idle_members_withdraws_alerts_and_anonymises_old_interest(db, settings):
    ids = _data(db)
    result = retention.run(db, now=NOW, settings=settings)
    assert result["network_members"] == 3 and result["involvement_interests"] == 1
    db.expire_all()
    left = set(db.scalars(select(m.NetworkMember.id)))
    assert left == {ids["involved"], ids["waiting"]}
    # The idle member's record keeps its hours, without the person.
    record = db.get(m.InvolvementRecord, ids["record"])
    assert record.minutes == 60 and record.member_id is None and record.person_name == "" and record.note == ""
    # The involvement mailing is withdrawn (the rest of the subscription stays); logged; never suppressed.
    sub = db.get(m.Subscription, ids["sub"])
    assert sub.mailings == ["funding_digest"] and sub.status == m.SubscriptionStatus.ACTIVE
    only_sub = db.get(m.Subscription, ids["only_sub"])
    assert only_sub.mailings == [] and only_sub.status == m.SubscriptionStatus.UNSUBSCRIBED
    logged = db.scalars(
        select(m.ConsentEntry.mailings).where(
            m.ConsentEntry.action == m.ConsentAction.UNSUBSCRIBE, m.ConsentEntry.mechanism == "retention"
        )
    ).all()
    assert sorted(map(tuple, logged)) == [("involvement",), ("involvement",)]
    assert db.scalar(select(func.count()).select_from(m.Suppression)) == 0
    # Old interest anonymised in place (the opportunity's count stays); recent interest kept.
    assert find_everywhere(db, "old.interest@example.org", "Invented Oldinterest") == []
    assert find_everywhere(db, "Invented Idlemember", "Invented Neverconfirmed") == []
    assert db.scalar(select(func.count()).select_from(m.InvolvementInterest)) == 2
    assert db.get(m.InvolvementInterest, ids["new_interest"]).email == "new.interest@example.org"
    # A second run has nothing left to do.
    again = retention.run(db, now=NOW, settings=settings, dry_run=True)
    assert again["network_members"] == 0 and again["involvement_interests"] == 0


def test_retention_page_lists_involvement_and_runs(admin_client, db):
    _data(db)
    db.commit()
    page = admin_client.get("/admin/privacy/retention")
    assert page.status_code == 200
    assert "Lived experience network members (3)" in page.text and "Expressions of interest (1)" in page.text
    assert "Invented Idlemember" in page.text and "Never confirmed" in page.text
    done = post_form(admin_client, "/admin/privacy/retention", {}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("done=4")
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(m.NetworkMember)) == 2


def test_a_pending_subscription_of_a_network_member_keeps_the_membership(db, settings):
    """The unconfirmed-subscription rule erases an address completely only when nothing else is held for it."""
    b.member(db, "member.pending.sub@example.org", "Invented Memberpending", created=NOW - days(20))
    f.subscription(db, "member.pending.sub@example.org", status=m.SubscriptionStatus.PENDING, created=NOW - days(40))
    db.flush()
    retention.run(db, now=NOW, settings=settings)
    db.expire_all()
    assert db.scalar(select(m.NetworkMember.email)) == "member.pending.sub@example.org"


def test_what_is_left_of_a_join_never_confirmed_is_anonymised(client, db, settings):
    """The network deletes a join never confirmed; its consent entry (with IP and browser) and the confirmation
    email stay until retention anonymises them. Other consent entries of the same address are left alone."""
    response = post_form(client, "/involvement/network", join_form("never.joined@example.org", name="Invented Nojoin"))
    assert response.status_code == 200
    f.subscription(db, "someone.else@example.org")
    db.commit()
    later = dt.datetime.now(dt.UTC) + days(network.CONFIRM_DAYS + 2)
    assert network.forget_unconfirmed(db, later) == 1
    db.flush()
    assert find_everywhere(db, "never.joined@example.org") != []  # the consent entry and the email are left
    assert retention.run(db, now=later, settings=settings, dry_run=True)["network_joins"] == 0  # not 30 days yet
    much_later = later + days(retention.UNCONFIRMED_DAYS)
    planned = retention.run(db, now=much_later, settings=settings, dry_run=True)
    assert [j.email for j in planned["plan"].joins] == ["never.joined@example.org"]
    assert retention.run(db, now=much_later, settings=settings)["network_joins"] == 1
    db.expire_all()
    assert find_everywhere(db, "never.joined@example.org", "Invented Nojoin") == []
    entry = db.scalar(select(m.ConsentEntry).where(m.ConsentEntry.mailings.is_not(None)).order_by(m.ConsentEntry.id))
    assert entry.action == m.ConsentAction.SUBSCRIBE and entry.ip == ""  # the entry stays, without the person
    assert retention.run(db, now=much_later, settings=settings, dry_run=True)["network_joins"] == 0
