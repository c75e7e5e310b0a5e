"""A filter value no menu offers any more (``?topic=zzz`` from an old emailed link, ``?region=atlantis``, an old
kind or pay) on the public lists (crm.filter_choices): the page leaves it out, lists what the other filters match,
and says so beside the menu (aria-invalid, what was chosen) and above the results; the JSON API answers 422 naming
the filter. It used to show "Any topic" with no results, or drop a kind or pay without a word. Statements stay the
same as for the list without that filter."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest

from crm import models as m
from tests import factories
from tests.funding.helpers import make_call
from tests.internships.helpers import make_internship
from tests.involvement.opportunities_factory import make_opportunity

GONE = "“zzz” is not one we list any more"
HTMX = {"HX-Request": "true"}


def _text(response: Any) -> str:
    assert response.status_code == 200, response.text[:500]
    return html.unescape(response.text)


def _flagged(page: str, field_id: str) -> bool:
    """The menu carries aria-invalid and points at its message."""
    return bool(
        re.search(rf'<select id="{field_id}"[^>]*aria-invalid="true" aria-describedby="{field_id}-error"', page)
    )


def _problem_fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in response.json()["errors"]]


# The directory


@pytest.fixture
def organisations(db):
    factories.organisation(db, "Alder Carers Group", region_name="London", topics=("Carers",))
    factories.organisation(db, "Birch Research Unit", m.OrgKind.ACADEMIC, region_name="Wales")
    db.commit()


def test_the_directory_leaves_an_unknown_topic_out_and_says_so(client, organisations):
    page = _text(client.get("/organisations", params={"topic": "zzz"}))
    assert f"The topic {GONE}, so these results are for any topic." in page
    assert _flagged(page, "f-topic")
    assert "Some filters were left out" in page and "2 organisations" in page
    assert "Alder Carers Group" in page and "Birch Research Unit" in page
    assert "No organisations match" not in page
    assert '<a href="/organisations">Clear filters</a>' in page  # the bad value can still be cleared from the URL


def test_the_directory_says_so_for_a_region_kind_and_group_type_and_keeps_the_good_filters(client, organisations):
    page = _text(client.get("/organisations", params={"region": "atlantis", "kind": "zzz", "category": "old"}))
    assert "The region “atlantis” is not one we list any more" in page and _flagged(page, "f-region")
    assert f"The kind of organisation {GONE}" in page and _flagged(page, "f-kind")
    assert "The group type “old” is not one we list any more" in page and _flagged(page, "f-category")
    kept = _text(client.get("/organisations", params={"region": "atlantis", "kind": "academic"}))
    assert "Birch Research Unit" in kept and "Alder Carers Group" not in kept and "1 organisation" in kept
    fragment = _text(client.get("/organisations", params={"topic": "zzz"}, headers=HTMX))
    assert "<h1>" not in fragment and f"The topic {GONE}" in fragment
    fine = _text(client.get("/organisations", params={"topic": "carers", "region": "london"}))
    assert "not one we list" not in fine and "aria-invalid" not in fine and "1 organisation" in fine


def test_the_directory_api_names_an_unknown_filter(client, organisations):
    assert _problem_fields(client.get("/api/v1/organisations", params={"topic": "zzz", "region": "london"})) == [
        "topic"
    ]
    answer = client.get("/api/v1/organisations", params={"kind": "zzz", "region": "atlantis"})
    assert sorted(_problem_fields(answer)) == ["kind", "region"]
    assert "“atlantis” is not a region we list." in [e["message"] for e in answer.json()["errors"]]
    listed = client.get("/api/v1/organisations", params={"topic": "carers"})
    assert listed.status_code == 200 and [i["name"] for i in listed.json()["items"]] == ["Alder Carers Group"]


def test_an_unknown_filter_costs_no_more_statements_than_none(client, organisations, count_queries):
    for url in ("/organisations", "/organisations?topic=zzz&region=atlantis", "/api/v1/organisations?topic=zzz"):
        client.get(url, headers={"Cache-Control": "no-cache"})  # warm: menus, counts and slugs kept
    counts = {}
    for url in ("/organisations", "/organisations?topic=zzz&region=atlantis&kind=zzz"):
        with count_queries() as q:
            _text(client.get(url, headers={"Cache-Control": "no-cache"}))
        counts[url] = q.count
    assert len(set(counts.values())) == 1, counts
    with count_queries() as q:
        assert client.get("/api/v1/organisations?topic=zzz", headers={"Cache-Control": "no-cache"}).status_code == 422
    assert q.count == 0  # refused from the kept slugs


# Funding calls


@pytest.fixture
def calls(db):
    now = dt.datetime.now(dt.UTC)
    trust = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    make_call(db, trust, "Carers research fund", now=now, deadlines=[("Full", now + dt.timedelta(days=9))],
              topics=["Carers"], regions=["London"])  # fmt: skip
    make_call(db, trust, "Welsh peer awards", now=now, deadlines=[("Full", now + dt.timedelta(days=19))],
              regions=["Wales"])  # fmt: skip
    db.commit()
    return trust


def test_the_funding_list_leaves_an_unknown_topic_region_or_funder_out_and_says_so(client, calls):
    page = _text(client.get("/funding-calls", params={"topic": "zzz", "region": "atlantis", "funder": "gone-trust"}))
    assert f"The topic {GONE}" in page and _flagged(page, "f-topic")
    assert "The region “atlantis” is not one we list any more" in page and _flagged(page, "f-region")
    assert "The funder “gone-trust” is not one we list any more" in page and _flagged(page, "f-funder")
    assert "2 open funding calls" in page and "No open funding calls match" not in page
    kept = _text(client.get("/funding-calls", params={"topic": "zzz", "funder": calls.slug, "region": "wales"}))
    assert "Welsh peer awards" in kept and "Carers research fund" not in kept
    fine = _text(client.get("/funding-calls", params={"topic": "carers", "funder": calls.slug}))
    assert "not one we list" not in fine and "1 open funding call" in fine


def test_the_funding_api_names_an_unknown_filter(client, calls):
    answer = client.get("/api/v1/funding-calls", params={"topic": "zzz", "funder": "gone-trust"})
    assert sorted(_problem_fields(answer)) == ["funder", "topic"]
    listed = client.get("/api/v1/funding-calls", params={"funder": calls.slug, "region": "wales"})
    assert listed.status_code == 200 and [i["title"] for i in listed.json()["items"]] == ["Welsh peer awards"]


# Internships


@pytest.fixture
def internships(db):
    org = factories.organisation(db, "Host Charity")
    make_internship(db, org, title="Carers placement", region="UKI", topics=("Carers",))
    make_internship(db, org, title="Remote placement")
    db.commit()


def test_the_internships_list_leaves_unknown_values_out_and_says_so(client, internships):
    page = _text(client.get("/internships", params={"topic": "zzz", "stage": "zzz", "paid": "zzz"}))
    assert f"The topic {GONE}, so these results are for any topic." in page
    assert f"The career stage {GONE}" in page and _flagged(page, "f-stage")
    assert f"The pay option {GONE}" in page and _flagged(page, "f-paid")
    assert "2 open internships" in page and "No open internships match" not in page
    assert re.search(r'<details class="more-filters" open>', page)  # the topic's message is not hidden
    mixed = _text(client.get("/internships?topic=carers&topic=zzz&region=atlantis"))
    assert f"The topic {GONE}, so we left it out of your choices." in mixed
    assert "Carers placement" in mixed and "Remote placement" not in mixed
    fine = _text(client.get("/internships", params={"topic": "carers"}))
    assert "not one we list" not in fine and "1 open internship" in fine


def test_the_internships_api_names_an_unknown_filter(client, internships):
    answer = client.get("/api/v1/internships?topic=carers&topic=zzz&mode=zzz", headers={"Cache-Control": "no-cache"})
    assert sorted(_problem_fields(answer)) == ["mode", "topic"]
    listed = client.get("/api/v1/internships", params={"topic": "carers"})
    assert listed.status_code == 200 and [i["title"] for i in listed.json()["items"]] == ["Carers placement"]


# Involvement


@pytest.fixture
def opportunities(db):
    crisis = factories.topic(db, "Crisis care")
    make_opportunity(db, title="Paid advisory", kind="advisory-group", topic_ids=[str(crisis.id)], online="",
                     region="UKI")  # fmt: skip
    make_opportunity(db, title="Expenses consultation", kind="consultation", paid="", commitment="one-off")
    db.commit()


def test_the_involvement_list_leaves_unknown_values_out_and_says_so(client, opportunities):
    page = _text(client.get("/involvement", params={"region": "zzz", "kind": "zzz", "pay": "lots"}))
    assert f"The region {GONE}, so these results are for any region." in page and _flagged(page, "f-region")
    assert f"The kind of involvement {GONE}" in page and _flagged(page, "f-kind")
    assert "The payment option “lots” is not one we list any more" in page and _flagged(page, "f-pay")
    assert "in the region you chose" not in page  # it said so for a region nobody lists
    assert "2 open opportunities" in page
    topic = _text(client.get("/involvement", params={"topic": "zzz", "commitment": "zzz"}))
    assert f"The topic {GONE}" in topic and f"The amount of time {GONE}" in topic and "2 open opportunities" in topic
    fine = _text(client.get("/involvement", params={"kind": "consultation"}))
    assert "not one we list" not in fine and "1 open opportunity" in fine


def test_the_involvement_api_names_an_unknown_filter(client, opportunities):
    answer = client.get("/api/v1/involvement-opportunities", params={"region": "zzz", "pay": "lots"})
    assert sorted(_problem_fields(answer)) == ["pay", "region"]
    listed = client.get("/api/v1/involvement-opportunities", params={"topic": "crisis-care"})
    assert listed.status_code == 200 and [i["title"] for i in listed.json()["items"]] == ["Paid advisory"]
