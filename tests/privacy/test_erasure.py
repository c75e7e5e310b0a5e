"""Subject-access export and erasure. The completeness test searches every text/JSON column of every table."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import Text, cast, column, func, inspect, or_, select, table
from sqlalchemy.orm import Session

from crm import models as m
from crm.privacy.erasure import erase
from crm.privacy.subjects import NotFound, export, find_subject
from crm.privacy.suppression import address_hash, is_suppressed
from crm.privacy.sweep import ERASED_NAME
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.dashboard import factories as f
from tests.dashboard.factories import NOW, days

EMAIL = "zoe.erasure@example.org"
NAME = "Zoë Invented-Erasure"
OTHER_EMAIL = "kept.person@example.org"
OTHER_NAME = "Kept Invented-Person"


def _person(db: Session, email: str, name: str) -> dict[str, int]:
    """One person with data in every place the CRM keeps personal data."""
    charity = factories.organisation(db, "Invented Charity", region_name="London")
    c = factories.contact(
        db,
        name,
        email,
        organisation=charity,
        role="Coordinator",
        phone="07700 900123",
        job_title="Peer worker",
        notes=f"Met {name} at the conference; email {email}.",
    )
    db.execute(m.contact_topics.insert().values(contact_id=c.id, topic_id=db.scalar(select(m.Topic.id).limit(1))))
    db.execute(m.contact_regions.insert().values(contact_id=c.id, region_id=factories.region(db, "London").id))
    cl = m.ContactList(name=f"List {email}")
    db.add(cl)
    db.flush()
    db.add(m.ContactListMember(list_id=cl.id, contact_id=c.id))
    sub = f.subscription(db, email, name=name, organisation_name="Invented Charity", contact_id=c.id)
    f.consent(
        db,
        email,
        m.ConsentAction.SUBSCRIBE,
        NOW - days(20),
        sub,
        ip="192.0.2.7",
        user_agent="Firefox",
        source_url="https://example.org/subscribe",
        detail={"email": email, "name": name},
        actor=email,
    )
    f.consent(db, email, m.ConsentAction.CONFIRM, NOW - days(19), sub, mechanism="email link")
    e = f.event(db, starts=NOW + days(5))
    inv = f.invite(db, e, c, m.InvitationStatus.YES)
    inv.note = f"{name} needs step-free access"
    db.add(m.RsvpResponse(invitation_id=inv.id, answer="yes", result="yes", note=f"From {name}"))
    db.add(
        m.PlaceRequest(
            event_id=e.id, name=name, email=email, organisation_name="Invented Charity", note="Please", contact_id=c.id
        )
    )
    host = factories.organisation(db, "Invented Host")
    job = f.internship(db, host, host_contact_name=name, host_contact_email=email)
    db.add(m.InternshipInterest(internship_id=job.id, name=name, email=email, note=f"I am {name}"))
    factories.organisation(
        db,
        "Invented Submitted Group",
        review_status=m.ReviewStatus.SUBMITTED,
        submitter_name=name,
        submitter_email=email,
    )
    p = f.partnership(db, title="Invented peer research")
    db.add(m.PartnershipMember(partnership_id=p.id, side=m.Side.VCSE, contact_id=c.id, role="Co-lead"))
    db.add(
        m.PartnershipActivity(
            partnership_id=p.id,
            kind=m.ActivityKind.CALL,
            occurred_at=NOW - days(1),
            summary=f"Call with {name} ({email}) about the bid",
            recorded_by=email,
        )
    )
    out = f.outbox(
        db,
        email,
        recipient_name=name,
        subject=f"Hello {name}",
        text_body=f"Dear {name}, {email}",
        html_body=f"<p>Dear {name}</p>",
        headers={"List-Unsubscribe": f"<mailto:x?subject={email}>"},
        context={"name": name, "email": email},
        contact_id=c.id,
        subscription_id=sub.id,
        attachments=[{"filename": "invite.ics", "content": f"ATTENDEE:mailto:{email}"}],
    )
    queued = f.outbox(
        db, email, status=m.OutboxStatus.QUEUED, sent=None, template="event_reminder", context={"name": name}
    )
    f.delivery(db, "delivered", email, NOW - days(1), out.id, payload={"email": email}, reason="")
    f.delivery(db, "bounce", email, NOW - days(1), None, reason=f"550 {email} mailbox full")
    user = m.User(email=email, name=name, role=m.Role.EDITOR, contact_id=c.id)
    db.add(user)
    db.flush()
    db.add(
        m.UserSession(
            token_hash=address_hash(email)[7:], user_id=user.id, expires_at=NOW + days(3), user_agent="Firefox"
        )
    )
    db.add(
        m.AuditEntry(
            actor="fellow@example.org",
            action="updated",
            entity="contact",
            entity_id=c.id,
            summary=f"Updated {name}",
            changes={"email": [None, email], "name": ["", name]},
        )
    )
    db.add(
        m.AuditEntry(
            actor=email,
            user_id=user.id,
            action="updated",
            entity="organisation",
            entity_id=host.id,
            summary="Updated Invented Host",
        )
    )
    db.add(
        m.AuditEntry(
            actor="fellow@example.org",
            action="linked",
            entity="partnership",
            entity_id=p.id,
            summary=f"Added {name} to the partnership",
            changes={"member": [None, name]},
        )
    )
    db.add(m.Suppression(address=email, reason="unsubscribed", source="test", note=f"asked by {email}"))
    db.flush()
    return {
        "contact": c.id,
        "event": e.id,
        "subscription": sub.id,
        "outbox": out.id,
        "queued": queued.id,
        "partnership": p.id,
        "user": user.id,
    }


def _variants(value: str) -> list[str]:
    return sorted({value.lower(), json.dumps(value)[1:-1].lower()})


def find_everywhere(db: Session, *needles: str) -> list[tuple[str, str, str]]:
    """Every (table, column, value) in the LIVE database whose text contains a needle (case-insensitive).

    Tables are introspected from the database itself (not only Base.metadata), so a table any domain adds is
    searched too. SQLite FTS5 tables (``*_fts*``: an index over organisations, not people) are skipped."""
    engine = db.get_bind()
    inspector = inspect(engine)
    names = [t for t in inspector.get_table_names() if "_fts" not in t and not t.startswith("sqlite_")]
    assert set(m.Base.metadata.tables) <= set(names)
    hits = []
    for name in names:
        for col in inspector.get_columns(name):
            type_name = str(col["type"]).upper()
            if not any(k in type_name for k in ("CHAR", "TEXT", "JSON", "CLOB")):
                continue
            c = column(col["name"])
            value = func.lower(cast(c, Text))
            cond = or_(*(value.contains(v, autoescape=True) for n in needles for v in _variants(n)))
            for row in db.execute(select(c).select_from(table(name)).where(cond)):
                hits.append((name, col["name"], str(row[0])[:120]))
    return hits


def test_the_finder_finds_data_before_erasure(db):
    _person(db, EMAIL, NAME)
    hits = find_everywhere(db, EMAIL, NAME)
    tables = {t for t, _, _ in hits}
    assert {
        "contacts",
        "subscriptions",
        "consent_entries",
        "outbox_messages",
        "delivery_events",
        "users",
        "internship_interests",
        "event_place_requests",
        "audit_entries",
        "partnership_activities",
        "organisations",
        "internships",
        "suppressions",
    } <= tables


def test_erasure_is_complete_and_keeps_anonymised_counts(admin_client, db, settings):
    ids = _person(db, EMAIL, NAME)
    _person(db, OTHER_EMAIL, OTHER_NAME)
    db.commit()
    invitations_before = db.scalar(select(func.count()).select_from(m.Invitation))
    consent_before = db.scalar(select(func.count()).select_from(m.ConsentEntry))
    outbox_before = db.scalar(select(func.count()).select_from(m.OutboxMessage))

    confirm = admin_client.get(f"/admin/privacy/erase?contact_id={ids['contact']}")
    assert confirm.status_code == 200 and "This cannot be undone" in confirm.text
    refused = post_form(admin_client, "/admin/privacy/erase", {"contact_id": str(ids["contact"])})
    assert refused.status_code == 200 and "Tick the box" in refused.text
    db.expire_all()
    assert db.get(m.Contact, ids["contact"]).email == EMAIL  # nothing happened without the confirmation

    done = post_form(
        admin_client,
        "/admin/privacy/erase",
        {"contact_id": str(ids["contact"]), "email": "", "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    db.expire_all()

    assert find_everywhere(db, EMAIL, NAME) == []
    sup = db.scalars(select(m.Suppression.address)).all()
    assert address_hash(EMAIL) in sup and EMAIL not in sup
    assert address_hash(EMAIL).startswith("sha256:") and len(address_hash(EMAIL)) == 7 + 64
    assert is_suppressed(db, EMAIL) and is_suppressed(db, EMAIL.upper())

    # Counts kept: the rows stay, without the person.
    assert db.scalar(select(func.count()).select_from(m.Invitation)) == invitations_before
    assert db.scalar(select(func.count()).select_from(m.ConsentEntry)) == consent_before
    assert db.scalar(select(func.count()).select_from(m.OutboxMessage)) == outbox_before
    actions = db.scalars(select(m.ConsentEntry.action).where(m.ConsentEntry.subscription_id == ids["subscription"]))
    assert sorted(a.value for a in actions) == ["confirm", "subscribe"]
    contact = db.get(m.Contact, ids["contact"])
    assert contact.erased_at is not None and contact.name == ERASED_NAME and contact.email is None
    assert db.scalar(select(func.count()).select_from(m.Affiliation).where(m.Affiliation.contact_id == contact.id)) == 0
    assert db.get(m.OutboxMessage, ids["queued"]).status == m.OutboxStatus.CANCELLED
    user = db.get(m.User, ids["user"])
    assert user.is_active is False
    assert db.scalar(select(func.count()).select_from(m.UserSession).where(m.UserSession.user_id == user.id)) == 0
    sub = db.get(m.Subscription, ids["subscription"])
    assert sub.status == m.SubscriptionStatus.UNSUBSCRIBED
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "erase"))
    assert entry.entity == "contact" and entry.entity_id == ids["contact"] and entry.actor == "fellow@example.org"
    assert entry.changes["counts"]["contacts"] == 1

    # The other person is untouched.
    hits = find_everywhere(db, OTHER_EMAIL, OTHER_NAME)
    assert {t for t, _, _ in hits} >= {"contacts", "subscriptions", "outbox_messages", "users"}
    assert OTHER_EMAIL in sup


def test_erasing_a_subscriber_without_a_contact(db):
    sub = f.subscription(db, "lone.subscriber@example.org", name="Invented Lonesub")
    f.consent(db, "lone.subscriber@example.org", m.ConsentAction.SUBSCRIBE, NOW, sub, ip="198.51.100.1")
    f.outbox(db, "lone.subscriber@example.org", subscription_id=sub.id, text_body="Hi Invented Lonesub")
    db.flush()
    subject = find_subject(db, email="Lone.Subscriber@example.org")
    assert subject.contact is None and subject.email == "lone.subscriber@example.org"
    counts = erase(db, subject, None)
    assert counts["subscriptions"] == 1 and counts["suppressed"] == 1
    assert find_everywhere(db, "lone.subscriber@example.org", "Invented Lonesub") == []
    assert db.scalar(select(m.AuditEntry.entity).where(m.AuditEntry.action == "erase")) == "person"


def test_subject_access_export_json_and_page(admin_client, db):
    ids = _person(db, EMAIL, NAME)
    db.commit()
    page = admin_client.get(f"/admin/privacy/subject?email={EMAIL}")
    assert page.status_code == 200
    for heading in (
        "Contact record",
        "Mailing subscriptions",
        "Consent log",
        "Event invitations",
        "Internship interest registrations",
        "Partnership memberships",
        "Emails sent to them",
        "Audit entries about them",
        "User account",
    ):
        assert heading in page.text
    assert "step-free access" in page.text and "192.0.2.7" in page.text
    response = admin_client.get(f"/admin/privacy/export.json?contact_id={ids['contact']}")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["email"] == EMAIL and data["contact"]["name"] == NAME
    assert data["affiliations"] == [{"role": "Coordinator", "is_primary": True, "organisation": "Invented Charity"}]
    assert data["regions"] == ["London"] and len(data["topics"]) == 1
    assert [s["email"] for s in data["subscriptions"]] == [EMAIL]
    assert [c["action"] for c in data["consent_log"]] == ["subscribe", "confirm"]
    assert data["invitations"][0]["status"] == "yes" and data["rsvp_answers"][0]["note"] == f"From {NAME}"
    assert data["partnership_memberships"][0]["role"] == "Co-lead"
    assert data["internship_interests"][0]["note"] == f"I am {NAME}"
    assert len(data["emails_sent"]) == 2 and len(data["delivery_events"]) == 2
    assert data["user_account"]["role"] == "editor" and len(data["sessions"]) == 1
    assert "token_hash" not in data["sessions"][0]
    assert any(a["summary"] == f"Updated {NAME}" for a in data["audit_entries"])
    assert data["activities_recorded"][0]["recorded_by"] == EMAIL
    db.expire_all()
    assert db.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "export")) is not None


def test_privacy_lookup_and_not_found(admin_client, db):
    _person(db, EMAIL, NAME)
    db.commit()
    found = admin_client.get(f"/admin/privacy?email={EMAIL.upper()}")
    assert found.status_code == 200 and "Erase this person" in found.text
    missing = admin_client.get("/admin/privacy?email=nobody@example.org")
    assert missing.status_code == 200 and "Nothing is held" in missing.text
    assert admin_client.get("/admin/privacy/subject?email=nobody@example.org").status_code == 404


def test_privacy_pages_are_for_admins_only(client, db, settings):
    sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    assert client.get("/admin/privacy").status_code == 403
    assert post_form(client, "/admin/privacy/erase", {"email": "x@example.org", "confirm": "yes"}).status_code == 403


def test_hashed_suppression_replaces_an_existing_one_and_is_idempotent(db):
    f.subscription(db, "twice@example.org")
    db.add(m.Suppression(address=address_hash("twice@example.org"), reason="erased"))
    db.add(m.Suppression(address="twice@example.org", reason="bounced"))
    db.flush()
    erase(db, find_subject(db, email="twice@example.org"), None, now=NOW)
    addresses = db.scalars(select(m.Suppression.address)).all()
    assert addresses == [address_hash("twice@example.org")]
    assert dt.datetime.now(dt.UTC) > NOW  # sanity: fixed clock used above


def test_erasure_never_touches_a_longer_address_that_contains_this_one(db):
    factories.contact(db, "Invented Ann", "ann@example.org", notes="cc joann@example.org and ann@example.org.uk")
    other = factories.contact(db, "Invented Joann", "joann@example.org", notes="Knows ann@example.org well")
    db.flush()
    erase(db, find_subject(db, email="ann@example.org"), None, now=NOW)
    db.refresh(other)
    assert other.email == "joann@example.org"
    assert other.notes == "Knows [erased] well"
    assert find_everywhere(db, "joann@example.org") != []


def test_export_and_erase_cover_an_internship_host_contact(db):
    """The host contact of a listing is personal data: exported, then blanked by erasure (the listing stays)."""
    host = factories.organisation(db, "Invented Host")
    listing = f.internship(
        db, host, host_contact_name="Invented Hostperson", host_contact_email="host.person@example.org"
    )
    db.add(m.InternshipInterest(internship_id=listing.id, name="Invented Hostperson", email="host.person@example.org"))
    db.flush()
    data = export(db, find_subject(db, email="Host.Person@example.org"))
    assert [r["title"] for r in data["internships_as_host_contact"]] == [listing.title]
    assert len(data["internship_interests"]) == 1
    counts = erase(db, find_subject(db, email="host.person@example.org"), None, now=NOW)
    assert counts["internships"] >= 1 and counts["internship_interests"] == 1
    db.expire_all()
    kept = db.get(m.Internship, listing.id)
    assert (
        kept.status == m.InternshipStatus.PUBLISHED and kept.host_contact_email == "" and kept.host_contact_name == ""
    )
    assert find_everywhere(db, "host.person@example.org", "Invented Hostperson") == []
    with pytest.raises(NotFound):  # nothing is held for the address any more
        find_subject(db, email="host.person@example.org")
