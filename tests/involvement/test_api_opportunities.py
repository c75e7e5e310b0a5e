"""/api/v1/involvement-opportunities: public reads of open ones without any contact or personal data, writes by
the fellow and by owners (academic editors) only, problem details for every refusal, flat statement counts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm import models as m
from crm.accounts.services import create_api_key
from tests import factories
from tests.involvement.opportunities_factory import make_opportunity, today

S = m.OpportunityStatus
URL = "/api/v1/involvement-opportunities"
PRIVATE_KEYS = {"contact_email", "contact_name", "status", "interest_count", "organisation_id"}


def key(db, role: m.Role, org_id: int | None = None) -> dict[str, str]:
    _, plaintext = create_api_key(db, f"k-{role.value}-{org_id}", role=role, organisation_id=org_id)
    db.commit()
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def orgs(db):
    uni = factories.organisation(db, "University of Northbridge", kind=m.OrgKind.ACADEMIC)
    other_uni = factories.organisation(db, "Southgate University", kind=m.OrgKind.ACADEMIC)
    charity = factories.organisation(db, "Hillside Collective", kind=m.OrgKind.VCSE)
    db.commit()
    return uni, other_uni, charity


def body(**changes):
    data = {
        "title": "API advisory group",
        "kind": "advisory-group",
        "lived_experience_sought": "Experience of psychosis.",
        "what_you_will_do": "Four meetings a year.",
        "closing_date": (today() + dt.timedelta(days=14)).isoformat(),
        "contact_email": "poster@example.org",
        "online": True,
        "paid": True,
        "payment_amount": "12.50",
        "payment_basis": "hour",
    }
    data.update(changes)
    return data


def test_public_list_and_one_never_show_contact_or_people(client, db):
    opp = make_opportunity(db, title="Open role", contact_email="secret@example.org", payment_amount="25")
    make_opportunity(db, title="Draft role", status=S.DRAFT)
    db.add(m.InvolvementInterest(opportunity_id=opp.id, name="Someone", email="someone@example.org"))
    db.commit()
    listing = client.get(URL)
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert [i["title"] for i in items] == ["Open role"]
    assert items[0]["payment"] == "£25 per meeting, plus expenses" and items[0]["payment_pence"] == 2500
    assert items[0]["url"].endswith(f"/involvement/{opp.slug}") and items[0]["open"] is True
    one = client.get(f"{URL}/{opp.id}").json()
    assert one["what_you_will_do"].startswith("Join four online meetings")
    for shape in (items[0], one):
        assert all(shape.get(k) is None for k in PRIVATE_KEYS)
    raw = listing.text + client.get(f"{URL}/{opp.id}").text
    assert "secret@example.org" not in raw and "someone@example.org" not in raw


def test_public_filters_and_problem_for_a_bad_date(client, db):
    make_opportunity(db, title="Paid one")
    make_opportunity(db, title="Expenses one", paid="")
    db.commit()
    assert [i["title"] for i in client.get(f"{URL}?pay=expenses").json()["items"]] == ["Expenses one"]
    bad = client.get(f"{URL}?closing_before=soon")
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "is not a date" in bad.text


def test_drafts_and_closed_ones(client, db):
    draft = make_opportunity(db, status=S.DRAFT)
    closed = make_opportunity(db, status=S.CLOSED)
    db.commit()
    assert client.get(f"{URL}/{draft.id}").status_code == 404
    shown = client.get(f"{URL}/{closed.id}")
    assert shown.status_code == 200 and shown.json()["open"] is False
    assert client.get(f"{URL}/999999").status_code == 404


def test_list_statements_are_flat(client, db, count_queries):
    for n in range(25):
        make_opportunity(db, title=f"Role {n}")
    db.commit()
    counts = []
    for size in (1, 10, 100):
        with count_queries() as q:
            assert client.get(f"{URL}?page_size={size}").status_code == 200
        counts.append(q.count)
    assert counts == [1, 1, 1]


def test_the_fellow_creates_and_publishes(client, db):
    headers = key(db, m.Role.ADMIN)
    created = client.post(URL, json=body(publish=True), headers=headers)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["status"] == "published" and out["contact_email"] == "poster@example.org"
    assert out["payment"] == "£12.50 per hour, plus expenses"
    assert client.get(URL).json()["items"][0]["id"] == out["id"]


def test_bad_fields_are_a_422_naming_each(client, db):
    headers = key(db, m.Role.ADMIN)
    answer = client.post(
        URL,
        json=body(payment_amount="abc", closing_date=(today() - dt.timedelta(days=1)).isoformat(), topic_ids=[999999]),
        headers=headers,
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problems = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert problems == {
        "payment_amount": "Enter an amount in pounds, like 12.50 or £25.",
        "closing_date": "The closing date is in the past. Choose today or a later date.",
        "topic_ids": "Choose topics from the list.",
    }
    unknown = client.post(URL, json={**body(), "surely_not": 1}, headers=headers)
    assert unknown.status_code == 422 and "surely_not" in unknown.text
    assert db.scalars(select(m.InvolvementOpportunity)).all() == []


def test_an_academic_editor_posts_for_their_organisation_and_changes_only_their_own(client, db, orgs):
    uni, other_uni, _ = orgs
    mine = key(db, m.Role.EDITOR, uni.id)
    created = client.post(URL, json=body(), headers=mine)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["organisation_id"] == uni.id and out["status"] == "draft"
    changed = client.patch(f"{URL}/{out['id']}", json={"payment_amount": 30, "action": "publish"}, headers=mine)
    assert changed.status_code == 200, changed.text
    assert changed.json()["payment_pence"] == 3000 and changed.json()["status"] == "published"
    assert client.post(URL, json=body(organisation_id=other_uni.id), headers=mine).status_code == 403
    theirs = make_opportunity(db, organisation_id=str(other_uni.id))
    db.commit()
    assert client.patch(f"{URL}/{theirs.id}", json={"title": "Mine now"}, headers=mine).status_code == 404
    assert client.get(f"{URL}/{theirs.id}", headers=mine).json()["contact_email"] is None
    closed = client.patch(f"{URL}/{out['id']}", json={"action": "close"}, headers=mine)
    assert closed.json()["status"] == "closed" and closed.json()["open"] is False


def test_who_may_not_write(client, db, orgs):
    _, _, charity = orgs
    assert client.post(URL, json=body()).status_code == 401
    assert client.post(URL, json=body(), headers=key(db, m.Role.VIEWER)).status_code == 403
    refused = client.post(URL, json=body(), headers=key(db, m.Role.EDITOR, charity.id))
    assert refused.status_code == 403
    assert "university or research" in refused.json()["detail"]


def test_patch_refusals(client, db):
    headers = key(db, m.Role.ADMIN)
    lapsed = make_opportunity(db, status=S.DRAFT, days=-1)
    db.commit()
    publish = client.patch(f"{URL}/{lapsed.id}", json={"action": "publish"}, headers=headers)
    assert publish.status_code == 422 and "closing date has passed" in publish.text
    assert client.patch(f"{URL}/{lapsed.id}", json={"action": "explode"}, headers=headers).status_code == 422
    negative = client.patch(f"{URL}/{lapsed.id}", json={"paid": True, "payment_amount": "-3"}, headers=headers)
    assert [(e["field"], e["message"]) for e in negative.json()["errors"]] == [
        ("payment_amount", "The amount cannot be negative.")
    ]
    assert client.patch(f"{URL}/999999", json={"title": "x"}, headers=headers).status_code == 404
