"""The directory API: anonymous public reads, admin-only contacts, editor scope, 422 per-field errors, paging."""

from __future__ import annotations

from sqlalchemy import select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.directory.organisations import get_organisation
from tests import factories
from tests.conftest import sign_in_as


def _key(db, role, org_id=None):
    _, plaintext = create_api_key(db, f"{role}-key", role, organisation_id=org_id)
    db.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def test_public_reads_are_anonymous_and_paged(client, db):
    for i in range(5):
        factories.organisation_via_form(db, f"Api Org {i}", topics=["carers"], region="london")
    factories.organisation_via_form(db, "Private One", visibility="private")
    db.commit()
    r = client.get("/api/v1/organisations?page_size=2&sort=name")
    body = r.json()
    assert r.status_code == 200 and [o["name"] for o in body["items"]] == ["Api Org 0", "Api Org 1"]
    assert body["items"][0]["topics"] == ["carers"] and body["items"][0]["region"] == "london"
    names = [o["name"] for o in body["items"]]
    cursor = body["next_cursor"]
    while cursor:
        body = client.get(f"/api/v1/organisations?page_size=2&sort=name&cursor={cursor}").json()
        names += [o["name"] for o in body["items"]]
        cursor = body["next_cursor"]
    assert names == [f"Api Org {i}" for i in range(5)]
    assert client.get("/api/v1/organisations?q=org+3").json()["items"][0]["name"] == "Api Org 3"
    topics = client.get("/api/v1/topics").json()
    assert any(t["slug"] == "carers" for t in topics)
    assert "/api/v1/organisations" in client.get("/schema/openapi.json").text


def test_contacts_need_an_admin(client, db, settings):
    c = factories.contact_via_form(db, "Secret Person", "secret@example.org")
    db.commit()
    assert client.get("/api/v1/contacts").status_code == 401
    assert client.get(f"/api/v1/contacts/{c.id}").status_code == 401
    assert client.get("/api/v1/contacts", headers=_key(db, m.Role.EDITOR)).status_code == 403
    r = client.get("/api/v1/contacts", headers=_key(db, m.Role.ADMIN))
    assert r.status_code == 200 and r.json()["items"][0]["email"] == "secret@example.org"
    sign_in_as(client, db, settings, "boss@example.org", m.Role.ADMIN)
    assert client.get(f"/api/v1/contacts/{c.id}").json()["name"] == "Secret Person"


def test_writes_roles_and_validation(client, db):
    admin = _key(db, m.Role.ADMIN)
    assert client.post("/api/v1/organisations", json={"name": "X", "kind": "vcse"}).status_code == 401
    assert (
        client.post(
            "/api/v1/organisations", json={"name": "X", "kind": "vcse"}, headers=_key(db, m.Role.VIEWER)
        ).status_code
        == 403
    )
    r = client.post(
        "/api/v1/organisations", json={"name": "x" * 10_000, "kind": "alien", "topics": ["nope"]}, headers=admin
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"name", "kind", "topics"} <= fields
    r = client.post(
        "/api/v1/organisations",
        json={"name": "Api Made", "kind": "vcse", "topics": ["carers"], "region": "wales"},
        headers=admin,
    )
    assert r.status_code == 201
    org_id = r.json()["id"]
    r = client.patch(f"/api/v1/organisations/{org_id}", json={"description": "Patched"}, headers=admin)
    assert r.status_code == 200 and r.json()["description"] == "Patched" and r.json()["topics"] == ["carers"]
    # Editors: only their own organisation.
    other = factories.organisation_via_form(db, "Other Org")
    db.commit()
    editor = _key(db, m.Role.EDITOR, org_id=org_id)
    assert (
        client.patch(f"/api/v1/organisations/{org_id}", json={"postcode": "cf10 1aa"}, headers=editor).json()[
            "postcode"
        ]
        == "CF10 1AA"
    )
    assert client.patch(f"/api/v1/organisations/{other.id}", json={"postcode": "x"}, headers=editor).status_code == 403
    assert client.delete(f"/api/v1/organisations/{org_id}", headers=editor).status_code == 403
    entry = db.scalar(
        select(m.AuditEntry)
        .where(m.AuditEntry.entity_id == org_id, m.AuditEntry.action == "updated")
        .order_by(m.AuditEntry.id.desc())
    )
    assert entry.actor == "api-key:editor-key"
    # Contacts and topics via the API.
    r = client.post("/api/v1/contacts", json={"name": "New Person", "email": "NEW@example.org"}, headers=admin)
    assert r.status_code == 201 and r.json()["email"] == "new@example.org"
    cid = r.json()["id"]
    assert (
        client.post("/api/v1/contacts", json={"name": "Dup", "email": "new@example.org"}, headers=admin).status_code
        == 422
    )
    assert (
        client.patch(f"/api/v1/contacts/{cid}", json={"job_title": "Chair"}, headers=admin).json()["job_title"]
        == "Chair"
    )
    assert client.delete(f"/api/v1/contacts/{cid}", headers=admin).status_code == 204
    r = client.post("/api/v1/topics", json={"name": "Loneliness"}, headers=admin)
    assert r.status_code == 201
    assert client.post("/api/v1/topics", json={"name": "Loneliness"}, headers=editor).status_code == 403
    tid = r.json()["id"]
    assert client.patch(f"/api/v1/topics/{tid}", json={"description": "d"}, headers=admin).json()["description"] == "d"
    assert client.delete(f"/api/v1/topics/{tid}", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/organisations/{org_id}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/organisations/{org_id}").status_code == 404


def test_api_delete_refused_while_referenced(client, db):
    parent = factories.organisation_via_form(db, "Parent U", kind="academic")
    factories.organisation_via_form(db, "Child D", kind="academic", parent=parent.slug)
    db.commit()
    r = client.delete(f"/api/v1/organisations/{parent.id}", headers=_key(db, m.Role.ADMIN))
    assert r.status_code == 409 and "parent" in r.json()["detail"]
    assert get_organisation(db, parent.id) is not None
