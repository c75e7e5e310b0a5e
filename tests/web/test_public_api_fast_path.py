"""The cheap path of anonymous GETs for the directory, funding-call and event API lists (crm.web.httpcache
ANONYMOUS_JSON, issue 21.1): anonymous visitors are answered by the route's own function, before CSRF, dependencies
and the handler, with the bytes and headers the handler gives API keys and signed-in people, through every filter,
sort, search and page; the directory's items are the ones its handler built from ORM objects."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm import models as m
from crm.accounts.services import create_api_key
from crm.api.responses import encode_json
from crm.directory import api as directory_api
from crm.directory import schemas
from crm.events import api as events_api
from crm.funding import api as funding_api
from crm.funding import views as funding_views
from tests import factories
from tests.conftest import sign_in_as
from tests.events import factories as event_factories
from tests.funding.helpers import make_call

NO_STORE = {"Cache-Control": "no-cache"}  # past the stored answers: the cheap path runs every time
LABELS = ("etag", "cache-control", "vary")

ORGS = "/api/v1/organisations"
ORG_URLS = (
    f"{ORGS}?page_size=2&sort=name",
    f"{ORGS}?sort=-name",
    f"{ORGS}?sort=newest&page_size=3",
    f"{ORGS}?kind=academic",
    f"{ORGS}?topic=carers",
    f"{ORGS}?region=london&sort=name",
    f"{ORGS}?user_led=1",
    f"{ORGS}?q=peer",
    f"{ORGS}?q=peer&page_size=1",
    f"{ORGS}?kind=funder",  # nothing matches
)
CALLS = "/api/v1/funding-calls"
CALL_URLS = (
    f"{CALLS}?page_size=1",
    f"{CALLS}?topic=carers",
    f"{CALLS}?region=wales",  # UK-wide calls count
    f"{CALLS}?funder=fast-path-trust",
    f"{CALLS}?vcse=1",
    f"{CALLS}?suits=1",
    f"{CALLS}?sort=-amount&page_size=2",
    f"{CALLS}?min_amount=100000",
    f"{CALLS}?weeks=2",
    f"{CALLS}?q=awards",
)
EVENTS = "/api/v1/events"
EVENT_URLS = (f"{EVENTS}?page_size=2", f"{EVENTS}?sort=latest", f"{EVENTS}?q=river", f"{EVENTS}?q=nothing")


@pytest.fixture
def directory(db: Any) -> None:
    factories.organisation(
        db,
        "Alder Peer Network",
        region_name="London",
        topics=("Carers", "Psychosis", "Peer support"),
        public_email="hello@alder.example.org",
        postcode="N1 1AA",
        charity_number="1234567",
        website="https://alder.example.org",
        description="Peer support for carers.",
        user_led=True,
    )
    factories.organisation(db, "Birch Research Unit", m.OrgKind.ACADEMIC, topics=("Carers",), company_number="0987")
    factories.organisation(db, "Cedar Peer Voices", region_name="Wales", vcse_category=m.VcseCategory.FREE_STANDING)
    factories.organisation(db, "Damson Lived Experience Group", region_name="London", lived_experience_led=True)
    factories.organisation(db, "Elder Peer Circle", topics=("Trauma",))
    factories.organisation(db, "Hidden Peer Group", visibility=m.Visibility.PRIVATE)
    db.commit()


@pytest.fixture
def calls(db: Any) -> None:
    now = funding_views.now()
    day = dt.timedelta(days=1)
    trust = factories.organisation(db, "Fast Path Trust", m.OrgKind.FUNDER)
    trust.slug = "fast-path-trust"
    other = factories.organisation(db, "Other Foundation", m.OrgKind.FUNDER)
    make_call(db, trust, "Soon closing awards", now=now, deadlines=[("Full", now + 5 * day)], topics=["Psychosis"],
              regions=["London"], requires_vcse_partner=True, amount_min=10_000, amount_max=50_000)  # fmt: skip
    make_call(db, other, "Later research fund", now=now, deadlines=[("Outline", now + 40 * day)], topics=["Carers"],
              regions=["UK-wide"], amount_max=500_000, funding_type="small-grant",
              application_effort="light", open_to_user_led=True)  # fmt: skip
    make_call(db, trust, "Small awards", now=now, deadlines=[("Full", now + 20 * day)], amount_min=500)
    make_call(db, trust, "Secret draft", now=now, status=m.CallStatus.DRAFT)
    db.commit()


@pytest.fixture
def events(app: Any, db: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    for i, title in enumerate(("River walk", "Peer café", "River clean-up", "Annual meeting")):
        event_factories.event(db, app, now=now, days=i + 1, title=title)
    event_factories.event(db, app, now=now, days=2, title="River draft", publish=False)
    db.commit()


def _key(db: Any, role: m.Role) -> dict[str, str]:
    _, plaintext = create_api_key(db, f"fast-path-{role.value}", role=role, organisation_id=None)
    db.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def _pages(client: Any, url: str, headers: dict[str, str]) -> list[Any]:
    """Every page of ``url`` by its next cursors (answers in order)."""
    answers = [client.get(url, headers=headers)]
    while (cursor := answers[-1].json().get("next_cursor")) and len(answers) < 10:
        answers.append(client.get(f"{url}&cursor={cursor}", headers=headers))
    return answers


def _same_for_everyone(client: Any, db: Any, settings: Any, urls: tuple[str, ...]) -> dict[str, list[Any]]:
    """Every page of every URL asked anonymously, with a viewer's API key and signed in: the same bytes, and the
    same headers but the cache's labels, which only the anonymous answers carry."""
    anonymous = {url: _pages(client, url, NO_STORE) for url in urls}
    key = _key(db, m.Role.VIEWER)
    keyed = {url: _pages(client, url, key) for url in urls}
    sign_in_as(client, db, settings, "editor.fast.path@example.org", m.Role.EDITOR)
    signed = {url: _pages(client, url, {}) for url in urls}
    client.cookies.clear()
    for url in urls:
        assert [a.content for a in anonymous[url]] == [a.content for a in keyed[url]], url
        assert [a.content for a in anonymous[url]] == [a.content for a in signed[url]], url
        for plain, key in zip(anonymous[url], keyed[url], strict=True):
            assert plain.status_code == key.status_code == 200, url
            assert plain.headers["cache-control"] == "public, no-cache" and "etag" not in key.headers
            assert {k: v for k, v in plain.headers.items() if k not in LABELS} == dict(key.headers.items()), url
    return anonymous


