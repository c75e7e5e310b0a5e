"""Likely duplicates and merging: affiliations, topics, history and subscriptions survive; self-merge refused."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm import models as m
from crm.directory import merge
from crm.directory.contacts import add_affiliation, get_contact, organisation_contacts
from crm.directory.errors import DirectoryError
from crm.directory.organisations import get_organisation
from crm.domains import EXTENSIONS
from tests import factories
from tests.conftest import post_form


def test_duplicate_organisations_and_contacts_are_found(admin_client, db):
    factories.organisation_via_form(db, "The Harbour Trust", charity_number="1100001")
    factories.organisation_via_form(db, "Harbour Trust Ltd")
    factories.organisation_via_form(db, "Web One", website="https://same.example.org")
    factories.organisation_via_form(db, "Web Two", website="http://www.same.example.org/x")
    factories.organisation_via_form(db, "Charity A", charity_number="1155555")
    factories.organisation_via_form(db, "Charity B", charity_number="1155555")
    factories.organisation_via_form(db, "Unique Group")
    org = factories.organisation_via_form(db, "Shared Org")
    a = factories.contact_via_form(db, "Jo Bloggs", "jo1@example.org")
    b = factories.contact_via_form(db, "jo bloggs", "jo2@example.org")
    factories.contact_via_form(db, "Someone Else", "else@example.org")
    add_affiliation(db, None, a, org, "", True)
    add_affiliation(db, None, b, org, "", True)
    db.commit()
    reasons = {(p["reason"], p["a"].name, p["b"].name) for p in merge.duplicate_organisations(db)}
    assert ("similar name", "The Harbour Trust", "Harbour Trust Ltd") in reasons
    assert ("same website", "Web One", "Web Two") in reasons
    assert ("same charity number", "Charity A", "Charity B") in reasons
    assert not any("Unique Group" in (x, y) for _, x, y in reasons)
    pairs = merge.duplicate_contacts(db)
    assert len(pairs) == 1 and pairs[0]["reason"] == "same name and organisation"
    page = admin_client.get("/admin/duplicates")
    assert "Harbour Trust Ltd" in page.text and "Jo Bloggs" in page.text


def test_merge_organisations_keeps_links_topics_and_history(admin_client, db):
    keep = factories.organisation_via_form(db, "Keep Org", topics=["carers"])
    drop = factories.organisation_via_form(
        db, "Drop Org", topics=["psychosis"], website="https://drop.example.org", description="From drop"
    )
    child = factories.organisation_via_form(db, "Child", parent=drop.slug)
    p1 = factories.contact_via_form(db, "P1", "p1@example.org")
    p2 = factories.contact_via_form(db, "P2", "p2@example.org")
    add_affiliation(db, None, p1, drop, "Chair", True)
    add_affiliation(db, None, p2, keep, "Member", True)
    add_affiliation(db, None, p2, drop, "Trustee", False)
    db.commit()
    keep_id, drop_id = keep.id, drop.id
    page = admin_client.get(f"/admin/duplicates/organisations/merge?a={keep_id}&b={drop_id}")  # the older address
    assert "Keep Org" in page.text and "Drop Org" in page.text
    stamp = re.search(r'name="stamp" value="([0-9a-f]+)"', page.text).group(1)
    r = post_form(
        admin_client,
        "/admin/merge/organisations",
        {"a": keep_id, "b": drop_id, "keep": keep_id, "stamp": stamp},  # the defaults: fill the gaps, join lists
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/admin/organisations/{keep_id}?notice=merged"
    db.expire_all()
    assert db.scalar(select(m.Organisation.id).where(m.Organisation.id == drop_id)) is None
    kept = get_organisation(db, keep_id)
    assert {t.slug for t in kept.topics} == {"carers", "psychosis"}
    assert kept.website == "https://drop.example.org" and kept.description == "From drop"
    contacts = {r.name for r in organisation_contacts(db, keep_id)}
    assert contacts == {"P1", "P2"}
    assert db.get(m.Organisation, child.id).parent_id == keep_id
    actions = list(
        db.scalars(
            select(m.AuditEntry.action).where(m.AuditEntry.entity == "organisation", m.AuditEntry.entity_id == keep_id)
        )
    )
    assert "merged" in actions and actions.count("created") == 2  # the dropped record's history moved over
    assert "merged in #" in admin_client.get(f"/admin/organisations/{keep_id}").text


def test_merge_contacts_keeps_affiliations_subscriptions_and_refuses_self(admin_client, db):
    org1, org2 = factories.organisation_via_form(db, "Org 1"), factories.organisation_via_form(db, "Org 2")
    keep = factories.contact_via_form(db, "Alex Keep", None, topics=["carers"])
    drop = factories.contact_via_form(db, "Alex K", "alex@example.org", phone="0777", topics=["trauma"])
    add_affiliation(db, None, keep, org1, "Chair", True)
    add_affiliation(db, None, drop, org2, "Member", True)
    sub_id = None
    if hasattr(m, "Subscription"):
        sub = m.Subscription(email="alex@example.org", contact_id=drop.id)
        db.add(sub)
        db.flush()
        sub_id = sub.id
    db.commit()
    keep_id, drop_id = keep.id, drop.id
    r = post_form(admin_client, "/admin/merge/contacts", {"a": keep_id, "b": keep_id, "keep": keep_id})
    assert r.status_code == 400 and "cannot be merged into itself" in r.text
    assert admin_client.get(f"/admin/duplicates/contacts/merge?a={keep_id}&b={keep_id}").status_code == 400
    page = admin_client.get(f"/admin/merge/contacts?a={keep_id}&b={drop_id}")
    stamp = re.search(r'name="stamp" value="([0-9a-f]+)"', page.text).group(1)
    r = post_form(
        admin_client,
        "/admin/merge/contacts",
        {"a": keep_id, "b": drop_id, "keep": keep_id, "stamp": stamp},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    kept = get_contact(db, keep_id)
    assert kept.email == "alex@example.org" and kept.phone == "0777"
    assert {t.slug for t in kept.topics} == {"carers", "trauma"}
    affs = sorted((a.organisation.name, a.is_primary) for a in kept.affiliations)
    assert affs == [("Org 1", True), ("Org 2", False)]
    if sub_id:
        assert db.get(m.Subscription, sub_id).contact_id == keep_id
        page = admin_client.get(f"/admin/contacts/{keep_id}").text
        assert "alex@example.org — pending" in page.lower()  # the status in words, whatever its case
    try:
        merge.merge_contacts(db, EXTENSIONS, None, keep_id, keep_id)
    except DirectoryError as exc:
        assert "itself" in str(exc)
    else:
        raise AssertionError("self-merge was allowed")


def test_merge_fills_an_empty_companies_house_number_from_the_other_record(db):
    keep = factories.organisation_via_form(db, "Keep Ltd")
    drop = factories.organisation_via_form(db, "Drop Ltd", company_number="SC123456")
    merge.merge_organisations(db, EXTENSIONS, None, keep.id, drop.id)
    db.commit()
    assert db.get(m.Organisation, keep.id).company_number == "SC123456"
