"""/api/v1/internships: public reads, editor scoping on every method, 422 per-field, keyset cursors."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.internships.services import london_today
from tests import factories
from tests.internships.helpers import make_internship, now

S = m.InternshipStatus
URL = "/api/v1/internships"


@pytest.fixture
def orgs(db):
    mine, other = factories.organisation(db, "Own Org"), factories.organisation(db, "Other Org")
    db.commit()
    return mine, other


def key(db, role: m.Role, org_id: int | None = None) -> dict[str, str]:
    _, plaintext = create_api_key(db, f"k-{role.value}-{org_id}", role=role, organisation_id=org_id)
    db.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def body(org_id: int, **overrides):
    data = {
        "title": "API placement",
        "host_organisation_id": org_id,
        "direction": "vcse-to-academic",
        "mode": "remote",
        "closing_date": (london_today(now()) + dt.timedelta(days=14)).isoformat(),
        "host_contact_email": "host@example.org",
        "apply_url": "https://example.org/apply",
        "paid": True,
        "stipend_amount": "120.5",
        "stipend_period": "day",
        "topic_ids": [],
        "career_stages": ["practitioner"],
    }
    data.update(overrides)
    return data


def test_public_list_and_get_hide_private_data_and_drafts(client, db, orgs):
    mine, _ = orgs
    pub = make_internship(db, mine, title="Public one")
    draft = make_internship(db, mine, title="Draft one", status=S.DRAFT)
    db.add(m.InternshipInterest(internship_id=pub.id, name="Ada", email="ada@example.org"))
    db.commit()
    listing = client.get(URL)
    assert listing.status_code == 200
    data = listing.json()
    assert [i["title"] for i in data["items"]] == ["Public one"] and data["next_cursor"] is None
    assert data["items"][0]["host_organisation_id"] == mine.id and data["items"][0]["host_contact_email"] is None
    one = client.get(f"{URL}/{pub.id}").json()
    assert one["title"] == "Public one" and one["host_contact_email"] is None and one["interest_count"] is None
    assert "ada@example.org" not in client.get(f"{URL}/{pub.id}").text
    assert client.get(f"{URL}/{draft.id}").status_code == 404
    assert client.get(f"{URL}/{pub.id}/interests").status_code == 401
    assert client.get(f"{URL}?status=draft").json()["items"][0]["title"] == "Public one"  # status ignored


def test_keyset_cursor_and_filters(client, db, orgs):
    mine, _ = orgs
    for n in range(5):
        make_internship(db, mine, title=f"P{n}", days=10 + n, mode="remote" if n % 2 else "hybrid")
    db.commit()
    first = client.get(f"{URL}?page_size=2&sort=closing").json()
    assert [i["title"] for i in first["items"]] == ["P0", "P1"]
    second = client.get(f"{URL}?page_size=2&sort=closing&cursor={first['next_cursor']}").json()
    assert [i["title"] for i in second["items"]] == ["P2", "P3"]
    assert {i["title"] for i in client.get(f"{URL}?mode=remote").json()["items"]} == {"P1", "P3"}


def test_editor_creates_for_own_org_only(client, db, orgs):
    mine, other = orgs
    headers = key(db, m.Role.EDITOR, mine.id)
    created = client.post(URL, json=body(mine.id, publish=True), headers=headers)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["status"] == "submitted" and data["stipend_pence"] == 12050 and data["stipend"] == "£120.50 a day"
    assert data["host_contact_email"] == "host@example.org" and data["career_stages"] == ["practitioner"]
    refused = client.post(URL, json=body(other.id), headers=headers)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    assert db.scalar(select(func.count(m.Internship.id))) == 1


def test_every_write_method_is_scoped_to_the_editors_org(client, db, orgs):
    mine, other = orgs
    theirs = make_internship(db, other, title="Theirs", status=S.DRAFT)
    own = make_internship(db, mine, title="Own", status=S.DRAFT)
    db.commit()
    headers = key(db, m.Role.EDITOR, mine.id)
    assert client.get(f"{URL}/{theirs.id}", headers=headers).status_code == 404  # a draft of another org
    assert client.patch(f"{URL}/{theirs.id}", json={"title": "X"}, headers=headers).status_code == 403
    assert client.patch(f"{URL}/{theirs.id}", json={"action": "close"}, headers=headers).status_code == 403
    assert client.delete(f"{URL}/{theirs.id}", headers=headers).status_code == 403
    assert client.get(f"{URL}/{theirs.id}/interests", headers=headers).status_code == 403
    moved = client.patch(f"{URL}/{own.id}", json={"host_organisation_id": other.id}, headers=headers)
    assert moved.status_code == 403
    assert client.patch(f"{URL}/{own.id}", json={"action": "approve"}, headers=headers).status_code == 403
    db.expire_all()
    assert (
        db.get(m.Internship, theirs.id).title == "Theirs"
        and db.get(m.Internship, own.id).host_organisation_id == mine.id
    )
    # Their own listing: allowed.
    assert client.get(f"{URL}/{own.id}", headers=headers).status_code == 200
    assert client.patch(f"{URL}/{own.id}", json={"title": "Own, renamed"}, headers=headers).status_code == 200
    assert client.patch(f"{URL}/{own.id}", json={"action": "submit"}, headers=headers).json()["status"] == "submitted"
    assert client.get(f"{URL}/{own.id}/interests", headers=headers).json() == []
    assert client.delete(f"{URL}/{own.id}", headers=headers).status_code == 204
    # Viewers and anonymous callers cannot write.
    viewer = key(db, m.Role.VIEWER, mine.id)
    assert client.post(URL, json=body(mine.id), headers=viewer).status_code == 403
    assert client.post(URL, json=body(mine.id)).status_code == 401
    assert client.delete(f"{URL}/{theirs.id}").status_code == 401


def test_admin_key_moderates_and_reads_interests(client, db, orgs):
    mine, _ = orgs
    waiting = make_internship(db, mine, status=S.SUBMITTED)
    db.add(m.InternshipInterest(internship_id=waiting.id, name="Ada", email="ada@example.org", note="Hi"))
    db.commit()
    headers = key(db, m.Role.ADMIN)
    approved = client.patch(f"{URL}/{waiting.id}", json={"action": "approve"}, headers=headers)
    assert approved.status_code == 200 and approved.json()["status"] == "published"
    assert approved.json()["interest_count"] == 1
    interests = client.get(f"{URL}/{waiting.id}/interests", headers=headers).json()
    assert interests[0]["email"] == "ada@example.org"
    again = client.patch(f"{URL}/{waiting.id}", json={"action": "approve"}, headers=headers)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"closing_date": "2020-01-01"}, "closing_date"),
        ({"stipend_amount": "-10"}, "stipend_amount"),
        ({"stipend_amount": "ten pounds"}, "stipend_amount"),
        ({"stipend_amount": -3}, "stipend_amount"),
        ({"apply_url": "javascript:alert(1)"}, "apply_url"),
        ({"direction": "sideways"}, "direction"),
        ({"host_organisation_id": 999999}, "host_organisation_id"),
    ],
)
def test_bad_fields_are_422_with_the_field_named(client, db, orgs, overrides, field):
    mine, _ = orgs
    response = client.post(URL, json=body(mine.id, **overrides), headers=key(db, m.Role.ADMIN))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["status"] == 422 and field in {e["field"] for e in problem["errors"]}
    assert db.scalar(select(func.count(m.Internship.id))) == 0


def test_wrong_json_types_are_422_too(client, db, orgs):
    mine, _ = orgs
    response = client.post(URL, json=body(mine.id, paid="perhaps"), headers=key(db, m.Role.ADMIN))
    assert response.status_code == 422
    assert response.json()["errors"]
    unknown = client.post(URL, json=body(mine.id, colour="blue"), headers=key(db, m.Role.ADMIN))
    assert unknown.status_code == 422


def test_patch_validates_and_keeps_other_fields(client, db, orgs):
    mine, _ = orgs
    own = make_internship(db, mine, title="Keep", pence=10000, period="week")
    db.commit()
    headers = key(db, m.Role.ADMIN)
    bad = client.patch(f"{URL}/{own.id}", json={"stipend_amount": "-1"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "stipend_amount"
    ok = client.patch(f"{URL}/{own.id}", json={"hours_per_week": 12}, headers=headers).json()
    assert ok["hours_per_week"] == 12 and ok["title"] == "Keep" and ok["stipend_pence"] == 10000


def test_openapi_documents_the_endpoints(client):
    schema = client.get("/schema/openapi.json").json()
    assert "/api/v1/internships" in schema["paths"] and "/api/v1/internships/{internship_id}" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/internships"]


def test_status_listing_is_scoped_for_editors(client, db, orgs):
    mine, other = orgs
    make_internship(db, mine, title="My draft", status=S.DRAFT)
    make_internship(db, other, title="Their draft", status=S.DRAFT)
    db.commit()
    editor = client.get(f"{URL}?status=draft", headers=key(db, m.Role.EDITOR, mine.id)).json()
    assert [i["title"] for i in editor["items"]] == ["My draft"] and editor["items"][0]["interest_count"] == 0
    fellow = client.get(f"{URL}?status=draft", headers=key(db, m.Role.ADMIN)).json()
    assert {i["title"] for i in fellow["items"]} == {"My draft", "Their draft"}


def test_one_listing_costs_three_statements_and_the_admin_list_carries_interest_counts(client, db, orgs, count_queries):
    mine, _ = orgs
    pub = make_internship(db, mine, title="Counted", topics=("Carers",), stages=("student",))
    db.add(m.InternshipInterest(internship_id=pub.id, name="Ada", email="ada@example.org"))
    db.commit()
    with count_queries() as q:
        assert client.get(f"{URL}/{pub.id}").json()["career_stages"] == ["student"]
    assert q.count == 3  # the listing with host and region, its topics, its career stages
    admin = key(db, m.Role.ADMIN)
    rows = client.get(f"{URL}?status=published", headers=admin).json()["items"]
    assert [(r["title"], r["interest_count"]) for r in rows] == [("Counted", 1)]
    assert client.get(URL).json()["items"][0]["interest_count"] is None  # public rows never carry it
