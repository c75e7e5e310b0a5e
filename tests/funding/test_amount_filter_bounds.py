"""An amount filter the database cannot hold, or that is not an amount, is the person's mistake said in plain words:
the page keeps their filters and names the field; the API answers 422 with a problem naming it, never a list that
silently ignored the filter."""

from __future__ import annotations

import html

import pytest

from crm import models as m
from tests import factories

HUGE = "2147483648"  # one more than PostgreSQL's integer: a DataError there before the check


@pytest.fixture
def funder(db):
    factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()


def test_an_amount_beyond_what_a_call_can_hold_is_named_on_the_page_with_the_filters_kept(client, funder):
    page = client.get("/funding-calls", params={"min_amount": HUGE, "q": "peer"})
    text = html.unescape(page.text)
    assert page.status_code == 200
    assert "Check the filters" in text and "up to 2,000,000,000" in text
    assert f'value="{HUGE}"' in page.text and 'value="peer"' in page.text
    fine = client.get("/funding-calls", params={"min_amount": "2000000000"})
    assert fine.status_code == 200 and "Check the filters" not in html.unescape(fine.text)


@pytest.mark.parametrize("value", ["abc", "-5", HUGE])
def test_the_api_answers_a_bad_amount_filter_with_a_problem_naming_it(client, funder, value):
    response = client.get("/api/v1/funding-calls", params={"max_amount": value})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["max_amount"]
    assert "Amount at most" in body["errors"][0]["message"]


def test_the_api_still_answers_good_amount_filters(client, funder):
    response = client.get("/api/v1/funding-calls", params={"min_amount": "£5,000", "max_amount": "2000000000"})
    assert response.status_code == 200 and response.json()["items"] == []
