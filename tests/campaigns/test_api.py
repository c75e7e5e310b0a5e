"""/api/v1/campaigns: drafts created and changed with their audience, refusals as problem+json (422 naming each
field, 409 once sending started), keyset pages, one campaign with its figures (null when the transport does not
report them), and sending for admins only."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.app import create_app
from tests.campaigns.report_data import START, campaign, event, post_events
from tests.conftest import BASE_URL

URL = "/api/v1/campaigns"
PROBLEM = "application/problem+json"


def key(db, role: m.Role) -> dict[str, str]:
    _, plaintext = create_api_key(db, f"campaigns-{role.value}", role=role)
    db.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def body(**overrides):
    data = {
        "subject": "The MRC call is out",
        "preheader": "Join our briefing on Thursday",
        "body": "## What it funds\n\nResearch with VCSE partners. [Read the call](https://www.ukri.org/mrc)",
        "cta_label": "Book a place",
        "cta_url": "https://roundtable.example.org/events/briefing",
        "sender_name": "Sam at the Roundtable",
        "track_opens": True,
        "track_clicks": True,
        "audience": {
            "subscribers": {"mailing": "news"},
            "contacts": {"org_kinds": ["vcse"], "led_by": ["user_led"]},
            "exclude": {"emails": ["someone@example.org"]},
        },
    }
    data.update(overrides)
    return data


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    return response.json()


def _fields(problem: dict) -> dict[str, str]:
    return {e["field"]: e["message"] for e in problem.get("errors", [])}


def test_an_editor_creates_a_draft_with_its_audience_and_reads_it_back(client, db):
    editor = key(db, m.Role.EDITOR)
    created = client.post(URL, json=body(), headers=editor)
    assert created.status_code == 201, created.text
    out = created.json()
    assert (out["subject"], out["status"], out["editable"], out["sender_name"]) == (
        "The MRC call is out",
        "draft",
        True,
        "Sam at the Roundtable",
    )
    assert out["audience"]["subscribers"] == {"mailing": "news", "topic_ids": [], "region_ids": [], "funder_ids": []}
    assert out["audience"]["contacts"]["org_kinds"] == ["vcse"]
    assert out["audience"]["exclude"]["emails"] == ["someone@example.org"]
    stored = db.get(m.Campaign, out["id"])
    assert stored.created_by and stored.audience["subscribers"]["on"] is True
    got = client.get(f"{URL}/{out['id']}", headers=editor).json()
    assert got["figures"]["recipients"] == 0 and got["figures"]["delivery_reported"] is False
    assert got["figures"]["delivered"] is None and got["figures"]["opened"] is None  # not reported, not zero


def test_bad_fields_are_one_422_problem_naming_each(client, db):
    editor = key(db, m.Role.EDITOR)
    bad = body(
        subject="  ",
        cta_url="javascript:alert(1)",
        audience={"subscribers": {"mailing": "gossip"}, "contacts": {"org_kinds": ["pub"]}},
    )
    problem = _problem(client.post(URL, json=bad, headers=editor), 422)
    fields = _fields(problem)
    assert {"subject", "cta_url", "audience.subscribers.mailing", "audience.contacts.org_kinds"} <= set(fields)
    assert "pub" in fields["audience.contacts.org_kinds"]
    problem = _problem(
        client.post(URL, json=body(audience={"exclude": {"emails": ["not an address"]}}), headers=editor), 422
    )
    assert "audience" in _fields(problem)
    problem = _problem(
        client.post(URL, json=body(audience={"subscribers": {}, "exclude": {"emails": ["nope"]}}), headers=editor), 422
    )
    assert "audience.exclude.emails" in _fields(problem)
    assert db.scalar(select(func.count()).select_from(m.Campaign)) == 0  # nothing half-made
    wrong_type = client.post(URL, json=body(track_opens="often"), headers=editor)
    assert wrong_type.status_code in (400, 422) and wrong_type.headers["content-type"].startswith(PROBLEM)
    unknown = client.post(URL, json=body(colour="red"), headers=editor)
    assert unknown.status_code in (400, 422) and unknown.headers["content-type"].startswith(PROBLEM)


def test_patch_changes_what_is_given_and_keeps_the_rest(client, db):
    editor = key(db, m.Role.EDITOR)
    campaign_id = client.post(URL, json=body(), headers=editor).json()["id"]
    changed = client.patch(f"{URL}/{campaign_id}", json={"subject": "The MRC call: briefing moved"}, headers=editor)
    assert changed.status_code == 200, changed.text
    out = changed.json()
    assert out["subject"] == "The MRC call: briefing moved" and out["preheader"] == "Join our briefing on Thursday"
    assert out["audience"]["contacts"]["org_kinds"] == ["vcse"]
    out = client.patch(
        f"{URL}/{campaign_id}", json={"audience": {"contacts": {"region_ids": [1]}}}, headers=editor
    ).json()
    assert out["audience"]["subscribers"] is None and out["audience"]["contacts"]["region_ids"] == [1]
    assert out["subject"] == "The MRC call: briefing moved"
    problem = _problem(client.patch(f"{URL}/{campaign_id}", json={"cta_label": ""}, headers=editor), 422)
    assert "cta_url" in _fields(problem) or "cta_label" in _fields(problem)
    actions = db.scalars(select(m.AuditEntry.action).where(m.AuditEntry.entity == "campaign")).all()
    assert len(actions) >= 3  # created, the fields changed, the audience changed


@pytest.mark.parametrize("status", [m.CampaignStatus.SENDING, m.CampaignStatus.SENT, m.CampaignStatus.CANCELLED])
def test_a_campaign_that_started_sending_cannot_change(client, db, status):
    editor = key(db, m.Role.EDITOR)
    sent = campaign(db, 1, status=status)
    db.commit()
    problem = _problem(client.patch(f"{URL}/{sent.campaign.id}", json={"subject": "Oops"}, headers=editor), 409)
    assert "can no longer be changed" in problem["detail"]
    db.expire_all()
    assert db.get(m.Campaign, sent.campaign.id).subject == "The MRC call is out"


def test_list_is_paged_newest_first_and_filters_by_status(client, db):
    editor = key(db, m.Role.EDITOR)
    for i in range(3):
        client.post(URL, json=body(subject=f"Draft {i}"), headers=editor)
    campaign(db, 2, subject="Went out")
    db.commit()
    first = client.get(URL, params={"page_size": 2}, headers=editor).json()
    assert len(first["items"]) == 2 and first["next_cursor"] and first["prev_cursor"] is None
    second = client.get(URL, params={"page_size": 2, "cursor": first["next_cursor"]}, headers=editor).json()
    seen = [i["subject"] for i in first["items"] + second["items"]]
    assert sorted(seen) == ["Draft 0", "Draft 1", "Draft 2", "Went out"]
    sent = client.get(URL, params={"status": "sent"}, headers=editor).json()["items"]
    assert [(i["subject"], i["recipients"]) for i in sent] == [("Went out", 2)]


def test_who_may_call_what(client, db):
    sent = campaign(db, 1)
    db.commit()
    assert _problem(client.get(URL), 401)
    assert _problem(client.post(URL, json=body()), 401)
    viewer = key(db, m.Role.VIEWER)
    assert _problem(client.get(URL, headers=viewer), 403)
    editor = key(db, m.Role.EDITOR)
    assert _problem(client.post(f"{URL}/{sent.campaign.id}/send", headers=editor), 403)
    admin = key(db, m.Role.ADMIN)
    assert _problem(client.get(f"{URL}/999999", headers=admin), 404)
    assert _problem(client.patch(f"{URL}/999999", json={"subject": "x"}, headers=admin), 404)
    assert _problem(client.post(f"{URL}/999999/send", headers=admin), 404)


def _subscriber(db, email: str) -> None:
    db.add(
        m.Subscription(
            email=email,
            name="Ana",
            mailings=["news"],
            status=m.SubscriptionStatus.ACTIVE,
            confirmed_at=START,
            consent_version="v1",
        )
    )
    db.commit()


def test_an_admin_sends_once_and_the_second_press_is_a_conflict(client, db):
    admin = key(db, m.Role.ADMIN)
    _subscriber(db, "ana@example.org")
    campaign_id = client.post(URL, json=body(audience={"subscribers": {"mailing": "news"}}), headers=admin).json()["id"]
    sent = client.post(f"{URL}/{campaign_id}/send", headers=admin)
    assert sent.status_code == 202, sent.text
    out = sent.json()
    assert out["started"] is True and out["queued"] is True and out["recipients"] == 1
    assert out["campaign"]["status"] == "sent" and out["campaign"]["editable"] is False
    row = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.kind == "campaign"))
    assert row.recipient == "ana@example.org" and row.mailing == "news"
    problem = _problem(client.post(f"{URL}/{campaign_id}/send", headers=admin), 409)
    assert "sent" in problem["detail"]
    assert db.scalar(select(func.count()).select_from(m.OutboxMessage).where(m.OutboxMessage.kind == "campaign")) == 1
    got = client.get(f"{URL}/{campaign_id}", headers=admin).json()
    assert (got["figures"]["queued"], got["figures"]["waiting"]) == (1, 1)


def test_sending_to_nobody_is_a_422_and_nothing_changes(client, db):
    admin = key(db, m.Role.ADMIN)
    campaign_id = client.post(URL, json=body(audience={"subscribers": {"mailing": "news"}}), headers=admin).json()["id"]
    problem = _problem(client.post(f"{URL}/{campaign_id}/send", headers=admin), 422)
    assert "audience" in _fields(problem)
    db.expire_all()
    assert db.get(m.Campaign, campaign_id).status == m.CampaignStatus.DRAFT


@pytest.fixture(scope="module")
def reporting_app(app):
    application = create_app(
        app.state.settings.replace(
            mail_transport="sendgrid", sendgrid_api_key="SG.test", sendgrid_webhook_public_key="MFkwEwYHKoZIzj0CAQ=="
        )
    )
    yield application
    application.state.engine.dispose()


def test_one_campaign_carries_its_figures_when_delivery_is_reported(reporting_app, db):
    sent = campaign(db, 2)
    o0, o1 = sent.outbox
    url = "https://www.ukri.org/mrc"
    post_events(
        db,
        [
            event(o0, "delivered", START + dt.timedelta(hours=1)),
            event(o1, "delivered", START + dt.timedelta(hours=1)),
            event(o0, "open", START + dt.timedelta(hours=2)),
            event(o0, "open", START + dt.timedelta(days=1, hours=2)),
            event(o0, "click", START + dt.timedelta(hours=2), url=url),
        ],
    )
    headers = key(db, m.Role.EDITOR)
    with TestClient(reporting_app, base_url=BASE_URL) as client:
        f = client.get(f"{URL}/{sent.campaign.id}", headers=headers).json()["figures"]
    assert f["delivery_reported"] is True
    assert f["delivered"] == {"people": 2, "events": 2}
    assert f["opened"] == {"people": 1, "events": 2} and f["clicked"] == {"people": 1, "events": 1}
    assert f["bounced"] == {"people": 0, "events": 0}
    assert f["links"] == [{"url": url, "people": 1, "clicks": 1}]
    assert [(d["day"], d["delivered"], d["opened"], d["clicked"]) for d in f["days"][:2]] == [
        (1, 2, 1, 1),
        (2, 0, 1, 0),
    ]


def test_the_openapi_document_describes_the_campaign_routes(client):
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths[URL])
    assert {"get", "patch"} <= set(paths[URL + "/{campaign_id}"])
    send = paths[URL + "/{campaign_id}/send"]["post"]
    assert {"202", "403", "404", "409", "422"} <= set(send["responses"])


def test_hostile_values_are_refused_as_problems_never_a_500(client, db):
    editor = key(db, m.Role.EDITOR)
    campaign_id = client.post(URL, json=body(), headers=editor).json()["id"]
    for bad in (
        {"subject": "Nul\u0000here"},
        {"body": "x\u0000y"},
        {"audience": {"contacts": {"region_ids": [2**31]}}},
        {"audience": {"exclude": {"emails": ["a\u0000@example.org"]}}},
        {"audience": {"subscribers": {"mailing": "news\u0000"}}},
    ):
        for response in (
            client.patch(f"{URL}/{campaign_id}", json=bad, headers=editor),
            client.post(URL, json=body(**bad), headers=editor),
        ):
            assert response.status_code in (400, 422), (bad, response.status_code, response.text)
            assert response.headers["content-type"].startswith(PROBLEM)
    assert client.get(URL, params={"q": "a\u0000b"}, headers=editor).status_code in (200, 400)