def _titles(answers: list[Any], field: str = "title") -> list[str]:
    return [item[field] for answer in answers for item in answer.json()["items"]]


def test_the_directory_api_list_gives_everyone_the_handlers_items(client, db, settings, directory):
    answers = _same_for_everyone(client, db, settings, ORG_URLS)
    names = {url: _titles(pages, "name") for url, pages in answers.items()}
    public = ["Alder Peer Network", "Birch Research Unit", "Cedar Peer Voices", "Damson Lived Experience Group",
              "Elder Peer Circle"]  # fmt: skip
    assert names[ORG_URLS[0]] == public and len(answers[ORG_URLS[0]]) == 3
    assert names[ORG_URLS[1]] == public[::-1]
    assert names[ORG_URLS[2]] == public[::-1]  # created in order
    assert names[f"{ORGS}?kind=academic"] == ["Birch Research Unit"]
    assert names[f"{ORGS}?topic=carers"] == ["Alder Peer Network", "Birch Research Unit"]
    assert names[f"{ORGS}?region=london&sort=name"] == ["Alder Peer Network", "Damson Lived Experience Group"]
    assert names[f"{ORGS}?user_led=1"] == ["Alder Peer Network"]
    assert sorted(names[f"{ORGS}?q=peer"]) == ["Alder Peer Network", "Cedar Peer Voices", "Elder Peer Circle"]
    assert sorted(names[f"{ORGS}?q=peer&page_size=1"]) == sorted(names[f"{ORGS}?q=peer"])
    assert names[f"{ORGS}?kind=funder"] == []
    # The items are what the handler made of ORM objects with their topics and region (``_org_out``).
    for pages in answers.values():
        for answer in pages:
            body = answer.json()
            ids = [item["id"] for item in body["items"]]
            orgs = {
                o.id: o
                for o in db.scalars(
                    select(m.Organisation)
                    .where(m.Organisation.id.in_(ids))
                    .options(selectinload(m.Organisation.topics), selectinload(m.Organisation.region))
                )
            }
            made = schemas.OrganisationPage(
                items=[directory_api._org_out(orgs[i]) for i in ids],
                next_cursor=body["next_cursor"],
                prev_cursor=body["prev_cursor"],
            )
            assert answer.content == encode_json(made)
    alder = answers[ORG_URLS[0]][0].json()["items"][0]
    assert alder["topics"] == ["carers", "peer-support", "psychosis"] and alder["region"] == "london"
    assert alder["public_email"] == "hello@alder.example.org" and alder["charity_number"] == "1234567"


