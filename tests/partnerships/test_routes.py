"""Partnership pages and API: forms with errors, board moves without JS, reasons, activity, filters, API auth."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.partnerships import rules
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.funding.helpers import make_call

DAY = dt.timedelta(days=1)


def now():
    return dt.datetime.now(dt.UTC)


def two_orgs(db):
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    charity = factories.organisation(db, "Aster Voices")
    db.commit()
    return uni, charity


def form(uni, charity, **overrides):
    data = {
        "title": "Peer support study",
        "stage": "exploring",
        "member_side_0": "academic",
        "member_org_0": str(uni.id),
        "member_role_0": "Lead",
        "member_side_1": "vcse",
        "member_org_1": str(charity.id),
        "member_role_1": "Co-lead",
        "vcse_brings": "Lived experience panel",
        "start_date": "2027-01-01",
        "end_date": "2027-12-31",
    }
    data.update(overrides)
    return data


def test_create_then_page_shows_members_and_history(admin_client, db):
    uni, charity = two_orgs(db)
    assert admin_client.get("/admin/partnerships/new").status_code == 200
    response = post_form(admin_client, "/admin/partnerships/new", form(uni, charity), follow_redirects=False)
    assert response.status_code == 303
    p = db.scalar(select(m.Partnership))
    page = admin_client.get(f"/admin/partnerships/{p.id}").text
    assert "University of Eastmoor" in page and "Aster Voices" in page and "Lived experience panel" in page
    assert "History" in page and "created" in page
    edit = admin_client.get(f"/admin/partnerships/{p.id}/edit").text
    assert 'value="Peer support study"' in edit


def test_form_errors_keep_values(admin_client, db):
    uni, charity = two_orgs(db)
    only_academic = form(uni, charity, member_org_1="", member_role_1="", end_date="2026-06-01")
    response = post_form(admin_client, "/admin/partnerships/new", only_academic)
    assert response.status_code == 422
    assert "Add at least one member on the VCSE side." in response.text
    assert "The end date must be on or after the start date." in response.text
    assert 'value="Peer support study"' in response.text
    assert db.scalar(select(m.Partnership.id)) is None


def test_board_move_and_reason_without_javascript(admin_client, db):
    uni, charity = two_orgs(db)
    post_form(admin_client, "/admin/partnerships/new", form(uni, charity, stage="active"))
    p = db.scalar(select(m.Partnership))
    board = admin_client.get("/admin/partnerships/board").text
    assert "Peer support study" in board and f'action="/admin/partnerships/{p.id}/stage"' in board
    moved = post_form(
        admin_client,
        f"/admin/partnerships/{p.id}/stage",
        {"stage": "completed", "back": "board"},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/admin/partnerships/board"
    refused = post_form(admin_client, f"/admin/partnerships/{p.id}/stage", {"stage": "idea"})
    assert refused.status_code == 422 and "Give a reason" in refused.text
    db.expire_all()
    assert db.get(m.Partnership, p.id).stage == m.PartnershipStage.COMPLETED
    post_form(admin_client, f"/admin/partnerships/{p.id}/stage", {"stage": "idea", "reason": "Follow-on bid"})
    db.expire_all()
    assert db.get(m.Partnership, p.id).stage == m.PartnershipStage.IDEA
    assert "Follow-on bid" in admin_client.get(f"/admin/partnerships/{p.id}").text


def test_activity_form_and_organisation_section(admin_client, db):
    uni, charity = two_orgs(db)
    post_form(admin_client, "/admin/partnerships/new", form(uni, charity))
    p = db.scalar(select(m.Partnership))
    bad = post_form(
        admin_client, f"/admin/partnerships/{p.id}/activities", {"kind": "meeting", "occurred_on": "", "summary": ""}
    )
    assert bad.status_code == 422 and "Date is required." in bad.text
    ok = post_form(
        admin_client,
        f"/admin/partnerships/{p.id}/activities",
        {
            "kind": "meeting",
            "occurred_on": now().date().isoformat(),
            "occurred_time": "09:30",
            "summary": "Met at the hub",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    db.expire_all()
    assert db.get(m.Partnership, p.id).last_activity_at is not None
    assert "recorded by fellow@example.org" in admin_client.get(f"/admin/partnerships/{p.id}").text
    from crm.partnerships.references import references
    from crm.partnerships.sections import admin_sections

    assert references(db, charity.id) == ["Partnership “Peer support study” has it as a member (vcse side)"]
    [section] = admin_sections(db, charity.id)
    assert section.context["partnerships"][0]["health"] == "active"
    assert section.context["activity"][0].summary == "Met at the hub"


def test_list_filters_fragment_and_statement_count(admin_client, db, count_queries):
    uni, charity = two_orgs(db)
    for i in range(5):
        post_form(admin_client, "/admin/partnerships/new", form(uni, charity, title=f"Study {i}"))
    page = admin_client.get("/admin/partnerships?stage=exploring").text
    assert "Study 0" in page and "Study 4" in page
    assert "Study 0" not in admin_client.get("/admin/partnerships?stage=active").text
    assert "Study 0" not in admin_client.get("/admin/partnerships?health=dormant").text
    # Session lookup + one page statement + its capped count + one members statement, whatever the page size.
    for size in (2, 50):
        with count_queries() as q:
            response = admin_client.get(f"/admin/partnerships?page_size={size}", headers={"HX-Request": "true"})
        assert response.status_code == 200 and "<html" not in response.text
        assert q.count == 4


def test_start_partnership_from_a_suggestion(admin_client, db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    charity = factories.organisation(db, "Aster Voices", region_name="London", topics=["Psychosis"])
    call = make_call(
        db,
        funder,
        now=now(),
        deadlines=[("Full", now() + 30 * DAY)],
        topics=["Psychosis"],
        regions=["London"],
        requires_vcse_partner=True,
    )
    db.commit()
    page = admin_client.get(f"/admin/funding-calls/{call.id}/matches").text
    assert "Aster Voices" in page and "Works on Psychosis" in page
    started = post_form(
        admin_client, f"/admin/funding-calls/{call.id}/matches/{charity.id}/start", follow_redirects=False
    )
    assert started.status_code == 303
    p = db.scalar(select(m.Partnership))
    assert p.funding_call_id == call.id and p.stage == m.PartnershipStage.IDEA
    member = db.scalar(select(m.PartnershipMember))
    assert member.organisation_id == charity.id and member.side == m.Side.VCSE
    detail = admin_client.get(started.headers["location"]).text
    assert "no academic side yet" in detail
    assert "Already in a partnership for this call" in admin_client.get(f"/admin/funding-calls/{call.id}/matches").text


def test_api_private_and_per_field_errors(client, db, settings):
    uni, charity = two_orgs(db)
    _, editor_key = create_api_key(db, "editor", m.Role.EDITOR, organisation_id=charity.id)
    _, viewer_key = create_api_key(db, "viewer", m.Role.VIEWER)
    db.commit()
    assert client.get("/api/v1/partnerships").status_code == 401
    assert client.get("/api/v1/partnerships", headers={"Authorization": f"Bearer {viewer_key}"}).status_code == 403
    auth = {"Authorization": f"Bearer {editor_key}"}
    body = {
        "title": "API partnership",
        "members": [{"side": "academic", "organisation_id": uni.id}, {"side": "vcse", "organisation_id": charity.id}],
        "topics": ["carers"],
        "stage": "active",
    }
    created = client.post("/api/v1/partnerships", json=body, headers=auth)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert created.json()["health"] == "active" and created.json()["topics"] == ["carers"]
    bad = client.post(
        "/api/v1/partnerships",
        json={**body, "members": body["members"][:1], "start_date": "2027-02-01", "end_date": "2027-01-01"},
        headers=auth,
    )
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"members", "end_date"}
    needs_reason = client.patch(f"/api/v1/partnerships/{pid}", json={"stage": "idea"}, headers=auth)
    assert needs_reason.status_code == 422 and needs_reason.json()["errors"][0]["field"] == "stage_reason"
    moved = client.patch(
        f"/api/v1/partnerships/{pid}", json={"stage": "idea", "stage_reason": "Restarting"}, headers=auth
    )
    assert moved.status_code == 200 and moved.json()["stage"] == "idea"
    activity = client.post(
        f"/api/v1/partnerships/{pid}/activities",
        json={"kind": "call", "occurred_at": (now() - DAY).isoformat(), "summary": "Phone call"},
        headers=auth,
    )
    assert activity.status_code == 201 and activity.json()["recorded_by"] == "api-key:editor"
    log = client.get(f"/api/v1/partnerships/{pid}/activities", headers=auth).json()
    assert [a["summary"] for a in log] == ["Phone call"]
    page = client.get("/api/v1/partnerships?page_size=1", headers=auth).json()
    assert page["items"][0]["id"] == pid and page["next_cursor"] is None
    wrong = client.post(f"/api/v1/partnerships/{pid}/activities", json={"kind": "call", "occurred_at": 5}, headers=auth)
    assert wrong.status_code == 422


def test_viewer_cannot_open_admin_pages(client, db, settings):
    sign_in_as(client, db, settings, "viewer@example.org", m.Role.VIEWER)
    assert client.get("/admin/partnerships").status_code == 403
    assert rules.STAGE_LABELS


def test_new_form_prefilled_from_an_organisation_page(admin_client, db):
    _uni, charity = two_orgs(db)
    page = admin_client.get(f"/admin/partnerships/new?organisation={charity.id}").text
    assert f'<option value="{charity.id}" selected>' in page
    assert admin_client.get("/admin/partnerships/new?organisation=abc").status_code == 200
