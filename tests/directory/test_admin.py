"""The fellow's pages: CRUD with audit history, affiliations with one primary, review queue, topics, regions."""

from __future__ import annotations

from sqlalchemy import func, select

from crm import models as m
from crm.directory.contacts import add_affiliation
from tests import factories
from tests.conftest import post_form, sign_in_as


def _audit(db, entity, entity_id):
    return list(
        db.scalars(
            select(m.AuditEntry.action)
            .where(m.AuditEntry.entity == entity, m.AuditEntry.entity_id == entity_id)
            .order_by(m.AuditEntry.id)
        )
    )


def test_admin_pages_need_an_admin(client, db, settings):
    assert client.get("/admin/organisations").status_code in (200, 303)  # redirect to sign-in
    assert "/sign-in" in client.get("/admin/organisations", follow_redirects=False).headers.get("location", "")
    sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    assert client.get("/admin/contacts").status_code == 403


def test_organisation_create_edit_delete_with_history(admin_client, db):
    client = admin_client
    r = post_form(client, "/admin/organisations/new", {"name": "", "kind": "vcse", "description": "keep this text"})
    assert r.status_code == 400 and "Organisation name is required" in r.text and "keep this text" in r.text
    r = post_form(client, "/admin/organisations/new", {"name": "N" * 10_000, "kind": "vcse"})
    assert r.status_code == 400 and "at most 300 characters" in r.text
    r = post_form(
        client,
        "/admin/organisations/new",
        {
            "name": "Fresh <i>Start</i>",
            "kind": "vcse",
            "website": "freshstart.example.org",
            "topics": ["carers"],
            "region": "wales",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    org = db.scalar(select(m.Organisation).where(m.Organisation.name == "Fresh <i>Start</i>"))
    assert org.website == "https://freshstart.example.org" and org.website_domain == "freshstart.example.org"
    page = client.get(f"/admin/organisations/{org.id}")
    assert "Fresh &lt;i&gt;Start&lt;/i&gt;" in page.text and "History" in page.text and "created" in page.text
    edit = client.get(f"/admin/organisations/{org.id}/edit")
    assert 'value="carers" checked' in edit.text
    r = post_form(
        client,
        f"/admin/organisations/{org.id}/edit",
        {"name": "Fresh Start", "kind": "academic", "topics": ["carers", "psychosis"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.entity_id == org.id, m.AuditEntry.action == "updated"))
    assert entry.actor == "fellow@example.org"
    assert entry.changes["kind"] == ["vcse", "academic"] and entry.changes["topics"][1] == ["Carers", "Psychosis"]
    assert "Kind: VCSE → Academic" in client.get(f"/admin/organisations/{org.id}").text
    org_id = org.id
    assert "Delete Fresh Start?" in client.get(f"/admin/organisations/{org_id}/delete").text
    assert post_form(client, f"/admin/organisations/{org_id}/delete", follow_redirects=False).status_code == 303
    db.expire_all()
    assert db.scalar(select(m.Organisation.id).where(m.Organisation.id == org_id)) is None
    assert _audit(db, "organisation", org_id) == ["created", "updated", "deleted"]


def test_delete_is_refused_while_referenced(admin_client, db):
    parent = factories.organisation_via_form(db, "University of Somewhere", kind="academic")
    factories.organisation_via_form(db, "Somewhere Department", kind="academic", parent=parent.slug)
    db.commit()
    r = post_form(admin_client, f"/admin/organisations/{parent.id}/delete")
    assert r.status_code == 409 and "parent" in r.text
    assert db.get(m.Organisation, parent.id) is not None
    # Other domains add their own reasons through the reference providers they lend (``Extensions``).
    from crm.directory import references
    from crm.extensions import Extensions

    def fake(session, org_id):
        return [f"Funding call #9 names organisation {org_id} as funder"]

    ext = Extensions(references=(fake,))
    assert references.organisation_references(db, parent.id, ext)[-1].startswith("Funding call #9")


def test_contacts_crud_affiliations_and_one_primary(admin_client, db):
    client = admin_client
    a = factories.organisation_via_form(db, "Org A")
    b = factories.organisation_via_form(db, "Org B")
    factories.contact_via_form(db, "Taken", "taken@example.org")
    db.commit()
    r = post_form(client, "/admin/contacts/new", {"name": "Kit", "email": "TAKEN@example.org", "phone": "0123"})
    assert r.status_code == 400 and "already has this email" in r.text and "0123" in r.text
    r = post_form(
        client,
        "/admin/contacts/new",
        {"name": "Kit", "email": "Kit@Example.org", "topics": ["carers"]},
        follow_redirects=False,
    )
    contact = db.scalar(select(m.Contact).where(m.Contact.name == "Kit"))
    assert contact.email == "kit@example.org"
    post_form(client, f"/admin/contacts/{contact.id}/affiliations", {"organisation": "Org A", "role": "Chair"})
    post_form(
        client,
        f"/admin/contacts/{contact.id}/affiliations",
        {"organisation": b.slug, "role": "Trustee", "is_primary": "1"},
    )
    r = post_form(client, f"/admin/contacts/{contact.id}/affiliations", {"organisation": "Nope Org"})
    assert r.status_code == 400 and "No organisation with that name" in r.text
    affs = {
        x.organisation_id: x for x in db.scalars(select(m.Affiliation).where(m.Affiliation.contact_id == contact.id))
    }
    assert affs[b.id].is_primary and not affs[a.id].is_primary
    post_form(client, f"/admin/affiliations/{affs[b.id].id}/delete")
    db.expire_all()
    remaining = list(db.scalars(select(m.Affiliation).where(m.Affiliation.contact_id == contact.id)))
    assert len(remaining) == 1 and remaining[0].is_primary  # the other link became primary
    page = client.get(f"/admin/contacts/{contact.id}")
    assert "Org A" in page.text and "Subscriptions" in page.text and "linked" in page.text
    assert "Kit" in client.get("/admin/contacts?q=kit").text
    assert "Kit" in client.get(f"/admin/contacts?organisation={a.slug}").text
    assert "Kit" not in client.get(f"/admin/contacts?organisation={b.slug}").text
    contact_id = contact.id
    assert post_form(client, f"/admin/contacts/{contact_id}/delete", follow_redirects=False).status_code == 303
    assert _audit(db, "contact", contact_id)[0] == "created" and _audit(db, "contact", contact_id)[-1] == "deleted"


def test_admin_lists_have_flat_statement_counts(admin_client, db, count_queries):
    for i in range(25):
        org = factories.organisation_via_form(db, f"Org {i}", topics=["carers"])
        c = factories.contact_via_form(db, f"Person {i}", f"p{i}@example.org")
        add_affiliation(db, None, c, org, "", True)
    db.commit()
    for url in ("/admin/organisations", "/admin/contacts"):
        counts = set()
        for size in (1, 10, 25):
            with count_queries() as q:
                assert admin_client.get(f"{url}?page_size={size}").status_code == 200
            counts.add(q.count)
        assert len(counts) == 1, (url, counts)


def test_review_queue_approve_and_reject_email_the_submitter(admin_client, db):
    yes = factories.organisation_via_form(
        db, "Yes Group", review_status=m.ReviewStatus.SUBMITTED, submitter_email="yes@example.org", submitter_name="Yan"
    )
    no = factories.organisation_via_form(
        db, "No Group", review_status=m.ReviewStatus.SUBMITTED, submitter_email="no@example.org"
    )
    db.commit()
    page = admin_client.get("/admin/review")
    assert "Yes Group" in page.text and "No Group" in page.text
    post_form(admin_client, f"/admin/organisations/{yes.id}/review", {"decision": "approve"})
    post_form(admin_client, f"/admin/organisations/{no.id}/review", {"decision": "reject", "note": "Not UK based"})
    db.expire_all()
    assert db.get(m.Organisation, yes.id).review_status == m.ReviewStatus.APPROVED
    assert db.get(m.Organisation, no.id).review_status == m.ReviewStatus.REJECTED
    mails = {o.recipient: o for o in db.scalars(select(m.OutboxMessage))}
    assert "is now in the Roundtable directory" in mails["yes@example.org"].subject
    assert f"/organisations/{yes.slug}" in mails["yes@example.org"].text_body
    assert "Not UK based" in mails["no@example.org"].text_body
    assert admin_client.get(f"/organisations/{yes.slug}").status_code == 200
    assert post_form(admin_client, f"/admin/organisations/{yes.id}/review", {"decision": "reject"}).status_code == 409
    assert db.scalar(select(func.count()).select_from(m.OutboxMessage)) == 2


def test_topics_and_regions_management(admin_client, db):
    r = post_form(admin_client, "/admin/topics", {"name": "Carers"})
    assert r.status_code == 400 and "already exists" in r.text
    post_form(admin_client, "/admin/topics", {"name": "Gambling harm", "description": "d"})
    topic = db.scalar(select(m.Topic).where(m.Topic.name == "Gambling harm"))
    assert topic.slug == "gambling-harm"
    post_form(admin_client, f"/admin/topics/{topic.id}", {"name": "Gambling harms", "description": "d"})
    assert "Gambling harms" in admin_client.get("/admin/topics").text
    assert "Delete the topic" in admin_client.get(f"/admin/topics/{topic.id}/delete").text
    topic_id = topic.id
    post_form(admin_client, f"/admin/topics/{topic_id}/delete")
    db.expire_all()
    assert db.scalar(select(m.Topic.id).where(m.Topic.id == topic_id)) is None
    assert _audit(db, "topic", topic_id) == ["created", "updated", "deleted"]
    region = db.scalar(select(m.Region).where(m.Region.code == "UKL"))
    assert (
        post_form(admin_client, f"/admin/regions/{region.id}", {"name": "London", "position": "1"}).status_code == 400
    )
    post_form(admin_client, f"/admin/regions/{region.id}", {"name": "Cymru / Wales", "position": "3"})
    db.expire_all()
    assert db.get(m.Region, region.id).name == "Cymru / Wales"
    assert "Cymru / Wales" in admin_client.get("/admin/regions").text


def test_export_streams_the_filtered_list_as_csv(admin_client, db):
    factories.organisation_via_form(db, "=HYPERLINK(evil)", topics=["carers"], region="london")
    factories.organisation_via_form(db, "Other Place", region="wales")
    c = factories.contact_via_form(db, "Dana", "dana@example.org")
    db.commit()
    r = admin_client.get("/admin/organisations/export.csv?region=london")
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("organisation_name,kind") and len(lines) == 2
    assert lines[1].startswith("'=HYPERLINK(evil)") and "Carers" in lines[1]
    r = admin_client.get("/admin/contacts/export.csv")
    assert "dana@example.org" in r.text and c.name in r.text
