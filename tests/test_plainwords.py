"""Pages show internal values in the fellow's words, never a stored key."""

from __future__ import annotations

from crm import models as m
from crm.plainwords import mailing_names, plain
from tests import factories


def test_plain_words_for_keys_and_enums():
    assert plain(m.Frequency.WEEKLY) == "Weekly"
    assert plain("funding_digest") == "Funding-call digest"
    assert plain(m.OrgKind.VCSE) == "VCSE" and plain("nhs") == "NHS"
    assert plain("under_review") == "Under review" and plain(None) == ""
    assert mailing_names(["funding_digest", "event_news"]) == "Funding-call digest, Event news"
    assert mailing_names(None) == ""


def test_a_contacts_subscriptions_read_as_words(admin_client, db):
    contact = factories.contact(db, email="ada@example.org")
    db.add(
        m.Subscription(
            email="ada@example.org",
            contact_id=contact.id,
            mailings=["funding_digest", "internship_alerts"],
            frequency=m.Frequency.MONTHLY,
            status=m.SubscriptionStatus.ACTIVE,
        )
    )
    db.commit()
    page = admin_client.get(f"/admin/contacts/{contact.id}").text
    assert "Active: Funding-call digest, Internship alerts (monthly)" in page
    assert "funding_digest" not in page


def test_a_funding_calls_history_names_the_funder_and_amounts_in_pounds(admin_client, db):
    from crm import history

    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    names = history.linked_names(db, [{"funder_id": [None, funder.id]}])
    lines = history.describe(
        {"funder_id": [None, funder.id], "amount_max": [None, 40000], "lead_must_be_vcse": [False, True]}, names
    )
    assert lines == [
        "Largest amount: set to £40,000",
        "Funder: set to Northfield Trust",
        "Lead must be a VCSE: no → yes",
    ]


def test_the_audit_log_names_fields_in_words(admin_client, db):
    from crm import audit

    audit.record(db, None, "updated", "funding_call", 1, summary="A call", changes={"region_id": [None, 1]})
    db.commit()
    page = admin_client.get("/admin/audit").text
    assert "<td>Region</td>" in page and "region_id" not in page and "Funding call 1" in page


def test_the_consent_log_names_topics_and_regions(admin_client, db):
    sub = m.Subscription(email="ada@example.org", mailings=["funding_digest"], status=m.SubscriptionStatus.ACTIVE)
    db.add(sub)
    db.flush()
    region = factories.region(db, "UK-wide")
    topic = factories.topic(db, "Carers")
    db.add(
        m.ConsentEntry(
            subscription_id=sub.id,
            email=sub.email,
            action=m.ConsentAction.SUBSCRIBE,
            mailings=["funding_digest"],
            topics=[topic.slug],
            regions=[region.slug],
        )
    )
    db.commit()
    page = admin_client.get(f"/admin/subscribers/{sub.id}").text
    assert "topics: Carers; regions: UK-wide" in page and f"regions: {region.slug}" not in page
