"""Demo data: ~90 organisations of every kind and category, every region and topic, ~150 contacts."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm import models as m
from crm.demo import seed_demo
from crm.directory.organisations import public_condition


def test_demo_covers_every_kind_category_region_and_topic(client, db, settings):
    seed_demo(db, settings)
    db.commit()
    orgs = list(db.scalars(select(m.Organisation)))
    assert 85 <= len(orgs) <= 110
    assert {o.kind for o in orgs} == set(m.OrgKind)
    assert {o.vcse_category for o in orgs if o.vcse_category} == set(m.VcseCategory)
    assert {o.region_id for o in orgs} >= set(db.scalars(select(m.Region.id)))
    used_topics = set(db.scalars(select(m.organisation_topics.c.topic_id)))
    assert used_topics == set(db.scalars(select(m.Topic.id)))
    assert any(o.review_status == m.ReviewStatus.SUBMITTED for o in orgs)
    contacts = list(db.scalars(select(m.Contact)))
    assert len(contacts) >= 140 and all(c.email.endswith("@example.org") for c in contacts)
    primaries = db.execute(
        select(
            m.Affiliation.contact_id,
            func.sum(func.cast(m.Affiliation.is_primary, m.Base.metadata.tables["affiliations"].c.id.type)),
        ).group_by(m.Affiliation.contact_id)
    ).all()
    assert len(primaries) == len(contacts) and all(n == 1 for _, n in primaries)
    assert client.get("/organisations").status_code == 200
    assert "Mind" in client.get("/organisations?q=mind").text


def test_every_directory_screen_renders_with_the_demo_data(admin_client, db, settings):
    seed_demo(db, settings)
    db.commit()
    org = db.scalar(select(m.Organisation).where(public_condition()).order_by(m.Organisation.id).limit(1))
    contact = db.scalar(select(m.Contact).limit(1))
    topic = db.scalar(select(m.Topic).limit(1))
    urls = [
        "/organisations",
        f"/organisations/{org.slug}",
        "/add-your-group",
        "/admin/organisations",
        "/admin/organisations?q=peer&sort=relevance",
        "/admin/organisations/new",
        f"/admin/organisations/{org.id}",
        f"/admin/organisations/{org.id}/edit",
        f"/admin/organisations/{org.id}/delete",
        "/admin/contacts",
        "/admin/contacts/new",
        f"/admin/contacts/{contact.id}",
        f"/admin/contacts/{contact.id}/edit",
        f"/admin/contacts/{contact.id}/delete",
        "/admin/review",
        "/admin/topics",
        f"/admin/topics/{topic.id}",
        f"/admin/topics/{topic.id}/delete",
        "/admin/regions",
        "/admin/import",
        "/admin/duplicates",
    ]
    for url in urls:
        r = admin_client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text[:500])
        assert "Traceback" not in r.text
    assert "Hearing Voices Group" in admin_client.get("/admin/review").text


def test_demo_reads_well(db, settings):
    """The demo is the first thing a new user sees: grammar, acronyms and the well-known charities' topics."""
    seed_demo(db, settings)
    db.commit()
    orgs = list(db.scalars(select(m.Organisation).options(selectinload(m.Organisation.topics))))
    text = " ".join(f"{o.name} {o.description}" for o in orgs)
    assert not re.search(r"\bA [aeiouAEIOU]", text), re.findall(r"\bA [aeiou]\w+ \w+", text)[:3]
    assert "Lgbtq" not in text and "LGBTQ+" in text
    topics = {o.name: {t.name for t in o.topics} for o in orgs}
    assert "Eating disorders" in topics["Beat"]
    assert "Suicide prevention" in topics["Samaritans"]
    assert "Children and young people" in topics["Young Minds"]
