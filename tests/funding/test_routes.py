"""Funding pages and API: public list (filters, htmx, statement count), call page, .ics, admin forms, import, API."""

from __future__ import annotations

import datetime as dt

import icalendar
from sqlalchemy import select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.funding import queries
from crm.funding import services as fs
from tests import factories
from tests.conftest import post_form
from tests.funding.helpers import make_call

DAY = dt.timedelta(days=1)


def now():
    return dt.datetime.now(dt.UTC)


def setup_calls(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    other = factories.organisation(db, "Hillcrest Foundation", m.OrgKind.FUNDER)
    soon = make_call(
        db,
        funder,
        "Soon closing awards",
        now=now(),
        deadlines=[("Full", now() + 5 * DAY)],
        topics=["Psychosis"],
        regions=["London"],
        requires_vcse_partner=True,
        amount_min=10_000,
        amount_max=50_000,
    )
    later = make_call(
        db,
        other,
        "Later research fund",
        now=now(),
        deadlines=[("Outline", now() + 40 * DAY), ("Full", now() + 80 * DAY)],
        topics=["Carers"],
        regions=["UK-wide"],
        amount_max=500_000,
    )
    draft = make_call(db, funder, "Secret draft", now=now(), status=m.CallStatus.DRAFT)
    closed = make_call(db, funder, "Old closed call", now=now(), deadlines=[("Full", now() + DAY)])
    closed.status = m.CallStatus.CLOSED
    db.commit()
    return funder, soon, later, draft, closed


def test_public_list_filters_sorting_and_fragment(client, db, count_queries):
    _, _soon, _later, _draft, _closed = setup_calls(db)
    page = client.get("/funding-calls")
    assert page.status_code == 200
    html = page.text
    assert html.index("Soon closing awards") < html.index("Later research fund")
    assert "Secret draft" not in html and "Old closed call" not in html
    assert "5 days left" in html or "4 days left" in html
    assert "Later research fund" not in client.get("/funding-calls?vcse=1").text
    assert "Soon closing awards" not in client.get("/funding-calls?topic=carers").text
    assert "Later research fund" in client.get("/funding-calls?region=wales").text  # UK-wide counts
    assert "Soon closing awards" not in client.get("/funding-calls?region=wales").text
    assert "Later research fund" not in client.get("/funding-calls?weeks=2").text
    assert "Soon closing awards" not in client.get("/funding-calls?min_amount=100000").text
    assert "Soon closing awards" in client.get("/funding-calls?q=closing%20awards").text
    fragment = client.get("/funding-calls?page_size=1", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "Soon closing awards" in fragment.text and 'rel="next"' in fragment.text
    assert "2 open funding calls" in fragment.text  # the count covers every page, not this one
    with count_queries() as q:
        client.get("/funding-calls?page_size=50", headers={"HX-Request": "true"})
    assert q.count == 1  # the page: its capped result count kept from page_size=1 (crm.httpcache.kept)


def test_call_page_countdown_closed_and_draft(client, db):
    _, soon, _, draft, closed = setup_calls(db)
    page = client.get(f"/funding-calls/{soon.slug}").text
    assert "days left" in page and "Add the deadline to my calendar" in page and "<script>" not in page
    closed_page = client.get(f"/funding-calls/{closed.slug}")
    assert closed_page.status_code == 200 and "Closed" in closed_page.text
    assert "Add the deadline" not in closed_page.text
    assert client.get(f"/funding-calls/{draft.slug}").status_code == 404
    assert client.get("/funding-calls/no-such-call").status_code == 404


def test_deadline_ics_download(client, db):
    _, _, later, _, _ = setup_calls(db)
    response = client.get(f"/funding-calls/{later.slug}/deadline.ics")
    assert response.status_code == 200 and response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.endswith(b"END:VCALENDAR\r\n") and b"\r\nDTSTAMP:" in raw and b"PRODID:-//Roundtable CRM" in raw
    cal = icalendar.Calendar.from_ical(raw)
    events = cal.walk("VEVENT")
    assert len(events) == 2 and all("DTSTAMP" in e and "UID" in e for e in events)
    again = icalendar.Calendar.from_ical(client.get(f"/funding-calls/{later.slug}/deadline.ics").content)
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == [str(e["UID"]) for e in events]  # stable
    # Editing the call rewrites its deadline rows; the calendar entries keep their UIDs.
    data = fs.CallInput(
        title="Later research fund (renamed)",
        funder_id=later.funder_id,
        deadlines=[fs.DeadlineInput(d.label, d.due_at) for d in queries.load_call(db, call_id=later.id).deadlines],
    )
    fs.update_call(db, None, later, data, now=now())
    db.commit()
    edited = icalendar.Calendar.from_ical(client.get(f"/funding-calls/{later.slug}/deadline.ics").content)
    assert [str(e["UID"]) for e in edited.walk("VEVENT")] == [str(e["UID"]) for e in events]
    assert "renamed" in str(edited.walk("VEVENT")[0]["SUMMARY"])


def _form(db, funder, **overrides):
    due = (now() + 30 * DAY).astimezone(dt.timezone(dt.timedelta(0))).strftime("%Y-%m-%dT%H:%M")
    data = {
        "title": "Peer research awards",
        "funder_id": str(funder.id),
        "deadline_label_0": "Full application",
        "deadline_at_0": due,
        "amount_min": "1000",
        "amount_max": "5000",
        "topic_ids": [str(factories.topic(db, "Carers").id)],
        "region_ids": [str(factories.region(db, "Wales").id)],
        "requires_vcse_partner": "1",
        "intent": "publish",
    }
    data.update(overrides)
    return data


def test_admin_create_edit_and_history(admin_client, db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    assert admin_client.get("/admin/funding-calls/new").status_code == 200
    response = post_form(admin_client, "/admin/funding-calls/new", _form(db, funder), follow_redirects=False)
    assert response.status_code == 303
    call = db.scalar(select(m.FundingCall))
    assert call.status == m.CallStatus.PUBLISHED and call.requires_vcse_partner
    detail = admin_client.get(f"/admin/funding-calls/{call.id}").text
    assert "History" in detail and "created" in detail and "Suggested VCSE partners" in detail
    edit = admin_client.get(f"/admin/funding-calls/{call.id}/edit").text
    assert 'value="Peer research awards"' in edit
    response = post_form(
        admin_client,
        f"/admin/funding-calls/{call.id}/edit",
        _form(db, funder, title="Renamed awards"),
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Renamed awards" in admin_client.get(f"/admin/funding-calls/{call.id}").text
    post_form(admin_client, f"/admin/funding-calls/{call.id}/status", {"status": "closed"})
    db.expire_all()
    assert db.get(m.FundingCall, call.id).status == m.CallStatus.CLOSED


def test_admin_form_errors_rerender_with_values(admin_client, db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    past = (now() - DAY).strftime("%Y-%m-%dT%H:%M")
    response = post_form(
        admin_client, "/admin/funding-calls/new", _form(db, funder, deadline_at_0=past, amount_min="9000")
    )
    assert response.status_code == 422
    assert "cannot have a deadline in the past" in response.text
    assert "maximum amount must be at least the minimum" in response.text
    assert 'value="Peer research awards"' in response.text and 'value="9000"' in response.text
    assert db.scalar(select(m.FundingCall.id)) is None


def test_admin_pages_need_an_admin(client, db, settings):
    from tests.conftest import sign_in_as

    assert client.get("/admin/funding-calls", follow_redirects=False).status_code == 303  # to sign-in
    sign_in_as(client, db, settings, "viewer@example.org", m.Role.VIEWER)
    assert client.get("/admin/funding-calls/new").status_code == 403


def test_delete_refused_while_a_partnership_refers_to_it(admin_client, db):
    from crm.partnerships import changes, rules

    funder, soon, *_ = setup_calls(db)
    charity = factories.organisation(db, "Aster Voices")
    changes.create_partnership(
        db,
        None,
        rules.PartnershipInput("Link", funding_call_id=soon.id, members=[rules.MemberInput(m.Side.VCSE, charity.id)]),
        now=now(),
        require_both_sides=False,
    )
    db.commit()
    response = post_form(admin_client, f"/admin/funding-calls/{soon.id}/delete")
    assert response.status_code == 409 and "Partnership: Link" in response.text
    from crm.funding.references import references

    assert references(db, funder.id)[0].startswith("Funding call")


CSV = """external_ref,title,funder,deadlines,amount_min,amount_max,topics,regions,requires_vcse_partner,status
NT-1,Community awards,Northfield Trust,Outline=2099-01-31 17:00; Full=2099-03-01,1000,5000,Carers;psychosis,UK-wide,yes,published
,Second call,northfield-trust-x,2099-02-01,,,,,no,
NT-3,Bad call,Nobody Fund,2099-02-01,9000,100,Unknown topic,,maybe,
"""


def test_import_preview_then_confirm(admin_client, db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    preview = admin_client.post(
        "/admin/funding-calls/import",
        files={"file": ("calls.csv", CSV.encode(), "text/csv")},
        data={"_csrf_token": admin_client.cookies.get("crm_csrf") or _csrf(admin_client)},
    )
    assert preview.status_code == 200, preview.text
    assert "1 new" in preview.text or "new" in preview.text
    assert (
        "funder: no organisation called" in preview.text and "requires_vcse_partner: must be yes or no" in preview.text
    )
    assert db.scalar(select(m.FundingCall.id)) is None  # nothing written by the preview
    csv_good = CSV.splitlines()[0] + "\n" + CSV.splitlines()[1] + "\n"
    refused = post_form(admin_client, "/admin/funding-calls/import/confirm", {"csv_text": CSV})
    assert refused.status_code == 422 and db.scalar(select(m.FundingCall.id)) is None
    done = post_form(admin_client, "/admin/funding-calls/import/confirm", {"csv_text": csv_good})
    assert done.status_code == 200 and "Imported: 1 new" in done.text
    call = db.scalar(select(m.FundingCall))
    assert call.external_ref == "NT-1" and call.status == m.CallStatus.PUBLISHED and call.funder_id == funder.id
    renamed = {"csv_text": csv_good.replace("Community awards", "Community awards 2")}
    kept = post_form(admin_client, "/admin/funding-calls/import/confirm", renamed)
    assert "0 updated, 1 unchanged" in kept.text  # a title is only replaced when chosen
    assert db.scalar(select(m.FundingCall.title).execution_options(populate_existing=True)) == "Community awards"
    again = post_form(admin_client, "/admin/funding-calls/import/confirm", {**renamed, "replace": "title"})
    assert "1 updated" in again.text
    assert db.scalar(select(m.FundingCall.title).execution_options(populate_existing=True)) == "Community awards 2"


def _csrf(client):
    client.get("/sign-in")
    return client.cookies.get("crm_csrf")


def test_api_public_reads_and_admin_writes(client, db):
    funder, _soon, _later, draft, _ = setup_calls(db)
    _, admin_key = create_api_key(db, "integration", m.Role.ADMIN)
    _, viewer_key = create_api_key(db, "viewer", m.Role.VIEWER)
    db.commit()
    listing = client.get("/api/v1/funding-calls?page_size=1").json()
    assert [i["title"] for i in listing["items"]] == ["Soon closing awards"] and listing["next_cursor"]
    second = client.get(f"/api/v1/funding-calls?page_size=1&cursor={listing['next_cursor']}").json()
    assert [i["title"] for i in second["items"]] == ["Later research fund"]
    assert client.get(f"/api/v1/funding-calls/{draft.id}").status_code == 404
    body = {
        "title": "API call",
        "funder_id": funder.id,
        "deadlines": [{"label": "Full", "due_at": (now() + 20 * DAY).isoformat()}],
        "topics": ["carers"],
        "status": "published",
    }
    assert client.post("/api/v1/funding-calls", json=body).status_code == 401
    forbidden = client.post("/api/v1/funding-calls", json=body, headers={"Authorization": f"Bearer {viewer_key}"})
    assert forbidden.status_code == 403
    auth = {"Authorization": f"Bearer {admin_key}"}
    created = client.post("/api/v1/funding-calls", json=body, headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["topics"] == ["carers"] and created.json()["status"] == "published"
    bad = client.post(
        "/api/v1/funding-calls",
        json={
            **body,
            "amount_min": 10,
            "amount_max": 1,
            "deadlines": [{"label": "x", "due_at": (now() - DAY).isoformat()}],
        },
        headers=auth,
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"amount_max", "deadlines"} <= fields
    wrong_type = client.post("/api/v1/funding-calls", json={**body, "funder_id": "abc"}, headers=auth)
    assert wrong_type.status_code == 422 and wrong_type.headers["content-type"].startswith("application/problem+json")
    patched = client.patch(f"/api/v1/funding-calls/{created.json()['id']}", json={"amount_max": 9000}, headers=auth)
    assert patched.status_code == 200 and patched.json()["amount_max"] == 9000
    assert client.get(f"/api/v1/funding-calls/{draft.id}", headers=auth).status_code == 200
    assert client.delete(f"/api/v1/funding-calls/{created.json()['id']}", headers=auth).status_code == 204


def test_funder_menu_lists_funders_with_calls_and_other_callers_are_found_by_search(client, db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    factories.organisation(db, "Idle Foundation", m.OrgKind.FUNDER)  # no calls: not in the menu
    university = factories.organisation(db, "Eastgate University", m.OrgKind.ACADEMIC)
    due = [("Full", now() + 20 * DAY)]
    make_call(db, funder, "Trust awards", now=now(), deadlines=due)
    make_call(db, university, "University seed fund", now=now(), deadlines=due)
    db.commit()
    page = client.get("/funding-calls").text
    menu = page[page.index('name="funder"') : page.index("</select>", page.index('name="funder"'))]
    assert "Northfield Trust" in menu and "Idle Foundation" not in menu and "Eastgate University" not in menu
    assert "University seed fund" in client.get("/funding-calls?q=eastgate").text
    assert "Trust awards" not in client.get("/funding-calls?q=eastgate").text
