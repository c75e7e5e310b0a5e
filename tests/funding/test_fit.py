"""Whom a funding call suits (issue 19): the fields through the form, API, CSV import and pages; the one rule
"suits small user-led groups" on the list, the API, the digest and the partner ranking. Both databases."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import insert, select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.funding import fit, importer
from crm.funding import schemas as sc
from crm.funding.matching import CallFacts, Candidate, rank, suggest_partners
from crm.mailing import compliance
from tests import factories
from tests.conftest import post_form
from tests.funding.helpers import make_call

DAY = dt.timedelta(days=1)
SUITS = {
    "funding_type": "small-grant",
    "application_effort": "light",
    "open_to_unregistered": True,
    "open_to_user_led": None,
}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _calls(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    deadline = [("Full", now() + 20 * DAY)]
    small = make_call(db, funder, "Small grants for peer groups", now=now(), deadlines=deadline, **SUITS)
    core = make_call(
        db,
        funder,
        "Core costs for user-led groups",
        now=now(),
        deadlines=deadline,
        funding_type="core",
        application_effort="light",
        open_to_user_led=True,
    )
    heavy = make_call(
        db,
        funder,
        "Large programme grants",
        now=now(),
        deadlines=deadline,
        funding_type="small-grant",
        application_effort="heavy",
        open_to_unregistered=True,
    )
    silent = make_call(db, funder, "A call that says nothing", now=now(), deadlines=deadline)
    db.commit()
    return funder, small, core, heavy, silent


def test_the_rule_in_python_and_in_sql_agree_on_every_combination(db):
    funder = factories.organisation(db, "Invented Fund", m.OrgKind.FUNDER)
    types = [None, *(t.value for t in m.FundingType)]
    efforts = [None, *(e.value for e in m.ApplicationEffort)]
    answers = [None, True, False]
    rows = []
    for n, (t, e, unregistered, user_led) in enumerate(itertools.product(types, efforts, answers, answers)):
        rows.append(
            {
                "title": f"c{n}",
                "title_normalised": f"c{n}",
                "slug": f"c-{n}",
                "funder_id": funder.id,
                "funding_type": t,
                "application_effort": e,
                "open_to_unregistered": unregistered,
                "open_to_user_led": user_led,
                "status": m.CallStatus.DRAFT,
            }
        )
    db.execute(insert(m.FundingCall), rows)
    by_sql = set(db.scalars(select(m.FundingCall.slug).where(fit.suits_condition())))
    by_python = {
        r["slug"]
        for r in rows
        if fit.suits_small_user_led(
            r["funding_type"], r["application_effort"], r["open_to_unregistered"], r["open_to_user_led"]
        )
    }
    assert by_sql == by_python and len(by_python) == 2 * 1 * 5  # core/small × light × (either answer yes)


def test_api_literals_match_the_model_enums():
    assert set(sc.FundingType.__args__) == {t.value for t in m.FundingType}
    assert set(sc.ApplicationEffort.__args__) == {e.value for e in m.ApplicationEffort}


def test_admin_form_stores_shows_and_refuses_bad_choices(admin_client, db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    due = (now() + 30 * DAY).strftime("%Y-%m-%dT%H:%M")
    form = {
        "title": "Peer group small grants",
        "funder_id": str(funder.id),
        "deadline_label_0": "Full application",
        "deadline_at_0": due,
        "funding_type": "small-grant",
        "application_effort": "light",
        "open_to_unregistered": "yes",
        "open_to_user_led": "",
        "match_funding_required": "no",
        "lived_experience_payment": "yes",
        "intent": "publish",
    }
    blank = admin_client.get("/admin/funding-calls/new").text
    assert "Whom the call suits" in blank and '<option value="">Not stated</option>' in blank
    bad = post_form(admin_client, "/admin/funding-calls/new", {**form, "funding_type": "loan", "open_to_user_led": "?"})
    assert bad.status_code == 422
    assert "Choose a valid type of funding" in bad.text and "Choose a valid open to user-led groups" in bad.text
    assert db.scalar(select(m.FundingCall.id)) is None
    done = post_form(admin_client, "/admin/funding-calls/new", form, follow_redirects=False)
    assert done.status_code == 303
    call = db.scalar(select(m.FundingCall))
    assert call.funding_type == m.FundingType.SMALL_GRANT and call.application_effort == m.ApplicationEffort.LIGHT
    assert (call.open_to_unregistered, call.open_to_user_led, call.match_funding_required) == (True, None, False)
    assert call.lived_experience_payment is True
    detail = admin_client.get(f"/admin/funding-calls/{call.id}").text
    assert "Small grant" in detail and "Open to user-led groups</dt><dd>Not stated" in detail
    assert "Suits small user-led groups</dt><dd>Yes" in detail
    assert "Type of funding: set to Small grant" in detail  # history in words
    edit = admin_client.get(f"/admin/funding-calls/{call.id}/edit").text
    assert '<option value="small-grant" selected>' in edit and '<option value="no" selected>' in edit
    # Back to "not stated": the answer is cleared, and the history says so.
    post_form(admin_client, f"/admin/funding-calls/{call.id}/edit", {**form, "open_to_unregistered": ""})
    db.expire_all()
    assert db.get(m.FundingCall, call.id).open_to_unregistered is None
    assert "Open to unregistered groups: cleared (was yes)" in admin_client.get(f"/admin/funding-calls/{call.id}").text


def test_public_pages_say_not_stated_and_the_filter_keeps_suitable_calls(client, db, count_queries):
    _, small, core, heavy, silent = _calls(db)
    page = client.get(f"/funding-calls/{silent.slug}").text
    assert "Who this call suits" in page and page.count("Not stated") >= 6
    assert "Suits small user-led groups" not in page.split("Who this call suits")[1].split("</dl>")[0]
    suited = client.get(f"/funding-calls/{small.slug}").text
    assert "This call is core funding or a small grant" in suited and "Small grant" in suited
    everything = client.get("/funding-calls").text
    assert all(c.title in everything for c in (small, core, heavy, silent))
    assert 'name="suits"' in everything and "Suits small user-led groups" in everything
    filtered = client.get("/funding-calls?suits=1").text
    assert small.title in filtered and core.title in filtered
    assert heavy.title not in filtered and silent.title not in filtered
    with count_queries() as q:
        client.get("/funding-calls?suits=1", headers={"HX-Request": "true"})
    assert q.count == 1  # the page, as without the filter: its count kept from the request before (crm.httpcache.kept)


def test_api_reads_filters_and_writes_the_fields(client, db):
    funder, small, core, _heavy, silent = _calls(db)
    _, key = create_api_key(db, "integration", m.Role.ADMIN)
    db.commit()
    auth = {"Authorization": f"Bearer {key}"}
    items = client.get("/api/v1/funding-calls?suits=1").json()["items"]
    assert {i["title"] for i in items} == {small.title, core.title}
    assert all(i["suits_small_user_led"] for i in items) and items[0]["funding_type"] in {"core", "small-grant"}
    one = client.get(f"/api/v1/funding-calls/{silent.id}").json()
    assert one["funding_type"] is None and one["open_to_unregistered"] is None and not one["suits_small_user_led"]
    body = {
        "title": "API core grants",
        "funder_id": funder.id,
        "deadlines": [{"label": "Full", "due_at": (now() + 20 * DAY).isoformat()}],
        "funding_type": "core",
        "application_effort": "light",
        "open_to_user_led": True,
        "match_funding_required": False,
        "status": "published",
    }
    created = client.post("/api/v1/funding-calls", json=body, headers=auth)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["funding_type"] == "core" and out["suits_small_user_led"] is True
    assert out["match_funding_required"] is False and out["lived_experience_payment"] is None
    bad = client.post("/api/v1/funding-calls", json={**body, "funding_type": "loan"}, headers=auth)
    assert bad.status_code == 422 and "funding_type" in bad.text
    assert bad.headers["content-type"].startswith("application/problem+json")
    cleared = client.patch(
        f"/api/v1/funding-calls/{out['id']}", json={"open_to_user_led": None, "funding_type": None}, headers=auth
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["open_to_user_led"] is None and cleared.json()["suits_small_user_led"] is False
    assert cleared.json()["application_effort"] == "light"  # a PATCH leaves other fields as they were


def test_csv_import_reads_the_columns_reports_bad_cells_and_never_clears(db):
    factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    header = "external_ref,title,funder,deadlines," + ",".join(fit.FIT_FIELDS)
    text = (
        f"{header}\n"
        "NT-1,Peer group grants,Northfield Trust,2099-01-31,Small grant,Light,yes,not stated,no,yes\n"
        "NT-2,Bad values,Northfield Trust,2099-01-31,loan,quick,perhaps,yes,,\n"
    )
    preview = importer.run_import(db, text, apply=False, now=now())
    bad = next(r for r in preview.rows if r.row == 3)
    columns = {c for c, _ in bad.errors}
    assert columns == {"funding_type", "application_effort", "open_to_unregistered"}
    assert any("“loan” is not a choice" in reason for _, reason in bad.errors)
    good_only = text.rsplit("NT-2", 1)[0]
    done = importer.run_import(db, good_only, apply=True, now=now())
    assert done.new == 1, done.rows
    call = db.scalar(select(m.FundingCall))
    assert call.funding_type == m.FundingType.SMALL_GRANT and call.application_effort == m.ApplicationEffort.LIGHT
    assert (call.open_to_unregistered, call.open_to_user_led, call.match_funding_required) == (True, None, False)
    # A blank cell on a matched call leaves the answer; a filled one fills an unstated answer.
    again = f"{header}\nNT-1,Peer group grants,Northfield Trust,2099-01-31,,,,yes,,\n"
    report = importer.run_import(db, again, apply=True, now=now())
    assert report.updates == 1
    db.expire_all()
    call = db.scalar(select(m.FundingCall))
    assert call.open_to_user_led is True and call.open_to_unregistered is True and call.funding_type is not None
    template = importer.template_csv().splitlines()[0].split(",")
    assert all(name in template for name in fit.FIT_FIELDS)


def test_import_template_download_has_the_columns(admin_client):
    body = admin_client.get("/admin/funding-calls/import/template.csv").text
    assert "funding_type,application_effort,open_to_unregistered" in body


# --- partner suggestions -----------------------------------------------------------------------------------------


def _cand(id_: int, name: str, *, user_led: bool = False, lived: bool = False) -> Candidate:
    return Candidate(
        id=id_,
        name=name,
        slug=name.lower(),
        region_id=None,
        region_name="",
        category=None,
        user_led=user_led,
        lived_experience_led=lived,
        topic_ids=frozenset({1}),
    )


def test_user_led_groups_rank_higher_on_suitable_calls_with_the_reason():
    facts = dict(id=1, topic_ids=frozenset({1}), region_ids=frozenset(), uk_wide_region_id=None, vcse_can_lead=False)
    people = [_cand(1, "Aster lived-experience charity", lived=True), _cand(2, "Birch user-led group", user_led=True)]
    plain = rank(CallFacts(**facts), people, {1: "Peer support"})
    assert [s.name for s in plain] == ["Aster lived-experience charity", "Birch user-led group"]
    assert "User-led" in plain[1].reasons
    suited = rank(CallFacts(**facts, suits_small_user_led=True), people, {1: "Peer support"})
    assert [s.name for s in suited] == ["Birch user-led group", "Aster lived-experience charity"]
    assert suited[0].score == plain[1].score + 3
    assert any(
        r.startswith("User-led, and this call suits small user-led groups (core funding") for r in suited[0].reasons
    )


def test_suggestions_page_and_api_show_the_reason(admin_client, db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    call = make_call(db, funder, "Core costs", now=now(), topics=["Peer support"], **{**SUITS, "funding_type": "core"})
    factories.organisation(db, "Aster charity", topics=["Peer support"], lived_experience_led=True)
    birch = factories.organisation(db, "Birch group", topics=["Peer support"], user_led=True)
    db.commit()
    assert suggest_partners(db, call)[0].id == birch.id
    page = admin_client.get(f"/admin/funding-calls/{call.id}/matches").text
    assert "so user-led groups are ranked higher" in page
    assert page.index("Birch group") < page.index("Aster charity")
    assert "User-led, and this call suits small user-led groups" in page
    assert "Suggested VCSE partners" in admin_client.get(f"/admin/funding-calls/{call.id}").text


# --- the digest ------------------------------------------------------------------------------------------------


def test_preference_centre_stores_and_clears_the_choice(app, client, db, settings):
    sub = m.Subscription(
        email="group@example.org",
        name="Peer group",
        mailings=["funding_digest"],
        funder_ids=[],
        filters={},
        status=m.SubscriptionStatus.ACTIVE,
    )
    db.add(sub)
    db.commit()
    token = compliance.preferences_url(app.state.signer, settings, sub.email).rsplit("/", 1)[-1]
    page = client.get(f"/preferences/{token}").text
    assert 'name="suits_small_user_led"' in page and "Only calls that suit small user-led groups" in page
    unchanged = post_form(client, f"/preferences/{token}", {"mailings": ["funding_digest"], "frequency": "weekly"})
    assert "Nothing changed." in unchanged.text
    saved = post_form(
        client,
        f"/preferences/{token}",
        {"mailings": ["funding_digest"], "frequency": "weekly", "suits_small_user_led": "on"},
    )
    assert (
        "Your choices are saved." in saved.text
        and 'id="f-suits_small_user_led" name="suits_small_user_led" value="on" checked' in saved.text
    )
    db.expire_all()
    assert db.get(m.Subscription, sub.id).filters == {"funding_digest": {"suits_small_user_led": True}}
    cleared = post_form(client, f"/preferences/{token}", {"mailings": ["funding_digest"], "frequency": "weekly"})
    assert "Your choices are saved." in cleared.text
    db.expire_all()
    assert db.get(m.Subscription, sub.id).filters == {"funding_digest": {}}


def test_the_fellow_sees_the_choice_on_the_subscriber_page(admin_client, db):
    sub = m.Subscription(
        email="picky@example.org",
        mailings=["funding_digest"],
        funder_ids=[],
        filters={"funding_digest": {"suits_small_user_led": True}},
        status=m.SubscriptionStatus.ACTIVE,
    )
    db.add(sub)
    db.commit()
    page = admin_client.get(f"/admin/subscribers/{sub.id}").text
    assert "Only calls that suit small user-led groups</dt><dd>Yes" in page


def test_admin_list_filters_suitable_calls_too(admin_client, db):
    _, small, _core, heavy, _silent = _calls(db)
    page = admin_client.get("/admin/funding-calls?suits=1").text
    assert 'name="suits"' in page and small.title in page and heavy.title not in page