def test_the_funding_api_list_gives_everyone_the_same_bytes(client, db, settings, calls):
    answers = _same_for_everyone(client, db, settings, CALL_URLS)
    titles = {url: _titles(pages) for url, pages in answers.items()}
    assert titles[f"{CALLS}?page_size=1"] == ["Soon closing awards", "Small awards", "Later research fund"]
    assert titles[f"{CALLS}?topic=carers"] == ["Later research fund"]
    assert titles[f"{CALLS}?region=wales"] == ["Later research fund"]
    assert titles[f"{CALLS}?funder=fast-path-trust"] == ["Soon closing awards", "Small awards"]
    assert titles[f"{CALLS}?vcse=1"] == ["Soon closing awards"]
    assert titles[f"{CALLS}?suits=1"] == ["Later research fund"]
    assert titles[f"{CALLS}?sort=-amount&page_size=2"] == ["Later research fund", "Soon closing awards", "Small awards"]
    assert titles[f"{CALLS}?min_amount=100000"] == ["Small awards", "Later research fund"]  # amount unknown: kept
    assert titles[f"{CALLS}?weeks=2"] == ["Soon closing awards"]
    assert titles[f"{CALLS}?q=awards"] in (
        ["Soon closing awards", "Small awards"],
        ["Small awards", "Soon closing awards"],
    )
    first = answers[f"{CALLS}?page_size=1"][0].json()["items"][0]
    assert first["funder"] == "Fast Path Trust" and first["page_url"].endswith("/funding-calls/" + first["slug"])


def test_the_events_api_list_gives_everyone_the_same_bytes(client, db, settings, events):
    answers = _same_for_everyone(client, db, settings, EVENT_URLS)
    titles = {url: _titles(pages) for url, pages in answers.items()}
    assert titles[f"{EVENTS}?page_size=2"] == ["River walk", "Peer café", "River clean-up", "Annual meeting"]
    assert titles[f"{EVENTS}?sort=latest"] == ["Annual meeting", "River clean-up", "Peer café", "River walk"]
    assert titles[f"{EVENTS}?q=river"] == ["River walk", "River clean-up"]
    assert titles[f"{EVENTS}?q=nothing"] == []


def test_admins_asking_for_more_still_get_the_handlers_lists(client, db, directory, calls, events):
    admin = _key(db, m.Role.ADMIN)
    everyone = client.get(ORGS, headers=admin).json()["items"]
    assert "Hidden Peer Group" in [o["name"] for o in everyone]
    drafts = client.get(f"{CALLS}?status=draft", headers=admin).json()["items"]
    assert [c["title"] for c in drafts] == ["Secret draft"]
    draft_events = client.get(f"{EVENTS}?status=draft", headers=admin).json()["items"]
    assert [e["title"] for e in draft_events] == ["River draft"]
    assert "Hidden Peer Group" not in client.get(ORGS, headers=NO_STORE).text
    assert "Secret draft" not in client.get(f"{CALLS}?status=draft", headers=NO_STORE).text
    assert "River draft" not in client.get(f"{EVENTS}?status=draft", headers=NO_STORE).text


@pytest.mark.parametrize("module", [directory_api, funding_api, events_api])
def test_the_handlers_do_not_run_for_anonymous_visitors(client, db, module, monkeypatch):
    def handler_ran(*_: object) -> None:
        raise AssertionError("the handler ran")

    url = {directory_api: ORGS, funding_api: CALLS, events_api: EVENTS}[module]
    monkeypatch.setattr(module, "current_user", handler_ran)  # the first thing each handler calls
    assert client.get(url, headers=NO_STORE).status_code == 200
    assert client.get(url, headers=_key(db, m.Role.VIEWER)).status_code == 500


def test_statements_of_an_anonymous_list(client, directory, calls, events, count_queries):
    """No session, no transaction: the directory's page and its items' topics (the handler loaded ORM objects,
    their topics and regions: four), a search three; a funding or event list one statement."""
    expected = {
        f"{ORGS}?page_size=3": 2,
        f"{ORGS}?kind=academic&user_led=1": 1,
        f"{ORGS}?q=peer": 3,
        CALLS: 1,
        EVENTS: 1,
    }
    for url, statements in expected.items():
        with count_queries() as q:
            assert client.get(url, headers=NO_STORE).status_code == 200
        assert len(q.statements) == statements, (url, q.statements)
